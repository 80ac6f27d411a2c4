/**
 * Hardware task switching (SDM Vol. 3 Chapter 7): JMP and CALL to a TSS or a task gate, an IDT
 * task gate for INT n and for an exception with an error code, IRET with NT back to the caller,
 * busy bits, the back link, CR0.TS, 16-bit TSSs and the #GP/#TS checks of the switch.
 */
import { describe, expect, it } from 'vitest';
import { SREG_DS, SREG_SS } from '../src/constants';
import {
  callFar,
  EXTRA,
  FREE,
  gateDesc,
  HANDLERS,
  INT,
  jmpFar,
  KCODE,
  KDATA,
  movSreg,
  STACK_B,
  STACK0,
  SysMachine,
  segDesc,
  T_CODE_XO,
  T_LDT,
  T_TASK,
  T_TSS16,
  T_TSS32,
  T_TSS32_BUSY,
  TSS_A,
  TSS_B,
  TSS_C,
  TSSA,
  TSSB,
} from './protection-harness';

const NT = 1 << 14;
const CR0_TS = 1 << 3;
const TR = 7;
const atHandler = (v: number) => HANDLERS + v * 16 + 1;
/** Task B's code. */
const TASK_B_CODE = EXTRA;

/** A machine with task B ready at TASK_B_CODE (registers 0xB000000i, its own stack). */
function machine(bCode: number[]): SysMachine {
  const m = new SysMachine();
  m.tss32(TSS_B, {
    eip: TASK_B_CODE,
    eflags: 2,
    regs: [0xb0000000, 0xb0000001, 0xb0000002, 0xb0000003, STACK_B, 0xb0000005, 0xb0000006, 0xb0000007],
    cs: KCODE,
    ss: KDATA,
    ds: KDATA,
    es: KDATA,
  });
  m.load(TASK_B_CODE, bCode);
  return m;
}

describe('task switch by JMP', () => {
  it('saves the old task, loads the new one, moves the busy bit and sets CR0.TS; JMP back resumes', () => {
    const m = machine(jmpFar(TSSA, 0));
    m.code(() => [[0xb8, 0x34, 0x12, 0, 0], jmpFar(TSSB, 0), 'back', [0xf4]]);
    const cpu = m.cpu;
    m.cpu.addBreakpoint(TASK_B_CODE);
    expect(cpu.run(100).reason).toBe('breakpoint');
    expect(cpu.getSegment(TR).selector).toBe(TSSB);
    expect(Array.from(cpu.regs, (r) => r >>> 0)).toEqual([
      0xb0000000,
      0xb0000001,
      0xb0000002,
      0xb0000003,
      STACK_B,
      0xb0000005,
      0xb0000006,
      0xb0000007,
    ]);
    expect(cpu.getSegment(1).selector).toBe(KCODE);
    expect(cpu.getSegment(SREG_SS).selector).toBe(KDATA);
    expect(cpu.eflags & NT).toBe(0);
    expect(cpu.cr0 & CR0_TS).toBe(CR0_TS);
    // JMP: the old TSS is no longer busy, the new one is; no back link is written.
    expect(m.gdtType(5)).toBe(T_TSS32);
    expect(m.gdtType(6)).toBe(T_TSS32_BUSY);
    expect(m.r16(TSS_B)).toBe(0);
    // The outgoing state is in TSS A: EIP after the JMP, EAX, ESP, selectors.
    expect(m.r32(TSS_A + 0x20)).toBe(m.labels.back);
    expect(m.r32(TSS_A + 0x28)).toBe(0x1234);
    expect(m.r32(TSS_A + 0x38)).toBe(STACK0);
    expect(m.r16(TSS_A + 0x4c)).toBe(KCODE);

    expect(cpu.run(100).reason).toBe('hlt');
    expect(cpu.eip).toBe(m.labels.back! + 1);
    expect(cpu.regs[0]).toBe(0x1234);
    expect(cpu.getSegment(TR).selector).toBe(TSSA);
    expect(m.gdtType(5)).toBe(T_TSS32_BUSY);
    expect(m.gdtType(6)).toBe(T_TSS32);
    // Task B's state was saved when it left: EIP after its JMP.
    expect(m.r32(TSS_B + 0x20)).toBe(TASK_B_CODE + 7);
  });

  it('JMP to a busy TSS is #GP(selector); a TSS below the minimum limit is #TS(selector)', () => {
    const m = machine([0xf4]);
    m.code(() => ['jmp', jmpFar(TSSA, 0)]);
    expect(m.cpu.run(100).reason).toBe('hlt');
    expect(m.cpu.eip).toBe(atHandler(13));
    expect(m.stack(0)).toBe(TSSA);
    expect(m.stack(1)).toBe(m.labels.jmp);

    const t = machine([0xf4]);
    t.setGdt(6, segDesc(TSS_B, 0x66, T_TSS32));
    t.code(() => [jmpFar(TSSB, 0)]);
    expect(t.cpu.run(100).reason).toBe('hlt');
    expect(t.cpu.eip).toBe(atHandler(10));
    expect(t.stack(0)).toBe(TSSB);
    expect(t.cpu.getSegment(TR).selector).toBe(TSSA);
  });
});

describe('task switch by CALL and IRET back', () => {
  it('CALL through a task gate nests: back link, NT, both busy; IRET returns and clears the busy bit', () => {
    const m = machine([0xcf]); // IRETD with NT = 1: task return
    m.setGdt(FREE, gateDesc(TSSB, 0, T_TASK));
    m.code(() => [[0xb8, 0x78, 0x56, 0, 0], callFar(FREE << 3, 0), 'back', [0xf4]]);
    const cpu = m.cpu;
    cpu.addBreakpoint(TASK_B_CODE);
    expect(cpu.run(100).reason).toBe('breakpoint');
    expect(cpu.getSegment(TR).selector).toBe(TSSB);
    expect(cpu.eflags & NT).toBe(NT);
    expect(m.r16(TSS_B)).toBe(TSSA);
    expect(m.gdtType(5)).toBe(T_TSS32_BUSY);
    expect(m.gdtType(6)).toBe(T_TSS32_BUSY);

    expect(cpu.run(100).reason).toBe('hlt');
    expect(cpu.eip).toBe(m.labels.back! + 1);
    expect(cpu.regs[0]).toBe(0x5678);
    expect(cpu.getSegment(TR).selector).toBe(TSSA);
    expect(cpu.eflags & NT).toBe(0);
    expect(m.gdtType(5)).toBe(T_TSS32_BUSY);
    expect(m.gdtType(6)).toBe(T_TSS32);
    // Task B was saved with NT cleared and EIP after its IRET.
    expect(m.r32(TSS_B + 0x24) & NT).toBe(0);
    expect(m.r32(TSS_B + 0x20)).toBe(TASK_B_CODE + 1);
  });

  it('CALL to a 16-bit TSS loads word registers (upper halves ones) and IRET comes back', () => {
    const m = new SysMachine();
    m.setGdt(FREE, segDesc(TSS_C, 0x2b, T_TSS16));
    m.tss16(TSS_C, {
      ip: EXTRA,
      flags: 2,
      regs: [0xc000, 0xc001, 0xc002, 0xc003, 0x7000, 0xc005, 0xc006, 0xc007],
      cs: KCODE,
      ss: KDATA,
      ds: KDATA,
      es: KDATA,
    });
    m.load(EXTRA, [0xcf]);
    m.cpu.addBreakpoint(EXTRA);
    m.code(() => [callFar(FREE << 3, 0), 'back', [0xf4]]);
    const cpu = m.cpu;
    expect(cpu.run(100).reason).toBe('breakpoint');
    expect(cpu.regs[0]! >>> 0).toBe(0xffffc000);
    expect(cpu.regs[4]! >>> 0).toBe(0xffff7000);
    expect(m.r16(TSS_C)).toBe(TSSA);
    expect(cpu.eflags & NT).toBe(NT);
    expect(cpu.run(100).reason).toBe('hlt');
    expect(cpu.eip).toBe(m.labels.back! + 1);
    expect(cpu.getSegment(TR).selector).toBe(TSSA);
    // The 16-bit TSS got the outgoing IP and flags image with NT clear.
    expect(m.r16(TSS_C + 0x0e)).toBe(EXTRA + 1);
    expect(m.r16(TSS_C + 0x10) & NT).toBe(0);
  });
});

describe('IDT task gates', () => {
  it('INT n through a task gate switches tasks and IRET returns after the INT', () => {
    const m = machine([0xcf]);
    m.setIdt(0x50, gateDesc(TSSB, 0, T_TASK));
    m.cpu.addBreakpoint(TASK_B_CODE);
    m.code(() => [INT(0x50), 'back', [0xf4]]);
    expect(m.cpu.run(100).reason).toBe('breakpoint');
    expect(m.cpu.getSegment(TR).selector).toBe(TSSB);
    expect(m.r16(TSS_B)).toBe(TSSA);
    expect(m.cpu.run(100).reason).toBe('hlt');
    expect(m.cpu.eip).toBe(m.labels.back! + 1);
    expect(m.gdtType(6)).toBe(T_TSS32);
  });

  it('an exception through a task gate pushes its error code on the new task stack; the old EIP is the faulting one', () => {
    const m = machine([0xf4]);
    m.setIdt(13, gateDesc(TSSB, 0, T_TASK));
    m.code(() => ['fault', movSreg(SREG_DS, 0x7ff8)]); // beyond the GDT: #GP(0x7FF8)
    expect(m.cpu.run(100).reason).toBe('hlt');
    expect(m.cpu.eip).toBe(TASK_B_CODE + 1);
    expect(m.cpu.regs[4]! >>> 0).toBe(STACK_B - 4);
    expect(m.stack(0)).toBe(0x7ff8);
    expect(m.r32(TSS_A + 0x20)).toBe(m.labels.fault! + 4); // MOV DS, AX after MOV AX, imm16
  });

  it('a stack fault that cannot be delivered becomes #DF, handled by a task gate on a good stack', () => {
    const m = machine([0xf4]);
    m.setIdt(8, gateDesc(TSSB, 0, T_TASK));
    m.setGdt(FREE, segDesc(0, 0xfff, 0x12)); // a 4-KiB stack segment
    // SS = that segment, ESP = 2: the PUSH is #SS(0), whose frame cannot be pushed either ⇒ #DF.
    m.code(() => [movSreg(SREG_SS, FREE << 3), [0xbc, 2, 0, 0, 0], 'push', [0x50]]);
    expect(m.cpu.run(100).reason).toBe('hlt');
    expect(m.cpu.eip).toBe(TASK_B_CODE + 1);
    expect(m.cpu.getSegment(TR).selector).toBe(TSSB);
    expect(m.cpu.regs[4]! >>> 0).toBe(STACK_B - 4);
    expect(m.stack(0)).toBe(0); // #DF's error code
    expect(m.r16(TSS_B)).toBe(TSSA);
    expect(m.r32(TSS_A + 0x20)).toBe(m.labels.push); // the faulting PUSH
    expect(m.r32(TSS_A + 0x38)).toBe(2);
    expect(m.r16(TSS_A + 0x50)).toBe(FREE << 3);
  });

  it("a task gate whose TSS is busy is #GP(TSS selector); a fault in the new task's segments is #TS in the new task", () => {
    const m = machine([0xf4]);
    m.setIdt(0x50, gateDesc(TSSA, 0, T_TASK));
    m.code(() => [INT(0x50)]);
    expect(m.cpu.run(100).reason).toBe('hlt');
    expect(m.cpu.eip).toBe(atHandler(13));
    expect(m.stack(0)).toBe(TSSA);

    // Task B's DS is execute-only code: #TS(DS) raised after the switch committed, so the handler
    // runs in task B (its stack, its EIP) and the selector is loaded but unusable.
    const t = machine([0xf4]);
    const xo = FREE << 3;
    t.setGdt(FREE, segDesc(0, 0xfffff, T_CODE_XO, { granular: true }));
    t.tss32(TSS_B, { eip: TASK_B_CODE, cs: KCODE, ss: KDATA, ds: xo, regs: [0, 0, 0, 0, STACK_B] });
    t.code(() => [jmpFar(TSSB, 0)]);
    expect(t.cpu.run(100).reason).toBe('hlt');
    expect(t.cpu.eip).toBe(atHandler(10));
    expect(t.cpu.getSegment(TR).selector).toBe(TSSB);
    expect(t.cpu.regs[4]! >>> 0).toBe(STACK_B - 16);
    expect([t.stack(0), t.stack(1), t.stack(2)]).toEqual([xo, TASK_B_CODE, KCODE]);
    expect(t.cpu.getSegment(SREG_DS)).toMatchObject({ selector: xo, attributes: 0 });
  });
});

describe("the new task's LDT", () => {
  function ldtMachine(ldtDesc: [number, number]): SysMachine {
    const m = machine([0xf4]);
    m.setGdt(FREE, ldtDesc);
    // LDT at 0x7000: entry 1 is data with base 0x20000.
    const [lo, hi] = segDesc(0x20000, 0xffff, 0x12);
    m.dv.setUint32(0x7008, lo, true);
    m.dv.setUint32(0x700c, hi, true);
    m.tss32(TSS_B, {
      eip: TASK_B_CODE,
      cs: KCODE,
      ss: KDATA,
      ds: 0x0c,
      ldt: FREE << 3,
      regs: [0, 0, 0, 0, STACK_B],
    });
    m.code(() => [jmpFar(TSSB, 0)]);
    return m;
  }

  it('is loaded from the TSS before the segment registers, so DS can be an LDT selector', () => {
    const m = ldtMachine(segDesc(0x7000, 0x0f, T_LDT));
    expect(m.cpu.run(100).reason).toBe('hlt');
    expect(m.cpu.eip).toBe(TASK_B_CODE + 1);
    expect(m.cpu.getSegment(6)).toMatchObject({ selector: FREE << 3, base: 0x7000, limit: 0x0f });
    expect(m.cpu.getSegment(SREG_DS)).toMatchObject({ selector: 0x0c, base: 0x20000 });
  });

  it('an LDT field that names no LDT is #TS(LDT selector) in the new task', () => {
    const m = ldtMachine(segDesc(0x7000, 0x0f, 0x12));
    expect(m.cpu.run(100).reason).toBe('hlt');
    expect(m.cpu.eip).toBe(atHandler(10));
    expect(m.stack(0)).toBe(FREE << 3);
    expect(m.stack(1)).toBe(TASK_B_CODE);
    expect(m.cpu.getSegment(TR).selector).toBe(TSSB);
  });
});
