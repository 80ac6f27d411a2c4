/**
 * The TLB's page map (bus.ts `SoftTlb.pageMap`): the view the CPU's inline hit path reads. It must
 * mirror the TLB slots exactly — an entry appears when a slot is filled and disappears with every
 * way a slot can go (eviction by another page, INVLPG, CR3 reload, full flushes, SMAP override end,
 * write tracking, PV updates, A20, MMIO map changes, snapshot load) — and a hit through it must
 * read and write the same bytes as the MMU's own methods.
 */
import { describe, expect, it } from 'vitest';
import type { Mmu } from '../src/index';
import {
  CR0_PE,
  CR4_PGE,
  CR4_SMAP,
  FETCH,
  G,
  makeMmu,
  P,
  pageMapAccess,
  pageMapMismatch,
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

/**
 * Map linear 4 MiB + i·4 KiB → physical 0x100000 + i·4 KiB for i < 256 (user, writable). The page
 * map is allocated first (as a CPU does when it attaches) unless `lazy`.
 */
function build(extra: (i: number) => number = () => 0, lazy = false): Mmu {
  const mmu = withMap(makeMmu({ tlbBits: 4 }), lazy);
  poke32(mmu, PD + 4, PT | P | RW | US);
  for (let i = 0; i < 256; i++) poke32(mmu, PT + 4 * i, (0x100000 + (i << 12)) | P | RW | US | extra(i));
  setCr(mmu, { cr3: PD });
  return mmu;
}

const LIN = 0x400000;
const withMap = (mmu: Mmu, lazy = false) => {
  if (!lazy) void mmu.tlb.pageMap;
  return mmu;
};
const entry = (mmu: Mmu, kind: number, lin: number) => mmu.tlb.pageMap[kind]![lin >>> 12]!;
const expectMirror = (mmu: Mmu) => expect(pageMapMismatch(mmu)).toBeNull();

describe('page map', () => {
  it('has one zero-filled 2^20-entry view per kind, over one buffer', () => {
    const mmu = makeMmu();
    const { pageMap } = mmu.tlb;
    expect(pageMap).toHaveLength(8);
    for (const view of pageMap) {
      expect(view).toBeInstanceOf(Int32Array);
      expect(view.length).toBe(1 << 20);
      expect(view.buffer).toBe(pageMap[0]!.buffer);
    }
    expectMirror(mmu);
  });

  it('is built from the slots already filled when first read, then kept in step', () => {
    const mmu = build(undefined, true);
    mmu.read8(LIN + 0x1000, READ);
    mmu.write8(LIN + 0x2000, 1, WRITE);
    mmu.read8(LIN + 0x4000, READ);
    mmu.read8(LIN + 0x14000, READ); // evicts page 0x404 from its read slot (16 slots per kind)
    const { pageMap } = mmu.tlb; // first read: allocated now
    expect(pageMap[READ]![(LIN + 0x1000) >>> 12]).not.toBe(0);
    expect(pageMap[WRITE]![(LIN + 0x2000) >>> 12]).not.toBe(0);
    expect(pageMap[READ]![(LIN + 0x4000) >>> 12]).toBe(0);
    expect(pageMap[READ]![(LIN + 0x14000) >>> 12]).not.toBe(0);
    expectMirror(mmu);
    expect(mmu.tlb.pageMap).toBe(pageMap); // the same arrays from now on
    mmu.read8(LIN + 0x3000, READ);
    expect(pageMap[READ]![(LIN + 0x3000) >>> 12]).not.toBe(0);
    expectMirror(mmu);
  });

  it('gets ~offset when a slot is filled, only for the kind filled', () => {
    const mmu = build();
    poke32(mmu, 0x103010, 0xdeadbeef);
    expect(mmu.read32(LIN + 0x3010, READ)).toBe(0xdeadbeef);
    const i = mmu.tlb.slot(READ, (LIN + 0x3000) >>> 12);
    expect(entry(mmu, READ, LIN + 0x3000)).toBe(~mmu.tlb.offset[i]!);
    // ~offset: the offset itself is a multiple of 4096 (physical − linear page base).
    expect(~entry(mmu, READ, LIN + 0x3000)).toBe((0x103000 - (LIN + 0x3000)) | 0);
    for (const kind of [WRITE, USER, USER | WRITE, FETCH, FETCH | USER])
      expect(entry(mmu, kind, LIN + 0x3000)).toBe(0);
    expectMirror(mmu);
  });

  it('an entry for the identity mapping (offset 0) is not the empty value', () => {
    const mmu = withMap(makeMmu({ tlbBits: 4 }));
    setCr(mmu, { cr0: CR0_PE }); // paging off: linear = physical
    poke32(mmu, 0x5000, 0x12345678);
    expect(mmu.read32(0x5000, READ)).toBe(0x12345678);
    expect(entry(mmu, READ, 0x5000)).toBe(~0);
    expect(pageMapAccess(mmu, 0x5000, READ, 4, 0)).toBe(0x12345678);
    expectMirror(mmu);
  });

  it('hits read and write the same bytes as the MMU methods (aligned, unaligned, every size)', () => {
    const mmu = build();
    mmu.read8(LIN + 0x5000, READ); // fill the read and the write slot
    mmu.write8(LIN + 0x5000, 0, WRITE);
    let n = 0;
    for (const size of [1, 2, 4]) {
      for (const off of [0, 1, 2, 3, 0x7fe, 0xffc, 0xffd, 0xfff]) {
        const lin = LIN + 0x5000 + off;
        const value = (0x9e3779b1 * ++n) >>> (32 - 8 * size);
        const wrote = pageMapAccess(mmu, lin, WRITE, size, value);
        if (off + size > 0x1000) {
          expect(wrote, `straddle ${off}+${size}`).toBeUndefined(); // never a map hit
          continue;
        }
        expect(wrote).toBe(0);
        const method =
          size === 1 ? mmu.read8(lin, READ) : size === 2 ? mmu.read16(lin, READ) : mmu.read32(lin, READ);
        expect(method).toBe(value);
        expect(pageMapAccess(mmu, lin, READ, size, 0)).toBe(value);
      }
    }
    expect(peek32(mmu, 0x105ffc) >>> 0).toBe(mmu.read32(LIN + 0x5ffc, READ));
  });

  it('loses the old page when another page takes its slot', () => {
    const mmu = build();
    mmu.read8(LIN, READ); // page 0x400
    mmu.read8(LIN + 0x10000, READ); // page 0x410: same slot with 16 slots per kind
    expect(entry(mmu, READ, LIN)).toBe(0);
    expect(entry(mmu, READ, LIN + 0x10000)).not.toBe(0);
    expectMirror(mmu);
  });

  it('follows INVLPG, CR3 reloads (globals stay), and full flushes', () => {
    const mmu = build((i) => (i === 1 ? G : 0));
    setCr(mmu, { cr3: PD, cr4: CR4_PGE });
    for (const page of [0, 1, 2]) {
      mmu.read8(LIN + (page << 12), READ);
      mmu.write8(LIN + (page << 12), 1, WRITE | USER);
    }
    expectMirror(mmu);
    mmu.invlpg(LIN + 0x2abc);
    expect(entry(mmu, READ, LIN + 0x2000)).toBe(0);
    expect(entry(mmu, WRITE | USER, LIN + 0x2000)).toBe(0);
    expect(entry(mmu, READ, LIN)).not.toBe(0);
    expectMirror(mmu);
    expect(mmu.loadCr3(PD)).toBe(true); // non-global flush
    expect(entry(mmu, READ, LIN)).toBe(0);
    expect(entry(mmu, READ, LIN + 0x1000)).not.toBe(0);
    expect(entry(mmu, WRITE | USER, LIN + 0x1000)).not.toBe(0);
    expectMirror(mmu);
    mmu.flushTlb(true);
    expect(entry(mmu, READ, LIN + 0x1000)).toBe(0);
    expectMirror(mmu);
    mmu.read8(LIN, READ);
    setCr(mmu, { cr3: PD, cr4: 0 }); // CR4.PGE change: everything goes
    expectMirror(mmu);
    expect(entry(mmu, READ, LIN)).toBe(0);
  });

  it('drops supervisor data entries for user pages when the SMAP override ends', () => {
    const mmu = build();
    setCr(mmu, { cr3: PD, cr4: CR4_SMAP, ac: true });
    mmu.read8(LIN, READ); // supervisor read of a user page, allowed by EFLAGS.AC
    expect(entry(mmu, READ, LIN)).not.toBe(0);
    setCr(mmu, { cr3: PD, cr4: CR4_SMAP, ac: false });
    expect(entry(mmu, READ, LIN)).toBe(0);
    expectMirror(mmu);
  });

  it('never holds a write entry for a tracked code page, and drops the fetch entry on a write', () => {
    const written: number[] = [];
    const mmu = withMap(makeMmu({ tlbBits: 4 }, (ppn) => written.push(ppn)));
    poke32(mmu, PD + 4, PT | P | RW | US);
    for (let i = 0; i < 256; i++) poke32(mmu, PT + 4 * i, (0x100000 + (i << 12)) | P | RW | US);
    setCr(mmu, { cr3: PD });
    mmu.write8(LIN, 0x90, WRITE);
    expect(entry(mmu, WRITE, LIN)).not.toBe(0);
    mmu.read8(LIN, FETCH); // the page becomes code: its write entries go
    expect(entry(mmu, WRITE, LIN)).toBe(0);
    expect(pageMapAccess(mmu, LIN, WRITE, 1, 0xcc)).toBeUndefined();
    mmu.write8(LIN, 0xcc, WRITE); // the slow path tells the CPU and drops the fetch entry
    expect(written).toEqual([0x100]);
    expect(entry(mmu, FETCH, LIN)).toBe(0);
    expectMirror(mmu);
  });

  it('follows PV page-table updates, A20, MMIO map changes and snapshot loads', () => {
    const mmu = build();
    for (let page = 0; page < 4; page++) mmu.read8(LIN + (page << 12), READ);
    const r = mmu.applyPteUpdates([{ gpa: PT + 4 * 2, lo: 0x180000 | P | RW | US }]);
    expect(r.applied).toBe(1);
    expect(entry(mmu, READ, LIN + 0x2000)).toBe(0);
    expect(entry(mmu, READ, LIN + 0x3000)).not.toBe(0);
    expectMirror(mmu);
    mmu.setA20(false);
    expect(entry(mmu, READ, LIN + 0x3000)).toBe(0);
    expectMirror(mmu);
    mmu.setA20(true);
    mmu.read8(LIN, READ);
    mmu.mapMmio(0x300000, 0x1000, { read: () => 0, write: () => {} });
    expect(entry(mmu, READ, LIN)).toBe(0);
    expectMirror(mmu);
    mmu.read8(LIN, READ);
    mmu.loadState(mmu.saveState());
    expect(entry(mmu, READ, LIN)).toBe(0);
    expectMirror(mmu);
  });

  it('never maps MMIO or ROM for writes, and ROM for reads reads the ROM', () => {
    const rom = new Uint8Array(0x1000).fill(0xab);
    const mmu = withMap(makeMmu({ tlbBits: 4, rom: [{ base: 0xfffff000, data: rom }] }));
    mmu.mapMmio(0x200000, 0x1000, { read: () => 0x55, write: () => {} });
    setCr(mmu, { cr0: CR0_PE });
    expect(mmu.read8(0x200000, READ)).toBe(0x55);
    expect(entry(mmu, READ, 0x200000)).toBe(0);
    expect(mmu.read32(0xfffff000, READ)).toBe(0xabababab);
    expect(pageMapAccess(mmu, 0xfffff000, READ, 4, 0)).toBe(0xabababab);
    mmu.write8(0xfffff000, 0, WRITE);
    expect(entry(mmu, WRITE, 0xfffff000)).toBe(0);
    expect(mmu.read8(0xfffff000, READ)).toBe(0xab);
    expectMirror(mmu);
  });
});
