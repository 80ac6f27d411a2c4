/**
 * The protection-query and system-register instructions (SDM Vol. 2 "LAR", "LSL", "VERR/VERW",
 * "SLDT", "STR", "LMSW", "SMSW", "CLTS", "LLDT", "LTR"): results, ZF and the privilege rules.
 */
import { describe, expect, it } from 'vitest';
import type { Chunk } from './debug-asm';
import {
  FREE,
  gateDesc,
  HANDLERS,
  INT,
  jmpFar,
  KCODE,
  KDATA,
  SysMachine,
  segDesc,
  T_CALL32,
  T_CODE_CONF_RX,
  T_CODE_RX,
  T_CODE_XO,
  T_DATA_RO,
  T_DATA_RW,
  T_INT32,
  T_LDT,
  T_TSS32,
  TSSA,
  toRing3,
  UCODE,
  UDATA,
} from './protection-harness';

const ZF = 1 << 6;
const own = (k = 0, rpl = 0) => ((FREE + k) << 3) | rpl;
/** MOV CX, sel; <op> EAX, CX; PUSHFD; POP EBX (so EAX holds the result and EBX the flags). */
const query = (op: number, sel: number): number[] => [
  0x66,
  0xb9,
  sel & 0xff,
  sel >> 8,
  0x0f,
  op,
  0xc1,
  0x9c,
  0x5b,
];
const LAR = 0x02;
const LSL = 0x03;
/** VERR/VERW CX (0F 00 /4, /5), then PUSHFD; POP EBX. */
const verr = (sel: number): number[] => [0x66, 0xb9, sel & 0xff, sel >> 8, 0x0f, 0x00, 0xe1, 0x9c, 0x5b];
const verw = (sel: number): number[] => [0x66, 0xb9, sel & 0xff, sel >> 8, 0x0f, 0x00, 0xe9, 0x9c, 0x5b];

function machine(code: Chunk[], ring3 = false): SysMachine {
  const m = new SysMachine();
  m.setGdt(FREE, segDesc(0x12345, 0x2f, T_DATA_RO, { dpl: 2, big: false }));
  m.setGdt(FREE + 1, segDesc(0, 0xabcde, T_CODE_XO, { granular: true }));
  m.setGdt(FREE + 2, gateDesc(KCODE, 0x1000, T_CALL32, { dpl: 3 }));
  m.setGdt(FREE + 3, gateDesc(KCODE, 0x1000, T_INT32, { dpl: 3 }));
  m.setGdt(FREE + 4, segDesc(0x7000, 0x1ff, T_LDT, { dpl: 3 }));
  m.setGdt(FREE + 5, segDesc(0, 0xfffff, T_CODE_CONF_RX, { granular: true }));
  m.setIdt(3, gateDesc(KCODE, HANDLERS + 3 * 16, T_INT32, { dpl: 3 }));
  // The LDT at 0x7000: entry 1 is flat DPL-3 data.
  const [lo, hi] = segDesc(0, 0xfffff, T_DATA_RW, { granular: true, dpl: 3 });
  m.dv.setUint32(0x7008, lo, true);
  m.dv.setUint32(0x700c, hi, true);
  const body: Chunk[] = [...code, INT(3)];
  if (ring3) m.code((u) => [toRing3(u.start!)], ['start', ...body]);
  else m.code(() => body);
  expect(m.cpu.run(200).reason).toBe('hlt');
  expect(m.cpu.eip).toBe(HANDLERS + 3 * 16 + 1);
  return m;
}
const eax = (m: SysMachine) => m.cpu.regs[0]! >>> 0;
const zf = (m: SysMachine) => (m.cpu.regs[3]! & ZF) !== 0;

describe('LAR and LSL', () => {
  it.each([
    ['read-only data, DPL 2, byte limit', own(), 0x0000d000, 0x2f],
    ['execute-only code, page granular', own(1), 0x00c09800, 0xabcdefff],
    ['an LDT descriptor', own(4), 0x0000e200, 0x1ff],
    ['the busy TSS', TSSA, 0x00008b00, 0x67],
  ])('%s: access rights and limit', (_name, sel, rights, limit) => {
    const m = machine([query(LAR, sel), [0x89, 0xc6], [0x89, 0xdd], query(LSL, sel)]);
    // ESI = LAR result, EBP = flags after LAR; EAX = LSL result, EBX = flags after LSL.
    expect((m.cpu.regs[6]! >>> 0) & 0x00f0ff00).toBe(rights & 0x00f0ff00);
    expect(m.cpu.regs[5]! & ZF).toBe(ZF);
    expect(eax(m)).toBe(limit);
    expect(zf(m)).toBe(true);
  });

  it('LAR accepts a call gate, LSL does not; neither accepts an interrupt gate or the null selector', () => {
    expect(zf(machine([query(LAR, own(2))]))).toBe(true);
    expect(zf(machine([query(LSL, own(2))]))).toBe(false);
    expect(zf(machine([query(LAR, own(3))]))).toBe(false);
    expect(zf(machine([query(LSL, 0)]))).toBe(false);
    expect(zf(machine([query(LAR, 0x7ff8)]))).toBe(false); // beyond the GDT: ZF = 0, no fault
  });

  it('at CPL 3 a DPL-0 descriptor is invisible, a conforming code segment is not', () => {
    expect(zf(machine([query(LAR, KDATA | 3)], true))).toBe(false);
    expect(zf(machine([query(LAR, own(5, 3))], true))).toBe(true);
    expect(zf(machine([query(LAR, UDATA)], true))).toBe(true);
  });

  it('the destination is unchanged when ZF = 0', () => {
    const m = machine([[0xb8, 0x78, 0x56, 0x34, 0x12], query(LAR, own(3))]);
    expect(eax(m)).toBe(0x12345678);
  });
});

describe('VERR and VERW', () => {
  it.each([
    ['writable data', KDATA, true, true],
    ['read-only data', own(), true, false],
    ['readable code', KCODE, true, false],
    ['execute-only code', own(1), false, false],
    ['a system descriptor', own(4), false, false],
    ['the null selector', 0, false, false],
  ])('%s at CPL 0: readable %s, writable %s', (_n, sel, r, w) => {
    expect(zf(machine([verr(sel)]))).toBe(r);
    expect(zf(machine([verw(sel)]))).toBe(w);
  });

  it('at CPL 3 only DPL-3 segments and conforming readable code verify', () => {
    expect(zf(machine([verr(KDATA | 3)], true))).toBe(false);
    expect(zf(machine([verr(UDATA)], true))).toBe(true);
    expect(zf(machine([verw(UDATA)], true))).toBe(true);
    expect(zf(machine([verr(UCODE)], true))).toBe(true);
    expect(zf(machine([verr(own(5, 3))], true))).toBe(true);
  });
});

describe('LDTR, TR and the machine status word', () => {
  it('LLDT loads the LDT (SLDT reads it back), a selector with TI = 1 then reaches it; STR reads TR', () => {
    const m = machine([
      [0x66, 0xb8, own(4) & 0xff, 0, 0x0f, 0x00, 0xd0], // mov ax, sel; lldt ax
      [0x0f, 0x00, 0xc6], // sldt esi
      [0x0f, 0x00, 0xcf], // str edi
      [0x66, 0xb8, 0x0f, 0x00, 0x8e, 0xe0], // mov ax, 0x0F; mov fs, ax (LDT entry 1, RPL 3)
    ]);
    expect(m.cpu.regs[6]).toBe(own(4));
    expect(m.cpu.regs[7]).toBe(TSSA);
    expect(m.cpu.getSegment(4).selector).toBe(0x0f);
  });

  it('LMSW sets TS/EM/MP and cannot clear PE; SMSW reads them; CLTS clears TS', () => {
    const m = machine([
      [0x66, 0xb8, 0x0e, 0x00, 0x0f, 0x01, 0xf0], // mov ax, 0x0E (no PE); lmsw ax
      [0x0f, 0x01, 0xe6], // smsw esi
      [0x0f, 0x06], // clts
      [0x0f, 0x01, 0xe7], // smsw edi
    ]);
    expect(m.cpu.regs[6]! & 0xf).toBe(0xf);
    expect(m.cpu.regs[7]! & 0xf).toBe(0x7);
    expect(m.cpu.cr0 & 1).toBe(1);
  });

  it('SMSW works at CPL 3 (no UMIP), LMSW and LLDT do not', () => {
    const m = machine([[0x0f, 0x01, 0xe6]], true);
    expect(m.cpu.regs[6]! & 1).toBe(1);
    const t = new SysMachine();
    t.code((u) => [toRing3(u.start!)], ['start', 'lmsw', [0x0f, 0x01, 0xf0]]);
    expect(t.cpu.run(100).reason).toBe('hlt');
    expect(t.cpu.eip).toBe(HANDLERS + 13 * 16 + 1);
    expect(t.stack(1)).toBe(t.user.lmsw);
  });

  it('LTR marks the TSS busy; a second LTR of it is #GP(selector)', () => {
    const m = new SysMachine();
    m.setGdt(FREE, segDesc(0x6800, 0x67, T_TSS32));
    m.code(() => [[0x66, 0xb8, own(), 0, 0x0f, 0x00, 0xd8], 'again', [0x0f, 0x00, 0xd8]]);
    expect(m.cpu.run(100).reason).toBe('hlt');
    expect(m.gdtType(FREE)).toBe(0x0b);
    expect(m.cpu.getSegment(7).selector).toBe(own());
    expect(m.cpu.eip).toBe(HANDLERS + 13 * 16 + 1);
    expect([m.stack(0), m.stack(1)]).toEqual([own(), m.labels.again]);
  });
});

describe('accessed bits', () => {
  it('loading DS, SS and CS sets the accessed bit of each descriptor, once', () => {
    const m = new SysMachine();
    m.setGdt(FREE, segDesc(0, 0xfffff, T_DATA_RW, { granular: true }));
    m.setGdt(FREE + 1, segDesc(0, 0xfffff, T_DATA_RW, { granular: true }));
    m.setGdt(FREE + 2, segDesc(0, 0xfffff, T_CODE_RX, { granular: true }));
    m.code(() => [
      [0x66, 0xb8, own(), 0, 0x8e, 0xd8], // mov ds
      [0x66, 0xb8, own(1), 0, 0x8e, 0xd0], // mov ss
      (l) => jmpFar(own(2), l.next!),
      'next',
      [0xf4],
    ]);
    for (const k of [0, 1, 2]) expect(m.gdtHigh(FREE + k) & 0x100).toBe(0);
    expect(m.cpu.run(100).reason).toBe('hlt');
    for (const k of [0, 1, 2]) expect(m.gdtHigh(FREE + k) & 0x100).toBe(0x100);
    expect(m.cpu.getSegment(1).selector).toBe(own(2));
  });
});

describe('descriptor-table registers', () => {
  it('SGDT/SIDT store the limit and the 32-bit base', () => {
    const m = machine([
      [0x0f, 0x01, 0x05, 0x00, 0x70, 0, 0], // sgdt [0x7000]
      [0x0f, 0x01, 0x0d, 0x10, 0x70, 0, 0], // sidt [0x7010]
    ]);
    expect(m.r16(0x7000)).toBe(32 * 8 - 1);
    expect(m.r32(0x7002)).toBe(0x800);
    expect(m.r16(0x7010)).toBe(256 * 8 - 1);
    expect(m.r32(0x7012)).toBe(0);
  });

  it('LIDT with a 16-bit operand drops the top byte of the base; the IDT is then used from there', () => {
    const m = new SysMachine();
    m.dv.setUint16(0x7020, 0x7ff, true);
    m.dv.setUint32(0x7022, 0xab000000, true);
    m.code(() => [
      [0x66, 0x0f, 0x01, 0x1d, 0x20, 0x70, 0, 0], // o16 lidt [0x7020]
      [0x0f, 0x01, 0x0d, 0x10, 0x70, 0, 0], // sidt [0x7010]
      INT(0x40),
    ]);
    expect(m.cpu.run(100).reason).toBe('hlt');
    expect(m.r16(0x7010)).toBe(0x7ff);
    expect(m.r32(0x7012)).toBe(0);
    expect(m.cpu.eip).toBe(HANDLERS + 0x40 * 16 + 1);
  });
});
