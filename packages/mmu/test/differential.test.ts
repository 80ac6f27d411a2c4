/**
 * Differential property test: the real MMU (TLB, inline hit path, walker) against the reference
 * model of reference.ts (no TLB), on random page tables, control registers and access sequences.
 *
 * Two variants:
 * - strict: every page-table write is followed by the invalidation software must issue (INVLPG of
 *   every linear page the case uses, or a full flush; a CR3 load after a PDPTE write under PAE).
 *   The MMU must then agree with a fresh walk on every access: value, fault address (CR2), error
 *   code, and every byte of memory (A/D bits, stored data). The one architectural exception is a
 *   global translation kept across a CR3 switch to another root, which the SDM allows either way.
 * - stale: page-table writes without invalidation. The MMU may then use any translation the
 *   reference says a TLB may still hold (successful walks since that page's last invalidation,
 *   checked against the current access rights, writes only through dirty ones), or walk afresh;
 *   nothing else. This is the SDM 4.10 envelope minus speculative fills and spurious faults,
 *   which this MMU never does.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Mmu } from '../src/index';
import { makeMmu, PageFault, pageMapAccess, pageMapMismatch } from './helpers';
import { type Control, FETCH, RefMachine, USER, WRITE } from './reference';

const RAM_PAGES = 128;
const RAM = RAM_PAGES * 4096;
const TABLE_FRAMES = [1, 2, 3, 4, 5, 6, 7, 8, 9];

function prng(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
    chance: (p: number) => next() < p,
    u32: () => Math.floor(next() * 4294967296),
  };
}
type Rng = ReturnType<typeof prng>;

/** A random paging-structure entry (low dword, high dword). */
function randomEntry(r: Rng, pae: boolean): [number, number] {
  let frame: number;
  const f = r.next();
  if (f < 0.45) frame = r.pick(TABLE_FRAMES.slice(1));
  else if (f < 0.9) frame = r.int(RAM_PAGES);
  else frame = RAM_PAGES + r.int(200);
  let lo = frame << 12;
  if (r.chance(0.88)) lo |= 1;
  if (r.chance(0.6)) lo |= 2;
  if (r.chance(0.65)) lo |= 4;
  if (r.chance(0.2)) lo |= 8;
  if (r.chance(0.2)) lo |= 0x10;
  if (r.chance(0.5)) lo |= 0x20;
  if (r.chance(0.5)) lo |= 0x40;
  if (r.chance(0.3)) {
    lo |= 0x80;
    // Large pages: mostly based at 0 so they reach RAM.
    if (r.chance(0.6)) lo &= 0xfff;
    if (r.chance(0.15)) lo |= 1 << (13 + r.int(9));
  }
  if (r.chance(0.3)) lo |= 0x100;
  let hi = 0;
  if (pae) {
    const h = r.next();
    if (h < 0.7) hi = 0;
    else if (h < 0.85) hi = 0x80000000;
    else if (h < 0.92) hi = 1 + r.int(15);
    else hi = 1 << (4 + r.int(27));
  }
  return [lo >>> 0, hi >>> 0];
}

interface Setup {
  mem: Uint8Array;
  ctl: Control;
  roots: number[];
  pool: number[];
}

function setup(r: Rng): Setup {
  const mem = new Uint8Array(RAM);
  // Data: a distinct value per dword (so a wrong frame is visible), varied per case.
  const words = new Uint32Array(mem.buffer);
  const salt = r.u32();
  for (let i = 0; i < words.length; i++) words[i] = Math.imul(i + salt, 0x9e3779b1) ^ salt;
  const pae = r.chance(0.5);
  const put = (addr: number, lo: number, hi: number) => {
    for (let i = 0; i < 4; i++) mem[addr + i] = lo >>> (8 * i);
    if (pae) for (let i = 0; i < 4; i++) mem[addr + 4 + i] = hi >>> (8 * i);
  };
  const pool: number[] = [];
  for (let n = 0; n < 24; n++) {
    const off = r.pick([0, r.int(4096), 0xffc, 0xffd, 0xffe, 0xfff, 0x800]);
    const low = r.chance(0.8) ? r.int(16) : r.int(1024);
    let lin: number;
    if (pae) {
      const pdi = r.chance(0.7) ? r.pick([0, 1, 2, 3, 511]) : r.int(512);
      lin = r.int(4) * 2 ** 30 + pdi * 2 ** 21 + (low & 511) * 4096 + off;
    } else {
      const pdi = r.chance(0.7) ? r.pick([0, 1, 2, 3, 0x300, 0x3ff]) : r.int(1024);
      lin = pdi * 2 ** 22 + low * 4096 + off;
    }
    pool.push(lin >>> 0);
  }
  // Paging structures: every frame may serve as a directory or a table, so the entries the pool
  // can reach (at both levels, for the page and the next one) get random entries in every table
  // frame; the rest keep the hashed data, which reads as arbitrary garbage entries.
  const indices = new Set<number>([0, 1, 2, 3]);
  for (const base of pool) {
    for (const lin of [base, (base + 4096) >>> 0]) {
      if (pae) {
        indices.add((lin >>> 21) & 511);
        indices.add((lin >>> 12) & 511);
      } else {
        indices.add(lin >>> 22);
        indices.add((lin >>> 12) & 1023);
      }
    }
  }
  for (const frame of TABLE_FRAMES) {
    for (const idx of indices) {
      const [lo, hi] = randomEntry(r, pae);
      put(frame * 4096 + idx * (pae ? 8 : 4), lo, hi);
    }
  }
  const roots: number[] = [];
  for (let n = 0; n < 2; n++) {
    if (pae) {
      const cr3 = (n === 0 ? 1 : 9) * 4096 + 32 * r.int(128);
      for (let i = 0; i < 4; i++) {
        let lo = (r.pick(TABLE_FRAMES.slice(1)) << 12) | (r.chance(0.9) ? 1 : 0) | (r.chance(0.3) ? 0x18 : 0);
        let hi = 0;
        if (r.chance(0.05)) lo |= r.pick([2, 4, 0x20, 0x100]);
        if (r.chance(0.03)) hi = r.pick([0x10, 0x80000000]);
        put(cr3 + 8 * i, lo >>> 0, hi);
      }
      roots.push(cr3 | (r.chance(0.3) ? 0x18 : 0));
    } else {
      roots.push(((n === 0 ? 1 : 9) * 4096) | (r.chance(0.3) ? 0x18 : 0));
    }
  }
  let cr0 = 0x11;
  if (r.chance(0.92)) cr0 |= 0x80000000;
  if (r.chance(0.5)) cr0 |= 1 << 16;
  let cr4 = pae ? 0x20 : 0;
  if (r.chance(0.5)) cr4 |= 0x10;
  if (r.chance(0.5)) cr4 |= 0x80;
  if (r.chance(0.4)) cr4 |= 1 << 20;
  if (r.chance(0.4)) cr4 |= 1 << 21;
  const efer = r.chance(0.5) ? 1 << 11 : 0;
  const ctl: Control = {
    cr0: cr0 | 0,
    cr3: roots[0]!,
    cr4,
    efer,
    cpl: r.pick([0, 0, 3, 3, 1]),
    ac: r.chance(0.5),
  };
  return { mem, ctl, roots, pool };
}

/** Accesses served by the page map (inline CPU path) over the whole run: guards against a vacuous check. */
let inlineHits = 0;

/** Physical addresses of the parts of the last access the reference accepted. */
let lastPhys: number[] = [];

type Outcome = { fault: { lin: number; code: number } } | { value: number };

/**
 * One access through the MMU: with `inline`, first the way the CPU's hot path makes it (a hit in
 * `tlb.pageMap` touches RAM directly), the `Memory` method only on a miss; otherwise the method.
 */
function mmuAccess(
  mmu: Mmu,
  lin: number,
  kind: number,
  size: number,
  value: number,
  inline: boolean,
): Outcome {
  if (inline) {
    const v = pageMapAccess(mmu, lin, kind, size, value);
    if (v !== undefined) {
      inlineHits++;
      return { value: v };
    }
  }
  try {
    if (kind & WRITE) {
      if (size === 1) mmu.write8(lin, value, kind);
      else if (size === 2) mmu.write16(lin, value, kind);
      else mmu.write32(lin, value, kind);
      return { value: 0 };
    }
    if (size === 1) return { value: mmu.read8(lin, kind) };
    if (size === 2) return { value: mmu.read16(lin, kind) };
    return { value: mmu.read32(lin, kind) };
  } catch (e) {
    if (e instanceof PageFault) return { fault: { lin: e.lin, code: e.code } };
    throw e;
  }
}

const show = (o: Outcome) =>
  'fault' in o
    ? `#PF(${o.fault.lin.toString(16)}, ${o.fault.code.toString(16)})`
    : `ok ${o.value.toString(16)}`;

/**
 * Check the MMU's outcome of one access against the reference's allowed outcomes, and bring the
 * reference to the state of the matching one. Returns a description of the mismatch, or null.
 */
function checkAccess(
  ref: RefMachine,
  ram: Uint8Array,
  got: Outcome,
  lin: number,
  kind: number,
  size: number,
  value: number,
  strict: boolean,
): string | null {
  const off = lin & 0xfff;
  const parts =
    off + size <= 4096
      ? [{ lin, n: size, shift: 0 }]
      : [
          { lin, n: 4096 - off, shift: 0 },
          { lin: (lin + 4096 - off) >>> 0, n: size - (4096 - off), shift: 8 * (4096 - off) },
        ];
  const start = ref.journal.length;
  const watch = new Set<number>();
  // Strict: only global translations retained across a CR3 load (SDM 4.10.4.1) may differ from a
  // fresh walk; software never has to invalidate those for a CR3 switch.
  const options = parts.map((p) => ref.cachedOptions(p.lin, kind, strict));
  for (const [i, opts] of options.entries())
    for (const ph of opts) for (let b = 0; b < parts[i]!.n; b++) watch.add(ph + b);
  const memoryMatches = () => {
    for (let j = start; j < ref.journal.length; j += 2) {
      const a = ref.journal[j]!;
      if (ram[a] !== ref.mem[a]) return false;
    }
    for (const a of watch) if (a < RAM && ram[a] !== ref.mem[a]) return false;
    return true;
  };
  let fresh = '';
  const attempt = (i: number, phys: number[]): boolean => {
    if (i === parts.length) {
      const mark = ref.journal.length;
      let v = 0;
      for (const [k, p] of parts.entries()) {
        for (let b = 0; b < p.n; b++) {
          const pa = phys[k]! + b;
          if (kind & WRITE) ref.writeByte(pa, value >>> (p.shift + 8 * b));
          else v |= ref.readByte(pa) << (p.shift + 8 * b);
        }
      }
      lastPhys = phys;
      const ok = 'value' in got && ((kind & WRITE) !== 0 || got.value === v >>> 0) && memoryMatches();
      if (!ok) ref.rollback(mark);
      return ok;
    }
    const p = parts[i]!;
    const mark = ref.journal.length;
    const saved = ref.cached.slice();
    const r = ref.walk(p.lin, kind);
    if (i === 0)
      fresh = r.ok ? `ok phys ${r.phys.toString(16)}` : `#PF(${p.lin.toString(16)}, ${r.code.toString(16)})`;
    if (!r.ok) {
      if ('fault' in got && got.fault.lin === p.lin && got.fault.code === r.code && memoryMatches()) {
        ref.invlpg(p.lin); // SDM 4.10.4.1: the #PF invalidates the page
        return true;
      }
    } else {
      for (let b = 0; b < p.n; b++) watch.add(r.phys + b);
      ref.cached.push(r.t);
      if (attempt(i + 1, [...phys, r.phys])) return true;
    }
    ref.rollback(mark);
    ref.cached = saved;
    for (const ph of options[i]!) if (attempt(i + 1, [...phys, ph])) return true;
    return false;
  };
  if (attempt(0, [])) return null;
  return `MMU ${show(got)}; reference fresh walk: ${fresh}; cached options ${JSON.stringify(options)}`;
}

function runCase(seed: number, strict: boolean): void {
  const r = prng(seed);
  const s = setup(r);
  const mmu = makeMmu({ ramSize: RAM, tlbBits: 4 });
  mmu.bytes(0, RAM).set(s.mem);
  const ram = mmu.bytes(0, RAM);
  const ref = new RefMachine(s.mem);
  const log: string[] = [];
  const fail = (msg: string) => {
    throw new Error(
      `seed ${seed} (${strict ? 'strict' : 'stale'}) after ${log.length} ops:\n${log.slice(-14).join('\n')}\n${msg}`,
    );
  };
  const control = (c: Control) => {
    const prev = ref.ctl;
    const a = mmu.setPagingState(c);
    const b = ref.setControl(c);
    log.push(`setPagingState ${JSON.stringify(c)} → ${a} (was ${JSON.stringify(prev)})`);
    if (a !== b) fail(`setPagingState: MMU ${a}, reference ${b}`);
  };
  control(s.ctl);
  /** What software must do after changing paging structures (strict variant). */
  const invalidate = () => {
    const ctl = ref.ctl;
    const pae = (ctl.cr4 & 0x20) !== 0;
    if (r.chance(0.7)) {
      // Every page the case can touch: the pool addresses and the pages a straddling access reaches.
      const lins = s.pool.flatMap((base) => [base, (base + 3) >>> 0]);
      for (const lin of lins) mmu.invlpg(lin);
      ref.invlpgMany(lins);
      log.push('invlpg all pool pages');
    } else {
      mmu.flushTlb(true);
      ref.flushAll();
      log.push('flush all');
    }
    if (pae && (ctl.cr0 & 0x80000000) !== 0) {
      const a = mmu.loadCr3(ctl.cr3);
      const b = ref.loadCr3(ctl.cr3);
      log.push(`reload cr3 → ${a}`);
      if (a !== b) fail(`loadCr3: MMU ${a}, reference ${b}`);
    }
  };
  const usedEntries: number[] = [];
  const recent: [number, number][] = [];
  // Every linear page an access can fill: the pool pages and the pages a straddle reaches.
  const touched = [...new Set(s.pool.flatMap((lin) => [lin >>> 12, ((lin >>> 12) + 1) & 0xfffff]))];
  const ops = 30 + r.int(40);
  // The page map (allocated when first read): from the start in a quarter of the cases, from a
  // random point on (built from the slots filled so far) in another quarter, never in the rest.
  const mapFrom = seed % 4 === 0 ? 0 : seed % 4 === 1 ? r.int(ops) : ops;
  let repeat: [number, number] | undefined;
  for (let n = 0; n < ops; n++) {
    const withMap = n >= mapFrom;
    if (withMap) {
      const mirror = pageMapMismatch(mmu, touched);
      if (mirror) fail(`page map: ${mirror}`);
    }
    const op = repeat ? 0 : r.next();
    const ctl = ref.ctl;
    const pae = (ctl.cr4 & 0x20) !== 0;
    if (op < 0.62) {
      // Revisit a recent (address, kind) a third of the time, so TLB hits and the decisions cached
      // in them meet later control and page-table changes; with the page map, sometimes at once
      // (through the map: a hit the CPU's inline path serves).
      const again = repeat ?? (recent.length > 0 && r.chance(0.35) ? r.pick(recent) : undefined);
      const inline = withMap && (repeat !== undefined || r.chance(0.5));
      repeat = undefined;
      const lin = again?.[0] ?? r.pick(s.pool);
      const kind = again?.[1] ?? r.pick([0, 1, 2, 3, 4, 6]);
      recent.push([lin, kind]);
      if (recent.length > 4) recent.shift();
      const size = r.pick([1, 2, 4]);
      const value = r.u32();
      log.push(
        `access ${lin.toString(16)} kind ${kind} size ${size}${kind & WRITE ? ` ← ${value.toString(16)}` : ''}${inline ? ' (page map first)' : ''}`,
      );
      const got = mmuAccess(mmu, lin, kind, size, value, inline);
      if (withMap && 'value' in got && r.chance(0.3)) repeat = [lin, kind];
      const before = ref.journal.length;
      const err = checkAccess(ref, ram, got, lin, kind, size, value, strict);
      // A guest store into a paging structure through some mapping is a page-table write too.
      if (strict && kind & WRITE && 'value' in got && lastPhys.some((pa) => pa < 10 * 4096)) invalidate();
      if (err)
        fail(
          `${err}\nreference PDPTEs ${ref.pdpte.map((x) => x.toString(16))}, MMU ${mmu.saveState().pdpte.map((x) => x.toString(16))}`,
        );
      for (let j = before; j < ref.journal.length; j += 2) usedEntries.push(ref.journal[j]! & ~3);
      if (usedEntries.length > 64) usedEntries.splice(0, usedEntries.length - 64);
    } else if (op < 0.76) {
      // A page-table write (by some other mapping: straight to memory).
      const size = pae ? 8 : 4;
      const addr =
        usedEntries.length > 0 && r.chance(0.6)
          ? r.pick(usedEntries) & ~(size - 1)
          : r.pick(TABLE_FRAMES) * 4096 + r.int(4096 / size) * size;
      const [lo, hi] = randomEntry(r, pae);
      const bytes = size === 8 ? [lo, hi] : [lo];
      for (const [k, w] of bytes.entries()) {
        for (let b = 0; b < 4; b++) {
          ram[addr + 4 * k + b] = w >>> (8 * b);
          ref.mem[addr + 4 * k + b] = w >>> (8 * b);
        }
      }
      log.push(`pt write ${addr.toString(16)} = ${hi.toString(16)}:${lo.toString(16)}`);
      if (strict) invalidate();
    } else if (op < 0.82) {
      const lin = r.pick(s.pool) + (r.chance(0.2) ? r.int(1 << 22) : 0);
      mmu.invlpg(lin >>> 0);
      ref.invlpg(lin >>> 0);
      log.push(`invlpg ${(lin >>> 0).toString(16)}`);
    } else if (op < 0.88) {
      control({ ...ctl, cpl: r.pick([0, 3, 1]), ac: r.chance(0.5) });
    } else if (op < 0.92) {
      const cr3 = r.pick(s.roots);
      const a = mmu.loadCr3(cr3);
      const b = ref.loadCr3(cr3);
      log.push(`loadCr3 ${cr3.toString(16)} → ${a}`);
      if (a !== b) fail(`loadCr3: MMU ${a}, reference ${b}`);
    } else if (op < 0.95) {
      const all = r.chance(0.5);
      mmu.flushTlb(all);
      if (all) ref.flushAll();
      else if (!ref.loadCr3(ctl.cr3)) ref.cached = ref.cached.filter((t) => t.global);
      log.push(`flushTlb(${all})`);
    } else {
      const bit = r.pick([
        ['cr0', 1 << 16],
        ['cr0', 1 << 31],
        ['cr4', 0x10],
        ['cr4', 0x20],
        ['cr4', 0x80],
        ['cr4', 1 << 20],
        ['cr4', 1 << 21],
        ['efer', 1 << 11],
      ] as const);
      control({ ...ctl, [bit[0]]: (ctl[bit[0]] ^ bit[1]) | 0 });
    }
  }
  if (mapFrom < ops) {
    // The whole map now and then (8 × 2^20 entries): no stray entry outside the touched pages.
    const mirror = pageMapMismatch(mmu, seed % 64 === 0 ? undefined : touched);
    if (mirror) fail(`page map: ${mirror}`);
  }
  if (Buffer.compare(Buffer.from(ram.buffer, 0, RAM), Buffer.from(ref.mem.buffer, 0, RAM)) !== 0) {
    let a = 0;
    while (ram[a] === ref.mem[a]) a++;
    fail(`memory differs at ${a.toString(16)}: MMU ${ram[a]}, reference ${ref.mem[a]}`);
  }
}

describe('differential: MMU vs reference walker', () => {
  it('agrees exactly when software invalidates after page-table writes (2000 cases)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        runCase(seed, true);
      }),
      { numRuns: 2000 },
    );
  }, 300_000);

  it('stays within the SDM envelope for stale TLB entries without invalidation (2000 cases)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        runCase(seed, false);
      }),
      { numRuns: 2000 },
    );
  }, 300_000);

  it('accesses went through the page map as the CPU makes them, and hit', () => {
    console.log(`page-map (inline CPU path) hits: ${inlineHits}`);
    // Runs after the two properties above (vitest runs a file's tests in order).
    expect(inlineHits).toBeGreaterThan(1000);
  });

  it('the reference and the generator exercise every outcome class', () => {
    // Guard against a vacuous differential: count fault codes and successes the generator produces.
    const codes = new Set<number>();
    let ok = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const r = prng(seed);
      const s = setup(r);
      const ref = new RefMachine(s.mem);
      ref.setControl(s.ctl);
      for (const lin of s.pool) {
        for (const kind of [0, 1, 2, 3, 4, 6]) {
          const w = ref.walk(lin, kind);
          if (w.ok) ok++;
          else codes.add(w.code);
        }
      }
    }
    expect(ok).toBeGreaterThan(1000);
    for (const code of [0, 1, 2, 3, 4, 5, 6, 7, 9, 0xb, 0xd, 0xf, 0x10, 0x11, 0x14, 0x15, 0x19, 0x1d]) {
      expect(codes, `error code ${code.toString(16)}`).toContain(code);
    }
  });
});

export { FETCH, USER };
