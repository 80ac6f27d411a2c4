/**
 * EFLAGS with lazily computed arithmetic flags (the CC_OP scheme of QEMU): an arithmetic
 * instruction records its operation, operands and result; CF/PF/AF/ZF/SF/OF are derived only when
 * read (SDM Vol. 1 §3.4.3, Appendix A "EFLAGS cross-reference").
 */

import { FLAG_AF, FLAG_CF, FLAG_OF, FLAG_PF, FLAG_SF, FLAG_ZF, FLAGS_ARITH } from './constants';
import type { CpuCore as Cpu } from './core';

/** The arithmetic flags are in cpu.flags. */
export const CC_NONE = 0;
/** ADD: CF from the unsigned sum, OF from the signed sum. */
export const CC_ADD = 1;
/** SUB/CMP/NEG. */
export const CC_SUB = 2;
/** AND/OR/XOR/TEST: CF = OF = 0, AF = 0. */
export const CC_LOGIC = 3;
/** INC: like ADD with B = 1 but CF preserved (in ccC). */
export const CC_INC = 4;
/** DEC: like SUB with B = 1 but CF preserved (in ccC). */
export const CC_DEC = 5;
/** ADC: like ADD with the carry in in ccC. */
export const CC_ADC = 6;
/** SBB: like SUB with the borrow in in ccC. */
export const CC_SBB = 7;
/** SHL/SHR/SAR/SHLD/SHRD: CF in ccC bit 0, OF in ccC bit 11, AF = 0, SF/ZF/PF from the result. */
export const CC_SHIFT = 8;

/** Parity of the low byte: 1 when the number of set bits is even (PF). */
export const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let b = i;
  b ^= b >> 4;
  b ^= b >> 2;
  b ^= b >> 1;
  PARITY[i] = (b & 1) ^ 1;
}

/** Sign bit index per size code (8/16/32). */
export const SIGN_BIT = [7, 15, 31] as const;
/** Value mask per size code. */
export const SIZE_MASK = [0xff, 0xffff, -1] as const;

function mask(sz: number, v: number): number {
  return sz === 31 ? v >>> 0 : v & ((1 << (sz + 1)) - 1);
}

export function getCF(cpu: Cpu): number {
  switch (cpu.ccOp) {
    case CC_NONE:
      return cpu.flags & FLAG_CF;
    case CC_ADD:
      return mask(cpu.ccSz, cpu.ccR) < mask(cpu.ccSz, cpu.ccA) ? 1 : 0;
    case CC_SUB:
      return mask(cpu.ccSz, cpu.ccA) < mask(cpu.ccSz, cpu.ccB) ? 1 : 0;
    case CC_ADC: {
      const r = mask(cpu.ccSz, cpu.ccR);
      const a = mask(cpu.ccSz, cpu.ccA);
      return (cpu.ccC ? r <= a : r < a) ? 1 : 0;
    }
    case CC_SBB: {
      const a = mask(cpu.ccSz, cpu.ccA);
      const b = mask(cpu.ccSz, cpu.ccB);
      return (cpu.ccC ? a <= b : a < b) ? 1 : 0;
    }
    case CC_LOGIC:
      return 0;
    case CC_SHIFT:
      return cpu.ccC & 1;
    default:
      return cpu.ccC;
  }
}

export function getZF(cpu: Cpu): boolean {
  if (cpu.ccOp === CC_NONE) return (cpu.flags & FLAG_ZF) !== 0;
  return mask(cpu.ccSz, cpu.ccR) === 0;
}

export function getSF(cpu: Cpu): number {
  if (cpu.ccOp === CC_NONE) return (cpu.flags >> 7) & 1;
  return (cpu.ccR >> cpu.ccSz) & 1;
}

export function getOF(cpu: Cpu): number {
  const s = cpu.ccSz;
  switch (cpu.ccOp) {
    case CC_NONE:
      return (cpu.flags >> 11) & 1;
    case CC_ADD:
    case CC_ADC:
    case CC_INC:
      return (((cpu.ccA ^ cpu.ccR) & (cpu.ccB ^ cpu.ccR)) >> s) & 1;
    case CC_SUB:
    case CC_SBB:
    case CC_DEC:
      return (((cpu.ccA ^ cpu.ccB) & (cpu.ccA ^ cpu.ccR)) >> s) & 1;
    case CC_SHIFT:
      return (cpu.ccC >> 11) & 1;
    default:
      return 0;
  }
}

export function getPF(cpu: Cpu): number {
  if (cpu.ccOp === CC_NONE) return (cpu.flags >> 2) & 1;
  return PARITY[cpu.ccR & 0xff]!;
}

export function getAF(cpu: Cpu): number {
  if (cpu.ccOp === CC_NONE) return (cpu.flags >> 4) & 1;
  if (cpu.ccOp === CC_LOGIC || cpu.ccOp === CC_SHIFT) return 0;
  return ((cpu.ccA ^ cpu.ccB ^ cpu.ccR) >> 4) & 1;
}

/** EFLAGS with the arithmetic flags materialised. */
export function getEflags(cpu: Cpu): number {
  if (cpu.ccOp === CC_NONE) return cpu.flags;
  return (
    (cpu.flags & ~FLAGS_ARITH) |
    getCF(cpu) |
    (getPF(cpu) << 2) |
    (getAF(cpu) << 4) |
    (getZF(cpu) ? FLAG_ZF : 0) |
    (getSF(cpu) << 7) |
    (getOF(cpu) << 11)
  );
}

/** Materialises the lazy flags into cpu.flags (before a partial update). */
export function flushFlags(cpu: Cpu): void {
  if (cpu.ccOp !== CC_NONE) {
    cpu.flags = getEflags(cpu);
    cpu.ccOp = CC_NONE;
  }
}

/** Sets all six arithmetic flags from `bits` (the others unchanged; no lazy state survives). */
export function setArith(cpu: Cpu, bits: number): void {
  cpu.flags = (cpu.flags & ~FLAGS_ARITH) | (bits & FLAGS_ARITH);
  cpu.ccOp = CC_NONE;
}

/** SF, ZF and PF of `result` at sign bit `sz`. */
export function szp(result: number, sz: number): number {
  return (((result >> sz) & 1) << 7) | (mask(sz, result) === 0 ? FLAG_ZF : 0) | (PARITY[result & 0xff]! << 2);
}

/** Evaluates condition code `cc` (the low nibble of Jcc/SETcc/CMOVcc; SDM Vol. 1 Appendix B). */
export function cond(cpu: Cpu, cc: number): boolean {
  // Fast path: the flags of a CMP/SUB/logic result, the common producers before a Jcc.
  const op = cpu.ccOp;
  if (op === CC_SUB && cpu.ccSz === 31) {
    const a = cpu.ccA;
    const b = cpu.ccB;
    switch (cc) {
      case 2:
        return a >>> 0 < b >>> 0;
      case 3:
        return a >>> 0 >= b >>> 0;
      case 4:
        return a === b;
      case 5:
        return a !== b;
      case 6:
        return a >>> 0 <= b >>> 0;
      case 7:
        return a >>> 0 > b >>> 0;
      case 12:
        return a < b;
      case 13:
        return a >= b;
      case 14:
        return a <= b;
      case 15:
        return a > b;
    }
  } else if (op !== CC_NONE && (cc === 4 || cc === 5)) {
    return (mask(cpu.ccSz, cpu.ccR) === 0) === (cc === 4);
  }
  return condFlags(cpu, cc);
}

/** cond() from the individual flags (kept apart so cond's fast path inlines into its callers). */
function condFlags(cpu: Cpu, cc: number): boolean {
  let r: boolean;
  switch (cc >> 1) {
    case 0:
      r = getOF(cpu) !== 0;
      break;
    case 1:
      r = getCF(cpu) !== 0;
      break;
    case 2:
      r = getZF(cpu);
      break;
    case 3:
      r = getCF(cpu) !== 0 || getZF(cpu);
      break;
    case 4:
      r = getSF(cpu) !== 0;
      break;
    case 5:
      r = getPF(cpu) !== 0;
      break;
    case 6:
      r = getSF(cpu) !== getOF(cpu);
      break;
    default:
      r = getZF(cpu) || getSF(cpu) !== getOF(cpu);
      break;
  }
  return (cc & 1) === 0 ? r : !r;
}

export { FLAG_AF, FLAG_CF, FLAG_OF, FLAG_PF, FLAG_SF, FLAG_ZF };
