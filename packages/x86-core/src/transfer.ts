/**
 * Protected-mode far control transfers (SDM Vol. 2 "JMP", "CALL", "RET", "IRET"; Vol. 3 §5.8):
 * direct code-segment targets, call gates with a privilege change (stack switch through the TSS and
 * parameter copy), returns to an outer privilege level with the data-segment nulling rule, IRET to
 * virtual-8086 mode, and the hand-over to task.ts for TSS and task-gate targets.
 *
 * Everything here is a slow path: the run loop never calls into this file for near transfers.
 * A fault after state has started to change (a #PF while pushing on the new stack) rolls the
 * segment caches, CPL, ESP and EFLAGS back so that the instruction stays restartable (SDM §6.5).
 */

import {
  ATTR_CODE,
  ATTR_DC,
  ATTR_P,
  ATTR_RW,
  ATTR_S,
  EXC_GP,
  EXC_NP,
  EXC_SS,
  EXC_TS,
  FLAG_1,
  FLAG_IF,
  FLAG_IOPL,
  FLAG_NT,
  FLAG_VIF,
  FLAG_VIP,
  FLAG_VM,
  FLAGS_WRITABLE,
  SREG_CS,
  SREG_DS,
  SREG_ES,
  SREG_FS,
  SREG_GS,
  SREG_SS,
  SREG_TR,
} from './constants';
import type { Cpu } from './cpu';
import { flushFlags } from './flags';
import { attrOf, baseOf, desc, limitOf, markAccessed, readDescriptor, sysRead16, sysRead32 } from './segment';
import { TASK_CALL, TASK_JMP, taskGate, taskReturn, taskSwitch } from './task';
import { iretToV86 } from './v86';

// ---- context save / rollback ------------------------------------------------------------------

/** Words per saved context: 6 segment caches × (selector, base, limit, attributes), EIP, ESP, EFLAGS, CPL. */
export const CONTEXT_SIZE = 28;

/** Saves what a far transfer or an event delivery may change (flags must be flushed first). */
export function saveContext(cpu: Cpu, buf: Float64Array): void {
  for (let s = 0; s < 6; s++) {
    buf[s * 4] = cpu.segSel[s]!;
    buf[s * 4 + 1] = cpu.segBase[s]!;
    buf[s * 4 + 2] = cpu.segRawLimit[s]!;
    buf[s * 4 + 3] = cpu.segAttr[s]!;
  }
  buf[24] = cpu.ip;
  buf[25] = cpu.regs[4]!;
  buf[26] = cpu.flags;
  buf[27] = cpu.cplValue;
}

/** Restores a context saved by saveContext (EFLAGS first: segment rights depend on EFLAGS.VM). */
export function restoreContext(cpu: Cpu, buf: Float64Array): void {
  flushFlags(cpu);
  cpu.flags = buf[26]!;
  for (let s = 0; s < 6; s++) {
    cpu.setSegmentCache(s, buf[s * 4]!, buf[s * 4 + 1]!, buf[s * 4 + 2]!, buf[s * 4 + 3]!);
  }
  cpu.ip = buf[24]!;
  cpu.regs[4] = buf[25]!;
  if (cpu.cplValue !== buf[27]!) {
    cpu.setCpl(buf[27]!);
    cpu.pushPagingState();
  }
}

const rollback = new Float64Array(CONTEXT_SIZE);
/** Parameters copied by a call gate (at most 31). */
const params = new Int32Array(32);

// ---- helpers ----------------------------------------------------------------------------------

/** Changes CPL (and tells the MMU, which checks user/supervisor access by it). */
function changeCpl(cpu: Cpu, cpl: number): void {
  if (cpu.cplValue !== cpl) {
    cpu.setCpl(cpl);
    cpu.pushPagingState();
  }
}

/**
 * Reads the inner stack pointer for privilege level `dpl` from the current TSS (SDM §7.2.1): a
 * 32-bit TSS holds ESPn at 4 + 8n and SSn at 8 + 8n, a 16-bit TSS SPn at 2 + 4n and SSn at 4 + 4n.
 * Beyond the TSS limit ⇒ #TS(TR selector). Returns SS in `tssStack[0]` and ESP in `tssStack[1]`.
 */
export const tssStack = new Int32Array(2);
export function readTssStack(cpu: Cpu, dpl: number, ext: number): void {
  const base = cpu.segBase[SREG_TR]!;
  const limit = cpu.segRawLimit[SREG_TR]!;
  const err = (cpu.segSel[SREG_TR]! & 0xfffc) | ext;
  if (cpu.segAttr[SREG_TR]! & 8) {
    const off = 4 + dpl * 8;
    if (off + 5 > limit) cpu.raise(EXC_TS, err);
    tssStack[1] = sysRead32(cpu, base + off);
    tssStack[0] = sysRead16(cpu, base + off + 4);
  } else {
    const off = 2 + dpl * 4;
    if (off + 3 > limit) cpu.raise(EXC_TS, err);
    tssStack[1] = sysRead16(cpu, base + off);
    tssStack[0] = sysRead16(cpu, base + off + 2);
  }
}

/**
 * Checks the stack segment read from the TSS for an inner-level transfer to `dpl` (SDM "CALL",
 * "INT n"): null or beyond the table, RPL or DPL ≠ `dpl`, not writable data ⇒ #TS(SS); not present
 * ⇒ #SS(SS). Leaves the descriptor in `desc` and returns its linear address.
 */
export function checkInnerStack(cpu: Cpu, ss: number, dpl: number, ext: number): number {
  const err = (ss & 0xfffc) | ext;
  if ((ss & 0xfffc) === 0) cpu.raise(EXC_TS, ext);
  const lin = readDescriptor(cpu, ss, EXC_TS, ext);
  const attr = attrOf(desc[1]!);
  if ((ss & 3) !== dpl || ((attr >> 5) & 3) !== dpl) cpu.raise(EXC_TS, err);
  if ((attr & (ATTR_S | ATTR_CODE | ATTR_RW)) !== (ATTR_S | ATTR_RW)) cpu.raise(EXC_TS, err);
  if ((attr & ATTR_P) === 0) cpu.raise(EXC_SS, err);
  return lin;
}

/** Raises #SS(`err`) unless `bytes` can be pushed below ESP on the loaded SS (SDM §6.14). */
export function checkStackRoom(cpu: Cpu, bytes: number, err: number): void {
  const sp = cpu.regs[4]!;
  const top = cpu.stack32 ? (sp - bytes) >>> 0 : (sp - bytes) & 0xffff;
  // A frame that would wrap below offset 0 lands at the top of the offset space and fails the limit.
  if (top > cpu.segWLimit[SREG_SS]! - (bytes - 1) || top < cpu.segLow[SREG_SS]!) cpu.raise(EXC_SS, err);
}

/** Loads SS from the descriptor dwords `lo`/`hi` at `lin` (already checked) with selector `sel`. */
export function commitSs(cpu: Cpu, sel: number, lin: number, lo: number, hi: number): void {
  markAccessed(cpu, lin, hi);
  cpu.setSegmentCache(SREG_SS, sel, baseOf(lo, hi), limitOf(lo, hi), attrOf(hi) | 1);
}

/** Loads CS from the descriptor dwords `lo`/`hi` at `lin` (already checked) with RPL = `cpl`. */
export function commitCs(cpu: Cpu, sel: number, cpl: number, lin: number, lo: number, hi: number): void {
  markAccessed(cpu, lin, hi);
  cpu.setSegmentCache(SREG_CS, (sel & 0xfffc) | cpl, baseOf(lo, hi), limitOf(lo, hi), attrOf(hi) | 1);
  changeCpl(cpu, cpl);
}

/**
 * After a return to an outer level (RET, IRET): ES, DS, FS and GS that hold a data or
 * non-conforming code segment more privileged than the new CPL become null (SDM "RET", "IRET").
 */
export function nullInaccessibleSegments(cpu: Cpu): void {
  const cpl = cpu.cplValue;
  for (const s of NULLABLE) {
    const attr = cpu.segAttr[s]!;
    if (attr === 0) continue;
    const conforming = (attr & (ATTR_CODE | ATTR_DC)) === (ATTR_CODE | ATTR_DC);
    if (!conforming && ((attr >> 5) & 3) < cpl) cpu.setSegmentNull(s, 0);
  }
}
const NULLABLE = [SREG_ES, SREG_FS, SREG_GS, SREG_DS] as const;

// ---- JMP / CALL ---------------------------------------------------------------------------

/** Far JMP or CALL to `sel`:`off` in protected mode (SDM "JMP", "CALL"). */
export function farTransfer(cpu: Cpu, sel: number, off: number, call: boolean): void {
  sel &= 0xffff;
  const err = sel & 0xfffc;
  if (err === 0) cpu.raise(EXC_GP, 0);
  const lin = readDescriptor(cpu, sel);
  const lo = desc[0]!;
  const hi = desc[1]!;
  const attr = attrOf(hi);
  const cpl = cpu.cplValue;
  const rpl = sel & 3;
  const dpl = (attr >> 5) & 3;
  if (attr & ATTR_S) {
    // A code segment: conforming needs DPL ≤ CPL, non-conforming RPL ≤ CPL and DPL = CPL (§5.8.1).
    if ((attr & ATTR_CODE) === 0) cpu.raise(EXC_GP, err);
    if (attr & ATTR_DC) {
      if (dpl > cpl) cpu.raise(EXC_GP, err);
    } else if (rpl > cpl || dpl !== cpl) cpu.raise(EXC_GP, err);
    if ((attr & ATTR_P) === 0) cpu.raise(EXC_NP, err);
    const ip = cpu.o32 ? off | 0 : off & 0xffff;
    if (ip >>> 0 > limitOf(lo, hi)) cpu.raise(EXC_GP, 0);
    if (call) pushReturn(cpu, cpu.o32);
    commitCs(cpu, sel, cpl, lin, lo, hi);
    cpu.ip = ip;
    return;
  }
  switch (attr & 0x0f) {
    case 0x04: // 16-bit call gate
    case 0x0c: // 32-bit call gate
      if (dpl < cpl || dpl < rpl) cpu.raise(EXC_GP, err);
      if ((attr & ATTR_P) === 0) cpu.raise(EXC_NP, err);
      callGate(cpu, lo, hi, call);
      return;
    case 0x05: // task gate
      if (dpl < cpl || dpl < rpl) cpu.raise(EXC_GP, err);
      if ((attr & ATTR_P) === 0) cpu.raise(EXC_NP, err);
      taskGate(cpu, lo >>> 16, call ? TASK_CALL : TASK_JMP, -1, 0);
      return;
    case 0x01: // available 16-bit TSS
    case 0x09: // available 32-bit TSS
      // A TSS descriptor is valid only in the GDT (SDM §7.2.2).
      if (sel & 4 || dpl < cpl || dpl < rpl) cpu.raise(EXC_GP, err);
      if ((attr & ATTR_P) === 0) cpu.raise(EXC_NP, err);
      taskSwitch(cpu, sel, lin, lo, hi, call ? TASK_CALL : TASK_JMP, -1, 0);
      return;
    default:
      // Busy TSS, LDT, interrupt/trap gates, reserved types.
      cpu.raise(EXC_GP, err);
  }
}

/** Pushes CS and EIP (the return address) as words or dwords. */
function pushReturn(cpu: Cpu, size32: boolean): void {
  const cs = cpu.segSel[SREG_CS]!;
  if (size32) {
    cpu.push32(cs);
    cpu.push32(cpu.ip);
  } else {
    cpu.push16(cs);
    cpu.push16(cpu.ip);
  }
}

/** Through a call gate (SDM "CALL": CALL-GATE, MORE-PRIVILEGE / SAME-PRIVILEGE). */
function callGate(cpu: Cpu, gateLo: number, gateHi: number, call: boolean): void {
  const gate32 = (gateHi & 0x800) !== 0;
  const count = gateHi & 0x1f;
  const tsel = gateLo >>> 16;
  const terr = tsel & 0xfffc;
  const off = gate32 ? (gateLo & 0xffff) | (gateHi & 0xffff0000) : gateLo & 0xffff;
  if (terr === 0) cpu.raise(EXC_GP, 0);
  const lin = readDescriptor(cpu, tsel);
  const lo = desc[0]!;
  const hi = desc[1]!;
  const attr = attrOf(hi);
  const dpl = (attr >> 5) & 3;
  const cpl = cpu.cplValue;
  if ((attr & (ATTR_S | ATTR_CODE)) !== (ATTR_S | ATTR_CODE) || dpl > cpl) cpu.raise(EXC_GP, terr);
  // JMP through a call gate never changes privilege: a non-conforming target needs DPL = CPL.
  if (!call && (attr & ATTR_DC) === 0 && dpl !== cpl) cpu.raise(EXC_GP, terr);
  if ((attr & ATTR_P) === 0) cpu.raise(EXC_NP, terr);
  const limit = limitOf(lo, hi);
  if (!call || (attr & ATTR_DC) !== 0 || dpl === cpl) {
    if (off >>> 0 > limit) cpu.raise(EXC_GP, 0);
    if (call) pushReturn(cpu, gate32);
    commitCs(cpu, tsel, cpl, lin, lo, hi);
    cpu.ip = off;
    return;
  }
  // More privilege: new stack from the TSS, checked before anything changes.
  readTssStack(cpu, dpl, 0);
  const ss = tssStack[0]!;
  const esp = tssStack[1]!;
  const ssLin = checkInnerStack(cpu, ss, dpl, 0);
  const ssLo = desc[0]!;
  const ssHi = desc[1]!;
  // The parameters come from the caller's stack, copied before SS changes.
  const n = gate32 ? 4 : 2;
  for (let i = 0; i < count; i++) params[i] = gate32 ? cpu.peek32(i * n) : cpu.peek16(i * n);
  flushFlags(cpu);
  saveContext(cpu, rollback);
  const oldSs = cpu.segSel[SREG_SS]!;
  const oldEsp = cpu.regs[4]!;
  const oldCs = cpu.segSel[SREG_CS]!;
  const oldIp = cpu.ip;
  try {
    commitSs(cpu, ss, ssLin, ssLo, ssHi);
    cpu.regs[4] = (ssHi & 0x400000) !== 0 ? esp : esp & 0xffff;
    checkStackRoom(cpu, (4 + count) * n, ss & 0xfffc);
    if (off >>> 0 > limit) cpu.raise(EXC_GP, 0);
    changeCpl(cpu, dpl);
    if (gate32) {
      cpu.push32(oldSs);
      cpu.push32(oldEsp);
      for (let i = count - 1; i >= 0; i--) cpu.push32(params[i]!);
      cpu.push32(oldCs);
      cpu.push32(oldIp);
    } else {
      cpu.push16(oldSs);
      cpu.push16(oldEsp);
      for (let i = count - 1; i >= 0; i--) cpu.push16(params[i]!);
      cpu.push16(oldCs);
      cpu.push16(oldIp);
    }
    commitCs(cpu, tsel, dpl, lin, lo, hi);
    cpu.ip = off;
  } catch (e) {
    restoreContext(cpu, rollback);
    throw e;
  }
}

// ---- RET / IRET -------------------------------------------------------------------------------

/**
 * Checks the CS selector popped by RET or IRET (SDM "RET": RETURN-TO-SAME/OUTER-PRIVILEGE-LEVEL):
 * null ⇒ #GP(0); RPL < CPL, not code, conforming with DPL > RPL, non-conforming with DPL ≠ RPL ⇒
 * #GP(selector); not present ⇒ #NP(selector). Leaves the descriptor in `desc`, returns its address.
 */
function checkReturnCs(cpu: Cpu, sel: number): number {
  const err = sel & 0xfffc;
  if (err === 0) cpu.raise(EXC_GP, 0);
  const lin = readDescriptor(cpu, sel);
  const attr = attrOf(desc[1]!);
  const rpl = sel & 3;
  const dpl = (attr >> 5) & 3;
  if (rpl < cpu.cplValue) cpu.raise(EXC_GP, err);
  if ((attr & (ATTR_S | ATTR_CODE)) !== (ATTR_S | ATTR_CODE)) cpu.raise(EXC_GP, err);
  if (attr & ATTR_DC ? dpl > rpl : dpl !== rpl) cpu.raise(EXC_GP, err);
  if ((attr & ATTR_P) === 0) cpu.raise(EXC_NP, err);
  return lin;
}

/**
 * Checks the SS selector popped by a return to the outer level `rpl`: null ⇒ #GP(0); RPL ≠ `rpl`,
 * not writable data, DPL ≠ `rpl` ⇒ #GP(selector); not present ⇒ #SS(selector).
 */
function checkOuterStack(cpu: Cpu, ss: number, rpl: number): number {
  const err = ss & 0xfffc;
  if (err === 0) cpu.raise(EXC_GP, 0);
  const lin = readDescriptor(cpu, ss);
  const attr = attrOf(desc[1]!);
  if ((ss & 3) !== rpl) cpu.raise(EXC_GP, err);
  if ((attr & (ATTR_S | ATTR_CODE | ATTR_RW)) !== (ATTR_S | ATTR_RW)) cpu.raise(EXC_GP, err);
  if (((attr >> 5) & 3) !== rpl) cpu.raise(EXC_GP, err);
  if ((attr & ATTR_P) === 0) cpu.raise(EXC_SS, err);
  return lin;
}

/** Far RET [imm16] in protected mode (SDM "RET"). */
export function farReturn(cpu: Cpu, release: number): void {
  const o32 = cpu.o32;
  const n = o32 ? 4 : 2;
  const ip = o32 ? cpu.peek32(0) : cpu.peek16(0);
  const sel = (o32 ? cpu.peek32(n) : cpu.peek16(n)) & 0xffff;
  const lin = checkReturnCs(cpu, sel);
  const lo = desc[0]!;
  const hi = desc[1]!;
  const rpl = sel & 3;
  if (rpl === cpu.cplValue) {
    if (ip >>> 0 > limitOf(lo, hi)) cpu.raise(EXC_GP, 0);
    commitCs(cpu, sel, rpl, lin, lo, hi);
    cpu.addSp(2 * n + release);
    cpu.ip = ip;
    return;
  }
  // Outer level: SS:ESP follow the parameters that RET imm16 releases.
  const esp = o32 ? cpu.peek32(2 * n + release) : cpu.peek16(2 * n + release);
  const ss = (o32 ? cpu.peek32(3 * n + release) : cpu.peek16(3 * n + release)) & 0xffff;
  const ssLin = checkOuterStack(cpu, ss, rpl);
  const ssLo = desc[0]!;
  const ssHi = desc[1]!;
  if (ip >>> 0 > limitOf(lo, hi)) cpu.raise(EXC_GP, 0);
  flushFlags(cpu);
  saveContext(cpu, rollback);
  try {
    commitCs(cpu, sel, rpl, lin, lo, hi);
    commitSs(cpu, ss, ssLin, ssLo, ssHi);
    if (cpu.stack32) cpu.regs[4] = esp;
    else cpu.r16[8] = esp;
    cpu.addSp(release);
    cpu.ip = ip;
    nullInaccessibleSegments(cpu);
  } catch (e) {
    restoreContext(cpu, rollback);
    throw e;
  }
}

/** The EFLAGS bits IRET may change at privilege `cpl` with operand size `o32` (SDM "IRET"). */
function iretFlagsMask(cpu: Cpu, cpl: number, o32: boolean): number {
  let m = FLAGS_WRITABLE & ~(FLAG_VM | FLAG_VIF | FLAG_VIP);
  if (cpl > 0) m &= ~FLAG_IOPL;
  if (cpl > ((cpu.flags >> 12) & 3)) m &= ~FLAG_IF;
  return o32 ? m : m & 0xffff;
}

/** IRET/IRETD in protected mode (not virtual-8086): task return, same or outer level, or to v86. */
export function iretProtected(cpu: Cpu): void {
  if (cpu.flags & FLAG_NT) {
    taskReturn(cpu);
    return;
  }
  const o32 = cpu.o32;
  const n = o32 ? 4 : 2;
  const ip = o32 ? cpu.peek32(0) : cpu.peek16(0);
  const sel = (o32 ? cpu.peek32(n) : cpu.peek16(n)) & 0xffff;
  const fl = o32 ? cpu.peek32(2 * n) : cpu.peek16(2 * n);
  const cpl = cpu.cplValue;
  if (o32 && (fl & FLAG_VM) !== 0 && cpl === 0) {
    iretToV86(cpu, ip, sel, fl);
    return;
  }
  const lin = checkReturnCs(cpu, sel);
  const lo = desc[0]!;
  const hi = desc[1]!;
  const rpl = sel & 3;
  const mask = iretFlagsMask(cpu, cpl, o32);
  flushFlags(cpu);
  if (rpl === cpl) {
    if (ip >>> 0 > limitOf(lo, hi)) cpu.raise(EXC_GP, 0);
    commitCs(cpu, sel, rpl, lin, lo, hi);
    cpu.addSp(3 * n);
    cpu.ip = ip;
    cpu.flags = (cpu.flags & ~mask) | (fl & mask) | FLAG_1;
    return;
  }
  const esp = o32 ? cpu.peek32(3 * n) : cpu.peek16(3 * n);
  const ss = (o32 ? cpu.peek32(4 * n) : cpu.peek16(4 * n)) & 0xffff;
  const ssLin = checkOuterStack(cpu, ss, rpl);
  const ssLo = desc[0]!;
  const ssHi = desc[1]!;
  if (ip >>> 0 > limitOf(lo, hi)) cpu.raise(EXC_GP, 0);
  saveContext(cpu, rollback);
  try {
    cpu.flags = (cpu.flags & ~mask) | (fl & mask) | FLAG_1;
    commitCs(cpu, sel, rpl, lin, lo, hi);
    commitSs(cpu, ss, ssLin, ssLo, ssHi);
    if (cpu.stack32) cpu.regs[4] = esp;
    else cpu.r16[8] = esp;
    cpu.ip = ip;
    nullInaccessibleSegments(cpu);
    // EFLAGS.AC matters to the MMU (SMAP) and may have changed with CPL.
    cpu.pushPagingState();
  } catch (e) {
    restoreContext(cpu, rollback);
    throw e;
  }
}
