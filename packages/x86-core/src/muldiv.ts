/**
 * MUL, IMUL (one-, two- and three-operand forms), DIV, IDIV with #DE (SDM Vol. 2). 64-bit
 * products and dividends are handled in 16-bit limbs so that no BigInt is allocated. SF/ZF/PF of
 * MUL/IMUL (undefined) follow the low half of the result; DIV/IDIV leave the flags unchanged.
 */

import { EXC_DE, FLAG_CF, FLAG_OF } from './constants';
import type { Cpu } from './cpu';
import { setArith, szp } from './flags';
import { readE8, readE16, readE32 } from './operands';

/** High half of the last 32×32 product. */
let hi = 0;

/** Unsigned 32×32 → 64: returns the low half, leaves the high half in `hi`. */
function mulU32(a: number, b: number): number {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const ll = al * bl;
  const lh = al * bh;
  const hl = ah * bl;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  hi = (ah * bh + Math.floor(lh / 65536) + Math.floor(hl / 65536) + Math.floor(mid / 65536)) | 0;
  return (mid << 16) | (ll & 0xffff) | 0;
}

/** Signed 32×32 → 64 (two's-complement correction of the unsigned product). */
function mulS32(a: number, b: number): number {
  const lo = mulU32(a, b);
  hi = (hi - (a < 0 ? b : 0) - (b < 0 ? a : 0)) | 0;
  return lo;
}

function mulFlags(cpu: Cpu, overflow: boolean, low: number, sz: number): void {
  setArith(cpu, (overflow ? FLAG_CF | FLAG_OF : 0) | szp(low, sz));
}

/** MUL r/m (F6/F7 /4). */
export function mul(cpu: Cpu, size: number): void {
  const r = cpu.regs;
  if (size === 0) {
    const p = cpu.r8[0]! * readE8(cpu);
    cpu.r16[0] = p;
    mulFlags(cpu, p > 0xff, p, 7);
  } else if (size === 1) {
    const p = cpu.r16[0]! * readE16(cpu);
    cpu.r16[0] = p;
    cpu.r16[4] = p >>> 16;
    mulFlags(cpu, p > 0xffff, p, 15);
  } else {
    const lo = mulU32(r[0]!, readE32(cpu));
    r[0] = lo;
    r[2] = hi;
    mulFlags(cpu, hi !== 0, lo, 31);
  }
}

/** IMUL r/m (F6/F7 /5): one-operand, double-width result. */
export function imul1(cpu: Cpu, size: number): void {
  const r = cpu.regs;
  if (size === 0) {
    const p = ((cpu.r8[0]! << 24) >> 24) * ((readE8(cpu) << 24) >> 24);
    cpu.r16[0] = p;
    mulFlags(cpu, p !== (p << 24) >> 24, p, 7);
  } else if (size === 1) {
    const p = ((cpu.r16[0]! << 16) >> 16) * ((readE16(cpu) << 16) >> 16);
    cpu.r16[0] = p;
    cpu.r16[4] = p >> 16;
    mulFlags(cpu, p !== (p << 16) >> 16, p, 15);
  } else {
    const lo = mulS32(r[0]!, readE32(cpu));
    r[0] = lo;
    r[2] = hi;
    mulFlags(cpu, hi !== lo >> 31, lo, 31);
  }
}

/** IMUL Gv, Ev[, imm]: truncated result; returns it and sets CF = OF = "did not fit". */
export function imulTrunc(cpu: Cpu, a: number, b: number, o32: boolean): number {
  if (o32) {
    const lo = mulS32(a, b);
    mulFlags(cpu, hi !== lo >> 31, lo, 31);
    return lo;
  }
  const p = ((a << 16) >> 16) * ((b << 16) >> 16);
  mulFlags(cpu, p !== (p << 16) >> 16, p, 15);
  return p;
}

/** Unsigned (hi:lo) / d with hi < d (so the quotient fits 32 bits); sets `rem`. */
let rem = 0;
function divU64(h: number, l: number, d: number): number {
  let x = h * 65536 + (l >>> 16);
  const q1 = Math.floor(x / d);
  x = (x - q1 * d) * 65536 + (l & 0xffff);
  const q0 = Math.floor(x / d);
  rem = x - q0 * d;
  return q1 * 65536 + q0;
}

/** DIV r/m (F6/F7 /6). */
export function div(cpu: Cpu, size: number): void {
  if (size === 0) {
    const d = readE8(cpu);
    const n = cpu.r16[0]!;
    if (d === 0) cpu.raise(EXC_DE, -1);
    const q = Math.floor(n / d);
    if (q > 0xff) cpu.raise(EXC_DE, -1);
    cpu.r8[0] = q;
    cpu.r8[1] = n % d;
  } else if (size === 1) {
    const d = readE16(cpu);
    const n = ((cpu.r16[4]! << 16) | cpu.r16[0]!) >>> 0;
    if (d === 0) cpu.raise(EXC_DE, -1);
    const q = Math.floor(n / d);
    if (q > 0xffff) cpu.raise(EXC_DE, -1);
    cpu.r16[0] = q;
    cpu.r16[4] = n % d;
  } else {
    const d = readE32(cpu) >>> 0;
    const h = cpu.regs[2]! >>> 0;
    if (d === 0 || h >= d) cpu.raise(EXC_DE, -1);
    const q = divU64(h, cpu.regs[0]! >>> 0, d);
    cpu.regs[0] = q;
    cpu.regs[2] = rem;
  }
}

/** IDIV r/m (F6/F7 /7): quotient truncated toward zero, remainder has the dividend's sign. */
export function idiv(cpu: Cpu, size: number): void {
  if (size === 0) {
    const d = (readE8(cpu) << 24) >> 24;
    const n = (cpu.r16[0]! << 16) >> 16;
    if (d === 0) cpu.raise(EXC_DE, -1);
    const q = Math.trunc(n / d);
    if (q > 0x7f || q < -0x80) cpu.raise(EXC_DE, -1);
    cpu.r8[0] = q;
    cpu.r8[1] = n % d;
  } else if (size === 1) {
    const d = (readE16(cpu) << 16) >> 16;
    const n = (cpu.r16[4]! << 16) | cpu.r16[0]!;
    if (d === 0) cpu.raise(EXC_DE, -1);
    const q = Math.trunc(n / d);
    if (q > 0x7fff || q < -0x8000) cpu.raise(EXC_DE, -1);
    cpu.r16[0] = q;
    cpu.r16[4] = n % d;
  } else {
    const d = readE32(cpu);
    if (d === 0) cpu.raise(EXC_DE, -1);
    let h = cpu.regs[2]!;
    let l = cpu.regs[0]!;
    const negN = h < 0;
    if (negN) {
      l = -l | 0;
      h = (~h + (l === 0 ? 1 : 0)) | 0;
    }
    const ad = Math.abs(d);
    if (h >>> 0 >= ad) cpu.raise(EXC_DE, -1);
    let q = divU64(h >>> 0, l >>> 0, ad);
    let r = rem;
    const negQ = negN !== d < 0;
    if (negQ ? q > 0x80000000 : q > 0x7fffffff) cpu.raise(EXC_DE, -1);
    if (negQ) q = -q;
    if (negN) r = -r;
    cpu.regs[0] = q;
    cpu.regs[2] = r;
  }
}
