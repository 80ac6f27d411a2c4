/**
 * String instructions MOVS, CMPS, SCAS, LODS, STOS, INS, OUTS with REP/REPE/REPNE (SDM Vol. 2,
 * "REP/REPE/REPZ/REPNE/REPNZ"). The source segment is DS or the override, the destination ES;
 * (E)SI/(E)DI/(E)CX are chosen by address size and updated after every element, so a fault in the
 * middle of a repeated instruction restarts it where it stopped.
 */
import { cmpFlags } from './alu';
import { FLAG_DF, FLAG_RF, SREG_DS, SREG_ES } from './constants';
import type { Cpu } from './cpu';
import { getZF } from './flags';
import { checkIo, ioIn, ioOut } from './io';

/** Elements per run-loop step of a repeated string instruction. */
export const REP_CHUNK = 4096;

function read(cpu: Cpu, seg: number, off: number, size: number): number {
  return size === 0 ? cpu.rd8(seg, off) : size === 1 ? cpu.rd16(seg, off) : cpu.rd32(seg, off);
}
function write(cpu: Cpu, seg: number, off: number, size: number, v: number): void {
  if (size === 0) cpu.wr8(seg, off, v);
  else if (size === 1) cpu.wr16(seg, off, v);
  else cpu.wr32(seg, off, v);
}

/** Executes string opcode `op` (6C..6F, A4..A7, AA..AF). */
export function stringOp(cpu: Cpu, op: number): void {
  const size = (op & 1) === 0 ? 0 : cpu.o32 ? 2 : 1;
  const step = cpu.flags & FLAG_DF ? -(1 << size) : 1 << size;
  const a32 = cpu.a32;
  const src = cpu.segOverride >= 0 ? cpu.segOverride : SREG_DS;
  const r = cpu.regs;
  const rep = cpu.rep;
  const sz = size === 0 ? 7 : size === 1 ? 15 : 31;
  const kind = op & 0xfe;
  if (kind === 0x6c || kind === 0x6e) checkIo(cpu, cpu.r16[4]!, 1 << size);
  let budget = cpu.repChunk;
  for (;;) {
    if (rep !== 0) {
      const count = a32 ? r[1]! : cpu.r16[2]!;
      if (count === 0) return;
    }
    const si = a32 ? r[6]! >>> 0 : cpu.r16[12]!;
    const di = a32 ? r[7]! >>> 0 : cpu.r16[14]!;
    let advSi = false;
    let advDi = false;
    let cmp = false;
    switch (kind) {
      case 0xa4: // MOVS
        write(cpu, SREG_ES, di, size, read(cpu, src, si, size));
        advSi = advDi = true;
        break;
      case 0xa6: // CMPS: [src:SI] − [ES:DI]
        cmpFlags(cpu, read(cpu, src, si, size), read(cpu, SREG_ES, di, size), sz);
        advSi = advDi = cmp = true;
        break;
      case 0xaa: // STOS
        write(cpu, SREG_ES, di, size, size === 0 ? cpu.r8[0]! : size === 1 ? cpu.r16[0]! : r[0]!);
        advDi = true;
        break;
      case 0xac: {
        // LODS
        const v = read(cpu, src, si, size);
        if (size === 0) cpu.r8[0] = v;
        else if (size === 1) cpu.r16[0] = v;
        else r[0] = v;
        advSi = true;
        break;
      }
      case 0xae: // SCAS: AL/AX/EAX − [ES:DI]
        cmpFlags(
          cpu,
          size === 0 ? cpu.r8[0]! : size === 1 ? cpu.r16[0]! : r[0]!,
          read(cpu, SREG_ES, di, size),
          sz,
        );
        advDi = cmp = true;
        break;
      case 0x6c: {
        // INS: the destination is checked before the port is read (SDM "INS").
        if (size === 0) cpu.linW(SREG_ES, di, 0);
        else cpu.linW(SREG_ES, di, (1 << size) - 1);
        write(cpu, SREG_ES, di, size, ioIn(cpu, cpu.r16[4]!, (1 << size) as 1 | 2 | 4));
        advDi = true;
        break;
      }
      default: // OUTS
        ioOut(cpu, cpu.r16[4]!, (1 << size) as 1 | 2 | 4, read(cpu, src, si, size));
        advSi = true;
        break;
    }
    if (a32) {
      if (advSi) r[6] = r[6]! + step;
      if (advDi) r[7] = r[7]! + step;
    } else {
      if (advSi) cpu.r16[12] = cpu.r16[12]! + step;
      if (advDi) cpu.r16[14] = cpu.r16[14]! + step;
    }
    if (rep === 0) return;
    if (a32) r[1] = r[1]! - 1;
    else cpu.r16[2] = cpu.r16[2]! - 1;
    // REPE/REPNE end CMPS/SCAS on the first (mis)match (F3 = while equal, F2 = while not equal).
    if (cmp && getZF(cpu) !== (rep === 0xf3)) return;
    if (--budget === 0 && (a32 ? r[1]! : cpu.r16[2]!) !== 0) {
      // Yield to the run loop: the instruction restarts with the updated registers, so interrupts
      // and the budget are honoured during long repeats (as hardware does between iterations). An
      // event taken here pushes RF = 1, so the resumed instruction does not hit its own
      // instruction breakpoint again (SDM §17.3.1.1).
      cpu.ip = cpu.startIp;
      cpu.flags |= FLAG_RF;
      // Not retired yet: cancel the run loop's increment for this step.
      cpu.icount--;
      return;
    }
  }
}
