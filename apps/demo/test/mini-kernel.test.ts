/**
 * The mini PV kernel of @pv/guest booted on the reference machine (vm.ts), one vCPU: both modes,
 * identical checksums, far fewer exits paravirtually, determinism, and hosts that misbehave being
 * caught by the kernel's self-checks.
 */
import { crc32 } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { comparisonTable } from '../src/demo-command';
import {
  bootMiniKernel,
  type MiniKernelRun,
  type ResultFields,
  resultLines,
  totalExits,
} from '../src/mini-kernel';

const WORKLOADS = ['ptchurn', 'timer', 'ipi', 'console'];

function byName(r: MiniKernelRun): Record<string, ResultFields> {
  return Object.fromEntries(resultLines(r.console).map((l) => [l.workload, l]));
}
const n = (v: string | undefined) => Number(v);

describe('the mini PV kernel on the reference machine (shadow exit model)', () => {
  let bare: MiniKernelRun;
  let native: MiniKernelRun;
  let pv: MiniKernelRun;

  beforeAll(() => {
    bare = bootMiniKernel({ mode: 'bare' });
    native = bootMiniKernel({ mode: 'native' });
    pv = bootMiniKernel({ mode: 'pv' });
  }, 120_000);

  it('runs every workload natively without a hypervisor, reports status=ok and exits with 0', () => {
    expect(bare.console).toContain('pv_ops: probe: hypervisor=no');
    expect(bare.console).toContain('pv_ops: apic.write = native (CPUID.1:ECX[31] clear: no hypervisor)');
    expect(bare.console).toMatch(/\nDONE\n$/);
    expect(bare.reason).toBe('debug-exit');
    expect(bare.exitCode).toBe(0);
    const results = resultLines(bare.console);
    expect(results.map((r) => r.workload)).toEqual(WORKLOADS);
    for (const r of results) {
      expect(r.mode).toBe('native');
      expect(r.status).toBe('ok');
      expect(r.hypercalls).toBe('0');
      expect(r.cpus).toBe('1');
      expect(n(r.cycles)).toBeGreaterThan(0);
    }
    expect(bare.exits.hypercall).toBe(0);
  });

  it('selects hypercall slots from CPUID and logs why each slot is native or pv', () => {
    expect(pv.console).toContain('pv_ops: probe: hypervisor=yes kvm=yes');
    for (const slot of [
      'console.write',
      'mmu.set_pte',
      'mmu.flush_tlb_one',
      'apic.write',
      'apic.send_ipi_mask',
    ])
      expect(pv.console).toMatch(new RegExp(`pv_ops: ${slot.replace('.', '\\.')} = pv \\(`));
    expect(pv.console).toContain('pv_ops: apic.eoi (pv_eoi) = pv (KVM_FEATURE_PV_EOI');
    for (const slot of ['irq.safe_halt', 'mmu.write_cr3', 'apic.read'])
      expect(pv.console).toMatch(new RegExp(`pv_ops: ${slot.replace('.', '\\.')} = native \\(.+\\)`));
    expect(pv.console).toContain('mode pv');
    expect(pv.exitCode).toBe(0);
    expect(pv.console).toMatch(/\nDONE\n$/);
    for (const r of resultLines(pv.console)) {
      expect(r.mode).toBe('pv');
      expect(r.status).toBe('ok');
    }
  });

  it('finds the ACPI tables and measures the 1 GHz TSC against the ACPI PM timer and the HPET they name', () => {
    for (const r of [bare, native, pv]) {
      expect(r.console).toMatch(/\nacpi: RSDP 0x000f0000 OEM PVVM {2}, RSDT 0x[0-9a-f]{8}: FACP APIC HPET\n/);
      const pm = /tsc: (\d+) kHz against the ACPI PM timer \(port 0x00000608\)/.exec(r.console);
      const hpet = /tsc: (\d+) kHz against the HPET \(0xfed00000\)/.exec(r.console);
      expect(Math.abs(n(pm?.[1]) - 1_000_000)).toBeLessThan(1000); // within 0.1 %
      expect(Math.abs(n(hpet?.[1]) - 1_000_000)).toBeLessThan(1000);
    }
    // the HPET's counter reads are MMIO exits (about one per 1500 cycles of the 1 ms measured)
    expect(pv.exits.mmio).toBeGreaterThan(500);
    expect(pv.exits.mmio).toBeLessThan(1000);
  });

  it('reads one CPU from the MP table the machine wrote', () => {
    for (const r of [bare, native, pv]) {
      expect(r.console).toContain('smp: 1 CPU in the MP table\n');
      expect(r.console).toContain('smp: 1 of 1 CPUs online\n');
    }
  });

  it('computes identical checksums and operation counts in every mode', () => {
    const b = byName(bare);
    const nn = byName(native);
    const p = byName(pv);
    for (const w of WORKLOADS) {
      expect(p[w]!.checksum, w).toBe(nn[w]!.checksum);
      expect(b[w]!.checksum, w).toBe(nn[w]!.checksum);
      expect(p[w]!.ops, w).toBe(nn[w]!.ops);
    }
    expect(nn.ptchurn!.ops).toBe('4096');
    expect(nn.ipi!.ops).toBe('256');
  });

  it('prints console lines whose CRC-32 the host can check against the reported checksum', () => {
    for (const r of [native, pv]) {
      const lines = r.console.split('\n').filter((l) => l.startsWith('console line '));
      expect(lines.length).toBe(64);
      const crc = crc32(Buffer.from(lines.map((l) => `${l}\n`).join(''), 'latin1'));
      expect(byName(r).console!.checksum).toBe(crc.toString(16).padStart(8, '0'));
    }
  });

  it('takes strictly and substantially fewer exits in pv mode for every batched workload', () => {
    const [nc, tn, ipn, con] = native.workloads;
    const [pc, tp, ipp, cop] = pv.workloads;
    // page-table churn: a ptwrite per PTE store and an invlpg per page natively, a few batches in pv
    // (16 rounds of 256 pages, a probe page per round, and the exec step's page)
    expect(nc!.exits.invlpg).toBe(4096 + 16 + 1);
    expect(nc!.exits.cr).toBe(1); // the exec step's full flush: MOV CR3
    expect(pc!.exits.ptwrite).toBe(0);
    expect(pc!.exits.invlpg).toBe(0);
    expect(totalExits(pc!.exits) * 50).toBeLessThan(totalExits(nc!.exits));
    // timer: 4 register writes + EOI per shot natively, one batch per shot in pv (+ HLT in both)
    expect(tn!.exits.apic).toBeGreaterThanOrEqual(256 * 5);
    expect(tp!.exits.hypercall).toBeLessThanOrEqual(257);
    expect(totalExits(tp!.exits) * 2.5).toBeLessThan(totalExits(tn!.exits));
    // self-IPIs: ICR write + EOI natively; in pv one batch per IPI and the EOI through PV EOI
    expect(ipn!.exits.apic).toBe(512);
    expect(ipp!.exits.apic).toBe(0);
    expect(totalExits(ipp!.exits) * 1.9).toBeLessThan(totalExits(ipn!.exits));
    // console: two port accesses per byte natively, one call per 4 KiB buffer in pv
    expect(totalExits(cop!.exits) * 1000).toBeLessThan(totalExits(con!.exits));
    expect(comparisonTable(native, pv)).toContain('ptchurn');
  });

  it('spends fewer virtual cycles in pv mode on every workload (exits cost 1500 cycles each)', () => {
    const nn = byName(native);
    const p = byName(pv);
    for (const w of WORKLOADS) expect(n(p[w]!.cycles), w).toBeLessThan(n(nn[w]!.cycles));
  });

  it("reports the guest's own trappable operations consistently with the host's exit counts", () => {
    const nn = byName(native);
    const p = byName(pv);
    expect(n(nn.ptchurn!.invlpg)).toBe(native.workloads[0]!.exits.invlpg);
    expect(n(nn.ptchurn!.cr3_writes)).toBe(native.workloads[0]!.exits.cr);
    expect(n(nn.timer!.apic_mmio)).toBe(native.workloads[1]!.exits.apic);
    expect(n(nn.timer!.hlt)).toBe(native.workloads[1]!.exits.hlt);
    expect(n(nn.ipi!.apic_mmio)).toBe(native.workloads[2]!.exits.apic);
    for (let i = 0; i < 4; i++) {
      const w = WORKLOADS[i]!;
      expect(n(p[w]!.hypercalls), w).toBe(pv.workloads[i]!.exits.hypercall);
      // +1: one of the two POST markers around the workload is itself a port write in the window
      expect(n(nn[w]!.pio) + 1, w).toBe(native.workloads[i]!.exits.io);
    }
  });

  it('is deterministic: a second pv boot prints byte-identical output (cycles included) and retires as many instructions', () => {
    const again = bootMiniKernel({ mode: 'pv' });
    expect(again.console).toBe(pv.console);
    expect(again.instructions).toBe(pv.instructions);
    expect(again.virtualCycles).toBe(pv.virtualCycles);
    expect(again.exits).toEqual(pv.exits);
  });
});

describe('the mini PV kernel: command line and self-checks', () => {
  it('pv=off forces native slots even when the @pv leaves are present', () => {
    const r = bootMiniKernel({ mode: 'pv', cmdline: 'console=ttyS0 pv=off' });
    expect(r.console).toContain('cmdline "console=ttyS0 pv=off"');
    expect(r.console).toContain('pv_ops: mmu.set_pte = native (pv=off on the command line)');
    expect(r.console).toContain('pv_ops: cpu.io_delay = native (pv=off on the command line)');
    expect(r.exits.hypercall).toBe(0);
    expect(resultLines(r.console).every((l) => l.mode === 'native' && l.status === 'ok')).toBe(true);
    expect(r.exitCode).toBe(0);
  }, 60_000);

  it('uses only the features advertised: without PT batches the MMU slots stay native', () => {
    const r = bootMiniKernel({
      ops: (ops) => ({
        ...ops,
        cpu: {
          ...ops.cpu,
          // @pv feature bits (CPUID 0x40000101.EBX): APIC_WRITE_BATCH (1) and CONSOLE_WRITE (4) only
          cpuid: (vcpu, leaf, sub) => {
            const v = ops.cpu.cpuid(vcpu, leaf, sub);
            return leaf === 0x40000101 ? [v[0], v[1] & 0b10010, v[2], v[3]] : v;
          },
        },
      }),
    });
    expect(r.console).toContain(
      'pv_ops: mmu.set_pte = native (needs PV_FEATURE_PT_UPDATE_BATCH and PV_FEATURE_TLB_FLUSH)',
    );
    expect(r.console).toContain('pv_ops: apic.write = pv (');
    expect(r.exitCode).toBe(0);
    const churn = byName(r).ptchurn!;
    expect(churn.pte_writes).toBe(String(2 * 4096 + 2 * 16 + 3));
    expect(churn.status).toBe('ok');
  }, 60_000);

  it('detects a host that maps a page to the wrong frame: status=FAIL and exit code 1', () => {
    let count = 0;
    let previous = 0;
    const r = bootMiniKernel({
      ops: (ops) => ({
        ...ops,
        mmu: {
          ...ops.mmu,
          setPte: (vcpu, gpa, lo, hi, width) => {
            // Every 97th mapping gets the frame of the mapping before it (both are pool frames).
            if (lo !== 0 && ++count % 97 === 0) return ops.mmu.setPte(vcpu, gpa, previous, hi, width);
            if (lo !== 0) previous = lo;
            return ops.mmu.setPte(vcpu, gpa, lo, hi, width);
          },
        },
      }),
    });
    expect(r.console).toContain('FAIL workload=ptchurn: ptchurn: write did not reach the mapped frame');
    expect(byName(r).ptchurn!.status).toBe('FAIL');
    for (const w of ['timer', 'ipi', 'console']) expect(byName(r)[w]!.status).toBe('ok');
    expect(r.console).toContain('\nFAILED\n');
    expect(r.exitCode).toBe(1);
  }, 60_000);

  it('detects a host that ignores unmaps: the unmapped probe page does not fault, status=FAIL', () => {
    const r = bootMiniKernel({
      ops: (ops) => ({
        ...ops,
        mmu: {
          ...ops.mmu,
          setPte: (v, gpa, lo, hi, w) => (lo === 0 ? 0 : ops.mmu.setPte(v, gpa, lo, hi, w)),
        },
      }),
    });
    expect(r.console).toContain('FAIL workload=ptchurn: ptchurn: unmapped page did not fault');
    expect(r.exitCode).toBe(1);
  }, 60_000);

  it('reports an unexpected page fault (a dropped mapping) with vector, error code, EIP and CR2', () => {
    let count = 0;
    const r = bootMiniKernel({
      ops: (ops) => ({
        ...ops,
        mmu: {
          ...ops.mmu,
          setPte: (v, gpa, lo, hi, w) =>
            lo !== 0 && ++count === 100 ? 0 : ops.mmu.setPte(v, gpa, lo, hi, w),
        },
      }),
    });
    expect(r.console).toMatch(
      /EXCEPTION vector=14 \(#PF\) error=0x00000002 eip=0x[0-9a-f]{8} cr2=0x40063000\n$/,
    );
    expect(r.exitCode).toBe(2);
  }, 60_000);

  it('stops loudly when a batch entry fails: the index and errno are printed, exit code 3', () => {
    const r = bootMiniKernel({ ops: (ops) => ({ ...ops, apic: { ...ops.apic, write: () => -22 } }) });
    expect(r.console).toContain('pv: PV_HC_APIC_WRITE_BATCH applied 0 of 4, error 22');
    expect(r.console).toContain('PANIC hypercall batch failed');
    expect(r.exitCode).toBe(3);
  }, 60_000);
});

describe('the nested exit model', () => {
  it('drops page-table-write, CR3 and INVLPG exits, and their cost in virtual cycles', () => {
    const nested = bootMiniKernel({ mode: 'native', exitModel: 'nested' }).workloads[0]!;
    const shadow = bootMiniKernel({ mode: 'native', exitModel: 'shadow' }).workloads[0]!;
    expect(nested.workload).toBe('ptchurn');
    expect(nested.exits.ptwrite).toBe(0);
    expect(nested.exits.invlpg).toBe(0);
    expect(nested.exits.cr).toBe(0);
    expect(nested.result.status).toBe('ok');
    expect(nested.result.checksum).toBe(shadow.result.checksum);
    const dropped = shadow.exits.ptwrite + shadow.exits.invlpg + shadow.exits.cr;
    // The saving is the dropped exits' cost (up to a few instructions of polling that shift with time).
    const saved = shadow.virtualCycles - nested.virtualCycles;
    expect(saved).toBeGreaterThan(dropped * 1500 * 0.99);
    expect(saved).toBeLessThan(dropped * 1500 * 1.01);
  }, 60_000);
});
