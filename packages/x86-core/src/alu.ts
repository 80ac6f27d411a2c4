/**
 * Integer arithmetic and logic: ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST, INC, DEC, NEG, NOT
 * (SDM Vol. 2). Flags are recorded lazily (flags.ts).
 */
import type { Cpu } from './cpu';
import { CC_ADC, CC_ADD, CC_DEC, CC_INC, CC_LOGIC, CC_SBB, CC_SUB, getCF } from './flags';
import { getReg, readAddr, rmwAddr, rmwRead, rmwWrite, setReg } from './operands';

/** Group-1 operation numbers (ModRM.reg of 80..83, bits 5..3 of 00..3D). */
export const ALU_ADD = 0;
export const ALU_OR = 1;
export const ALU_ADC = 2;
export const ALU_SBB = 3;
export const ALU_AND = 4;
export const ALU_SUB = 5;
export const ALU_XOR = 6;
export const ALU_CMP = 7;

/** Sign-bit index of a size code. */
export function signBit(size: number): number {
  return size === 0 ? 7 : size === 1 ? 15 : 31;
}

/** Computes `a op b`, records the flags and returns the (unmasked) result. */
export function alu(cpu: Cpu, kind: number, a: number, b: number, sz: number): number {
  let r: number;
  switch (kind) {
    case ALU_ADD:
      r = (a + b) | 0;
      cpu.ccOp = CC_ADD;
      break;
    case ALU_OR:
      r = a | b;
      cpu.ccOp = CC_LOGIC;
      cpu.ccR = r;
      cpu.ccSz = sz;
      return r;
    case ALU_ADC: {
      const c = getCF(cpu);
      r = (a + b + c) | 0;
      cpu.ccOp = CC_ADC;
      cpu.ccC = c;
      break;
    }
    case ALU_SBB: {
      const c = getCF(cpu);
      r = (a - b - c) | 0;
      cpu.ccOp = CC_SBB;
      cpu.ccC = c;
      break;
    }
    case ALU_AND:
      r = a & b;
      cpu.ccOp = CC_LOGIC;
      cpu.ccR = r;
      cpu.ccSz = sz;
      return r;
    case ALU_XOR:
      r = a ^ b;
      cpu.ccOp = CC_LOGIC;
      cpu.ccR = r;
      cpu.ccSz = sz;
      return r;
    default:
      r = (a - b) | 0;
      cpu.ccOp = CC_SUB;
      break;
  }
  cpu.ccA = a;
  cpu.ccB = b;
  cpu.ccR = r;
  cpu.ccSz = sz;
  return r;
}

/** Records SUB-style flags for a comparison (CMP, SCAS, CMPS, CMPXCHG). */
export function cmpFlags(cpu: Cpu, a: number, b: number, sz: number): void {
  cpu.ccOp = CC_SUB;
  cpu.ccA = a;
  cpu.ccB = b;
  cpu.ccR = (a - b) | 0;
  cpu.ccSz = sz;
}

/** Records logic flags of `r` (TEST, AND…). */
export function logicFlags(cpu: Cpu, r: number, sz: number): void {
  cpu.ccOp = CC_LOGIC;
  cpu.ccR = r;
  cpu.ccSz = sz;
}

/**
 * The classic forms 00..3D: op E,G (form 0/1), G,E (2/3), AL/eAX,imm (4/5).
 * `size` is the operand size code (0 byte, 1 word, 2 dword).
 */
export function aluForm(cpu: Cpu, kind: number, form: number, size: number): void {
  if (size === 2 && !cpu.isMem && form < 4) {
    // Register-register dword forms: the hot path of compiled code.
    const r = cpu.regs;
    if (form < 2) {
      const v = alu(cpu, kind, r[cpu.rm]!, r[cpu.reg]!, 31);
      if (kind !== ALU_CMP) r[cpu.rm] = v;
    } else {
      const v = alu(cpu, kind, r[cpu.reg]!, r[cpu.rm]!, 31);
      if (kind !== ALU_CMP) r[cpu.reg] = v;
    }
    return;
  }
  aluFormOther(cpu, kind, form, size);
}

/** aluForm's memory, byte/word and accumulator-immediate forms (kept apart so aluForm inlines). */
function aluFormOther(cpu: Cpu, kind: number, form: number, size: number): void {
  const sz = signBit(size);
  if (form < 2) {
    const lin = kind === ALU_CMP ? readAddr(cpu, size) : rmwAddr(cpu, size);
    const r = alu(cpu, kind, rmwRead(cpu, lin, size), getReg(cpu, cpu.reg, size), sz);
    if (kind !== ALU_CMP) rmwWrite(cpu, lin, size, r);
  } else if (form < 4) {
    const lin = readAddr(cpu, size);
    const r = alu(cpu, kind, getReg(cpu, cpu.reg, size), rmwRead(cpu, lin, size), sz);
    if (kind !== ALU_CMP) setReg(cpu, cpu.reg, size, r);
  } else if (size === 2) {
    const r = alu(cpu, kind, cpu.regs[0]!, cpu.imm, 31);
    if (kind !== ALU_CMP) cpu.regs[0] = r;
  } else {
    const r = alu(cpu, kind, getReg(cpu, 0, size), cpu.imm, sz);
    if (kind !== ALU_CMP) setReg(cpu, 0, size, r);
  }
}

/** Group 1 (80..83): op E,imm. */
export function aluImm(cpu: Cpu, size: number): void {
  const kind = cpu.reg;
  if (size === 2 && !cpu.isMem) {
    const r = cpu.regs;
    const v = alu(cpu, kind, r[cpu.rm]!, cpu.imm, 31);
    if (kind !== ALU_CMP) r[cpu.rm] = v;
    return;
  }
  const lin = kind === ALU_CMP ? readAddr(cpu, size) : rmwAddr(cpu, size);
  const r = alu(cpu, kind, rmwRead(cpu, lin, size), cpu.imm, signBit(size));
  if (kind !== ALU_CMP) rmwWrite(cpu, lin, size, r);
}

/** INC/DEC r/m (FE/FF /0 /1): CF is preserved. */
export function incDecE(cpu: Cpu, size: number, dec: boolean): void {
  const lin = rmwAddr(cpu, size);
  const a = rmwRead(cpu, lin, size);
  rmwWrite(cpu, lin, size, incDec(cpu, a, signBit(size), dec));
}

/** INC/DEC value `a`; returns the result. */
export function incDec(cpu: Cpu, a: number, sz: number, dec: boolean): number {
  // CF is kept: after INC/DEC it is already in ccC, after a logic operation it is 0.
  const op = cpu.ccOp;
  const c = op === CC_INC || op === CC_DEC ? cpu.ccC : op === CC_LOGIC ? 0 : getCF(cpu);
  const r = dec ? (a - 1) | 0 : (a + 1) | 0;
  cpu.ccOp = dec ? CC_DEC : CC_INC;
  cpu.ccA = a;
  cpu.ccB = 1;
  cpu.ccR = r;
  cpu.ccSz = sz;
  cpu.ccC = c;
  return r;
}

/** NOT r/m (no flags) and NEG r/m (flags of 0 − x). */
export function notE(cpu: Cpu, size: number): void {
  const lin = rmwAddr(cpu, size);
  rmwWrite(cpu, lin, size, ~rmwRead(cpu, lin, size));
}
export function negE(cpu: Cpu, size: number): void {
  if (!cpu.isMem && size === 2) {
    cpu.regs[cpu.rm] = alu(cpu, ALU_SUB, 0, cpu.regs[cpu.rm]!, 31);
    return;
  }
  const lin = rmwAddr(cpu, size);
  const a = rmwRead(cpu, lin, size);
  rmwWrite(cpu, lin, size, alu(cpu, ALU_SUB, 0, a, signBit(size)));
}

/** TEST r/m, imm. */
export function testImm(cpu: Cpu, size: number): void {
  const lin = readAddr(cpu, size);
  logicFlags(cpu, rmwRead(cpu, lin, size) & cpu.imm, signBit(size));
}
