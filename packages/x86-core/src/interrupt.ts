/**
 * Interrupt and exception delivery (SDM Vol. 3 Chapter 6): the real-mode IVT, protected-mode IDT
 * interrupt and trap gates (same privilege level in part 1), error codes, the double-fault rules of
 * Table 6-5 and the triple fault (shutdown).
 */

import {
  ATTR_CODE,
  ATTR_DC,
  ATTR_P,
  ATTR_S,
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
  SREG_SS,
} from './constants';
import type { Cpu } from './cpu';
import { flushFlags } from './flags';
import { descAttr, isProtected, loadCodeSegment, loadCsReal, readDescriptor, sysRead32 } from './segment';
import { GUEST_FAULT, STOP_SHUTDOWN } from './signals';

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
 * becomes #DF; a fault while delivering #DF is a triple fault, which shuts the CPU down.
 */
export function deliver(cpu: Cpu, vector: number, errorCode: number, source: number): void {
  let v = vector;
  let e = errorCode;
  let src = source;
  const ip = cpu.ip;
  const sp = cpu.regs[4]!;
  const cs = cpu.segSel[SREG_CS]!;
  const csBase = cpu.segBase[SREG_CS]!;
  const csLimit = cpu.segRawLimit[SREG_CS]!;
  const csAttr = cpu.segAttr[SREG_CS]!;
  const cpl = cpu.cplValue;
  for (;;) {
    try {
      deliverOnce(cpu, v, hasErrorCode(v) && src !== SRC_SOFT ? e : -1, src);
      cpu.halted = false;
      return;
    } catch (x) {
      if (x !== GUEST_FAULT) throw x;
      // A fault while delivering INT n reports the INT instruction itself (SDM §6.12.1.1).
      cpu.ip = src === SRC_SOFT ? cpu.startIp : ip;
      cpu.regs[4] = sp;
      cpu.setSegmentCache(SREG_CS, cs, csBase, csLimit, csAttr);
      if (cpu.cplValue !== cpl) cpu.setCpl(cpl);
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

function deliverOnce(cpu: Cpu, v: number, err: number, src: number): void {
  cpu.lastVector = v;
  const ext = src === SRC_EXT ? 1 : 0;
  if (!isProtected(cpu)) {
    if ((cpu.flags & FLAG_VM) !== 0) {
      // Virtual-8086 interrupts go through the protected-mode IDT to ring 0: part 2.
      cpu.raise(EXC_GP, (v << 3) | 2 | ext);
    }
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
  // Protected mode: the IDT holds 8-byte gates (SDM §6.11).
  const entry = v << 3;
  if (entry + 7 > cpu.dtr[3]!) cpu.raise(EXC_GP, entry | 2 | ext);
  const lo = sysRead32(cpu, (cpu.dtr[2]! + entry) | 0);
  const hi = sysRead32(cpu, (cpu.dtr[2]! + entry + 4) | 0);
  const type = (hi >> 8) & 0x1f;
  const gate32 = (type & 8) !== 0;
  const trap = (type & 1) !== 0;
  if (type !== 0x06 && type !== 0x07 && type !== 0x0e && type !== 0x0f) {
    // Task gates (type 5) are part 2 (hardware task switching).
    cpu.raise(EXC_GP, entry | 2 | ext);
  }
  if (src === SRC_SOFT && ((hi >> 13) & 3) < cpu.cplValue) cpu.raise(EXC_GP, entry | 2);
  if ((hi & 0x8000) === 0) cpu.raise(EXC_NP, entry | 2 | ext);
  const sel = lo >>> 16;
  const offset = gate32 ? (lo & 0xffff) | (hi & 0xffff0000) : lo & 0xffff;
  if ((sel & 0xfffc) === 0) cpu.raise(EXC_GP, ext);
  readDescriptor(cpu, sel);
  const attr = descAttr();
  if ((attr & (ATTR_S | ATTR_CODE)) !== (ATTR_S | ATTR_CODE)) cpu.raise(EXC_GP, (sel & 0xfffc) | ext);
  const dpl = (attr >> 5) & 3;
  if (dpl > cpu.cplValue) cpu.raise(EXC_GP, (sel & 0xfffc) | ext);
  if ((attr & ATTR_P) === 0) cpu.raise(EXC_NP, (sel & 0xfffc) | ext);
  if ((attr & ATTR_DC) === 0 && dpl < cpu.cplValue) {
    // Inner-privilege delivery switches stacks through the TSS: part 2.
    cpu.raise(EXC_GP, (sel & 0xfffc) | ext);
  }
  flushFlags(cpu);
  const flags = cpu.flags;
  const oldCs = cpu.segSel[SREG_CS]!;
  const oldIp = cpu.ip;
  // Check the whole frame fits before pushing anything, so a #SS leaves the stack untouched.
  const frame = (gate32 ? 4 : 2) * (err >= 0 ? 4 : 3);
  const sp = cpu.regs[4]!;
  const top = cpu.stack32 ? (sp - frame) >>> 0 : (sp - frame) & 0xffff;
  cpu.linW(SREG_SS, top, frame - 1);
  loadCodeSegment(cpu, sel, offset, cpu.cplValue);
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
