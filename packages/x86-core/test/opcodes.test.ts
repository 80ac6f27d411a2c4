/**
 * The declarative opcode table and the executors agree: the attributes derived from the SDM
 * operand notation are right for representative forms, and every form the table defines executes
 * without the executor's "undefined" #UD (except those that are #UD by design).
 */
import { describe, expect, it } from 'vitest';
import { opcodeMnemonic, opcodeSpec } from '../src/index';
import {
  F_GROUP,
  F_IMM_MASK,
  F_IMM_SHIFT,
  F_LOCK,
  F_MEM,
  F_MODRM,
  F_PREFIX,
  F_UD,
  GROUP_FLAGS,
  IMM_AP,
  IMM_B,
  IMM_O,
  IMM_WB,
  IMM_Z,
  OPCODE_FLAGS,
} from '../src/opcodes';
import { CODE, GDT, IDT, protectedMachine, setHandler } from './helpers';

const imm = (f: number) => (f & F_IMM_MASK) >> F_IMM_SHIFT;

describe('opcode table', () => {
  it('derives decoder attributes from the operand notation', () => {
    expect(opcodeSpec(0x01)).toBe('ADD Ev,Gv|L');
    expect(OPCODE_FLAGS[0x01]! & (F_MODRM | F_LOCK)).toBe(F_MODRM | F_LOCK);
    expect(OPCODE_FLAGS[0x06]! & F_MODRM).toBe(0); // PUSH ES: ES is a register, not an E operand
    expect(OPCODE_FLAGS[0x8d]! & F_MEM).toBe(F_MEM); // LEA Gv,M
    expect(imm(OPCODE_FLAGS[0x05]!)).toBe(IMM_Z);
    expect(imm(OPCODE_FLAGS[0x6b]!)).toBe(IMM_B);
    expect(imm(OPCODE_FLAGS[0xa1]!)).toBe(IMM_O);
    expect(imm(OPCODE_FLAGS[0x9a]!)).toBe(IMM_AP);
    expect(imm(OPCODE_FLAGS[0xc8]!)).toBe(IMM_WB);
    expect(OPCODE_FLAGS[0x66]! & F_PREFIX).toBe(F_PREFIX);
    expect(OPCODE_FLAGS[0xf6]! & F_GROUP).toBe(F_GROUP);
    expect(imm(GROUP_FLAGS[(0xf6 << 3) | 0]!)).toBe(IMM_B); // TEST Eb,Ib has an immediate…
    expect(imm(GROUP_FLAGS[(0xf6 << 3) | 2]!)).toBe(0); // …NOT Eb has none
    expect(GROUP_FLAGS[(0x80 << 3) | 7]! & F_LOCK).toBe(0); // CMP is not lockable
    expect(GROUP_FLAGS[(0xfe << 3) | 2]! & F_UD).toBe(F_UD);
    expect(GROUP_FLAGS[(0x1c7 << 3) | 1]! & (F_MEM | F_LOCK)).toBe(F_MEM | F_LOCK); // CMPXCHG8B Mq
    expect(opcodeMnemonic(0x1af)).toBe('IMUL');
    expect(opcodeMnemonic(0x101, 0xc1)).toBe('VMCALL');
    expect(opcodeMnemonic(0x101, 0xd9)).toBe('VMMCALL');
    expect(OPCODE_FLAGS[0x10b]! & F_UD).toBe(0); // UD2 is defined (and raises #UD when executed)
  });

  it('every defined form executes without the undefined-opcode #UD', () => {
    // #UD by design: x87 escapes without an FPU, UD2, the hypercalls without a Hypervisor.
    const byDesign = new Set([0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0x10b]);
    const unexpected: string[] = [];
    const m = protectedMachine([]);
    for (let v = 0; v < 32; v++) setHandler(m, v, [0xf4]);
    for (let op = 0; op < 512; op++) {
      const f = OPCODE_FLAGS[op]!;
      if (f & (F_UD | F_PREFIX) || op === 0x0f || byDesign.has(op)) continue;
      for (let reg = 0; reg < ((f & F_GROUP) !== 0 ? 8 : 1); reg++) {
        const g = f & F_GROUP ? GROUP_FLAGS[(op << 3) | reg]! : f;
        if (g & F_UD) continue;
        if (op === 0x101 && (reg === 0 || reg === 3)) continue; // register forms: VMCALL/VMMCALL, checked in cpu-api
        const bytes = op >= 0x100 ? [0x0f, op & 0xff] : [op];
        // Segment-register moves: pick a valid register (DS) for reg-less forms.
        const r = (op === 0x8c || op === 0x8e) && !(f & F_GROUP) ? 3 : reg;
        if (g & F_MODRM) bytes.push((g & F_MEM ? 0x00 : 0xc0) | (r << 3)); // [eax] or a register
        bytes.push(0, 0, 0, 0, 0, 0, 0, 0); // immediates / displacement / padding
        m.mem.load(CODE, Uint8Array.from(bytes));
        m.cpu.reset();
        m.cpu.enterFlatProtectedMode(CODE);
        m.cpu.dtr.set([GDT, 5 * 8 - 1, IDT, 256 * 8 - 1]);
        m.cpu.regs[4] = 0x9000;
        m.cpu.regs[0] = 0x500; // EAX: a valid data address for [eax]
        m.cpu.run(1);
        if (m.cpu.lastVector === 6)
          unexpected.push(
            `${opcodeSpec(op, (r << 3) | 0xc0)} [${bytes
              .slice(0, 3)
              .map((b) => b.toString(16))
              .join(' ')}]`,
          );
      }
    }
    expect(unexpected).toEqual([]);
  });
});
