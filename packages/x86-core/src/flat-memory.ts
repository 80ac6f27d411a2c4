import type { Memory, MemoryCpuHooks, PagingState, SoftTlb } from './bus';
import { TLB_KINDS } from './bus';
import { requireOption } from './errors';

const PAGE_SHIFT = 12;
const PAGE_SIZE = 1 << PAGE_SHIFT;
const A20_PAGE_BIT = 1 << (20 - PAGE_SHIFT);

/**
 * A RAM-only `Memory`: linear = physical (paging is ignored), `size` bytes of RAM from address 0,
 * reads beyond RAM return all-ones and writes there are dropped (an open bus). It fills the software
 * TLB lazily on a miss, so the CPU's inline lookup hits on every later access to the page.
 * `a20` (default enabled) masks address bit 20 when disabled, like the PC's A20 gate.
 */
export class FlatMemory implements Memory {
  readonly tlb: SoftTlb;
  readonly size: number;
  private readonly tlbMask: number;
  private a20 = true;

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
    this.tlb = {
      bits,
      tag: new Int32Array(entries).fill(-1),
      offset: new Int32Array(entries),
      ram: new Uint8Array(buffer),
      ram16: new Uint16Array(buffer),
      ram32: new Int32Array(buffer),
    };
    this.tlbMask = (1 << bits) - 1;
  }

  /** The RAM bytes (for loaders and tests). */
  get bytes(): Uint8Array {
    return this.tlb.ram;
  }

  /** Enables or disables the A20 gate; flushes the TLB. */
  setA20(enabled: boolean): void {
    this.a20 = enabled;
    this.tlb.tag.fill(-1);
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
    this.tlb.tag[(k << bits) | slot] = page;
    this.tlb.offset[(k << bits) | slot] = offset;
    if (k & 1) {
      this.tlb.tag[((k & ~1) << bits) | slot] = page;
      this.tlb.offset[((k & ~1) << bits) | slot] = offset;
    }
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
      if (this.tlb.tag[i] === page) this.tlb.tag[i] = -1;
    }
  }

  flushTlb(_includeGlobal: boolean): void {
    this.tlb.tag.fill(-1);
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
