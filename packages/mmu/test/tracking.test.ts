/** Write tracking (code pages, page-table frames), PV page-table batches, snapshots. */
import { describe, expect, it } from 'vitest';
import { Mmu, MmuError } from '../src/index';
import {
  A,
  CR4_PAE,
  CR4_PGE,
  D,
  FETCH,
  faultOf,
  G,
  makeMmu,
  P,
  PageFault,
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

/** Identity-map the first 4 MiB with 4-KiB pages (user, writable). */
function identity(mmu: Mmu, extra = 0) {
  poke32(mmu, PD, PT | P | RW | US);
  for (let i = 0; i < 1024; i++) poke32(mmu, PT + 4 * i, (i << 12) | P | RW | US | extra);
  setCr(mmu, { cr3: PD });
}

describe('code-write tracking', () => {
  it('tells the CPU once when a page it fetched from is written, then again after a new fetch', () => {
    const written: number[] = [];
    const mmu = makeMmu({}, (ppn) => written.push(ppn));
    identity(mmu);
    mmu.write32(0x5000, 0x90909090, WRITE); // not code yet: no call, and the write TLB is filled
    expect(written).toEqual([]);
    expect(mmu.read8(0x5000, FETCH)).toBe(0x90);
    mmu.write8(0x5001, 0xcc, WRITE); // the write TLB slot was evicted when the page became code
    expect(written).toEqual([5]);
    mmu.write8(0x5002, 0xcc, WRITE); // untracked after the notification
    mmu.write8(0x5002, 0xcc, WRITE | USER);
    expect(written).toEqual([5]);
    // The fetch slot was dropped, so the next fetch re-tracks the page.
    expect(mmu.read8(0x5001, FETCH | USER)).toBe(0xcc);
    mmu.write16(0x5ffe, 0, WRITE);
    expect(written).toEqual([5, 5]);
    // Host writes through writePhys notify too; through a straddle, each tracked page once.
    mmu.read8(0x6000, FETCH);
    mmu.read8(0x5000, FETCH);
    mmu.writePhys(0x5ffe, new Uint8Array(4));
    expect(written).toEqual([5, 5, 5, 6]);
  });

  it('without a codeWritten hook nothing is tracked', () => {
    const mmu = makeMmu();
    identity(mmu);
    mmu.read8(0x5000, FETCH);
    mmu.write8(0x5000, 1, WRITE);
    expect(mmu.read8(0x5000, READ)).toBe(1);
  });
});

describe('page-table write tracking (shadow exit model)', () => {
  it('counts guest writes to frames the walker used as paging structures', () => {
    const mmu = makeMmu();
    identity(mmu);
    mmu.setPageTableTracking(true);
    const hooked: number[] = [];
    mmu.onPageTableWrite = (ppn) => hooked.push(ppn);
    mmu.read32(0x7000, READ); // walks PD (frame 1) and PT (frame 2)
    expect(mmu.isPageTableTracked(1)).toBe(true);
    expect(mmu.isPageTableTracked(2)).toBe(true);
    expect(mmu.isPageTableTracked(7)).toBe(false);
    mmu.write32(0x8000, 1, WRITE);
    expect(mmu.exits.ptwrite).toBe(0);
    mmu.write32(PT + 4 * 9, (9 << 12) | P | RW | US, WRITE);
    mmu.write32(PT + 4 * 9, (9 << 12) | P | RW | US, WRITE);
    mmu.write8(PD + 3, 0, WRITE);
    expect(mmu.exits.ptwrite).toBe(3);
    expect(hooked).toEqual([PT >>> 12, PT >>> 12, PD >>> 12]);
    // Reads are not exits.
    mmu.read32(PT, READ);
    expect(mmu.exits.ptwrite).toBe(3);
    // The walker's own A/D updates are not guest writes.
    mmu.write32(0x9000, 5, WRITE);
    expect(mmu.exits.ptwrite).toBe(3);
    // A CR3 load starts a new tracked set.
    mmu.loadCr3(PD);
    expect(mmu.isPageTableTracked(2)).toBe(false);
    mmu.setPageTableTracking(false);
    mmu.read32(0x7000, READ);
    mmu.write32(PT, 0, WRITE);
    expect(mmu.exits.ptwrite).toBe(3);
  });
});

describe('PV page-table batch', () => {
  it('applies valid entries, reports failures by index and reason, invalidates precisely', () => {
    const mmu = makeMmu();
    identity(mmu);
    for (const f of [0x10, 0x11, 0x12, 0x13]) poke32(mmu, f << 12, 0xc0de0000 | f);
    expect(mmu.read32(0x10000, READ)).toBe(0xc0de0010);
    expect(mmu.read32(0x11000, READ)).toBe(0xc0de0011);
    const result = mmu.applyPteUpdates([
      { gpa: PT + 4 * 0x10, lo: 0x12000 | P | RW },
      { gpa: PT + 4 * 0x11 + 2, lo: 0 },
      { gpa: 0x40000000, lo: 0 },
      { gpa: PT + 4 * 0x11, lo: 1, hi: 1 },
      { gpa: 1.5, lo: 0 },
      { gpa: PT + 4 * 0x11, lo: -1 },
    ]);
    expect(result.applied).toBe(1);
    expect(result.failures).toEqual([
      { index: 1, gpa: PT + 0x46, reason: 'misaligned' },
      { index: 2, gpa: 0x40000000, reason: 'not-ram' },
      { index: 3, gpa: PT + 0x44, reason: 'invalid' },
      { index: 4, gpa: 1.5, reason: 'invalid' },
      { index: 5, gpa: PT + 0x44, reason: 'invalid' },
    ]);
    // The changed entry's translation is gone, the other one is still cached.
    expect(mmu.read32(0x10000, READ)).toBe(0xc0de0012);
    poke32(mmu, PT + 4 * 0x11, 0x13000 | P | RW | US);
    expect(mmu.read32(0x11000, READ)).toBe(0xc0de0011);
    // A PDE update drops every translation made through it.
    expect(mmu.applyPteUpdates([{ gpa: PD, lo: 0 }]).applied).toBe(1);
    expect(faultOf(() => mmu.read32(0x11000, READ))?.code).toBe(0);
  });

  it('uses 8-byte entries with CR4.PAE', () => {
    const mmu = makeMmu();
    poke32(mmu, 0x3000, 0x4000 | P);
    poke32(mmu, 0x4000, 0x5000 | P | RW | US);
    poke32(mmu, 0x5000, 0x10000 | P | RW | US);
    setCr(mmu, { cr3: 0x3000, cr4: CR4_PAE });
    poke32(mmu, 0x10000, 0xaaaa);
    expect(mmu.read32(0, READ)).toBe(0xaaaa);
    const r = mmu.applyPteUpdates([
      { gpa: 0x5004, lo: 0 },
      { gpa: 0x5000, lo: 0x11000 | P | RW | US, hi: 0 },
      { gpa: 0x5008, lo: 0x12000 | P, hi: 0x80000000 },
    ]);
    expect(r).toEqual({ applied: 2, failures: [{ index: 0, gpa: 0x5004, reason: 'misaligned' }] });
    expect(mmu.read32(0, READ)).toBe(0);
    expect(peek32(mmu, 0x500c)).toBe(0x80000000);
  });

  it('flushLinear and flushAll', () => {
    const mmu = makeMmu();
    identity(mmu, G);
    setCr(mmu, { cr3: PD, cr4: CR4_PGE });
    poke32(mmu, 0x20000, 1);
    poke32(mmu, 0x21000, 2);
    mmu.read32(0x20000, READ);
    mmu.read32(0x21000, READ);
    poke32(mmu, PT + 4 * 0x20, 0x21000 | P | RW | US | G);
    poke32(mmu, PT + 4 * 0x21, 0x20000 | P | RW | US | G);
    mmu.flushLinear([0x20abc]);
    expect(mmu.read32(0x20000, READ)).toBe(2);
    expect(mmu.read32(0x21000, READ)).toBe(2);
    mmu.flushAll();
    expect(mmu.read32(0x21000, READ)).toBe(1);
    expect(() => mmu.flushLinear([Number.NaN])).toThrow(MmuError);
  });
});

describe('snapshot', () => {
  it('round-trips RAM, control state, PDPTE registers and A20; the TLB is rebuilt', () => {
    const mmu = makeMmu({ ramSize: 1 << 20 });
    poke32(mmu, 0x3000, 0x4000 | P);
    poke32(mmu, 0x4000, 0x5000 | P | RW | US);
    poke32(mmu, 0x5000, 0x10000 | P | RW | US);
    poke32(mmu, 0x10000, 0x1234);
    setCr(mmu, { cr3: 0x3000, cr4: CR4_PAE, cpl: 3, ac: true });
    mmu.write32(4, 0x5678, WRITE | USER);
    // The PDPTE register differs from memory from here on.
    poke32(mmu, 0x3000, 0);
    mmu.setA20(false);
    const state = structuredClone(mmu.saveState());
    expect(state.pdpte.slice(0, 2)).toEqual([0x4000 | P, 0]);
    const copy = Mmu.fromState(state);
    copy.attachCpu({
      raisePageFault(lin: number, code: number): never {
        throw new PageFault(lin, code);
      },
    });
    expect(copy.read32(0, USER)).toBe(0x1234);
    expect(copy.read32(4, USER)).toBe(0x5678);
    expect(copy.a20Enabled).toBe(false);
    expect(peek32(copy, 0x5000) & (A | D)).toBe(A | D);
    const { ram, ...control } = copy.saveState();
    const { ram: ram0, ...control0 } = state;
    expect(control).toEqual(control0);
    // (a byte-wise toEqual of 1 MiB is slow in vitest: compare with memcmp)
    expect(Buffer.compare(ram, ram0)).toBe(0);
    // Snapshots are independent of the source.
    mmu.write32(4, 0, WRITE | USER);
    expect(copy.read32(4, USER)).toBe(0x5678);
  });

  it('rejects malformed snapshots naming the field', () => {
    const mmu = makeMmu({ ramSize: 1 << 16 });
    const good = mmu.saveState();
    expect(() => mmu.loadState({ ...good, version: 2 } as never)).toThrow(/version 2/);
    expect(() => mmu.loadState({ ...good, ramSize: 8192 })).toThrow(/RAM size 8192/);
    expect(() => mmu.loadState({ ...good, cr3: -1 })).toThrow(/cr3 = -1/);
    expect(() => mmu.loadState({ ...good, cpl: 4 })).toThrow(/cpl = 4/);
    expect(() => mmu.loadState({ ...good, pdpte: [1] })).toThrow(/pdpte/);
    expect(() => mmu.loadState(null as never)).toThrow(MmuError);
    expect(() => Mmu.fromState({ ...good, ram: new Uint8Array(3) })).toThrow(/field ram/);
  });
});
