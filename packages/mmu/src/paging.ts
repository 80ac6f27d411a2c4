/**
 * The page walker: 32-bit paging (4-KiB and PSE 4-MiB pages, PSE-36) and PAE paging (PDPTE
 * registers, 2-MiB and 4-KiB pages, XD), with the access-rights rules of SDM 4.6, the fault rules
 * of SDM 4.7 and the accessed/dirty rules of SDM 4.8. No caching here: the TLB is the caller's.
 *
 * A walk reads each paging-structure entry from guest-physical memory (A20-masked; an entry in a
 * hole reads all-ones, an entry in an MMIO page is read from the device). Accessed and dirty
 * flags are set only when the translation succeeds and the access is allowed (as KVM's walker
 * and Bochs do): A on every entry used, D on the leaf entry for writes, each as a read-modify-write
 * of the entry's low dword that only happens when a flag is actually missing.
 */

import {
  ACCESS_FETCH,
  ACCESS_USER,
  ACCESS_WRITE,
  CR0_PG,
  CR0_WP,
  CR4_PAE,
  CR4_PGE,
  CR4_PSE,
  CR4_SMAP,
  CR4_SMEP,
  EFER_NXE,
  PF_ID,
  PF_P,
  PF_RSVD,
  PF_U,
  PF_W,
  PTE_A,
  PTE_D,
  PTE_G,
  PTE_HI_XD,
  PTE_P,
  PTE_PS,
  PTE_RW,
  PTE_US,
} from './constants';
import type { PhysicalMemory } from './physical';

/** 2^20 and 2^32 as multipliers for page numbers / addresses above 4 GiB. */
const TWO20 = 0x10_0000;
const TWO32 = 0x1_0000_0000;
/** PDPTE reserved bits in the low dword: 2:1 and 8:5 (SDM 4.4.1, table 4-8). */
const PDPTE_LO_RSVD = 0x1e6;
/** PAE PDE with PS = 1: bits 20:13 reserved (SDM table 4-9). */
const PDE2M_LO_RSVD = 0x1fe000;

/** Walk result flags. */
export const WALK_GLOBAL = 1;
export const WALK_LARGE = 2;
/** U/S = 1 in every entry: a user-mode page (SMAP / SMEP). */
export const WALK_USER_PAGE = 4;

export class Walker {
  cr0 = 0;
  cr3 = 0;
  cr4 = 0;
  efer = 0;
  cpl = 0;
  ac = false;
  /** Derived mode bits, refreshed by `update()`. */
  paging = false;
  pae = false;
  /** Four PDPTE registers (low and high dwords), loaded by `loadPdptes`. */
  readonly pdpteLo = new Uint32Array(4);
  readonly pdpteHi = new Uint32Array(4);
  /** MAXPHYADDR-derived masks. */
  private readonly physHiMask: number;
  private readonly hiRsvd: number;
  private readonly pde4mRsvd: number;
  private pse = false;
  private pge = false;
  private wp = false;
  private nxe = false;
  private smep = false;
  private smap = false;
  /** I/D is reported (SDM 4.7: SMEP = 1, or PAE paging with NXE = 1). */
  private idBit = 0;

  /** Results of the last successful walk. */
  ppn = 0;
  flags = 0;
  leaf = -1;
  dir = -1;

  /** Called with each guest-physical frame the walker reads a paging structure from, if set. */
  onTableFrame: ((ppn: number) => void) | null = null;

  constructor(
    private readonly phys: PhysicalMemory,
    readonly maxPhyAddr: number,
  ) {
    const hiBits = maxPhyAddr - 32;
    this.physHiMask = (1 << hiBits) - 1;
    // Bits 62:MAXPHYADDR of a PAE entry = bits 30:(M−32) of the high dword.
    this.hiRsvd = 0x7fffffff & ~this.physHiMask;
    // 4-MiB PDE: bits 20:13 hold physical bits 39:32 (PSE-36); those at or above M and bit 21
    // are reserved (SDM table 4-4).
    this.pde4mRsvd = 0x3fe000 & ~(this.physHiMask << 13);
  }

  /** Recompute the derived mode bits after a change of cr0/cr4/efer/cpl/ac. */
  update(): void {
    this.paging = (this.cr0 & CR0_PG) !== 0;
    this.pae = (this.cr4 & CR4_PAE) !== 0;
    this.pse = (this.cr4 & CR4_PSE) !== 0;
    this.pge = (this.cr4 & CR4_PGE) !== 0;
    this.wp = (this.cr0 & CR0_WP) !== 0;
    this.nxe = (this.efer & EFER_NXE) !== 0;
    this.smep = (this.cr4 & CR4_SMEP) !== 0;
    this.smap = (this.cr4 & CR4_SMAP) !== 0;
    this.idBit = this.smep || (this.pae && this.nxe) ? PF_ID : 0;
  }

  /** SMAP is overridden for explicit supervisor accesses (CPL < 3 and EFLAGS.AC = 1, SDM 4.6.1). */
  smapOverride(): boolean {
    return this.smap && this.cpl < 3 && this.ac;
  }

  /** SMAP enabled. */
  smapEnabled(): boolean {
    return this.smap;
  }

  /**
   * Read the four PDPTEs at `cr3` into `lo`/`hi` and check their reserved bits (SDM 4.4.1).
   * Returns false (and leaves the registers alone) if a present PDPTE has a reserved bit set.
   */
  readPdptes(cr3: number, lo: Uint32Array, hi: Uint32Array): boolean {
    const base = (cr3 & 0xffffffe0) >>> 0;
    for (let i = 0; i < 4; i++) {
      const l = this.phys.read(base + i * 8, 4);
      const h = this.phys.read(base + i * 8 + 4, 4);
      if (l & PTE_P && (l & PDPTE_LO_RSVD || h & (this.hiRsvd | PTE_HI_XD))) return false;
      lo[i] = l;
      hi[i] = h;
    }
    return true;
  }

  /**
   * Is an access of `kind` allowed to a page with the combined rights `us`, `rw` (non-zero when
   * set in every entry) and `xd` (set in some entry, with NXE)? SDM 4.6.
   */
  private allowed(kind: number, us: number, rw: number, xd: number): boolean {
    if (kind & ACCESS_USER) {
      if (!us) return false;
      if (kind & ACCESS_WRITE) return rw !== 0;
      if (kind & ACCESS_FETCH) return !xd;
      return true;
    }
    if (kind & ACCESS_FETCH) return !xd && !(us && this.smep);
    // Supervisor data access: SMAP blocks user pages unless overridden; an implicit supervisor
    // access is one made at CPL 3 without ACCESS_USER, and is never overridden.
    if (us && this.smap && (this.cpl === 3 || !this.ac)) return false;
    if (kind & ACCESS_WRITE && this.wp) return rw !== 0;
    return true;
  }

  /** Error code bits describing the access (W/R, U/S, I/D). */
  private accessBits(kind: number): number {
    return (
      (kind & ACCESS_WRITE ? PF_W : 0) |
      (kind & ACCESS_USER ? PF_U : 0) |
      (kind & ACCESS_FETCH ? this.idBit : 0)
    );
  }

  /** Set `bits` in the entry at `addr` if `seen` lacks one of them (locked RMW of the low dword). */
  private setBits(addr: number, seen: number, bits: number): void {
    if ((seen & bits) === bits) return;
    const cur = this.phys.read(addr, 4);
    if ((cur & bits) !== bits) this.phys.write(addr, 4, (cur | bits) >>> 0);
  }

  /**
   * Translate `lin` (uint32) for `kind`. Returns −1 on success (results in ppn/flags/leaf/dir) or
   * the #PF error code.
   */
  walk(lin: number, kind: number): number {
    if (!this.paging) {
      this.ppn = lin >>> 12;
      this.flags = 0;
      this.leaf = -1;
      this.dir = -1;
      return -1;
    }
    return this.pae ? this.walkPae(lin, kind) : this.walk32(lin, kind);
  }

  private table(addr: number): void {
    if (this.onTableFrame !== null) this.onTableFrame(Math.floor(addr / 4096));
  }

  /** 32-bit paging, SDM 4.3. */
  private walk32(lin: number, kind: number): number {
    const pdeAddr = ((this.cr3 & 0xfffff000) | ((lin >>> 22) << 2)) >>> 0;
    this.table(pdeAddr);
    const pde = this.phys.read(pdeAddr, 4);
    if (!(pde & PTE_P)) return this.accessBits(kind);
    const write = kind & ACCESS_WRITE ? PTE_D : 0;
    if (this.pse && pde & PTE_PS) {
      if (pde & this.pde4mRsvd) return PF_P | PF_RSVD | this.accessBits(kind);
      if (!this.allowed(kind, pde & PTE_US, pde & PTE_RW, 0)) return PF_P | this.accessBits(kind);
      this.setBits(pdeAddr, pde, PTE_A | write);
      this.ppn = ((pde >>> 13) & this.physHiMask) * TWO20 + (pde >>> 22) * 1024 + ((lin >>> 12) & 0x3ff);
      this.flags =
        WALK_LARGE | (this.pge && pde & PTE_G ? WALK_GLOBAL : 0) | (pde & PTE_US ? WALK_USER_PAGE : 0);
      this.leaf = pdeAddr;
      this.dir = -1;
      return -1;
    }
    const pteAddr = ((pde & 0xfffff000) | (((lin >>> 12) & 0x3ff) << 2)) >>> 0;
    this.table(pteAddr);
    const pte = this.phys.read(pteAddr, 4);
    if (!(pte & PTE_P)) return this.accessBits(kind);
    const us = pde & pte & PTE_US;
    if (!this.allowed(kind, us, pde & pte & PTE_RW, 0)) return PF_P | this.accessBits(kind);
    this.setBits(pdeAddr, pde, PTE_A);
    this.setBits(pteAddr, pte, PTE_A | write);
    this.ppn = pte >>> 12;
    this.flags = (this.pge && pte & PTE_G ? WALK_GLOBAL : 0) | (us ? WALK_USER_PAGE : 0);
    this.leaf = pteAddr;
    this.dir = pdeAddr;
    return -1;
  }

  /** PAE paging, SDM 4.4. */
  private walkPae(lin: number, kind: number): number {
    const idx = lin >>> 30;
    const pdpte = this.pdpteLo[idx]!;
    if (!(pdpte & PTE_P)) return this.accessBits(kind);
    const rsvdHi = this.hiRsvd | (this.nxe ? 0 : PTE_HI_XD);
    const pdeAddr =
      (this.pdpteHi[idx]! & this.physHiMask) * TWO32 +
      ((pdpte & 0xfffff000) >>> 0) +
      ((lin >>> 21) & 0x1ff) * 8;
    this.table(pdeAddr);
    const pdeLo = this.phys.read(pdeAddr, 4);
    if (!(pdeLo & PTE_P)) return this.accessBits(kind);
    const pdeHi = this.phys.read(pdeAddr + 4, 4);
    if (pdeHi & rsvdHi) return PF_P | PF_RSVD | this.accessBits(kind);
    const write = kind & ACCESS_WRITE ? PTE_D : 0;
    if (pdeLo & PTE_PS) {
      if (pdeLo & PDE2M_LO_RSVD) return PF_P | PF_RSVD | this.accessBits(kind);
      const xd = this.nxe ? pdeHi & PTE_HI_XD : 0;
      if (!this.allowed(kind, pdeLo & PTE_US, pdeLo & PTE_RW, xd)) return PF_P | this.accessBits(kind);
      this.setBits(pdeAddr, pdeLo, PTE_A | write);
      this.ppn = (pdeHi & this.physHiMask) * TWO20 + (pdeLo >>> 21) * 512 + ((lin >>> 12) & 0x1ff);
      this.flags =
        WALK_LARGE | (this.pge && pdeLo & PTE_G ? WALK_GLOBAL : 0) | (pdeLo & PTE_US ? WALK_USER_PAGE : 0);
      this.leaf = pdeAddr;
      this.dir = -1;
      return -1;
    }
    const pteAddr =
      (pdeHi & this.physHiMask) * TWO32 + ((pdeLo & 0xfffff000) >>> 0) + ((lin >>> 12) & 0x1ff) * 8;
    this.table(pteAddr);
    const pteLo = this.phys.read(pteAddr, 4);
    if (!(pteLo & PTE_P)) return this.accessBits(kind);
    const pteHi = this.phys.read(pteAddr + 4, 4);
    if (pteHi & rsvdHi) return PF_P | PF_RSVD | this.accessBits(kind);
    const us = pdeLo & pteLo & PTE_US;
    const xd = this.nxe ? (pdeHi | pteHi) & PTE_HI_XD : 0;
    if (!this.allowed(kind, us, pdeLo & pteLo & PTE_RW, xd)) return PF_P | this.accessBits(kind);
    this.setBits(pdeAddr, pdeLo, PTE_A);
    this.setBits(pteAddr, pteLo, PTE_A | write);
    this.ppn = (pteHi & this.physHiMask) * TWO20 + (pteLo >>> 12);
    this.flags = (this.pge && pteLo & PTE_G ? WALK_GLOBAL : 0) | (us ? WALK_USER_PAGE : 0);
    this.leaf = pteAddr;
    this.dir = pdeAddr;
    return -1;
  }
}
