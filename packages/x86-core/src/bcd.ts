/**
 * Decimal and ASCII adjust: DAA, DAS, AAA, AAS, AAM, AAD, and the undocumented SALC (D6)
 * (SDM Vol. 2 pseudo-code; flags the SDM leaves undefined keep deterministic values).
 */

import { EXC_DE, FLAG_AF, FLAG_CF, FLAGS_ARITH } from './constants';
import type { Cpu } from './cpu';
import { getAF, getCF, szp } from './flags';

function setFlags(cpu: Cpu, bits: number): void {
  cpu.flags = (cpu.flags & ~FLAGS_ARITH) | bits;
  cpu.ccOp = 0;
}

/** DAA (27). */
export function daa(cpu: Cpu): void {
  const oldAl = cpu.r8[0]!;
  const oldCf = getCF(cpu);
  let al = oldAl;
  let cf = 0;
  let af = 0;
  if ((al & 0x0f) > 9 || getAF(cpu)) {
    al += 6;
    cf = oldCf | (al > 0xff ? 1 : 0);
    af = 1;
  }
  if (oldAl > 0x99 || oldCf) {
    al += 0x60;
    cf = 1;
  } else cf = 0;
  al &= 0xff;
  cpu.r8[0] = al;
  // OF is undefined; a P6 sets it from the signed overflow of the adjustment.
  const of = ~oldAl & al & 0x80 ? 1 : 0;
  setFlags(cpu, cf | (af << 4) | szp(al, 7) | (of << 11));
}

/** DAS (2F). */
export function das(cpu: Cpu): void {
  const oldAl = cpu.r8[0]!;
  const oldCf = getCF(cpu);
  let al = oldAl;
  let cf = 0;
  let af = 0;
  if ((al & 0x0f) > 9 || getAF(cpu)) {
    al -= 6;
    cf = oldCf | (al < 0 ? 1 : 0);
    af = 1;
  }
  if (oldAl > 0x99 || oldCf) {
    al -= 0x60;
    cf = 1;
  }
  al &= 0xff;
  cpu.r8[0] = al;
  const of = oldAl & ~al & 0x80 ? 1 : 0;
  setFlags(cpu, cf | (af << 4) | szp(al, 7) | (of << 11));
}

/** AAA (37) and AAS (3F). */
export function aaaAas(cpu: Cpu, sub: boolean): void {
  const flags = cpu.getEflags();
  let adjusted = 0;
  if ((cpu.r8[0]! & 0x0f) > 9 || flags & FLAG_AF) {
    cpu.r16[0] = sub ? cpu.r16[0]! - 6 - 0x100 : cpu.r16[0]! + 0x106;
    adjusted = FLAG_AF | FLAG_CF;
  }
  cpu.r8[0] = cpu.r8[0]! & 0x0f;
  setFlags(cpu, (flags & ~(FLAG_AF | FLAG_CF) & FLAGS_ARITH) | adjusted);
}

/** AAM imm8 (D4): #DE when the base is 0. */
export function aam(cpu: Cpu): void {
  const base = cpu.imm & 0xff;
  if (base === 0) cpu.raise(EXC_DE, -1);
  const al = cpu.r8[0]!;
  cpu.r8[1] = Math.floor(al / base);
  cpu.r8[0] = al % base;
  setFlags(cpu, szp(cpu.r8[0]!, 7));
}

/** AAD imm8 (D5). */
export function aad(cpu: Cpu): void {
  const base = cpu.imm & 0xff;
  const al = (cpu.r8[0]! + cpu.r8[1]! * base) & 0xff;
  cpu.r16[0] = al;
  setFlags(cpu, szp(al, 7));
}

/** SALC (D6): AL = CF ? FF : 00. */
export function salc(cpu: Cpu): void {
  cpu.r8[0] = getCF(cpu) ? 0xff : 0;
}
