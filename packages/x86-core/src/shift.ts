/**
 * Shifts and rotates: ROL, ROR, RCL, RCR, SHL/SAL, SHR, SAR (group 2), SHLD, SHRD (SDM Vol. 2).
 * The count is masked to 5 bits; a masked count of 0 changes neither the operand nor the flags.
 * Flags the SDM leaves undefined are given deterministic values (AF = 0; OF as for a 1-bit count).
 */
import { signBit } from './alu';
import { FLAG_CF, FLAG_OF, FLAGS_ARITH } from './constants';
import type { Cpu } from './cpu';
import { CC_SHIFT, flushFlags, getCF } from './flags';
import { getReg, rmwAddr, rmwRead, rmwWrite } from './operands';

export const SH_ROL = 0;
export const SH_ROR = 1;
export const SH_RCL = 2;
export const SH_RCR = 3;
export const SH_SHL = 4;
export const SH_SHR = 5;
export const SH_SAL = 6;
export const SH_SAR = 7;

/** Applies group-2 operation `kind` with `count` to r/m of `size`. */
export function shiftE(cpu: Cpu, kind: number, size: number, count: number): void {
  count &= 0x1f;
  if (!cpu.isMem && size === 2) {
    if (count !== 0) cpu.regs[cpu.rm] = shift(cpu, kind, cpu.regs[cpu.rm]!, 2, count);
    return;
  }
  const lin = rmwAddr(cpu, size);
  const a = rmwRead(cpu, lin, size);
  if (count === 0) return;
  rmwWrite(cpu, lin, size, shift(cpu, kind, a, size, count));
}

function setFlags(cpu: Cpu, bits: number, keepMask: number): void {
  if (keepMask !== 0) flushFlags(cpu);
  cpu.ccOp = 0;
  cpu.flags = (cpu.flags & ~(FLAGS_ARITH & ~keepMask)) | (bits & ~keepMask & FLAGS_ARITH);
}

/** Computes the shift/rotate (count 1..31), sets flags, returns the result. */
export function shift(cpu: Cpu, kind: number, a: number, size: number, count: number): number {
  const sz = signBit(size);
  const bits = sz + 1;
  const mask = size === 2 ? -1 : (1 << bits) - 1;
  a &= mask;
  let r: number;
  let cf: number;
  let of: number;
  switch (kind) {
    case SH_ROL: {
      const n = count & (bits - 1);
      r = n === 0 ? a : ((a << n) | (a >>> (bits - n))) & mask;
      cf = r & 1;
      of = ((r >>> sz) & 1) ^ cf;
      setFlags(cpu, cf | (of << 11), ~(FLAG_CF | FLAG_OF));
      return r;
    }
    case SH_ROR: {
      const n = count & (bits - 1);
      r = n === 0 ? a : ((a >>> n) | (a << (bits - n))) & mask;
      cf = (r >>> sz) & 1;
      of = cf ^ ((r >>> (sz - 1)) & 1);
      setFlags(cpu, cf | (of << 11), ~(FLAG_CF | FLAG_OF));
      return r;
    }
    case SH_RCL: {
      const n = size === 2 ? count : count % (bits + 1);
      cf = getCF(cpu);
      r = a;
      for (let i = 0; i < n; i++) {
        const out = (r >>> sz) & 1;
        r = ((r << 1) | cf) & mask;
        cf = out;
      }
      of = ((r >>> sz) & 1) ^ cf;
      setFlags(cpu, cf | (of << 11), ~(FLAG_CF | FLAG_OF));
      return r;
    }
    case SH_RCR: {
      const n = size === 2 ? count : count % (bits + 1);
      cf = getCF(cpu);
      r = a;
      for (let i = 0; i < n; i++) {
        const out = r & 1;
        r = ((r >>> 1) | (cf << sz)) & mask;
        cf = out;
      }
      of = ((r >>> sz) ^ (r >>> (sz - 1))) & 1;
      setFlags(cpu, cf | (of << 11), ~(FLAG_CF | FLAG_OF));
      return r;
    }
    case SH_SHL:
    case SH_SAL:
      if (count <= bits) {
        r = count === 32 ? 0 : (a << count) & mask;
        cf = (a >>> (bits - count)) & 1;
      } else {
        r = 0;
        cf = 0;
      }
      of = ((r >>> sz) & 1) ^ cf;
      break;
    case SH_SHR:
      r = count >= bits ? 0 : a >>> count;
      cf = count > bits ? 0 : (a >>> (count - 1)) & 1;
      // OF is the sign change of the last 1-bit step: the original MSB for a count of 1, else 0.
      of = count === 1 ? (a >>> sz) & 1 : 0;
      break;
    default: {
      const s = size === 0 ? (a << 24) >> 24 : size === 1 ? (a << 16) >> 16 : a | 0;
      const n = count >= bits ? bits - 1 : count;
      r = (s >> n) & mask;
      cf = count >= bits ? (s >>> 31) & 1 : (s >> (count - 1)) & 1;
      of = 0;
      break;
    }
  }
  // All six flags are defined by the result: record them lazily (flags.ts CC_SHIFT).
  cpu.ccOp = CC_SHIFT;
  cpu.ccR = r;
  cpu.ccSz = sz;
  cpu.ccC = cf | (of << 11);
  return r;
}

/** SHLD/SHRD r/m, reg, count (0F A4/A5/AC/AD). */
export function shiftDouble(cpu: Cpu, right: boolean, count: number): void {
  const size = cpu.o32 ? 2 : 1;
  count &= 0x1f;
  const lin = rmwAddr(cpu, size);
  const a = rmwRead(cpu, lin, size);
  if (count === 0) return;
  const b = getReg(cpu, cpu.reg, size);
  let r: number;
  let cf: number;
  const sz = signBit(size);
  if (size === 2) {
    if (right) {
      r = (a >>> count) | (b << (32 - count));
      cf = (a >>> (count - 1)) & 1;
    } else {
      r = (a << count) | (b >>> (32 - count));
      cf = (a >>> (32 - count)) & 1;
    }
  } else {
    // 16-bit: shift the 32-bit concatenation (counts > 16 give the P6's undefined-but-real result).
    if (right) {
      const v = ((b & 0xffff) << 16) | (a & 0xffff);
      const w = count > 16 ? (v >>> (count - 16)) | ((a & 0xffff) << (48 - count)) : v >>> count;
      r = w & 0xffff;
      cf = count > 16 ? (b >>> (count - 17)) & 1 : (a >>> (count - 1)) & 1;
    } else {
      const v = ((a & 0xffff) << 16) | (b & 0xffff);
      const w = count > 16 ? (v << (count - 16)) | ((a & 0xffff) >>> (32 - count)) : v << count;
      r = (w >>> 16) & 0xffff;
      cf = count > 16 ? (b >>> (32 - count)) & 1 : (a >>> (16 - count)) & 1;
    }
  }
  const of = ((r ^ a) >>> sz) & 1;
  cpu.ccOp = CC_SHIFT;
  cpu.ccR = r;
  cpu.ccSz = sz;
  cpu.ccC = cf | (of << 11);
  rmwWrite(cpu, lin, size, r);
}
