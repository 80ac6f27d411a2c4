/**
 * Control transfer and stack-frame instructions: JMP, CALL, RET (near and far), Jcc/LOOP/JCXZ
 * targets, INT n, IRET, ENTER, LEAVE, PUSHA/POPA, PUSHF/POPF, BOUND (SDM Vol. 2). Far transfers
 * in protected mode (gates, privilege changes, task switches) are in transfer.ts.
 */

import {
  EXC_BR,
  EXC_GP,
  FLAG_1,
  FLAG_IF,
  FLAG_IOPL,
  FLAG_RF,
  FLAG_VIF,
  FLAG_VIP,
  FLAG_VM,
  SREG_CS,
  SREG_SS,
} from './constants';
import type { Cpu } from './cpu';
import { ea } from './decode';
import { cond, flushFlags } from './flags';
import { deliver } from './interrupt';
import { isProtected, loadCsReal } from './segment';
import { farReturn, farTransfer, iretProtected } from './transfer';
import { iretInV86 } from './v86';

/** Sets EIP to `target` (truncated to 16 bits with a 16-bit operand size), checking the CS limit. */
export function jumpNear(cpu: Cpu, target: number): void {
  const ip = cpu.o32 ? target | 0 : target & 0xffff;
  if (ip >>> 0 > cpu.csLimit) cpu.raise(EXC_GP, 0);
  cpu.ip = ip;
}

export function callNear(cpu: Cpu, target: number): void {
  const ip = cpu.o32 ? target | 0 : target & 0xffff;
  if (ip >>> 0 > cpu.csLimit) cpu.raise(EXC_GP, 0);
  if (cpu.o32) cpu.push32(cpu.ip);
  else cpu.push16(cpu.ip);
  cpu.ip = ip;
}

export function retNear(cpu: Cpu, release: number): void {
  const ip = cpu.o32 ? cpu.peek32(0) : cpu.peek16(0);
  if (ip >>> 0 > cpu.csLimit) cpu.raise(EXC_GP, 0);
  cpu.addSp((cpu.o32 ? 4 : 2) + release);
  cpu.ip = ip;
}

/** Far JMP to sel:off. */
export function jumpFar(cpu: Cpu, sel: number, off: number): void {
  if (!isProtected(cpu)) {
    const ip = cpu.o32 ? off : off & 0xffff;
    if (ip >>> 0 > cpu.csLimit) cpu.raise(EXC_GP, 0);
    loadCsReal(cpu, sel);
    cpu.ip = ip;
    return;
  }
  farTransfer(cpu, sel, off, false);
}

/** Far CALL to sel:off: the return address is pushed first, then CS is loaded (restartable). */
export function callFar(cpu: Cpu, sel: number, off: number): void {
  if (isProtected(cpu)) {
    farTransfer(cpu, sel, off, true);
    return;
  }
  const ip = cpu.o32 ? off : off & 0xffff;
  const oldCs = cpu.segSel[SREG_CS]!;
  if (cpu.o32) {
    cpu.push32(oldCs);
    cpu.push32(cpu.ip);
  } else {
    cpu.push16(oldCs);
    cpu.push16(cpu.ip);
  }
  if (ip >>> 0 > cpu.csLimit) cpu.raise(EXC_GP, 0);
  loadCsReal(cpu, sel);
  cpu.ip = ip;
}

/** Far RET [imm16]. */
export function retFar(cpu: Cpu, release: number): void {
  if (isProtected(cpu)) {
    farReturn(cpu, release);
    return;
  }
  const n = cpu.o32 ? 4 : 2;
  const ip = cpu.o32 ? cpu.peek32(0) : cpu.peek16(0);
  const sel = (cpu.o32 ? cpu.peek32(n) : cpu.peek16(n)) & 0xffff;
  if (ip >>> 0 > cpu.csLimit) cpu.raise(EXC_GP, 0);
  loadCsReal(cpu, sel);
  cpu.addSp(2 * n + release);
  cpu.ip = ip;
}

/**
 * INT n / INT3 / INTO / INT1: a trap; the return address is the next instruction. (INT n in v86 mode
 * checks IOPL first: v86.ts v86IntCheck.)
 */
export function int(cpu: Cpu, vector: number, source: number): void {
  deliver(cpu, vector, -1, source);
}

/** Writes EFLAGS from a popped image: `mask` is what this mode and privilege may change. */
function writeFlags(cpu: Cpu, value: number, mask: number): void {
  flushFlags(cpu);
  cpu.flags = (cpu.flags & ~mask) | (value & mask) | FLAG_1;
}

/** The EFLAGS bits POPF/IRET may change at the current privilege (SDM "POPF", Table 4-?). */
function changeableFlags(cpu: Cpu, o32: boolean): number {
  let m = 0x3f7fd5 & ~(FLAG_VM | FLAG_VIF | FLAG_VIP | FLAG_RF);
  // Virtual-8086 mode (reached only with IOPL = 3): IOPL cannot change (SDM "POPF").
  if ((cpu.flags & FLAG_VM) !== 0) m &= ~FLAG_IOPL;
  else if (isProtected(cpu)) {
    if (cpu.cplValue > 0) m &= ~FLAG_IOPL;
    if (cpu.cplValue > ((cpu.flags >> 12) & 3)) m &= ~FLAG_IF;
  }
  return o32 ? m : m & 0xffff;
}

export function pushf(cpu: Cpu): void {
  if ((cpu.flags & FLAG_VM) !== 0 && ((cpu.flags >> 12) & 3) < 3) cpu.raise(EXC_GP, 0);
  const f = cpu.getEflags();
  if (cpu.o32) cpu.push32(f & 0x00fcffff);
  else cpu.push16(f);
}

export function popf(cpu: Cpu): void {
  if ((cpu.flags & FLAG_VM) !== 0 && ((cpu.flags >> 12) & 3) < 3) cpu.raise(EXC_GP, 0);
  const v = cpu.o32 ? cpu.pop32() : cpu.pop16();
  writeFlags(cpu, v, changeableFlags(cpu, cpu.o32));
}

/** IRET/IRETD (SDM "IRET"): real and virtual-8086 mode here, protected mode in transfer.ts. */
export function iret(cpu: Cpu): void {
  if (isProtected(cpu)) {
    iretProtected(cpu);
    cpu.nmiBlocked = false;
    return;
  }
  if ((cpu.flags & FLAG_VM) !== 0) {
    iretInV86(cpu);
    return;
  }
  const o32 = cpu.o32;
  const n = o32 ? 4 : 2;
  const ip = o32 ? cpu.peek32(0) : cpu.peek16(0);
  const sel = (o32 ? cpu.peek32(n) : cpu.peek16(n)) & 0xffff;
  const fl = o32 ? cpu.peek32(2 * n) : cpu.peek16(2 * n);
  // Real mode (protected and virtual-8086 mode returned above).
  if (ip >>> 0 > cpu.csLimit) cpu.raise(EXC_GP, 0);
  loadCsReal(cpu, sel);
  cpu.addSp(3 * n);
  cpu.ip = ip;
  writeFlags(cpu, fl, o32 ? 0x257fd5 : 0x7fd5);
  cpu.nmiBlocked = false;
}

/** ENTER imm16, imm8 (SDM "ENTER"): nesting level mod 32; registers change only at the end. */
export function enter(cpu: Cpu, alloc: number, level: number): void {
  const o32 = cpu.o32;
  const n = o32 ? 4 : 2;
  const s32 = cpu.stack32;
  const r = cpu.regs;
  const wrap = (v: number): number => (s32 ? v >>> 0 : v & 0xffff);
  let sp = r[4]!;
  let bp = r[5]!;
  sp = sp - n;
  if (o32) cpu.wr32(SREG_SS, wrap(sp), bp);
  else cpu.wr16(SREG_SS, wrap(sp), bp);
  // FrameTemp is the whole ESP: on a 16-bit stack its upper half is ESP's (test386 POST 1A, as on a 386).
  const frameTemp = s32 ? sp | 0 : (r[4]! & 0xffff0000) | (sp & 0xffff);
  for (let i = 1; i < level; i++) {
    bp = bp - n;
    const v = o32 ? cpu.rd32(SREG_SS, wrap(bp)) : cpu.rd16(SREG_SS, wrap(bp));
    sp = sp - n;
    if (o32) cpu.wr32(SREG_SS, wrap(sp), v);
    else cpu.wr16(SREG_SS, wrap(sp), v);
  }
  if (level > 0) {
    sp = sp - n;
    if (o32) cpu.wr32(SREG_SS, wrap(sp), frameTemp);
    else cpu.wr16(SREG_SS, wrap(sp), frameTemp);
  }
  sp = sp - alloc;
  // The final stack pointer must be inside the stack segment (SDM: #SS if ESP−size is beyond the limit).
  // It also faults if a write at the final stack pointer would page-fault (SDM "ENTER").
  cpu.probeWrite(cpu.linW(SREG_SS, wrap(sp), 0), 1);
  if (o32) r[5] = frameTemp;
  else cpu.r16[10] = frameTemp;
  if (s32) r[4] = sp;
  else cpu.r16[8] = sp;
}

/** LEAVE: (E)SP ← (E)BP, then pop (E)BP. */
export function leave(cpu: Cpu): void {
  const r = cpu.regs;
  const bp = cpu.stack32 ? r[5]! >>> 0 : r[5]! & 0xffff;
  const v = cpu.o32 ? cpu.rd32(SREG_SS, bp) : cpu.rd16(SREG_SS, bp);
  const n = cpu.o32 ? 4 : 2;
  if (cpu.stack32) r[4] = bp + n;
  else cpu.r16[8] = bp + n;
  if (cpu.o32) r[5] = v;
  else cpu.r16[10] = v;
}

export function pusha(cpu: Cpu): void {
  const r = cpu.regs;
  const sp = r[4]!;
  if (cpu.o32) {
    for (let i = 0; i < 8; i++) cpu.push32(i === 4 ? sp : r[i]!);
  } else {
    for (let i = 0; i < 8; i++) cpu.push16(i === 4 ? sp : cpu.r16[i << 1]!);
  }
}

/** POPA/POPAD: reads all eight slots first so a fault changes no register; (E)SP's slot is skipped. */
export function popa(cpu: Cpu): void {
  const n = cpu.o32 ? 4 : 2;
  const v = popaTemp;
  for (let i = 0; i < 8; i++) v[7 - i] = cpu.o32 ? cpu.peek32(i * n) : cpu.peek16(i * n);
  for (let i = 0; i < 8; i++) {
    if (i === 4) continue;
    if (cpu.o32) cpu.regs[i] = v[i]!;
    else cpu.r16[i << 1] = v[i]!;
  }
  cpu.addSp(8 * n);
}
const popaTemp = new Int32Array(8);

/** BOUND Gv, Ma: #BR unless lower ≤ index ≤ upper (signed). */
export function bound(cpu: Cpu): void {
  const off = ea(cpu);
  let idx: number;
  let lo: number;
  let hi: number;
  if (cpu.o32) {
    idx = cpu.regs[cpu.reg]!;
    lo = cpu.rd32(cpu.seg, off);
    hi = cpu.rd32(cpu.seg, cpu.a32 ? (off + 4) >>> 0 : (off + 4) & 0xffff);
  } else {
    idx = (cpu.r16[cpu.reg << 1]! << 16) >> 16;
    lo = (cpu.rd16(cpu.seg, off) << 16) >> 16;
    hi = (cpu.rd16(cpu.seg, cpu.a32 ? (off + 2) >>> 0 : (off + 2) & 0xffff) << 16) >> 16;
  }
  if (idx < lo || idx > hi) cpu.raise(EXC_BR, -1);
}

/** LOOPNE/LOOPE/LOOP/JCXZ (E0..E3): the count register is CX or ECX by address size. */
export function loop(cpu: Cpu, op: number): void {
  const old = cpu.a32 ? cpu.regs[1]! : cpu.r16[2]!;
  const count = op === 0xe3 ? old : cpu.a32 ? (old - 1) | 0 : (old - 1) & 0xffff;
  let taken: boolean;
  if (op === 0xe3) taken = count === 0;
  else if (op === 0xe2) taken = count !== 0;
  else taken = count !== 0 && cond(cpu, 4) === (op === 0xe1);
  // The jump's limit check comes first so that a #GP leaves the count unchanged.
  if (taken) jumpNear(cpu, cpu.ip + cpu.imm);
  if (cpu.a32) cpu.regs[1] = count;
  else cpu.r16[2] = count;
}
