/**
 * Hardware task switching (SDM Vol. 3 Chapter 7): JMP/CALL to a TSS or a task gate, task gates in
 * the IDT, IRET with EFLAGS.NT. 16-bit (types 1/3) and 32-bit (types 9/11) TSS formats, busy bits,
 * the back link, CR0.TS, the CR3 switch and the LDT reload, then the segment loads of the new task
 * with the #TS/#NP/#SS checks of SDM Table 7-1.
 *
 * Order (SDM §7.3): every check that can be made in the old task, then the new TSS is read and the
 * old state saved, then the switch is committed; a fault after that point is raised in the new
 * task (`cpu.newContextFault` tells the run loop and `deliver` not to roll back).
 */

import {
  ATTR_CODE,
  ATTR_DC,
  ATTR_P,
  ATTR_RW,
  ATTR_S,
  CR0_PG,
  CR0_TS,
  EXC_GP,
  EXC_NP,
  EXC_SS,
  EXC_TS,
  FLAG_1,
  FLAG_NT,
  FLAG_VM,
  FLAGS_WRITABLE,
  SREG_CS,
  SREG_DS,
  SREG_ES,
  SREG_FS,
  SREG_GS,
  SREG_LDTR,
  SREG_SS,
  SREG_TR,
} from './constants';
import type { Cpu } from './cpu';
import { debugOnTaskSwitch } from './debug';
import { flushFlags } from './flags';
import {
  attrOf,
  baseOf,
  desc,
  limitOf,
  markAccessed,
  readDescriptor,
  sysRead16,
  sysRead32,
  sysWrite16,
  sysWrite32,
} from './segment';
import { cr3Value } from './system';
import { loadV86Segments } from './v86';

/** What started the switch: it decides busy bits, the back link, NT and the saved EIP. */
export const TASK_JMP = 0;
export const TASK_CALL = 1;
export const TASK_IRET = 2;
/** An interrupt or exception through an IDT task gate (nests like CALL). */
export const TASK_INT = 3;

/** TSS descriptor type bit 1: busy. */
const TSS_BUSY = 0x200;

/** The new task's state, read before anything is committed: EIP, EFLAGS, 8 GPRs, 6 selectors, LDT, CR3. */
const next = new Int32Array(19);
const N_EIP = 0;
const N_EFLAGS = 1;
const N_REGS = 2;
const N_SEGS = 10;
const N_LDT = 16;
const N_CR3 = 17;
const N_TRAP = 18;
/** The six selectors of `next` in SREG_* order (ES, CS, SS, DS, FS, GS), as the TSS stores them. */
const nextSegs = next.subarray(N_SEGS, N_SEGS + 6);

/** Segment-register order of the TSS fields (ES, CS, SS, DS, FS, GS) is the SREG_* order. */

/**
 * A task gate names a TSS (SDM §7.2.5): it must be in the GDT (TI = 0, else #GP), an available TSS
 * (else #GP) and present (else #NP), all with the TSS selector as error code.
 */
export function taskGate(cpu: Cpu, tssSel: number, source: number, errorCode: number, ext: number): void {
  const err = (tssSel & 0xfffc) | ext;
  if (tssSel & 4 || (tssSel & 0xfffc) === 0) cpu.raise(EXC_GP, err);
  const lin = readDescriptor(cpu, tssSel, EXC_GP, ext);
  const lo = desc[0]!;
  const hi = desc[1]!;
  const type = (hi >> 8) & 0x1f;
  if (type !== 0x01 && type !== 0x09) cpu.raise(EXC_GP, err);
  if ((hi & 0x8000) === 0) cpu.raise(EXC_NP, err);
  taskSwitch(cpu, tssSel, lin, lo, hi, source, errorCode, ext);
}

/**
 * IRET with EFLAGS.NT = 1 (SDM "IRET": TASK-RETURN): back to the task whose selector is in the
 * current TSS's back link, which must be a busy TSS in the GDT (else #TS(link)), present (else #NP).
 */
export function taskReturn(cpu: Cpu): void {
  const link = sysRead16(cpu, cpu.segBase[SREG_TR]!);
  const err = link & 0xfffc;
  if (link & 4 || err === 0) cpu.raise(EXC_TS, err);
  const lin = readDescriptor(cpu, link, EXC_TS);
  const lo = desc[0]!;
  const hi = desc[1]!;
  const type = (hi >> 8) & 0x1f;
  if (type !== 0x03 && type !== 0x0b) cpu.raise(EXC_TS, err);
  if ((hi & 0x8000) === 0) cpu.raise(EXC_NP, err);
  taskSwitch(cpu, link, lin, lo, hi, TASK_IRET, -1, 0);
}

/**
 * Switches to the task whose (checked) TSS descriptor `lo`/`hi` is at `descLin` in the GDT.
 * `errorCode` ≥ 0 is pushed on the new task's stack (exceptions through a task gate).
 */
export function taskSwitch(
  cpu: Cpu,
  sel: number,
  descLin: number,
  lo: number,
  hi: number,
  source: number,
  errorCode: number,
  ext: number,
): void {
  const err = (sel & 0xfffc) | ext;
  const new32 = (hi & 0x800) !== 0;
  const newBase = baseOf(lo, hi);
  const newLimit = limitOf(lo, hi);
  // SDM §7.2.2: a 32-bit TSS is at least 0x68 bytes, a 16-bit one 0x2C.
  if (newLimit < (new32 ? 0x67 : 0x2b)) cpu.raise(EXC_TS, err);
  const oldSel = cpu.segSel[SREG_TR]!;
  const oldBase = cpu.segBase[SREG_TR]!;
  const old32 = (cpu.segAttr[SREG_TR]! & 8) !== 0;
  const oldLimit = cpu.segRawLimit[SREG_TR]!;
  if (oldLimit < (old32 ? 0x5f : 0x29)) cpu.raise(EXC_TS, (oldSel & 0xfffc) | ext);

  // Read the new task's state (a #PF here still belongs to the old task).
  if (new32) {
    next[N_CR3] = sysRead32(cpu, newBase + 0x1c);
    next[N_EIP] = sysRead32(cpu, newBase + 0x20);
    next[N_EFLAGS] = sysRead32(cpu, newBase + 0x24);
    for (let i = 0; i < 8; i++) next[N_REGS + i] = sysRead32(cpu, newBase + 0x28 + 4 * i);
    for (let s = 0; s < 6; s++) next[N_SEGS + s] = sysRead16(cpu, newBase + 0x48 + 4 * s);
    next[N_LDT] = sysRead16(cpu, newBase + 0x60);
    // The debug trap flag T (SDM §7.2.1): a #DB when the new task starts.
    next[N_TRAP] = sysRead16(cpu, newBase + 0x64) & 1;
  } else {
    next[N_CR3] = cpu.cr[3]!;
    next[N_EIP] = sysRead16(cpu, newBase + 0x0e);
    next[N_EFLAGS] = sysRead16(cpu, newBase + 0x10);
    // A 16-bit TSS has no upper register halves; they read as ones, as on Bochs and the 386.
    for (let i = 0; i < 8; i++) next[N_REGS + i] = 0xffff0000 | sysRead16(cpu, newBase + 0x12 + 2 * i);
    for (let s = 0; s < 4; s++) next[N_SEGS + s] = sysRead16(cpu, newBase + 0x22 + 2 * s);
    next[N_SEGS + SREG_FS] = 0;
    next[N_SEGS + SREG_GS] = 0;
    next[N_LDT] = sysRead16(cpu, newBase + 0x2a);
    next[N_TRAP] = 0;
  }

  // The outgoing task: JMP and IRET leave it not busy; IRET saves its EFLAGS with NT clear.
  if (source === TASK_JMP || source === TASK_IRET) {
    const oldLin = (cpu.dtr[0]! + (oldSel & ~7)) | 0;
    const oldHi = sysRead32(cpu, oldLin + 4);
    sysWrite32(cpu, oldLin + 4, oldHi & ~TSS_BUSY);
  }
  flushFlags(cpu);
  let flags = cpu.flags;
  if (source === TASK_IRET) flags &= ~FLAG_NT;
  const r = cpu.regs;
  if (old32) {
    sysWrite32(cpu, oldBase + 0x20, cpu.ip);
    sysWrite32(cpu, oldBase + 0x24, flags);
    for (let i = 0; i < 8; i++) sysWrite32(cpu, oldBase + 0x28 + 4 * i, r[i]!);
    for (let s = 0; s < 6; s++) sysWrite16(cpu, oldBase + 0x48 + 4 * s, cpu.segSel[s]!);
  } else {
    sysWrite16(cpu, oldBase + 0x0e, cpu.ip);
    sysWrite16(cpu, oldBase + 0x10, flags);
    for (let i = 0; i < 8; i++) sysWrite16(cpu, oldBase + 0x12 + 2 * i, r[i]!);
    for (let s = 0; s < 4; s++) sysWrite16(cpu, oldBase + 0x22 + 2 * s, cpu.segSel[s]!);
  }
  let newFlags = next[N_EFLAGS]!;
  if (source === TASK_CALL || source === TASK_INT) {
    sysWrite16(cpu, newBase, oldSel);
    newFlags |= FLAG_NT;
  }
  if (source !== TASK_IRET) sysWrite32(cpu, descLin + 4, hi | TSS_BUSY);

  // Commit: from here on, faults belong to the new task.
  cpu.setSegmentCache(SREG_TR, sel, newBase, newLimit, attrOf(hi) | 2);
  cpu.cr[0] = cpu.cr[0]! | CR0_TS;
  cpu.flags = (newFlags & FLAGS_WRITABLE) | FLAG_1;
  cpu.ccOp = 0;
  cpu.ip = new32 ? next[N_EIP]! : next[N_EIP]! & 0xffff;
  for (let i = 0; i < 8; i++) r[i] = next[N_REGS + i]!;
  const vm = new32 && (newFlags & FLAG_VM) !== 0;
  const cs = next[N_SEGS + SREG_CS]!;
  // The selectors first (SDM §7.3 step 12), the descriptors after. The data segments are unusable
  // until loaded; CS and SS keep their old descriptor caches meanwhile, as the hardware's caches do,
  // so that a #TS raised by the LDT or CS check can still be delivered on the new task's ESP.
  for (let s = 0; s < 6; s++) {
    if (s === SREG_CS || s === SREG_SS) cpu.segSel[s] = next[N_SEGS + s]!;
    else cpu.setSegmentNull(s, next[N_SEGS + s]!);
  }
  cpu.setSegmentNull(SREG_LDTR, next[N_LDT]!);
  cpu.newContextFault = true;
  const newCpl = vm ? 3 : cs & 3;
  if (cpu.cplValue !== newCpl) cpu.setCpl(newCpl);
  if (new32 && (cpu.cr[0]! & CR0_PG) !== 0) {
    // SDM §7.3 step 11: a 32-bit TSS loads CR3, which flushes the non-global TLB entries.
    cpu.cr[3] = cr3Value(cpu, next[N_CR3]!);
    if (!cpu.pushPagingState()) cpu.raise(EXC_GP, ext);
    cpu.memory.flushTlb(false);
  } else cpu.pushPagingState();

  loadTaskLdt(cpu, next[N_LDT]!, ext);
  if (vm) loadV86Segments(cpu, nextSegs);
  else {
    loadTaskCs(cpu, cs, ext);
    loadTaskSs(cpu, next[N_SEGS + SREG_SS]!, newCpl, ext);
    for (const s of DATA_SREGS) loadTaskData(cpu, s, next[N_SEGS + s]!, newCpl, ext);
  }
  if (errorCode >= 0) {
    if (new32) cpu.push32(errorCode);
    else cpu.push16(errorCode);
  }
  if (cpu.ip >>> 0 > cpu.csLimit) cpu.raise(EXC_GP, ext);
  cpu.newContextFault = false;
  debugOnTaskSwitch(cpu, next[N_TRAP] !== 0);
}

const DATA_SREGS = [SREG_ES, SREG_DS, SREG_FS, SREG_GS] as const;

/** LDT of the new task: null is allowed; TI = 1, beyond the GDT, not an LDT or not present ⇒ #TS. */
function loadTaskLdt(cpu: Cpu, sel: number, ext: number): void {
  const err = (sel & 0xfffc) | ext;
  if ((sel & 0xfffc) === 0) return;
  if (sel & 4) cpu.raise(EXC_TS, err);
  readDescriptor(cpu, sel, EXC_TS, ext);
  const hi = desc[1]!;
  if (((hi >> 8) & 0x1f) !== 0x02 || (hi & 0x8000) === 0) cpu.raise(EXC_TS, err);
  cpu.setSegmentCache(SREG_LDTR, sel, baseOf(desc[0]!, hi), limitOf(desc[0]!, hi), attrOf(hi));
}

/** CS of the new task: a present code segment whose DPL matches its RPL (conforming: ≤). */
function loadTaskCs(cpu: Cpu, sel: number, ext: number): void {
  const err = (sel & 0xfffc) | ext;
  if ((sel & 0xfffc) === 0) cpu.raise(EXC_TS, err);
  const lin = readDescriptor(cpu, sel, EXC_TS, ext);
  const lo = desc[0]!;
  const hi = desc[1]!;
  const attr = attrOf(hi);
  const dpl = (attr >> 5) & 3;
  if ((attr & (ATTR_S | ATTR_CODE)) !== (ATTR_S | ATTR_CODE)) cpu.raise(EXC_TS, err);
  if (attr & ATTR_DC ? dpl > (sel & 3) : dpl !== (sel & 3)) cpu.raise(EXC_TS, err);
  if ((attr & ATTR_P) === 0) cpu.raise(EXC_NP, err);
  markAccessed(cpu, lin, hi);
  cpu.setSegmentCache(SREG_CS, sel, baseOf(lo, hi), limitOf(lo, hi), attr | 1);
}

/** SS of the new task: writable data with RPL = DPL = CPL (#TS), present (#SS). */
function loadTaskSs(cpu: Cpu, sel: number, cpl: number, ext: number): void {
  const err = (sel & 0xfffc) | ext;
  if ((sel & 0xfffc) === 0) cpu.raise(EXC_TS, err);
  const lin = readDescriptor(cpu, sel, EXC_TS, ext);
  const lo = desc[0]!;
  const hi = desc[1]!;
  const attr = attrOf(hi);
  if ((attr & (ATTR_S | ATTR_CODE | ATTR_RW)) !== (ATTR_S | ATTR_RW)) cpu.raise(EXC_TS, err);
  if ((sel & 3) !== cpl || ((attr >> 5) & 3) !== cpl) cpu.raise(EXC_TS, err);
  if ((attr & ATTR_P) === 0) cpu.raise(EXC_SS, err);
  markAccessed(cpu, lin, hi);
  cpu.setSegmentCache(SREG_SS, sel, baseOf(lo, hi), limitOf(lo, hi), attr | 1);
}

/** DS/ES/FS/GS of the new task: null, or data / readable code accessible at CPL and RPL (#TS), present (#NP). */
function loadTaskData(cpu: Cpu, sreg: number, sel: number, cpl: number, ext: number): void {
  const err = (sel & 0xfffc) | ext;
  if ((sel & 0xfffc) === 0) return;
  const lin = readDescriptor(cpu, sel, EXC_TS, ext);
  const lo = desc[0]!;
  const hi = desc[1]!;
  const attr = attrOf(hi);
  const dpl = (attr >> 5) & 3;
  if ((attr & ATTR_S) === 0 || (attr & (ATTR_CODE | ATTR_RW)) === ATTR_CODE) cpu.raise(EXC_TS, err);
  const conforming = (attr & (ATTR_CODE | ATTR_DC)) === (ATTR_CODE | ATTR_DC);
  if (!conforming && (dpl < cpl || dpl < (sel & 3))) cpu.raise(EXC_TS, err);
  if ((attr & ATTR_P) === 0) cpu.raise(EXC_NP, err);
  markAccessed(cpu, lin, hi);
  cpu.setSegmentCache(sreg, sel, baseOf(lo, hi), limitOf(lo, hi), attr | 1);
}
