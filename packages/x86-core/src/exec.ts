/**
 * Dispatch of the one-byte opcode map (SDM Vol. 2 Table A-2) to the semantic functions of the
 * topic files; the 0F map is in exec0f.ts. Each case executes the instruction decoded into the Cpu.
 */
import { aluForm, aluImm, incDec, incDecE, logicFlags, negE, notE, testImm } from './alu';
import { aaaAas, aad, aam, daa, das, salc } from './bcd';
import {
  CR0_EM,
  CR0_TS,
  EXC_BP,
  EXC_DB,
  EXC_GP,
  EXC_NM,
  EXC_OF,
  EXC_UD,
  FLAG_CF,
  FLAG_DF,
  FLAG_IF,
  SREG_CS,
  SREG_DS,
  SREG_ES,
  SREG_SS,
} from './constants';
import {
  bound,
  callFar,
  callNear,
  enter,
  int,
  iret,
  jumpFar,
  jumpNear,
  leave,
  loop,
  popa,
  popf,
  pusha,
  pushf,
  retFar,
  retNear,
} from './control';
import type { Cpu } from './cpu';
import { ea } from './decode';
import { execute0f } from './exec0f';
import { cond, flushFlags, getOF } from './flags';
import { SRC_EXT, SRC_SOFT } from './interrupt';
import { checkIo, hlt, ioIn, ioOut } from './io';
import { div, idiv, imul1, imulTrunc, mul } from './muldiv';
import {
  getReg8,
  R8,
  readE8,
  readE16,
  readEv,
  readGv,
  rmwAddr,
  rmwRead,
  rmwWrite,
  setReg8,
  writeE8,
  writeE16,
  writeEv,
  writeGv,
} from './operands';
import { isProtected, loadSegment } from './segment';
import { shiftE } from './shift';
import { stringOp } from './string';
import { v86IntCheck } from './v86';

/** Executes the decoded instruction. */
export function execute(cpu: Cpu): void {
  const op = cpu.op;
  if (op < 0x40) {
    if ((op & 7) < 6) {
      aluForm(cpu, op >> 3, op & 7, op & 1 ? (cpu.o32 ? 2 : 1) : 0);
      return;
    }
    executeLow(cpu, op);
    return;
  }
  if (op >= 0x100) {
    execute0f(cpu, op & 0xff);
    return;
  }
  const r = cpu.regs;
  switch (op) {
    case 0x40:
    case 0x41:
    case 0x42:
    case 0x43:
    case 0x44:
    case 0x45:
    case 0x46:
    case 0x47:
      if (cpu.o32) r[op & 7] = incDec(cpu, r[op & 7]!, 31, false);
      else cpu.r16[(op & 7) << 1] = incDec(cpu, cpu.r16[(op & 7) << 1]!, 15, false);
      return;
    case 0x48:
    case 0x49:
    case 0x4a:
    case 0x4b:
    case 0x4c:
    case 0x4d:
    case 0x4e:
    case 0x4f:
      if (cpu.o32) r[op & 7] = incDec(cpu, r[op & 7]!, 31, true);
      else cpu.r16[(op & 7) << 1] = incDec(cpu, cpu.r16[(op & 7) << 1]!, 15, true);
      return;
    case 0x50:
    case 0x51:
    case 0x52:
    case 0x53:
    case 0x54:
    case 0x55:
    case 0x56:
    case 0x57:
      // PUSH ESP pushes the value before the decrement (SDM "PUSH").
      if (cpu.o32) cpu.push32(r[op & 7]!);
      else cpu.push16(cpu.r16[(op & 7) << 1]!);
      return;
    case 0x58:
    case 0x59:
    case 0x5a:
    case 0x5b:
    case 0x5c:
    case 0x5d:
    case 0x5e:
    case 0x5f:
      if (cpu.o32) r[op & 7] = cpu.pop32();
      else cpu.r16[(op & 7) << 1] = cpu.pop16();
      return;
    case 0x68:
    case 0x6a:
      if (cpu.o32) cpu.push32(cpu.imm);
      else cpu.push16(cpu.imm);
      return;
    case 0x69:
    case 0x6b:
      writeGv(cpu, imulTrunc(cpu, readEv(cpu), cpu.imm, cpu.o32));
      return;
    case 0x70:
    case 0x71:
    case 0x72:
    case 0x73:
    case 0x74:
    case 0x75:
    case 0x76:
    case 0x77:
    case 0x78:
    case 0x79:
    case 0x7a:
    case 0x7b:
    case 0x7c:
    case 0x7d:
    case 0x7e:
    case 0x7f:
      if (cond(cpu, op & 15)) jumpNear(cpu, cpu.ip + cpu.imm);
      return;
    case 0x80:
    case 0x82:
      aluImm(cpu, 0);
      return;
    case 0x81:
    case 0x83:
      aluImm(cpu, cpu.o32 ? 2 : 1);
      return;
    case 0x84:
      logicFlags(cpu, readE8(cpu) & getReg8(cpu, cpu.reg), 7);
      return;
    case 0x85:
      logicFlags(cpu, readEv(cpu) & readGv(cpu), cpu.o32 ? 31 : 15);
      return;
    case 0x86:
    case 0x87: {
      const size = op === 0x86 ? 0 : cpu.o32 ? 2 : 1;
      const lin = rmwAddr(cpu, size);
      const a = rmwRead(cpu, lin, size);
      const g = size === 0 ? getReg8(cpu, cpu.reg) : readGv(cpu);
      rmwWrite(cpu, lin, size, g);
      if (size === 0) setReg8(cpu, cpu.reg, a);
      else writeGv(cpu, a);
      return;
    }
    case 0x88:
      writeE8(cpu, getReg8(cpu, cpu.reg));
      return;
    case 0x89:
      if (cpu.o32) {
        if (cpu.isMem) cpu.wr32(cpu.seg, ea(cpu), r[cpu.reg]!);
        else r[cpu.rm] = r[cpu.reg]!;
      } else writeE16(cpu, cpu.r16[cpu.reg << 1]!);
      return;
    case 0x8a:
      setReg8(cpu, cpu.reg, readE8(cpu));
      return;
    case 0x8b:
      if (cpu.o32) r[cpu.reg] = cpu.isMem ? cpu.rd32(cpu.seg, ea(cpu)) : r[cpu.rm]!;
      else cpu.r16[cpu.reg << 1] = readE16(cpu);
      return;
    case 0x8d:
      writeGv(cpu, ea(cpu));
      return;
    case 0x8f: {
      // POP Ev: ESP is incremented before the destination address is computed (SDM "POP").
      const sp = r[4]!;
      const v = cpu.o32 ? cpu.pop32() : cpu.pop16();
      if (cpu.isMem) {
        const off = ea(cpu);
        try {
          if (cpu.o32) cpu.wr32(cpu.seg, off, v);
          else cpu.wr16(cpu.seg, off, v);
        } catch (e) {
          r[4] = sp;
          throw e;
        }
      } else writeEv(cpu, v);
      return;
    }
    case 0x90:
      return;
    case 0x91:
    case 0x92:
    case 0x93:
    case 0x94:
    case 0x95:
    case 0x96:
    case 0x97: {
      const n = op & 7;
      if (cpu.o32) {
        const t = r[0]!;
        r[0] = r[n]!;
        r[n] = t;
      } else {
        const t = cpu.r16[0]!;
        cpu.r16[0] = cpu.r16[n << 1]!;
        cpu.r16[n << 1] = t;
      }
      return;
    }
    case 0x98:
      if (cpu.o32) r[0] = (cpu.r16[0]! << 16) >> 16;
      else cpu.r16[0] = (cpu.r8[0]! << 24) >> 24;
      return;
    case 0x99:
      if (cpu.o32) r[2] = r[0]! >> 31;
      else cpu.r16[4] = (cpu.r16[0]! << 16) >> 31;
      return;
    case 0xa8:
      logicFlags(cpu, cpu.r8[0]! & cpu.imm, 7);
      return;
    case 0xa9:
      if (cpu.o32) logicFlags(cpu, r[0]! & cpu.imm, 31);
      else logicFlags(cpu, cpu.r16[0]! & cpu.imm, 15);
      return;
    case 0xb0:
    case 0xb1:
    case 0xb2:
    case 0xb3:
    case 0xb4:
    case 0xb5:
    case 0xb6:
    case 0xb7:
      cpu.r8[R8[op & 7]!] = cpu.imm;
      return;
    case 0xb8:
    case 0xb9:
    case 0xba:
    case 0xbb:
    case 0xbc:
    case 0xbd:
    case 0xbe:
    case 0xbf:
      if (cpu.o32) r[op & 7] = cpu.imm;
      else cpu.r16[(op & 7) << 1] = cpu.imm;
      return;
    case 0xc0:
      shiftE(cpu, cpu.reg, 0, cpu.imm);
      return;
    case 0xc1:
      shiftE(cpu, cpu.reg, cpu.o32 ? 2 : 1, cpu.imm);
      return;
    case 0xc2:
      retNear(cpu, cpu.imm);
      return;
    case 0xc3:
      retNear(cpu, 0);
      return;
    case 0xc6:
      writeE8(cpu, cpu.imm);
      return;
    case 0xc7:
      writeEv(cpu, cpu.imm);
      return;
    case 0xc9:
      leave(cpu);
      return;
    case 0xd0:
      shiftE(cpu, cpu.reg, 0, 1);
      return;
    case 0xd1:
      shiftE(cpu, cpu.reg, cpu.o32 ? 2 : 1, 1);
      return;
    case 0xd2:
      shiftE(cpu, cpu.reg, 0, cpu.r8[4]!);
      return;
    case 0xd3:
      shiftE(cpu, cpu.reg, cpu.o32 ? 2 : 1, cpu.r8[4]!);
      return;
    case 0xe8:
      callNear(cpu, cpu.ip + cpu.imm);
      return;
    case 0xe9:
    case 0xeb:
      jumpNear(cpu, cpu.ip + cpu.imm);
      return;
    case 0xf6:
    case 0xf7:
      group3(cpu, op === 0xf6 ? 0 : cpu.o32 ? 2 : 1);
      return;
    case 0xfe:
      incDecE(cpu, 0, cpu.reg === 1);
      return;
    case 0xff:
      group5(cpu);
      return;
    default:
      executeRare(cpu, op);
  }
}

/** The less frequent one-byte opcodes (kept out of execute so V8 can inline its hot handlers). */
function executeRare(cpu: Cpu, op: number): void {
  const r = cpu.regs;
  switch (op) {
    case 0x60:
      pusha(cpu);
      return;
    case 0x61:
      popa(cpu);
      return;
    case 0x62:
      bound(cpu);
      return;
    case 0x63:
      // ARPL is a protected-mode instruction (#UD in real and v86 mode).
      if (!isProtected(cpu)) cpu.raise(EXC_UD, -1);
      arpl(cpu);
      return;
    case 0x6c:
    case 0x6d:
    case 0x6e:
    case 0x6f:
    case 0xa4:
    case 0xa5:
    case 0xa6:
    case 0xa7:
    case 0xaa:
    case 0xab:
    case 0xac:
    case 0xad:
    case 0xae:
    case 0xaf:
      stringOp(cpu, op);
      return;
    case 0x8c:
      // MOV Ev, Sreg: a register destination with a 32-bit operand gets the zero-extended selector.
      if (cpu.reg > 5) cpu.raise(EXC_UD, -1);
      if (cpu.isMem) cpu.wr16(cpu.seg, ea(cpu), cpu.segSel[cpu.reg]!);
      else if (cpu.o32) r[cpu.rm] = cpu.segSel[cpu.reg]!;
      else cpu.r16[cpu.rm << 1] = cpu.segSel[cpu.reg]!;
      return;
    case 0x8e: {
      if (cpu.reg > 5 || cpu.reg === SREG_CS) cpu.raise(EXC_UD, -1);
      const v = readE16(cpu);
      loadSegment(cpu, cpu.reg, v);
      if (cpu.reg === SREG_SS) cpu.shadowAt = cpu.icount + 1;
      return;
    }
    case 0x9a:
      callFar(cpu, cpu.imm2, cpu.imm);
      return;
    case 0x9b:
      // FWAIT: #NM when CR0.MP and CR0.TS are both set; otherwise a no-op without an FPU.
      if ((cpu.cr[0]! & 0xa) === 0xa) cpu.raise(EXC_NM, -1);
      return;
    case 0x9c:
      pushf(cpu);
      return;
    case 0x9d:
      popf(cpu);
      return;
    case 0x9e: {
      // SAHF: SF ZF AF PF CF from AH.
      flushFlags(cpu);
      cpu.flags = (cpu.flags & ~0xd5) | (cpu.r8[1]! & 0xd5);
      return;
    }
    case 0x9f:
      cpu.r8[1] = (cpu.getEflags() & 0xd5) | 2;
      return;
    case 0xa0:
      cpu.r8[0] = cpu.rd8(cpu.seg, ea(cpu));
      return;
    case 0xa1:
      if (cpu.o32) r[0] = cpu.rd32(cpu.seg, ea(cpu));
      else cpu.r16[0] = cpu.rd16(cpu.seg, ea(cpu));
      return;
    case 0xa2:
      cpu.wr8(cpu.seg, ea(cpu), cpu.r8[0]!);
      return;
    case 0xa3:
      if (cpu.o32) cpu.wr32(cpu.seg, ea(cpu), r[0]!);
      else cpu.wr16(cpu.seg, ea(cpu), cpu.r16[0]!);
      return;
    case 0xc4:
      loadFarPointer(cpu, SREG_ES);
      return;
    case 0xc5:
      loadFarPointer(cpu, SREG_DS);
      return;
    case 0xc8:
      enter(cpu, cpu.imm, cpu.imm2 & 0x1f);
      return;
    case 0xca:
      retFar(cpu, cpu.imm);
      return;
    case 0xcb:
      retFar(cpu, 0);
      return;
    case 0xcc:
      int(cpu, EXC_BP, SRC_SOFT);
      return;
    case 0xcd:
      v86IntCheck(cpu);
      int(cpu, cpu.imm & 0xff, SRC_SOFT);
      return;
    case 0xce:
      if (getOF(cpu)) int(cpu, EXC_OF, SRC_SOFT);
      return;
    case 0xcf:
      iret(cpu);
      return;
    case 0xd4:
      aam(cpu);
      return;
    case 0xd5:
      aad(cpu);
      return;
    case 0xd6:
      salc(cpu);
      return;
    case 0xd7: {
      // XLAT: AL ← [seg:(E)BX + AL].
      const off = cpu.a32 ? (r[3]! + cpu.r8[0]!) >>> 0 : (cpu.r16[6]! + cpu.r8[0]!) & 0xffff;
      cpu.r8[0] = cpu.rd8(cpu.segOverride >= 0 ? cpu.segOverride : SREG_DS, off);
      return;
    }
    case 0xd8:
    case 0xd9:
    case 0xda:
    case 0xdb:
    case 0xdc:
    case 0xdd:
    case 0xde:
    case 0xdf:
      // x87 escape without an FPU: #NM if CR0.EM or CR0.TS, else #UD (issue scope; x87 comes later).
      cpu.raise(cpu.cr[0]! & (CR0_EM | CR0_TS) ? EXC_NM : EXC_UD, -1);
      return;
    case 0xe0:
    case 0xe1:
    case 0xe2:
    case 0xe3:
      loop(cpu, op);
      return;
    case 0xe4:
    case 0xe5:
    case 0xec:
    case 0xed: {
      const port = op < 0xe8 ? cpu.imm & 0xff : cpu.r16[4]!;
      const size = op & 1 ? (cpu.o32 ? 4 : 2) : 1;
      checkIo(cpu, port, size);
      const v = ioIn(cpu, port, size);
      if (size === 1) cpu.r8[0] = v;
      else if (size === 2) cpu.r16[0] = v;
      else r[0] = v;
      return;
    }
    case 0xe6:
    case 0xe7:
    case 0xee:
    case 0xef: {
      const port = op < 0xe8 ? cpu.imm & 0xff : cpu.r16[4]!;
      const size = op & 1 ? (cpu.o32 ? 4 : 2) : 1;
      checkIo(cpu, port, size);
      ioOut(cpu, port, size, size === 1 ? cpu.r8[0]! : size === 2 ? cpu.r16[0]! : r[0]!);
      return;
    }
    case 0xea:
      jumpFar(cpu, cpu.imm2, cpu.imm);
      return;
    case 0xf1:
      // INT1 / ICEBP: a #DB trap delivered like an external event — no gate DPL check, EXT set in
      // error codes, not IOPL-sensitive in v86, DR6 unchanged (SDM §6.15, "INT n/INTO/INT3/INT1").
      int(cpu, EXC_DB, SRC_EXT);
      return;
    case 0xf4:
      hlt(cpu);
      return;
    case 0xf5:
      flushFlags(cpu);
      cpu.flags ^= FLAG_CF;
      return;
    case 0xf8:
      flushFlags(cpu);
      cpu.flags &= ~FLAG_CF;
      return;
    case 0xf9:
      flushFlags(cpu);
      cpu.flags |= FLAG_CF;
      return;
    case 0xfa:
      if (!ioplAllows(cpu)) cpu.raise(EXC_GP, 0);
      cpu.flags &= ~FLAG_IF;
      return;
    case 0xfb:
      if (!ioplAllows(cpu)) cpu.raise(EXC_GP, 0);
      // STI: interrupts stay inhibited until after the next instruction (SDM "STI").
      if ((cpu.flags & FLAG_IF) === 0) cpu.shadowAt = cpu.icount + 1;
      cpu.flags |= FLAG_IF;
      return;
    case 0xfc:
      cpu.flags &= ~FLAG_DF;
      return;
    case 0xfd:
      cpu.flags |= FLAG_DF;
      return;
    default:
      cpu.raise(EXC_UD, -1);
  }
}

/** Opcodes 00..3F that are not ALU forms: segment pushes/pops and the BCD adjusts. */
function executeLow(cpu: Cpu, op: number): void {
  switch (op) {
    case 0x06:
    case 0x0e:
    case 0x16:
    case 0x1e:
      pushSeg(cpu, op >> 3);
      return;
    case 0x07:
    case 0x17:
    case 0x1f: {
      const sreg = op >> 3;
      const v = cpu.o32 ? cpu.peek32(0) & 0xffff : cpu.peek16(0);
      // ESP moves by the old SS's B bit (POP SS may change it); a faulting load restores ESP.
      cpu.addSp(cpu.o32 ? 4 : 2);
      loadSegment(cpu, sreg, v);
      if (sreg === SREG_SS) cpu.shadowAt = cpu.icount + 1;
      return;
    }
    case 0x27:
      daa(cpu);
      return;
    case 0x2f:
      das(cpu);
      return;
    case 0x37:
      aaaAas(cpu, false);
      return;
    case 0x3f:
      aaaAas(cpu, true);
      return;
    default:
      cpu.raise(EXC_UD, -1);
  }
}

/** PUSH Sreg: with a 32-bit operand the selector is pushed as a dword (upper half zero). */
export function pushSeg(cpu: Cpu, sreg: number): void {
  if (cpu.o32) cpu.push32(cpu.segSel[sreg]!);
  else cpu.push16(cpu.segSel[sreg]!);
}

/** CLI/STI/… are allowed when CPL ≤ IOPL (always in real mode). Part 2 adds VME/PVI. */
export function ioplAllows(cpu: Cpu): boolean {
  if (!isProtected(cpu) && (cpu.flags & 0x20000) === 0) return true;
  return cpu.cplValue <= ((cpu.flags >> 12) & 3);
}

/** LES/LDS/LSS/LFS/LGS Gz, Mp: offset then selector; the segment is loaded before the register. */
export function loadFarPointer(cpu: Cpu, sreg: number): void {
  const off = ea(cpu);
  let v: number;
  let sel: number;
  if (cpu.o32) {
    v = cpu.rd32(cpu.seg, off);
    sel = cpu.rd16(cpu.seg, cpu.a32 ? (off + 4) >>> 0 : (off + 4) & 0xffff);
  } else {
    v = cpu.rd16(cpu.seg, off);
    sel = cpu.rd16(cpu.seg, cpu.a32 ? (off + 2) >>> 0 : (off + 2) & 0xffff);
  }
  loadSegment(cpu, sreg, sel);
  writeGv(cpu, v);
  if (sreg === SREG_SS) cpu.shadowAt = cpu.icount + 1;
}

function group3(cpu: Cpu, size: number): void {
  switch (cpu.reg) {
    case 0:
    case 1:
      testImm(cpu, size);
      return;
    case 2:
      notE(cpu, size);
      return;
    case 3:
      negE(cpu, size);
      return;
    case 4:
      mul(cpu, size);
      return;
    case 5:
      imul1(cpu, size);
      return;
    case 6:
      div(cpu, size);
      return;
    default:
      idiv(cpu, size);
  }
}

function group5(cpu: Cpu): void {
  switch (cpu.reg) {
    case 0:
    case 1:
      incDecE(cpu, cpu.o32 ? 2 : 1, cpu.reg === 1);
      return;
    case 2: {
      callNear(cpu, readEv(cpu));
      return;
    }
    case 3:
    case 5: {
      const off = ea(cpu);
      const ip = cpu.o32 ? cpu.rd32(cpu.seg, off) : cpu.rd16(cpu.seg, off);
      const n = cpu.o32 ? 4 : 2;
      const sel = cpu.rd16(cpu.seg, cpu.a32 ? (off + n) >>> 0 : (off + n) & 0xffff);
      if (cpu.reg === 3) callFar(cpu, sel, ip);
      else jumpFar(cpu, sel, ip);
      return;
    }
    case 4:
      jumpNear(cpu, readEv(cpu));
      return;
    default:
      // PUSH Ev: the operand is read before ESP changes.
      if (cpu.o32) cpu.push32(readEv(cpu));
      else cpu.push16(readEv(cpu));
  }
}

/**
 * ARPL Ew, Gw (63): raise the RPL of the destination selector to that of the source. A memory
 * destination is read with read rights and written only when the RPL changes, so an unchanged
 * selector in a read-only segment does not fault (the 386 behaviour test386 checks).
 */
function arpl(cpu: Cpu): void {
  const src = cpu.r16[cpu.reg << 1]!;
  const off = cpu.isMem ? ea(cpu) : 0;
  const dest = cpu.isMem ? cpu.rd16(cpu.seg, off) : cpu.r16[cpu.rm << 1]!;
  flushFlags(cpu);
  if ((dest & 3) < (src & 3)) {
    const v = (dest & ~3) | (src & 3);
    if (cpu.isMem) cpu.wr16(cpu.seg, off, v);
    else cpu.r16[cpu.rm << 1] = v;
    cpu.flags |= 0x40;
  } else cpu.flags &= ~0x40;
}
