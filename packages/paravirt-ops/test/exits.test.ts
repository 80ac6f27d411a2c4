/**
 * Exit accounting: the two paths have the same semantics and differ in cost. A batch of N APIC
 * writes is one exit on the hypercall path and N on the trap path; withStats reports both.
 */
import { describe, expect, it } from 'vitest';
import { apicPage, buildMachine, encodeList, HC, Scratch } from './helpers';

/** N register writes a guest might do when programming its APIC. */
function writes(n: number): { reg: number; value: number }[] {
  const regs = [0x08, 0x32, 0x35, 0x36, 0x37, 0x3e, 0x0d, 0x0e];
  return Array.from({ length: n }, (_, i) => {
    const reg = regs[i % regs.length]!;
    const value = reg === 0x08 ? (i * 16) & 0xf0 : reg === 0x3e ? i & 0xb : (0x10000 | (0x30 + i)) >>> 0;
    return { reg, value };
  });
}

describe('exit accounting', () => {
  for (const n of [1, 8, 64, 256]) {
    it(`a batch of ${n} APIC writes: 1 exit by hypercall, ${n} by trap, same APIC state`, () => {
      const trap = buildMachine({ vcpus: 2 });
      const pv = buildMachine({ vcpus: 2 });
      const ws = writes(n);
      const mmioBefore = trap.mmu.exits.mmio;
      for (const w of ws) trap.mmu.phys.write(apicPage(0) + (w.reg << 4), 4, w.value);

      const scratch = new Scratch(pv.mmu);
      const list = scratch.put(
        encodeList(
          'pv_apic_write',
          ws.map((w) => ({ reg: w.reg << 4, value: w.value })),
        ),
      );
      // Through the CPU-facing entry point: EAX = nr, EBX/ECX/EDX = list, count, status.
      const regs = new Int32Array(8);
      regs[0] = HC.PV_HC_APIC_WRITE_BATCH;
      regs[3] = list;
      regs[1] = n;
      regs[2] = 0;
      pv.hc[0]!.hypercall({ regs, cpl: 0 });
      expect(regs[0]).toBe(n);

      expect(pv.apics[0]!.saveState()).toEqual(trap.apics[0]!.saveState());

      const t = trap.ops.stats;
      const h = pv.ops.stats;
      expect(t.exits('trap')).toBe(n);
      expect(t.exits('trap', 'apic')).toBe(n);
      expect(t.exits('hypercall')).toBe(0);
      expect(trap.mmu.exits.mmio - mmioBefore).toBe(n); // the Mmu agrees: N MMIO accesses
      expect(h.exits('hypercall')).toBe(1);
      expect(h.exits('trap')).toBe(0);
      expect(pv.hc[0]!.counters.exits).toBe(1);
      // The same op ran N times on both paths; only the exits differ.
      expect(t.calls('apic.write')).toBe(n);
      expect(h.calls('apic.write')).toBe(n);
      expect(t.cycles('trap')).toBe(1500 * n);
      expect(h.cycles('hypercall')).toBe(1500);
      const snap = t.snapshot();
      expect(snap.trap).toEqual({ exits: n, cycles: 1500 * n, byKind: { apic: n } });
      expect(snap.ops['apic.write']?.calls).toBe(n);
      expect(snap.ops['apic.write']?.wallMs).toBeGreaterThanOrEqual(0);
      expect(h.snapshot().hypercall).toEqual({ exits: 1, cycles: 1500, byKind: { hypercall: 1 } });
    });
  }

  it('a multicall of PTE batch + TLB flush list + APIC batch is one exit; the trap path pays one per store', () => {
    const pv = buildMachine({ vcpus: 1 });
    const trap = buildMachine({ vcpus: 1 });
    const scratch = new Scratch(pv.mmu);
    const ptes = Array.from({ length: 16 }, (_, i) => ({
      gpa: 0x2000 + 4 * i,
      value: ((0x2f - i) << 12) | 3,
    }));
    const pteList = scratch.put(
      encodeList(
        'pv_pte_update',
        ptes.map((p) => ({ pte_gpa: BigInt(p.gpa), value: BigInt(p.value) })),
      ),
    );
    const tlbList = scratch.put(
      encodeList(
        'pv_tlb_flush_entry',
        ptes.map((_, i) => ({ linear: 0x400000 + i * 0x1000 })),
      ),
    );
    const apicList = scratch.put(encodeList('pv_apic_write', [{ reg: 0x80, value: 0x20 }]));
    const mc = scratch.put(
      encodeList('pv_multicall_entry', [
        { nr: HC.PV_HC_PT_UPDATE_BATCH, args: [pteList, 16, 0, 0], result: 0 },
        { nr: HC.PV_HC_TLB_FLUSH, args: [tlbList, 16, 0, 0], result: 0 },
        { nr: HC.PV_HC_APIC_WRITE_BATCH, args: [apicList, 1, 0, 0], result: 0 },
      ]),
    );
    expect(pv.hc[0]!.invoke(HC.PV_HC_MULTICALL, mc, 3)).toBe(3);
    for (const [i, p] of ptes.entries()) {
      trap.traps[0]!.pageTableWrite(p.gpa, p.value, 0, 4);
      trap.traps[0]!.invlpg(0x400000 + i * 0x1000);
    }
    trap.mmu.phys.write(apicPage(0) + 0x80, 4, 0x20);
    expect(pv.ops.stats.exits('hypercall')).toBe(1);
    expect(trap.ops.stats.exits('trap')).toBe(33);
    expect(trap.ops.stats.snapshot().trap.byKind).toEqual({ ptwrite: 16, invlpg: 16, apic: 1 });
    for (let i = 0; i < 16; i++) {
      expect(pv.mmu.read32(0x400000 + i * 0x1000, 0)).toBe(trap.mmu.read32(0x400000 + i * 0x1000, 0));
      expect(pv.mmu.read32(0x400000 + i * 0x1000, 0)).toBe((0xf0000000 | (0x2f - i)) >>> 0);
    }
    expect(pv.apics[0]!.priorities().tpr).toBe(0x20);
  });
});
