/**
 * Event priorities at an instruction boundary (SDM Vol. 3 §6.9, Table 6-2): the task-switch trap
 * (TSS T bit) before NMI and maskable interrupts; a maskable interrupt before the next
 * instruction's faults; the interrupt shadow after MOV SS.
 */
import { describe, expect, it } from 'vitest';
import { SREG_SS } from '../src/constants';
import {
  EXTRA,
  HANDLERS,
  jmpFar,
  KCODE,
  KDATA,
  movSreg,
  STACK_B,
  SysMachine,
  TSS_B,
  TSSB,
} from './protection-harness';

const DR6_BT = 1 << 15;
const IF = 1 << 9;

function lineOn(vector: number) {
  const state = { acks: 0, nmis: 0, nmi: false };
  return {
    state,
    line: {
      pending: () => true,
      acknowledge: () => {
        state.acks++;
        return vector;
      },
      nmi: () => {
        if (!state.nmi) return false;
        state.nmi = false;
        state.nmis++;
        return true;
      },
    },
  };
}

describe('SDM §6.9 priorities', () => {
  it('the task-switch trap (T bit) is taken before a pending INTR, at the first instruction of the new task', () => {
    const { state, line } = lineOn(0x40);
    const m = new SysMachine({ interrupts: line });
    // Task A runs with IF = 0; task B's EFLAGS image has IF = 1, so INTR is deliverable at once.
    m.tss32(TSS_B, {
      eip: EXTRA,
      eflags: 2 | IF,
      regs: [0, 0, 0, 0, STACK_B],
      cs: KCODE,
      ss: KDATA,
      ds: KDATA,
      trap: true,
    });
    m.load(EXTRA, [0x90, 0xf4]);
    m.code(() => [jmpFar(TSSB, 0)]);
    expect(m.cpu.run(100).reason).toBe('hlt');
    expect(m.cpu.eip).toBe(HANDLERS + 1 * 16 + 1); // #DB's HLT
    expect(m.cpu.dr[6]! & DR6_BT).toBe(DR6_BT);
    expect(m.stack(0)).toBe(EXTRA); // before the new task's first instruction
    expect(state.acks).toBe(0); // the INTR waits (the #DB interrupt gate cleared IF)
  });

  it('an NMI that arrives with the task-switch trap due is taken right after it', () => {
    const { state, line } = lineOn(0x40);
    const m = new SysMachine({ interrupts: line });
    m.tss32(TSS_B, { eip: EXTRA, eflags: 2, regs: [0, 0, 0, 0, STACK_B], cs: KCODE, ss: KDATA, trap: true });
    m.load(EXTRA, [0xf4]);
    m.setIdt(1, [((KCODE << 16) | (HANDLERS + 16)) >>> 0, 0x8e00]);
    m.load(HANDLERS + 16, [0x90, 0xf4]); // #DB handler: NOP; HLT
    m.code(() => [jmpFar(TSSB, 0)]);
    m.cpu.addBreakpoint(HANDLERS + 16);
    expect(m.cpu.run(100).reason).toBe('breakpoint');
    // Now raise NMI: it is delivered at the #DB handler's first boundary, not before the #DB.
    state.nmi = true;
    expect(m.cpu.run(100).reason).toBe('hlt');
    expect(state.nmis).toBe(1);
    expect(m.cpu.eip).toBe(HANDLERS + 2 * 16 + 1);
    expect(m.stack(0)).toBe(HANDLERS + 16); // NMI interrupted the #DB handler
  });

  it('no INTR between MOV SS and the next instruction; an INTR comes before the next instruction faults', () => {
    const state = { acks: 0 };
    let after = 0;
    let m: SysMachine | undefined;
    m = new SysMachine({
      interrupts: {
        // INTR is raised once EIP reaches the instruction after MOV SS.
        pending: () => m !== undefined && m.cpu.eip >= after,
        acknowledge: () => {
          state.acks++;
          return 0x40;
        },
      },
    });
    m.code(() => [
      [0xfb, 0x90],
      movSreg(SREG_SS, KDATA),
      'after',
      [0xbc, 0x00, 0x80, 0, 0],
      'next',
      [0x0f, 0x0b],
    ]);
    after = m.labels.after!;
    expect(m.cpu.run(100).reason).toBe('hlt');
    expect(state.acks).toBe(1);
    expect(m.cpu.eip).toBe(HANDLERS + 0x40 * 16 + 1);
    // Held over the MOV SS boundary, delivered at the next one, ahead of the UD2's #UD.
    expect(m.stack(0)).toBe(m.labels.next);
    expect(m.cpu.regs[4]! >>> 0).toBe(0x8000 - 12); // the shadowed MOV ESP ran before the frame was pushed
  });
});
