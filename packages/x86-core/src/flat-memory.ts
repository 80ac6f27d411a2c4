import type { Memory, MemoryCpuHooks, PagingState, SoftTlb } from './bus';
import { TLB_KINDS } from './bus';
import { requireOption } from './errors';

const PAGE_SHIFT = 12;
const PAGE_SIZE = 1 << PAGE_SHIFT;
const A20_PAGE_BIT = 1 << (20 - PAGE_SHIFT);
/** log2 of the number of 4-KiB pages in the 32-bit linear address space (entries per page-map kind). */
const LINEAR_PAGE_BITS = 20;

/**
 * A RAM-only `Memory`: linear = physical (paging is ignored), `size` bytes of RAM from address 0,
 * reads beyond RAM return all-ones and writes there are dropped (an open bus). It fills the software
 * TLB lazily on a miss, so the CPU's inline lookup hits on every later access to the page.
 * `a20` (default enabled) masks address bit 20 when disabled, like the PC's A20 gate.
 *
 * `tlb.pageMap` (bus.ts `SoftTlb.pageMap`) mirrors the slots for the CPU's inline hit path: per kind
 * a 2^20-entry `Int32Array` indexed by linear page, `~offset` while the kind's slot holds the page,
 * else 0. It is one zero-filled buffer of 32 MiB, allocated the first time `pageMap` is read (the CPU
 * reads it when constructed); fill/invlpg/flushTlb/setA20 keep it exactly in step with `tag`.
 */
export class FlatMemory implements Memory {
  readonly tlb: SoftTlb;
  readonly size: number;
  private readonly tlbMask: number;
  private a20 = true;
  /** The buffer behind `tlb.pageMap` once allocated: kind k's entry for page p is at `(k << 20) | p`. */
  private map: Int32Array | undefined;
  private mapViews: readonly Int32Array[] | undefined;

  constructor(size: number, options: { tlbBits?: number } = {}) {
    requireOption(
      Number.isInteger(size) && size >= PAGE_SIZE && size % PAGE_SIZE === 0 && size <= 0x80000000,
      'FlatMemory.size',
      `must be a multiple of 4096 between 4 KiB and 2 GiB, got ${size}`,
    );
    const bits = options.tlbBits ?? 10;
    requireOption(
      Number.isInteger(bits) && bits >= 1 && bits <= 16,
      'FlatMemory.tlbBits',
      `must be 1..16, got ${bits}`,
    );
    this.size = size;
    const buffer = new ArrayBuffer(size);
    const entries = TLB_KINDS << bits;
    const self = this;
    this.tlb = {
      bits,
      tag: new Int32Array(entries).fill(-1),
      offset: new Int32Array(entries),
      ram: new Uint8Array(buffer),
      ram16: new Uint16Array(buffer),
      ram32: new Int32Array(buffer),
      get pageMap(): readonly Int32Array[] {
        return self.pageMapViews();
      },
    };
    this.tlbMask = (1 << bits) - 1;
  }

  /** Allocates the page map on first use, filled from the valid slots; the same views afterwards. */
  private pageMapViews(): readonly Int32Array[] {
    if (this.mapViews === undefined) {
      const map = new Int32Array(TLB_KINDS << LINEAR_PAGE_BITS);
      const { tag, offset, bits } = this.tlb;
      for (let i = 0; i < tag.length; i++) {
        const t = tag[i]!;
        if (t !== -1) map[((i >>> bits) << LINEAR_PAGE_BITS) | t] = ~offset[i]!;
      }
      const views: Int32Array[] = [];
      for (let k = 0; k < TLB_KINDS; k++) {
        views.push(map.subarray(k << LINEAR_PAGE_BITS, (k + 1) << LINEAR_PAGE_BITS));
      }
      this.map = map;
      this.mapViews = views;
    }
    return this.mapViews;
  }

  /** Invalidates every slot (and its page-map entry; clearing only the set entries, not 32 MiB). */
  private dropAll(): void {
    const { tag, bits } = this.tlb;
    const map = this.map;
    if (map !== undefined) {
      for (let i = 0; i < tag.length; i++) {
        const t = tag[i]!;
        if (t !== -1) map[((i >>> bits) << LINEAR_PAGE_BITS) | t] = 0;
      }
    }
    tag.fill(-1);
  }

  /** Points slot `i` (of kind `k`) at linear page `page` with `offset`, keeping the map in step. */
  private setSlot(k: number, i: number, page: number, offset: number): void {
    const tag = this.tlb.tag;
    const map = this.map;
    if (map !== undefined) {
      const old = tag[i]!;
      if (old !== -1) map[(k << LINEAR_PAGE_BITS) | old] = 0;
      map[(k << LINEAR_PAGE_BITS) | page] = ~offset;
    }
    tag[i] = page;
    this.tlb.offset[i] = offset;
  }

  /** The RAM bytes (for loaders and tests). */
  get bytes(): Uint8Array {
    return this.tlb.ram;
  }

  /** Enables or disables the A20 gate; flushes the TLB. */
  setA20(enabled: boolean): void {
    this.a20 = enabled;
    this.dropAll();
  }

  private phys(lin: number): number {
    return this.a20 ? lin >>> 0 : (lin & ~(1 << 20)) >>> 0;
  }

  /**
   * Fills the TLB slot of access `kind` for the page of `lin` if it is RAM (a write also fills
   * the read slot). Only the kind used is filled, so a data page never evicts the code page's
   * fetch entry that shares its slot.
   */
  private fill(lin: number, kind: number): void {
    const page = lin >>> PAGE_SHIFT;
    const physPage = this.a20 ? page : page & ~A20_PAGE_BIT;
    if (physPage >= this.size >>> PAGE_SHIFT) return;
    const bits = this.tlb.bits;
    const slot = page & this.tlbMask;
    const offset = ((physPage - page) << PAGE_SHIFT) | 0;
    const k = kind & (TLB_KINDS - 1);
    this.setSlot(k, (k << bits) | slot, page, offset);
    if (k & 1) this.setSlot(k & ~1, ((k & ~1) << bits) | slot, page, offset);
  }

  read8(lin: number, kind: number): number {
    const p = this.phys(lin);
    if (p >= this.size) return 0xff;
    this.fill(lin, kind);
    return this.tlb.ram[p]!;
  }

  read16(lin: number, kind: number): number {
    return this.read8(lin, kind) | (this.read8(lin + 1, kind) << 8);
  }

  read32(lin: number, kind: number): number {
    return (this.read16(lin, kind) | (this.read16(lin + 2, kind) << 16)) >>> 0;
  }

  write8(lin: number, value: number, kind: number): void {
    const p = this.phys(lin);
    if (p >= this.size) return;
    this.fill(lin, kind);
    this.tlb.ram[p] = value;
  }

  write16(lin: number, value: number, kind: number): void {
    this.write8(lin, value, kind);
    this.write8(lin + 1, value >>> 8, kind);
  }

  write32(lin: number, value: number, kind: number): void {
    this.write16(lin, value, kind);
    this.write16(lin + 2, value >>> 16, kind);
  }

  attachCpu(_hooks: MemoryCpuHooks): void {}

  setPagingState(_state: PagingState): void {}

  invlpg(lin: number): void {
    const page = lin >>> PAGE_SHIFT;
    for (let kind = 0; kind < TLB_KINDS; kind++) {
      const i = (kind << this.tlb.bits) | (page & this.tlbMask);
      if (this.tlb.tag[i] === page) {
        this.tlb.tag[i] = -1;
        if (this.map !== undefined) this.map[(kind << LINEAR_PAGE_BITS) | page] = 0;
      }
    }
  }

  flushTlb(_includeGlobal: boolean): void {
    this.dropAll();
  }

  /** Copies `data` into RAM at physical `addr` (host-side loader helper; bounds-checked). */
  load(addr: number, data: Uint8Array): void {
    requireOption(
      Number.isInteger(addr) && addr >= 0 && addr + data.length <= this.size,
      'FlatMemory.load(addr)',
      `range 0x${addr.toString(16)}+${data.length} is outside ${this.size} bytes of RAM`,
    );
    this.tlb.ram.set(data, addr);
  }
}
