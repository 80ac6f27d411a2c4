/**
 * SYSENTER and SYSEXIT (SDM Vol. 2 "SYSENTER", "SYSEXIT"; Vol. 3 §5.8.7) with the MSRs
 * IA32_SYSENTER_CS (0x174), IA32_SYSENTER_ESP (0x175) and IA32_SYSENTER_EIP (0x176). The fast
 * system call loads flat segments without reading the GDT: CS = SYSENTER_CS (DPL 0), SS = CS + 8;
 * SYSEXIT returns to CS = SYSENTER_CS + 16 (RPL 3), SS = CS + 24, EIP = EDX, ESP = ECX.
 */
import { CR0_PE, EXC_GP, FLAG_IF, FLAG_RF, FLAG_VM, SREG_CS, SREG_SS } from './constants';
import type { Cpu } from './cpu';

export const MSR_SYSENTER_CS = 0x174;
export const MSR_SYSENTER_ESP = 0x175;
export const MSR_SYSENTER_EIP = 0x176;

/** Flat 4 GiB caches: 32-bit execute/read accessed code and read/write accessed data (DPL in bits 5–6). */
const FLAT_CODE = 0xc09b;
const FLAT_DATA = 0xc093;
const DPL3 = 3 << 5;

/** RDMSR of a SYSENTER MSR: the value, or undefined when `msr` is not one of them. */
export function readSysenterMsr(cpu: Cpu, msr: number): number | undefined {
  if (msr === MSR_SYSENTER_CS) return cpu.sysenterCs;
  if (msr === MSR_SYSENTER_ESP) return cpu.sysenterEsp;
  if (msr === MSR_SYSENTER_EIP) return cpu.sysenterEip;
  return undefined;
}

/**
 * WRMSR of a SYSENTER MSR (`hi`:`lo`); false when `msr` is not one of them. On IA-32 the CS MSR
 * keeps bits 15:0 and the ESP/EIP MSRs bits 31:0 (the upper halves are ignored on 32-bit CPUs).
 */
export function writeSysenterMsr(cpu: Cpu, msr: number, lo: number): boolean {
  if (msr === MSR_SYSENTER_CS) cpu.sysenterCs = lo & 0xffff;
  else if (msr === MSR_SYSENTER_ESP) cpu.sysenterEsp = lo | 0;
  else if (msr === MSR_SYSENTER_EIP) cpu.sysenterEip = lo | 0;
  else return false;
  return true;
}

/** SYSENTER (0F 34): #GP(0) in real mode or when IA32_SYSENTER_CS[15:2] = 0. Allowed at any CPL and from v86. */
export function sysenter(cpu: Cpu): void {
  const cs = cpu.sysenterCs;
  if ((cpu.cr[0]! & CR0_PE) === 0 || (cs & 0xfffc) === 0) cpu.raise(EXC_GP, 0);
  const leavingV86 = (cpu.flags & FLAG_VM) !== 0;
  cpu.flags &= ~(FLAG_VM | FLAG_IF | FLAG_RF);
  if (leavingV86) cpu.refreshAllSegmentRights();
  cpu.setSegmentCache(SREG_CS, cs & 0xfffc, 0, 0xffffffff, FLAT_CODE);
  cpu.setSegmentCache(SREG_SS, ((cs & 0xfffc) + 8) & 0xffff, 0, 0xffffffff, FLAT_DATA);
  cpu.regs[4] = cpu.sysenterEsp;
  cpu.ip = cpu.sysenterEip;
  if (cpu.cplValue !== 0) {
    cpu.setCpl(0);
    cpu.pushPagingState();
  }
}

/** SYSEXIT (0F 35): #GP(0) unless protected mode at CPL 0 with IA32_SYSENTER_CS[15:2] ≠ 0. */
export function sysexit(cpu: Cpu): void {
  const cs = cpu.sysenterCs;
  const pm = (cpu.cr[0]! & CR0_PE) !== 0 && (cpu.flags & FLAG_VM) === 0;
  if (!pm || cpu.cplValue !== 0 || (cs & 0xfffc) === 0) cpu.raise(EXC_GP, 0);
  cpu.setSegmentCache(SREG_CS, ((cs + 16) & 0xfffc) | 3, 0, 0xffffffff, FLAT_CODE | DPL3);
  cpu.setSegmentCache(SREG_SS, ((cs + 24) & 0xfffc) | 3, 0, 0xffffffff, FLAT_DATA | DPL3);
  cpu.regs[4] = cpu.regs[1]!;
  cpu.ip = cpu.regs[2]!;
  cpu.setCpl(3);
  cpu.pushPagingState();
}
