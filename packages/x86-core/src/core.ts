/**
 * The vCPU's state and its access layer: typed-array registers and segment caches, lazy-flag
 * fields, the decoded-instruction fields, and the memory, fetch and stack primitives of the hot
 * path (inline SoftTlb lookup, segment limit and rights checks). `Cpu` (cpu.ts) adds the public
 * API on top; the instruction semantics are free functions over `Cpu` in the topic files.
 */
import type { CpuTraps, Hypervisor, InterruptLine, IoBus, Memory, MsrBus } from './bus';
import { ACCESS_FETCH, ACCESS_READ, ACCESS_USER, ACCESS_WRITE, EXIT_KINDS, TLB_KINDS } from './bus';
import type { MachineClock } from './clock';
import { CR0_PE, EXC_GP, EXC_SS, FLAG_1, SREG_CS, SREG_DS, SREG_SS } from './constants';
import type { CpuidModel } from './cpuid';
import { getEflags } from './flags';
import { GUEST_FAULT, STOP_NONE } from './signals';

/** Entries per page-map kind: one per 4-KiB page of the 32-bit linear address space. */
const LINEAR_PAGES = 1 << 20;
/**
 * A page map where every page is absent (all zeros ⇒ `~0 = −1`, odd): the CPU uses it for a Memory
 * without `tlb.pageMap` and while data breakpoints watch every access, so all accesses take the
 * slow path through `memory` (correct, just slower). Shared and never written; allocated on first use.
 */
let emptyPageMap: readonly Int32Array[] | undefined;
function noPageMap(): readonly Int32Array[] {
  if (emptyPageMap === undefined) emptyPageMap = Array(TLB_KINDS).fill(new Int32Array(LINEAR_PAGES));
  return emptyPageMap;
}

/** What the core is built from (validated by Cpu). */
export interface CoreDeps {
  memory: Memory;
  io: IoBus | null;
  msr: MsrBus | null;
  interrupts: InterruptLine | null;
  hypervisor: Hypervisor | null;
  traps: CpuTraps | null;
  clock: MachineClock;
  cpuid: CpuidModel;
  exitCost: number;
  exitMask: number;
  cyclesPerInstruction: number;
}

export class CpuCore {
  /** EAX..EDI in the SDM's encoding order. */
  readonly regs = new Int32Array(8);
  /** Byte view of `regs` (AL = 0, AH = 1, CL = 4 …). */
  readonly r8 = new Uint8Array(this.regs.buffer);
  /** Word view of `regs` (AX = 0, CX = 2 …). */
  readonly r16 = new Uint16Array(this.regs.buffer);

  /** Segment caches, indexed by SREG_* (ES, CS, SS, DS, FS, GS, LDTR, TR). */
  readonly segSel = new Uint16Array(8);
  readonly segBase = new Int32Array(8);
  /** Highest offset valid for reads (−1: unusable — null selector or execute-only code). */
  readonly segLimit = new Float64Array(8);
  /** Highest offset valid for writes (−1: not writable in protected mode, SDM §5.5). */
  readonly segWLimit = new Float64Array(8);
  /** The descriptor's byte-granular limit as loaded. */
  readonly segRawLimit = new Float64Array(8);
  /** Lowest valid offset (non-zero only for expand-down data segments). */
  readonly segLow = new Float64Array(8);
  readonly segAttr = new Uint16Array(8);
  /** Descriptor-table registers: GDTR base, GDTR limit, IDTR base, IDTR limit. */
  readonly dtr = new Float64Array(4);
  /** CR0..CR7 (CR1, CR5..7 unused). */
  readonly cr = new Int32Array(8);
  /** DR0..DR7 (DR4/DR5 alias DR6/DR7 when CR4.DE = 0). */
  readonly dr = new Int32Array(8);
  /** Exits to the host per kind (EXIT_*). */
  readonly exitCounts = new Float64Array(EXIT_KINDS);

  /** EIP (as a signed 32-bit value; use the `eip` accessor for the unsigned value). */
  ip = 0;
  /** EFLAGS; the six arithmetic flags are stale while `ccOp` ≠ CC_NONE (flags.ts). */
  flags = FLAG_1;
  /** Lazy-flag state (flags.ts). */
  ccOp = 0;
  ccA = 0;
  ccB = 0;
  ccR = 0;
  ccSz = 31;
  ccC = 0;

  /** Current privilege level and cached mode bits. */
  cplValue = 0;
  code32 = false;
  stack32 = false;
  csBase = 0;
  csLimit = 0xffff;

  /** Decoded instruction (decode.ts fills these; the executors read them). */
  op = 0;
  mod = 0;
  reg = 0;
  rm = 0;
  o32 = false;
  a32 = false;
  seg = SREG_DS;
  segOverride = -1;
  rep = 0;
  isMem = false;
  eaBase = -1;
  eaIndex = -1;
  eaScale = 0;
  eaDisp = 0;
  imm = 0;
  imm2 = 0;
  startIp = 0;
  startSp = 0;
  /** RAM position after the memory operand decoded by the run loop's hot path (hot.ts hotEa). */
  hotNext = 0;

  /** Fetch window: EIPs in [fetchStart, fetchEnd) read ram[ip + fetchBias] (see fetch8). */
  fetchStart = 0;
  fetchEnd = 0;
  fetchBias = 0;

  /**
   * Debug slow path (debug.ts): non-zero (ARM_*) while a DR7 breakpoint is enabled or a #DB trap is
   * pending; the run loop checks it with EFLAGS.TF/RF once per instruction.
   */
  dbgArm = 0;
  /** Enabled instruction, data and I/O breakpoints (bit n: DRn). */
  dbgExec = 0;
  dbgData = 0;
  dbgIo = 0;
  /** DR6 B0–B3 conditions met by the current instruction's accesses (a trap after it). */
  dbgHits = 0;
  /** Debug traps held over a MOV SS/POP SS boundary (SDM §6.8.3). */
  dbgCarry = 0;
  /** DR6 bits of a #DB due before the next instruction (task-switch trap). */
  dbgNow = 0;
  /** The #DB being raised is an instruction-breakpoint fault (its EFLAGS image keeps RF = 0). */
  dbgBreakpointFault = false;
  /** Elements a repeated string instruction runs per step (1 while single-stepping or watching data). */
  repChunk = 4096;

  /** Guest RAM views of the software TLB (memory.tlb), read and written on a TLB hit. */
  ram: Uint8Array;
  ram16: Uint16Array;
  ram32: Int32Array;
  /**
   * Page-map views (bus.ts `SoftTlb.pageMap`) of the current CPL's read/write/fetch kinds: entry
   * `lin >>> 12` holds `~offset` while that page is cached, else 0 (see refreshPageMaps).
   */
  mapRead: Int32Array;
  mapWrite: Int32Array;
  mapFetch: Int32Array;
  /** Access kinds for the slow path (ACCESS_* | user). */
  kindRead = ACCESS_READ;
  kindWrite = ACCESS_WRITE;
  kindFetch = ACCESS_FETCH;

  /** Retired instructions. */
  icount = 0;
  /** Pending run-loop stop (STOP_*). */
  stopCode = STOP_NONE;
  halted = false;
  /** Triple fault: the CPU is shut down until reset(). */
  shutdown = false;
  /** NMIs are blocked from NMI delivery until the next IRET (SDM §6.7.1). */
  nmiBlocked = false;
  /** Skip the host breakpoint at this EIP once (resuming after a 'breakpoint' exit). */
  resumeBp = -1;
  /** Interrupts are inhibited at the boundary where icount equals this (STI / MOV SS shadow). */
  shadowAt = -1;
  /**
   * Set while a committed task switch loads the new task's segments: a fault raised then belongs to
   * the new task (SDM §7.3), so neither the run loop nor deliver() rolls state back to the old one.
   */
  newContextFault = false;
  /** Exception being delivered (for #DF / triple fault), −1 when none. */
  delivering = -1;
  /** Vector of the last exception or interrupt delivered (−1: none since reset); diagnostic. */
  lastVector = -1;
  /** The raised exception (set by raise(), consumed by the run loop). */
  excVector = 0;
  excError = -1;
  /** TSC = clock cycles + tscOffset (MSR 0x10 writes adjust the offset). */
  tscOffset = 0;
  apicBase = 0xfee00900;
  /** IA32_SYSENTER_CS / _ESP / _EIP (MSRs 0x174–0x176; sysenter.ts). */
  sysenterCs = 0;
  sysenterEsp = 0;
  sysenterEip = 0;
  /** Host breakpoints on linear addresses (exit 'breakpoint'; changes take effect at the next run()). */
  readonly breakpoints = new Set<number>();
  hasBreakpoints = false;
  /** The clock was synced at this instruction count. */
  syncedAt = 0;
  /** Cycles of exit cost charged but not yet pushed to the clock. */
  pendingCycles = 0;

  /**
   * The Memory the CPU calls on a TLB miss: `hostMemory`, or while data breakpoints are enabled a
   * wrapper that watches accesses (debug.ts).
   */
  memory: Memory;
  /** The Memory given to the constructor. */
  readonly hostMemory: Memory;
  readonly io: IoBus | null;
  readonly msr: MsrBus | null;
  readonly interrupts: InterruptLine | null;
  readonly hypervisor: Hypervisor | null;
  readonly traps: CpuTraps | null;
  readonly clock: MachineClock;
  readonly cpuid: CpuidModel;
  readonly exitCost: number;
  /** Bit k set: events of exit kind k are exits (counted and charged). */
  readonly exitMask: number;
  readonly cyclesPerInstruction: number;

  constructor(deps: CoreDeps) {
    const mem = deps.memory;
    this.memory = mem;
    this.hostMemory = mem;
    this.io = deps.io;
    this.msr = deps.msr;
    this.interrupts = deps.interrupts;
    this.hypervisor = deps.hypervisor;
    this.traps = deps.traps;
    this.clock = deps.clock;
    this.cpuid = deps.cpuid;
    this.exitCost = deps.exitCost;
    this.exitMask = deps.exitMask;
    this.cyclesPerInstruction = deps.cyclesPerInstruction;
    const tlb = mem.tlb;
    this.ram = tlb.ram;
    this.ram16 = tlb.ram16;
    this.ram32 = tlb.ram32;
    const empty = noPageMap()[0]!;
    this.mapRead = empty;
    this.mapWrite = empty;
    this.mapFetch = empty;
    this.refreshPageMaps();
  }

  /**
   * Points mapRead/mapWrite/mapFetch at the page maps of the current access kinds. Called when the
   * kinds change (setCpl) and when `memory` is swapped (data breakpoints, debug.ts): a Memory without
   * a page map, or a wrapper that must see every access, gets the always-empty map.
   */
  refreshPageMaps(): void {
    const pm = (this.memory === this.hostMemory ? this.memory.tlb.pageMap : undefined) ?? noPageMap();
    this.mapRead = pm[this.kindRead]!;
    this.mapWrite = pm[this.kindWrite]!;
    this.mapFetch = pm[this.kindFetch]!;
  }

  /** Raises guest exception `vector` (error code −1: none) and unwinds the instruction. */
  raise(vector: number, errorCode: number): never {
    this.excVector = vector;
    this.excError = errorCode;
    throw GUEST_FAULT;
  }

  /** #GP(0) or, for SS, #SS(0). */
  segFault(seg: number): never {
    return this.raise(seg === SREG_SS ? EXC_SS : EXC_GP, 0);
  }
  /** Writes a cache entry and refreshes the cached mode bits. */
  setSegmentCache(sreg: number, selector: number, base: number, limit: number, attr: number): void {
    this.segSel[sreg] = selector;
    this.segBase[sreg] = base;
    this.segAttr[sreg] = attr;
    this.segRawLimit[sreg] = limit;
    this.refreshSegmentRights(sreg);
    if (sreg === SREG_CS) {
      this.code32 = (attr & 0x4000) !== 0;
      this.csBase = base;
      this.csLimit = limit;
      this.invalidateFetch();
    } else if (sreg === SREG_SS) {
      this.stack32 = (attr & 0x4000) !== 0;
    }
  }

  /**
   * Derives the read/write offset ranges of a segment from its cached limit and type (SDM
   * §5.3–5.5): expand-down data segments are valid above the limit; in protected mode, code is
   * never writable and execute-only code not readable, read-only data not writable. Real and
   * virtual-8086 mode do not check the type.
   */
  refreshSegmentRights(sreg: number): void {
    const attr = this.segAttr[sreg]!;
    const limit = this.segRawLimit[sreg]!;
    let lo = 0;
    let hi = limit;
    if ((attr & 0x1c) === 0x14) {
      lo = limit + 1;
      hi = attr & 0x4000 ? 0xffffffff : 0xffff;
    }
    this.segLow[sreg] = lo;
    const checked = (this.cr[0]! & CR0_PE) !== 0 && (this.flags & 0x20000) === 0;
    if (!checked) {
      this.segLimit[sreg] = hi;
      this.segWLimit[sreg] = hi;
      return;
    }
    const code = (attr & 0x18) === 0x18;
    const data = (attr & 0x18) === 0x10;
    this.segLimit[sreg] = data || (code && attr & 2) ? hi : -1;
    this.segWLimit[sreg] = data && attr & 2 ? hi : -1;
  }

  /** Re-derives every segment's rights (after CR0.PE or EFLAGS.VM changes). */
  refreshAllSegmentRights(): void {
    for (let s = 0; s < 6; s++) if (this.segAttr[s] !== 0) this.refreshSegmentRights(s);
  }

  /** Marks a data segment register unusable (null selector in protected mode). */
  setSegmentNull(sreg: number, selector: number): void {
    this.segSel[sreg] = selector;
    this.segBase[sreg] = 0;
    this.segAttr[sreg] = 0;
    this.segLow[sreg] = 0;
    this.segLimit[sreg] = -1;
    this.segWLimit[sreg] = -1;
    this.segRawLimit[sreg] = 0;
  }

  /** Changes CPL and the TLB access kinds that depend on it; tells the MMU. */
  setCpl(cpl: number): void {
    this.cplValue = cpl;
    const user = cpl === 3 ? ACCESS_USER : 0;
    this.kindRead = ACCESS_READ | user;
    this.kindWrite = ACCESS_WRITE | user;
    this.kindFetch = ACCESS_FETCH | user;
    this.refreshPageMaps();
    this.invalidateFetch();
  }

  /**
   * Pushes CR0/CR3/CR4/CPL/AC to the memory side (DESIGN.md §3). Returns false when the MMU refused
   * the new state (PAE PDPTEs with reserved bits set): the caller raises #GP(0) (SDM §4.4.1).
   */
  pushPagingState(): boolean {
    this.invalidateFetch();
    const ok = this.memory.setPagingState({
      cr0: this.cr[0]! >>> 0,
      cr3: this.cr[3]! >>> 0,
      cr4: this.cr[4]! >>> 0,
      efer: 0,
      cpl: this.cplValue,
      ac: (this.flags & 0x40000) !== 0,
    });
    return ok !== false;
  }

  /** Brings the clock up to the current instruction (before any call out to a bus). */
  syncClock(): void {
    // Every call out of the CPU (memory slow path, buses, hypervisor) goes through here; the
    // callee may change the TLB, so the fetch window closes (see fetch8).
    this.fetchStart = 0;
    this.fetchEnd = 0;
    const n = this.icount - this.syncedAt;
    this.syncedAt = this.icount;
    const c = n * this.cyclesPerInstruction + this.pendingCycles;
    this.pendingCycles = 0;
    this.clock.advance(c);
  }

  /** Counts an exit of `kind` and charges its cost in virtual cycles. */
  countExit(kind: number): void {
    // Events the host's virtualization model does not trap (e.g. CR3 loads and INVLPG with
    // nested paging) are neither counted nor charged.
    if (((this.exitMask >>> kind) & 1) === 0) return;
    this.exitCounts[kind]!++;
    this.pendingCycles += this.exitCost;
    this.syncClock();
  }

  // ---- linear memory (inline page-map hit; everything else out of line) ---------------------
  //
  // `o = ~map[lin >>> 12]` is −1 (odd) when the page is not cached for the access kind, else the
  // slot's offset (a multiple of 4096; bus.ts SoftTlb.pageMap). So `((lin | o) & 3) === 0` means
  // "cached and dword-aligned" (cannot straddle a page), `((lin | o) & 1) === 0` "cached and
  // word-aligned", `(o & 1) === 0` "cached". Only that test and the typed-array access stay inline;
  // unaligned hits and misses go to the *Slow methods, whose results get `| 0` so the caller keeps
  // int32 arithmetic (V8).

  lr8(lin: number): number {
    const o = ~this.mapRead[lin >>> 12]!;
    if ((o & 1) === 0) return this.ram[(lin + o) >>> 0]!;
    return this.lr8Slow(lin) | 0;
  }
  lr8Slow(lin: number): number {
    this.syncClock();
    return this.memory.read8(lin >>> 0, this.kindRead) & 0xff;
  }
  lr16(lin: number): number {
    const o = ~this.mapRead[lin >>> 12]!;
    if (((lin | o) & 1) === 0) return this.ram16[((lin + o) | 0) >>> 1]!;
    return this.lr16Slow(lin, o) | 0;
  }
  /** lr16 unless a word-aligned hit; `o` is the page-map lookup (−1: not cached). */
  lr16Slow(lin: number, o: number): number {
    if ((o & 1) === 0 && (lin & 0xfff) !== 0xfff) {
      const a = (lin + o) >>> 0;
      return this.ram[a]! | (this.ram[a + 1]! << 8);
    }
    this.syncClock();
    return this.memory.read16(lin >>> 0, this.kindRead) & 0xffff;
  }
  /** Returns a signed 32-bit value. */
  lr32(lin: number): number {
    const o = ~this.mapRead[lin >>> 12]!;
    if (((lin | o) & 3) === 0) return this.ram32[((lin + o) | 0) >>> 2]!;
    return this.lr32Slow(lin, o) | 0;
  }
  /** lr32 unless a dword-aligned hit; `o` is the page-map lookup (−1: not cached). */
  lr32Slow(lin: number, o: number): number {
    if ((o & 1) === 0 && (lin & 0xfff) <= 0xffc) {
      const r = this.ram;
      const a = (lin + o) >>> 0;
      return r[a]! | (r[a + 1]! << 8) | (r[a + 2]! << 16) | (r[a + 3]! << 24);
    }
    this.syncClock();
    return this.memory.read32(lin >>> 0, this.kindRead) | 0;
  }
  lw8(lin: number, v: number): void {
    const o = ~this.mapWrite[lin >>> 12]!;
    if ((o & 1) === 0) this.ram[(lin + o) >>> 0] = v;
    else this.lw8Slow(lin, v);
  }
  lw8Slow(lin: number, v: number): void {
    this.syncClock();
    this.memory.write8(lin >>> 0, v & 0xff, this.kindWrite);
  }
  lw16(lin: number, v: number): void {
    const o = ~this.mapWrite[lin >>> 12]!;
    if (((lin | o) & 1) === 0) this.ram16[((lin + o) | 0) >>> 1] = v;
    else this.lw16Slow(lin, v, o);
  }
  /** lw16 unless a word-aligned hit; `o` is the page-map lookup (−1: not cached). */
  lw16Slow(lin: number, v: number, o: number): void {
    if ((o & 1) === 0 && (lin & 0xfff) !== 0xfff) {
      const a = (lin + o) >>> 0;
      this.ram[a] = v;
      this.ram[a + 1] = v >> 8;
      return;
    }
    this.syncClock();
    this.memory.write16(lin >>> 0, v & 0xffff, this.kindWrite);
  }
  lw32(lin: number, v: number): void {
    const o = ~this.mapWrite[lin >>> 12]!;
    if (((lin | o) & 3) === 0) this.ram32[((lin + o) | 0) >>> 2] = v;
    else this.lw32Slow(lin, v, o);
  }
  /** lw32 unless a dword-aligned hit; `o` is the page-map lookup (−1: not cached). */
  lw32Slow(lin: number, v: number, o: number): void {
    if ((o & 1) === 0 && (lin & 0xfff) <= 0xffc) {
      const r = this.ram;
      const a = (lin + o) >>> 0;
      r[a] = v;
      r[a + 1] = v >> 8;
      r[a + 2] = v >> 16;
      r[a + 3] = v >> 24;
      return;
    }
    this.syncClock();
    this.memory.write32(lin >>> 0, v >>> 0, this.kindWrite);
  }

  /** Probes that a write of `len` bytes at `lin` is allowed without storing (for multi-part writes). */
  probeWrite(lin: number, len: number): void {
    const o = ~this.mapWrite[lin >>> 12]!;
    if ((o & 1) === 0 && (lin & 0xfff) <= 0x1000 - len) return;
    // Read-modify-write of the same value through the slow path makes the MMU check both pages.
    // The read is a supervisor access so that a user-mode probe reports the write's #PF error code.
    for (let k = 0; k < len; k += len - 1 || 1) {
      const a = (lin + k) | 0;
      this.syncClock();
      this.memory.write8(a >>> 0, this.memory.read8(a >>> 0, ACCESS_READ), this.kindWrite);
    }
  }

  // ---- segmented memory (limit checks, SDM Vol. 3 §5.3) -----------------------------------

  /** Checks offset `off` (unsigned) + `n` − 1 against segment `seg` and returns the linear address. */
  lin(seg: number, off: number, n: number): number {
    if (off > this.segLimit[seg]! - n || off < this.segLow[seg]!) this.segFault(seg);
    return (this.segBase[seg]! + off) | 0;
  }
  /** Like lin() for a write access. */
  linW(seg: number, off: number, n: number): number {
    if (off > this.segWLimit[seg]! - n || off < this.segLow[seg]!) this.segFault(seg);
    return (this.segBase[seg]! + off) | 0;
  }
  rd8(seg: number, off: number): number {
    return this.lr8(this.lin(seg, off, 0));
  }
  rd16(seg: number, off: number): number {
    return this.lr16(this.lin(seg, off, 1));
  }
  rd32(seg: number, off: number): number {
    return this.lr32(this.lin(seg, off, 3));
  }
  wr8(seg: number, off: number, v: number): void {
    this.lw8(this.linW(seg, off, 0), v);
  }
  wr16(seg: number, off: number, v: number): void {
    this.lw16(this.linW(seg, off, 1), v);
  }
  wr32(seg: number, off: number, v: number): void {
    this.lw32(this.linW(seg, off, 3), v);
  }

  // ---- instruction fetch ------------------------------------------------------------------

  /**
   * Fetches the next instruction byte at CS:EIP. The fast path reads through a window of EIP values
   * that map into the current code page and lie inside the CS limit (SDM §5.3); it is opened by
   * fetchSlow from a TLB hit. The TLB can only change while the CPU calls out (syncClock closes the
   * window), on CS/CPL/paging changes (invalidateFetch) or between run() calls (runLoop closes it).
   */
  fetch8(): number {
    const ip = this.ip;
    this.ip = (ip + 1) | 0;
    if (ip < this.fetchEnd && ip >= this.fetchStart) return this.ram[ip + this.fetchBias]!;
    return this.fetchSlow(ip);
  }
  fetchSlow(ip: number): number {
    if (ip >>> 0 > this.csLimit) this.raise(EXC_GP, 0);
    const lin = (this.csBase + ip) | 0;
    let o = ~this.mapFetch[lin >>> 12]!;
    if ((o & 1) !== 0) {
      this.syncClock();
      const b = this.memory.read8(lin >>> 0, this.kindFetch) & 0xff;
      o = ~this.mapFetch[lin >>> 12]!;
      if ((o & 1) !== 0) return b; // not cacheable (MMIO, open bus, watched by data breakpoints)
    }
    const idx = (lin + o) >>> 0;
    const start = ip - (lin & 0xfff);
    if (start >= -0x80000000) {
      this.fetchStart = start;
      this.fetchEnd = Math.min(start + 4096, ip + (this.csLimit - (ip >>> 0)) + 1);
      this.fetchBias = idx - ip;
    }
    return this.ram[idx]!;
  }
  /** Closes the fetch window (CS, CPL, paging or TLB changed). */
  invalidateFetch(): void {
    this.fetchStart = 0;
    this.fetchEnd = 0;
  }
  fetch16(): number {
    const ip = this.ip;
    if (ip + 1 < this.fetchEnd && ip >= this.fetchStart) {
      const a = ip + this.fetchBias;
      this.ip = (ip + 2) | 0;
      return this.ram[a]! | (this.ram[a + 1]! << 8);
    }
    const b = this.fetch8();
    return b | (this.fetch8() << 8);
  }
  fetch32(): number {
    const ip = this.ip;
    if (ip + 3 < this.fetchEnd && ip >= this.fetchStart) {
      const a = ip + this.fetchBias;
      const r = this.ram;
      this.ip = (ip + 4) | 0;
      return r[a]! | (r[a + 1]! << 8) | (r[a + 2]! << 16) | (r[a + 3]! << 24);
    }
    const b = this.fetch16();
    return b | (this.fetch16() << 16);
  }

  // ---- stack ------------------------------------------------------------------------------

  push16(v: number): void {
    const sp = this.regs[4]!;
    if (this.stack32) {
      const n = (sp - 2) | 0;
      this.wr16(SREG_SS, n >>> 0, v);
      this.regs[4] = n;
    } else {
      const n = (sp - 2) & 0xffff;
      this.wr16(SREG_SS, n, v);
      this.r16[8] = n;
    }
  }
  push32(v: number): void {
    const sp = this.regs[4]!;
    if (this.stack32) {
      const n = (sp - 4) | 0;
      this.wr32(SREG_SS, n >>> 0, v);
      this.regs[4] = n;
    } else {
      const n = (sp - 4) & 0xffff;
      this.wr32(SREG_SS, n, v);
      this.r16[8] = n;
    }
  }
  pop16(): number {
    const sp = this.regs[4]!;
    if (this.stack32) {
      const v = this.rd16(SREG_SS, sp >>> 0);
      this.regs[4] = sp + 2;
      return v;
    }
    const v = this.rd16(SREG_SS, sp & 0xffff);
    this.r16[8] = sp + 2;
    return v;
  }
  pop32(): number {
    const sp = this.regs[4]!;
    if (this.stack32) {
      const v = this.rd32(SREG_SS, sp >>> 0);
      this.regs[4] = sp + 4;
      return v;
    }
    const v = this.rd32(SREG_SS, sp & 0xffff);
    this.r16[8] = sp + 4;
    return v;
  }
  /** Reads the stack at ESP + `delta` without popping (for instructions that must not fault half-done). */
  peek16(delta: number): number {
    const sp = this.regs[4]! + delta;
    return this.rd16(SREG_SS, this.stack32 ? sp >>> 0 : sp & 0xffff);
  }
  peek32(delta: number): number {
    const sp = this.regs[4]! + delta;
    return this.rd32(SREG_SS, this.stack32 ? sp >>> 0 : sp & 0xffff);
  }
  /** Adds `delta` to ESP or SP according to SS.B. */
  addSp(delta: number): void {
    if (this.stack32) this.regs[4] = this.regs[4]! + delta;
    else this.r16[8] = this.regs[4]! + delta;
  }

  /** Current EFLAGS with the lazy arithmetic flags materialised (implemented in flags.ts). */
  getEflags(): number {
    return getEflags(this);
  }
}
