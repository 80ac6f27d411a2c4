import { crc32 } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { miniKernelImage } from '../src/index';
import { type BootResult, bootKernel, type ResultLine, resultLines } from './kernel-harness';

const WORKLOADS = ['ptchurn', 'timer', 'ipi', 'console'];
const image = miniKernelImage();

function byName(r: BootResult): Record<string, ResultLine> {
  return Object.fromEntries(resultLines(r.console).map((l) => [l.workload, l]));
}

describe('the mini PV kernel on the emulator (shadow page tables)', () => {
  let native: BootResult;
  let pv: BootResult;

  beforeAll(() => {
    native = bootKernel(image, { hypervisor: false });
    pv = bootKernel(image);
  }, 120_000);

  it('runs every workload natively without a hypervisor, reports status=ok and exits with 0', () => {
    expect(native.console).toContain('pv_ops: probe: hypervisor=no');
    expect(native.console).toContain('pv_ops: apic.write = native (CPUID.1:ECX[31] clear: no hypervisor)');
    expect(native.console).toMatch(/\nDONE\n$/);
    expect(native.exitCode).toBe(0);
    const results = resultLines(native.console);
    expect(results.map((r) => r.workload)).toEqual(WORKLOADS);
    for (const r of results) {
      expect(r.mode).toBe('native');
      expect(r.status).toBe('ok');
      expect(r.counters.hypercalls).toBe(0);
      expect(r.cycles).toBeGreaterThan(0);
    }
  });

  it('selects hypercall slots from CPUID and logs why each slot is native or pv', () => {
    expect(pv.console).toContain('pv_ops: probe: hypervisor=yes kvm=yes');
    for (const slot of ['console.write', 'mmu.set_pte', 'mmu.flush_tlb_one', 'apic.write', 'apic.eoi'])
      expect(pv.console).toMatch(new RegExp(`pv_ops: ${slot.replace('.', '\\.')} = pv \\(`));
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

  it('computes identical checksums and operation counts in both modes', () => {
    const n = byName(native);
    const p = byName(pv);
    for (const w of WORKLOADS) {
      expect(p[w]!.checksum, w).toBe(n[w]!.checksum);
      expect(p[w]!.ops, w).toBe(n[w]!.ops);
    }
    expect(n.ptchurn!.ops).toBe(4096);
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
    const n = native.workloads;
    const p = pv.workloads;
    // page-table churn: a ptwrite per PTE store and an invlpg per page natively, a few batches in pv
    expect(n[0]!.exits.invlpg).toBe(4096 + 16);
    expect(p[0]!.exits.ptwrite ?? 0).toBe(0);
    expect(p[0]!.exits.invlpg ?? 0).toBe(0);
    expect(p[0]!.total * 50).toBeLessThan(n[0]!.total);
    // timer: 4 register writes + EOI per shot natively, one batch per shot in pv (+ HLT in both)
    expect(n[1]!.exits.apic).toBeGreaterThanOrEqual(256 * 5);
    expect(p[1]!.exits.hypercall).toBeLessThanOrEqual(257);
    expect(p[1]!.total * 2.5).toBeLessThan(n[1]!.total);
    // self-IPIs: ICR write + EOI natively, one batch (previous EOI + ICR) in pv
    expect(n[2]!.exits.apic).toBe(512);
    expect(p[2]!.total * 1.9).toBeLessThan(n[2]!.total);
    // console: two port accesses per byte natively, one call per 4 KiB buffer in pv
    expect(p[3]!.total * 1000).toBeLessThan(n[3]!.total);
  });

  it('is deterministic: a second pv boot prints byte-identical output (cycles included) and retires as many instructions', () => {
    const again = bootKernel(image);
    expect(again.console).toBe(pv.console);
    expect(again.instructions).toBe(pv.instructions);
    expect(again.exits).toEqual(pv.exits);
  });

  it('spends fewer virtual cycles in pv mode on every workload (exits cost 1500 cycles each)', () => {
    const n = byName(native);
    const p = byName(pv);
    for (const w of WORKLOADS) expect(p[w]!.cycles, w).toBeLessThan(n[w]!.cycles);
  });

  it("reports the guest's own trappable operations consistently with the host's exit counts", () => {
    const n = byName(native);
    const p = byName(pv);
    expect(n.ptchurn!.counters.invlpg).toBe(native.workloads[0]!.exits.invlpg);
    expect(n.timer!.counters.apic_mmio).toBe(native.workloads[1]!.exits.apic);
    expect(n.timer!.counters.hlt).toBe(native.workloads[1]!.exits.hlt);
    expect(n.ipi!.counters.apic_mmio).toBe(native.workloads[2]!.exits.apic);
    for (let i = 0; i < 4; i++) {
      const w = WORKLOADS[i]!;
      // +1: the POST marker that closes the window is itself a port write
      expect(p[w]!.counters.hypercalls, w).toBe(pv.workloads[i]!.exits.hypercall ?? 0);
      expect(n[w]!.counters.pio + 1, w).toBe(native.workloads[i]!.exits.io);
    }
  });
});

describe('the mini PV kernel: command line and self-checks', () => {
  it('pv=off forces native slots even when the @pv leaves are present', () => {
    const r = bootKernel(image, { cmdline: 'console=ttyS0 pv=off' });
    expect(r.console).toContain('cmdline "console=ttyS0 pv=off"');
    expect(r.console).toContain('pv_ops: mmu.set_pte = native (pv=off on the command line)');
    expect(r.console).toContain('pv_ops: cpu.io_delay = native (pv=off on the command line)');
    expect(r.exits.hypercall ?? 0).toBe(0);
    expect(resultLines(r.console).every((l) => l.mode === 'native' && l.status === 'ok')).toBe(true);
    expect(r.exitCode).toBe(0);
  }, 60_000);

  it('uses only the features advertised: without PT batches the MMU slots stay native', () => {
    const r = bootKernel(image, {
      features: { pv: ['PV_FEATURE_APIC_WRITE_BATCH', 'PV_FEATURE_CONSOLE_WRITE'] },
    });
    expect(r.console).toContain(
      'pv_ops: mmu.set_pte = native (needs PV_FEATURE_PT_UPDATE_BATCH and PV_FEATURE_TLB_FLUSH)',
    );
    expect(r.console).toContain('pv_ops: apic.write = pv (');
    expect(r.exitCode).toBe(0);
    const churn = byName(r).ptchurn!;
    expect(churn.counters.pte_writes).toBe(8224);
    expect(churn.status).toBe('ok');
  }, 60_000);

  it('detects a host that maps a page to the wrong frame: status=FAIL and exit code 1', () => {
    let n = 0;
    let previous = 0;
    const r = bootKernel(image, {
      handlers: (h) => ({
        ...h,
        ptUpdate: (gpa, lo, hi, w) => {
          // Every 97th mapping gets the frame of the mapping before it (both are pool frames).
          if (lo !== 0 && ++n % 97 === 0) return h.ptUpdate!(gpa, previous, hi, w);
          if (lo !== 0) previous = lo;
          return h.ptUpdate!(gpa, lo, hi, w);
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
    const r = bootKernel(image, {
      handlers: (h) => ({ ...h, ptUpdate: (gpa, lo, hi, w) => (lo === 0 ? 0 : h.ptUpdate!(gpa, lo, hi, w)) }),
    });
    expect(r.console).toContain('FAIL workload=ptchurn: ptchurn: unmapped page did not fault');
    expect(r.exitCode).toBe(1);
  }, 60_000);

  it('reports an unexpected page fault (a dropped mapping) with vector, error code, EIP and CR2', () => {
    let n = 0;
    const r = bootKernel(image, {
      handlers: (h) => ({
        ...h,
        ptUpdate: (gpa, lo, hi, w) => (lo !== 0 && ++n === 100 ? 0 : h.ptUpdate!(gpa, lo, hi, w)),
      }),
    });
    expect(r.console).toMatch(
      /EXCEPTION vector=14 \(#PF\) error=0x00000002 eip=0x[0-9a-f]{8} cr2=0x40063000\n$/,
    );
    expect(r.exitCode).toBe(2);
  }, 60_000);

  it('stops loudly when a batch entry fails: the index and errno are printed, exit code 3', () => {
    const r = bootKernel(image, { handlers: (h) => ({ ...h, apicWrite: () => -22 }) });
    expect(r.console).toContain('pv: PV_HC_APIC_WRITE_BATCH applied 0 of 3, error 22');
    expect(r.console).toContain('PANIC hypercall batch failed');
    expect(r.exitCode).toBe(3);
  }, 60_000);
});
