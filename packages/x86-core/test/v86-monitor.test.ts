/**
 * Virtual-8086 mode (SDM Vol. 3 Chapter 20): entered by IRETD from ring 0, IOPL-sensitive
 * instructions trapping to a ring-0 monitor that emulates them and IRETs back, software and
 * external interrupts and exceptions from v86 to ring-0 handlers (the VM86 frame with ES/DS/FS/GS,
 * those registers nulled) and back, and what v86 code may do with IOPL = 3.
 */
import { describe, expect, it } from 'vitest';
import type { InterruptLine } from '../src/index';
import {
  addEspImm,
  assemble,
  type Chunk,
  EAX,
  EBP,
  EBX,
  INC,
  IRETD,
  loadEsp,
  movImm,
  POP,
  PUSH,
} from './debug-asm';
import { le32, read32, setGate } from './helpers';
import { enterV86, loadTr, pushImm, RING0_STACK, sysMachine, V86 } from './v86-setup';

const MONITOR = 0x5000;
const INT_HANDLER = 0x5800;
const EXT_HANDLER = 0x5c00;
const LOG_OP = 0x6000;
const LOG_ERR = 0x6100;
const LOG_EIP = 0x6200;
const VIF = 0x6300;
const FRAME = 0x6600;
const SEGS = 0x6680;
const EXT_COUNT = 0x6700;
const VM = 1 << 17;
const IF = 1 << 9;
const IOPL3 = 3 << 12;
const V86_BASE = V86.cs << 4;

/** mov eax, 0x10; mov ds, ax — DS was nulled on the way out of v86 (EAX clobbered). */
const flatDs: Chunk[] = [movImm(EAX, 0x10), [0x8e, 0xd8]];
/** mov [table + EBP*4], EBX. */
const logEbp = (table: number): number[] => [0x89, 0x1c, 0xad, ...le32(table)];
/** movzx ebx, byte [eax]. */
const MOVZX_EBX_EAX = [0x0f, 0xb6, 0x18];

/**
 * The ring-0 monitor (#GP handler): counts entries in EBP, logs the faulting v86 opcode, error
 * code and IP; emulates CLI/STI on a virtual IF byte and resumes after them; on anything else it
 * halts with the frame on its stack (EAX and EBX pushed above it).
 */
const monitor: Chunk[] = [
  PUSH(EAX),
  PUSH(EBX),
  ...flatDs,
  INC(EBP),
  loadEsp(EAX, 16), // CS
  [0xc1, 0xe0, 0x04], // shl eax, 4
  [0x03, 0x44, 0x24, 12], // add eax, [esp+12] (IP)
  MOVZX_EBX_EAX,
  logEbp(LOG_OP),
  loadEsp(EBX, 8),
  logEbp(LOG_ERR),
  loadEsp(EBX, 12),
  logEbp(LOG_EIP),
  MOVZX_EBX_EAX,
  [0x80, 0xfb, 0xfa], // cmp bl, 0xFA
  'j1',
  (l) => [0x75, (l.notCli! - (l.j1! + 2)) & 0xff],
  [0xc6, 0x05, ...le32(VIF), 0], // mov byte [VIF], 0
  'j2',
  (l) => [0xeb, (l.resume! - (l.j2! + 2)) & 0xff],
  'notCli',
  [0x80, 0xfb, 0xfb], // cmp bl, 0xFB
  'j3',
  (l) => [0x75, (l.other! - (l.j3! + 2)) & 0xff],
  [0xc6, 0x05, ...le32(VIF), 1], // mov byte [VIF], 1
  'j4',
  (l) => [0xeb, (l.resume! - (l.j4! + 2)) & 0xff],
  'other',
  [0xf4],
  'resume',
  [0xff, 0x44, 0x24, 12], // inc dword [esp+12]: skip the one-byte instruction
  POP(EBX),
  POP(EAX),
  addEspImm(4), // the error code
  IRETD,
];

/** Ring-0 INT handler: logs DS/ES/FS/GS and the 9-dword frame, sets EAX = 0xBEEF, IRETD. */
const intHandler: Chunk[] = [
  ...[0xd8, 0xc0, 0xe0, 0xe8].flatMap((modrm, i) => [
    [0x8c, modrm | EBX], // mov ebx, sreg (DS, ES, FS, GS)
    [0x36, 0x89, 0x1d, ...le32(SEGS + 4 * i)], // mov ss:[SEGS + 4i], ebx (DS may be null)
  ]),
  ...flatDs,
  ...Array.from({ length: 9 }, (_, i) => [...loadEsp(EBX, 4 * i), 0x89, 0x1d, ...le32(FRAME + 4 * i)]),
  movImm(EAX, 0xbeef),
  IRETD,
];

function v86Machine(guest: Chunk[], eflags: number, interrupts?: InterruptLine) {
  const m = sysMachine([loadTr, ...enterV86(eflags)], interrupts ? { interrupts } : {});
  const g = assemble(0, guest);
  m.mem.load(V86_BASE, Uint8Array.from(g.bytes));
  m.mem.load(MONITOR, Uint8Array.from(assemble(MONITOR, monitor).bytes));
  m.mem.load(INT_HANDLER, Uint8Array.from(assemble(INT_HANDLER, intHandler).bytes));
  setGate(m.mem, 13, MONITOR);
  setGate(m.mem, 0x30, INT_HANDLER, 0x6e); // 32-bit interrupt gate, DPL 3
  m.cpu.regs[EBP] = 0;
  const r32 = (a: number) => read32(m.mem, a);
  return {
    ...m,
    g: g.labels,
    gps: () => m.cpu.regs[EBP]!,
    op: (i: number) => r32(LOG_OP + 4 * i),
    err: (i: number) => r32(LOG_ERR + 4 * i),
    ip: (i: number) => r32(LOG_EIP + 4 * i),
    r32,
    word: (a: number) => m.mem.bytes[a]! | (m.mem.bytes[a + 1]! << 8),
  };
}

describe('the v86 monitor round trip', () => {
  it('CLI and STI with IOPL = 0 trap as #GP(0) to the ring-0 monitor, which emulates them and IRETs back', () => {
    const m = v86Machine(
      [
        'g0',
        [0xfa], // cli
        [0xb8, 0x34, 0x12], // mov ax, 0x1234
        'g1',
        [0xfb], // sti
        [0xa3, 0x10, 0x00], // mov [0x10], ax (DS = 0x4000)
        'g2',
        [0xf4], // hlt: #GP, the monitor stops
      ],
      IF,
    );
    expect(m.cpu.run(10_000).reason).toBe('hlt');
    expect(m.gps()).toBe(3);
    expect([m.op(1), m.op(2), m.op(3)]).toEqual([0xfa, 0xfb, 0xf4]);
    expect([m.err(1), m.err(2), m.err(3)]).toEqual([0, 0, 0]);
    expect([m.ip(1), m.ip(2), m.ip(3)]).toEqual([m.g.g0, m.g.g1, m.g.g2]);
    expect(m.mem.bytes[VIF]).toBe(1);
    // v86 segmentation: DS:0x10 is linear 0x40010.
    expect(m.word((V86.ds << 4) + 0x10)).toBe(0x1234);
    // In the monitor: CPL 0, the data segment registers null, the VM86 frame on the TSS ring-0 stack.
    const cpu = m.cpu;
    expect(cpu.cpl).toBe(0);
    expect(cpu.eflags & VM).toBe(0);
    // ES, FS, GS were nulled on the way out of v86 (the monitor itself loaded DS).
    for (const s of [0, 4, 5]) expect(cpu.getSegment(s).selector).toBe(0);
    expect(cpu.getSegment(3).selector).toBe(0x10);
    const esp = cpu.regs[4]! >>> 0;
    expect(esp).toBe(RING0_STACK - 40 - 8);
    const frame = Array.from({ length: 12 }, (_, i) => m.r32(esp + 4 * i));
    expect(frame[1]! & 0xffff).toBe(0x1234); // the guest's EAX, saved by the monitor
    expect(frame.slice(2)).toEqual([
      0, // error code
      m.g.g2,
      V86.cs,
      VM | (1 << 16) | IF | 2, // RF = 1: #GP is a fault (SDM §17.3.1.1)
      V86.sp,
      V86.ss,
      V86.es,
      V86.ds,
      V86.fs,
      V86.gs,
    ]);
  });

  for (const [name, bytes] of [
    ['CLI', [0xfa]],
    ['STI', [0xfb]],
    ['PUSHF', [0x9c]],
    ['POPF', [0x9d]],
    ['INT 30h', [0xcd, 0x30]],
    ['IRET', [0xcf]],
  ] as const) {
    it(`${name} is IOPL-sensitive: #GP(0) at the instruction with IOPL = 0`, () => {
      const m = v86Machine([[0x90], 'insn', [...bytes], [0xf4]], 0);
      expect(m.cpu.run(10_000).reason).toBe('hlt');
      expect(m.op(1)).toBe(bytes[0]);
      expect(m.err(1)).toBe(0);
      expect(m.ip(1)).toBe(m.g.insn);
    });
  }

  it('INT3 and ICEBP are not IOPL-sensitive: they go through the IDT (gate DPL checked for INT3 only)', () => {
    const m = v86Machine([[0xcc], 'after3', [0xf1], 'after1', [0xf4]], 0);
    // #BP gate DPL 3 and #DB gate DPL 0, both to a handler that logs the frame and returns.
    setGate(m.mem, 3, INT_HANDLER, 0x6e);
    m.mem.load(0x5f00, Uint8Array.from([0xf4]));
    setGate(m.mem, 1, 0x5f00);
    expect(m.cpu.run(10_000).reason).toBe('hlt');
    expect(m.gps()).toBe(0);
    // INT3 reached its DPL-3 gate's handler, which returned; ICEBP then reached the DPL-0 #DB gate.
    expect(m.r32(FRAME)).toBe(m.g.after3);
    expect(m.cpu.eip).toBe(0x5f01);
    const esp = m.cpu.regs[4]! >>> 0;
    expect([m.r32(esp), m.r32(esp + 4), m.r32(esp + 8) & VM]).toEqual([m.g.after1, V86.cs, VM]);
  });
});

describe('interrupts from v86 to ring 0 and back', () => {
  it('INT n with IOPL = 3 enters the ring-0 handler with the VM86 frame, IRETD restores the v86 segments', () => {
    const m = v86Machine(
      [
        [0xb8, 0x01, 0x00], // mov ax, 1
        [0xcd, 0x30], // int 0x30
        'after',
        [0xa3, 0x12, 0x00], // mov [0x12], ax — DS must be 0x4000 again
        [0xfa], // cli: IOPL = 3, executes without trapping
        'h',
        [0xf4],
      ],
      IOPL3 | IF,
    );
    expect(m.cpu.run(10_000).reason).toBe('hlt');
    expect([0, 1, 2, 3].map((i) => m.r32(SEGS + 4 * i))).toEqual([0, 0, 0, 0]);
    expect(Array.from({ length: 9 }, (_, i) => m.r32(FRAME + 4 * i))).toEqual([
      m.g.after,
      V86.cs,
      VM | IOPL3 | IF | 2,
      V86.sp,
      V86.ss,
      V86.es,
      V86.ds,
      V86.fs,
      V86.gs,
    ]);
    expect(m.word((V86.ds << 4) + 0x12)).toBe(0xbeef);
    // Only the final HLT reached the monitor; CLI ran natively (IF clear in its frame).
    expect(m.gps()).toBe(1);
    expect(m.op(1)).toBe(0xf4);
    expect(m.ip(1)).toBe(m.g.h);
    expect(m.r32((m.cpu.regs[4]! >>> 0) + 20) & IF).toBe(0);
  });

  it('INT n with IOPL = 3 through a gate of DPL < 3 is #GP(vector × 8 + 2)', () => {
    const m = v86Machine([[0x90], 'int', [0xcd, 0x31], [0xf4]], IOPL3);
    expect(m.cpu.run(10_000).reason).toBe('hlt');
    expect([m.op(1), m.err(1), m.ip(1)]).toEqual([0xcd, 0x31 * 8 + 2, m.g.int]);
  });

  it('an external interrupt taken in v86 runs the ring-0 handler and resumes the v86 code', () => {
    let pending = true;
    const line: InterruptLine = {
      pending: () => pending,
      acknowledge: () => {
        pending = false;
        return 0x31;
      },
    };
    const m = v86Machine([[0x43], [0x43], [0x43], [0xf4]], IF, line); // inc bx ×3; hlt
    // push eax; mov eax, 0x10; mov ds, ax; inc dword [EXT_COUNT]; pop eax; iretd
    m.mem.load(
      EXT_HANDLER,
      Uint8Array.from([0x50, ...movImm(EAX, 0x10), 0x8e, 0xd8, 0xff, 0x05, ...le32(EXT_COUNT), 0x58, 0xcf]),
    );
    setGate(m.mem, 0x31, EXT_HANDLER);
    m.cpu.regs[EBX] = 0;
    expect(m.cpu.run(10_000).reason).toBe('hlt');
    expect(m.r32(EXT_COUNT)).toBe(1);
    // The guest's BX, saved by the monitor at [ESP] when it stopped on the HLT.
    expect(m.r32(m.cpu.regs[4]! >>> 0) & 0xffff).toBe(3);
    expect(m.op(1)).toBe(0xf4);
  });

  it('an exception in v86 (#UD) is delivered to ring 0 with the VM86 frame', () => {
    const m = v86Machine([[0x90], 'ud', [0x0f, 0x0b]], 0);
    m.mem.load(0x5f00, Uint8Array.from([0xf4]));
    setGate(m.mem, 6, 0x5f00);
    expect(m.cpu.run(10_000).reason).toBe('hlt');
    const esp = m.cpu.regs[4]! >>> 0;
    expect([m.r32(esp), m.r32(esp + 4), m.r32(esp + 8) & VM]).toEqual([m.g.ud, V86.cs, VM]);
    expect(esp).toBe(RING0_STACK - 36);
  });
});

describe('v86 segmentation and privilege', () => {
  it('MOV Sreg loads base = selector × 16', () => {
    // mov ax, 0x4100; mov ds, ax; mov ax, 0x5678; mov [0x20], ax; hlt
    const m = v86Machine(
      [[0xb8, 0x00, 0x41], [0x8e, 0xd8], [0xb8, 0x78, 0x56], [0xa3, 0x20, 0x00], [0xf4]],
      0,
    );
    expect(m.cpu.run(10_000).reason).toBe('hlt');
    expect(m.word(0x41020)).toBe(0x5678);
    expect(m.r32((m.cpu.regs[4]! >>> 0) + 36)).toBe(0x4100); // DS in the VM86 frame of the final #GP
  });

  it('MOV from a debug register is #GP(0) in v86 even with DR7.GD set (the privilege check comes first)', () => {
    const m = sysMachine([loadTr, movImm(EAX, 0x2400), [0x0f, 0x23, 0xf8], ...enterV86(0)]);
    m.mem.load(V86_BASE, Uint8Array.from([0x0f, 0x21, 0xf8, 0xf4])); // mov eax, dr7; hlt
    m.mem.load(MONITOR, Uint8Array.from(assemble(MONITOR, monitor).bytes));
    setGate(m.mem, 13, MONITOR);
    m.cpu.regs[EBP] = 0;
    expect(m.cpu.run(10_000).reason).toBe('hlt');
    expect(read32(m.mem, LOG_OP + 4)).toBe(0x0f);
    expect(read32(m.mem, LOG_EIP + 4)).toBe(0);
    expect(m.cpu.dr[7]! & 0x2000).toBe(0x2000); // no #DB was taken
  });

  it('IRETD to v86 with EIP above 0xFFFF is #GP(0) at the IRETD, nothing changed', () => {
    const m = sysMachine([
      loadTr,
      ...enterV86(0).slice(0, -3),
      pushImm(V86.cs),
      pushImm(0x10000),
      'iret',
      [0xcf],
    ]);
    m.mem.load(0x5f00, Uint8Array.from([0xf4]));
    setGate(m.mem, 13, 0x5f00);
    expect(m.cpu.run(1000).reason).toBe('hlt');
    const esp = m.cpu.regs[4]! >>> 0;
    expect([read32(m.mem, esp), read32(m.mem, esp + 4)]).toEqual([0, m.labels.iret]);
    expect(m.cpu.cpl).toBe(0);
    expect(m.cpu.eflags & VM).toBe(0);
  });
});

describe('v86 with IOPL = 3', () => {
  it('POPF can change IF but not IOPL', () => {
    const m = v86Machine([[0x6a, 0x00], [0x9d], 'h', [0xf4]], IOPL3 | IF); // push 0; popf; hlt
    expect(m.cpu.run(10_000).reason).toBe('hlt');
    expect(m.ip(1)).toBe(m.g.h);
    const fl = m.r32((m.cpu.regs[4]! >>> 0) + 20);
    expect(fl & (IOPL3 | IF | VM)).toBe(IOPL3 | VM);
  });

  it('IRET returns within v86 (16-bit frame) and stays in v86', () => {
    const m = v86Machine(
      [[0x9c], [0x0e], (l) => [0x68, l.target! & 0xff, l.target! >> 8], [0xcf], [0xf4], 'target', [0xf4]],
      IOPL3,
    );
    expect(m.cpu.run(10_000).reason).toBe('hlt');
    expect(m.ip(1)).toBe(m.g.target);
    expect(m.r32((m.cpu.regs[4]! >>> 0) + 16)).toBe(V86.cs);
  });
});
