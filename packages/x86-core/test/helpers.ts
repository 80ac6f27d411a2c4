/** Test helpers: a flat protected-mode machine with a GDT and an IDT built in guest memory. */

import type { CpuOptions } from '../src/cpu';
import type { IoBus } from '../src/index';
import { Cpu, FlatMemory } from '../src/index';

export const GDT = 0x800;
export const IDT = 0x0;
export const CODE = 0x1000;
/** Handler stubs: vector v's handler is at HANDLERS + v * 16. */
export const HANDLERS = 0x4000;
export const STACK_TOP = 0x9000;

/** Flat 4 GiB descriptors: 0x08 code (32-bit), 0x10 data (32-bit), 0x18 code (16-bit), 0x20 data limit 0xFFF. */
export function writeGdt(mem: FlatMemory): void {
  const dv = new DataView(mem.bytes.buffer);
  const put = (i: number, lo: number, hi: number) => {
    dv.setUint32(GDT + i * 8, lo, true);
    dv.setUint32(GDT + i * 8 + 4, hi, true);
  };
  put(0, 0, 0);
  put(1, 0x0000ffff, 0x00cf9a00);
  put(2, 0x0000ffff, 0x00cf9200);
  put(3, 0x0000ffff, 0x00009a00);
  put(4, 0x00000fff, 0x00409200);
}

/** A 32-bit interrupt gate (type 0xE) or trap gate (0xF) for `vector` at `offset`. */
export function setGate(mem: FlatMemory, vector: number, offset: number, type = 0xe, present = true): void {
  const dv = new DataView(mem.bytes.buffer);
  dv.setUint32(IDT + vector * 8, (0x08 << 16) | (offset & 0xffff), true);
  dv.setUint32(IDT + vector * 8 + 4, (offset & 0xffff0000) | ((present ? 0x80 : 0) << 8) | (type << 8), true);
}

export interface Machine {
  cpu: Cpu;
  mem: FlatMemory;
}

/** A flat 32-bit protected-mode CPU at CODE with GDT/IDT loaded (256 gates to HANDLERS + v·16). */
export function protectedMachine(
  code: number[],
  options: Partial<CpuOptions> & { io?: IoBus } = {},
): Machine {
  const mem = new FlatMemory(4 << 20);
  writeGdt(mem);
  for (let v = 0; v < 256; v++) setGate(mem, v, HANDLERS + v * 16);
  mem.load(CODE, Uint8Array.from(code));
  const cpu = new Cpu({ memory: mem, ...options });
  cpu.enterFlatProtectedMode(CODE);
  cpu.dtr[0] = GDT;
  cpu.dtr[1] = 5 * 8 - 1;
  cpu.dtr[2] = IDT;
  cpu.dtr[3] = 256 * 8 - 1;
  cpu.regs[4] = STACK_TOP;
  return { cpu, mem };
}

/** Writes handler code for `vector`. */
export function setHandler(m: Machine, vector: number, code: number[]): void {
  m.mem.load(HANDLERS + vector * 16, Uint8Array.from(code));
}

export function read32(mem: FlatMemory, addr: number): number {
  return new DataView(mem.bytes.buffer).getUint32(addr, true);
}

/** Little-endian bytes of a 32-bit value. */
export function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}
