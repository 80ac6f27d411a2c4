/**
 * A deliberately simple reference model of IA-32 paging for the differential test: no TLB, no
 * typed-array tricks, 64-bit entries as BigInt, every rule written out as the SDM states it
 * (Vol. 3 ch. 4: 4.3 32-bit paging, 4.4 PAE, 4.6 access rights, 4.7 #PF error code, 4.8 A/D,
 * 4.10 TLB invalidation). Guest RAM is a plain byte array; everything beyond it is a hole.
 *
 * The model also keeps the set of translations a TLB *may* still hold (SDM 4.10.2: only
 * translations from successful walks; 4.10.4: dropped by INVLPG, CR3 loads for non-global ones,
 * paging-mode changes, and a #PF for the faulting page), so the test can accept exactly the
 * outcomes a stale entry allows.
 */

export const READ = 0;
export const WRITE = 1;
export const USER = 2;
export const FETCH = 4;

const MAXPHYADDR = 36n;
const BIT = (n: number | bigint) => 1n << BigInt(n);
const bits = (hi: number, lo: number) => ((1n << BigInt(hi + 1)) - 1n) & ~((1n << BigInt(lo)) - 1n);

const P = 1n;
const RW = 2n;
const US = 4n;
const A = 0x20n;
const D = 0x40n;
const PS = 0x80n;
const G = 0x100n;
const XD = BIT(63);

export interface Control {
  cr0: number;
  cr3: number;
  cr4: number;
  efer: number;
  cpl: number;
  ac: boolean;
}

const PG = (c: Control) => (c.cr0 >>> 31) & 1;
const WP = (c: Control) => (c.cr0 >>> 16) & 1;
const PSE = (c: Control) => (c.cr4 >>> 4) & 1;
const PAE = (c: Control) => (c.cr4 >>> 5) & 1;
const PGE = (c: Control) => (c.cr4 >>> 7) & 1;
const SMEP = (c: Control) => (c.cr4 >>> 20) & 1;
const SMAP = (c: Control) => (c.cr4 >>> 21) & 1;
const NXE = (c: Control) => (c.efer >>> 11) & 1;

/** A translation a TLB may hold: a linear range mapped to a physical base with its rights. */
export interface Translation {
  linBase: number;
  size: number;
  physBase: number;
  us: boolean;
  rw: boolean;
  xd: boolean;
  dirty: boolean;
  global: boolean;
}

export type WalkResult = { ok: true; phys: number; t: Translation } | { ok: false; code: number };

export class RefMachine {
  readonly mem: Uint8Array;
  ctl: Control = { cr0: 0, cr3: 0, cr4: 0, efer: 0, cpl: 0, ac: false };
  pdpte: bigint[] = [0n, 0n, 0n, 0n];
  cached: Translation[] = [];
  /** Undo log of byte writes: address, old value. */
  journal: number[] = [];

  constructor(mem: Uint8Array) {
    this.mem = mem;
  }

  // ---- physical memory: RAM then holes ---------------------------------------------------------

  readByte(pa: number): number {
    return pa < this.mem.length ? this.mem[pa]! : 0xff;
  }
  writeByte(pa: number, v: number): void {
    if (pa >= this.mem.length) return;
    this.journal.push(pa, this.mem[pa]!);
    this.mem[pa] = v & 0xff;
  }
  read64(pa: number): bigint {
    let v = 0n;
    for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(this.readByte(pa + i));
    return v;
  }
  read32(pa: number): bigint {
    return this.read64(pa) & 0xffffffffn;
  }
  rollback(mark: number): void {
    while (this.journal.length > mark) {
      const old = this.journal.pop()!;
      const pa = this.journal.pop()!;
      this.mem[pa] = old;
    }
  }

  // ---- control -----------------------------------------------------------------------------------

  /** SDM 4.4.1: load PDPTE registers; false if a present one has a reserved bit. */
  private loadPdptes(cr3: number): boolean {
    const base = cr3 & 0xffffffe0;
    const next: bigint[] = [];
    for (let i = 0; i < 4; i++) {
      const e = this.read64((base >>> 0) + 8 * i);
      const reserved = bits(2, 1) | bits(8, 5) | bits(63, Number(MAXPHYADDR));
      if (e & P && e & reserved) return false;
      next.push(e);
    }
    this.pdpte = next;
    return true;
  }

  /** The effect of MOV to CR0/CR3/CR4, WRMSR EFER, or a CPL / EFLAGS.AC change. */
  setControl(c: Control): boolean {
    const o = this.ctl;
    const paeAfter = PG(c) === 1 && PAE(c) === 1;
    const reload =
      c.cr3 !== o.cr3 ||
      PG(c) !== PG(o) ||
      ((c.cr0 ^ o.cr0) & (3 << 29)) !== 0 ||
      PAE(c) !== PAE(o) ||
      PGE(c) !== PGE(o) ||
      PSE(c) !== PSE(o) ||
      SMEP(c) !== SMEP(o);
    if (paeAfter && reload && !this.loadPdptes(c.cr3)) return false;
    const modeChange =
      PG(c) !== PG(o) ||
      WP(c) !== WP(o) ||
      PSE(c) !== PSE(o) ||
      PAE(c) !== PAE(o) ||
      PGE(c) !== PGE(o) ||
      SMEP(c) !== SMEP(o) ||
      SMAP(c) !== SMAP(o) ||
      NXE(c) !== NXE(o);
    if (modeChange) this.cached = [];
    else if (c.cr3 !== o.cr3) this.cached = this.cached.filter((t) => t.global);
    this.ctl = { ...c };
    return true;
  }

  /** MOV to CR3 (same value or not). */
  loadCr3(cr3: number): boolean {
    if (PG(this.ctl) && PAE(this.ctl) && !this.loadPdptes(cr3)) return false;
    this.ctl = { ...this.ctl, cr3 };
    this.cached = this.cached.filter((t) => t.global);
    return true;
  }

  invlpg(lin: number): void {
    this.cached = this.cached.filter((t) => !(lin >= t.linBase && lin < t.linBase + t.size));
  }

  /** INVLPG of each address in `lins`. */
  invlpgMany(lins: readonly number[]): void {
    this.cached = this.cached.filter(
      (t) => !lins.some((lin) => lin >= t.linBase && lin < t.linBase + t.size),
    );
  }

  flushAll(): void {
    this.cached = [];
  }

  // ---- SDM 4.6: access rights --------------------------------------------------------------------

  permitted(kind: number, us: boolean, rw: boolean, xd: boolean): boolean {
    const c = this.ctl;
    if (kind & USER) {
      // User-mode access: only user-mode addresses.
      if (!us) return false;
      if (kind & FETCH) return !xd;
      if (kind & WRITE) return rw;
      return true;
    }
    // Supervisor-mode access.
    if (kind & FETCH) {
      if (xd) return false;
      if (us && SMEP(c)) return false;
      return true;
    }
    if (us && SMAP(c)) {
      // Explicit accesses with CPL < 3 and AC = 1 are allowed; implicit ones (CPL 3 here) never.
      const explicitWithAc = c.cpl < 3 && c.ac;
      if (!explicitWithAc) return false;
    }
    if (kind & WRITE && !rw && WP(c)) return false;
    return true;
  }

  /** SDM 4.7: the error-code bits describing the access. */
  accessBits(kind: number): number {
    const c = this.ctl;
    let code = 0;
    if (kind & WRITE) code |= 2;
    if (kind & USER) code |= 4;
    if (kind & FETCH && (SMEP(c) || (PAE(c) && NXE(c)))) code |= 0x10;
    return code;
  }

  // ---- the walk ----------------------------------------------------------------------------------

  /** Translate `lin` for `kind` from memory (no TLB), applying A/D updates on success. */
  walk(lin: number, kind: number): WalkResult {
    const c = this.ctl;
    if (!PG(c)) {
      const page = lin - (lin % 4096);
      return {
        ok: true,
        phys: lin,
        t: {
          linBase: page,
          size: 4096,
          physBase: page,
          us: true,
          rw: true,
          xd: false,
          dirty: true,
          global: false,
        },
      };
    }
    const notPresent = { ok: false, code: this.accessBits(kind) } as const;
    const reserved = { ok: false, code: 1 | 8 | this.accessBits(kind) } as const;
    const used: { addr: number; value: bigint }[] = [];
    let pageBase: number;
    let size: number;
    if (PAE(c)) {
      const pdpte = this.pdpte[lin >>> 30]!;
      if (!(pdpte & P)) return notPresent;
      const addrMask = bits(Number(MAXPHYADDR) - 1, 12);
      const rsvd = bits(62, Number(MAXPHYADDR)) | (NXE(c) ? 0n : XD);
      const pdeAddr = Number(pdpte & addrMask) + ((lin >>> 21) & 511) * 8;
      const pde = this.read64(pdeAddr);
      if (!(pde & P)) return notPresent;
      if (pde & rsvd) return reserved;
      used.push({ addr: pdeAddr, value: pde });
      if (pde & PS) {
        if (pde & bits(20, 13)) return reserved;
        pageBase = Number(pde & bits(Number(MAXPHYADDR) - 1, 21));
        size = 2 << 20;
      } else {
        const pteAddr = Number(pde & addrMask) + ((lin >>> 12) & 511) * 8;
        const pte = this.read64(pteAddr);
        if (!(pte & P)) return notPresent;
        if (pte & rsvd) return reserved;
        used.push({ addr: pteAddr, value: pte });
        pageBase = Number(pte & addrMask);
        size = 4096;
      }
    } else {
      const pdeAddr = (c.cr3 & 0xfffff000) + (lin >>> 22) * 4;
      const pde = this.read32(pdeAddr >>> 0);
      if (!(pde & P)) return notPresent;
      used.push({ addr: pdeAddr >>> 0, value: pde });
      if (PSE(c) && pde & PS) {
        // Bits 20:13 hold physical bits 39:32 (PSE-36); those ≥ MAXPHYADDR, and bit 21, are reserved.
        if (pde & (BIT(21) | bits(20, 13 + Number(MAXPHYADDR) - 32))) return reserved;
        pageBase = Number((pde & bits(31, 22)) | (((pde >> 13n) & 0xffn) << 32n));
        size = 4 << 20;
      } else {
        const pteAddr = Number(pde & bits(31, 12)) + ((lin >>> 12) & 1023) * 4;
        const pte = this.read32(pteAddr);
        if (!(pte & P)) return notPresent;
        used.push({ addr: pteAddr, value: pte });
        pageBase = Number(pte & bits(31, 12));
        size = 4096;
      }
    }
    const us = used.every((e) => (e.value & US) !== 0n);
    const rw = used.every((e) => (e.value & RW) !== 0n);
    const xd = PAE(c) === 1 && NXE(c) === 1 && used.some((e) => (e.value & XD) !== 0n);
    if (!this.permitted(kind, us, rw, xd)) return { ok: false, code: 1 | this.accessBits(kind) };
    // SDM 4.8: A in every entry used; D in the leaf for a write (read-modify-write of the entry).
    const leaf = used[used.length - 1]!;
    for (const e of used) {
      const want = e === leaf && kind & WRITE ? A | D : A;
      const cur = this.read32(e.addr);
      if ((cur & want) !== want) {
        const v = Number(cur | want);
        for (let i = 0; i < 4; i++) this.writeByte(e.addr + i, v >>> (8 * i));
      }
    }
    const dirty = (this.read32(leaf.addr) & D) !== 0n;
    const global = PGE(c) === 1 && (leaf.value & G) !== 0n;
    const linBase = lin - (lin % size);
    return {
      ok: true,
      phys: pageBase + (lin - linBase),
      t: { linBase, size, physBase: pageBase, us, rw, xd, dirty, global },
    };
  }

  /** Outcomes a possibly cached translation allows for this access (no memory effect). */
  cachedOptions(lin: number, kind: number, globalOnly = false): number[] {
    const out: number[] = [];
    for (const t of this.cached) {
      if (globalOnly && !t.global) continue;
      if (lin < t.linBase || lin >= t.linBase + t.size) continue;
      if (!this.permitted(kind, t.us, t.rw, t.xd)) continue;
      if (kind & WRITE && !t.dirty) continue;
      const phys = t.physBase + (lin - t.linBase);
      if (!out.includes(phys)) out.push(phys);
    }
    return out;
  }
}
