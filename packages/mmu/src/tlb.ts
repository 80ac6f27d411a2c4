/**
 * The software TLB shared with the CPU's inline hit path (bus.ts `SoftTlb`, DESIGN.md §3).
 *
 * Direct-mapped per access kind: slot `(kind << bits) | (page & (2^bits − 1))`. `tag` and `offset`
 * are exactly the contract's arrays; the remaining per-slot arrays are private bookkeeping the MMU
 * needs to invalidate precisely (global flag, large-page flag, the entries a translation came
 * from, the guest-physical page it maps to).
 *
 * `pageMap` (bus.ts `SoftTlb.pageMap`) mirrors the slots for the CPU's inline hit path: per kind, a
 * 2^20-entry `Int32Array` indexed by linear page, holding `~offset` while the kind's slot holds that
 * page and 0 otherwise. One load then replaces the tag compare and the offset load (the layout of
 * v86's `tlb_data`). Every change of a slot goes through `fill` or `drop`, which keep the two exact
 * mirrors of each other. The map is one zero-filled buffer of 32 MiB of address space, allocated
 * the first time `pageMap` is read (a CPU reads it once, when it attaches), so an MMU whose user
 * never asks for it keeps neither the memory nor the upkeep; only the map's pages that hold
 * entries are ever touched.
 */

import type { SoftTlb } from '@pv/x86-core';
import { ACCESS_FETCH, ACCESS_WRITE, PAGE_SHIFT, TLB_KINDS } from './constants';

/** Slot flag: the translation is global (G = 1 with CR4.PGE = 1). */
export const SLOT_GLOBAL = 1;
/** Slot flag: the translation comes from a 4-MiB / 2-MiB page. */
export const SLOT_LARGE = 2;
/** log2 of the number of 4-KiB pages in the 32-bit linear address space (entries per page-map kind). */
export const LINEAR_PAGE_BITS = 20;

export class Tlb implements SoftTlb {
  readonly bits: number;
  readonly tag: Int32Array;
  readonly offset: Int32Array;
  readonly ram: Uint8Array;
  readonly ram16: Uint16Array;
  readonly ram32: Int32Array;
  /** The buffer behind `pageMap` once allocated: kind k's entry for page p is at `(k << 20) | p`. */
  private map: Int32Array | undefined;
  private views: readonly Int32Array[] | undefined;
  /** Guest-physical page (A20 applied) each slot maps to. */
  readonly ppn: Float64Array;
  /** SLOT_* flags. */
  readonly flags: Uint8Array;
  /** Guest-physical address of the leaf entry (PTE, or PDE of a large page); −1 without paging. */
  readonly leaf: Float64Array;
  /** Guest-physical address of the PDE above a 4-KiB PTE; −1 otherwise. */
  readonly dir: Float64Array;
  private readonly mask: number;
  /** Upper bound of the number of valid global slots (0 ⇒ a non-global flush is a fill). */
  private globals = 0;
  /** Large-page regions (lin >>> largeShift) that may have slots, for INVLPG inside a large page. */
  private readonly largeRegions = new Set<number>();
  /**
   * True when a supervisor data kind holds a user page admitted only because SMAP was overridden
   * (CPL < 3 and EFLAGS.AC = 1): such slots must go when the override ends.
   */
  smapOverrideSlots = false;

  constructor(bits: number, ram: Uint8Array, ram16: Uint16Array, ram32: Int32Array) {
    this.bits = bits;
    this.mask = (1 << bits) - 1;
    const n = TLB_KINDS << bits;
    this.tag = new Int32Array(n).fill(-1);
    this.offset = new Int32Array(n);
    this.ppn = new Float64Array(n);
    this.flags = new Uint8Array(n);
    this.leaf = new Float64Array(n);
    this.dir = new Float64Array(n);
    this.ram = ram;
    this.ram16 = ram16;
    this.ram32 = ram32;
  }

  /**
   * Per kind, `~offset` of the cached translation of each linear page, or 0 (bus.ts `SoftTlb`).
   * Allocated on first read, filled from the slots; the same arrays for the MMU's lifetime.
   */
  get pageMap(): readonly Int32Array[] {
    if (this.views === undefined) {
      const map = new Int32Array(TLB_KINDS << LINEAR_PAGE_BITS);
      const { tag, offset, bits } = this;
      for (let i = 0; i < tag.length; i++) {
        const t = tag[i]!;
        if (t !== -1) map[((i >>> bits) << LINEAR_PAGE_BITS) | t] = ~offset[i]!;
      }
      const views: Int32Array[] = [];
      for (let k = 0; k < TLB_KINDS; k++) {
        views.push(map.subarray(k << LINEAR_PAGE_BITS, (k + 1) << LINEAR_PAGE_BITS));
      }
      this.map = map;
      this.views = views;
    }
    return this.views;
  }

  /** Slot index of `page` for `kind`. */
  slot(kind: number, page: number): number {
    return (kind << this.bits) | (page & this.mask);
  }

  /**
   * Enter a translation. `bufIndex` is the byte index in `ram` of the backing page; `largeKey`
   * is lin >>> largeShift for a large page (ignored otherwise).
   */
  fill(
    kind: number,
    page: number,
    bufIndex: number,
    ppn: number,
    flags: number,
    leaf: number,
    dir: number,
    largeKey: number,
  ): void {
    const i = (kind << this.bits) | (page & this.mask);
    const offset = (bufIndex - page * 4096) | 0;
    const map = this.map;
    if (map !== undefined) {
      const old = this.tag[i]!;
      if (old !== -1 && old !== page) map[(kind << LINEAR_PAGE_BITS) | old] = 0;
      map[(kind << LINEAR_PAGE_BITS) | page] = ~offset;
    }
    this.tag[i] = page;
    this.offset[i] = offset;
    this.ppn[i] = ppn;
    this.flags[i] = flags;
    this.leaf[i] = leaf;
    this.dir[i] = dir;
    if (flags & SLOT_GLOBAL) this.globals++;
    if (flags & SLOT_LARGE) this.largeRegions.add(largeKey);
  }

  /** Drop slot `i` (and its page-map entry); a no-op for an empty slot. */
  private drop(i: number): void {
    const t = this.tag[i]!;
    if (t === -1) return;
    if (this.map !== undefined) this.map[((i >>> this.bits) << LINEAR_PAGE_BITS) | t] = 0;
    this.tag[i] = -1;
  }

  /** Drop every slot in [start, end). */
  private dropRange(start: number, end: number): void {
    const { tag, map, bits } = this;
    if (map !== undefined) {
      for (let i = start; i < end; i++) {
        const t = tag[i]!;
        if (t !== -1) map[((i >>> bits) << LINEAR_PAGE_BITS) | t] = 0;
      }
    }
    tag.fill(-1, start, end);
  }

  /** Drop everything, global entries included. */
  flushAll(): void {
    this.dropRange(0, this.tag.length);
    this.globals = 0;
    this.largeRegions.clear();
    this.smapOverrideSlots = false;
  }

  /** Drop every non-global slot (CR3 load, SDM 4.10.4.1). */
  flushNonGlobal(): void {
    if (this.globals === 0) {
      this.flushAll();
      return;
    }
    const { tag, flags } = this;
    let globals = 0;
    for (let i = 0; i < tag.length; i++) {
      if (tag[i] === -1) continue;
      if (flags[i]! & SLOT_GLOBAL) globals++;
      else this.drop(i);
    }
    this.globals = globals;
    // largeRegions may now over-approximate: harmless (an INVLPG scans once more).
  }

  /**
   * INVLPG: drop the page's slots in every kind, global or not; if the address may lie in a cached
   * large page, drop every slot derived from that large page (SDM 4.10.4.1: INVLPG invalidates the
   * TLB entry for the page containing the address, whatever its size).
   */
  flushPage(page: number, largeShift: number): void {
    const { tag, bits } = this;
    const low = page & this.mask;
    for (let k = 0; k < TLB_KINDS; k++) {
      const i = (k << bits) | low;
      if (tag[i] === page) this.drop(i);
    }
    const key = page >>> (largeShift - PAGE_SHIFT);
    if (this.largeRegions.has(key)) {
      this.largeRegions.delete(key);
      const shift = largeShift - PAGE_SHIFT;
      for (let i = 0; i < tag.length; i++) {
        const t = tag[i]!;
        if (t !== -1 && t >>> shift === key && this.flags[i]! & SLOT_LARGE) this.drop(i);
      }
    }
  }

  /** Drop the slots of supervisor data kinds (0 = read, 1 = write): SMAP override ended. */
  flushSupervisorData(): void {
    this.dropRange(0, 2 << this.bits);
    this.smapOverrideSlots = false;
  }

  /** Drop every slot mapping guest-physical page `ppn` in write kinds (or fetch kinds). */
  evictPhys(ppn: number, fetch: boolean): void {
    const { tag, bits } = this;
    const per = 1 << bits;
    for (let k = 0; k < TLB_KINDS; k++) {
      if (fetch ? (k & ACCESS_FETCH) === 0 : (k & ACCESS_WRITE) === 0) continue;
      for (let i = k << bits, end = i + per; i < end; i++) {
        if (tag[i] !== -1 && this.ppn[i] === ppn) this.drop(i);
      }
    }
  }

  /** Drop every slot whose translation used a paging-structure entry at one of `entries`. */
  evictEntries(entries: ReadonlySet<number>): void {
    const { tag } = this;
    for (let i = 0; i < tag.length; i++) {
      if (tag[i] !== -1 && (entries.has(this.leaf[i]!) || entries.has(this.dir[i]!))) this.drop(i);
    }
  }
}
