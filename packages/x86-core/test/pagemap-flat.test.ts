/**
 * FlatMemory's page map (bus.ts `SoftTlb.pageMap`): after any sequence of fills (reads, writes,
 * fetches of every kind, in and beyond RAM, with A20 on or off), INVLPG, flushes and A20 changes,
 * every valid slot has `pageMap[kind][tag] === ~offset` and no other entry of the 8 maps is set.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ACCESS_FETCH, ACCESS_READ, ACCESS_USER, ACCESS_WRITE, FlatMemory, TLB_KINDS } from '../src/index';

const ZERO = new Uint8Array(TLB_KINDS << 22);

/**
 * Null when the map mirrors the slots exactly, else a description of the first difference. With
 * `pages`, only those pages' entries are checked for strays (cheap); without, the whole 32 MiB.
 */
function pageMapMismatch(m: FlatMemory, pages?: readonly number[]): string | null {
  const { tag, offset, bits, pageMap } = m.tlb;
  if (pageMap === undefined) return 'no pageMap';
  for (let i = 0; i < tag.length; i++) {
    const t = tag[i]!;
    if (t === -1) continue;
    const k = i >>> bits;
    if (pageMap[k]![t] !== ~offset[i]!) {
      return `slot ${i} (kind ${k}, page ${t.toString(16)}): map ${pageMap[k]![t]}, ~offset ${~offset[i]!}`;
    }
  }
  if (pages !== undefined) {
    for (let k = 0; k < TLB_KINDS; k++) {
      for (const p of pages) {
        const v = pageMap[k]![p]!;
        if (v !== 0 && tag[(k << bits) | (p & ((1 << bits) - 1))] !== p) {
          return `stray entry: kind ${k}, page ${p.toString(16)} = ${v}`;
        }
      }
    }
    return null;
  }
  // Every entry is 0 except the valid ones checked above: clear those, compare, put them back.
  const saved: [Int32Array, number, number][] = [];
  for (let i = 0; i < tag.length; i++) {
    const t = tag[i]!;
    if (t === -1) continue;
    const view = pageMap[i >>> bits]!;
    saved.push([view, t, view[t]!]);
    view[t] = 0;
  }
  const all = new Uint8Array(pageMap[0]!.buffer);
  let stray = -1;
  if (all.length !== ZERO.length) stray = -2;
  else if (Buffer.compare(all, ZERO) !== 0) stray = all.findIndex((b) => b !== 0);
  for (const [view, t, v] of saved) view[t] = v;
  if (stray === -2) return `map buffer has ${all.length} bytes`;
  if (stray >= 0) {
    const e = stray >>> 2;
    return `stray entry: kind ${e >>> 20}, page ${(e & 0xfffff).toString(16)}`;
  }
  return null;
}

const KINDS = [ACCESS_READ, ACCESS_WRITE, ACCESS_FETCH];
/** Pages in RAM (8 MiB), their A20 aliases, beyond RAM, and pages that share slots. */
const PAGES = [0, 1, 2, 0x3f, 0x40, 0x100, 0x101, 0x140, 0x7ff, 0x800, 0x900, 0xfffff];
/** Every page an access can touch (a straddling access reaches the next page; 0xfffff wraps to 0). */
const TOUCHED = [...new Set(PAGES.flatMap((p) => [p, (p + 1) & 0xfffff]))];

type Op =
  | { op: 'access'; page: number; off: number; kind: number; user: boolean; size: 1 | 2 | 4 }
  | { op: 'invlpg'; page: number }
  | { op: 'flush' }
  | { op: 'a20'; on: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constant('access' as const),
      page: fc.constantFrom(...PAGES),
      off: fc.constantFrom(0, 1, 0x800, 0xffd, 0xfff),
      kind: fc.constantFrom(...KINDS),
      user: fc.boolean(),
      size: fc.constantFrom(1 as const, 2 as const, 4 as const),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('invlpg' as const), page: fc.constantFrom(...PAGES) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('flush' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('a20' as const), on: fc.boolean() }) },
);

function apply(m: FlatMemory, o: Op): void {
  switch (o.op) {
    case 'access': {
      const lin = ((o.page << 12) | o.off) >>> 0;
      const kind = o.kind | (o.user ? ACCESS_USER : 0);
      if (o.kind === ACCESS_WRITE) {
        if (o.size === 1) m.write8(lin, 0x5a, kind);
        else if (o.size === 2) m.write16(lin, 0x5a5a, kind);
        else m.write32(lin, 0x5a5a5a5a, kind);
      } else if (o.size === 1) m.read8(lin, kind);
      else if (o.size === 2) m.read16(lin, kind);
      else m.read32(lin, kind);
      break;
    }
    case 'invlpg':
      m.invlpg(o.page << 12);
      break;
    case 'flush':
      m.flushTlb(true);
      break;
    case 'a20':
      m.setA20(o.on);
      break;
  }
}

describe('FlatMemory page map', () => {
  it('starts empty and mirrors a fill, including an identity mapping (offset 0 ⇒ ~0 = −1)', () => {
    const m = new FlatMemory(1 << 20, { tlbBits: 4 });
    const map = m.tlb.pageMap!;
    expect(map).toHaveLength(TLB_KINDS);
    expect(map.every((v) => v.length === 1 << 20)).toBe(true);
    expect(pageMapMismatch(m)).toBeNull();
    m.write8(0x3005, 1, ACCESS_WRITE | ACCESS_USER);
    expect(map[ACCESS_WRITE | ACCESS_USER]![3]).toBe(-1);
    expect(map[ACCESS_READ | ACCESS_USER]![3]).toBe(-1); // a write fills the read slot too
    expect(map[ACCESS_WRITE]![3]).toBe(0);
    expect(pageMapMismatch(m)).toBeNull();
    expect(m.tlb.pageMap).toBe(map); // the same views for the memory's lifetime
  });

  it('holds ~offset of an A20 alias and drops it on setA20', () => {
    const m = new FlatMemory(2 << 20);
    m.setA20(false);
    m.read8(0x100123, ACCESS_READ);
    const o = ~m.tlb.pageMap![ACCESS_READ]![0x100]!;
    expect(o).toBe(-0x100000);
    expect((0x100123 + o) >>> 0).toBe(0x123);
    m.setA20(true);
    expect(m.tlb.pageMap![ACCESS_READ]![0x100]).toBe(0);
    expect(pageMapMismatch(m)).toBeNull();
  });

  it('clears the evicted page when a slot is refilled, and on INVLPG', () => {
    const m = new FlatMemory(1 << 20, { tlbBits: 1 });
    const map = m.tlb.pageMap![ACCESS_READ]!;
    m.read8(0x2000, ACCESS_READ); // page 2, slot 0
    m.read8(0x4000, ACCESS_READ); // page 4, slot 0: evicts page 2
    expect(map[2]).toBe(0);
    expect(map[4]).toBe(-1);
    m.invlpg(0x4000);
    expect(map[4]).toBe(0);
    expect(pageMapMismatch(m)).toBeNull();
  });

  it('never caches pages beyond RAM', () => {
    const m = new FlatMemory(1 << 20);
    expect(m.read8(0x100000, ACCESS_READ)).toBe(0xff);
    m.write32(0x200000, 1, ACCESS_WRITE);
    expect(m.tlb.pageMap![ACCESS_READ]![0x100]).toBe(0);
    expect(m.tlb.pageMap![ACCESS_WRITE]![0x200]).toBe(0);
    expect(pageMapMismatch(m)).toBeNull();
  });

  it('stays exactly in step with the slots under random fills, INVLPG, flushes and A20 (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 10),
        fc.boolean(),
        fc.array(opArb, { minLength: 1, maxLength: 60 }),
        (bits, early, ops) => {
          const m = new FlatMemory(8 << 20, { tlbBits: bits });
          // The map is built from the slots when first read, or kept in step from the start.
          const half = early ? 0 : ops.length >> 1;
          for (let i = 0; i < half; i++) apply(m, ops[i]!);
          expect(pageMapMismatch(m)).toBeNull();
          for (let i = half; i < ops.length; i++) {
            apply(m, ops[i]!);
            const bad = pageMapMismatch(m, TOUCHED);
            if (bad !== null) throw new Error(`after op ${i} ${JSON.stringify(ops[i])}: ${bad}`);
          }
          expect(pageMapMismatch(m)).toBeNull();
        },
      ),
      { numRuns: 50 },
    );
  });
});
