/**
 * A protected-mode machine for the protection, gate and task tests: a GDT with ring-0 and ring-3
 * flat segments and two 32-bit TSSs, an IDT whose every gate leads to a HLT stub, ring-0 code
 * (which starts with LTR) and optional ring-3 code, both assembled with labels (debug-asm.ts).
 * Descriptor and gate encoders follow SDM Vol. 3 §3.4.5 (Figure 3-8) and §5.8.3 / §6.11.
 */
import type { CpuOptions } from '../src/cpu';
import { Cpu, FlatMemory } from '../src/index';
import { assemble, type Chunk, type Labels } from './debug-asm';
import { le32 } from './helpers';

export const IDT = 0x0;
export const GDT = 0x800;
export const GDT_ENTRIES = 32;
export const CODE = 0x1000;
export const USER = 0x3000;
/** Vector v's default handler is a HLT at HANDLERS + v·16 (the rest of its 16 bytes is free). */
export const HANDLERS = 0x4000;
/** Free space for handlers that tests write. */
export const EXTRA = 0x5000;
export const TSS_A = 0x6000;
export const TSS_B = 0x6200;
export const TSS_C = 0x6400;
export const STACK0 = 0x9000;
export const STACK3 = 0x8000;
export const STACK_B = 0xa000;

/** Selectors of the fixed GDT entries. */
export const KCODE = 0x08;
export const KDATA = 0x10;
export const UCODE = 0x1b;
export const UDATA = 0x23;
export const TSSA = 0x28;
export const TSSB = 0x30;
/** First GDT index free for a test's own descriptors (selector FREE << 3). */
export const FREE = 7;

/** Segment descriptor type fields (S bit included, SDM Table 3-1). */
export const T_DATA_RO = 0x10;
export const T_DATA_RW = 0x12;
export const T_DATA_RW_DOWN = 0x16;
export const T_CODE_XO = 0x18;
export const T_CODE_RX = 0x1a;
export const T_CODE_CONF_RX = 0x1e;
/** System types (SDM Table 3-2). */
export const T_TSS16 = 0x01;
export const T_LDT = 0x02;
export const T_TSS16_BUSY = 0x03;
export const T_CALL16 = 0x04;
export const T_TASK = 0x05;
export const T_INT16 = 0x06;
export const T_TSS32 = 0x09;
export const T_TSS32_BUSY = 0x0b;
export const T_CALL32 = 0x0c;
export const T_INT32 = 0x0e;
export const T_TRAP32 = 0x0f;

export interface DescOptions {
  dpl?: number;
  present?: boolean;
  /** D/B: 32-bit (default true for code/data). */
  big?: boolean;
  /** G: 4-KiB granularity. */
  granular?: boolean;
}

/** A segment or system descriptor as [low dword, high dword]. */
export function segDesc(base: number, limit: number, type: number, o: DescOptions = {}): [number, number] {
  const dpl = o.dpl ?? 0;
  const p = o.present ?? true;
  const big = o.big ?? (type & 0x10) !== 0;
  const lo = (((base & 0xffff) << 16) | (limit & 0xffff)) >>> 0;
  const hi =
    ((base >>> 16) & 0xff) |
    (type << 8) |
    (dpl << 13) |
    (p ? 0x8000 : 0) |
    (limit & 0xf0000) |
    (big ? 0x400000 : 0) |
    (o.granular ? 0x800000 : 0) |
    (base & 0xff000000);
  return [lo, hi >>> 0];
}

/** A call, interrupt, trap or task gate as [low dword, high dword]. */
export function gateDesc(
  sel: number,
  offset: number,
  type: number,
  o: { dpl?: number; present?: boolean; count?: number } = {},
): [number, number] {
  const lo = ((sel << 16) | (offset & 0xffff)) >>> 0;
  const hi =
    (offset & 0xffff0000) |
    ((o.present ?? true) ? 0x8000 : 0) |
    ((o.dpl ?? 0) << 13) |
    (type << 8) |
    ((o.count ?? 0) & 0x1f);
  return [lo, hi >>> 0];
}

/** Fields of a 32-bit TSS (SDM Figure 7-2); missing ones are 0. */
export interface Tss32 {
  link?: number;
  esp0?: number;
  ss0?: number;
  esp1?: number;
  ss1?: number;
  esp2?: number;
  ss2?: number;
  cr3?: number;
  eip?: number;
  eflags?: number;
  regs?: number[];
  es?: number;
  cs?: number;
  ss?: number;
  ds?: number;
  fs?: number;
  gs?: number;
  ldt?: number;
  trap?: boolean;
  ioBase?: number;
}

/** Fields of a 16-bit TSS (SDM Figure 7-11). */
export interface Tss16 {
  link?: number;
  sp0?: number;
  ss0?: number;
  ip?: number;
  flags?: number;
  regs?: number[];
  es?: number;
  cs?: number;
  ss?: number;
  ds?: number;
  ldt?: number;
}

export class SysMachine {
  readonly mem = new FlatMemory(4 << 20);
  readonly dv = new DataView(this.mem.bytes.buffer);
  readonly cpu: Cpu;
  /** Labels of the ring-0 code (at CODE) and of the ring-3 code (at USER). */
  labels: Labels = {};
  user: Labels = {};

  constructor(options: Partial<CpuOptions> = {}) {
    this.setGdt(1, segDesc(0, 0xfffff, T_CODE_RX, { granular: true }));
    this.setGdt(2, segDesc(0, 0xfffff, T_DATA_RW, { granular: true }));
    this.setGdt(3, segDesc(0, 0xfffff, T_CODE_RX, { granular: true, dpl: 3 }));
    this.setGdt(4, segDesc(0, 0xfffff, T_DATA_RW, { granular: true, dpl: 3 }));
    this.setGdt(5, segDesc(TSS_A, 0x67, T_TSS32));
    this.setGdt(6, segDesc(TSS_B, 0x67, T_TSS32));
    for (let v = 0; v < 256; v++) {
      this.setIdt(v, gateDesc(KCODE, HANDLERS + v * 16, T_INT32));
      this.mem.bytes[HANDLERS + v * 16] = 0xf4;
    }
    this.tss32(TSS_A, { ss0: KDATA, esp0: STACK0 });
    this.cpu = new Cpu({ ...options, memory: this.mem });
    this.cpu.enterFlatProtectedMode(CODE);
    this.cpu.dtr[0] = GDT;
    this.cpu.dtr[1] = GDT_ENTRIES * 8 - 1;
    this.cpu.dtr[2] = IDT;
    this.cpu.dtr[3] = 256 * 8 - 1;
    this.cpu.regs[4] = STACK0;
  }

  /** Assembles ring-3 code at USER (first, so ring-0 code can refer to its labels) and ring-0 code at CODE, after `MOV AX, 0x28; LTR AX`. */
  code(ring0: (user: Labels) => Chunk[], ring3: Chunk[] = []): this {
    const u = assemble(USER, ring3);
    this.user = u.labels;
    this.load(USER, u.bytes);
    const k = assemble(CODE, [[0x66, 0xb8, TSSA, 0x00, 0x0f, 0x00, 0xd8], ...ring0(u.labels)]);
    this.labels = k.labels;
    this.load(CODE, k.bytes);
    return this;
  }

  load(addr: number, bytes: number[]): void {
    this.mem.bytes.set(bytes, addr);
  }
  setGdt(index: number, d: [number, number]): void {
    this.dv.setUint32(GDT + index * 8, d[0], true);
    this.dv.setUint32(GDT + index * 8 + 4, d[1], true);
  }
  gdtHigh(index: number): number {
    return this.dv.getUint32(GDT + index * 8 + 4, true);
  }
  /** The 5-bit type field of GDT entry `index`. */
  gdtType(index: number): number {
    return (this.gdtHigh(index) >>> 8) & 0x1f;
  }
  setIdt(vector: number, d: [number, number]): void {
    this.dv.setUint32(IDT + vector * 8, d[0], true);
    this.dv.setUint32(IDT + vector * 8 + 4, d[1], true);
  }
  r32(addr: number): number {
    return this.dv.getUint32(addr, true);
  }
  r16(addr: number): number {
    return this.dv.getUint16(addr, true);
  }
  /** The dword at ESP + `i`·4 (stacks here are flat). */
  stack(i: number): number {
    return this.r32((this.cpu.regs[4]! + i * 4) >>> 0);
  }
  stack16(i: number): number {
    return this.r16((this.cpu.regs[4]! + i * 2) >>> 0);
  }

  tss32(base: number, t: Tss32): void {
    const w32 = (o: number, v: number | undefined) => this.dv.setUint32(base + o, (v ?? 0) >>> 0, true);
    const w16 = (o: number, v: number | undefined) => this.dv.setUint16(base + o, v ?? 0, true);
    this.mem.bytes.fill(0, base, base + 0x68);
    w16(0, t.link);
    w32(4, t.esp0);
    w16(8, t.ss0);
    w32(0x0c, t.esp1);
    w16(0x10, t.ss1);
    w32(0x14, t.esp2);
    w16(0x18, t.ss2);
    w32(0x1c, t.cr3);
    w32(0x20, t.eip);
    w32(0x24, t.eflags ?? 2);
    for (let i = 0; i < 8; i++) w32(0x28 + 4 * i, t.regs?.[i]);
    w16(0x48, t.es);
    w16(0x4c, t.cs);
    w16(0x50, t.ss);
    w16(0x54, t.ds);
    w16(0x58, t.fs);
    w16(0x5c, t.gs);
    w16(0x60, t.ldt);
    w16(0x64, t.trap ? 1 : 0);
    w16(0x66, t.ioBase ?? 0x68);
  }

  tss16(base: number, t: Tss16): void {
    const w16 = (o: number, v: number | undefined) => this.dv.setUint16(base + o, v ?? 0, true);
    this.mem.bytes.fill(0, base, base + 0x2c);
    w16(0, t.link);
    w16(2, t.sp0);
    w16(4, t.ss0);
    w16(0x0e, t.ip);
    w16(0x10, t.flags ?? 2);
    for (let i = 0; i < 8; i++) w16(0x12 + 2 * i, t.regs?.[i]);
    w16(0x22, t.es);
    w16(0x24, t.cs);
    w16(0x26, t.ss);
    w16(0x28, t.ds);
    w16(0x2a, t.ldt);
  }
}

// ---- a few more encodings (SDM Vol. 2 Appendix A) -------------------------------------------------

/** MOV AX, imm16 then MOV Sreg, AX (Sreg by its SREG_* number). */
export const movSreg = (sreg: number, sel: number): number[] => [
  0x66,
  0xb8,
  sel & 0xff,
  sel >> 8,
  0x8e,
  0xc0 | (sreg << 3),
];
/** JMP FAR ptr16:32. */
export const jmpFar = (sel: number, off: number): number[] => [0xea, ...le32(off), sel & 0xff, sel >> 8];
/** CALL FAR ptr16:32. */
export const callFar = (sel: number, off: number): number[] => [0x9a, ...le32(off), sel & 0xff, sel >> 8];
/** RETF / RETF imm16. */
export const retf = (imm = 0): number[] => (imm ? [0xca, imm & 0xff, imm >> 8] : [0xcb]);
export const INT = (v: number): number[] => [0xcd, v];
/** PUSH imm32 and PUSH imm16 (66 68). */
export const push32 = (v: number): number[] => [0x68, ...le32(v >>> 0)];
export const push16 = (v: number): number[] => [0x66, 0x68, v & 0xff, (v >> 8) & 0xff];
/** MOV ESP, imm32. */
export const movEsp = (v: number): number[] => [0xbc, ...le32(v)];

/** Ring-0 code that enters ring 3 at `eip` with ESP = STACK3 by IRETD (flat ring-3 segments). */
export function toRing3(eip: number, esp = STACK3): number[] {
  // PUSHFD; OR dword [ESP], IF: ring 3 runs with interrupts enabled.
  return [
    ...push32(UDATA),
    ...push32(esp),
    0x9c,
    0x81,
    0x0c,
    0x24,
    0x00,
    0x02,
    0,
    0,
    ...push32(UCODE),
    ...push32(eip),
    0xcf,
  ];
}
