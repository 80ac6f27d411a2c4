/**
 * PAE paging table tests (SDM 4.4, 4.6, 4.7, 4.8) on hand-built page tables.
 *
 * Layout (RAM 4 MiB, MAXPHYADDR 36): PDPT at 0x3000 (PDPTE0 → PD 0x4000; PDPTE3 → PD 0x6000),
 *   PD[2] → PT 0x5000 (linear 0x00400000..)
 *     PT[0] → 0x10000 P RW US
 *     PT[1] → 0x11000 P RW US XD
 *     PT[2] → 0x12000 P RW US, reserved bit 40
 *     PT[3] → 0x13000 P US G
 *   PD[3] = 2-MiB page at physical 0x200000 (P RW US PS), linear 0x00600000
 *   PD[4] = 2-MiB page with reserved bit 13
 *   PD[5] = 2-MiB page, XD (P RW PS)
 *   PD 0x6000 [0] → 2-MiB page at 0 (P RW PS G), linear 0xc0000000
 */
import { describe, expect, it } from 'vitest';
import {
  A,
  CR0_PE,
  CR0_PG,
  CR0_WP,
  CR4_PAE,
  CR4_PGE,
  CR4_SMEP,
  D,
  EFER_NXE,
  FETCH,
  faultOf,
  G,
  makeMmu,
  P,
  PS,
  peek32,
  poke32,
  READ,
  RW,
  setCr,
  US,
  USER,
  WRITE,
} from './helpers';

const PDPT = 0x3000;
const PD = 0x4000;
const PT = 0x5000;
const PD3 = 0x6000;
const XD_HI = 0x80000000;

function entry(mmu: ReturnType<typeof makeMmu>, gpa: number, lo: number, hi = 0) {
  poke32(mmu, gpa, lo);
  poke32(mmu, gpa + 4, hi);
}

function build(efer = EFER_NXE, cr4 = CR4_PAE) {
  const mmu = makeMmu();
  entry(mmu, PDPT, PD | P);
  entry(mmu, PDPT + 24, PD3 | P);
  entry(mmu, PD + 2 * 8, PT | P | RW | US);
  entry(mmu, PT + 0 * 8, 0x10000 | P | RW | US);
  entry(mmu, PT + 1 * 8, 0x11000 | P | RW | US, XD_HI);
  entry(mmu, PT + 2 * 8, 0x12000 | P | RW | US, 1 << 8);
  entry(mmu, PT + 3 * 8, 0x13000 | P | US | G);
  entry(mmu, PD + 3 * 8, 0x200000 | P | RW | US | PS);
  entry(mmu, PD + 4 * 8, 0x200000 | P | RW | US | PS | (1 << 13));
  entry(mmu, PD + 5 * 8, 0x200000 | P | RW | PS, XD_HI);
  entry(mmu, PD3, 0 | P | RW | PS | G);
  for (let f = 0x10; f <= 0x13; f++) poke32(mmu, f << 12, 0xb0000000 | f);
  poke32(mmu, 0x200000, 0xb0000200);
  expect(setCr(mmu, { cr3: PDPT, cr4, efer })).toBe(true);
  return mmu;
}

describe('PAE paging: translation and A/D', () => {
  it('translates 4-KiB pages, A on PDE and PTE, D on the PTE for writes', () => {
    const mmu = build();
    expect(mmu.read32(0x00400000, USER)).toBe(0xb0000010);
    expect(peek32(mmu, PD + 16) & (A | D)).toBe(A);
    expect(peek32(mmu, PT) & (A | D)).toBe(A);
    // PDPTEs have no A bit: untouched.
    expect(peek32(mmu, PDPT)).toBe(PD | P);
    mmu.write16(0x00400010, 0xbeef, WRITE | USER);
    expect(peek32(mmu, PT) & (A | D)).toBe(A | D);
    expect(peek32(mmu, PD + 16) & D).toBe(0);
    // High dwords are never written.
    expect(peek32(mmu, PT + 4)).toBe(0);
  });

  it('translates 2-MiB pages (A/D in the PDE) and the upper PDPTE', () => {
    const mmu = build();
    expect(mmu.read32(0x00600000, READ)).toBe(0xb0000200);
    expect(peek32(mmu, PD + 24) & (A | D)).toBe(A);
    mmu.write8(0x00600001, 0, WRITE);
    expect(peek32(mmu, PD + 24) & (A | D)).toBe(A | D);
    expect(mmu.read32(0xc0010000, READ)).toBe(0xb0000010);
  });

  it('an entry with address bits above 4 GiB maps a hole', () => {
    const mmu = build();
    entry(mmu, PT + 4 * 8, 0x10000 | P | RW, 0x1);
    expect(mmu.read32(0x00404000, READ)).toBe(0xffffffff);
    mmu.write32(0x00404000, 0, WRITE); // ignored
    expect(peek32(mmu, 0x10000)).toBe(0xb0000010);
  });
});

describe('PAE paging: error codes', () => {
  it('not present at PDPTE, PDE and PTE levels', () => {
    const mmu = build();
    expect(faultOf(() => mmu.read8(0x40000000, READ))).toEqual({ lin: 0x40000000, code: 0 });
    expect(faultOf(() => mmu.read8(0x00000000, USER))?.code).toBe(4);
    expect(faultOf(() => mmu.write8(0x00405000, 0, WRITE | USER))?.code).toBe(6);
    // NXE and PAE: I/D set on fetches.
    expect(faultOf(() => mmu.read8(0x00405000, FETCH))?.code).toBe(0x10);
    expect(faultOf(() => mmu.read8(0x00405000, FETCH | USER))?.code).toBe(0x14);
  });

  it('XD with NXE: fetch faults with P|I/D (user and supervisor); data access is fine', () => {
    const mmu = build();
    expect(mmu.read8(0x00401000, USER)).toBe(0x11);
    expect(faultOf(() => mmu.read8(0x00401000, FETCH | USER))?.code).toBe(0x15);
    expect(faultOf(() => mmu.read8(0x00401000, FETCH))?.code).toBe(0x11);
    expect(faultOf(() => mmu.read8(0x00a00000, FETCH))?.code).toBe(0x11);
    expect(mmu.read8(0x00400000, FETCH | USER)).toBe(0x10);
  });

  it('XD without NXE is a reserved bit', () => {
    const mmu = build(0);
    expect(faultOf(() => mmu.read8(0x00401000, USER))?.code).toBe(1 | 4 | 8);
    expect(faultOf(() => mmu.read8(0x00a00000, READ))?.code).toBe(1 | 8);
    // Without NXE and SMEP, I/D stays 0 even for fetches.
    expect(faultOf(() => mmu.read8(0x00401000, FETCH))?.code).toBe(1 | 8);
  });

  it('reserved bits: address bit 40 (MAXPHYADDR 36), bit 13 of a 2-MiB PDE', () => {
    const mmu = build();
    expect(faultOf(() => mmu.write8(0x00402000, 0, WRITE))?.code).toBe(1 | 2 | 8);
    expect(faultOf(() => mmu.read8(0x00800000, FETCH | USER))?.code).toBe(1 | 4 | 8 | 0x10);
    // The fault sets no A bit.
    expect(peek32(mmu, PT + 16) & A).toBe(0);
  });

  it('U/S, R/W with CR0.WP, SMEP on PAE', () => {
    const mmu = build(EFER_NXE, CR4_PAE | CR4_SMEP);
    expect(faultOf(() => mmu.write8(0x00403000, 0, WRITE | USER))?.code).toBe(7);
    mmu.write8(0x00403000, 0x99, WRITE);
    setCr(mmu, { cr0: CR0_PG | CR0_PE | CR0_WP, cr3: PDPT, cr4: CR4_PAE | CR4_SMEP, efer: EFER_NXE });
    expect(faultOf(() => mmu.write8(0x00403000, 0, WRITE))?.code).toBe(3);
    expect(faultOf(() => mmu.read8(0x00403000, FETCH))?.code).toBe(0x11);
    expect(faultOf(() => mmu.read8(0xc0000000, USER))?.code).toBe(5);
  });
});

describe('PAE paging: PDPTE registers', () => {
  it('rejects a CR3 load whose PDPTEs have reserved bits, changing nothing', () => {
    const mmu = build();
    entry(mmu, 0x7000, PD | P | (1 << 1)); // bit 1 reserved
    expect(mmu.pdptesValid(0x7000)).toBe(false);
    expect(setCr(mmu, { cr3: 0x7000, cr4: CR4_PAE, efer: EFER_NXE })).toBe(false);
    expect(mmu.saveState().cr3).toBe(PDPT);
    expect(mmu.read32(0x00400000, READ)).toBe(0xb0000010);
    for (const [lo, hi] of [
      [P | (1 << 5), 0],
      [P | (1 << 8), 0],
      [P, 1 << 4], // bit 36
      [P, XD_HI], // no XD in a PDPTE
    ] as const) {
      entry(mmu, 0x7000, PD | lo, hi);
      expect(mmu.loadCr3(0x7000)).toBe(false);
    }
    // A not-present PDPTE may hold anything.
    entry(mmu, 0x7000, 0xfffffffe, 0xffffffff);
    expect(mmu.loadCr3(0x7000)).toBe(true);
    expect(faultOf(() => mmu.read8(0x00400000, READ))?.code).toBe(0);
  });

  it('PDPTEs are registers: memory changes take effect at the next CR3 load', () => {
    const mmu = build();
    entry(mmu, PDPT, 0);
    mmu.flushTlb(true); // flushes the TLB but does not reload PDPTEs
    expect(mmu.read32(0x00400000, READ)).toBe(0xb0000010);
    expect(mmu.loadCr3(PDPT)).toBe(true);
    expect(faultOf(() => mmu.read8(0x00400000, READ))?.code).toBe(0);
  });

  it('global 2-MiB pages survive a CR3 load with PGE', () => {
    const mmu = build(EFER_NXE, CR4_PAE | CR4_PGE);
    expect(mmu.read32(0xc0010000, READ)).toBe(0xb0000010);
    entry(mmu, PD3, 0x200000 | P | RW | PS | G);
    expect(mmu.loadCr3(PDPT)).toBe(true);
    expect(mmu.read32(0xc0010000, READ)).toBe(0xb0000010);
    mmu.invlpg(0xc01ff000);
    expect(mmu.read32(0xc0000000, READ)).toBe(0xb0000200);
  });
});
