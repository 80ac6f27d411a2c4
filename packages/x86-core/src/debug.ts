/**
 * Debug registers and single-step (SDM Vol. 3 Chapter 17, §6.15 "Interrupt 1—Debug Exception").
 *
 * Nothing here runs in the common case: the run loop takes `debugStep()` instead of its fast path
 * only while `(EFLAGS & (TF | RF)) | cpu.dbgArm` is non-zero, where `dbgArm` is recomputed whenever
 * DR7, DR0–DR3 or CR4 change (`refreshDebug`). debugStep executes one instruction and implements:
 *
 * - instruction breakpoints (R/W = 00): a fault, checked before the instruction unless EFLAGS.RF = 1
 *   or the boundary follows MOV SS/POP SS; RF is cleared as the instruction starts (§17.3.1.1);
 * - data breakpoints (R/W = 01 write, 11 read/write) and, with CR4.DE, I/O breakpoints (R/W = 10):
 *   traps after the instruction (after the iteration, for a repeated string instruction);
 * - single-step (TF set when the instruction starts): a trap after it with DR6.BS — after INT n the
 *   trap is taken at the handler's first instruction, since INT clears TF only for the handler
 *   (§17.3.1.4); a faulting instruction does not complete, so it reports no single-step;
 * - the MOV SS/POP SS shadow: debug traps of the loading instruction are held until after the next
 *   instruction (§6.8.3);
 * - the task-switch trap (TSS T bit, DR6.BT) before the new task's first instruction.
 *
 * Data breakpoints are watched without touching the memory hot path: while one is enabled the CPU
 * looks up an always-empty TLB (every access takes the slow path) and reaches memory through
 * `WatchedMemory`, which records matching accesses in `cpu.dbgHits` and forwards them.
 */
import type { Memory, MemoryCpuHooks, PagingState, SoftTlb } from './bus';
import { ACCESS_FETCH } from './bus';
import { CR4_DE, EXC_DB, FLAG_RF, FLAG_TF } from './constants';
import type { CpuCore } from './core';
import type { Cpu } from './cpu';
import { decode } from './decode';
import { execute } from './exec';
import { deliver, SRC_FAULT } from './interrupt';
import { STOP_HLT, STOP_NONE } from './signals';

/** DR6 bits (SDM §17.2.3): B0–B3 breakpoint conditions, BD debug-register access, BS single-step, BT task switch. */
export const DR6_B0_B3 = 0xf;
export const DR6_BD = 1 << 13;
export const DR6_BS = 1 << 14;
export const DR6_BT = 1 << 15;
/** DR7 bits (SDM §17.2.4): L0/G0 at bits 0/1 (Ln = bit 2n, Gn = bit 2n + 1), GD bit 13, R/Wn at 16 + 4n, LENn at 18 + 4n. */
export const DR7_GD = 1 << 13;
const DR7_LOCAL_ENABLES = 0x55;
/** R/W field values. */
const RW_EXEC = 0;
const RW_WRITE = 1;
const RW_IO = 2;
const RW_READ_WRITE = 3;

/** dbgArm bits: some breakpoint enabled in DR7; a trap carried over a MOV SS shadow; a trap due before the next instruction. */
export const ARM_BREAKPOINTS = 1;
export const ARM_CARRY = 2;
export const ARM_NOW = 4;
/** EFLAGS bits that send the run loop to debugStep. */
export const DEBUG_FLAGS = FLAG_TF | FLAG_RF;

/** Byte length of a breakpoint from its LEN field: 1, 2, 8 (undefined on the P6; 8 on later CPUs), 4. */
const LEN_BYTES = [1, 2, 8, 4] as const;

function rwField(dr7: number, n: number): number {
  return (dr7 >>> (16 + 4 * n)) & 3;
}
function lenBytes(dr7: number, n: number): number {
  return LEN_BYTES[(dr7 >>> (18 + 4 * n)) & 3]!;
}

/** True when breakpoint `n` (aligned down to its length) overlaps [lin, lin + size). */
function overlaps(cpu: CpuCore, n: number, lin: number, size: number): boolean {
  const len = lenBytes(cpu.dr[7]!, n);
  const start = (cpu.dr[n]! & ~(len - 1)) >>> 0;
  const lo = lin >>> 0;
  return lo < start + len && start < lo + size;
}

/**
 * Recomputes which breakpoints are enabled (after a write to DR0–DR7 or CR4, a task switch,
 * reset or restore) and switches data-breakpoint watching on or off.
 */
export function refreshDebug(cpu: CpuCore): void {
  const dr7 = cpu.dr[7]!;
  const de = (cpu.cr[4]! & CR4_DE) !== 0;
  let exec = 0;
  let data = 0;
  let io = 0;
  for (let n = 0; n < 4; n++) {
    if (((dr7 >>> (2 * n)) & 3) === 0) continue;
    const rw = rwField(dr7, n);
    if (rw === RW_EXEC) exec |= 1 << n;
    else if (rw === RW_WRITE || rw === RW_READ_WRITE) data |= 1 << n;
    else if (rw === RW_IO && de) io |= 1 << n;
  }
  cpu.dbgExec = exec;
  cpu.dbgData = data;
  cpu.dbgIo = io;
  cpu.dbgArm = (cpu.dbgArm & ~ARM_BREAKPOINTS) | ((exec | data | io) !== 0 ? ARM_BREAKPOINTS : 0);
  watchData(cpu, data !== 0);
}

function watchData(cpu: CpuCore, on: boolean): void {
  const watching = cpu.memory !== cpu.hostMemory;
  if (on === watching) return;
  if (on) {
    cpu.memory = new WatchedMemory(cpu, cpu.hostMemory);
  } else {
    cpu.memory = cpu.hostMemory;
  }
  // While watching, the CPU uses an always-empty page map so every access reaches WatchedMemory.
  cpu.refreshPageMaps();
  cpu.invalidateFetch();
}

/** Records the enabled data breakpoints that an access of `size` bytes at `lin` matches (SDM §17.3.1.2). */
export function dataBreakpoints(cpu: CpuCore, lin: number, size: number, write: boolean): void {
  const dr7 = cpu.dr[7]!;
  for (let n = 0; n < 4; n++) {
    if (((cpu.dbgData >> n) & 1) === 0) continue;
    if (!write && rwField(dr7, n) !== RW_READ_WRITE) continue;
    if (overlaps(cpu, n, lin, size)) cpu.dbgHits |= 1 << n;
  }
}

/** Records the enabled I/O breakpoints (CR4.DE = 1, R/W = 10) that a port access matches. */
export function ioBreakpoints(cpu: CpuCore, port: number, size: number): void {
  for (let n = 0; n < 4; n++) {
    if (((cpu.dbgIo >> n) & 1) !== 0 && overlaps(cpu, n, port & 0xffff, size)) cpu.dbgHits |= 1 << n;
  }
}

/** Enabled instruction breakpoints at the linear address of CS:EIP (bit n: DRn). */
function execBreakpoints(cpu: Cpu): number {
  const lin = (cpu.csBase + cpu.ip) | 0;
  let hits = 0;
  for (let n = 0; n < 4; n++) {
    if (((cpu.dbgExec >> n) & 1) !== 0 && overlaps(cpu, n, lin, 1)) hits |= 1 << n;
  }
  return hits;
}

/** Writes the conditions of a #DB into DR6: B0–B3 replaced, BD/BS/BT accumulated (SDM §17.2.3). */
function reportDr6(cpu: Cpu, bits: number): void {
  cpu.dr[6] = (cpu.dr[6]! & ~DR6_B0_B3) | bits;
}

/**
 * The current boundary follows MOV SS/POP SS/LSS (before decode, `op` is still the previous
 * instruction's; after execute and the icount increment, it is the boundary after this one). The
 * STI shadow does not hold debug exceptions.
 */
function movSsShadow(cpu: Cpu): boolean {
  // shadowAt is set only by SS loads and by STI (opcode FB); see exec.ts.
  return cpu.shadowAt === cpu.icount && cpu.op !== 0xfb;
}

/** One instruction on the debug slow path (see the file comment). */
export function debugStep(cpu: Cpu): void {
  cpu.startIp = cpu.ip;
  cpu.startSp = cpu.regs[4]!;
  if ((cpu.dbgArm & ARM_NOW) !== 0) {
    // A trap due at this boundary (task switch with the TSS T bit): before any instruction.
    const bits = cpu.dbgNow;
    cpu.dbgNow = 0;
    cpu.dbgArm &= ~ARM_NOW;
    reportDr6(cpu, bits);
    deliver(cpu, EXC_DB, -1, SRC_FAULT);
    return;
  }
  if ((cpu.flags & FLAG_RF) !== 0) cpu.flags &= ~FLAG_RF;
  else if (cpu.dbgExec !== 0 && !movSsShadow(cpu)) {
    const hits = execBreakpoints(cpu);
    if (hits !== 0) {
      reportDr6(cpu, hits);
      cpu.dbgBreakpointFault = true;
      cpu.raise(EXC_DB, -1);
    }
  }
  const tf = (cpu.flags & FLAG_TF) !== 0;
  const before = cpu.icount;
  // dbgHits may already hold matches from the event delivered at this boundary (an external
  // interrupt's or the last #DB's stack pushes): they are reported with this instruction's traps.
  // Repeated string instructions stop after each iteration so that a single-step or data/I/O
  // breakpoint trap is taken between iterations (SDM §17.3.1.2, "REP").
  const chunk = cpu.repChunk;
  if (tf || (cpu.dbgData | cpu.dbgIo) !== 0) cpu.repChunk = 1;
  try {
    decode(cpu);
    execute(cpu);
    cpu.icount++;
  } finally {
    cpu.repChunk = chunk;
  }
  const traps = cpu.dbgHits | cpu.dbgCarry | (tf ? DR6_BS : 0);
  cpu.dbgHits = 0;
  cpu.dbgCarry = 0;
  cpu.dbgArm &= ~ARM_CARRY;
  if (traps === 0) return;
  if (movSsShadow(cpu)) {
    cpu.dbgCarry = traps;
    cpu.dbgArm |= ARM_CARRY;
    return;
  }
  // A trap after an iteration that is not the last pushes RF = 1 so that the resumed string
  // instruction does not hit its own instruction breakpoint again (SDM §17.3.1.1).
  if (cpu.icount === before) cpu.flags |= FLAG_RF;
  reportDr6(cpu, traps);
  deliver(cpu, EXC_DB, -1, SRC_FAULT);
  // A debug exception resumes a halted processor (SDM "HLT"): the trap after HLT is taken at once,
  // so run() goes on into the handler instead of reporting 'hlt'.
  if (cpu.stopCode === STOP_HLT && !cpu.halted) cpu.stopCode = STOP_NONE;
}

/**
 * Called by the run loop before delivering a fault: the EFLAGS image of every fault-class
 * exception has RF = 1 except an instruction-breakpoint #DB (SDM §17.3.1.1); breakpoint matches of
 * the faulting instruction and traps held over a MOV SS shadow are dropped with it.
 */
export function beforeFault(cpu: Cpu): void {
  if (cpu.dbgBreakpointFault) cpu.dbgBreakpointFault = false;
  else cpu.flags |= FLAG_RF;
  // The faulting instruction did not complete: its data/I/O matches are not reported.
  cpu.dbgHits = 0;
  if (cpu.dbgCarry !== 0) {
    cpu.dbgCarry = 0;
    cpu.dbgArm &= ~ARM_CARRY;
  }
}

/**
 * MOV from/to a debug register while DR7.GD = 1: a #DB fault with DR6.BD; GD is cleared so that the
 * handler can use the debug registers (SDM §17.2.4).
 */
export function generalDetect(cpu: Cpu): void {
  if ((cpu.dr[7]! & DR7_GD) === 0) return;
  cpu.dr[7] = cpu.dr[7]! & ~DR7_GD;
  reportDr6(cpu, DR6_BD);
  cpu.raise(EXC_DB, -1);
}

/**
 * For the task switch: clears the local enables L0–L3 (SDM §17.2.4) and, when the new TSS has its
 * T bit set, makes a #DB with DR6.BT due before the new task's first instruction.
 */
export function debugOnTaskSwitch(cpu: Cpu, tssTrap: boolean): void {
  cpu.dr[7] = cpu.dr[7]! & ~DR7_LOCAL_ENABLES;
  if (tssTrap) {
    cpu.dbgNow |= DR6_BT;
    cpu.dbgArm |= ARM_NOW;
  }
  refreshDebug(cpu);
}

/**
 * Memory as seen while data breakpoints are enabled: forwards every call to the host's Memory and
 * records data accesses (not instruction fetches) that match an enabled breakpoint.
 */
class WatchedMemory implements Memory {
  readonly tlb: SoftTlb;
  constructor(
    private readonly cpu: CpuCore,
    private readonly inner: Memory,
  ) {
    this.tlb = inner.tlb;
  }
  read8(lin: number, kind: number): number {
    const v = this.inner.read8(lin, kind);
    if ((kind & ACCESS_FETCH) === 0) dataBreakpoints(this.cpu, lin, 1, false);
    return v;
  }
  read16(lin: number, kind: number): number {
    const v = this.inner.read16(lin, kind);
    if ((kind & ACCESS_FETCH) === 0) dataBreakpoints(this.cpu, lin, 2, false);
    return v;
  }
  read32(lin: number, kind: number): number {
    const v = this.inner.read32(lin, kind);
    if ((kind & ACCESS_FETCH) === 0) dataBreakpoints(this.cpu, lin, 4, false);
    return v;
  }
  write8(lin: number, value: number, kind: number): void {
    this.inner.write8(lin, value, kind);
    dataBreakpoints(this.cpu, lin, 1, true);
  }
  write16(lin: number, value: number, kind: number): void {
    this.inner.write16(lin, value, kind);
    dataBreakpoints(this.cpu, lin, 2, true);
  }
  write32(lin: number, value: number, kind: number): void {
    this.inner.write32(lin, value, kind);
    dataBreakpoints(this.cpu, lin, 4, true);
  }
  attachCpu(hooks: MemoryCpuHooks): void {
    this.inner.attachCpu(hooks);
  }
  setPagingState(state: PagingState) {
    return this.inner.setPagingState(state);
  }
  invlpg(lin: number): void {
    this.inner.invlpg(lin);
  }
  flushTlb(includeGlobal: boolean): void {
    this.inner.flushTlb(includeGlobal);
  }
}
