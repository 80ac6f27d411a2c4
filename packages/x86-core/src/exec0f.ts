/**
 * Dispatch of the two-byte (0F) opcode map (SDM Vol. 2 Table A-3).
 */
import { bitOp, bitScan, bswap, cmpxchg, cmpxchg8b, xadd } from './bit';
import { EXC_UD, SREG_FS, SREG_GS, SREG_SS } from './constants';
import { jumpNear } from './control';
import type { Cpu } from './cpu';
import { loadFarPointer, pushSeg } from './exec';
import { cond } from './flags';
import { imulTrunc } from './muldiv';
import { readE8, readE16, readEv, writeE8, writeGv } from './operands';
import { loadSegment } from './segment';
import { shiftDouble } from './shift';
import { sysenter, sysexit } from './sysenter';
import {
  clts,
  cpuidInsn,
  group6,
  group7,
  larLsl,
  movFromCr,
  movFromDr,
  movToCr,
  movToDr,
  privileged,
  rdmsr,
  rdpmc,
  rdtsc,
  wrmsr,
} from './system';

/** Executes the decoded 0F-map instruction with second opcode byte `op`. */
export function execute0f(cpu: Cpu, op: number): void {
  if (op >= 0x80 && op <= 0x8f) {
    if (cond(cpu, op & 15)) jumpNear(cpu, cpu.ip + cpu.imm);
    return;
  }
  if (op >= 0x90 && op <= 0x9f) {
    writeE8(cpu, cond(cpu, op & 15) ? 1 : 0);
    return;
  }
  if (op >= 0x40 && op <= 0x4f) {
    // CMOVcc: the source is always read (and may fault) even when the condition is false.
    const v = readEv(cpu);
    if (cond(cpu, op & 15)) writeGv(cpu, v);
    return;
  }
  switch (op) {
    case 0x00:
      group6(cpu);
      return;
    case 0x01:
      group7(cpu);
      return;
    case 0x02:
    case 0x03:
      larLsl(cpu, op === 0x03);
      return;
    case 0x06:
      clts(cpu);
      return;
    case 0x08:
    case 0x09:
      // INVD/WBINVD: no caches are modelled; privileged.
      privileged(cpu);
      return;
    case 0x0b:
      cpu.raise(EXC_UD, -1);
      return;
    case 0x18:
    case 0x19:
    case 0x1a:
    case 0x1b:
    case 0x1c:
    case 0x1d:
    case 0x1e:
    case 0x1f:
      // Hint NOPs (0F 18..1F /r): the operand is decoded but not accessed.
      return;
    case 0x20:
      movFromCr(cpu);
      return;
    case 0x21:
      movFromDr(cpu);
      return;
    case 0x22:
      movToCr(cpu);
      return;
    case 0x23:
      movToDr(cpu);
      return;
    case 0x30:
      wrmsr(cpu);
      return;
    case 0x31:
      rdtsc(cpu);
      return;
    case 0x32:
      rdmsr(cpu);
      return;
    case 0x33:
      rdpmc(cpu);
      return;
    case 0x34:
      sysenter(cpu);
      return;
    case 0x35:
      sysexit(cpu);
      return;
    case 0xa0:
      pushSeg(cpu, SREG_FS);
      return;
    case 0xa8:
      pushSeg(cpu, SREG_GS);
      return;
    case 0xa1:
    case 0xa9: {
      const v = cpu.o32 ? cpu.peek32(0) & 0xffff : cpu.peek16(0);
      loadSegment(cpu, op === 0xa1 ? SREG_FS : SREG_GS, v);
      cpu.addSp(cpu.o32 ? 4 : 2);
      return;
    }
    case 0xa2:
      cpuidInsn(cpu);
      return;
    case 0xa3:
      bitOp(cpu, 0, cpu.o32 ? cpu.regs[cpu.reg]! : cpu.r16[cpu.reg << 1]!, false);
      return;
    case 0xab:
      bitOp(cpu, 1, cpu.o32 ? cpu.regs[cpu.reg]! : cpu.r16[cpu.reg << 1]!, false);
      return;
    case 0xb3:
      bitOp(cpu, 2, cpu.o32 ? cpu.regs[cpu.reg]! : cpu.r16[cpu.reg << 1]!, false);
      return;
    case 0xbb:
      bitOp(cpu, 3, cpu.o32 ? cpu.regs[cpu.reg]! : cpu.r16[cpu.reg << 1]!, false);
      return;
    case 0xba:
      bitOp(cpu, cpu.reg - 4, cpu.imm & 0xff, true);
      return;
    case 0xa4:
      shiftDouble(cpu, false, cpu.imm);
      return;
    case 0xa5:
      shiftDouble(cpu, false, cpu.r8[4]!);
      return;
    case 0xac:
      shiftDouble(cpu, true, cpu.imm);
      return;
    case 0xad:
      shiftDouble(cpu, true, cpu.r8[4]!);
      return;
    case 0xaf:
      writeGv(
        cpu,
        imulTrunc(cpu, cpu.o32 ? cpu.regs[cpu.reg]! : cpu.r16[cpu.reg << 1]!, readEv(cpu), cpu.o32),
      );
      return;
    case 0xb0:
      cmpxchg(cpu, 0);
      return;
    case 0xb1:
      cmpxchg(cpu, cpu.o32 ? 2 : 1);
      return;
    case 0xb2:
      loadFarPointer(cpu, SREG_SS);
      return;
    case 0xb4:
      loadFarPointer(cpu, SREG_FS);
      return;
    case 0xb5:
      loadFarPointer(cpu, SREG_GS);
      return;
    case 0xb6:
      writeGv(cpu, readE8(cpu));
      return;
    case 0xb7:
      writeGv(cpu, readE16(cpu));
      return;
    case 0xbe:
      writeGv(cpu, (readE8(cpu) << 24) >> 24);
      return;
    case 0xbf:
      writeGv(cpu, (readE16(cpu) << 16) >> 16);
      return;
    case 0xbc:
      bitScan(cpu, false);
      return;
    case 0xbd:
      bitScan(cpu, true);
      return;
    case 0xc0:
      xadd(cpu, 0);
      return;
    case 0xc1:
      xadd(cpu, cpu.o32 ? 2 : 1);
      return;
    case 0xc7:
      cmpxchg8b(cpu);
      return;
    case 0xc8:
    case 0xc9:
    case 0xca:
    case 0xcb:
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
      bswap(cpu, op & 7);
      return;
    default:
      cpu.raise(EXC_UD, -1);
  }
}
