/**
 * Every descriptor-check failure raises its exception with the exact error code (SDM Vol. 3
 * §6.13: selector index | TI, EXT; IDT vectors as index·8 + 2) at the faulting instruction, and the
 * instruction leaves no state behind. One table row per check; each runs on a fresh machine.
 */
import { describe, expect, it } from 'vitest';
import { SREG_DS, SREG_ES, SREG_SS } from '../src/constants';
import type { Chunk } from './debug-asm';
import {
  callFar,
  EXTRA,
  FREE,
  GDT_ENTRIES,
  gateDesc,
  HANDLERS,
  INT,
  jmpFar,
  KCODE,
  KDATA,
  push32,
  retf,
  STACK0,
  STACK3,
  SysMachine,
  segDesc,
  T_CALL32,
  T_CODE_CONF_RX,
  T_CODE_RX,
  T_CODE_XO,
  T_DATA_RO,
  T_DATA_RW,
  T_DATA_RW_DOWN,
  T_INT32,
  T_LDT,
  T_TSS32,
  TSS_A,
  TSSA,
  toRing3,
  UCODE,
  UDATA,
} from './protection-harness';

const GP = 13;
const NP = 11;
const SS = 12;
const TS = 10;

/** MOV AX, imm16 (the setup) and MOV Sreg, AX (the faulting instruction). */
const movAx = (sel: number): number[] => [0x66, 0xb8, sel & 0xff, sel >> 8];
const movSregAx = (sreg: number): number[] => [0x8e, 0xc0 | (sreg << 3)];
/** A GDT selector for the test's own entry FREE + k (with RPL `rpl`). */
const own = (k = 0, rpl = 0) => ((FREE + k) << 3) | rpl;

interface Case {
  name: string;
  vector: number;
  error: number;
  /** Run the instruction at CPL 3 (ring-3 code after IRETD). */
  ring3?: boolean;
  setup?: (m: SysMachine) => void;
  /** Instructions before the faulting one. */
  pre?: Chunk[];
  fault: number[];
  /** The ring-3 SS:ESP the frame holds, when the code changed them ([ESP, SS]). */
  frame?: [number, number];
}

const data = (type: number, o: Parameters<typeof segDesc>[3] = {}) =>
  segDesc(0, 0xfffff, type, { granular: true, ...o });

const cases: Case[] = [
  // ---- data segment registers (SDM "MOV": protected-mode exceptions) ----
  {
    name: 'MOV DS beyond the GDT limit',
    vector: GP,
    error: GDT_ENTRIES << 3,
    pre: [movAx(GDT_ENTRIES << 3)],
    fault: movSregAx(SREG_DS),
  },
  {
    name: 'MOV DS with TI = 1 and no LDT',
    vector: GP,
    error: 0x0c,
    pre: [movAx(0x0f)],
    fault: movSregAx(SREG_DS),
  },
  {
    name: 'MOV DS of a system descriptor (LDT)',
    vector: GP,
    error: own(),
    setup: (m) => m.setGdt(FREE, segDesc(0x7000, 0xff, T_LDT)),
    pre: [movAx(own())],
    fault: movSregAx(SREG_DS),
  },
  {
    name: 'MOV DS of execute-only code',
    vector: GP,
    error: own(),
    setup: (m) => m.setGdt(FREE, data(T_CODE_XO)),
    pre: [movAx(own())],
    fault: movSregAx(SREG_DS),
  },
  {
    name: 'MOV DS with RPL > DPL',
    vector: GP,
    error: KDATA,
    pre: [movAx(KDATA | 3)],
    fault: movSregAx(SREG_DS),
  },
  {
    name: 'MOV DS of DPL-0 data at CPL 3',
    vector: GP,
    error: KDATA,
    ring3: true,
    pre: [movAx(KDATA | 3)],
    fault: movSregAx(SREG_DS),
  },
  {
    name: 'MOV DS of a not-present segment',
    vector: NP,
    error: own(),
    setup: (m) => m.setGdt(FREE, data(T_DATA_RW, { present: false })),
    pre: [movAx(own())],
    fault: movSregAx(SREG_DS),
  },
  {
    name: 'MOV ES of a not-present segment with RPL 3 (error code drops the RPL)',
    vector: NP,
    error: own(),
    setup: (m) => m.setGdt(FREE, data(T_DATA_RW, { present: false, dpl: 3 })),
    pre: [movAx(own(0, 3))],
    fault: movSregAx(SREG_ES),
  },
  {
    name: 'expand-down data: an offset at or below the limit',
    vector: GP,
    error: 0,
    setup: (m) => m.setGdt(FREE, segDesc(0, 0xfff, T_DATA_RW_DOWN)),
    pre: [movAx(own()), movSregAx(SREG_DS)],
    fault: [0x8b, 0x05, 0x00, 0x08, 0, 0],
  },
  {
    name: 'expand-down data with B = 0: an offset above 0xFFFF',
    vector: GP,
    error: 0,
    setup: (m) => m.setGdt(FREE, segDesc(0, 0xfff, T_DATA_RW_DOWN, { big: false })),
    pre: [movAx(own()), movSregAx(SREG_DS), [0x8b, 0x05, 0xfc, 0xff, 0, 0]],
    fault: [0x8b, 0x05, 0xfe, 0xff, 0, 0],
  },
  {
    // In ring 3, so that the #SS is delivered on the ring-0 stack.
    name: 'expand-down stack: a push to the limit',
    vector: SS,
    error: 0,
    ring3: true,
    frame: [0x1003, own(0, 3)],
    setup: (m) => m.setGdt(FREE, segDesc(0, 0xfff, T_DATA_RW_DOWN, { dpl: 3 })),
    pre: [movAx(own(0, 3)), movSregAx(SREG_SS), [0xbc, 0x03, 0x10, 0, 0]],
    fault: [0x50],
  },
  {
    name: 'access through a null DS',
    vector: GP,
    error: 0,
    pre: [movAx(0), movSregAx(SREG_DS)],
    fault: [0x8b, 0x05, 0, 0x10, 0, 0],
  },
  // ---- SS ----
  { name: 'MOV SS, null', vector: GP, error: 0, pre: [movAx(0)], fault: movSregAx(SREG_SS) },
  {
    name: 'MOV SS of read-only data',
    vector: GP,
    error: own(),
    setup: (m) => m.setGdt(FREE, data(T_DATA_RO)),
    pre: [movAx(own())],
    fault: movSregAx(SREG_SS),
  },
  {
    name: 'MOV SS of readable code',
    vector: GP,
    error: own(),
    setup: (m) => m.setGdt(FREE, data(T_CODE_RX)),
    pre: [movAx(own())],
    fault: movSregAx(SREG_SS),
  },
  {
    name: 'MOV SS with RPL ≠ CPL',
    vector: GP,
    error: KDATA,
    pre: [movAx(KDATA | 3)],
    fault: movSregAx(SREG_SS),
  },
  {
    name: 'MOV SS with DPL ≠ CPL',
    vector: GP,
    error: UDATA & ~3,
    pre: [movAx(UDATA & ~3)],
    fault: movSregAx(SREG_SS),
  },
  {
    name: 'MOV SS of a not-present segment',
    vector: SS,
    error: own(),
    setup: (m) => m.setGdt(FREE, data(T_DATA_RW, { present: false })),
    pre: [movAx(own())],
    fault: movSregAx(SREG_SS),
  },
  // ---- far JMP / CALL to code segments (SDM §5.8.1) ----
  { name: 'JMP FAR to a null selector', vector: GP, error: 0, fault: jmpFar(0, 0) },
  { name: 'JMP FAR to a data segment', vector: GP, error: KDATA, fault: jmpFar(KDATA, 0) },
  {
    name: 'JMP FAR to non-conforming code of another DPL',
    vector: GP,
    error: UCODE & ~3,
    fault: jmpFar(UCODE & ~3, 0),
  },
  {
    name: 'JMP FAR to conforming code with DPL > CPL',
    vector: GP,
    error: own(),
    setup: (m) => m.setGdt(FREE, data(T_CODE_CONF_RX, { dpl: 3 })),
    fault: jmpFar(own(), 0),
  },
  {
    name: 'JMP FAR to not-present code',
    vector: NP,
    error: own(),
    setup: (m) => m.setGdt(FREE, data(T_CODE_RX, { present: false })),
    fault: jmpFar(own(), 0),
  },
  {
    name: 'JMP FAR beyond the code-segment limit',
    vector: GP,
    error: 0,
    setup: (m) => m.setGdt(FREE, segDesc(0, 0xfff, T_CODE_RX)),
    fault: jmpFar(own(), 0x1000),
  },
  {
    name: 'CALL FAR from ring 3 to ring-0 code',
    vector: GP,
    error: KCODE,
    ring3: true,
    fault: callFar(KCODE | 3, 0),
  },
  {
    name: 'JMP FAR to an LDT descriptor',
    vector: GP,
    error: own(),
    setup: (m) => m.setGdt(FREE, segDesc(0x7000, 0xff, T_LDT)),
    fault: jmpFar(own(), 0),
  },
  {
    name: 'JMP FAR to an interrupt gate in the GDT',
    vector: GP,
    error: own(),
    setup: (m) => m.setGdt(FREE, gateDesc(KCODE, 0, T_INT32)),
    fault: jmpFar(own(), 0),
  },
  { name: 'JMP FAR to a busy TSS', vector: GP, error: TSSA, fault: jmpFar(TSSA, 0) },
  {
    name: 'JMP FAR to a TSS descriptor in the LDT',
    vector: GP,
    error: 0x0c,
    setup: (m) => {
      m.setGdt(FREE, segDesc(0x7000, 0x0f, T_LDT));
      const [lo, hi] = segDesc(0x6600, 0x67, T_TSS32);
      m.dv.setUint32(0x7008, lo, true);
      m.dv.setUint32(0x700c, hi, true);
    },
    pre: [movAx(own()), [0x0f, 0x00, 0xd0]],
    fault: jmpFar(0x0c, 0),
  },
  {
    name: 'JMP FAR to a not-present TSS',
    vector: NP,
    error: own(),
    setup: (m) => m.setGdt(FREE, segDesc(0x6600, 0x67, T_TSS32, { present: false })),
    fault: jmpFar(own(), 0),
  },
  // ---- call gates (SDM "CALL": CALL-GATE) ----
  {
    name: 'call gate with DPL < CPL',
    vector: GP,
    error: own(),
    ring3: true,
    setup: (m) => m.setGdt(FREE, gateDesc(KCODE, EXTRA, T_CALL32)),
    fault: callFar(own(0, 3), 0),
  },
  {
    name: 'call gate with DPL < RPL',
    vector: GP,
    error: own(),
    setup: (m) => m.setGdt(FREE, gateDesc(KCODE, EXTRA, T_CALL32, { dpl: 2 })),
    fault: callFar(own(0, 3), 0),
  },
  {
    name: 'not-present call gate',
    vector: NP,
    error: own(),
    setup: (m) => m.setGdt(FREE, gateDesc(KCODE, EXTRA, T_CALL32, { present: false })),
    fault: callFar(own(), 0),
  },
  {
    name: 'call gate to a null selector',
    vector: GP,
    error: 0,
    setup: (m) => m.setGdt(FREE, gateDesc(0, EXTRA, T_CALL32)),
    fault: callFar(own(), 0),
  },
  {
    name: 'call gate to a data segment',
    vector: GP,
    error: KDATA,
    setup: (m) => m.setGdt(FREE, gateDesc(KDATA, EXTRA, T_CALL32)),
    fault: callFar(own(), 0),
  },
  {
    name: 'call gate to less privileged code',
    vector: GP,
    error: UCODE & ~3,
    setup: (m) => m.setGdt(FREE, gateDesc(UCODE, EXTRA, T_CALL32)),
    fault: callFar(own(), 0),
  },
  {
    name: 'call gate to not-present code',
    vector: NP,
    error: own(1),
    setup: (m) => {
      m.setGdt(FREE, gateDesc(own(1), EXTRA, T_CALL32));
      m.setGdt(FREE + 1, data(T_CODE_RX, { present: false }));
    },
    fault: callFar(own(), 0),
  },
  {
    name: 'call gate offset beyond the target limit',
    vector: GP,
    error: 0,
    setup: (m) => {
      m.setGdt(FREE, gateDesc(own(1), 0x2000, T_CALL32));
      m.setGdt(FREE + 1, segDesc(0, 0xfff, T_CODE_RX));
    },
    fault: callFar(own(), 0),
  },
  // ---- the inner stack from the TSS (SDM "CALL": MORE-PRIVILEGE). The gate leads from ring 3 to
  // DPL-1 code (own(2)) so that SS1:ESP1 is checked while the #TS/#SS itself still reaches ring 0.
  {
    name: 'inner call with a null SS1 in the TSS',
    vector: TS,
    error: 0,
    ring3: true,
    setup: (m) => ring1(m, 0),
    fault: callFar(own(0, 3), 0),
  },
  {
    name: 'inner call with SS1.RPL ≠ the target DPL',
    vector: TS,
    error: own(1),
    ring3: true,
    setup: (m) => ring1(m, own(1, 0)),
    fault: callFar(own(0, 3), 0),
  },
  {
    name: 'inner call with a read-only SS1',
    vector: TS,
    error: own(1),
    ring3: true,
    setup: (m) => ring1(m, own(1, 1), data(T_DATA_RO, { dpl: 1 })),
    fault: callFar(own(0, 3), 0),
  },
  {
    name: 'inner call with an SS1 of another DPL',
    vector: TS,
    error: own(1),
    ring3: true,
    setup: (m) => ring1(m, own(1, 1), data(T_DATA_RW, { dpl: 2 })),
    fault: callFar(own(0, 3), 0),
  },
  {
    name: 'inner call with a not-present SS1',
    vector: SS,
    error: own(1),
    ring3: true,
    setup: (m) => ring1(m, own(1, 1), data(T_DATA_RW, { dpl: 1, present: false })),
    fault: callFar(own(0, 3), 0),
  },
  {
    name: 'inner call with no room on the new stack for the parameters',
    vector: SS,
    error: own(1),
    ring3: true,
    setup: (m) => ring1(m, own(1, 1), segDesc(0, 0x1fff, T_DATA_RW, { dpl: 1 }), 0x10, 2),
    fault: callFar(own(0, 3), 0),
  },
  {
    // Found after SS1:ESP1 were loaded: the CALL is rolled back, the #GP comes from ring 3.
    name: 'inner call whose gate offset is beyond the ring-1 code limit',
    vector: GP,
    error: 0,
    ring3: true,
    setup: (m) => {
      ring1(m, own(1, 1));
      m.setGdt(FREE + 2, segDesc(0, 0xfff, T_CODE_RX, { dpl: 1 }));
    },
    fault: callFar(own(0, 3), 0),
  },
  {
    name: 'inner call with the TSS too short for SS1:ESP1',
    vector: TS,
    error: TSSA,
    ring3: true,
    setup: (m) => {
      ring1(m, own(1, 1));
      m.setGdt(5, segDesc(TSS_A, 0x0b, T_TSS32));
    },
    fault: callFar(own(0, 3), 0),
  },
  // ---- RET / IRET ----
  {
    name: 'RETF to a more privileged level',
    vector: GP,
    error: KCODE,
    ring3: true,
    pre: [push32(KCODE), push32(0)],
    fault: retf(),
  },
  {
    name: 'RETF to an outer level with a null SS',
    vector: GP,
    error: 0,
    pre: [push32(0), push32(STACK3), push32(UCODE), push32(0x3000)],
    fault: retf(),
  },
  {
    name: 'RETF to an outer level with SS of the wrong DPL',
    vector: GP,
    error: own(),
    setup: (m) => m.setGdt(FREE, data(T_DATA_RW, { dpl: 2 })),
    pre: [push32(own(0, 3)), push32(STACK3), push32(UCODE), push32(0x3000)],
    fault: retf(),
  },
  {
    name: 'RETF to an outer level with a not-present SS',
    vector: SS,
    error: own(),
    setup: (m) => m.setGdt(FREE, data(T_DATA_RW, { dpl: 3, present: false })),
    pre: [push32(own(0, 3)), push32(STACK3), push32(UCODE), push32(0x3000)],
    fault: retf(),
  },
  {
    name: 'IRET to not-present code',
    vector: NP,
    error: own(),
    setup: (m) => m.setGdt(FREE, data(T_CODE_RX, { present: false })),
    pre: [push32(2), push32(own()), push32(0)],
    fault: [0xcf],
  },
  {
    name: 'IRET with NT to a back link that is not a busy TSS',
    vector: TS,
    error: own(),
    setup: (m) => {
      m.setGdt(FREE, segDesc(0x6600, 0x67, T_TSS32));
      m.dv.setUint16(TSS_A, own(), true);
    },
    pre: [[0x9c, 0x81, 0x0c, 0x24, 0, 0x40, 0, 0, 0x9d]],
    fault: [0xcf],
  },
  // ---- interrupts (SDM §6.12.1.1, §6.13) ----
  {
    name: 'INT n from ring 3 through a DPL-0 gate',
    vector: GP,
    error: 0x30 * 8 + 2,
    ring3: true,
    fault: INT(0x30),
  },
  {
    name: 'INT n through a not-present gate',
    vector: NP,
    error: 0x31 * 8 + 2,
    setup: (m) => m.setIdt(0x31, gateDesc(KCODE, 0, T_INT32, { present: false })),
    fault: INT(0x31),
  },
  {
    name: 'INT n beyond the IDT limit',
    vector: GP,
    error: 0x32 * 8 + 2,
    setup: (m) => {
      m.cpu.dtr[3] = 0x32 * 8 - 1;
    },
    fault: INT(0x32),
  },
  {
    name: 'INT n through a call gate in the IDT',
    vector: GP,
    error: 0x33 * 8 + 2,
    setup: (m) => m.setIdt(0x33, gateDesc(KCODE, 0, T_CALL32)),
    fault: INT(0x33),
  },
  {
    name: 'INT n to a gate whose selector is a data segment',
    vector: GP,
    error: KDATA,
    setup: (m) => m.setIdt(0x34, gateDesc(KDATA, 0, T_INT32)),
    fault: INT(0x34),
  },
  {
    name: 'INT n to a gate whose code is not present',
    vector: NP,
    error: own(),
    setup: (m) => {
      m.setGdt(FREE, data(T_CODE_RX, { present: false }));
      m.setIdt(0x35, gateDesc(own(), 0, T_INT32));
    },
    fault: INT(0x35),
  },
  {
    name: 'INT n from ring 3 to ring 1 with a null SS1',
    vector: TS,
    error: 0,
    ring3: true,
    setup: (m) => {
      ring1(m, 0);
      m.setIdt(0x36, gateDesc(own(2), 0, T_INT32, { dpl: 3 }));
    },
    fault: INT(0x36),
  },
  {
    name: 'INT n from ring 3 to ring 1 with a not-present SS1 (no EXT for INT n)',
    vector: SS,
    error: own(1),
    ring3: true,
    setup: (m) => {
      ring1(m, own(1, 1), data(T_DATA_RW, { dpl: 1, present: false }));
      m.setIdt(0x36, gateDesc(own(2), 0, T_INT32, { dpl: 3 }));
    },
    fault: INT(0x36),
  },
  // ---- system instructions ----
  {
    name: 'LLDT of a data descriptor',
    vector: GP,
    error: KDATA,
    pre: [movAx(KDATA)],
    fault: [0x0f, 0x00, 0xd0],
  },
  { name: 'LLDT with TI = 1', vector: GP, error: 0x0c, pre: [movAx(0x0c)], fault: [0x0f, 0x00, 0xd0] },
  {
    name: 'LLDT of a not-present LDT',
    vector: NP,
    error: own(),
    setup: (m) => m.setGdt(FREE, segDesc(0x7000, 0xff, T_LDT, { present: false })),
    pre: [movAx(own())],
    fault: [0x0f, 0x00, 0xd0],
  },
  { name: 'LTR of a busy TSS', vector: GP, error: TSSA, pre: [movAx(TSSA)], fault: [0x0f, 0x00, 0xd8] },
  {
    name: 'LTR of a not-present TSS',
    vector: NP,
    error: own(),
    setup: (m) => m.setGdt(FREE, segDesc(0x6600, 0x67, T_TSS32, { present: false })),
    pre: [movAx(own())],
    fault: [0x0f, 0x00, 0xd8],
  },
  { name: 'LTR at CPL 3', vector: GP, error: 0, ring3: true, pre: [movAx(TSSA)], fault: [0x0f, 0x00, 0xd8] },
  {
    name: 'MOV CR4 with a reserved bit',
    vector: GP,
    error: 0,
    pre: [[0xb8, 0, 0, 0, 0x80]],
    fault: [0x0f, 0x22, 0xe0],
  },
  {
    name: 'MOV CR0 with PG and not PE',
    vector: GP,
    error: 0,
    pre: [[0xb8, 0, 0, 0, 0x80]],
    fault: [0x0f, 0x22, 0xc0],
  },
  { name: 'MOV CR0 at CPL 3', vector: GP, error: 0, ring3: true, fault: [0x0f, 0x22, 0xc0] },
  { name: 'CLTS at CPL 3', vector: GP, error: 0, ring3: true, fault: [0x0f, 0x06] },
  { name: 'LGDT at CPL 3', vector: GP, error: 0, ring3: true, fault: [0x0f, 0x01, 0x15, 0, 0x10, 0, 0] },
  { name: 'INVD at CPL 3', vector: GP, error: 0, ring3: true, fault: [0x0f, 0x08] },
  { name: 'WBINVD at CPL 3', vector: GP, error: 0, ring3: true, fault: [0x0f, 0x09] },
  { name: 'MOV DR7 at CPL 3', vector: GP, error: 0, ring3: true, fault: [0x0f, 0x23, 0xf8] },
];

/**
 * A call gate own(0) (DPL 3) to ring-1 code own(2); TSS.SS1 = `ss1` (own(1) described by `ssDesc`),
 * ESP1 = `esp1`; the gate copies `count` parameters.
 */
function ring1(
  m: SysMachine,
  ss1: number,
  ssDesc = data(T_DATA_RW, { dpl: 1 }),
  esp1 = 0x7000,
  count = 0,
): void {
  m.setGdt(FREE, gateDesc(own(2), EXTRA, T_CALL32, { dpl: 3, count }));
  m.setGdt(FREE + 1, ssDesc);
  m.setGdt(FREE + 2, data(T_CODE_RX, { dpl: 1 }));
  m.dv.setUint32(TSS_A + 0x0c, esp1, true);
  m.dv.setUint16(TSS_A + 0x10, ss1, true);
}

function run(c: Case): SysMachine {
  const m = new SysMachine();
  c.setup?.(m);
  const body: Chunk[] = [...(c.pre ?? []), 'fault', c.fault, [0xf4]];
  if (c.ring3) m.code((u) => [toRing3(u.start!)], ['start', ...body]);
  else m.code(() => body);
  return m;
}

describe('descriptor-check failures raise the exact exception and error code', () => {
  it.each(cases)('$name', (c) => {
    const m = run(c);
    const cpu = m.cpu;
    const fault = (c.ring3 ? m.user : m.labels).fault!;
    expect(cpu.run(1000).reason).toBe('hlt');
    expect({ vector: (cpu.eip - 1 - HANDLERS) / 16, error: m.stack(0), eip: m.stack(1) }).toEqual({
      vector: c.vector,
      error: c.error,
      eip: fault,
    });
    // The faulting instruction changed nothing: CS and CPL are the caller's, the frame is on the
    // stack the SDM says (ring 0's from the TSS for a ring-3 fault).
    expect(m.stack(2)).toBe(c.ring3 ? UCODE : KCODE);
    if (c.frame) expect([m.stack(4), m.stack(5)]).toEqual(c.frame);
    else if (c.ring3) {
      expect(m.stack(5)).toBe(UDATA);
      expect(m.stack(4)).toBe(
        STACK3 - 4 * (c.pre?.filter((p) => Array.isArray(p) && p[0] === 0x68).length ?? 0),
      );
    } else expect(cpu.regs[4]! >>> 0).toBeLessThan(STACK0);
  });

  it('an external interrupt through a not-present gate sets EXT in the error code', () => {
    let pending = true;
    const m = new SysMachine({
      interrupts: {
        pending: () => pending,
        acknowledge: () => {
          pending = false;
          return 0x40;
        },
      },
    });
    m.setIdt(0x40, gateDesc(KCODE, 0, T_INT32, { present: false }));
    m.code(() => [[0xfb, 0x90, 0xf4]]); // STI; NOP; HLT
    expect(m.cpu.run(100).reason).toBe('hlt');
    expect(m.cpu.eip).toBe(HANDLERS + NP * 16 + 1);
    expect(m.stack(0)).toBe(0x40 * 8 + 2 + 1);
  });

  it('a conforming code segment may be loaded into DS at CPL 3 (no fault)', () => {
    const m = new SysMachine();
    m.setGdt(FREE, data(T_CODE_CONF_RX));
    m.setIdt(3, gateDesc(KCODE, HANDLERS + 3 * 16, T_INT32, { dpl: 3 }));
    m.code((u) => [toRing3(u.start!)], ['start', movAx(own(0, 3)), movSregAx(SREG_DS), INT(3)]);
    expect(m.cpu.run(100).reason).toBe('hlt');
    expect(m.cpu.eip).toBe(HANDLERS + 3 * 16 + 1);
    expect(m.cpu.getSegment(SREG_DS).selector).toBe(own(0, 3));
  });
});
