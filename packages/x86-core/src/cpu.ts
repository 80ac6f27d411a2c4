import type {
  CpuState,
  CpuTraps,
  ExitReason,
  Hypervisor,
  InterruptLine,
  IoBus,
  Memory,
  MsrBus,
  SoftTlb,
} from './bus';
import { EXIT_KINDS } from './bus';
import { MachineClock } from './clock';
import {
  CR0_ET,
  CR0_PE,
  FLAG_1,
  FLAG_IF,
  SREG_CS,
  SREG_DS,
  SREG_ES,
  SREG_FS,
  SREG_GS,
  SREG_SS,
} from './constants';
import { type CoreDeps, CpuCore } from './core';
import { type CpuidConfig, CpuidModel } from './cpuid';
import { refreshDebug } from './debug';
import { requireOption } from './errors';
import { getEflags } from './flags';
import { runLoop } from './run';
import { EXIT_REASONS, STOP_NONE, STOP_STOP } from './signals';
import { type CpuSnapshot, restoreCpu, saveCpu } from './snapshot';

/** Steps per runLoop call (see run()). */
const RUN_SLICE = 1 << 16;

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
  /** Privileged operations the host carries out itself (the trap path of paravirt-ops). */
  traps?: CpuTraps;
  /**
   * Which kinds of events are exits under the host's virtualization model (DESIGN.md §3): the
   * EXIT_* kinds not listed are neither counted nor charged. Default: every kind. For the
   * `nested` model (EPT-like), leave out EXIT_CR (CR3 loads), EXIT_INVLPG and EXIT_PT_WRITE.
   */
  exitKinds?: readonly number[];
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
export class Cpu extends CpuCore implements CpuState {
  constructor(options: CpuOptions) {
    super(validateOptions(options));
    this.memory.attachCpu({
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
    refreshDebug(this);
  }

  /** Requests a 'stop' exit at the next instruction boundary (callable from a device callback). */
  stop(): void {
    if (this.stopCode === STOP_NONE) this.stopCode = STOP_STOP;
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
    this.dbgArm = 0;
    this.dbgHits = 0;
    this.dbgCarry = 0;
    this.dbgNow = 0;
    this.sysenterCs = 0;
    this.sysenterEsp = 0;
    this.sysenterEip = 0;
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
    refreshDebug(this);
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
    // The budget is handed to the run loop in slices, so that V8 optimizes runLoop as a function
    // called many times rather than only by on-stack replacement of one long call (OSR code
    // inlines less and ran the same loop at ~60 % of the speed).
    let remaining = Math.floor(maxInstructions);
    let code: number;
    do {
      const slice = Math.min(remaining, RUN_SLICE);
      code = runLoop(this, slice);
      remaining -= slice;
    } while (code === STOP_NONE && remaining > 0);
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

/** Checks the options and builds the core's dependencies (typed errors name the field). */
function validateOptions(options: CpuOptions): CoreDeps {
  requireOption(typeof options === 'object' && options !== null, 'options', 'must be an object');
  const mem = options.memory;
  requireOption(
    typeof mem === 'object' && mem !== null && typeof mem.read8 === 'function' && isTlb(mem.tlb),
    'memory',
    'must implement Memory with a SoftTlb (tag/offset Int32Arrays, ram views, bits)',
  );
  const exitCost = options.exitCost ?? 1500;
  requireOption(Number.isFinite(exitCost) && exitCost >= 0, 'exitCost', `must be ≥ 0, got ${exitCost}`);
  let exitMask = (1 << EXIT_KINDS) - 1;
  if (options.exitKinds !== undefined) {
    requireOption(Array.isArray(options.exitKinds), 'exitKinds', 'must be an array of EXIT_* kinds');
    exitMask = 0;
    for (const k of options.exitKinds) {
      requireOption(
        Number.isInteger(k) && k >= 0 && k < EXIT_KINDS,
        'exitKinds',
        `has ${String(k)}, not an EXIT_* kind`,
      );
      exitMask |= 1 << k;
    }
  }
  const cpi = options.cyclesPerInstruction ?? 1;
  requireOption(Number.isFinite(cpi) && cpi > 0, 'cyclesPerInstruction', `must be > 0, got ${cpi}`);
  return {
    memory: mem,
    io: options.io ?? null,
    msr: options.msr ?? null,
    interrupts: options.interrupts ?? null,
    hypervisor: options.hypervisor ?? null,
    traps: options.traps ?? null,
    clock: options.clock ?? new MachineClock(),
    cpuid: new CpuidModel(options.cpuid ?? {}),
    exitCost,
    exitMask,
    cyclesPerInstruction: cpi,
  };
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
