/**
 * The run loop (DESIGN.md §3): instruction boundaries (external interrupts, NMI, the STI/MOV SS
 * shadow, host breakpoints), decode + execute, and fault delivery with restartable state.
 */

import { EXC_NMI, FLAG_IF } from './constants';
import type { Cpu } from './cpu';
import { ARM_NOW, beforeFault, DEBUG_FLAGS, debugStep } from './debug';
import { decode, decodeEaFast32, decodeFastFull, FAST_WINDOW } from './decode';
import { execute } from './exec';
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
        cpu.startSp = cpu.regs[4]!;
        const ip = cpu.ip;
        if (ip >= cpu.fetchStart && ip + FAST_WINDOW <= cpu.fetchEnd) {
          // The common case of decode() — no prefix, 32-bit code, register or 32-bit memory operand,
          // no immediate or Ib/Iz — written out here so that it is part of this loop however V8
          // compiles it (a call may not be inlined by on-stack replacement). Everything else goes
          // to decodeFastFull. A one-pass `for` so that the fallbacks can `break` out.
          for (;;) {
            const ram = cpu.ram;
            const p0 = ip + cpu.fetchBias;
            let p = p0 + 1;
            let op = ram[p0]!;
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
        } else decode(cpu);
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
