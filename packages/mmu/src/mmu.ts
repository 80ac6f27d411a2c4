/**
 * `Mmu`: the `Memory` of @pv/x86-core (bus.ts, DESIGN.md §3) over a `PhysicalMemory`, with the
 * page walker of paging.ts and the software TLB of tlb.ts.
 *
 * Hot path: every `read*`/`write*` first does the same inline TLB lookup the CPU does; only a
 * miss, an MMIO/hole/tracked page, a page-straddling access or a fault goes to `slowRead` /
 * `slowWrite`, which translate each page part (TLB, then walker), fill the TLB where allowed,
 * and route each part to RAM, ROM, MMIO or a hole.
 *
 * TLB fill policy (what a hit may assume, bus.ts `SoftTlb`): only RAM pages and, for read and
 * fetch kinds, ROM pages; a write kind only after the walk set D, and never for a page whose writes
 * are tracked. Permission decisions depend on CR0.WP, CR4.SMEP/SMAP, EFER.NXE (changes flush
 * everything) and, for supervisor data kinds, on the SMAP override (CPL < 3 with EFLAGS.AC = 1):
 * a user page enters kinds 0/1 only while the override holds, and those two kinds are flushed when
 * it ends (only if such a slot was filled). The user/supervisor distinction itself is in the kind.
 */

import type { Memory, MemoryCpuHooks, PagingState } from '@pv/x86-core';
import {
  ACCESS_FETCH,
  ACCESS_WRITE,
  CR0_CD,
  CR0_NW,
  CR0_PG,
  CR0_WP,
  CR4_PAE,
  CR4_PGE,
  CR4_PSE,
  CR4_SMAP,
  CR4_SMEP,
  EFER_NXE,
  PAGE_SIZE,
} from './constants';
import { hex, MmuError } from './errors';
import { WALK_GLOBAL, WALK_LARGE, WALK_USER_PAGE, Walker } from './paging';
import { type MmioHandler, PAGE_RAM, PAGE_ROM, PhysicalMemory, type RomImage } from './physical';
import { SLOT_GLOBAL, SLOT_LARGE, Tlb } from './tlb';

/** Write-tracking reasons (a bit set per guest-physical RAM page). */
const TRACK_CODE = 1;
const TRACK_PAGE_TABLE = 2;

/** Construction options. */
export interface MmuOptions {
  /** RAM size in bytes: a positive multiple of 4096, at most 3 GiB. RAM starts at address 0. */
  ramSize: number;
  /** Read-only images (firmware); they overlay RAM where they overlap it. */
  rom?: readonly RomImage[];
  /** log2 of the TLB entries per access kind (4..16, default 10). */
  tlbBits?: number;
  /** MAXPHYADDR for reserved-bit checks and PSE-36/PAE frame addresses (32..40, default 36). */
  maxPhyAddr?: number;
}

/** One page-table entry update of a PV batch. */
export interface PteUpdate {
  /** Guest-physical address of the entry (4-byte aligned; 8-byte aligned with CR4.PAE). */
  gpa: number;
  /** Low 32 bits of the new entry. */
  lo: number;
  /** High 32 bits (PAE entries only; must be 0 or absent otherwise). */
  hi?: number;
}

/** Why a PV page-table update was rejected. */
export type PteUpdateError = 'invalid' | 'misaligned' | 'not-ram';

/** Outcome of `applyPteUpdates`. */
export interface PteBatchResult {
  applied: number;
  failures: { index: number; gpa: number; reason: PteUpdateError }[];
}

/** Exits the MMU counts for the composer (DESIGN.md §3). */
export interface MmuExitCounts {
  /** MMIO handler calls (exit kind 'mmio'). */
  mmio: number;
  /** Guest writes to tracked page-table frames (exit kind 'ptwrite', shadow model). */
  ptwrite: number;
}

/** Plain-data snapshot (STYLE.md "Snapshots are plain, versioned data"). */
export interface MmuState {
  kind: '@pv/mmu';
  version: 1;
  ramSize: number;
  ram: Uint8Array;
  a20: boolean;
  cr0: number;
  cr3: number;
  cr4: number;
  efer: number;
  cpl: number;
  ac: boolean;
  /** PDPTE registers: lo0, hi0, lo1, hi1, … (non-architectural state, may differ from memory). */
  pdpte: number[];
  trackPageTables: boolean;
}

const NO_HOOKS: MemoryCpuHooks = {
  raisePageFault(lin: number, errorCode: number): never {
    throw new MmuError(
      'INVALID_STATE',
      `page fault at ${hex(lin >>> 0)} (error code ${hex(errorCode)}) with no CPU attached (call attachCpu first)`,
    );
  },
};

export class Mmu implements Memory {
  readonly tlb: Tlb;
  readonly phys: PhysicalMemory;
  private readonly walker: Walker;
  private hooks: MemoryCpuHooks = NO_HOOKS;
  private codeHook: ((physPage: number) => void) | undefined;
  /** Write-tracking bits per RAM page. */
  private readonly track: Uint8Array;
  private readonly ptTracked: number[] = [];
  private trackingPageTables = false;
  private ptWrites = 0;
  private a20 = true;
  private readonly stageLo = new Uint32Array(4);
  private readonly stageHi = new Uint32Array(4);
  // Hot-path copies of the TLB arrays.
  private readonly tag: Int32Array;
  private readonly offset: Int32Array;
  private readonly ram: Uint8Array;
  private readonly ram16: Uint16Array;
  private readonly ram32: Int32Array;
  private readonly bits: number;
  private readonly mask: number;

  constructor(options: MmuOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new MmuError('INVALID_CONFIG', 'options must be an object with ramSize');
    }
    const tlbBits = options.tlbBits ?? 10;
    if (!Number.isInteger(tlbBits) || tlbBits < 4 || tlbBits > 16) {
      throw new MmuError('INVALID_CONFIG', `tlbBits ${String(tlbBits)} is not an integer in [4, 16]`);
    }
    const maxPhyAddr = options.maxPhyAddr ?? 36;
    if (!Number.isInteger(maxPhyAddr) || maxPhyAddr < 32 || maxPhyAddr > 40) {
      throw new MmuError('INVALID_CONFIG', `maxPhyAddr ${String(maxPhyAddr)} is not an integer in [32, 40]`);
    }
    this.phys = new PhysicalMemory(options.ramSize, options.rom ?? []);
    this.walker = new Walker(this.phys, maxPhyAddr);
    this.tlb = new Tlb(tlbBits, this.phys.ram, this.phys.ram16, this.phys.ram32);
    this.track = new Uint8Array(this.phys.ramPages);
    this.tag = this.tlb.tag;
    this.offset = this.tlb.offset;
    this.ram = this.phys.ram;
    this.ram16 = this.phys.ram16;
    this.ram32 = this.phys.ram32;
    this.bits = tlbBits;
    this.mask = (1 << tlbBits) - 1;
  }

  /** Build an MMU from a snapshot; `options` supplies the configuration (ROM, TLB size). */
  static fromState(state: MmuState, options: Omit<MmuOptions, 'ramSize'> = {}): Mmu {
    const ramSize = (state as Partial<MmuState> | null)?.ramSize;
    const mmu = new Mmu({ ...options, ramSize: typeof ramSize === 'number' ? ramSize : Number.NaN });
    mmu.loadState(state);
    return mmu;
  }

  // ---- Memory: the hot path ------------------------------------------------------------------

  read8(lin: number, kind: number): number {
    const page = lin >>> 12;
    const i = (kind << this.bits) | (page & this.mask);
    if (this.tag[i] === page) return this.ram[((lin + this.offset[i]!) | 0) >>> 0]!;
    return this.slowRead(lin >>> 0, 1, kind);
  }

  read16(lin: number, kind: number): number {
    const page = lin >>> 12;
    const i = (kind << this.bits) | (page & this.mask);
    if (this.tag[i] === page) {
      const a = ((lin + this.offset[i]!) | 0) >>> 0;
      if ((a & 1) === 0) return this.ram16[a >>> 1]!;
      if ((lin & 0xfff) !== 0xfff) return this.ram[a]! | (this.ram[a + 1]! << 8);
    }
    return this.slowRead(lin >>> 0, 2, kind);
  }

  read32(lin: number, kind: number): number {
    const page = lin >>> 12;
    const i = (kind << this.bits) | (page & this.mask);
    if (this.tag[i] === page) {
      const a = ((lin + this.offset[i]!) | 0) >>> 0;
      if ((a & 3) === 0) return this.ram32[a >>> 2]! >>> 0;
      if ((lin & 0xfff) <= 0xffc) {
        const r = this.ram;
        return (r[a]! | (r[a + 1]! << 8) | (r[a + 2]! << 16) | (r[a + 3]! << 24)) >>> 0;
      }
    }
    return this.slowRead(lin >>> 0, 4, kind);
  }

  write8(lin: number, value: number, kind: number): void {
    const page = lin >>> 12;
    const i = (kind << this.bits) | (page & this.mask);
    if (this.tag[i] === page) this.ram[((lin + this.offset[i]!) | 0) >>> 0] = value;
    else this.slowWrite(lin >>> 0, 1, value, kind);
  }

  write16(lin: number, value: number, kind: number): void {
    const page = lin >>> 12;
    const i = (kind << this.bits) | (page & this.mask);
    if (this.tag[i] === page) {
      const a = ((lin + this.offset[i]!) | 0) >>> 0;
      if ((a & 1) === 0) {
        this.ram16[a >>> 1] = value;
        return;
      }
      if ((lin & 0xfff) !== 0xfff) {
        this.ram[a] = value;
        this.ram[a + 1] = value >>> 8;
        return;
      }
    }
    this.slowWrite(lin >>> 0, 2, value, kind);
  }

  write32(lin: number, value: number, kind: number): void {
    const page = lin >>> 12;
    const i = (kind << this.bits) | (page & this.mask);
    if (this.tag[i] === page) {
      const a = ((lin + this.offset[i]!) | 0) >>> 0;
      if ((a & 3) === 0) {
        this.ram32[a >>> 2] = value;
        return;
      }
      if ((lin & 0xfff) <= 0xffc) {
        const r = this.ram;
        r[a] = value;
        r[a + 1] = value >>> 8;
        r[a + 2] = value >>> 16;
        r[a + 3] = value >>> 24;
        return;
      }
    }
    this.slowWrite(lin >>> 0, 4, value, kind);
  }

  // ---- slow path -------------------------------------------------------------------------------

  /**
   * Translate the page of `lin` for `kind` (TLB, else walk + fill) and return the guest-physical
   * address of `lin`. Raises #PF through the CPU hooks on failure (CR2 = `lin`).
   */
  private translate(lin: number, kind: number): number {
    const page = lin >>> 12;
    const tlb = this.tlb;
    const i = (kind << this.bits) | (page & this.mask);
    if (this.tag[i] === page) return tlb.ppn[i]! * PAGE_SIZE + (lin & 0xfff);
    const walker = this.walker;
    const code = walker.walk(lin, kind);
    if (code >= 0) {
      // SDM 4.10.4.1: a #PF invalidates the TLB entries for the faulting page (every kind).
      this.tlb.flushPage(page, walker.pae ? 21 : 22);
      return this.hooks.raisePageFault(lin, code);
    }
    let ppn = walker.ppn;
    if (ppn < 0x10_0000) ppn = (ppn & (this.phys.a20Mask >>> 12)) >>> 0;
    const k = this.phys.pageKind(ppn);
    if (k === PAGE_RAM) {
      if (kind & ACCESS_WRITE) {
        if (this.track[ppn] === 0) this.fill(kind, page, ppn * PAGE_SIZE, ppn);
      } else {
        if (kind & ACCESS_FETCH && this.codeHook !== undefined) this.trackCode(ppn);
        this.fill(kind, page, ppn * PAGE_SIZE, ppn);
      }
    } else if (k === PAGE_ROM && !(kind & ACCESS_WRITE)) {
      this.fill(kind, page, this.phys.pageIndex(ppn), ppn);
    }
    return ppn * PAGE_SIZE + (lin & 0xfff);
  }

  private fill(kind: number, page: number, bufIndex: number, ppn: number): void {
    const w = this.walker;
    const f = w.flags;
    const flags = (f & WALK_GLOBAL ? SLOT_GLOBAL : 0) | (f & WALK_LARGE ? SLOT_LARGE : 0);
    if (f & WALK_USER_PAGE && kind < 2 && w.smapEnabled()) this.tlb.smapOverrideSlots = true;
    this.tlb.fill(kind, page, bufIndex, ppn, flags, w.leaf, w.dir, page >>> (w.pae ? 9 : 10));
  }

  private slowRead(lin: number, size: number, kind: number): number {
    const off = lin & 0xfff;
    if (off + size <= PAGE_SIZE) return this.phys.read(this.translate(lin, kind), size);
    // Straddles a page: translate both parts (first part first: CR2 names the faulting part).
    const n1 = PAGE_SIZE - off;
    const lin2 = (lin + n1) >>> 0;
    const g1 = this.translate(lin, kind);
    const g2 = this.translate(lin2, kind);
    const lo = this.phys.read(g1, n1);
    const hi = this.phys.read(g2, size - n1);
    return (lo | (hi << (8 * n1))) >>> 0;
  }

  private slowWrite(lin: number, size: number, value: number, kind: number): void {
    const off = lin & 0xfff;
    if (off + size <= PAGE_SIZE) {
      this.writePart(this.translate(lin, kind), size, value);
      return;
    }
    // Both pages are checked (and their D bits set) before any byte is stored.
    const n1 = PAGE_SIZE - off;
    const g1 = this.translate(lin, kind);
    const g2 = this.translate((lin + n1) >>> 0, kind);
    this.writePart(g1, n1, value);
    this.writePart(g2, size - n1, value >>> (8 * n1));
  }

  /** A guest write of one part: tracking notifications, then the store. */
  private writePart(gpa: number, size: number, value: number): void {
    // Only RAM pages (below 4 GiB) are ever tracked.
    const ppn = gpa < 0x1_0000_0000 ? ((gpa & this.phys.a20Mask) >>> 0) >>> 12 : this.track.length;
    const t = ppn < this.track.length ? this.track[ppn]! : 0;
    this.phys.write(gpa, size, value);
    if (t !== 0) {
      if (t & TRACK_PAGE_TABLE) {
        this.ptWrites++;
        this.onPageTableWrite?.(ppn);
      }
      if (t & TRACK_CODE) this.codeWrittenAt(ppn);
    }
  }

  // ---- write tracking --------------------------------------------------------------------------

  private trackCode(ppn: number): void {
    const t = this.track[ppn]!;
    if (t & TRACK_CODE) return;
    this.track[ppn] = t | TRACK_CODE;
    if (t === 0) this.tlb.evictPhys(ppn, false);
  }

  /** A code page was written: tell the CPU once, and let the page be written fast again. */
  private codeWrittenAt(ppn: number): void {
    this.track[ppn]! &= ~TRACK_CODE;
    // The next fetch from the page must re-track it, so its fetch slots go.
    this.tlb.evictPhys(ppn, true);
    this.codeHook?.(ppn);
  }

  private trackPageTable = (ppn: number): void => {
    if (ppn >= this.track.length) return;
    const t = this.track[ppn]!;
    if (t & TRACK_PAGE_TABLE) return;
    this.track[ppn] = t | TRACK_PAGE_TABLE;
    this.ptTracked.push(ppn);
    if (t === 0) this.tlb.evictPhys(ppn, false);
  };

  private clearPageTableTracking(): void {
    for (const ppn of this.ptTracked) this.track[ppn]! &= ~TRACK_PAGE_TABLE;
    this.ptTracked.length = 0;
  }

  /**
   * Shadow exit model (DESIGN.md §3): track the frames the walker reads paging structures from, and
   * count every guest write to one as a 'ptwrite' exit. The tracked set is the frames walked since
   * the last CR3 load (a CR3 load starts a new set, as a shadow MMU switching roots would).
   */
  setPageTableTracking(enabled: boolean): void {
    if (enabled === this.trackingPageTables) return;
    this.trackingPageTables = enabled;
    this.walker.onTableFrame = enabled ? this.trackPageTable : null;
    this.clearPageTableTracking();
    // Frames walked before now were never tracked: forget their translations so walks re-mark them.
    this.tlb.flushAll();
  }

  /**
   * Called after every guest write to a tracked page-table frame (shadow exit model), so the
   * composer can charge the exit to the vCPU that made it. Null: only counted.
   */
  onPageTableWrite: ((ppn: number) => void) | null = null;

  /** Is the guest-physical page `ppn` currently tracked as a page table? */
  isPageTableTracked(ppn: number): boolean {
    return ppn < this.track.length && (this.track[ppn]! & TRACK_PAGE_TABLE) !== 0;
  }

  /** Exit counters ('mmio' handler calls and 'ptwrite' tracked page-table writes). */
  get exits(): MmuExitCounts {
    return { mmio: this.phys.mmioAccesses, ptwrite: this.ptWrites };
  }

  // ---- Memory: control --------------------------------------------------------------------------

  attachCpu(hooks: MemoryCpuHooks): void {
    if (typeof hooks?.raisePageFault !== 'function') {
      throw new MmuError('INVALID_ARGUMENT', 'attachCpu: hooks.raisePageFault is not a function');
    }
    this.hooks = hooks;
    this.codeHook = hooks.codeWritten?.bind(hooks);
    // Fetch slots filled before now were never tracked as code.
    this.tlb.flushAll();
  }

  /**
   * Push CR0/CR3/CR4/EFER/CPL/AC. Flushes what hardware would (SDM 4.10.4.1): everything on a
   * change of CR0.PG/WP, CR4.PSE/PAE/PGE/SMEP/SMAP or EFER.NXE; non-global entries on a CR3
   * change. With PAE paging in use afterwards, loads the PDPTE registers when CR3 changes or a MOV
   * to CR0/CR4 changes CR0.CD/NW/PG or CR4.PAE/PGE/PSE/SMEP (SDM 4.4.1). Returns false, changing
   * nothing, if those PDPTEs have reserved bits set: the CPU then raises #GP(0) instead of
   * committing the register write.
   */
  setPagingState(state: PagingState): boolean {
    const w = this.walker;
    const cr0 = state.cr0 | 0;
    const cr3 = state.cr3 | 0;
    const cr4 = state.cr4 | 0;
    const efer = state.efer | 0;
    const d0 = cr0 ^ w.cr0;
    const d4 = cr4 ^ w.cr4;
    const cr3Changed = cr3 !== (w.cr3 | 0);
    const paeAfter = (cr0 & CR0_PG) !== 0 && (cr4 & CR4_PAE) !== 0;
    if (
      paeAfter &&
      (cr3Changed || d0 & (CR0_CD | CR0_NW | CR0_PG) || d4 & (CR4_PAE | CR4_PGE | CR4_PSE | CR4_SMEP))
    ) {
      if (!w.readPdptes(cr3, this.stageLo, this.stageHi)) return false;
      w.pdpteLo.set(this.stageLo);
      w.pdpteHi.set(this.stageHi);
    }
    const dE = efer ^ w.efer;
    const overrideBefore = w.smapOverride();
    w.cr0 = cr0;
    w.cr3 = cr3;
    w.cr4 = cr4;
    w.efer = efer;
    w.cpl = state.cpl & 3;
    w.ac = state.ac === true;
    w.update();
    if (d0 & (CR0_PG | CR0_WP) || d4 & (CR4_PSE | CR4_PAE | CR4_PGE | CR4_SMEP | CR4_SMAP) || dE & EFER_NXE) {
      this.tlb.flushAll();
    } else if (cr3Changed) {
      this.tlb.flushNonGlobal();
    }
    if (cr3Changed || d0 & CR0_PG) this.clearPageTableTracking();
    if (overrideBefore && !w.smapOverride() && this.tlb.smapOverrideSlots) this.tlb.flushSupervisorData();
    return true;
  }

  /**
   * MOV to CR3 with exact semantics, including a reload of the same value: loads the PDPTE
   * registers under PAE paging (returns false, changing nothing, on reserved bits ⇒ #GP(0)),
   * flushes non-global translations.
   */
  loadCr3(cr3: number): boolean {
    const w = this.walker;
    if (w.paging && w.pae) {
      if (!w.readPdptes(cr3, this.stageLo, this.stageHi)) return false;
      w.pdpteLo.set(this.stageLo);
      w.pdpteHi.set(this.stageHi);
    }
    w.cr3 = cr3 | 0;
    this.tlb.flushNonGlobal();
    this.clearPageTableTracking();
    return true;
  }

  /** Would a PAE CR3 load of `cr3` succeed (no reserved bit in a present PDPTE)? */
  pdptesValid(cr3: number): boolean {
    return this.walker.readPdptes(cr3, this.stageLo, this.stageHi);
  }

  invlpg(lin: number): void {
    this.tlb.flushPage(lin >>> 12, this.walker.pae ? 21 : 22);
  }

  /**
   * Flush all non-global translations (`includeGlobal` false: the effect of a MOV to CR3, including
   * the PDPTE reload under PAE paging; if the PDPTEs in memory are now invalid the registers keep
   * their values, use `loadCr3` to learn that) or everything (`includeGlobal` true).
   */
  flushTlb(includeGlobal: boolean): void {
    if (includeGlobal) {
      this.tlb.flushAll();
      return;
    }
    if (!this.loadCr3(this.walker.cr3)) this.tlb.flushNonGlobal();
  }

  /** Enable or disable the A20 line (disabled: guest-physical bit 20 reads as 0). Flushes the TLB. */
  setA20(enabled: boolean): void {
    if (enabled === this.a20) return;
    this.a20 = enabled;
    this.phys.a20Mask = enabled ? 0xffffffff : ~0x10_0000;
    this.tlb.flushAll();
  }

  /** Current A20 state. */
  get a20Enabled(): boolean {
    return this.a20;
  }

  // ---- physical map and host helpers -------------------------------------------------------------

  /** Map an MMIO region of whole pages (throws OVERLAP on an existing ROM/MMIO page). */
  mapMmio(base: number, size: number, handler: MmioHandler): void {
    this.phys.mapMmio(base, size, handler);
    this.tlb.flushAll();
  }

  /** Unmap the MMIO region starting at `base`. */
  unmapMmio(base: number): void {
    this.phys.unmapMmio(base);
    this.tlb.flushAll();
  }

  /** Is [gpa, gpa+len) entirely plain RAM? For validating guest pointers; never throws. */
  isRam(gpa: number, len: number): boolean {
    return this.phys.isRam(gpa, len);
  }

  /**
   * A live view of guest RAM (throws OUT_OF_RANGE unless plain RAM). Stores through the view are
   * not seen by write tracking: use `writePhys` for anything the guest may execute or walk.
   */
  bytes(gpa: number, len: number): Uint8Array {
    return this.phys.bytes(gpa, len);
  }

  /** A copy of [gpa, gpa+len) of RAM or ROM (throws OUT_OF_RANGE otherwise). A20 is not applied. */
  readPhys(gpa: number, len: number): Uint8Array {
    return this.phys.readPhys(gpa, len);
  }

  /** Copy `data` into guest RAM at `gpa` (throws OUT_OF_RANGE unless plain RAM); tracking sees it. */
  writePhys(gpa: number, data: Uint8Array): void {
    if (!(data instanceof Uint8Array)) {
      throw new MmuError('INVALID_ARGUMENT', `writePhys: data for ${hex(gpa)} is not a Uint8Array`);
    }
    const view = this.phys.bytes(gpa, data.length);
    view.set(data);
    if (data.length === 0) return;
    const last = Math.floor((gpa + data.length - 1) / PAGE_SIZE);
    for (let p = Math.floor(gpa / PAGE_SIZE); p <= last; p++) {
      if (this.track[p]! & TRACK_CODE) this.codeWrittenAt(p);
    }
  }

  // ---- PV operations -----------------------------------------------------------------------------

  /**
   * Apply a batch of page-table entry writes (the PV page-table-update hypercall). Each entry must
   * be inside plain RAM and aligned to the entry size (8 with CR4.PAE, else 4, with `hi` 0). Valid
   * entries are written in order (each as a single store; failures do not stop the batch), then
   * exactly the TLB slots whose translation used a changed entry are dropped. These writes are not
   * counted as 'ptwrite' exits. A write to a PAE PDPTE takes effect at the next CR3 load, as on
   * hardware.
   */
  applyPteUpdates(updates: ArrayLike<PteUpdate>): PteBatchResult {
    const size = this.walker.cr4 & CR4_PAE ? 8 : 4;
    const failures: PteBatchResult['failures'] = [];
    const changed = new Set<number>();
    let applied = 0;
    for (let n = 0; n < updates.length; n++) {
      const u = updates[n];
      const gpa = u?.gpa;
      const lo = u?.lo;
      const hi = u?.hi ?? 0;
      if (
        typeof gpa !== 'number' ||
        !isUint32(lo) ||
        !isUint32(hi) ||
        (size === 4 && hi !== 0) ||
        !Number.isInteger(gpa)
      ) {
        failures.push({ index: n, gpa: typeof gpa === 'number' ? gpa : Number.NaN, reason: 'invalid' });
        continue;
      }
      if (gpa % size !== 0) {
        failures.push({ index: n, gpa, reason: 'misaligned' });
        continue;
      }
      if (!this.phys.isRam(gpa, size)) {
        failures.push({ index: n, gpa, reason: 'not-ram' });
        continue;
      }
      const r = this.phys;
      const oldLo = r.readBuf(gpa, 4);
      const oldHi = size === 8 ? r.readBuf(gpa + 4, 4) : 0;
      r.writeBuf(gpa, 4, lo);
      if (size === 8) r.writeBuf(gpa + 4, 4, hi);
      applied++;
      if (oldLo !== lo >>> 0 || oldHi !== hi >>> 0) {
        changed.add(gpa);
        const ppn = Math.floor(gpa / PAGE_SIZE);
        if (this.track[ppn]! & TRACK_CODE) this.codeWrittenAt(ppn);
      }
    }
    if (changed.size > 0) this.tlb.evictEntries(changed);
    return { applied, failures };
  }

  /** Flush the translations of a list of linear addresses (PV flush_tlb_one batch). */
  flushLinear(addresses: ArrayLike<number>): void {
    for (let n = 0; n < addresses.length; n++) {
      const a = addresses[n];
      if (typeof a !== 'number' || !Number.isFinite(a)) {
        throw new MmuError('INVALID_ARGUMENT', `flushLinear: entry ${n} (${String(a)}) is not an address`);
      }
      this.invlpg(a);
    }
  }

  /** Flush every translation, global ones included (PV flush_tlb_all). */
  flushAll(): void {
    this.tlb.flushAll();
  }

  // ---- snapshot ------------------------------------------------------------------------------------

  /** Plain-data snapshot: RAM contents and control state. The TLB is rebuilt lazily after load. */
  saveState(): MmuState {
    const w = this.walker;
    const pdpte: number[] = [];
    for (let i = 0; i < 4; i++) pdpte.push(w.pdpteLo[i]!, w.pdpteHi[i]!);
    return {
      kind: '@pv/mmu',
      version: 1,
      ramSize: this.phys.ramSize,
      ram: this.phys.ram.slice(0, this.phys.ramSize),
      a20: this.a20,
      cr0: w.cr0 >>> 0,
      cr3: w.cr3 >>> 0,
      cr4: w.cr4 >>> 0,
      efer: w.efer >>> 0,
      cpl: w.cpl,
      ac: w.ac,
      pdpte,
      trackPageTables: this.trackingPageTables,
    };
  }

  /** Restore a snapshot taken by `saveState` of an MMU with the same RAM size. */
  loadState(state: MmuState): void {
    const s = state as unknown as Record<string, unknown> | null;
    if (typeof s !== 'object' || s === null || s.kind !== '@pv/mmu') {
      throw new MmuError('INVALID_STATE', 'loadState: not an @pv/mmu snapshot');
    }
    if (s.version !== 1) {
      throw new MmuError(
        'INVALID_STATE',
        `loadState: snapshot version ${String(s.version)} is not supported (expected 1)`,
      );
    }
    if (s.ramSize !== this.phys.ramSize) {
      throw new MmuError(
        'INVALID_STATE',
        `loadState: snapshot RAM size ${String(s.ramSize)} ≠ ${this.phys.ramSize}`,
      );
    }
    const ram = s.ram;
    if (!(ram instanceof Uint8Array) || ram.length !== this.phys.ramSize) {
      throw new MmuError(
        'INVALID_STATE',
        `loadState: field ram is not a Uint8Array of ${this.phys.ramSize} bytes`,
      );
    }
    for (const f of ['cr0', 'cr3', 'cr4', 'efer'] as const) {
      if (!isUint32(s[f]))
        throw new MmuError('INVALID_STATE', `loadState: field ${f} = ${String(s[f])} is not a uint32`);
    }
    if (!(s.cpl === 0 || s.cpl === 1 || s.cpl === 2 || s.cpl === 3)) {
      throw new MmuError('INVALID_STATE', `loadState: field cpl = ${String(s.cpl)} is not 0..3`);
    }
    if (typeof s.ac !== 'boolean' || typeof s.a20 !== 'boolean' || typeof s.trackPageTables !== 'boolean') {
      throw new MmuError('INVALID_STATE', 'loadState: fields ac, a20 and trackPageTables must be booleans');
    }
    const pdpte = s.pdpte;
    if (!Array.isArray(pdpte) || pdpte.length !== 8 || !pdpte.every(isUint32)) {
      throw new MmuError('INVALID_STATE', 'loadState: field pdpte is not 8 uint32 values');
    }
    this.phys.ram.set(ram);
    const w = this.walker;
    w.cr0 = (s.cr0 as number) | 0;
    w.cr3 = (s.cr3 as number) | 0;
    w.cr4 = (s.cr4 as number) | 0;
    w.efer = (s.efer as number) | 0;
    w.cpl = s.cpl;
    w.ac = s.ac;
    w.update();
    for (let i = 0; i < 4; i++) {
      w.pdpteLo[i] = pdpte[2 * i] as number;
      w.pdpteHi[i] = pdpte[2 * i + 1] as number;
    }
    this.a20 = s.a20;
    this.phys.a20Mask = s.a20 ? 0xffffffff : ~0x10_0000;
    this.track.fill(0);
    this.ptTracked.length = 0;
    this.trackingPageTables = !s.trackPageTables;
    this.setPageTableTracking(s.trackPageTables);
    this.tlb.flushAll();
  }
}

function isUint32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}
