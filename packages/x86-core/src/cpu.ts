import type { CpuState, ExitReason, Hypervisor, InterruptLine, IoBus, Memory, MsrBus, SoftTlb } from './bus';
import { ACCESS_FETCH, ACCESS_READ, ACCESS_USER, ACCESS_WRITE, EXIT_KINDS } from './bus';
import { MachineClock } from './clock';
import {
  CR0_ET,
  CR0_PE,
  EXC_GP,
  EXC_SS,
  FLAG_1,
  FLAG_IF,
  SREG_CS,
  SREG_DS,
  SREG_ES,
  SREG_FS,
  SREG_GS,
  SREG_SS,
} from './constants';
import { type CpuidConfig, CpuidModel } from './cpuid';
import { requireOption } from './errors';
import { getEflags } from './flags';
import { runLoop } from './run';
import { EXIT_REASONS, GUEST_FAULT, STOP_NONE, STOP_STOP } from './signals';
import { type CpuSnapshot, restoreCpu, saveCpu } from './snapshot';

/** Options of `new Cpu()`. Missing buses behave as "nothing there". */
export interface CpuOptions {
  memory: Memory;
  io?: IoBus;
  msr?: MsrBus;
  interrupts?: InterruptLine;
  hypervisor?: Hypervisor;
  clock?: MachineClock;
  cpuid?: CpuidConfig;
  /** Virtual cycles charged per exit (DESIGN.md §3; default 1500, a VT-x round trip). */
  exitCost?: number;
  /** Virtual cycles per retired instruction (default 1). */
  cyclesPerInstruction?: number;
}

/** What `run()` returns. */
export interface Exit {
  reason: ExitReason;
  /** Instructions retired by this call. */
  instructions: number;
}

/** A segment register's visible selector and hidden descriptor cache. */
export interface SegmentState {
  selector: number;
  base: number;
  limit: number;
  /** Descriptor bytes 5..6 (type, S, DPL, P, AVL, D/B, G); see ATTR_* in constants. */
  attributes: number;
}

/**
 * The IA-32 vCPU. Architectural state lives in typed arrays (general registers, segment caches,
 * control and debug registers) plus a few scalar fields (EIP, EFLAGS, the lazy-flag operands)
 * that `saveState()` copies into its snapshot. The instruction semantics are free functions over
 * this class in the topic files (alu.ts, shift.ts, …); the run loop is in run.ts.
 */
export class Cpu implements CpuState {
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
  lock = false;
  isMem = false;
  eaBase = -1;
  eaIndex = -1;
  eaScale = 0;
  eaDisp = 0;
  imm = 0;
  imm2 = 0;
  startIp = 0;
  startSp = 0;

  /** Fetch window: EIPs in [fetchStart, fetchEnd) read ram[ip + fetchBias] (see fetch8). */
  fetchStart = 0;
  fetchEnd = 0;
  fetchBias = 0;

  /** Software TLB (copied from memory.tlb for the inline lookup). */
  tlbTag: Int32Array;
  tlbOff: Int32Array;
  ram: Uint8Array;
  ram16: Uint16Array;
  ram32: Int32Array;
  tlbMask: number;
  tlbBits: number;
  /** TLB kind base indices (kind << bits) for the current CPL. */
  kRead = 0;
  kWrite = 0;
  kFetch = 0;
  /** Access kinds for the slow path (ACCESS_* | user). */
  kindRead = ACCESS_READ;
  kindWrite = ACCESS_WRITE;
  kindFetch = ACCESS_FETCH;

  /** A repeated string instruction yielded to the run loop before finishing (not yet retired). */
  repYield = false;
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
  /** Host breakpoints on linear addresses (exit 'breakpoint'; changes take effect at the next run()). */
  readonly breakpoints = new Set<number>();
  hasBreakpoints = false;
  /** The clock was synced at this instruction count. */
  syncedAt = 0;
  /** Cycles of exit cost charged but not yet pushed to the clock. */
  pendingCycles = 0;

  readonly memory: Memory;
  readonly io: IoBus | null;
  readonly msr: MsrBus | null;
  readonly interrupts: InterruptLine | null;
  readonly hypervisor: Hypervisor | null;
  readonly clock: MachineClock;
  readonly cpuid: CpuidModel;
  readonly exitCost: number;
  readonly cyclesPerInstruction: number;

  constructor(options: CpuOptions) {
    requireOption(typeof options === 'object' && options !== null, 'options', 'must be an object');
    const mem = options.memory;
    requireOption(
      typeof mem === 'object' && mem !== null && typeof mem.read8 === 'function' && isTlb(mem.tlb),
      'memory',
      'must implement Memory with a SoftTlb (tag/offset Int32Arrays, ram views, bits)',
    );
    const exitCost = options.exitCost ?? 1500;
    requireOption(Number.isFinite(exitCost) && exitCost >= 0, 'exitCost', `must be ≥ 0, got ${exitCost}`);
    const cpi = options.cyclesPerInstruction ?? 1;
    requireOption(Number.isFinite(cpi) && cpi > 0, 'cyclesPerInstruction', `must be > 0, got ${cpi}`);
    this.memory = mem;
    this.io = options.io ?? null;
    this.msr = options.msr ?? null;
    this.interrupts = options.interrupts ?? null;
    this.hypervisor = options.hypervisor ?? null;
    this.clock = options.clock ?? new MachineClock();
    this.cpuid = new CpuidModel(options.cpuid ?? {});
    this.exitCost = exitCost;
    this.cyclesPerInstruction = cpi;
    const tlb = mem.tlb;
    this.tlbTag = tlb.tag;
    this.tlbOff = tlb.offset;
    this.ram = tlb.ram;
    this.ram16 = tlb.ram16;
    this.ram32 = tlb.ram32;
    this.tlbBits = tlb.bits;
    this.tlbMask = (1 << tlb.bits) - 1;
    mem.attachCpu({
      raisePageFault: (lin: number, errorCode: number): never => {
        this.cr[2] = lin;
        return this.raise(14, errorCode);
      },
    });
    this.reset();
  }

  // ---- public state accessors -------------------------------------------------------------

  get eip(): number {
    return this.ip >>> 0;
  }
  set eip(v: number) {
    this.ip = v | 0;
  }
  /** EFLAGS (materialised); writing sets every writable bit (bit 1 stays set). */
  get eflags(): number {
    return getEflags(this) >>> 0;
  }
  set eflags(v: number) {
    this.flags = (v & 0x3f7fd5) | 2;
    this.ccOp = 0;
  }
  get cpl(): number {
    return this.cplValue;
  }
  get instructions(): number {
    return this.icount;
  }
  /** Control registers. Host writes (loaders, tests) take effect at once and reach the MMU. */
  get cr0(): number {
    return this.cr[0]! >>> 0;
  }
  set cr0(v: number) {
    this.cr[0] = v | CR0_ET;
    this.refreshAllSegmentRights();
    this.pushPagingState();
  }
  get cr2(): number {
    return this.cr[2]! >>> 0;
  }
  set cr2(v: number) {
    this.cr[2] = v;
  }
  get cr3(): number {
    return this.cr[3]! >>> 0;
  }
  set cr3(v: number) {
    this.cr[3] = v;
    this.pushPagingState();
  }
  get cr4(): number {
    return this.cr[4]! >>> 0;
  }
  set cr4(v: number) {
    this.cr[4] = v;
    this.pushPagingState();
  }

  /** Requests a 'stop' exit at the next instruction boundary (callable from a device callback). */
  stop(): void {
    if (this.stopCode === STOP_NONE) this.stopCode = STOP_STOP;
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

  /** Power-on / RESET state (SDM Vol. 3 §9.1.1, Table 9-1). */
  reset(): void {
    this.regs.fill(0);
    this.regs[2] = this.cpuid.signature;
    this.flags = FLAG_1;
    this.ccOp = 0;
    this.cr.fill(0);
    this.cr[0] = 0x60000000 | CR0_ET;
    this.dr.fill(0);
    this.dr[6] = 0xffff0ff0 | 0;
    this.dr[7] = 0x400;
    for (const s of [SREG_ES, SREG_SS, SREG_DS, SREG_FS, SREG_GS])
      this.setSegmentCache(s, 0, 0, 0xffff, 0x93);
    this.setSegmentCache(SREG_CS, 0xf000, 0xffff0000 | 0, 0xffff, 0x9b);
    this.setSegmentCache(6, 0, 0, 0xffff, 0x82);
    this.setSegmentCache(7, 0, 0, 0xffff, 0x8b);
    this.dtr[0] = 0;
    this.dtr[1] = 0xffff;
    this.dtr[2] = 0;
    this.dtr[3] = 0xffff;
    this.ip = 0xfff0;
    this.halted = false;
    this.shutdown = false;
    this.nmiBlocked = false;
    this.shadowAt = -1;
    this.delivering = -1;
    this.lastVector = -1;
    this.stopCode = STOP_NONE;
    this.tscOffset = -this.clock.now();
    this.apicBase = 0xfee00900;
    this.setCpl(0);
    this.pushPagingState();
  }

  /**
   * The machine state the multiboot spec gives an OS: CR0.PE = 1, paging off, flat 4 GiB 32-bit
   * code (selector 0x08) and data (0x10) segments, IF = 0, EIP = `eip`. Caches are loaded directly;
   * GDTR is left as it is (the OS loads its own before reloading a segment register).
   */
  enterFlatProtectedMode(eip: number): void {
    requireOption(
      Number.isInteger(eip) && eip >= 0 && eip <= 0xffffffff,
      'eip',
      `must be a 32-bit address, got ${eip}`,
    );
    this.cr[0] |= CR0_PE;
    this.setSegmentCache(SREG_CS, 0x08, 0, 0xffffffff, 0xc09b);
    for (const s of [SREG_ES, SREG_SS, SREG_DS, SREG_FS, SREG_GS])
      this.setSegmentCache(s, 0x10, 0, 0xffffffff, 0xc093);
    this.flags = (this.getEflags() & ~FLAG_IF) | FLAG_1;
    this.ccOp = 0;
    this.ip = eip | 0;
    this.halted = false;
    this.setCpl(0);
    this.pushPagingState();
  }

  /** Reads a segment register's selector and descriptor cache. */
  getSegment(sreg: number): SegmentState {
    checkSreg(sreg);
    return {
      selector: this.segSel[sreg]!,
      base: this.segBase[sreg]! >>> 0,
      limit: this.segRawLimit[sreg]!,
      attributes: this.segAttr[sreg]!,
    };
  }

  /** Loads a segment register's selector and cache directly (loaders, tests, snapshot restore). */
  loadSegmentCache(sreg: number, seg: SegmentState): void {
    checkSreg(sreg);
    requireOption(
      Number.isInteger(seg.selector) && seg.selector >= 0 && seg.selector <= 0xffff,
      'selector',
      `must be 0..0xFFFF, got ${seg.selector}`,
    );
    this.setSegmentCache(sreg, seg.selector, seg.base | 0, seg.limit >>> 0, seg.attributes & 0xffff);
    if (sreg === SREG_CS) this.setCpl(this.cr[0]! & CR0_PE ? seg.selector & 3 : 0);
  }

  /** Real-mode style load: selector, base = selector × 16, limit and attributes unchanged. */
  loadSegmentReal(sreg: number, selector: number): void {
    checkSreg(sreg);
    requireOption(
      Number.isInteger(selector) && selector >= 0 && selector <= 0xffff,
      'selector',
      `got ${selector}`,
    );
    this.setSegmentCache(
      sreg,
      selector,
      selector << 4,
      this.segLimit[sreg]! < 0 ? 0xffff : this.segLimit[sreg]!,
      this.segAttr[sreg]! || 0x93,
    );
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
    this.kRead = this.kindRead << this.tlbBits;
    this.kWrite = this.kindWrite << this.tlbBits;
    this.kFetch = this.kindFetch << this.tlbBits;
    this.invalidateFetch();
  }

  /** Pushes CR0/CR3/CR4/CPL/AC to the memory side (DESIGN.md §3). */
  pushPagingState(): void {
    this.invalidateFetch();
    this.memory.setPagingState({
      cr0: this.cr[0]! >>> 0,
      cr3: this.cr[3]! >>> 0,
      cr4: this.cr[4]! >>> 0,
      efer: 0,
      cpl: this.cplValue,
      ac: (this.flags & 0x40000) !== 0,
    });
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
    this.exitCounts[kind]!++;
    this.pendingCycles += this.exitCost;
    this.syncClock();
  }

  // ---- linear memory (inline SoftTlb lookup; Memory methods only on a miss) -----------------

  lr8(lin: number): number {
    const page = lin >>> 12;
    const i = this.kRead | (page & this.tlbMask);
    if (this.tlbTag[i] === page) return this.ram[(lin + this.tlbOff[i]!) >>> 0]!;
    this.syncClock();
    return this.memory.read8(lin >>> 0, this.kindRead) & 0xff;
  }
  lr16(lin: number): number {
    const page = lin >>> 12;
    const i = this.kRead | (page & this.tlbMask);
    if (this.tlbTag[i] === page && (lin & 0xfff) !== 0xfff) {
      const a = (lin + this.tlbOff[i]!) >>> 0;
      return (lin & 1) === 0 ? this.ram16[a >>> 1]! : this.ram[a]! | (this.ram[a + 1]! << 8);
    }
    this.syncClock();
    return this.memory.read16(lin >>> 0, this.kindRead) & 0xffff;
  }
  /** Returns a signed 32-bit value. */
  lr32(lin: number): number {
    const page = lin >>> 12;
    const i = this.kRead | (page & this.tlbMask);
    if (this.tlbTag[i] === page && (lin & 0xfff) <= 0xffc) {
      const a = (lin + this.tlbOff[i]!) >>> 0;
      if ((lin & 3) === 0) return this.ram32[a >>> 2]!;
      const r = this.ram;
      return r[a]! | (r[a + 1]! << 8) | (r[a + 2]! << 16) | (r[a + 3]! << 24);
    }
    this.syncClock();
    return this.memory.read32(lin >>> 0, this.kindRead) | 0;
  }
  lw8(lin: number, v: number): void {
    const page = lin >>> 12;
    const i = this.kWrite | (page & this.tlbMask);
    if (this.tlbTag[i] === page) {
      this.ram[(lin + this.tlbOff[i]!) >>> 0] = v;
      return;
    }
    this.syncClock();
    this.memory.write8(lin >>> 0, v & 0xff, this.kindWrite);
  }
  lw16(lin: number, v: number): void {
    const page = lin >>> 12;
    const i = this.kWrite | (page & this.tlbMask);
    if (this.tlbTag[i] === page && (lin & 0xfff) !== 0xfff) {
      const a = (lin + this.tlbOff[i]!) >>> 0;
      if ((lin & 1) === 0) this.ram16[a >>> 1] = v;
      else {
        this.ram[a] = v;
        this.ram[a + 1] = v >> 8;
      }
      return;
    }
    this.syncClock();
    this.memory.write16(lin >>> 0, v & 0xffff, this.kindWrite);
  }
  lw32(lin: number, v: number): void {
    const page = lin >>> 12;
    const i = this.kWrite | (page & this.tlbMask);
    if (this.tlbTag[i] === page && (lin & 0xfff) <= 0xffc) {
      const a = (lin + this.tlbOff[i]!) >>> 0;
      if ((lin & 3) === 0) this.ram32[a >>> 2] = v;
      else {
        const r = this.ram;
        r[a] = v;
        r[a + 1] = v >> 8;
        r[a + 2] = v >> 16;
        r[a + 3] = v >> 24;
      }
      return;
    }
    this.syncClock();
    this.memory.write32(lin >>> 0, v >>> 0, this.kindWrite);
  }

  /** Probes that a write of `len` bytes at `lin` is allowed without storing (for multi-part writes). */
  probeWrite(lin: number, len: number): void {
    const page = lin >>> 12;
    const i = this.kWrite | (page & this.tlbMask);
    if (this.tlbTag[i] === page && (lin & 0xfff) <= 0x1000 - len) return;
    // Read-modify-write of the same value through the slow path makes the MMU check both pages.
    for (let k = 0; k < len; k += len - 1 || 1) {
      const a = (lin + k) | 0;
      this.syncClock();
      this.memory.write8(a >>> 0, this.memory.read8(a >>> 0, this.kindRead), this.kindWrite);
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
    const page = lin >>> 12;
    const i = this.kFetch | (page & this.tlbMask);
    if (this.tlbTag[i] !== page) {
      this.syncClock();
      const b = this.memory.read8(lin >>> 0, this.kindFetch) & 0xff;
      if (this.tlbTag[i] !== page) return b;
    }
    const adj = this.tlbOff[i]!;
    const idx = (lin + adj) >>> 0;
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

  /** The state as plain data. */
  toString(): string {
    return `Cpu(eip=${this.eip.toString(16)})`;
  }

  /**
   * Runs until `maxInstructions` have retired or an exit (HLT, shutdown, stop, host breakpoint).
   * Guest byte streams never make this throw; exceptions thrown by host callbacks propagate.
   */
  run(maxInstructions: number): Exit {
    requireOption(
      Number.isFinite(maxInstructions) && maxInstructions >= 0,
      'maxInstructions',
      `must be a non-negative number, got ${maxInstructions}`,
    );
    const before = this.icount;
    const code = runLoop(this, Math.floor(maxInstructions));
    this.syncClock();
    return { reason: EXIT_REASONS[code] as ExitReason, instructions: this.icount - before };
  }

  /** A copy of the architectural state (typed arrays and scalars; see snapshot.ts). */
  saveState(): CpuSnapshot {
    return saveCpu(this);
  }

  /** Restores a snapshot taken by saveState() (validated; throws X86CoreError if malformed). */
  restoreState(snapshot: CpuSnapshot): void {
    restoreCpu(this, snapshot);
  }

  /** Adds a host breakpoint: run() exits with 'breakpoint' before executing at linear `lin`. */
  addBreakpoint(lin: number): void {
    this.breakpoints.add(lin >>> 0);
    this.hasBreakpoints = true;
  }
  removeBreakpoint(lin: number): void {
    this.breakpoints.delete(lin >>> 0);
    this.hasBreakpoints = this.breakpoints.size > 0;
  }
}

function checkSreg(sreg: number): void {
  requireOption(
    Number.isInteger(sreg) && sreg >= 0 && sreg <= 7,
    'sreg',
    `must be SREG_ES..SREG_GS (0..5) or 6/7, got ${sreg}`,
  );
}

function isTlb(t: SoftTlb | undefined): boolean {
  return (
    typeof t === 'object' &&
    t !== null &&
    t.tag instanceof Int32Array &&
    t.offset instanceof Int32Array &&
    t.ram instanceof Uint8Array &&
    t.tag.length === t.offset.length &&
    t.tag.length === 8 << t.bits
  );
}

/** Segment indices re-exported for convenience. */
export { SREG_CS, SREG_DS, SREG_ES, SREG_FS, SREG_GS, SREG_SS };
