/**
 * Guest-physical address space: one zeroed RAM buffer, ROM regions, MMIO regions and holes, at
 * 4-KiB page granularity, plus the A20 mask.
 *
 * Layout of the backing buffer: bytes [0, ramSize) are RAM (guest-physical address = byte index),
 * followed by every ROM image, page-aligned. The buffer is what the software TLB exposes as
 * `ram`/`ram16`/`ram32`, so a read-kind TLB hit on a ROM page reads the ROM bytes directly; ROM
 * pages never enter a write TLB kind, so they are never written by the guest.
 *
 * Everything above the map (and any page that is neither RAM, ROM nor MMIO) is a hole: reads return
 * all-ones, writes are ignored. Guest-physical addresses at or above 4 GiB (reachable through PAE
 * entries or PSE-36) are holes as well.
 */

import { PAGE_MASK, PAGE_SHIFT, PAGE_SIZE } from './constants';
import { hex, MmuError } from './errors';

/** Device behind an MMIO region. Offsets are relative to the region base. */
export interface MmioHandler {
  /** Read `size` bytes at `offset`; the result is masked to `size` bytes. */
  read(offset: number, size: 1 | 2 | 4): number;
  /** Write the low `size` bytes of `value` at `offset`. */
  write(offset: number, size: 1 | 2 | 4, value: number): void;
}

/** A read-only image mapped at a page-aligned guest-physical base. */
export interface RomImage {
  /** Page-aligned guest-physical base. */
  base: number;
  /** Contents; the last page is padded with 0xff. */
  data: Uint8Array;
}

/** Page kinds in the physical page map. */
export const PAGE_HOLE = 0;
export const PAGE_RAM = 1;
export const PAGE_ROM = 2;
export const PAGE_MMIO = 3;

/** 2^32: guest-physical addresses at or above it are holes. */
export const FOUR_GIB = 0x1_0000_0000;
/** Largest RAM size accepted (3 GiB: the PC hole below 4 GiB stays free for MMIO). */
export const MAX_RAM = 3 * 1024 * 1024 * 1024;

interface Region {
  readonly basePage: number;
  readonly pages: number;
  /** ROM: page index in the buffer of the first page. */
  readonly bufPage: number;
  readonly handler: MmioHandler | undefined;
}

function checkAddress(what: string, gpa: number): void {
  if (!Number.isInteger(gpa) || gpa < 0 || gpa >= FOUR_GIB) {
    throw new MmuError(
      'INVALID_ARGUMENT',
      `${what}: ${hex(gpa)} is not a guest-physical address below 4 GiB`,
    );
  }
}

function checkRange(what: string, gpa: number, len: number): void {
  checkAddress(what, gpa);
  if (!Number.isInteger(len) || len < 0 || gpa + len > FOUR_GIB) {
    throw new MmuError('INVALID_ARGUMENT', `${what}: length ${len} at ${hex(gpa)} is not a valid range`);
  }
}

export class PhysicalMemory {
  /** RAM size in bytes (a multiple of 4096). */
  readonly ramSize: number;
  readonly ramPages: number;
  /** The whole backing buffer (RAM, then ROM), and its 16/32-bit views. */
  readonly ram: Uint8Array;
  readonly ram16: Uint16Array;
  readonly ram32: Int32Array;
  /** Page kind per guest-physical page below `mapPages` (PAGE_*). */
  private kind: Uint8Array;
  /** Index into `regions` per ROM/MMIO page. */
  private region: Uint16Array;
  private mapPages: number;
  private readonly regions: Region[] = [];
  /** Guest-physical address mask: bit 20 clear while A20 is disabled. */
  a20Mask = 0xffffffff;
  /** MMIO handler calls (one per access part): exit kind 'mmio'. */
  mmioAccesses = 0;

  constructor(ramSize: number, roms: readonly RomImage[]) {
    if (!Number.isInteger(ramSize) || ramSize <= 0 || ramSize % PAGE_SIZE !== 0 || ramSize > MAX_RAM) {
      throw new MmuError(
        'INVALID_CONFIG',
        `ramSize ${String(ramSize)} is not a positive multiple of 4096 of at most 3 GiB`,
      );
    }
    this.ramSize = ramSize;
    this.ramPages = ramSize >>> PAGE_SHIFT;
    let romPages = 0;
    let top = this.ramPages;
    for (const [n, rom] of roms.entries()) {
      if (!(rom?.data instanceof Uint8Array) || rom.data.length === 0) {
        throw new MmuError('INVALID_CONFIG', `rom[${n}].data is not a non-empty Uint8Array`);
      }
      checkRange(`rom[${n}]`, rom.base, rom.data.length);
      if ((rom.base & PAGE_MASK) !== 0) {
        throw new MmuError('INVALID_CONFIG', `rom[${n}] base ${hex(rom.base)} is not page-aligned`);
      }
      const pages = Math.ceil(rom.data.length / PAGE_SIZE);
      romPages += pages;
      top = Math.max(top, rom.base / PAGE_SIZE + pages);
    }
    const buffer = new ArrayBuffer(ramSize + romPages * PAGE_SIZE);
    this.ram = new Uint8Array(buffer);
    this.ram16 = new Uint16Array(buffer);
    this.ram32 = new Int32Array(buffer);
    this.mapPages = top;
    this.kind = new Uint8Array(top);
    this.region = new Uint16Array(top);
    this.kind.fill(PAGE_RAM, 0, this.ramPages);
    let bufPage = this.ramPages;
    for (const [n, rom] of roms.entries()) {
      const pages = Math.ceil(rom.data.length / PAGE_SIZE);
      const basePage = rom.base / PAGE_SIZE;
      this.claim(`rom[${n}]`, basePage, pages);
      const start = bufPage * PAGE_SIZE;
      this.ram.fill(0xff, start, start + pages * PAGE_SIZE);
      this.ram.set(rom.data, start);
      this.addRegion({ basePage, pages, bufPage, handler: undefined }, PAGE_ROM);
      bufPage += pages;
    }
  }

  /** Kind of guest-physical page `ppn` (any non-negative integer). */
  pageKind(ppn: number): number {
    return ppn < this.mapPages ? this.kind[ppn]! : PAGE_HOLE;
  }

  /** Buffer byte index of the start of RAM/ROM page `ppn` (only for PAGE_RAM / PAGE_ROM). */
  pageIndex(ppn: number): number {
    if (this.kind[ppn] === PAGE_RAM) return ppn * PAGE_SIZE;
    const r = this.regions[this.region[ppn]!]!;
    return (r.bufPage + ppn - r.basePage) * PAGE_SIZE;
  }

  /** Map an MMIO region of whole pages. Throws OVERLAP if a page is already ROM or MMIO. */
  mapMmio(base: number, size: number, handler: MmioHandler): void {
    checkRange('mapMmio', base, size);
    if ((base & PAGE_MASK) !== 0 || size === 0 || size % PAGE_SIZE !== 0) {
      throw new MmuError(
        'INVALID_ARGUMENT',
        `mapMmio: region ${hex(base)} + ${hex(size)} is not a non-empty run of whole pages`,
      );
    }
    if (typeof handler?.read !== 'function' || typeof handler.write !== 'function') {
      throw new MmuError('INVALID_ARGUMENT', `mapMmio: handler for ${hex(base)} lacks read/write`);
    }
    const basePage = base / PAGE_SIZE;
    const pages = size / PAGE_SIZE;
    this.grow(basePage + pages);
    this.claim(`mmio ${hex(base)}`, basePage, pages);
    this.addRegion({ basePage, pages, bufPage: 0, handler }, PAGE_MMIO);
  }

  /** Remove the MMIO region starting at `base`; the pages revert to RAM (below ramSize) or hole. */
  unmapMmio(base: number): void {
    checkAddress('unmapMmio', base);
    const ppn = base / PAGE_SIZE;
    const idx = this.pageKind(ppn) === PAGE_MMIO ? this.region[ppn]! : -1;
    const r = idx >= 0 ? this.regions[idx] : undefined;
    if (r === undefined || r.basePage !== ppn) {
      throw new MmuError('INVALID_ARGUMENT', `unmapMmio: no MMIO region starts at ${hex(base)}`);
    }
    for (let p = r.basePage; p < r.basePage + r.pages; p++) {
      this.kind[p] = p < this.ramPages ? PAGE_RAM : PAGE_HOLE;
    }
  }

  private grow(pages: number): void {
    if (pages <= this.mapPages) return;
    const kind = new Uint8Array(pages);
    kind.set(this.kind);
    const region = new Uint16Array(pages);
    region.set(this.region);
    this.kind = kind;
    this.region = region;
    this.mapPages = pages;
  }

  private claim(what: string, basePage: number, pages: number): void {
    for (let p = basePage; p < basePage + pages; p++) {
      const k = this.pageKind(p);
      if (k === PAGE_ROM || k === PAGE_MMIO) {
        throw new MmuError('OVERLAP', `${what} overlaps an existing ROM/MMIO page at ${hex(p * PAGE_SIZE)}`);
      }
    }
  }

  private addRegion(r: Region, kind: number): void {
    if (this.regions.length >= 0xffff) {
      throw new MmuError('INVALID_ARGUMENT', 'too many ROM/MMIO regions (65535)');
    }
    const idx = this.regions.length;
    this.regions.push(r);
    this.kind.fill(kind, r.basePage, r.basePage + r.pages);
    this.region.fill(idx, r.basePage, r.basePage + r.pages);
  }

  // ---- guest accesses (A20-masked; never throw) ---------------------------------------------

  /**
   * Read `size` (1..4) bytes at guest-physical `gpa`, which must not cross a page. Returns an
   * unsigned value. Holes read all-ones.
   */
  read(gpa: number, size: number): number {
    if (gpa >= FOUR_GIB) return size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
    const a = (gpa & this.a20Mask) >>> 0;
    const ppn = a >>> PAGE_SHIFT;
    const k = this.pageKind(ppn);
    if (k === PAGE_RAM || k === PAGE_ROM) return this.readBuf(this.pageIndex(ppn) + (a & PAGE_MASK), size);
    if (k === PAGE_MMIO) return this.readMmio(ppn, a, size);
    return size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
  }

  /** Write `size` (1..4) bytes at `gpa` (not crossing a page). ROM and holes ignore writes. */
  write(gpa: number, size: number, value: number): void {
    if (gpa >= FOUR_GIB) return;
    const a = (gpa & this.a20Mask) >>> 0;
    const ppn = a >>> PAGE_SHIFT;
    const k = this.pageKind(ppn);
    if (k === PAGE_RAM) this.writeBuf(a, size, value);
    else if (k === PAGE_MMIO) this.writeMmio(ppn, a, size, value);
  }

  readBuf(i: number, size: number): number {
    const ram = this.ram;
    if (size === 4) {
      if ((i & 3) === 0) return this.ram32[i >>> 2]! >>> 0;
      return (ram[i]! | (ram[i + 1]! << 8) | (ram[i + 2]! << 16) | (ram[i + 3]! << 24)) >>> 0;
    }
    if (size === 2) return (i & 1) === 0 ? this.ram16[i >>> 1]! : ram[i]! | (ram[i + 1]! << 8);
    if (size === 1) return ram[i]!;
    return ram[i]! | (ram[i + 1]! << 8) | (ram[i + 2]! << 16);
  }

  writeBuf(i: number, size: number, value: number): void {
    const ram = this.ram;
    if (size === 4 && (i & 3) === 0) {
      this.ram32[i >>> 2] = value;
      return;
    }
    for (let n = 0; n < size; n++) ram[i + n] = value >>> (n * 8);
  }

  private readMmio(ppn: number, a: number, size: number): number {
    const r = this.regions[this.region[ppn]!]!;
    const off = a - r.basePage * PAGE_SIZE;
    if (size === 3) {
      // Only the part of a page-straddling access can have 3 bytes: split into 1 + 2.
      const lo = this.readMmio(ppn, a, 1);
      return lo | (this.readMmio(ppn, a + 1, 2) << 8);
    }
    this.mmioAccesses++;
    const v = r.handler!.read(off, size as 1 | 2 | 4);
    return size === 4 ? v >>> 0 : v & ((1 << (size * 8)) - 1);
  }

  private writeMmio(ppn: number, a: number, size: number, value: number): void {
    const r = this.regions[this.region[ppn]!]!;
    const off = a - r.basePage * PAGE_SIZE;
    if (size === 3) {
      this.writeMmio(ppn, a, 1, value & 0xff);
      this.writeMmio(ppn, a + 1, 2, (value >>> 8) & 0xffff);
      return;
    }
    this.mmioAccesses++;
    r.handler!.write(off, size as 1 | 2 | 4, size === 4 ? value >>> 0 : value & ((1 << (size * 8)) - 1));
  }

  // ---- host helpers (no A20, throw on misuse) -----------------------------------------------

  /** Is [gpa, gpa+len) entirely plain RAM (no ROM, MMIO or hole)? Never throws. */
  isRam(gpa: number, len: number): boolean {
    if (!Number.isInteger(gpa) || !Number.isInteger(len) || gpa < 0 || len < 0) return false;
    if (gpa + len > this.ramSize) return false;
    if (len === 0) return true;
    const last = (gpa + len - 1) / PAGE_SIZE;
    for (let p = Math.floor(gpa / PAGE_SIZE); p <= last; p++) if (this.kind[p] !== PAGE_RAM) return false;
    return true;
  }

  /** A live view of guest RAM [gpa, gpa+len). Throws OUT_OF_RANGE unless the range is plain RAM. */
  bytes(gpa: number, len: number): Uint8Array {
    checkRange('bytes', gpa, len);
    if (!this.isRam(gpa, len)) {
      throw new MmuError('OUT_OF_RANGE', `bytes: ${hex(gpa)} + ${hex(len)} is not entirely guest RAM`);
    }
    return this.ram.subarray(gpa, gpa + len);
  }

  /** Copy of [gpa, gpa+len), which must be RAM or ROM. */
  readPhys(gpa: number, len: number): Uint8Array {
    checkRange('readPhys', gpa, len);
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const a = gpa + done;
      const ppn = Math.floor(a / PAGE_SIZE);
      const k = this.pageKind(ppn);
      if (k !== PAGE_RAM && k !== PAGE_ROM) {
        throw new MmuError(
          'OUT_OF_RANGE',
          `readPhys: ${hex(a)} (in ${hex(gpa)} + ${hex(len)}) is not RAM or ROM`,
        );
      }
      const n = Math.min(len - done, PAGE_SIZE - (a % PAGE_SIZE));
      const i = this.pageIndex(ppn) + (a % PAGE_SIZE);
      out.set(this.ram.subarray(i, i + n), done);
      done += n;
    }
    return out;
  }
}
