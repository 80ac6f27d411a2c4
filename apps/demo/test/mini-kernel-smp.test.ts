/**
 * The mini PV kernel with several vCPUs: the application processors come up through INIT/SIPI
 * into the kernel's trampoline, and the IPI workload sends real IPIs to them (xAPIC ICR writes
 * natively, KVM_HC_SEND_IPI paravirtually) which they acknowledge.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { bootMiniKernel, type MiniKernelRun, resultLines, totalExits } from '../src/mini-kernel';

const n = (v: string | undefined) => Number(v);
const ipiOf = (r: MiniKernelRun) => r.workloads.find((w) => w.workload === 'ipi')!;

describe('the mini PV kernel on 4 vCPUs', () => {
  let native: MiniKernelRun;
  let pv: MiniKernelRun;
  let single: MiniKernelRun;

  beforeAll(() => {
    native = bootMiniKernel({ mode: 'native', smp: 4 });
    pv = bootMiniKernel({ mode: 'pv', smp: 4 });
    single = bootMiniKernel({ mode: 'pv', smp: 1 });
  }, 120_000);

  it('starts the three application processors from the MP table through INIT/SIPI', () => {
    for (const r of [native, pv]) {
      expect(r.console).toContain('smp: 4 CPUs in the MP table\n');
      for (const c of [1, 2, 3]) expect(r.console).toContain(`smp: cpu${c} apic_id=${c} online\n`);
      expect(r.console).toContain('smp: 4 of 4 CPUs online\n');
      expect(r.exitCode).toBe(0);
      expect(r.console).toMatch(/\nDONE\n$/);
      for (const l of resultLines(r.console)) {
        expect(l.status, `${r.mode} ${l.workload}`).toBe('ok');
        expect(l.cpus).toBe('4');
      }
    }
  });

  it('sends IPIs to the other vCPUs, which acknowledge every one: same counts and checksums in both modes', () => {
    const ni = ipiOf(native).result;
    const pi = ipiOf(pv).result;
    // 256 rounds, each to a non-empty subset of the 3 other CPUs
    expect(n(ni.ops)).toBeGreaterThan(256);
    expect(n(ni.ops)).toBeLessThanOrEqual(3 * 256);
    expect(pi.ops).toBe(ni.ops);
    expect(pi.checksum).toBe(ni.checksum);
    // not the single-CPU self-IPI workload
    expect(ni.checksum).not.toBe(ipiOf(single).result.checksum);
    // every other workload computes what it computes on one CPU
    for (const w of ['ptchurn', 'timer', 'console']) {
      const c = single.workloads.find((x) => x.workload === w)!.result.checksum;
      expect(native.workloads.find((x) => x.workload === w)!.result.checksum, w).toBe(c);
      expect(pv.workloads.find((x) => x.workload === w)!.result.checksum, w).toBe(c);
    }
  });

  it('natively: ICR2 + ICR per destination and an EOI per IPI received, each an APIC exit', () => {
    const w = ipiOf(native);
    const ops = n(w.result.ops);
    expect(n(w.result.apic_mmio)).toBe(3 * ops);
    expect(w.exits.apic).toBe(3 * ops);
    // each IPI wakes a halted destination, which halts again
    expect(w.exits.hlt).toBe(ops);
    expect(w.exits.hypercall).toBe(0);
  });

  it('paravirtually: one KVM_HC_SEND_IPI per round, EOIs through PV EOI, KVM_HC_SCHED_YIELD while waiting: far fewer exits and cycles', () => {
    const w = ipiOf(pv);
    const nw = ipiOf(native);
    expect(pv.console).toContain('pv_ops: cpu.wait_for_cpu = pv (KVM_HC_SCHED_YIELD to the CPU waited for)');
    expect(native.console).toContain('pv_ops: cpu.wait_for_cpu = native (pv=off on the command line)');
    expect(n(w.result.hypercalls)).toBe(w.exits.hypercall);
    // 256 sends, plus the yields of the BSP while the destinations had not run yet
    expect(w.exits.hypercall).toBeGreaterThan(256);
    expect(w.exits.hypercall).toBeLessThanOrEqual(256 * 4);
    expect(w.exits.apic).toBe(0);
    expect(w.exits.hlt).toBe(n(w.result.ops));
    expect(totalExits(w.exits) * 1.8).toBeLessThan(totalExits(nw.exits));
    // natively the BSP spins out its slice every round; yielding hands the time to the destinations
    expect(w.virtualCycles * 3).toBeLessThan(nw.virtualCycles);
    for (const name of ['ptchurn', 'timer', 'console']) {
      const p = pv.workloads.find((x) => x.workload === name)!;
      const nn = native.workloads.find((x) => x.workload === name)!;
      expect(totalExits(p.exits), name).toBeLessThan(totalExits(nn.exits) / 2.5);
    }
  });

  it('with 2 vCPUs every round goes to the one other CPU', () => {
    const r = bootMiniKernel({ mode: 'pv', smp: 2 });
    expect(r.console).toContain('smp: 2 of 2 CPUs online\n');
    expect(ipiOf(r).result.ops).toBe('256');
    expect(ipiOf(r).result.status).toBe('ok');
    expect(r.exitCode).toBe(0);
  }, 60_000);

  for (const mode of ['native', 'pv'] as const) {
    it(`goes on without an AP that never starts (${mode}): reported, and the workloads use the CPUs that did`, () => {
      const icr2: number[] = [];
      const r = bootMiniKernel({
        mode,
        smp: 3,
        ops: (ops) => ({
          ...ops,
          apic: {
            ...ops.apic,
            // A host that drops every STARTUP IPI to APIC ID 2 (ICR2 at 0x310, ICR at 0x300).
            write: (vcpu, reg, value, high) => {
              if (reg === 0x31) icr2[vcpu] = value >>> 24;
              if (reg === 0x30 && (value & 0x700) === 0x600 && icr2[vcpu] === 2) return 0;
              return ops.apic.write(vcpu, reg, value, high);
            },
          },
        }),
      });
      expect(r.console).toContain('smp: cpu1 apic_id=1 online\n');
      expect(r.console).toContain('smp: cpu2 apic_id=2 did not start\n');
      expect(r.console).toContain('smp: 2 of 3 CPUs online\n');
      for (const l of resultLines(r.console)) {
        expect(l.status, l.workload).toBe('ok');
        expect(l.cpus).toBe('2');
      }
      expect(ipiOf(r).result.ops).toBe('256');
      expect(r.exitCode).toBe(0);
    }, 60_000);
  }

  it('detects a host that reports IPIs as sent without delivering them: status=FAIL, exit code 1', () => {
    const r = bootMiniKernel({
      mode: 'pv',
      smp: 3,
      ops: (ops) => ({
        ...ops,
        apic: {
          ...ops.apic,
          // Claims every destination, delivers only to APIC ID 1.
          sendIpi: (vcpu, lo, hi, min, icr) => {
            const delivered = ops.apic.sendIpi(vcpu, lo & 0b10, hi, min, icr);
            return delivered < 0 ? delivered : delivered + ((lo >>> 2) & 1);
          },
        },
      }),
    });
    expect(r.console).toContain(
      'FAIL workload=ipi: ipi: a destination CPU did not acknowledge exactly once (0x00000002)',
    );
    expect(ipiOf(r).result.status).toBe('FAIL');
    expect(r.exitCode).toBe(1);
  }, 60_000);

  it('stops loudly when the host delivers fewer IPIs than asked: exit code 3', () => {
    const r = bootMiniKernel({
      mode: 'pv',
      smp: 3,
      ops: (ops) => ({
        ...ops,
        apic: { ...ops.apic, sendIpi: (v, lo, hi, min, icr) => ops.apic.sendIpi(v, lo & 0b10, hi, min, icr) },
      }),
    });
    expect(r.console).toMatch(/pv: KVM_HC_SEND_IPI delivered 1 of 2\n/);
    expect(r.exitCode).toBe(3);
  }, 60_000);
});
