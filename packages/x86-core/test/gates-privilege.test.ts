/**
 * Privilege transitions through gates (SDM Vol. 3 §5.8, §6.12): ring 3 → ring 0 through interrupt
 * gates and back with IRET, call gates (32- and 16-bit) with parameter copy, far RET to an outer
 * level with the data-segment nulling rule, and exceptions raised in ring 3.
 */
import { describe, expect, it } from 'vitest';
import { SREG_DS, SREG_ES, SREG_FS, SREG_GS, SREG_SS } from '../src/constants';
import {
  callFar,
  EXTRA,
  FREE,
  gateDesc,
  HANDLERS,
  INT,
  KCODE,
  KDATA,
  movSreg,
  push16,
  push32,
  retf,
  STACK0,
  STACK3,
  SysMachine,
  segDesc,
  T_CALL16,
  T_CALL32,
  T_CODE_CONF_RX,
  T_INT16,
  T_INT32,
  T_TRAP32,
  toRing3,
  UCODE,
  UDATA,
} from './protection-harness';

const IF = 1 << 9;
/** The HLT of vector v's default handler has executed: EIP is just past it. */
const atHandler = (v: number) => HANDLERS + v * 16 + 1;

describe('ring 3 → ring 0 through an interrupt gate and back with IRET', () => {
  function machine(gateType = T_INT32): SysMachine {
    const m = new SysMachine();
    // INT 0x40: DPL-3 gate to ring 0 whose handler halts, then returns with IRETD.
    m.setIdt(0x40, gateDesc(KCODE, HANDLERS + 0x40 * 16, gateType, { dpl: 3 }));
    m.load(HANDLERS + 0x40 * 16, [0xcf]);
    m.cpu.addBreakpoint(HANDLERS + 0x40 * 16);
    m.setIdt(0x41, gateDesc(KCODE, HANDLERS + 0x41 * 16, T_INT32, { dpl: 3 }));
    m.code(
      (u) => [movSreg(SREG_DS, KDATA), movSreg(SREG_ES, UDATA), movSreg(SREG_FS, KDATA), toRing3(u.start!)],
      [
        'start',
        [0xb8, 0x11, 0x11, 0x11, 0x11],
        INT(0x40),
        'after',
        [0xbb, 0x22, 0x22, 0x22, 0x22],
        INT(0x41),
      ],
    );
    return m;
  }

  it('switches to the TSS ring-0 stack, pushes SS:ESP, EFLAGS, CS:EIP and returns to ring 3 exactly', () => {
    const m = machine();
    const cpu = m.cpu;
    expect(cpu.run(100).reason).toBe('breakpoint');
    expect(cpu.eip).toBe(HANDLERS + 0x40 * 16);
    expect(cpu.cpl).toBe(0);
    expect(cpu.getSegment(1).selector).toBe(KCODE);
    expect(cpu.getSegment(SREG_SS).selector).toBe(KDATA);
    expect(cpu.regs[4]! >>> 0).toBe(STACK0 - 20);
    expect(m.stack(0)).toBe(m.user.after);
    expect(m.stack(1)).toBe(UCODE);
    expect(m.stack(2) & (IF | 2)).toBe(IF | 2);
    expect(m.stack(3)).toBe(STACK3);
    expect(m.stack(4)).toBe(UDATA);
    expect(cpu.eflags & IF).toBe(0); // an interrupt gate clears IF
    expect(cpu.regs[0]! >>> 0).toBe(0x11111111);

    // IRETD goes back to ring 3 after the INT; the next INT finds the same ring-0 stack top.
    expect(cpu.run(100).reason).toBe('hlt');
    expect(cpu.eip).toBe(atHandler(0x41));
    expect(cpu.regs[3]! >>> 0).toBe(0x22222222);
    expect(cpu.regs[4]! >>> 0).toBe(STACK0 - 20);
    expect(m.stack(3)).toBe(STACK3);
    expect(m.stack(0)).toBe(m.user.after! + 7);
    // IRET to ring 3 nulled DS and FS (DPL 0 data) and kept ES (DPL 3), SDM "IRET".
    expect(cpu.getSegment(SREG_DS)).toMatchObject({ selector: 0, attributes: 0 });
    expect(cpu.getSegment(SREG_FS).selector).toBe(0);
    expect(cpu.getSegment(SREG_ES).selector).toBe(UDATA);
    expect(cpu.getSegment(SREG_GS).selector).toBe(0); // still the flat DPL-0 data of the start state
  });

  it('a trap gate keeps IF; a 16-bit interrupt gate pushes a 16-bit frame', () => {
    const t = machine(T_TRAP32);
    expect(t.cpu.run(100).reason).toBe('breakpoint');
    expect(t.cpu.eflags & IF).toBe(IF);

    const m = machine(T_INT16);
    expect(m.cpu.run(100).reason).toBe('breakpoint');
    expect(m.cpu.regs[4]! >>> 0).toBe(STACK0 - 10);
    expect(m.stack16(0)).toBe(m.user.after);
    expect(m.stack16(1)).toBe(UCODE);
    expect(m.stack16(3)).toBe(STACK3);
    expect(m.stack16(4)).toBe(UDATA);
  });

  it('an exception in ring 3 is delivered on the ring-0 stack with its error code', () => {
    const m = new SysMachine();
    m.code((u) => [toRing3(u.start!)], ['start', [0xfa]]); // CLI at CPL 3 > IOPL 0: #GP(0)
    expect(m.cpu.run(100).reason).toBe('hlt');
    expect(m.cpu.eip).toBe(atHandler(13));
    expect(m.cpu.regs[4]! >>> 0).toBe(STACK0 - 24);
    expect([m.stack(0), m.stack(1), m.stack(2), m.stack(4), m.stack(5)]).toEqual([
      0,
      m.user.start,
      UCODE,
      STACK3,
      UDATA,
    ]);
  });

  it('INT n to a DPL-0 gate from ring 3 is #GP(vector·8 + 2), to a DPL-3 gate whose code is ring 3 it stays in ring 3', () => {
    const m = new SysMachine();
    m.setIdt(0x42, gateDesc(UCODE, HANDLERS + 0x42 * 16, T_INT32, { dpl: 3 }));
    m.load(HANDLERS + 0x42 * 16, [0xcf]); // IRETD at CPL 3
    m.code((u) => [toRing3(u.start!)], ['start', INT(0x42), 'next', INT(0x23)]);
    expect(m.cpu.run(100).reason).toBe('hlt');
    expect(m.cpu.eip).toBe(atHandler(13));
    expect(m.stack(0)).toBe(0x23 * 8 + 2);
    expect(m.stack(1)).toBe(m.user.next);
  });
});

describe('call gates', () => {
  it('32-bit call gate from ring 3 copies the parameters to the ring-0 stack; RETF 12 returns', () => {
    const m = new SysMachine();
    const gate = (FREE << 3) | 3;
    m.setGdt(FREE, gateDesc(KCODE, EXTRA, T_CALL32, { dpl: 3, count: 3 }));
    m.load(EXTRA, retf(12));
    m.cpu.addBreakpoint(EXTRA);
    m.code(
      (u) => [toRing3(u.start!)],
      [
        'start',
        push32(0xaaaa0001),
        push32(0xaaaa0002),
        push32(0xaaaa0003),
        callFar(gate, 0x12345678), // the offset is ignored
        'ret',
        INT(3),
      ],
    );
    m.setIdt(3, gateDesc(KCODE, HANDLERS + 3 * 16, T_INT32, { dpl: 3 }));
    const cpu = m.cpu;
    expect(cpu.run(100).reason).toBe('breakpoint');
    expect(cpu.eip).toBe(EXTRA);
    expect(cpu.cpl).toBe(0);
    expect(cpu.getSegment(1).selector).toBe(KCODE);
    expect(cpu.getSegment(SREG_SS).selector).toBe(KDATA);
    expect(cpu.regs[4]! >>> 0).toBe(STACK0 - 28);
    expect([0, 1, 2, 3, 4, 5, 6].map((i) => m.stack(i))).toEqual([
      m.user.ret,
      UCODE,
      0xaaaa0003,
      0xaaaa0002,
      0xaaaa0001,
      STACK3 - 12,
      UDATA,
    ]);
    // RETF 12 releases the parameters on both stacks.
    expect(cpu.run(100).reason).toBe('hlt');
    expect(cpu.eip).toBe(atHandler(3));
    expect(m.stack(0)).toBe(m.user.ret! + 2);
    expect(m.stack(3)).toBe(STACK3);
  });

  it('16-bit call gate pushes words and copies word parameters', () => {
    const m = new SysMachine();
    const gate = (FREE << 3) | 3;
    m.setGdt(FREE, gateDesc(KCODE, EXTRA, T_CALL16, { dpl: 3, count: 2 }));
    m.load(EXTRA, [0x66, ...retf(4)]);
    m.cpu.addBreakpoint(EXTRA);
    m.setIdt(3, gateDesc(KCODE, HANDLERS + 3 * 16, T_INT32, { dpl: 3 }));
    m.code(
      (u) => [toRing3(u.start!)],
      ['start', push16(0xbeef), push16(0xcafe), callFar(gate, 0), 'ret', INT(3)],
    );
    const cpu = m.cpu;
    expect(cpu.run(100).reason).toBe('breakpoint');
    expect(cpu.regs[4]! >>> 0).toBe(STACK0 - 12);
    expect([0, 1, 2, 3, 4, 5].map((i) => m.stack16(i))).toEqual([
      m.user.ret,
      UCODE,
      0xcafe,
      0xbeef,
      STACK3 - 4,
      UDATA,
    ]);
    expect(cpu.run(100).reason).toBe('hlt');
    expect(cpu.eip).toBe(atHandler(3));
    expect(m.stack(3)).toBe(STACK3);
  });

  it('a call gate to a conforming segment keeps CPL 3 and the stack', () => {
    const m = new SysMachine();
    m.setGdt(FREE, gateDesc((FREE + 1) << 3, EXTRA, T_CALL32, { dpl: 3 }));
    m.setGdt(FREE + 1, segDesc(0, 0xfffff, T_CODE_CONF_RX, { granular: true }));
    m.load(EXTRA, [0xcc]); // INT3 inside the conforming code
    m.setIdt(3, gateDesc(KCODE, HANDLERS + 3 * 16, T_INT32, { dpl: 3 }));
    m.code((u) => [toRing3(u.start!)], ['start', callFar((FREE << 3) | 3, 0)]);
    expect(m.cpu.run(100).reason).toBe('hlt');
    // The INT3 came from CPL 3 (conforming code runs at the caller's CPL): a stack switch frame.
    expect(m.stack(1)).toBe(((FREE + 1) << 3) | 3);
    expect(m.stack(3)).toBe(STACK3 - 8);
  });

  it('JMP through a call gate to a more privileged non-conforming segment is #GP(target)', () => {
    const m = new SysMachine();
    m.setGdt(FREE, gateDesc(KCODE, EXTRA, T_CALL32, { dpl: 3 }));
    m.code((u) => [toRing3(u.start!)], ['start', [0xea, 0, 0, 0, 0, (FREE << 3) | 3, 0]]);
    expect(m.cpu.run(100).reason).toBe('hlt');
    expect(m.cpu.eip).toBe(atHandler(13));
    expect(m.stack(0)).toBe(KCODE);
  });
});

describe('far return to an outer privilege level', () => {
  it('RETF 8 from ring 0 pops CS:EIP, releases 8 bytes, pops SS:ESP, nulls DPL-0 data segments', () => {
    const m = new SysMachine();
    m.setIdt(3, gateDesc(KCODE, HANDLERS + 3 * 16, T_INT32, { dpl: 3 }));
    m.code(
      (u) => [
        movSreg(SREG_DS, KDATA),
        movSreg(SREG_ES, UDATA),
        movSreg(SREG_GS, KDATA),
        push32(UDATA),
        push32(STACK3),
        push32(0x5555),
        push32(0x6666),
        push32(UCODE),
        push32(u.start!),
        retf(8),
      ],
      ['start', INT(3)],
    );
    const cpu = m.cpu;
    expect(cpu.run(100).reason).toBe('hlt');
    expect(cpu.eip).toBe(atHandler(3));
    expect(m.stack(1)).toBe(UCODE);
    expect(m.stack(3)).toBe(STACK3 + 8);
    expect(m.stack(4)).toBe(UDATA);
    expect(cpu.getSegment(SREG_DS).selector).toBe(0);
    expect(cpu.getSegment(SREG_GS).selector).toBe(0);
    expect(cpu.getSegment(SREG_ES).selector).toBe(UDATA);
  });

  it('a 16-bit IRET pops a word frame (IP, CS, FLAGS, SP, SS) to ring 3', () => {
    const m = new SysMachine();
    m.setIdt(3, gateDesc(KCODE, HANDLERS + 3 * 16, T_INT32, { dpl: 3 }));
    m.code(
      (u) => [push16(UDATA), push16(0x7ff0), push16(0x0202), push16(UCODE), push16(u.start!), [0x66, 0xcf]],
      ['start', INT(3)],
    );
    const cpu = m.cpu;
    expect(cpu.run(100).reason).toBe('hlt');
    expect(cpu.eip).toBe(atHandler(3));
    expect([m.stack(1), m.stack(3), m.stack(4)]).toEqual([UCODE, 0x7ff0, UDATA]);
    expect(m.stack(2) & IF).toBe(IF);
  });

  it('an outer return whose SS RPL differs from the CS RPL is #GP(SS) and changes nothing', () => {
    const m = new SysMachine();
    m.code(() => [push32(KDATA), push32(STACK3), push32(UCODE), push32(0x3000), 'retf', retf()]);
    expect(m.cpu.run(100).reason).toBe('hlt');
    expect(m.cpu.eip).toBe(atHandler(13));
    expect(m.stack(0)).toBe(KDATA);
    expect(m.stack(1)).toBe(m.labels.retf);
    expect(m.cpu.cpl).toBe(0);
    expect([m.stack(4), m.stack(5), m.stack(6), m.stack(7)]).toEqual([0x3000, UCODE, STACK3, KDATA]); // RETF's operands stay
  });
});
