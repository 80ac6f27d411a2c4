/**
 * Interrupt and exception delivery (SDM Vol. 3 Chapter 6): the real-mode IVT, protected-mode IDT
 * interrupt and trap gates at the same or an inner privilege level (stack switch through the TSS,
 * the virtual-8086 frame), task gates (task.ts), error codes with the EXT bit, the double-fault
 * rules of Table 6-5 and the triple fault (shutdown).
 */

import {
  ATTR_CODE,
  ATTR_DC,
  ATTR_P,
  ATTR_S,
  CR0_PE,
  EXC_DF,
  EXC_GP,
  EXC_NP,
  EXC_PF,
  FLAG_AC,
  FLAG_IF,
  FLAG_NT,
  FLAG_RF,
  FLAG_TF,
  FLAG_VM,
  SREG_CS,
  SREG_DS,
  SREG_ES,
  SREG_FS,
  SREG_GS,
  SREG_SS,
} from './constants';
import type { Cpu } from './cpu';
import { flushFlags } from './flags';
import { desc, descAttr, limitOf, loadCsReal, readDescriptor, sysRead32 } from './segment';
import { GUEST_FAULT, STOP_SHUTDOWN } from './signals';
import { TASK_INT, taskGate } from './task';
import {
  CONTEXT_SIZE,
  checkInnerStack,
  checkStackRoom,
  commitCs,
  commitSs,
  readTssStack,
  restoreContext,
  saveContext,
  tssStack,
} from './transfer';

/** How the event arose: it decides the return address, the IDT-gate DPL check and the EXT bit. */
export const SRC_FAULT = 0;
/** INT n, INT3, INTO: gate DPL is checked against CPL (SDM §6.12.1.1). */
export const SRC_SOFT = 1;
/** An external interrupt or NMI. */
export const SRC_EXT = 2;

/** Exceptions that push an error code (SDM Table 6-1). */
function hasErrorCode(v: number): boolean {
  return v === 8 || (v >= 10 && v <= 14) || v === 17;
}

/** Contributory exceptions (SDM Table 6-4). */
function contributory(v: number): boolean {
  return v === 0 || (v >= 10 && v <= 13);
}

/**
 * Delivers `vector` with the current CS:EIP as the return address. Faults during delivery are
 * resolved per SDM Table 6-5: a second contributory fault (or a contributory/#PF after #PF)
 * becomes #DF; a fault while delivering #DF is a triple fault, which shuts the CPU down. A failed
 * attempt leaves no trace (segment caches, CPL, ESP and EFLAGS are rolled back) unless it failed
 * inside a committed task switch, whose fault belongs to the new task (SDM §7.3).
 */
export function deliver(cpu: Cpu, vector: number, errorCode: number, source: number): void {
  let v = vector;
  let e = errorCode;
  let src = source;
  flushFlags(cpu);
  saveContext(cpu, saved);
  for (;;) {
    cpu.newContextFault = false;
    try {
      deliverOnce(cpu, v, hasErrorCode(v) && src !== SRC_SOFT ? e : -1, src);
      cpu.halted = false;
      return;
    } catch (x) {
      if (x !== GUEST_FAULT) throw x;
      if (cpu.newContextFault) {
        cpu.newContextFault = false;
        flushFlags(cpu);
        saveContext(cpu, saved);
      } else {
        restoreContext(cpu, saved);
        // A fault while delivering INT n reports the INT instruction itself (SDM §6.12.1.1).
        if (src === SRC_SOFT) cpu.ip = cpu.startIp;
      }
      const v2 = cpu.excVector;
      if (v === EXC_DF) {
        cpu.stopCode = STOP_SHUTDOWN;
        cpu.shutdown = true;
        return;
      }
      if ((contributory(v) || v === EXC_PF) && (contributory(v2) || (v === EXC_PF && v2 === EXC_PF))) {
        v = EXC_DF;
        e = 0;
      } else {
        v = v2;
        e = cpu.excError;
      }
      src = SRC_FAULT;
    }
  }
}
const saved = new Float64Array(CONTEXT_SIZE);

function deliverOnce(cpu: Cpu, v: number, err: number, src: number): void {
  cpu.lastVector = v;
  const ext = src === SRC_EXT ? 1 : 0;
  if ((cpu.cr[0]! & CR0_PE) === 0) {
    // Real mode: the IVT entry is a far pointer (SDM §20.1.4).
    const entry = v << 2;
    if (entry + 3 > cpu.dtr[3]!) cpu.raise(EXC_GP, (v << 3) | 2 | ext);
    const vec = sysRead32(cpu, (cpu.dtr[2]! + entry) | 0);
    flushFlags(cpu);
    cpu.push16(cpu.flags);
    cpu.push16(cpu.segSel[SREG_CS]!);
    cpu.push16(cpu.ip);
    cpu.flags &= ~(FLAG_IF | FLAG_TF | FLAG_AC | FLAG_RF);
    loadCsReal(cpu, vec >>> 16);
    cpu.ip = vec & 0xffff;
    return;
  }
  // Protected mode (and virtual-8086 mode): the IDT holds 8-byte gates (SDM §6.11).
  const entry = v << 3;
  const idtErr = entry | 2 | ext;
  if (entry + 7 > cpu.dtr[3]!) cpu.raise(EXC_GP, idtErr);
  const lo = sysRead32(cpu, (cpu.dtr[2]! + entry) | 0);
  const hi = sysRead32(cpu, (cpu.dtr[2]! + entry + 4) | 0);
  const type = (hi >> 8) & 0x1f;
  if (type !== 0x05 && type !== 0x06 && type !== 0x07 && type !== 0x0e && type !== 0x0f) {
    cpu.raise(EXC_GP, idtErr);
  }
  if (src === SRC_SOFT && ((hi >> 13) & 3) < cpu.cplValue) cpu.raise(EXC_GP, entry | 2);
  if ((hi & 0x8000) === 0) cpu.raise(EXC_NP, idtErr);
  if (type === 0x05) {
    // Task gate: the handler is a task (SDM §6.12.2); the error code goes on its stack.
    taskGate(cpu, lo >>> 16, TASK_INT, err, ext);
    return;
  }
  const gate32 = (type & 8) !== 0;
  const trap = (type & 1) !== 0;
  const sel = lo >>> 16;
  const selErr = (sel & 0xfffc) | ext;
  const offset = gate32 ? (lo & 0xffff) | (hi & 0xffff0000) : lo & 0xffff;
  if ((sel & 0xfffc) === 0) cpu.raise(EXC_GP, ext);
  const csLin = readDescriptor(cpu, sel, EXC_GP, ext);
  const csLo = desc[0]!;
  const csHi = desc[1]!;
  const attr = descAttr();
  if ((attr & (ATTR_S | ATTR_CODE)) !== (ATTR_S | ATTR_CODE)) cpu.raise(EXC_GP, selErr);
  const dpl = (attr >> 5) & 3;
  const cpl = cpu.cplValue;
  if (dpl > cpl) cpu.raise(EXC_GP, selErr);
  if ((attr & ATTR_P) === 0) cpu.raise(EXC_NP, selErr);
  const vm = (cpu.flags & FLAG_VM) !== 0;
  flushFlags(cpu);
  const flags = cpu.flags;
  const oldCs = cpu.segSel[SREG_CS]!;
  const oldIp = cpu.ip;
  if ((attr & ATTR_DC) === 0 && dpl < cpl) {
    // Inner privilege (SDM §6.12.1, "INT n": INTER-PRIVILEGE-LEVEL-INTERRUPT): the stack for the
    // handler's level comes from the TSS; from virtual-8086 mode only a ring-0 handler is allowed.
    if (vm && dpl !== 0) cpu.raise(EXC_GP, selErr);
    readTssStack(cpu, dpl, ext);
    const ss = tssStack[0]!;
    const esp = tssStack[1]!;
    const ssLin = checkInnerStack(cpu, ss, dpl, ext);
    const ssLo = desc[0]!;
    const ssHi = desc[1]!;
    if (offset >>> 0 > limitOf(csLo, csHi)) cpu.raise(EXC_GP, ext);
    const oldSs = cpu.segSel[SREG_SS]!;
    const oldEsp = cpu.regs[4]!;
    cpu.flags &= ~(FLAG_TF | FLAG_NT | FLAG_RF | FLAG_VM);
    if (!trap) cpu.flags &= ~FLAG_IF;
    commitSs(cpu, ss, ssLin, ssLo, ssHi);
    cpu.regs[4] = (ssHi & 0x400000) !== 0 ? esp : esp & 0xffff;
    const words = (vm ? 9 : 5) + (err >= 0 ? 1 : 0);
    checkStackRoom(cpu, words * (gate32 ? 4 : 2), (ss & 0xfffc) | ext);
    cpu.setCpl(dpl);
    cpu.pushPagingState();
    const push = gate32 ? pushDword : pushWord;
    if (vm) {
      push(cpu, cpu.segSel[SREG_GS]!);
      push(cpu, cpu.segSel[SREG_FS]!);
      push(cpu, cpu.segSel[SREG_DS]!);
      push(cpu, cpu.segSel[SREG_ES]!);
    }
    push(cpu, oldSs);
    push(cpu, oldEsp);
    push(cpu, flags);
    push(cpu, oldCs);
    push(cpu, oldIp);
    if (err >= 0) push(cpu, err);
    if (vm) {
      cpu.setSegmentNull(SREG_GS, 0);
      cpu.setSegmentNull(SREG_FS, 0);
      cpu.setSegmentNull(SREG_DS, 0);
      cpu.setSegmentNull(SREG_ES, 0);
    }
    commitCs(cpu, sel, dpl, csLin, csLo, csHi);
    cpu.ip = offset;
    return;
  }
  // Same privilege (a conforming handler, or DPL = CPL); never from virtual-8086 mode.
  if (vm) cpu.raise(EXC_GP, selErr);
  // Check the whole frame fits before pushing anything, so a #SS leaves the stack untouched.
  const frame = (gate32 ? 4 : 2) * (err >= 0 ? 4 : 3);
  const sp = cpu.regs[4]!;
  const top = cpu.stack32 ? (sp - frame) >>> 0 : (sp - frame) & 0xffff;
  cpu.linW(SREG_SS, top, frame - 1);
  if (offset >>> 0 > limitOf(csLo, csHi)) cpu.raise(EXC_GP, ext);
  commitCs(cpu, sel, cpl, csLin, csLo, csHi);
  if (gate32) {
    cpu.push32(flags);
    cpu.push32(oldCs);
    cpu.push32(oldIp);
    if (err >= 0) cpu.push32(err);
  } else {
    cpu.push16(flags);
    cpu.push16(oldCs);
    cpu.push16(oldIp);
    if (err >= 0) cpu.push16(err);
  }
  cpu.flags &= ~(FLAG_TF | FLAG_NT | FLAG_RF | FLAG_VM);
  if (!trap) cpu.flags &= ~FLAG_IF;
  cpu.ip = offset;
}

function pushDword(cpu: Cpu, v: number): void {
  cpu.push32(v);
}
function pushWord(cpu: Cpu, v: number): void {
  cpu.push16(v);
}
