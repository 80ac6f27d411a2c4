/**
 * The run loop (DESIGN.md §3): instruction boundaries (external interrupts, NMI, the STI/MOV SS
 * shadow, host breakpoints), decode + execute, and fault delivery with restartable state.
 */

import { ALU_ADD, ALU_AND, ALU_CMP, ALU_OR, ALU_SUB, ALU_XOR, alu, logicFlags } from './alu';
import { EXC_GP, EXC_NMI, FLAG_IF } from './constants';
import type { Cpu } from './cpu';
import { ARM_NOW, beforeFault, DEBUG_FLAGS, debugStep } from './debug';
import { decode, decodeEaFast32, decodeFastFull, FAST_WINDOW } from './decode';
import { execute } from './exec';
import { CC_ADD, CC_DEC, CC_INC, CC_LOGIC, CC_SHIFT, CC_SUB, cond, getCF } from './flags';
import {
  H_ALU_AI,
  H_ALU_EG_R,
  H_ALU_GE_R,
  H_ALU_RI8,
  H_ALU_RI32,
  H_CALL,
  H_CMP_M8I,
  H_CMP_M32I8,
  H_DEC,
  H_INC,
  H_JCC8,
  H_JCC32,
  H_JMP8,
  H_JMP32,
  H_MAY_FAULT,
  H_MEM,
  H_MOV_EG_R,
  H_MOV_GE_R,
  H_MOV_LOAD8,
  H_MOV_LOAD32,
  H_MOV_M8I,
  H_MOV_M32I,
  H_MOV_RI,
  H_MOV_STORE8,
  H_MOV_STORE32,
  H_MOVSX8,
  H_MOVSX16,
  H_MOVZX8,
  H_NEG_R,
  H_NOP,
  H_NOT_R,
  H_POP,
  H_PUSH,
  H_RET,
  H_SH1,
  H_SHCL,
  H_SHI,
  H_TEST_R,
  H_TEST_RI,
  HOT,
  hotEa,
} from './hot';
import { deliver, SRC_EXT, SRC_FAULT } from './interrupt';
import {
  F_GROUP,
  F_IMM_MASK,
  F_IMM_SHIFT,
  F_MEM,
  F_MODRM,
  F_PREFIX,
  F_REGONLY,
  F_UD,
  GROUP_FLAGS,
  IMM_B,
  IMM_W,
  IMM_Z,
  OPCODE_FLAGS,
} from './opcodes';
import { R8 } from './operands';
import { SH_SAR, SH_SHR } from './shift';
import { GUEST_FAULT, STOP_BREAKPOINT, STOP_HLT, STOP_NONE, STOP_SHUTDOWN } from './signals';

/** Delivers a pending NMI or maskable interrupt if one is allowed now; returns true if it did. */
function pollInterrupts(cpu: Cpu): boolean {
  const line = cpu.interrupts;
  // The task-switch #DB trap (TSS T bit) is due first: it outranks NMI and INTR (SDM §6.9, Table 6-2).
  if (line === null || cpu.shadowAt === cpu.icount || (cpu.dbgArm & ARM_NOW) !== 0) return false;
  if (!cpu.nmiBlocked && line.nmi !== undefined && line.nmi()) {
    cpu.nmiBlocked = true;
    deliver(cpu, EXC_NMI, -1, SRC_EXT);
    return true;
  }
  if ((cpu.flags & FLAG_IF) !== 0 && line.pending()) {
    cpu.syncClock();
    const vector = line.acknowledge() & 0xff;
    deliver(cpu, vector, -1, SRC_EXT);
    return true;
  }
  return false;
}

/** Runs up to `max` instructions; returns a STOP_* code (STOP_NONE = budget exhausted). */
/** A little-endian dword of the instruction stream (an immediate or displacement). */
function imm32(ram: Uint8Array, p: number): number {
  return ram[p]! | (ram[p + 1]! << 8) | (ram[p + 2]! << 16) | (ram[p + 3]! << 24);
}

/**
 * The target of a near jump of 32-bit code from the instruction at `start` (control.ts jumpNear
 * with a 32-bit operand size) in the hot path's run of instructions; beyond the CS limit it writes
 * back EIP and the `retired` instructions before it and raises #GP(0) with this one's restart state.
 */
function hotTarget(cpu: Cpu, start: number, retired: number, target: number): number {
  const t = target | 0;
  if (t >>> 0 > cpu.csLimit) {
    cpu.icount += retired;
    cpu.ip = start;
    cpu.startIp = start;
    cpu.startSp = cpu.regs[4]!;
    cpu.raise(EXC_GP, 0);
  }
  return t;
}

export function runLoop(cpu: Cpu, max: number): number {
  cpu.stopCode = STOP_NONE;
  if (cpu.shutdown) return STOP_SHUTDOWN;
  if (cpu.halted) {
    // HLT: wake only on an interrupt that can be delivered (SDM §8.6, HLT).
    if (!pollInterrupts(cpu)) return STOP_HLT;
    cpu.halted = false;
    if (cpu.shutdown) return STOP_SHUTDOWN;
  }
  // The budget counts steps: retired instructions, fault deliveries and the yields of long
  // repeated string instructions, so that run() always returns; `icount` counts only retirements.
  let steps = 0;
  const poll = cpu.interrupts !== null;
  const breakpoints = cpu.hasBreakpoints;
  // Instruction boundaries with nothing to check (see the hot path).
  const fusable = !poll && !breakpoints;
  // Memory may have been remapped since the last run(): reopen the fetch window from the TLB.
  cpu.invalidateFetch();
  for (;;) {
    try {
      while (steps < max) {
        steps++;
        if (poll) pollInterrupts(cpu);
        if (breakpoints) {
          const lin = (cpu.csBase + cpu.ip) >>> 0;
          if (cpu.breakpoints.has(lin) && cpu.resumeBp !== lin) {
            cpu.resumeBp = lin;
            return STOP_BREAKPOINT;
          }
          cpu.resumeBp = -1;
        }
        if (((cpu.flags & DEBUG_FLAGS) | cpu.dbgArm) !== 0) {
          // Single-step, debug-register breakpoints, RF or a pending #DB: the slow path (debug.ts).
          debugStep(cpu);
          if (cpu.stopCode !== STOP_NONE) return cpu.stopCode;
          continue;
        }
        const ip = cpu.ip;
        if (ip >= cpu.fetchStart && ip + FAST_WINDOW <= cpu.fetchEnd) {
          const ram = cpu.ram;
          const p0 = ip + cpu.fetchBias;
          const b0 = ram[p0]!;
          const b1 = ram[p0 + 1]!;
          const h = cpu.code32 ? HOT[(b0 << 8) | b1]! : 0;
          if (h !== 0 && h < H_MAY_FAULT) {
            // The hot path (hot.ts): frequent forms of unprefixed 32-bit code executed from the
            // instruction bytes, without the decoded-instruction fields; the semantics are those
            // of execute() (the same helpers, or their 32-bit register case written out). These
            // handlers touch no memory and call nothing outside the CPU, so the fetch window, CS,
            // the restart state and a stop request stay as they are: while there is nothing to
            // check at instruction boundaries (no interrupt line, no host breakpoints, and debug
            // traps off, which these instructions cannot change) they run one after the other
            // with EIP and the retirement count in locals. A jump's #GP writes them back first.
            const r = cpu.regs;
            const winStart = cpu.fetchStart;
            const winEnd = cpu.fetchEnd - FAST_WINDOW;
            const bias = cpu.fetchBias;
            let pc = ip;
            let q = p0;
            let c0 = b0;
            let c1 = b1;
            let hh = h;
            let retired = 0;
            for (;;) {
              // ALU forms set kind (ALU_*), operands a, b, destination d and length; their
              // operation and lazy flags are written out once below the switch (as in alu.ts).
              let kind = -1;
              let a = 0;
              let b = 0;
              let d = 0;
              let len = 2;
              switch (hh) {
                case H_ALU_EG_R:
                  kind = (c0 >> 3) & 7;
                  d = c1 & 7;
                  a = r[d]!;
                  b = r[(c1 >> 3) & 7]!;
                  break;
                case H_ALU_GE_R:
                  kind = (c0 >> 3) & 7;
                  d = (c1 >> 3) & 7;
                  a = r[d]!;
                  b = r[c1 & 7]!;
                  break;
                case H_ALU_AI:
                  kind = (c0 >> 3) & 7;
                  a = r[0]!;
                  b = imm32(ram, q + 1);
                  len = 5;
                  break;
                case H_ALU_RI8:
                  kind = (c1 >> 3) & 7;
                  d = c1 & 7;
                  a = r[d]!;
                  b = (ram[q + 2]! << 24) >> 24;
                  len = 3;
                  break;
                case H_ALU_RI32:
                  kind = (c1 >> 3) & 7;
                  d = c1 & 7;
                  a = r[d]!;
                  b = imm32(ram, q + 2);
                  len = 6;
                  break;
                case H_NEG_R:
                  kind = ALU_SUB;
                  d = c1 & 7;
                  b = r[d]!;
                  break;
                case H_INC:
                case H_DEC: {
                  // alu.ts incDec: CF is kept (in ccC).
                  const n = c0 & 7;
                  const v = r[n]!;
                  const op = cpu.ccOp;
                  const c = op === CC_INC || op === CC_DEC ? cpu.ccC : op === CC_LOGIC ? 0 : getCF(cpu);
                  const res = hh === H_DEC ? (v - 1) | 0 : (v + 1) | 0;
                  cpu.ccOp = hh === H_DEC ? CC_DEC : CC_INC;
                  cpu.ccA = v;
                  cpu.ccB = 1;
                  cpu.ccR = res;
                  cpu.ccSz = 31;
                  cpu.ccC = c;
                  r[n] = res;
                  pc = (pc + 1) | 0;
                  break;
                }
                case H_JCC8:
                  if (cond(cpu, c0 & 15)) pc = hotTarget(cpu, pc, retired, pc + 2 + ((c1 << 24) >> 24));
                  else pc = (pc + 2) | 0;
                  break;
                case H_JCC32:
                  if (cond(cpu, c1 & 15)) pc = hotTarget(cpu, pc, retired, pc + 6 + imm32(ram, q + 2));
                  else pc = (pc + 6) | 0;
                  break;
                case H_TEST_R:
                  logicFlags(cpu, r[c1 & 7]! & r[(c1 >> 3) & 7]!, 31);
                  pc = (pc + 2) | 0;
                  break;
                case H_MOV_EG_R:
                  r[c1 & 7] = r[(c1 >> 3) & 7]!;
                  pc = (pc + 2) | 0;
                  break;
                case H_MOV_GE_R:
                  r[(c1 >> 3) & 7] = r[c1 & 7]!;
                  pc = (pc + 2) | 0;
                  break;
                case H_MOV_RI:
                  r[c0 & 7] = imm32(ram, q + 1);
                  pc = (pc + 5) | 0;
                  break;
                case H_SH1:
                case H_SHI:
                case H_SHCL: {
                  // SHL/SAL, SHR, SAR of a 32-bit register: the 32-bit case of shift.ts shift(),
                  // flags recorded lazily as CC_SHIFT; a masked count of 0 changes nothing.
                  const count = hh === H_SH1 ? 1 : hh === H_SHI ? ram[q + 2]! & 31 : cpu.r8[4]! & 31;
                  pc = (pc + (hh === H_SHI ? 3 : 2)) | 0;
                  if (count === 0) break;
                  const v = r[c1 & 7]!;
                  const op = (c1 >> 3) & 7;
                  let res: number;
                  let cf: number;
                  let of = 0;
                  if (op === SH_SHR) {
                    res = v >>> count;
                    cf = (v >>> (count - 1)) & 1;
                    if (count === 1) of = v >>> 31;
                  } else if (op === SH_SAR) {
                    res = v >> count;
                    cf = (v >> (count - 1)) & 1;
                  } else {
                    res = v << count;
                    cf = (v >>> (32 - count)) & 1;
                    of = (res >>> 31) ^ cf;
                  }
                  r[c1 & 7] = res;
                  cpu.ccOp = CC_SHIFT;
                  cpu.ccR = res;
                  cpu.ccSz = 31;
                  cpu.ccC = cf | (of << 11);
                  break;
                }
                case H_NOT_R:
                  r[c1 & 7] = ~r[c1 & 7]!;
                  pc = (pc + 2) | 0;
                  break;
                case H_TEST_RI:
                  logicFlags(cpu, r[c1 & 7]! & imm32(ram, q + 2), 31);
                  pc = (pc + 6) | 0;
                  break;
                case H_JMP8:
                  pc = hotTarget(cpu, pc, retired, pc + 2 + ((c1 << 24) >> 24));
                  break;
                case H_JMP32:
                  pc = hotTarget(cpu, pc, retired, pc + 5 + imm32(ram, q + 1));
                  break;
                case H_NOP:
                  pc = (pc + 1) | 0;
                  break;
                default: {
                  // H_LEA: the 32-bit effective address (LEA Gv,M with 32-bit operand and address).
                  const off = hotEa(cpu, ram, q + 2, c1);
                  r[(c1 >> 3) & 7] = off;
                  pc = (pc + (cpu.hotNext - q)) | 0;
                }
              }
              if (kind >= 0) {
                let res: number;
                switch (kind) {
                  case ALU_ADD:
                    res = (a + b) | 0;
                    cpu.ccOp = CC_ADD;
                    cpu.ccA = a;
                    cpu.ccB = b;
                    break;
                  case ALU_OR:
                    res = a | b;
                    cpu.ccOp = CC_LOGIC;
                    break;
                  case ALU_AND:
                    res = a & b;
                    cpu.ccOp = CC_LOGIC;
                    break;
                  case ALU_XOR:
                    res = a ^ b;
                    cpu.ccOp = CC_LOGIC;
                    break;
                  case ALU_SUB:
                  case ALU_CMP:
                    res = (a - b) | 0;
                    cpu.ccOp = CC_SUB;
                    cpu.ccA = a;
                    cpu.ccB = b;
                    break;
                  default:
                    // ADC, SBB: with the carry in (alu.ts).
                    res = alu(cpu, kind, a, b, 31);
                }
                cpu.ccR = res;
                cpu.ccSz = 31;
                if (kind !== ALU_CMP) r[d] = res;
                pc = (pc + len) | 0;
              }
              retired++;
              if (!fusable || steps >= max || pc < winStart || pc > winEnd) break;
              q = pc + bias;
              c0 = ram[q]!;
              c1 = ram[q + 1]!;
              hh = HOT[(c0 << 8) | c1]!;
              if (hh === 0 || hh >= H_MAY_FAULT) break;
              steps++;
            }
            cpu.ip = pc;
            cpu.icount += retired;
            continue;
          }
          cpu.startSp = cpu.regs[4]!;
          if (h !== 0) {
            // The hot handlers that access memory: restartable like execute() (run loop catch).
            cpu.startIp = ip;
            const r = cpu.regs;
            if (h < H_MEM) {
              switch (h) {
                case H_PUSH:
                  cpu.ip = (ip + 1) | 0;
                  cpu.push32(r[b0 & 7]!);
                  break;
                case H_POP:
                  cpu.ip = (ip + 1) | 0;
                  r[b0 & 7] = cpu.pop32();
                  break;
                case H_CALL: {
                  // The target's limit check, then the push (which may fault), then the jump.
                  const next = (ip + 5) | 0;
                  const target = (next + imm32(ram, p0 + 1)) | 0;
                  if (target >>> 0 > cpu.csLimit) cpu.raise(EXC_GP, 0);
                  cpu.ip = next;
                  cpu.push32(next);
                  cpu.ip = target;
                  break;
                }
                case H_RET: {
                  cpu.ip = (ip + 1) | 0;
                  const target = cpu.peek32(0);
                  if (target >>> 0 > cpu.csLimit) cpu.raise(EXC_GP, 0);
                  cpu.addSp(4);
                  cpu.ip = target;
                  break;
                }
                default: {
                  // MOVZX/MOVSX Gv,Eb/Ew: the ModRM is the third byte.
                  const m = ram[p0 + 2]!;
                  const byte = h === H_MOVZX8 || h === H_MOVSX8;
                  let v: number;
                  if (m >= 0xc0) {
                    cpu.ip = (ip + 3) | 0;
                    v = byte ? cpu.r8[R8[m & 7]!]! : cpu.r16[(m & 7) << 1]!;
                  } else {
                    const off = hotEa(cpu, ram, p0 + 3, m);
                    cpu.ip = (ip + (cpu.hotNext - p0)) | 0;
                    v = byte ? cpu.rd8(cpu.seg, off) : cpu.rd16(cpu.seg, off);
                  }
                  if (h === H_MOVSX8) v = (v << 24) >> 24;
                  else if (h === H_MOVSX16) v = (v << 16) >> 16;
                  r[(m >> 3) & 7] = v;
                }
              }
            } else {
              // One-byte opcode with a memory ModRM operand (b1), its bytes from p0 + 2.
              const off = hotEa(cpu, ram, p0 + 2, b1);
              const q = cpu.hotNext;
              const g = (b1 >> 3) & 7;
              const seg = cpu.seg;
              switch (h) {
                case H_MOV_STORE32:
                  cpu.ip = (ip + (q - p0)) | 0;
                  cpu.wr32(seg, off, r[g]!);
                  break;
                case H_MOV_LOAD32:
                  cpu.ip = (ip + (q - p0)) | 0;
                  r[g] = cpu.rd32(seg, off);
                  break;
                case H_MOV_STORE8:
                  cpu.ip = (ip + (q - p0)) | 0;
                  cpu.wr8(seg, off, cpu.r8[R8[g]!]!);
                  break;
                case H_MOV_LOAD8:
                  cpu.ip = (ip + (q - p0)) | 0;
                  cpu.r8[R8[g]!] = cpu.rd8(seg, off);
                  break;
                case H_MOV_M8I:
                  cpu.ip = (ip + (q + 1 - p0)) | 0;
                  cpu.wr8(seg, off, ram[q]!);
                  break;
                case H_MOV_M32I:
                  cpu.ip = (ip + (q + 4 - p0)) | 0;
                  cpu.wr32(seg, off, imm32(ram, q));
                  break;
                case H_CMP_M8I:
                  cpu.ip = (ip + (q + 1 - p0)) | 0;
                  alu(cpu, ALU_CMP, cpu.rd8(seg, off), (ram[q]! << 24) >> 24, 7);
                  break;
                case H_CMP_M32I8:
                  cpu.ip = (ip + (q + 1 - p0)) | 0;
                  alu(cpu, ALU_CMP, cpu.rd32(seg, off), (ram[q]! << 24) >> 24, 31);
                  break;
                default: {
                  // H_ALU_GE_M: register op= memory (CMP only compares).
                  cpu.ip = (ip + (q - p0)) | 0;
                  const kind = (b0 >> 3) & 7;
                  const v = alu(cpu, kind, r[g]!, cpu.rd32(seg, off), 31);
                  if (kind !== ALU_CMP) r[g] = v;
                }
              }
            }
            cpu.icount++;
            if (cpu.stopCode !== STOP_NONE) return cpu.stopCode;
            continue;
          }
          // The common case of decode() — no prefix, 32-bit code, register or 32-bit memory operand,
          // no immediate or Ib/Iz — written out here so that it is part of this loop however V8
          // compiles it (a call may not be inlined by on-stack replacement). Everything else goes
          // to decodeFastFull. A one-pass `for` so that the fallbacks can `break` out.
          for (;;) {
            let p = p0 + 1;
            let op = b0;
            let f = OPCODE_FLAGS[op]!;
            if (op === 0x0f) {
              op = 0x100 | ram[p++]!;
              f = OPCODE_FLAGS[op]!;
            }
            if ((f & F_PREFIX) !== 0 || !cpu.code32) {
              decodeFastFull(cpu, ip);
              break;
            }
            let isMem = false;
            if (f & F_MODRM) {
              const m = ram[p++]!;
              const mod = m >> 6;
              const reg = (m >> 3) & 7;
              const rm = m & 7;
              if (f & F_GROUP) f = GROUP_FLAGS[(op << 3) | reg]!;
              if (mod !== 3 && (f & F_REGONLY) === 0) {
                isMem = true;
                p = decodeEaFast32(cpu, ram, p, mod, rm);
              }
              cpu.mod = mod;
              cpu.reg = reg;
              cpu.rm = rm;
            }
            const imm = (f & F_IMM_MASK) >> F_IMM_SHIFT;
            if ((f & F_UD) !== 0 || (!isMem && (f & F_MEM) !== 0) || imm > IMM_Z || imm === IMM_W) {
              decodeFastFull(cpu, ip);
              break;
            }
            if (imm === IMM_B) cpu.imm = (ram[p++]! << 24) >> 24;
            else if (imm === IMM_Z) {
              cpu.imm = ram[p]! | (ram[p + 1]! << 8) | (ram[p + 2]! << 16) | (ram[p + 3]! << 24);
              p += 4;
            }
            cpu.startIp = ip;
            cpu.op = op;
            cpu.o32 = true;
            cpu.a32 = true;
            cpu.rep = 0;
            cpu.segOverride = -1;
            cpu.isMem = isMem;
            cpu.ip = (ip + (p - p0)) | 0;
            break;
          }
        } else {
          cpu.startSp = cpu.regs[4]!;
          decode(cpu);
        }
        execute(cpu);
        cpu.icount++;
        if (cpu.stopCode !== STOP_NONE) return cpu.stopCode;
      }
      return STOP_NONE;
    } catch (e) {
      if (e !== GUEST_FAULT) throw e;
      // A fault leaves the instruction's architectural state unchanged (restartable, SDM §6.5).
      // (Except a fault in the segment loads of a committed task switch: it belongs to the new task.)
      if (!cpu.newContextFault) {
        cpu.ip = cpu.startIp;
        cpu.regs[4] = cpu.startSp;
      }
      beforeFault(cpu);
      deliver(cpu, cpu.excVector, cpu.excError, SRC_FAULT);
      // The faulting instruction did not retire; its delivery still used a step of the budget.
      if (cpu.stopCode !== STOP_NONE) return cpu.stopCode;
    }
  }
}
