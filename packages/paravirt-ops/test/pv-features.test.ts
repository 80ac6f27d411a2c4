/**
 * KVM PV features through the bound dispatcher and the trap adapters: CPUID advertisement, PV
 * unhalt (KICK_CPU), PV send-IPI, PV sched-yield, PV EOI, NOP_IO_DELAY, the console; host-API
 * misuse errors; guest input never throws.
 */
import { ApicBus, LocalApic } from '@pv/apic';
import { ERRNO } from '@pv/hypercall';
import { Mmu } from '@pv/mmu';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  advertisedFeatures,
  bindHypercalls,
  createDirectOps,
  guestMemoryOf,
  ParavirtError,
  type PvMachine,
  SimpleCpuState,
  TrapPath,
  withStats,
  withTrace,
} from '../src/index';
import { apicPage, buildMachine, encodeList, HC, PageFault, Scratch, TestClock } from './helpers';

const KVM_CPUID_FEATURES = 0x40000001;
const bit = (n: number) => 1 << n;

describe('CPUID: advertise only what works', () => {
  it('full machine: KVM signature, the implemented KVM bits, the @pv leaves, CPUID.1:ECX[31]', () => {
    const m = buildMachine({ vcpus: 1 });
    const [maxLeaf, b, c, d] = m.traps[0]!.cpuid(0x40000000, 0);
    expect(maxLeaf).toBe(0x40000001);
    expect([b, c, d]).toEqual([0x4b4d564b, 0x564b4d56, 0x4d]);
    const [kvm] = m.top.cpu.cpuid(0, KVM_CPUID_FEATURES, 0);
    // NOP_IO_DELAY 1, CLOCKSOURCE2 3, PV_EOI 6, PV_UNHALT 7, PV_SEND_IPI 11, PV_SCHED_YIELD 13, STABLE 24.
    expect(kvm).toBe((bit(1) | bit(3) | bit(6) | bit(7) | bit(11) | bit(13) | bit(24)) >>> 0);
    const [, pv] = m.top.cpu.cpuid(0, 0x40000101, 0);
    expect(pv).toBe(0b11111);
    expect(m.top.cpu.cpuid(0, 1, 0)[2]! >>> 31).toBe(1);
    expect(m.ops.stats.exits('trap', 'cpuid')).toBe(1);
  });

  it('a machine without kvmclock, console or PV EOI memory does not advertise them', () => {
    const mmu = new Mmu({ ramSize: 0x10000 });
    const clock = new TestClock();
    const bus = new ApicBus();
    const machine: PvMachine = {
      vcpus: [{ cpu: new SimpleCpuState(), apic: new LocalApic({ id: 0, clock, bus, bsp: true }), mmu }],
      bus,
      clock,
    };
    const f = advertisedFeatures(machine);
    expect(f.kvm).not.toContain('KVM_FEATURE_CLOCKSOURCE2');
    expect(f.kvm).not.toContain('KVM_FEATURE_PV_EOI');
    expect(f.pv).not.toContain('PV_FEATURE_CONSOLE_WRITE');
    const ops = createDirectOps(machine);
    expect(ops.cpu.cpuid(0, KVM_CPUID_FEATURES, 0)[0]).toBe((bit(1) | bit(7) | bit(11) | bit(13)) >>> 0);
    // Their MSRs #GP and their calls are -ENOSYS.
    expect(ops.cpu.writeMsr(0, 0x4b564d01, 0x1001n)).toBe(false);
    expect(ops.cpu.writeMsr(0, 0x4b564d04, 0x1001n)).toBe(false);
    const hc = bindHypercalls(ops, { vcpu: 0, memory: guestMemoryOf(mmu), features: f });
    expect(hc.invoke(HC.PV_HC_CONSOLE_WRITE, 0x100, 1)).toBe(-ERRNO.KVM_ENOSYS);
  });
});

describe('PV unhalt, send-IPI, sched-yield', () => {
  it('KICK_CPU wakes a halted vCPU; a kick before HLT makes the HLT return at once', () => {
    const m = buildMachine({ vcpus: 2 });
    expect(m.traps[1]!.hlt()).toBe(true);
    expect(m.cpus[1]!.halted).toBe(true);
    expect(m.hc[0]!.invoke(HC.KVM_HC_KICK_CPU, 0, 1)).toBe(0);
    expect(m.cpus[1]!.halted).toBe(false);
    // The pv_unhalted race: the kick arrives while vCPU 1 is still spinning.
    expect(m.hc[0]!.invoke(HC.KVM_HC_KICK_CPU, 0, 1)).toBe(0);
    expect(m.traps[1]!.hlt()).toBe(false);
    expect(m.traps[1]!.hlt()).toBe(true); // the kick was consumed
    expect(m.hc[0]!.invoke(HC.KVM_HC_KICK_CPU, 0, 77)).toBe(0); // unknown APIC ID: ignored
    expect(m.cpus[1]!.halted).toBe(true);
  });

  it('SEND_IPI delivers to the bitmap, returns the count, wakes halted targets with IF=1', () => {
    const m = buildMachine({ vcpus: 3 });
    m.top.irq.safeHalt(1);
    m.top.irq.safeHalt(2);
    expect(m.cpus[1]!.halted && m.cpus[2]!.halted).toBe(true);
    expect(m.hc[0]!.invoke(HC.KVM_HC_SEND_IPI, 0b110, 0, 0, 0x40)).toBe(2);
    expect(m.cpus[1]!.halted || m.cpus[2]!.halted).toBe(false);
    expect(m.top.apic.acknowledge(1)).toBe(0x40);
    expect(m.top.apic.acknowledge(2)).toBe(0x40);
    // min APIC ID offset: bit 0 = APIC 2.
    m.top.apic.eoi(2);
    expect(m.hc[0]!.invoke(HC.KVM_HC_SEND_IPI, 0b1, 0, 2, 0x41)).toBe(1);
    expect(m.top.apic.acknowledge(2)).toBe(0x41);
    expect(m.top.apic.pending(1)).toBe(false);
    // IDs beyond the machine do not count.
    expect(m.hc[0]!.invoke(HC.KVM_HC_SEND_IPI, 0xffffffff, 0xffffffff, 0, 0x42)).toBe(3);
    expect(m.hc[0]!.invoke(HC.KVM_HC_SEND_IPI, 1, 0, 0, 0x800 | 0x42)).toBe(-ERRNO.KVM_EINVAL); // logical
    expect(m.hc[0]!.invoke(HC.KVM_HC_SEND_IPI, 1, 0, 0, 0x500)).toBe(-ERRNO.KVM_EINVAL); // INIT
  });

  it('an NMI IPI wakes a halted vCPU even with IF = 0; a fixed one waits for IF', () => {
    const m = buildMachine({ vcpus: 2 });
    expect(m.top.irq.halt(1)).toBe(true); // IF = 0
    expect(m.hc[0]!.invoke(HC.KVM_HC_SEND_IPI, 0b10, 0, 0, 0x40)).toBe(1);
    expect(m.cpus[1]!.halted).toBe(true);
    expect(m.hc[0]!.invoke(HC.KVM_HC_SEND_IPI, 0b10, 0, 0, 0x400)).toBe(1); // NMI
    expect(m.cpus[1]!.halted).toBe(false);
    expect(m.apics[1]!.nmi()).toBe(true);
    expect(m.top.irq.halt(1)).toBe(true);
  });

  it('SCHED_YIELD reaches the scheduler hook with the target vCPU', () => {
    const calls: [number, number][] = [];
    const m = buildMachine({ vcpus: 2 });
    const machine: PvMachine = { ...m.machine, scheduler: { yieldTo: (f, t) => calls.push([f, t]) } };
    const ops = createDirectOps(machine);
    const hc = bindHypercalls(ops, { vcpu: 1, memory: m.memory, features: advertisedFeatures(machine) });
    expect(hc.invoke(HC.KVM_HC_SCHED_YIELD, 0)).toBe(0);
    expect(hc.invoke(HC.KVM_HC_SCHED_YIELD, 9)).toBe(0);
    expect(calls).toEqual([
      [1, 0],
      [1, -1],
    ]);
    expect(hc.invoke(HC.KVM_HC_SCHED_YIELD, 0, 0, 0, 0, 3)).toBe(-ERRNO.KVM_EPERM); // CPL 3
  });
});

describe('PV EOI, NOP_IO_DELAY, console', () => {
  it('PV EOI: the guest clears the flag instead of writing EOI; the next exit completes the EOI', () => {
    const m = buildMachine({ vcpus: 1 });
    const WORD = 0x7000;
    expect(m.traps[0]!.msr.write(0x4b564d04, BigInt(WORD) | 1n)).toBe(true);
    m.top.apic.write(0, 0x30, 0x44051); // self IPI, vector 0x51
    expect(m.top.apic.acknowledge(0)).toBe(0x51);
    expect(m.mmu.bytes(WORD, 1)[0]! & 1).toBe(1); // EOI may be skipped
    m.mmu.writePhys(WORD, new Uint8Array([0])); // the guest clears it (no EOI write)
    m.mmu.phys.read(apicPage(0) + 0x80, 4); // any APIC exit syncs
    expect(m.apics[0]!.priorities().isrv).toBe(-1);
    expect(m.apics[0]!.stats.pvEoi).toBe(1);
  });

  it('port 0x80 delays cost one io exit each and reach the io_delay op', () => {
    let delays = 0;
    const m = buildMachine({ vcpus: 1 });
    const ops = withStats(createDirectOps({ ...m.machine, scheduler: { ioDelay: () => delays++ } }));
    const trap = new TrapPath(ops, 0);
    for (let i = 0; i < 5; i++) trap.delayPort.out(0x80, 1, i);
    expect(trap.delayPort.in(0x80, 1)).toBe(0xff);
    expect(delays).toBe(5);
    expect(ops.stats.exits('trap', 'io')).toBe(6);
    expect(ops.stats.calls('cpu.ioDelay')).toBe(5);
  });

  it('CONSOLE_WRITE: one exit for the buffer; the trap path pays one per byte; same output', () => {
    const m = buildMachine({ vcpus: 1 });
    const text = new TextEncoder().encode('hello, pv\n');
    const gpa = new Scratch(m.mmu).put(text, 1);
    expect(m.hc[0]!.invoke(HC.PV_HC_CONSOLE_WRITE, gpa, text.length)).toBe(text.length);
    for (const b of text) m.traps[0]!.consolePort.out(0xe9, 1, b);
    expect(new TextDecoder().decode(Uint8Array.from(m.console))).toBe('hello, pv\nhello, pv\n');
    expect(m.ops.stats.exits('hypercall')).toBe(1);
    expect(m.ops.stats.exits('trap', 'io')).toBe(text.length);
    expect(m.hc[0]!.invoke(HC.PV_HC_CONSOLE_WRITE, 0x100000, 4)).toBe(-ERRNO.KVM_EFAULT); // MMIO
  });
});

describe('shadow page-table write exits', () => {
  it("the Mmu's onPageTableWrite hook is counted as a 'ptwrite' trap exit", () => {
    const m = buildMachine({ vcpus: 1 });
    m.mmu.onPageTableWrite = (ppn) => m.traps[0]!.pageTableWritten(ppn);
    m.mmu.setPageTableTracking(true);
    expect(m.mmu.read32(0x400000, 0)).toBe(0xf0000010); // walks PD and PT_A: both now tracked
    // Identity-map PT_A's frame through the large page at 0xc00000 and store to it natively.
    m.mmu.write32(0xc00000 + 0x2000, ((0x2a << 12) | 3) >>> 0, 1);
    expect(m.mmu.exits.ptwrite).toBe(1);
    expect(m.ops.stats.exits('trap', 'ptwrite')).toBe(1);
  });
});

describe('time ops', () => {
  it('setTimer arms a one-shot APIC timer; setDeadline a TSC deadline; systemTimeNs follows the clock', () => {
    const m = buildMachine({ vcpus: 1, hz: 100_000_000 });
    expect(m.top.time.setTimer(0, 0x45, 100)).toBe(0);
    m.clock.advance(99);
    expect(m.top.apic.pending(0)).toBe(false);
    m.clock.advance(1);
    expect(m.top.apic.pending(0)).toBe(true);
    expect(m.top.apic.acknowledge(0)).toBe(0x45);
    m.top.apic.eoi(0);
    // TSC-deadline mode (LVTT bits 18:17 = 10b), then the deadline MSR.
    expect(m.top.apic.write(0, 0x32, 0x40046)).toBe(0);
    expect(m.top.time.setDeadline(0, BigInt(m.top.time.tsc() + 50))).toBe(true);
    m.clock.advance(49);
    expect(m.top.apic.pending(0)).toBe(false);
    m.clock.advance(1);
    expect(m.top.apic.pending(0)).toBe(true);
    expect(m.top.apic.acknowledge(0)).toBe(0x46);
    expect(m.top.time.tsc()).toBe(150);
    expect(m.top.time.systemTimeNs()).toBe(1500n); // 150 cycles at 100 MHz
  });
});

describe('partial failure and CPU ops', () => {
  it('a PT batch stops at the first bad entry and reports it in the status record', () => {
    const m = buildMachine({ vcpus: 1 });
    const s = new Scratch(m.mmu);
    const list = s.put(
      encodeList('pv_pte_update', [
        { pte_gpa: 0x2000n, value: 0x2f003n },
        { pte_gpa: 0x100000n, value: 0n }, // the APIC page: -EFAULT
        { pte_gpa: 0x2004n, value: 0x2e003n },
      ]),
    );
    const status = s.put(new Uint8Array(16), 4);
    expect(m.hc[0]!.invoke(HC.PV_HC_PT_UPDATE_BATCH, list, 3, status)).toBe(1);
    const st = new DataView(m.mmu.readPhys(status, 16).buffer);
    expect([st.getUint32(0, true), st.getUint32(4, true), st.getInt32(8, true)]).toEqual([
      1,
      1,
      -ERRNO.KVM_EFAULT,
    ]);
    expect(m.mmu.read32(0x400000, 0)).toBe(0xf000002f);
    expect(m.mmu.read32(0x401000, 0)).toBe(0xf0000011); // entry 2 not applied
  });

  it('CR writes check the SDM rules; CR3 reloads flush; descriptor tables and IF', () => {
    const m = buildMachine({ vcpus: 1 });
    const t = m.traps[0]!;
    expect(t.writeCr(0, 0x80000000)).toBe(false); // PG without PE
    expect(t.writeCr(0, 0x20000001)).toBe(false); // NW without CD
    expect(t.writeCr(4, 1 << 30)).toBe(false); // reserved
    expect(t.writeCr(1, 0)).toBe(false);
    expect(t.readCr(1)).toBeUndefined();
    expect(t.readCr(3)).toBe(0x1000);
    expect(t.writeCr(2, 0xdeadbeef)).toBe(true);
    expect(t.readCr(2)).toBe(0xdeadbeef);
    m.top.cpu.loadGdt(0, 0x8000, 0x27);
    m.top.cpu.loadIdt(0, 0x9000, 0x7ff);
    expect(Array.from(m.cpus[0]!.dtr)).toEqual([0x8000, 0x27, 0x9000, 0x7ff]);
    m.top.irq.enable(0);
    expect(m.top.irq.saveFl(0)).toBe(true);
    m.top.irq.restoreFl(0, false);
    expect(m.top.irq.saveFl(0)).toBe(false);
    // Unmap a page behind the TLB's back, then reload CR3: the stale translation goes.
    expect(m.mmu.read32(0x400000, 0)).toBe(0xf0000010);
    m.mmu.writePhys(0x2000, new Uint8Array(4));
    expect(m.mmu.read32(0x400000, 0)).toBe(0xf0000010);
    expect(t.writeCr(3, 0x1000)).toBe(true);
    expect(() => m.mmu.read32(0x400000, 0)).toThrow(PageFault);
    expect(m.ops.stats.exits('trap', 'cr')).toBe(9);
  });
});

describe('errors and robustness', () => {
  it('host misuse throws ParavirtError with a stable code', () => {
    const m = buildMachine({ vcpus: 1 });
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(ParavirtError.isInstance(e)).toBe(true);
        return (e as ParavirtError).code;
      }
      throw new Error('did not throw');
    };
    expect(err(() => createDirectOps({ ...m.machine, vcpus: [] }))).toBe('INVALID_CONFIG');
    expect(err(() => m.top.apic.write(5, 0x08, 0))).toBe('INVALID_ARGUMENT');
    expect(err(() => withStats(m.top, { exitCost: -1 }))).toBe('INVALID_CONFIG');
    expect(err(() => withTrace(m.top, { capacity: 0 }))).toBe('INVALID_CONFIG');
  });

  it('withTrace keeps the last N calls in order with their results', () => {
    const m = buildMachine({ vcpus: 1, wrap: (o) => withTrace(o, { capacity: 4 }) });
    const top = m.top as ReturnType<typeof withTrace>;
    for (let i = 0; i < 6; i++) top.apic.write(0, 0x08, i << 4);
    expect(top.apic.read(0, 0x08)).toBe(0x50);
    const e = top.trace.entries();
    expect(top.trace.total).toBe(7);
    expect(e.map((x) => x.op)).toEqual(['apic.write', 'apic.write', 'apic.write', 'apic.read']);
    expect(e[3]).toMatchObject({ seq: 6, args: [0, 8, Number.NaN, Number.NaN], result: 0x50 });
    expect(e[2]!.args.slice(0, 3)).toEqual([0, 8, 0x50]);
  });

  it('no guest input throws: random hypercalls, MSRs, MMIO, CRs, port I/O (1000 cases)', () => {
    const m = buildMachine({ vcpus: 2 });
    const u32 = fc.oneof(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.constantFrom(0, 0x100000, 0x30000, 0x3fff8, 0xfffffff0),
    );
    const action = fc.oneof(
      fc.tuple(
        fc.constant(0),
        fc.constantFrom(5, 10, 11, 0x10000, 0x10001, 0x10002, 0x10003, 0x10004, 0x10005, 99),
        u32,
        u32,
        u32,
        u32,
      ),
      fc.tuple(
        fc.constant(1),
        fc.constantFrom(0x1b, 0x6e0, 0x4b564d00, 0x4b564d01, 0x4b564d04, 0x802, 0x830, 0x80f, 0x10, 0x174),
        u32,
        u32,
        u32,
        u32,
      ),
      fc.tuple(fc.constant(2), fc.integer({ min: 0, max: 0xfff }), fc.constantFrom(1, 2, 4), u32, u32, u32),
      fc.tuple(fc.constant(3), fc.integer({ min: 0, max: 8 }), u32, u32, u32, u32),
    );
    fc.assert(
      fc.property(fc.array(action, { maxLength: 20 }), fc.integer({ min: 0, max: 1 }), (acts, cpu) => {
        for (const [k, a, b, c, d, e] of acts) {
          const run = () => {
            switch (k) {
              case 0:
                return m.hc[cpu]!.invoke(a, b, c, d, e);
              case 1:
                return b & 1
                  ? m.traps[cpu]!.msr.read(a)
                  : m.traps[cpu]!.msr.write(a, (BigInt(c) << 32n) | BigInt(d));
              case 2:
                return b === 4 && c & 1
                  ? m.traps[cpu]!.apicMmio.read(a, b as 1 | 2 | 4)
                  : m.traps[cpu]!.apicMmio.write(a, b as 1 | 2 | 4, c);
              default:
                // CR0 writes stay within PE (no paging change to an unknown state), others any value.
                return a === 0 ? m.traps[cpu]!.writeCr(0, b & 0x7fffffff) : m.traps[cpu]!.writeCr(a, b);
            }
          };
          expect(run).not.toThrow();
        }
      }),
      { numRuns: 1000 },
    );
  });
});
