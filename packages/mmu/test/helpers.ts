import { Mmu, type MmuOptions } from '../src/index';

/** What the test hooks throw instead of delivering #PF. */
export class PageFault {
  constructor(
    readonly lin: number,
    readonly code: number,
  ) {}
}

/** An MMU whose CPU hooks throw a `PageFault` sentinel (the contract: raisePageFault never returns). */
export function makeMmu(options: Partial<MmuOptions> = {}, codeWritten?: (ppn: number) => void): Mmu {
  const mmu = new Mmu({ ramSize: 4 << 20, ...options });
  mmu.attachCpu({
    raisePageFault(lin: number, code: number): never {
      throw new PageFault(lin >>> 0, code);
    },
    ...(codeWritten ? { codeWritten } : {}),
  });
  return mmu;
}

/** Run `fn`; return the page fault it raised, or undefined. */
export function faultOf(fn: () => unknown): PageFault | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof PageFault) return e;
    throw e;
  }
  return undefined;
}

/** Little-endian dword helpers on guest RAM through the host view. */
export function poke32(mmu: Mmu, gpa: number, value: number): void {
  new DataView(mmu.bytes(gpa, 4).buffer, gpa, 4).setUint32(0, value >>> 0, true);
}
export function peek32(mmu: Mmu, gpa: number): number {
  return new DataView(mmu.bytes(gpa, 4).buffer, gpa, 4).getUint32(0, true);
}

export interface Cr {
  cr0?: number;
  cr3?: number;
  cr4?: number;
  efer?: number;
  cpl?: number;
  ac?: boolean;
}

export const CR0_PE = 1;
export const CR0_WP = 1 << 16;
export const CR0_PG = 1 << 31;
export const CR4_PSE = 1 << 4;
export const CR4_PAE = 1 << 5;
export const CR4_PGE = 1 << 7;
export const CR4_SMEP = 1 << 20;
export const CR4_SMAP = 1 << 21;
export const EFER_NXE = 1 << 11;

/** Push a paging state (defaults: paging on, everything else off, CPL 0). */
export function setCr(mmu: Mmu, cr: Cr): boolean {
  return mmu.setPagingState({
    cr0: cr.cr0 ?? CR0_PG | CR0_PE,
    cr3: cr.cr3 ?? 0,
    cr4: cr.cr4 ?? 0,
    efer: cr.efer ?? 0,
    cpl: cr.cpl ?? 0,
    ac: cr.ac ?? false,
  });
}

export const P = 1;
export const RW = 2;
export const US = 4;
export const A = 0x20;
export const D = 0x40;
export const PS = 0x80;
export const G = 0x100;

export const READ = 0;
export const WRITE = 1;
export const USER = 2;
export const FETCH = 4;

/** A page map's worth of zero bytes (8 kinds × 2^20 entries × 4 bytes), for the full comparison. */
const ZERO = Buffer.alloc(8 << 22);

/**
 * Check that `tlb.pageMap` mirrors the TLB slots exactly (bus.ts `SoftTlb.pageMap`): every valid
 * slot's page has `~offset` in its kind's map, and no other map entry is set. With `pages`, only
 * those linear pages are searched for stray entries (cheap, for tests that know which pages they
 * touch); without, the whole map (8 × 2^20 entries). Returns a description of the first mismatch.
 */
export function pageMapMismatch(mmu: Mmu, pages?: Iterable<number>): string | null {
  const { tag, offset, bits, pageMap } = mmu.tlb;
  const mask = (1 << bits) - 1;
  let valid = 0;
  for (let i = 0; i < tag.length; i++) {
    const t = tag[i]!;
    if (t === -1) continue;
    valid++;
    const k = i >>> bits;
    if (pageMap[k]![t] !== ~offset[i]!) {
      return `slot ${i} (kind ${k}, page ${t.toString(16)}): map ${pageMap[k]![t]}, ~offset ${~offset[i]!}`;
    }
  }
  if (pages === undefined) {
    // Every entry is 0 but the `valid` ones checked above: clear those, compare, put them back.
    const saved: [Int32Array, number, number][] = [];
    for (let i = 0; i < tag.length; i++) {
      const t = tag[i]!;
      if (t === -1) continue;
      const view = pageMap[i >>> bits]!;
      saved.push([view, t, view[t]!]);
      view[t] = 0;
    }
    const all = pageMap[0]!.buffer;
    const zero = all.byteLength === ZERO.byteLength && Buffer.from(all).equals(ZERO);
    for (const [view, t, v] of saved) view[t] = v;
    if (zero) return null;
    let set = 0;
    for (const view of pageMap) for (let p = 0; p < view.length; p++) if (view[p] !== 0) set++;
    return `${set} map entries set, ${valid} valid slots`;
  }
  for (const page of pages) {
    for (let k = 0; k < pageMap.length; k++) {
      if (pageMap[k]![page] !== 0 && tag[(k << bits) | (page & mask)] !== page) {
        return `stray map entry: kind ${k}, page ${page.toString(16)} (slot holds ${tag[(k << bits) | (page & mask)]})`;
      }
    }
  }
  return null;
}

/**
 * An access the way the CPU's inline hit path makes it through `tlb.pageMap` (bus.ts): a hit reads
 * or writes `ram`/`ram16`/`ram32` directly; anything else (absent, straddling) returns undefined and
 * the caller goes to the MMU's slow path. Values are returned unsigned.
 */
export function pageMapAccess(
  mmu: Mmu,
  lin: number,
  kind: number,
  size: number,
  value: number,
): number | undefined {
  const { ram, ram16, ram32, pageMap } = mmu.tlb;
  const o = ~pageMap[kind]![lin >>> 12]!;
  if ((o & 1) !== 0 || (lin & 0xfff) > 0x1000 - size) return undefined;
  const a = (lin + o) >>> 0;
  const write = (kind & WRITE) !== 0;
  if (size === 4 && ((lin | o) & 3) === 0) {
    if (!write) return ram32[a >>> 2]! >>> 0;
    ram32[a >>> 2] = value;
    return 0;
  }
  if (size === 2 && ((lin | o) & 1) === 0) {
    if (!write) return ram16[a >>> 1]!;
    ram16[a >>> 1] = value;
    return 0;
  }
  if (!write) {
    let v = 0;
    for (let b = 0; b < size; b++) v |= ram[a + b]! << (8 * b);
    return v >>> 0;
  }
  for (let b = 0; b < size; b++) ram[a + b] = value >>> (8 * b);
  return 0;
}
