/**
 * Bit instructions: BT, BTS, BTR, BTC (register and memory bit-string forms), BSF, BSR, and the
 * atomic exchanges CMPXCHG, CMPXCHG8B, XADD, BSWAP (SDM Vol. 2).
 */
import { ALU_ADD, alu, cmpFlags, signBit } from './alu';
import { FLAG_CF, FLAG_ZF } from './constants';
import type { Cpu } from './cpu';
import { ea } from './decode';
import { flushFlags } from './flags';
import { getReg, readAddr, rmwAddr, rmwRead, rmwWrite, setReg } from './operands';

/** BT=0, BTS=1, BTR=2, BTC=3. `offset` is the bit offset (signed for the register form). */
export function bitOp(cpu: Cpu, kind: number, offset: number, fromImm: boolean): void {
  const size = cpu.o32 ? 2 : 1;
  const bits = size === 2 ? 32 : 16;
  let lin = 0;
  let bit: number;
  if (cpu.isMem) {
    let off = ea(cpu);
    if (fromImm) bit = offset & (bits - 1);
    else {
      // Bit-string addressing: the register offset selects a word/dword relative to the operand.
      const o = size === 2 ? offset : (offset << 16) >> 16;
      bit = o & (bits - 1);
      off = off + (o >> (size === 2 ? 5 : 4)) * (bits >> 3);
      off = cpu.a32 ? off >>> 0 : off & 0xffff;
    }
    lin = kind === 0 ? cpu.lin(cpu.seg, off, (bits >> 3) - 1) : cpu.linW(cpu.seg, off, (bits >> 3) - 1);
  } else bit = offset & (bits - 1);
  const v = rmwRead(cpu, lin, size);
  const cf = (v >>> bit) & 1;
  flushFlags(cpu);
  cpu.flags = (cpu.flags & ~FLAG_CF) | cf;
  if (kind === 0) return;
  const m = 1 << bit;
  rmwWrite(cpu, lin, size, kind === 1 ? v | m : kind === 2 ? v & ~m : v ^ m);
}

/** BSF/BSR Gv, Ev: ZF = source is zero (destination then unchanged). */
export function bitScan(cpu: Cpu, reverse: boolean): void {
  const size = cpu.o32 ? 2 : 1;
  const lin = readAddr(cpu, size);
  let v = rmwRead(cpu, lin, size);
  if (size === 1) v &= 0xffff;
  flushFlags(cpu);
  if (v === 0) {
    cpu.flags |= FLAG_ZF;
    return;
  }
  cpu.flags &= ~FLAG_ZF;
  const idx = reverse ? 31 - Math.clz32(v) : 31 - Math.clz32(v & -v);
  setReg(cpu, cpu.reg, size, idx);
}

/** CMPXCHG Eb/Ev, G: compare with AL/AX/EAX (0F B0/B1). */
export function cmpxchg(cpu: Cpu, size: number): void {
  const lin = rmwAddr(cpu, size);
  const dest = rmwRead(cpu, lin, size);
  const acc = getReg(cpu, 0, size);
  cmpFlags(cpu, acc, dest, signBit(size));
  const m = size === 0 ? 0xff : size === 1 ? 0xffff : -1;
  if ((acc & m) === (dest & m)) rmwWrite(cpu, lin, size, getReg(cpu, cpu.reg, size));
  else {
    // The destination is written back unchanged (a locked cycle always writes).
    rmwWrite(cpu, lin, size, dest);
    setReg(cpu, 0, size, dest);
  }
}

/** CMPXCHG8B m64 (0F C7 /1): only ZF is affected. */
export function cmpxchg8b(cpu: Cpu): void {
  const lin = cpu.linW(cpu.seg, ea(cpu), 7);
  const lo = cpu.lr32(lin);
  const hi = cpu.lr32((lin + 4) | 0);
  cpu.probeWrite(lin, 8);
  flushFlags(cpu);
  if (lo === cpu.regs[0] && hi === cpu.regs[2]) {
    cpu.lw32(lin, cpu.regs[3]!);
    cpu.lw32((lin + 4) | 0, cpu.regs[1]!);
    cpu.flags |= FLAG_ZF;
  } else {
    cpu.lw32(lin, lo);
    cpu.lw32((lin + 4) | 0, hi);
    cpu.regs[0] = lo;
    cpu.regs[2] = hi;
    cpu.flags &= ~FLAG_ZF;
  }
}

/** XADD Eb/Ev, G (0F C0/C1). */
export function xadd(cpu: Cpu, size: number): void {
  const lin = rmwAddr(cpu, size);
  const dest = rmwRead(cpu, lin, size);
  const src = getReg(cpu, cpu.reg, size);
  const sum = alu(cpu, ALU_ADD, dest, src, signBit(size));
  // TEMP ← SRC + DEST; SRC ← DEST; DEST ← TEMP (so XADD r,r with one register keeps the sum).
  if (cpu.isMem) {
    rmwWrite(cpu, lin, size, sum);
    setReg(cpu, cpu.reg, size, dest);
  } else {
    setReg(cpu, cpu.reg, size, dest);
    rmwWrite(cpu, lin, size, sum);
  }
}

/** BSWAP r32 (0F C8+r); with a 16-bit operand the result is undefined and this model clears it. */
export function bswap(cpu: Cpu, r: number): void {
  if (!cpu.o32) {
    cpu.r16[r << 1] = 0;
    return;
  }
  const v = cpu.regs[r]!;
  cpu.regs[r] = (v << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
}
