/**
 * The run loop's hot path (run.ts): a handler number for the frequent instruction forms of 32-bit
 * code, looked up from the first two instruction bytes in one table access, so that these forms are
 * executed without filling the decoded-instruction fields and without a second dispatch.
 *
 * The table is derived from the opcode table (opcodes.ts, by the SDM spec of each map index and
 * ModRM): index `(byte0 << 8) | byte1`; for a one-byte opcode byte1 is its ModRM (so the handler
 * can depend on mod and on the group member), for 0F it is the second opcode byte. Handler 0
 * means "not on the hot path": the generic decode() + execute() run instead. Only unprefixed
 * instructions with a 32-bit operand and address size (CS.D = 1) use it; every encoding it covers
 * is shorter than the 15-byte limit and lies inside the run loop's fetch window, and none takes a
 * LOCK (which is a prefix), so the decoder's #UD/#GP checks cannot apply.
 */
import { SREG_DS, SREG_SS } from './constants';
import type { CpuCore } from './core';
import { F_PREFIX, F_UD, OPCODE_FLAGS, opcodeSpec } from './opcodes';

// Handlers below H_MAY_FAULT neither access memory nor call out, and fault only through hotJump
// (which records the restart state itself); the others need the restart state set first.
/** ALU (ADD…CMP) Ev,Gv with a register r/m. */
export const H_ALU_EG_R = 1;
/** ALU Gv,Ev with a register r/m. */
export const H_ALU_GE_R = 2;
/** ALU eAX,Iz. */
export const H_ALU_AI = 3;
/** Group 1 Ev,Ib (83) with a register r/m. */
export const H_ALU_RI8 = 4;
/** Group 1 Ev,Iz (81) with a register r/m. */
export const H_ALU_RI32 = 5;
/** INC Zv / DEC Zv (40–4F). */
export const H_INC = 6;
export const H_DEC = 7;
/** Jcc Jb (70–7F) and 0F: Jcc Jz (0F 80–8F). */
export const H_JCC8 = 8;
export const H_JCC32 = 9;
/** TEST Ev,Gv with a register r/m. */
export const H_TEST_R = 10;
/** MOV Ev,Gv / MOV Gv,Ev with a register r/m. */
export const H_MOV_EG_R = 11;
export const H_MOV_GE_R = 12;
/** MOV Zv,Iz (B8–BF). */
export const H_MOV_RI = 13;
/** SHL/SAL/SHR/SAR Ev with a register r/m, count 1 (D1), Ib (C1), CL (D3). */
export const H_SH1 = 14;
export const H_SHI = 15;
export const H_SHCL = 16;
/** NEG Ev / NOT Ev / TEST Ev,Iz (F7) with a register r/m. */
export const H_NEG_R = 17;
export const H_NOT_R = 18;
export const H_TEST_RI = 19;
/** JMP Jb / JMP Jz / NOP (90). */
export const H_JMP8 = 20;
export const H_JMP32 = 21;
export const H_NOP = 22;
/** LEA Gv,M (computes an address, accesses nothing). */
export const H_LEA = 23;

/** First handler that accesses memory (and may fault or call out). */
export const H_MAY_FAULT = 32;
/** PUSH Zv / POP Zv (50–5F), CALL Jz, RETN. */
export const H_PUSH = 32;
export const H_POP = 33;
export const H_CALL = 34;
export const H_RET = 35;
/** 0F: MOVZX Gv,Eb / MOVZX Gv,Ew / MOVSX Gv,Eb / MOVSX Gv,Ew (any r/m). */
export const H_MOVZX8 = 36;
export const H_MOVZX16 = 37;
export const H_MOVSX8 = 38;
export const H_MOVSX16 = 39;
/** First handler with a one-byte opcode and a memory ModRM operand (decoded by hotEa). */
export const H_MEM = 40;
/** MOV Ev,Gv / MOV Gv,Ev / MOV Eb,Gb / MOV Gb,Eb / MOV Eb,Ib / MOV Ev,Iz with a memory operand. */
export const H_MOV_STORE32 = 40;
export const H_MOV_LOAD32 = 41;
export const H_MOV_STORE8 = 42;
export const H_MOV_LOAD8 = 43;
export const H_MOV_M8I = 44;
export const H_MOV_M32I = 45;
/** CMP Eb,Ib (80 /7) and CMP Ev,Ib (83 /7) with a memory operand. */
export const H_CMP_M8I = 46;
export const H_CMP_M32I8 = 47;
/** ALU Gv,Ev with a memory operand (the memory operand is only read). */
export const H_ALU_GE_M = 48;

const ALU_NAMES = ['ADD', 'OR', 'ADC', 'SBB', 'AND', 'SUB', 'XOR', 'CMP'];
const SHIFTS = ['SHL', 'SHR', 'SAL', 'SAR'];

/** The handler of a one-byte opcode with ModRM byte `modrm` (or the next byte), from its spec. */
function oneByteHandler(op: number, modrm: number): number {
  const f = OPCODE_FLAGS[op]!;
  if ((f & (F_PREFIX | F_UD)) !== 0 || op === 0x0f) return 0;
  const spec = opcodeSpec(op, modrm).replace('|L', '');
  const sp = spec.indexOf(' ');
  const mn = sp < 0 ? spec : spec.slice(0, sp);
  const ops = sp < 0 ? '' : spec.slice(sp + 1);
  const reg = modrm >> 6 === 3;
  const alu = ALU_NAMES.includes(mn);
  if (alu && ops === 'Ev,Gv' && reg) return H_ALU_EG_R;
  if (alu && ops === 'Gv,Ev') return reg ? H_ALU_GE_R : H_ALU_GE_M;
  if (alu && ops === 'eAX,Iz') return H_ALU_AI;
  if (alu && ops === 'Ev,Ib' && reg) return H_ALU_RI8;
  if (alu && ops === 'Ev,Iz' && reg) return H_ALU_RI32;
  if (mn === 'CMP' && ops === 'Eb,Ib' && !reg) return H_CMP_M8I;
  if (mn === 'CMP' && ops === 'Ev,Ib' && !reg) return H_CMP_M32I8;
  if (ops === 'Zv') {
    if (mn === 'INC') return H_INC;
    if (mn === 'DEC') return H_DEC;
    if (mn === 'PUSH') return H_PUSH;
    if (mn === 'POP') return H_POP;
  }
  if (op >= 0x70 && op <= 0x7f && ops === 'Jb') return H_JCC8;
  if (mn === 'TEST' && ops === 'Ev,Gv' && reg) return H_TEST_R;
  if (mn === 'MOV') {
    if (ops === 'Ev,Gv') return reg ? H_MOV_EG_R : H_MOV_STORE32;
    if (ops === 'Gv,Ev') return reg ? H_MOV_GE_R : H_MOV_LOAD32;
    if (ops === 'Eb,Gb' && !reg) return H_MOV_STORE8;
    if (ops === 'Gb,Eb' && !reg) return H_MOV_LOAD8;
    if (ops === 'Zv,Iz') return H_MOV_RI;
    if (ops === 'Eb,Ib' && !reg) return H_MOV_M8I;
    if (ops === 'Ev,Iz' && !reg) return H_MOV_M32I;
  }
  if (mn === 'LEA' && !reg) return H_LEA;
  if (SHIFTS.includes(mn) && reg) {
    if (ops === 'Ev,1') return H_SH1;
    if (ops === 'Ev,Ib') return H_SHI;
    if (ops === 'Ev,CL') return H_SHCL;
  }
  if (reg && mn === 'NEG' && ops === 'Ev') return H_NEG_R;
  if (reg && mn === 'NOT' && ops === 'Ev') return H_NOT_R;
  if (reg && mn === 'TEST' && ops === 'Ev,Iz') return H_TEST_RI;
  if (mn === 'JMP' && ops === 'Jb') return H_JMP8;
  if (mn === 'JMP' && ops === 'Jz') return H_JMP32;
  if (mn === 'CALL' && ops === 'Jz') return H_CALL;
  if (spec === 'RETN') return H_RET;
  if (spec === 'NOP' && op === 0x90) return H_NOP;
  return 0;
}

/** The handler of two-byte opcode 0F `op` (the ModRM is the third byte; handlers take any mod). */
function twoByteHandler(op: number): number {
  const f = OPCODE_FLAGS[0x100 | op]!;
  if ((f & F_UD) !== 0) return 0;
  const spec = opcodeSpec(0x100 | op);
  if (spec === 'MOVZX Gv,Eb') return H_MOVZX8;
  if (spec === 'MOVZX Gv,Ew') return H_MOVZX16;
  if (spec === 'MOVSX Gv,Eb') return H_MOVSX8;
  if (spec === 'MOVSX Gv,Ew') return H_MOVSX16;
  if (op >= 0x80 && op <= 0x8f && spec.endsWith(' Jz')) return H_JCC32;
  return 0;
}

/** Hot-path handler per (byte0 << 8) | byte1 (0: generic path). */
export const HOT = new Uint8Array(0x10000);
for (let b0 = 0; b0 < 256; b0++) {
  for (let b1 = 0; b1 < 256; b1++) {
    HOT[(b0 << 8) | b1] = b0 === 0x0f ? twoByteHandler(b1) : oneByteHandler(b0, b1);
  }
}

/**
 * The offset of a 32-bit ModRM memory operand whose SIB/displacement bytes start at ram[p]
 * (SDM Vol. 2 Table 2-2/2-3), from the current register values; sets `cpu.seg` to its default
 * segment (SS for an EBP or ESP base) and `cpu.hotNext` to the position after it.
 */
export function hotEa(cpu: CpuCore, ram: Uint8Array, p: number, modrm: number): number {
  const mod = modrm >> 6;
  let base = modrm & 7;
  const r = cpu.regs;
  let a = 0;
  if (base === 4) {
    const sib = ram[p++]!;
    const index = (sib >> 3) & 7;
    base = sib & 7;
    if (index !== 4) a = r[index]! << (sib >> 6);
    if (base === 5 && mod === 0) {
      base = -1;
      a += ram[p]! | (ram[p + 1]! << 8) | (ram[p + 2]! << 16) | (ram[p + 3]! << 24);
      p += 4;
    }
  } else if (base === 5 && mod === 0) {
    base = -1;
    a = ram[p]! | (ram[p + 1]! << 8) | (ram[p + 2]! << 16) | (ram[p + 3]! << 24);
    p += 4;
  }
  if (base >= 0) a += r[base]!;
  if (mod === 1) a += (ram[p++]! << 24) >> 24;
  else if (mod === 2) {
    a += ram[p]! | (ram[p + 1]! << 8) | (ram[p + 2]! << 16) | (ram[p + 3]! << 24);
    p += 4;
  }
  cpu.seg = base === 4 || base === 5 ? SREG_SS : SREG_DS;
  cpu.hotNext = p;
  return a >>> 0;
}
