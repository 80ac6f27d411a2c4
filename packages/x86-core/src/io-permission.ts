/**
 * The I/O permission check of IN, OUT, INS and OUTS (SDM Vol. 1 §19.5.1–19.5.2, Vol. 3 §20.2.8.1).
 * In protected mode with CPL ≤ IOPL every port is accessible; otherwise (CPL > IOPL, or always in
 * virtual-8086 mode) the I/O permission bit map of the current 32-bit TSS decides: the 16-bit word at
 * TSS offset 0x66 is the map's offset from the TSS base, bit `port` of the map must be clear for
 * every byte of the access, and a map byte beyond the TSS limit counts as set.
 */
import { ACCESS_READ } from './bus';
import { CR0_PE, EXC_GP, FLAG_VM, SREG_TR } from './constants';
import type { Cpu } from './cpu';

/** Offset of the I/O map base field in a 32-bit TSS (SDM Figure 8-2). */
export const TSS_IOMAP_BASE = 0x66;
/** TR cache types of a 32-bit TSS (available 9 / busy 11); 16-bit TSSs (1 / 3) have no I/O map. */
const TSS32_AVAILABLE = 0x09;
const TSS32_BUSY = 0x0b;

/**
 * True when an access of `size` bytes at `port` is allowed without consulting the bit map, i.e. in
 * real mode, or in protected mode at CPL ≤ IOPL.
 */
export function ioPrivileged(cpu: Cpu): boolean {
  if ((cpu.cr[0]! & CR0_PE) === 0) return true;
  if ((cpu.flags & FLAG_VM) !== 0) return false;
  return cpu.cplValue <= ((cpu.flags >> 12) & 3);
}

/**
 * The bit-map test (SDM Vol. 1 §19.5.2): #GP(0) unless TR holds a 32-bit TSS whose map covers
 * every byte of the port range with clear bits. Two bytes are read (the range may cross a byte
 * boundary), so both must lie within the TSS limit — as the processor does.
 */
export function checkIoBitmap(cpu: Cpu, port: number, size: number): void {
  const type = cpu.segAttr[SREG_TR]! & 0x1f;
  if (type !== TSS32_AVAILABLE && type !== TSS32_BUSY) cpu.raise(EXC_GP, 0);
  const limit = cpu.segRawLimit[SREG_TR]!;
  if (limit < TSS_IOMAP_BASE + 1) cpu.raise(EXC_GP, 0);
  const base = cpu.segBase[SREG_TR]!;
  const mapBase = tssRead16(cpu, (base + TSS_IOMAP_BASE) | 0);
  const offset = mapBase + ((port & 0xffff) >>> 3);
  if (offset + 1 > limit) cpu.raise(EXC_GP, 0);
  const bits = tssRead16(cpu, (base + offset) | 0);
  const mask = ((1 << size) - 1) << (port & 7);
  if ((bits & mask) !== 0) cpu.raise(EXC_GP, 0);
}

/** A supervisor read of a TSS word (an implicit system access; a #PF unwinds the instruction). */
function tssRead16(cpu: Cpu, lin: number): number {
  cpu.syncClock();
  return cpu.memory.read16(lin >>> 0, ACCESS_READ) & 0xffff;
}
