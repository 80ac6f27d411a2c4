/**
 * Port I/O and HLT: the exits to the host that the CPU itself performs (DESIGN.md §3). Each port
 * access and each HLT is counted by kind and charged its exit cost in virtual cycles, and the clock
 * is synced before the bus is called so a device sees the exact instant.
 */
import { EXIT_HLT, EXIT_IO } from './bus';
import { EXC_GP, FLAG_VM } from './constants';
import type { Cpu } from './cpu';
import { ioBreakpoints } from './debug';
import { checkIoBitmap, ioPrivileged } from './io-permission';
import { isProtected } from './segment';
import { STOP_HLT } from './signals';

/**
 * I/O permission (SDM Vol. 1 §19.5): in protected mode with CPL > IOPL, or in virtual-8086 mode, the
 * TSS I/O permission bit map decides (io-permission.ts).
 */
export function checkIo(cpu: Cpu, port: number, size: number): void {
  if (!ioPrivileged(cpu)) checkIoBitmap(cpu, port, size);
}

/** IN: reads `size` bytes from `port`; nothing attached reads all-ones. */
export function ioIn(cpu: Cpu, port: number, size: 1 | 2 | 4): number {
  // An enabled I/O breakpoint (CR4.DE) on the port: a #DB trap after the instruction (debug.ts).
  if (cpu.dbgIo !== 0) ioBreakpoints(cpu, port, size);
  cpu.countExit(EXIT_IO);
  const io = cpu.io;
  const mask = size === 1 ? 0xff : size === 2 ? 0xffff : -1;
  if (io === null) return mask;
  return io.in(port & 0xffff, size) & mask;
}

/** OUT: writes `value` (truncated to `size`) to `port`. */
export function ioOut(cpu: Cpu, port: number, size: 1 | 2 | 4, value: number): void {
  if (cpu.dbgIo !== 0) ioBreakpoints(cpu, port, size);
  cpu.countExit(EXIT_IO);
  const io = cpu.io;
  if (io === null) return;
  io.out(port & 0xffff, size, size === 4 ? value >>> 0 : value & (size === 1 ? 0xff : 0xffff));
}

/** HLT (privileged): stop until an interrupt; run() returns 'hlt'. */
export function hlt(cpu: Cpu): void {
  if (cpu.cplValue !== 0 && isProtected(cpu)) cpu.raise(EXC_GP, 0);
  if ((cpu.flags & FLAG_VM) !== 0) cpu.raise(EXC_GP, 0);
  cpu.countExit(EXIT_HLT);
  // A host that carries out HLT itself (paravirt-ops' irq.halt) may decline: e.g. a PV unhalt kick
  // arrived first, or an interrupt is already deliverable. Then execution simply continues.
  if (cpu.traps?.hlt && !cpu.traps.hlt()) return;
  cpu.halted = true;
  cpu.stopCode = STOP_HLT;
}
