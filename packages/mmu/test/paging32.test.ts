/**
 * 32-bit paging table tests (SDM 4.3, 4.6, 4.7, 4.8) on hand-built page tables.
 *
 * Layout (RAM 4 MiB): page directory at 0x1000, one page table at 0x2000.
 *   PDE[1] → PT 0x2000 (P RW US), covering linear 0x00400000..0x007fffff
 *     PTE[0] → 0x10000  P RW US     (user read/write)
 *     PTE[1] → 0x11000  P           (supervisor read-only)
 *     PTE[2]   not present
 *     PTE[3] → 0x13000  P US        (user read-only)
 *     PTE[4] → 0x14000  P RW        (supervisor read/write)
 *     PTE[5] → 0x15000  P RW US G   (global)
 *   PDE[2] = 4-MiB page at physical 0 (P RW PS), linear 0x00800000
 *   PDE[3] = 4-MiB page with reserved bit 21 set
 *   PDE[4] → PT 0x3000 (P only: supervisor, read-only directory), PTE[0] → 0x16000 P RW US
 */
import { describe, expect, it } from 'vitest';
import {
  A,
  CR0_PE,
  CR0_PG,
  CR0_WP,
  CR4_PGE,
  CR4_PSE,
  CR4_SMAP,
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

const PD = 0x1000;
const PT = 0x2000;
const PT2 = 0x3000;

function build() {
  const mmu = makeMmu();
  poke32(mmu, PD + 1 * 4, PT | P | RW | US);
  poke32(mmu, PT + 0 * 4, 0x10000 | P | RW | US);
  poke32(mmu, PT + 1 * 4, 0x11000 | P);
  poke32(mmu, PT + 3 * 4, 0x13000 | P | US);
  poke32(mmu, PT + 4 * 4, 0x14000 | P | RW);
  poke32(mmu, PT + 5 * 4, 0x15000 | P | RW | US | G);
  poke32(mmu, PD + 2 * 4, 0x00000000 | P | RW | PS);
  poke32(mmu, PD + 3 * 4, 0x00000000 | P | RW | PS | (1 << 21));
  poke32(mmu, PD + 4 * 4, PT2 | P);
  poke32(mmu, PT2, 0x16000 | P | RW | US);
  for (let f = 0x10; f <= 0x16; f++) poke32(mmu, f << 12, 0xa0000000 | f);
  setCr(mmu, { cr3: PD, cr4: CR4_PSE });
  return mmu;
}

describe('32-bit paging: translation and A/D', () => {
  it('translates 4-KiB pages and sets A on PDE and PTE, D only on a write', () => {
    const mmu = build();
    expect(mmu.read32(0x00400000, READ)).toBe(0xa0000010);
    expect(peek32(mmu, PD + 4) & (A | D)).toBe(A);
    expect(peek32(mmu, PT) & (A | D)).toBe(A);
    mmu.write32(0x00400008, 0x12345678, WRITE);
    expect(peek32(mmu, 0x10008)).toBe(0x12345678);
    expect(peek32(mmu, PT) & (A | D)).toBe(A | D);
    // D is never set on the PDE of a 4-KiB translation.
    expect(peek32(mmu, PD + 4) & D).toBe(0);
  });

  it('translates a PSE 4-MiB page and sets A/D in the PDE', () => {
    const mmu = build();
    poke32(mmu, 0x12344, 0xcafef00d);
    expect(mmu.read32(0x00812344, READ)).toBe(0xcafef00d);
    expect(peek32(mmu, PD + 8) & (A | D)).toBe(A);
    mmu.write8(0x00812344, 0x11, WRITE);
    expect(peek32(mmu, PD + 8) & (A | D)).toBe(A | D);
  });

  it('ignores PS without CR4.PSE (the PDE points to a page table)', () => {
    const mmu = build();
    setCr(mmu, { cr3: PD, cr4: 0 });
    // PDE[2] with PS now points to "page table" frame 0: entry 0 of frame 0 is 0 ⇒ not present.
    expect(faultOf(() => mmu.read8(0x00800000, READ))?.code).toBe(0);
  });

  it('with paging off, linear = physical', () => {
    const mmu = build();
    setCr(mmu, { cr0: CR0_PE, cr3: PD });
    expect(mmu.read32(0x10000, USER)).toBe(0xa0000010);
  });

  it('does not set A or D on a faulting access', () => {
    const mmu = build();
    expect(faultOf(() => mmu.write32(0x00401000, 1, WRITE | USER))?.code).toBe(7);
    expect(peek32(mmu, PT + 4) & (A | D)).toBe(0);
  });
});

describe('32-bit paging: error codes', () => {
  it('not present: P=0 with W/R and U/S of the access', () => {
    const mmu = build();
    expect(faultOf(() => mmu.read32(0x00402000, READ))).toEqual({ lin: 0x00402000, code: 0 });
    expect(faultOf(() => mmu.write32(0x00402004, 0, WRITE))?.code).toBe(2);
    expect(faultOf(() => mmu.read8(0x00402000, USER))?.code).toBe(4);
    expect(faultOf(() => mmu.write8(0x00402000, 0, WRITE | USER))?.code).toBe(6);
    // Not-present PDE.
    expect(faultOf(() => mmu.read8(0x01400000, READ))).toEqual({ lin: 0x01400000, code: 0 });
  });

  it('U/S: user access to a supervisor page is a protection fault', () => {
    const mmu = build();
    expect(faultOf(() => mmu.read8(0x00401000, USER))?.code).toBe(5);
    expect(faultOf(() => mmu.read8(0x00404000, USER))?.code).toBe(5);
    // A supervisor directory entry makes the whole 4 MiB supervisor-only.
    expect(faultOf(() => mmu.read8(0x01000000, USER))?.code).toBe(5);
    expect(mmu.read8(0x01000000, READ)).toBe(0x16);
  });

  it('R/W: user write to a read-only page; supervisor write honours CR0.WP', () => {
    const mmu = build();
    expect(mmu.read8(0x00403000, USER)).toBe(0x13);
    expect(faultOf(() => mmu.write8(0x00403000, 0, WRITE | USER))?.code).toBe(7);
    // CR0.WP = 0: supervisor writes to read-only pages succeed (user page and supervisor page).
    mmu.write8(0x00403000, 0x55, WRITE);
    mmu.write8(0x00401000, 0x66, WRITE);
    expect(mmu.readPhys(0x13000, 1)[0]).toBe(0x55);
    expect(mmu.readPhys(0x11000, 1)[0]).toBe(0x66);
    // CR0.WP = 1: they fault with P|W.
    setCr(mmu, { cr0: CR0_PG | CR0_PE | CR0_WP, cr3: PD, cr4: CR4_PSE });
    expect(faultOf(() => mmu.write8(0x00403000, 0, WRITE))?.code).toBe(3);
    expect(faultOf(() => mmu.write8(0x00401000, 0, WRITE))?.code).toBe(3);
    // A read-only PDE makes writes fault even when the PTE is writable.
    expect(faultOf(() => mmu.write8(0x01000000, 0, WRITE))?.code).toBe(3);
  });

  it('RSVD: reserved bit 21 in a 4-MiB PDE', () => {
    const mmu = build();
    expect(faultOf(() => mmu.read8(0x00c00000, READ))?.code).toBe(1 | 8);
    expect(faultOf(() => mmu.write8(0x00c00000, 0, WRITE | USER))?.code).toBe(1 | 2 | 4 | 8);
    // PSE-36 (MAXPHYADDR 36): bits 16:13 are address bits 35:32, so the page is a hole, not RSVD.
    poke32(mmu, PD + 3 * 4, P | RW | PS | (1 << 13));
    setCr(mmu, { cr3: PD, cr4: CR4_PSE });
    expect(mmu.read32(0x00c00000, READ)).toBe(0xffffffff);
    // Bits 20:17 are reserved with MAXPHYADDR 36.
    poke32(mmu, PD + 3 * 4, P | RW | PS | (1 << 17));
    mmu.invlpg(0x00c00000);
    expect(faultOf(() => mmu.read8(0x00c00000, READ))?.code).toBe(9);
  });

  it('I/D: reported for fetches only with SMEP (32-bit paging ignores NXE)', () => {
    const mmu = build();
    expect(faultOf(() => mmu.read8(0x00402000, FETCH))?.code).toBe(0);
    setCr(mmu, { cr3: PD, cr4: CR4_PSE, efer: EFER_NXE });
    expect(faultOf(() => mmu.read8(0x00402000, FETCH))?.code).toBe(0);
    setCr(mmu, { cr3: PD, cr4: CR4_PSE | CR4_SMEP });
    expect(faultOf(() => mmu.read8(0x00402000, FETCH | USER))?.code).toBe(0x14);
    expect(faultOf(() => mmu.read8(0x00402000, READ))?.code).toBe(0);
  });

  it('SMEP: supervisor fetch from a user page faults with P|I/D', () => {
    const mmu = build();
    expect(mmu.read8(0x00400000, FETCH)).toBe(0x10);
    setCr(mmu, { cr3: PD, cr4: CR4_PSE | CR4_SMEP });
    expect(faultOf(() => mmu.read8(0x00400000, FETCH))).toEqual({ lin: 0x00400000, code: 0x11 });
    expect(mmu.read8(0x00404000, FETCH)).toBe(0x14);
    expect(mmu.read8(0x00400000, FETCH | USER)).toBe(0x10);
  });

  it('SMAP: supervisor data access to a user page, EFLAGS.AC override, implicit accesses', () => {
    const mmu = build();
    setCr(mmu, { cr3: PD, cr4: CR4_PSE | CR4_SMAP });
    expect(faultOf(() => mmu.read8(0x00400000, READ))?.code).toBe(1);
    expect(faultOf(() => mmu.write8(0x00400000, 0, WRITE))?.code).toBe(3);
    // CPL 0 with AC = 1: allowed (and cached).
    setCr(mmu, { cr3: PD, cr4: CR4_PSE | CR4_SMAP, ac: true });
    expect(mmu.read8(0x00400000, READ)).toBe(0x10);
    mmu.write8(0x00400001, 0x77, WRITE);
    // AC back to 0: the cached decision must not survive.
    setCr(mmu, { cr3: PD, cr4: CR4_PSE | CR4_SMAP, ac: false });
    expect(faultOf(() => mmu.read8(0x00400000, READ))?.code).toBe(1);
    expect(faultOf(() => mmu.write8(0x00400000, 0, WRITE))?.code).toBe(3);
    // CPL 3, AC = 1, implicit supervisor access (no ACCESS_USER): never overridden.
    setCr(mmu, { cr3: PD, cr4: CR4_PSE | CR4_SMAP, cpl: 3, ac: true });
    expect(faultOf(() => mmu.read8(0x00400000, READ))?.code).toBe(1);
    expect(mmu.read8(0x00400001, USER)).toBe(0x77);
    // Supervisor pages are unaffected.
    expect(mmu.read8(0x00404000, READ)).toBe(0x14);
  });

  it('CR2 names the faulting part of a page-straddling access; a faulting write stores nothing', () => {
    const mmu = build();
    // 0x00403ffe: user RO page 3, then supervisor RW page 4.
    expect(faultOf(() => mmu.read32(0x00403ffe, USER))).toEqual({ lin: 0x00404000, code: 5 });
    // First part faulting: CR2 is the access address.
    expect(faultOf(() => mmu.read32(0x00401ffe, USER))).toEqual({ lin: 0x00401ffe, code: 5 });
    // Supervisor write with WP: page 0 (RW) then page 1 (RO) faults on the second part.
    setCr(mmu, { cr0: CR0_PG | CR0_PE | CR0_WP, cr3: PD, cr4: CR4_PSE });
    const before = peek32(mmu, 0x10ffc);
    expect(faultOf(() => mmu.write32(0x00400ffe, 0xffffffff, WRITE))).toEqual({ lin: 0x00401000, code: 3 });
    expect(peek32(mmu, 0x10ffc)).toBe(before);
    // A straddling read that succeeds combines both pages little-endian.
    poke32(mmu, 0x10ffc, 0x44332211);
    poke32(mmu, 0x11000, 0x88776655);
    expect(mmu.read32(0x00400ffe, READ)).toBe(0x66554433);
    expect(mmu.read16(0x00400fff, READ)).toBe(0x5544);
    // A straddling write goes to both frames.
    setCr(mmu, { cr3: PD, cr4: CR4_PSE });
    mmu.write32(0x00400ffd, 0xddccbbaa, WRITE);
    expect(peek32(mmu, 0x10ffc)).toBe(0xccbbaa11);
    expect(peek32(mmu, 0x11000) & 0xff).toBe(0xdd);
  });
});

describe('32-bit paging: TLB invalidation', () => {
  it('a stale translation survives until INVLPG; INVLPG drops it', () => {
    const mmu = build();
    expect(mmu.read32(0x00400000, READ)).toBe(0xa0000010);
    poke32(mmu, PT, 0x11000 | P | RW | US);
    // The SDM allows the stale translation; this MMU keeps it until invalidated.
    expect(mmu.read32(0x00400000, READ)).toBe(0xa0000010);
    mmu.invlpg(0x00400123);
    expect(mmu.read32(0x00400000, READ)).toBe(0xa0000011);
  });

  it('global pages survive a CR3 reload with PGE; INVLPG and PGE changes drop them', () => {
    const mmu = build();
    setCr(mmu, { cr3: PD, cr4: CR4_PSE | CR4_PGE });
    expect(mmu.read32(0x00405000, READ)).toBe(0xa0000015);
    expect(mmu.read32(0x00400000, READ)).toBe(0xa0000010);
    poke32(mmu, PT + 5 * 4, 0x12000 | P | RW | US | G);
    poke32(mmu, PT, 0x12000 | P | RW | US);
    mmu.flushTlb(false);
    expect(mmu.read32(0x00405000, READ)).toBe(0xa0000015); // global: kept
    expect(mmu.read32(0x00400000, READ)).toBe(0xa0000012); // non-global: re-walked (frame 0x12000)
    mmu.flushTlb(true);
    expect(mmu.read32(0x00405000, READ)).toBe(0xa0000012);
    // Without PGE the G bit means nothing.
    poke32(mmu, PT + 5 * 4, 0x15000 | P | RW | US | G);
    setCr(mmu, { cr3: PD, cr4: CR4_PSE });
    expect(mmu.read32(0x00405000, READ)).toBe(0xa0000015);
    poke32(mmu, PT + 5 * 4, 0x12000 | P | RW | US | G);
    setCr(mmu, { cr3: PD + 0x1000 * 0, cr4: CR4_PSE, cpl: 0 }); // same state: no flush
    expect(mmu.read32(0x00405000, READ)).toBe(0xa0000015);
    expect(mmu.loadCr3(PD)).toBe(true);
    expect(mmu.read32(0x00405000, READ)).toBe(0xa0000012);
  });

  it('INVLPG anywhere inside a cached 4-MiB page drops all of it', () => {
    const mmu = build();
    expect(mmu.read32(0x00810000, READ)).toBe(0xa0000010);
    poke32(mmu, PD + 8, 0x00400000 | P | RW | PS);
    mmu.invlpg(0x00bff000);
    // The new 4-MiB page starts at 4 MiB, beyond the 4 MiB of RAM: a hole.
    expect(mmu.read32(0x00810000, READ)).toBe(0xffffffff);
  });

  it('a #PF drops the faulting page from every kind', () => {
    const mmu = build();
    expect(mmu.read8(0x00400000, USER)).toBe(0x10);
    poke32(mmu, PT, 0);
    expect(faultOf(() => mmu.write8(0x00400000, 0, WRITE | USER))?.code).toBe(6);
    expect(faultOf(() => mmu.read8(0x00400000, USER))?.code).toBe(4);
  });

  it('CR0.WP and CR4.SMEP changes are honoured for cached translations', () => {
    const mmu = build();
    mmu.write8(0x00401000, 1, WRITE);
    setCr(mmu, { cr0: CR0_PG | CR0_PE | CR0_WP, cr3: PD, cr4: CR4_PSE });
    expect(faultOf(() => mmu.write8(0x00401000, 1, WRITE))?.code).toBe(3);
    expect(mmu.read8(0x00400000, FETCH)).toBe(0x10);
    setCr(mmu, { cr3: PD, cr4: CR4_PSE | CR4_SMEP });
    expect(faultOf(() => mmu.read8(0x00400000, FETCH))?.code).toBe(0x11);
  });
});
