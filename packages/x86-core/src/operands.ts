/**
 * Operand access for decoded instructions: general registers by encoding (8/16/32-bit views) and
 * the ModRM r/m operand, register or memory (SDM Vol. 2 §2.1.5).
 */
import type { Cpu } from './cpu';
import { ea } from './decode';

/** Byte offset in `regs` of AL, CL, DL, BL, AH, CH, DH, BH. */
export const R8 = new Uint8Array([0, 4, 8, 12, 1, 5, 9, 13]);

export function getReg8(cpu: Cpu, r: number): number {
  return cpu.r8[R8[r]!]!;
}
export function setReg8(cpu: Cpu, r: number, v: number): void {
  cpu.r8[R8[r]!] = v;
}
export function getReg16(cpu: Cpu, r: number): number {
  return cpu.r16[r << 1]!;
}
export function setReg16(cpu: Cpu, r: number, v: number): void {
  cpu.r16[r << 1] = v;
}

/** Reads the r/m operand of size 8/16/32 (register or memory). */
export function readE8(cpu: Cpu): number {
  return cpu.isMem ? cpu.rd8(cpu.seg, ea(cpu)) : cpu.r8[R8[cpu.rm]!]!;
}
export function readE16(cpu: Cpu): number {
  return cpu.isMem ? cpu.rd16(cpu.seg, ea(cpu)) : cpu.r16[cpu.rm << 1]!;
}
export function readE32(cpu: Cpu): number {
  return cpu.isMem ? cpu.rd32(cpu.seg, ea(cpu)) : cpu.regs[cpu.rm]!;
}
/** Word or dword by operand size. */
export function readEv(cpu: Cpu): number {
  return cpu.o32 ? readE32(cpu) : readE16(cpu);
}

export function writeE8(cpu: Cpu, v: number): void {
  if (cpu.isMem) cpu.wr8(cpu.seg, ea(cpu), v);
  else cpu.r8[R8[cpu.rm]!] = v;
}
export function writeE16(cpu: Cpu, v: number): void {
  if (cpu.isMem) cpu.wr16(cpu.seg, ea(cpu), v);
  else cpu.r16[cpu.rm << 1] = v;
}
export function writeE32(cpu: Cpu, v: number): void {
  if (cpu.isMem) cpu.wr32(cpu.seg, ea(cpu), v);
  else cpu.regs[cpu.rm] = v;
}
export function writeEv(cpu: Cpu, v: number): void {
  if (cpu.o32) writeE32(cpu, v);
  else writeE16(cpu, v);
}

/** Reads the G (ModRM.reg) operand by operand size. */
export function readGv(cpu: Cpu): number {
  return cpu.o32 ? cpu.regs[cpu.reg]! : cpu.r16[cpu.reg << 1]!;
}
export function writeGv(cpu: Cpu, v: number): void {
  if (cpu.o32) cpu.regs[cpu.reg] = v;
  else cpu.r16[cpu.reg << 1] = v;
}

/**
 * Read-modify-write access to r/m: `rmwAddr` checks the segment limit once and returns the linear
 * address (or −1 for a register operand); `rmwRead`/`rmwWrite` then use it. Sizes: 0, 1, 2.
 */
export function rmwAddr(cpu: Cpu, size: number): number {
  return cpu.isMem ? cpu.linW(cpu.seg, ea(cpu), (1 << size) - 1) : 0;
}
/** Like rmwAddr for an operand that is only read (CMP, TEST, BT, BSF…). */
export function readAddr(cpu: Cpu, size: number): number {
  return cpu.isMem ? cpu.lin(cpu.seg, ea(cpu), (1 << size) - 1) : 0;
}
export function rmwRead(cpu: Cpu, lin: number, size: number): number {
  if (!cpu.isMem) {
    return size === 0 ? cpu.r8[R8[cpu.rm]!]! : size === 1 ? cpu.r16[cpu.rm << 1]! : cpu.regs[cpu.rm]!;
  }
  return size === 0 ? cpu.lr8(lin) : size === 1 ? cpu.lr16(lin) : cpu.lr32(lin);
}
export function rmwWrite(cpu: Cpu, lin: number, size: number, v: number): void {
  if (!cpu.isMem) {
    if (size === 0) cpu.r8[R8[cpu.rm]!] = v;
    else if (size === 1) cpu.r16[cpu.rm << 1] = v;
    else cpu.regs[cpu.rm] = v;
  } else if (size === 0) cpu.lw8(lin, v);
  else if (size === 1) cpu.lw16(lin, v);
  else cpu.lw32(lin, v);
}

/** Reads register `r` of size code 0/1/2. */
export function getReg(cpu: Cpu, r: number, size: number): number {
  return size === 0 ? cpu.r8[R8[r]!]! : size === 1 ? cpu.r16[r << 1]! : cpu.regs[r]!;
}
export function setReg(cpu: Cpu, r: number, size: number, v: number): void {
  if (size === 0) cpu.r8[R8[r]!] = v;
  else if (size === 1) cpu.r16[r << 1] = v;
  else cpu.regs[r] = v;
}
