/**
 * The decoder: prefixes, opcode maps, ModRM/SIB with 16- and 32-bit addressing, displacement and
 * immediates (SDM Vol. 2 §2.1). It fills the decoded-instruction fields of the Cpu and computes
 * nothing that depends on register values, so a decoded-block cache can reuse its output; `ea()`
 * forms the effective address at execution time.
 */

import { EXC_GP, EXC_UD, SREG_DS, SREG_SS } from './constants';
import type { Cpu } from './cpu';
import {
  F_GROUP,
  F_IMM_MASK,
  F_IMM_SHIFT,
  F_LOCK,
  F_MEM,
  F_MODRM,
  F_PREFIX,
  F_REGONLY,
  F_UD,
  GROUP_FLAGS,
  IMM_AP,
  IMM_B,
  IMM_NONE,
  IMM_O,
  IMM_W,
  IMM_WB,
  OPCODE_FLAGS,
} from './opcodes';

/** 16-bit addressing (SDM Table 2-1): base and index register per r/m (−1 = none). */
const BASE16 = [3, 3, 5, 5, -1, -1, 5, 3];
const INDEX16 = [6, 7, 6, 7, 6, 7, -1, -1];

/** The SDM's maximum instruction length (§2.3.11); longer ⇒ #GP(0). */
export const MAX_INSN_LENGTH = 15;

/** Bytes the fetch window must hold past EIP for decodeFastFull and the run loop's decode path. */
export const FAST_WINDOW = 32;

/** Decodes the instruction at CS:EIP into the Cpu's decode fields. May raise #UD/#GP/#PF. */
export function decode(cpu: Cpu): void {
  const start = cpu.ip;
  // Fast path: the fetch window covers every byte any encoding can reach before the length check
  // (14 prefixes + 0F + opcode + ModRM + SIB + disp32 + imm32 < FAST_WINDOW), so the bytes are read
  // straight from RAM with the same results and faults as the fetch8 path.
  if (start >= cpu.fetchStart && start + FAST_WINDOW <= cpu.fetchEnd) {
    decodeFastFull(cpu, start);
    return;
  }
  cpu.startIp = start;
  let o32 = cpu.code32;
  let a32 = o32;
  let seg = -1;
  let rep = 0;
  let lock = false;
  let b = cpu.fetch8();
  let f = OPCODE_FLAGS[b]!;
  if (f & F_PREFIX) {
    do {
      switch (b) {
        case 0x26:
          seg = 0;
          break;
        case 0x2e:
          seg = 1;
          break;
        case 0x36:
          seg = 2;
          break;
        case 0x3e:
          seg = 3;
          break;
        case 0x64:
          seg = 4;
          break;
        case 0x65:
          seg = 5;
          break;
        case 0x66:
          o32 = !cpu.code32;
          break;
        case 0x67:
          a32 = !cpu.code32;
          break;
        case 0xf0:
          lock = true;
          break;
        default:
          rep = b;
          break;
      }
      if (((cpu.ip - start) | 0) >= MAX_INSN_LENGTH) cpu.raise(EXC_GP, 0);
      b = cpu.fetch8();
      f = OPCODE_FLAGS[b]!;
    } while (f & F_PREFIX);
  }
  let op = b;
  if (b === 0x0f) {
    op = 0x100 | cpu.fetch8();
    f = OPCODE_FLAGS[op]!;
  }
  cpu.op = op;
  cpu.o32 = o32;
  cpu.a32 = a32;
  cpu.rep = rep;
  cpu.segOverride = seg;
  let isMem = false;
  if (f & F_MODRM) {
    const m = cpu.fetch8();
    const mod = m >> 6;
    const reg = (m >> 3) & 7;
    const rm = m & 7;
    cpu.mod = mod;
    cpu.reg = reg;
    cpu.rm = rm;
    if (f & F_GROUP) f = GROUP_FLAGS[(op << 3) | reg]!;
    if (mod !== 3 && (f & F_REGONLY) === 0) {
      isMem = true;
      if (a32) decodeEa32(cpu, mod, rm, seg);
      else decodeEa16(cpu, mod, rm, seg);
    } else if (f & F_MEM) {
      cpu.raise(EXC_UD, -1);
    }
  }
  cpu.isMem = isMem;
  if (f & F_UD) cpu.raise(EXC_UD, -1);
  const imm = (f & F_IMM_MASK) >> F_IMM_SHIFT;
  if (imm !== IMM_NONE) {
    if (imm === IMM_B) cpu.imm = (cpu.fetch8() << 24) >> 24;
    else if (imm === IMM_W) cpu.imm = cpu.fetch16();
    else if (imm === IMM_O) {
      cpu.eaBase = -1;
      cpu.eaIndex = -1;
      cpu.eaDisp = a32 ? cpu.fetch32() : cpu.fetch16();
      cpu.seg = seg < 0 ? SREG_DS : seg;
      isMem = true;
      cpu.isMem = true;
    } else if (imm === IMM_AP) {
      cpu.imm = o32 ? cpu.fetch32() : cpu.fetch16();
      cpu.imm2 = cpu.fetch16();
    } else if (imm === IMM_WB) {
      cpu.imm = cpu.fetch16();
      cpu.imm2 = cpu.fetch8();
    } else cpu.imm = o32 ? cpu.fetch32() : cpu.fetch16();
  }
  if (lock && ((f & F_LOCK) === 0 || !isMem)) cpu.raise(EXC_UD, -1);
  if (((cpu.ip - start) | 0) > MAX_INSN_LENGTH) cpu.raise(EXC_GP, 0);
}

function decodeEa16(cpu: Cpu, mod: number, rm: number, seg: number): void {
  let base = BASE16[rm]!;
  let disp = 0;
  if (mod === 0) {
    if (rm === 6) {
      base = -1;
      disp = cpu.fetch16();
    }
  } else if (mod === 1) disp = (cpu.fetch8() << 24) >> 24;
  else disp = cpu.fetch16();
  cpu.eaBase = base;
  cpu.eaIndex = INDEX16[rm]!;
  cpu.eaScale = 0;
  cpu.eaDisp = disp;
  cpu.seg = seg >= 0 ? seg : base === 5 ? SREG_SS : SREG_DS;
}

function decodeEa32(cpu: Cpu, mod: number, rm: number, seg: number): void {
  let base = rm;
  let index = -1;
  let scale = 0;
  let disp = 0;
  if (rm === 4) {
    const sib = cpu.fetch8();
    scale = sib >> 6;
    index = (sib >> 3) & 7;
    if (index === 4) index = -1;
    base = sib & 7;
    if (base === 5 && mod === 0) {
      base = -1;
      disp = cpu.fetch32();
    }
  } else if (rm === 5 && mod === 0) {
    base = -1;
    disp = cpu.fetch32();
  }
  if (mod === 1) disp = (cpu.fetch8() << 24) >> 24;
  else if (mod === 2) disp = cpu.fetch32();
  cpu.eaBase = base;
  cpu.eaIndex = index;
  cpu.eaScale = scale;
  cpu.eaDisp = disp;
  cpu.seg = seg >= 0 ? seg : base === 4 || base === 5 ? SREG_SS : SREG_DS;
}

/** The effective address (offset) of the decoded memory operand, as an unsigned number. */
export function ea(cpu: Cpu): number {
  let a = cpu.eaDisp;
  if (cpu.eaBase >= 0) a += cpu.regs[cpu.eaBase]!;
  if (cpu.eaIndex >= 0) a += cpu.regs[cpu.eaIndex]! << cpu.eaScale;
  return cpu.a32 ? a >>> 0 : a & 0xffff;
}

/** The 32-bit ModRM memory operand for the run loop's decode path (run.ts); returns the position after it. */
export function decodeEaFast32(cpu: Cpu, ram: Uint8Array, p: number, mod: number, rm: number): number {
  let base = rm;
  let index = -1;
  let scale = 0;
  let disp = 0;
  if (rm === 4) {
    const sib = ram[p++]!;
    scale = sib >> 6;
    index = (sib >> 3) & 7;
    if (index === 4) index = -1;
    base = sib & 7;
    if (base === 5 && mod === 0) {
      base = -1;
      disp = ram[p]! | (ram[p + 1]! << 8) | (ram[p + 2]! << 16) | (ram[p + 3]! << 24);
      p += 4;
    }
  } else if (rm === 5 && mod === 0) {
    base = -1;
    disp = ram[p]! | (ram[p + 1]! << 8) | (ram[p + 2]! << 16) | (ram[p + 3]! << 24);
    p += 4;
  }
  if (mod === 1) disp = (ram[p++]! << 24) >> 24;
  else if (mod === 2) {
    disp = ram[p]! | (ram[p + 1]! << 8) | (ram[p + 2]! << 16) | (ram[p + 3]! << 24);
    p += 4;
  }
  cpu.eaBase = base;
  cpu.eaIndex = index;
  cpu.eaScale = scale;
  cpu.eaDisp = disp;
  cpu.seg = base === 4 || base === 5 ? SREG_SS : SREG_DS;
  return p;
}

/**
 * decode() for an instruction wholly inside the fetch window: the same steps, reading the bytes
 * from RAM at `p` (= EIP + fetchBias) instead of through fetch8.
 */
export function decodeFastFull(cpu: Cpu, start: number): void {
  cpu.startIp = start;
  const ram = cpu.ram;
  const p0 = start + cpu.fetchBias;
  let p = p0;
  let o32 = cpu.code32;
  let a32 = o32;
  let seg = -1;
  let rep = 0;
  let lock = false;
  let b = ram[p++]!;
  let f = OPCODE_FLAGS[b]!;
  if (f & F_PREFIX) {
    do {
      switch (b) {
        case 0x26:
          seg = 0;
          break;
        case 0x2e:
          seg = 1;
          break;
        case 0x36:
          seg = 2;
          break;
        case 0x3e:
          seg = 3;
          break;
        case 0x64:
          seg = 4;
          break;
        case 0x65:
          seg = 5;
          break;
        case 0x66:
          o32 = !cpu.code32;
          break;
        case 0x67:
          a32 = !cpu.code32;
          break;
        case 0xf0:
          lock = true;
          break;
        default:
          rep = b;
          break;
      }
      if (p - p0 >= MAX_INSN_LENGTH) cpu.raise(EXC_GP, 0);
      b = ram[p++]!;
      f = OPCODE_FLAGS[b]!;
    } while (f & F_PREFIX);
  }
  let op = b;
  if (b === 0x0f) {
    op = 0x100 | ram[p++]!;
    f = OPCODE_FLAGS[op]!;
  }
  cpu.op = op;
  cpu.o32 = o32;
  cpu.a32 = a32;
  cpu.rep = rep;
  cpu.segOverride = seg;
  let isMem = false;
  if (f & F_MODRM) {
    const m = ram[p++]!;
    const mod = m >> 6;
    const reg = (m >> 3) & 7;
    const rm = m & 7;
    cpu.mod = mod;
    cpu.reg = reg;
    cpu.rm = rm;
    if (f & F_GROUP) f = GROUP_FLAGS[(op << 3) | reg]!;
    if (mod !== 3 && (f & F_REGONLY) === 0) {
      isMem = true;
      if (a32) {
        let base = rm;
        let index = -1;
        let scale = 0;
        let disp = 0;
        if (rm === 4) {
          const sib = ram[p++]!;
          scale = sib >> 6;
          index = (sib >> 3) & 7;
          if (index === 4) index = -1;
          base = sib & 7;
          if (base === 5 && mod === 0) {
            base = -1;
            disp = ram[p]! | (ram[p + 1]! << 8) | (ram[p + 2]! << 16) | (ram[p + 3]! << 24);
            p += 4;
          }
        } else if (rm === 5 && mod === 0) {
          base = -1;
          disp = ram[p]! | (ram[p + 1]! << 8) | (ram[p + 2]! << 16) | (ram[p + 3]! << 24);
          p += 4;
        }
        if (mod === 1) disp = (ram[p++]! << 24) >> 24;
        else if (mod === 2) {
          disp = ram[p]! | (ram[p + 1]! << 8) | (ram[p + 2]! << 16) | (ram[p + 3]! << 24);
          p += 4;
        }
        cpu.eaBase = base;
        cpu.eaIndex = index;
        cpu.eaScale = scale;
        cpu.eaDisp = disp;
        cpu.seg = seg >= 0 ? seg : base === 4 || base === 5 ? SREG_SS : SREG_DS;
      } else {
        let base = BASE16[rm]!;
        let disp = 0;
        if (mod === 0) {
          if (rm === 6) {
            base = -1;
            disp = ram[p]! | (ram[p + 1]! << 8);
            p += 2;
          }
        } else if (mod === 1) disp = (ram[p++]! << 24) >> 24;
        else {
          disp = ram[p]! | (ram[p + 1]! << 8);
          p += 2;
        }
        cpu.eaBase = base;
        cpu.eaIndex = INDEX16[rm]!;
        cpu.eaScale = 0;
        cpu.eaDisp = disp;
        cpu.seg = seg >= 0 ? seg : base === 5 ? SREG_SS : SREG_DS;
      }
    } else if (f & F_MEM) {
      cpu.raise(EXC_UD, -1);
    }
  }
  cpu.isMem = isMem;
  if (f & F_UD) cpu.raise(EXC_UD, -1);
  const imm = (f & F_IMM_MASK) >> F_IMM_SHIFT;
  if (imm !== IMM_NONE) {
    if (imm === IMM_B) cpu.imm = (ram[p++]! << 24) >> 24;
    else if (imm === IMM_W) {
      cpu.imm = ram[p]! | (ram[p + 1]! << 8);
      p += 2;
    } else if (imm === IMM_O) {
      cpu.eaBase = -1;
      cpu.eaIndex = -1;
      if (a32) {
        cpu.eaDisp = ram[p]! | (ram[p + 1]! << 8) | (ram[p + 2]! << 16) | (ram[p + 3]! << 24);
        p += 4;
      } else {
        cpu.eaDisp = ram[p]! | (ram[p + 1]! << 8);
        p += 2;
      }
      cpu.seg = seg < 0 ? SREG_DS : seg;
      isMem = true;
      cpu.isMem = true;
    } else if (imm === IMM_AP) {
      if (o32) {
        cpu.imm = ram[p]! | (ram[p + 1]! << 8) | (ram[p + 2]! << 16) | (ram[p + 3]! << 24);
        p += 4;
      } else {
        cpu.imm = ram[p]! | (ram[p + 1]! << 8);
        p += 2;
      }
      cpu.imm2 = ram[p]! | (ram[p + 1]! << 8);
      p += 2;
    } else if (imm === IMM_WB) {
      cpu.imm = ram[p]! | (ram[p + 1]! << 8);
      cpu.imm2 = ram[p + 2]!;
      p += 3;
    } else if (o32) {
      cpu.imm = ram[p]! | (ram[p + 1]! << 8) | (ram[p + 2]! << 16) | (ram[p + 3]! << 24);
      p += 4;
    } else {
      cpu.imm = ram[p]! | (ram[p + 1]! << 8);
      p += 2;
    }
  }
  cpu.ip = (start + (p - p0)) | 0;
  if (lock && ((f & F_LOCK) === 0 || !isMem)) cpu.raise(EXC_UD, -1);
  if (p - p0 > MAX_INSN_LENGTH) cpu.raise(EXC_GP, 0);
}
