/**
 * Machines for the v86, SYSENTER and I/O-permission tests: the flat GDT of helpers.ts with
 * ring-3 flat segments (0x1B code, 0x23 data) and a 32-bit TSS (selector 0x28) whose ring-0 stack
 * is 0x10:0x9000, loaded by LTR in the ring-0 prologue.
 */
import type { CpuOptions } from '../src/cpu';
import { assemble, type Chunk, EAX, movImm } from './debug-asm';
import { CODE, GDT, le32, type Machine, protectedMachine } from './helpers';

export const TSS_BASE = 0xa000;
export const TSS_SEL = 0x28;
export const RING0_STACK = 0x9000;
export const USER_CS = 0x1b;
export const USER_SS = 0x23;
/** Default TSS limit: the 104-byte TSS, an I/O map at 0x68 for all 65536 ports and its 0xFF end byte. */
export const TSS_LIMIT = 0x68 + 0x2000;

export interface SysOptions extends Partial<CpuOptions> {
  /** TSS limit (default TSS_LIMIT). */
  tssLimit?: number;
  /** I/O map base field at TSS offset 0x66 (default 0x68). */
  ioMapBase?: number;
  /** TSS descriptor type: 9 (32-bit) or 1 (16-bit). */
  tssType?: number;
}

/** LTR AX after MOV EAX, 0x28. */
export const loadTr: number[] = [...movImm(EAX, TSS_SEL), 0x0f, 0x00, 0xd8];
/** PUSH imm32. */
export const pushImm = (v: number): number[] => [0x68, ...le32(v >>> 0)];

export function sysMachine(
  ring0: Chunk[],
  opts: SysOptions = {},
): Machine & { labels: Record<string, number> } {
  const { bytes, labels } = assemble(CODE, ring0);
  const { tssLimit: _l, ioMapBase: _b, tssType: _t, ...cpuOptions } = opts;
  const m = protectedMachine(bytes, cpuOptions);
  const dv = new DataView(m.mem.bytes.buffer);
  const put = (i: number, lo: number, hi: number) => {
    dv.setUint32(GDT + i * 8, lo >>> 0, true);
    dv.setUint32(GDT + i * 8 + 4, hi >>> 0, true);
  };
  put(3, 0x0000ffff, 0x00cffa00);
  put(4, 0x0000ffff, 0x00cff200);
  const limit = opts.tssLimit ?? TSS_LIMIT;
  const type = opts.tssType ?? 9;
  put(
    5,
    ((TSS_BASE & 0xffff) << 16) | (limit & 0xffff),
    ((TSS_BASE >>> 16) & 0xff) | ((0x80 | type) << 8) | (limit & 0xf0000) | (TSS_BASE & 0xff000000),
  );
  m.cpu.dtr[1] = 6 * 8 - 1;
  if (type === 9) {
    dv.setUint32(TSS_BASE + 4, RING0_STACK, true);
    dv.setUint32(TSS_BASE + 8, 0x10, true);
    dv.setUint16(TSS_BASE + 0x66, opts.ioMapBase ?? 0x68, true);
  } else {
    dv.setUint16(TSS_BASE + 2, RING0_STACK, true);
    dv.setUint16(TSS_BASE + 4, 0x10, true);
  }
  m.mem.bytes.fill(0, TSS_BASE + 0x68, TSS_BASE + 0x68 + 0x2000);
  m.mem.bytes[TSS_BASE + 0x68 + 0x2000] = 0xff;
  return { ...m, labels };
}

/** Sets (denies) or clears (allows) the I/O map bits of ports [port, port + n). */
export function setIoMap(m: Machine, port: number, n: number, deny: boolean, mapBase = 0x68): void {
  for (let p = port; p < port + n; p++) {
    const a = TSS_BASE + mapBase + (p >> 3);
    if (deny) m.mem.bytes[a] = m.mem.bytes[a]! | (1 << (p & 7));
    else m.mem.bytes[a] = m.mem.bytes[a]! & ~(1 << (p & 7));
  }
}

/** The v86 guest's segments (selectors) used by the v86 tests. */
export const V86 = { cs: 0x2000, ss: 0x3000, sp: 0xfff0, ds: 0x4000, es: 0x5000, fs: 0x6000, gs: 0x7000 };

/** Ring-0 code that enters v86 at V86.cs:0 with `eflags` (VM is added) by IRETD. */
export function enterV86(eflags: number): Chunk[] {
  return [
    ...[V86.gs, V86.fs, V86.ds, V86.es, V86.ss, V86.sp].map(pushImm),
    pushImm(eflags | (1 << 17) | 2),
    pushImm(V86.cs),
    pushImm(0),
    [0xcf],
  ];
}
