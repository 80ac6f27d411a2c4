/**
 * System instructions: CPUID, RDTSC, RDMSR/WRMSR, RDPMC, MOV to/from CR and DR, CLTS, group 6
 * (SLDT/STR/LLDT/LTR/VERR/VERW), group 7 (SGDT/SIDT/LGDT/LIDT/SMSW/LMSW/INVLPG and the hypercall
 * instructions VMCALL/VMMCALL), LAR/LSL (SDM Vol. 2; Vol. 3 §2.5, §2.7).
 */
import { EXIT_CPUID, EXIT_CR, EXIT_HYPERCALL, EXIT_INVLPG, EXIT_MSR } from './bus';
import {
  ATTR_CODE,
  ATTR_DC,
  ATTR_P,
  ATTR_RW,
  ATTR_S,
  CR0_CD,
  CR0_ET,
  CR0_NW,
  CR0_PE,
  CR0_PG,
  CR0_TS,
  CR4_DE,
  CR4_PAE,
  CR4_PCE,
  CR4_PGE,
  CR4_PSE,
  CR4_TSD,
  EXC_GP,
  EXC_NP,
  EXC_UD,
  FLAG_ZF,
  MSR_APIC_BASE,
  MSR_TSC,
  SREG_LDTR,
  SREG_TR,
} from './constants';
import type { Cpu } from './cpu';
import { CPUID_EDX_DE, CPUID_EDX_PAE, CPUID_EDX_PGE, CPUID_EDX_PSE } from './cpuid';
import { generalDetect, refreshDebug } from './debug';
import { ea } from './decode';
import { flushFlags } from './flags';
import { readE16, writeE16 } from './operands';
import { desc, descAttr, descBase, descLimit, isProtected, readDescriptor, sysWrite32 } from './segment';
import { readSysenterMsr, writeSysenterMsr } from './sysenter';

const cpuidOut = new Int32Array(4);

/** #GP(0) unless CPL = 0 (real mode is CPL 0; v86 is CPL 3). */
export function privileged(cpu: Cpu): void {
  if (cpu.cplValue !== 0 || (cpu.flags & 0x20000) !== 0) cpu.raise(EXC_GP, 0);
}

export function cpuidInsn(cpu: Cpu): void {
  cpu.countExit(EXIT_CPUID);
  cpu.cpuid.query(cpu.regs[0]!, cpuidOut);
  cpu.regs[0] = cpuidOut[0]!;
  cpu.regs[3] = cpuidOut[1]!;
  cpu.regs[1] = cpuidOut[2]!;
  cpu.regs[2] = cpuidOut[3]!;
}

/** The virtual TSC: clock cycles plus the offset set by writes to IA32_TIME_STAMP_COUNTER. */
export function readTsc(cpu: Cpu): number {
  cpu.syncClock();
  return cpu.clock.now() + cpu.tscOffset;
}

export function rdtsc(cpu: Cpu): void {
  if (cpu.cr[4]! & CR4_TSD && cpu.cplValue !== 0) cpu.raise(EXC_GP, 0);
  const t = readTsc(cpu);
  cpu.regs[0] = t % 4294967296;
  cpu.regs[2] = Math.floor(t / 4294967296);
}

function setEdxEax(cpu: Cpu, v: bigint): void {
  cpu.regs[0] = Number(BigInt.asIntN(32, v));
  cpu.regs[2] = Number(BigInt.asIntN(32, v >> 32n));
}

export function rdmsr(cpu: Cpu): void {
  privileged(cpu);
  cpu.countExit(EXIT_MSR);
  const msr = cpu.regs[1]! >>> 0;
  if (msr === MSR_TSC) {
    const t = readTsc(cpu);
    cpu.regs[0] = t % 4294967296;
    cpu.regs[2] = Math.floor(t / 4294967296);
    return;
  }
  const own = readSysenterMsr(cpu, msr);
  if (own !== undefined) {
    cpu.regs[0] = own;
    cpu.regs[2] = 0;
    return;
  }
  const v = cpu.msr?.read(msr);
  if (v !== undefined) {
    setEdxEax(cpu, v);
    return;
  }
  if (msr === MSR_APIC_BASE) {
    cpu.regs[0] = cpu.apicBase;
    cpu.regs[2] = 0;
    return;
  }
  cpu.raise(EXC_GP, 0);
}

export function wrmsr(cpu: Cpu): void {
  privileged(cpu);
  cpu.countExit(EXIT_MSR);
  const msr = cpu.regs[1]! >>> 0;
  const lo = cpu.regs[0]! >>> 0;
  const hi = cpu.regs[2]! >>> 0;
  if (msr === MSR_TSC) {
    cpu.syncClock();
    cpu.tscOffset = hi * 4294967296 + lo - cpu.clock.now();
    return;
  }
  if (writeSysenterMsr(cpu, msr, lo)) return;
  if (cpu.msr?.write(msr, (BigInt(hi) << 32n) | BigInt(lo))) return;
  if (msr === MSR_APIC_BASE) {
    // Bits 12..35 base, 11 enable, 8 BSP (read-only); reserved bits ⇒ #GP(0).
    if (hi !== 0 || (lo & 0x6ff) !== 0) cpu.raise(EXC_GP, 0);
    cpu.apicBase = (lo & 0xfffff800) | (cpu.apicBase & 0x100);
    return;
  }
  cpu.raise(EXC_GP, 0);
}

/** RDPMC: counters 0 and 1 (P6); allowed at CPL > 0 only with CR4.PCE. Counting is not modelled: values come from the MsrBus (PerfCtr0/1 = 0xC1/0xC2) or read 0. */
export function rdpmc(cpu: Cpu): void {
  if (cpu.cplValue !== 0 && (cpu.cr[4]! & CR4_PCE) === 0) cpu.raise(EXC_GP, 0);
  const ecx = cpu.regs[1]! >>> 0;
  if (ecx > 1) cpu.raise(EXC_GP, 0);
  const v = cpu.msr?.read(0xc1 + ecx);
  if (v !== undefined) setEdxEax(cpu, v & 0xffffffffffn);
  else {
    cpu.regs[0] = 0;
    cpu.regs[2] = 0;
  }
}

export function clts(cpu: Cpu): void {
  privileged(cpu);
  cpu.cr[0] = cpu.cr[0]! & ~CR0_TS;
}

export function movFromCr(cpu: Cpu): void {
  privileged(cpu);
  const n = cpu.reg;
  if (n === 1 || n > 4) cpu.raise(EXC_UD, -1);
  cpu.regs[cpu.rm] = cpu.cr[n]!;
}

/** CR4 bits this CPU accepts: TSD and PCE always; PSE/PAE/PGE when the CPUID model advertises them. */
function cr4Allowed(cpu: Cpu): number {
  const f = cpu.cpuid.edxFeatures;
  return (
    CR4_TSD |
    CR4_PCE |
    (f & CPUID_EDX_DE ? CR4_DE : 0) |
    (f & CPUID_EDX_PSE ? CR4_PSE : 0) |
    (f & CPUID_EDX_PAE ? CR4_PAE : 0) |
    (f & CPUID_EDX_PGE ? CR4_PGE : 0)
  );
}

/**
 * The value CR3 keeps (SDM §4.3, §4.4.1): the page-directory base and PWT/PCD; with CR4.PAE the
 * 32-byte aligned PDPT base (bits 31:5) and PWT/PCD.
 */
export function cr3Value(cpu: Cpu, v: number): number {
  return cpu.cr[4]! & CR4_PAE ? v & ~0x7 : v & ~0xfe7;
}

/**
 * Pushes the paging state after a write to CR`n` (whose previous value was `old`). If the MMU
 * refuses it — PAE paging with a PDPTE that has reserved bits set (SDM §4.4.1) — the register keeps
 * its old value and the MOV raises #GP(0).
 */
function commitPaging(cpu: Cpu, n: number, old: number): void {
  if (cpu.pushPagingState()) return;
  cpu.cr[n] = old;
  cpu.pushPagingState();
  cpu.raise(EXC_GP, 0);
}

export function movToCr(cpu: Cpu): void {
  privileged(cpu);
  const n = cpu.reg;
  const v = cpu.regs[cpu.rm]!;
  switch (n) {
    case 0: {
      // SDM §2.5: PG without PE, or NW without CD ⇒ #GP(0); ET is hard-wired to 1 on the P6.
      if (v & CR0_PG && !(v & CR0_PE)) cpu.raise(EXC_GP, 0);
      if (v & CR0_NW && !(v & CR0_CD)) cpu.raise(EXC_GP, 0);
      const old = cpu.cr[0]!;
      cpu.cr[0] = (v & 0xe005003f) | CR0_ET;
      if ((old ^ cpu.cr[0]!) & (CR0_PG | CR0_PE | CR0_CD | CR0_NW | 0x10000)) commitPaging(cpu, 0, old);
      if ((old ^ cpu.cr[0]!) & CR0_PE) cpu.refreshAllSegmentRights();
      return;
    }
    case 2:
      cpu.cr[2] = v;
      return;
    case 3: {
      cpu.countExit(EXIT_CR);
      if (cpu.traps?.writeCr3) {
        // The host loads CR3 itself (paravirt-ops' mmu.write_cr3: MMU load, flush, then CR3 back
        // into this CPU through its control interface); false means #GP(0).
        if (!cpu.traps.writeCr3(cr3Value(cpu, v) >>> 0)) cpu.raise(EXC_GP, 0);
        cpu.invalidateFetch();
        return;
      }
      const old = cpu.cr[3]!;
      cpu.cr[3] = cr3Value(cpu, v);
      if (cpu.cr[3] !== old) {
        commitPaging(cpu, 3, old);
      } else {
        // SDM 4.10.4.1: every MOV to CR3 invalidates the non-global TLB entries (and, with PAE,
        // reloads the PDPTEs), also when the value does not change — kernels rely on it to flush.
        cpu.invalidateFetch();
        cpu.memory.flushTlb(false);
      }
      return;
    }
    case 4:
      if (v & ~cr4Allowed(cpu)) cpu.raise(EXC_GP, 0);
      {
        const old = cpu.cr[4]!;
        cpu.cr[4] = v;
        commitPaging(cpu, 4, old);
      }
      // CR4.DE turns I/O breakpoints on or off.
      refreshDebug(cpu);
      return;
    default:
      cpu.raise(EXC_UD, -1);
  }
}

/** DR4/DR5 alias DR6/DR7 unless CR4.DE (then #UD); SDM §17.2.2. */
function drIndex(cpu: Cpu): number {
  const n = cpu.reg;
  if (n === 4 || n === 5) {
    if (cpu.cr[4]! & CR4_DE) cpu.raise(EXC_UD, -1);
    return n + 2;
  }
  return n;
}

/** MOV from DRn: #GP(0) unless CPL 0, then #DB (BD) if DR7.GD, then #UD for DR4/DR5 with CR4.DE. */
export function movFromDr(cpu: Cpu): void {
  privileged(cpu);
  generalDetect(cpu);
  cpu.regs[cpu.rm] = cpu.dr[drIndex(cpu)]!;
}

export function movToDr(cpu: Cpu): void {
  privileged(cpu);
  generalDetect(cpu);
  const n = drIndex(cpu);
  const v = cpu.regs[cpu.rm]!;
  // DR6 bits 4–11 and 16–31 read as 1, bit 12 as 0; DR7 bits 11, 12, 14 and 15 are reserved (read
  // as 0) and bit 10 reads as 1 (SDM §17.2.3, §17.2.4).
  if (n === 6) cpu.dr[6] = (v & 0xe00f) | (0xffff0ff0 | 0);
  else if (n === 7) cpu.dr[7] = (v & 0xffff23ff) | 0x400;
  else cpu.dr[n] = v;
  // Breakpoint enables or addresses changed (debug.ts).
  refreshDebug(cpu);
}

/** Group 6 (0F 00): protected mode only (#UD in real and v86 mode). */
export function group6(cpu: Cpu): void {
  if (!isProtected(cpu)) cpu.raise(EXC_UD, -1);
  switch (cpu.reg) {
    case 0:
    case 1: {
      const sel = cpu.segSel[cpu.reg === 0 ? SREG_LDTR : SREG_TR]!;
      if (!cpu.isMem && cpu.o32) cpu.regs[cpu.rm] = sel;
      else writeE16(cpu, sel);
      return;
    }
    case 2: {
      privileged(cpu);
      const sel = readE16(cpu);
      if ((sel & 0xfffc) === 0) {
        cpu.setSegmentNull(SREG_LDTR, sel);
        return;
      }
      if (sel & 4) cpu.raise(EXC_GP, sel & 0xfffc);
      readDescriptor(cpu, sel);
      const attr = descAttr();
      if ((attr & 0x1f) !== 0x02) cpu.raise(EXC_GP, sel & 0xfffc);
      if ((attr & ATTR_P) === 0) cpu.raise(EXC_NP, sel & 0xfffc);
      cpu.setSegmentCache(SREG_LDTR, sel, descBase(), descLimit(), attr);
      return;
    }
    case 3: {
      privileged(cpu);
      const sel = readE16(cpu);
      if ((sel & 0xfffc) === 0 || sel & 4) cpu.raise(EXC_GP, sel & 0xfffc);
      const lin = readDescriptor(cpu, sel);
      const attr = descAttr();
      const type = attr & 0x1f;
      if (type !== 0x01 && type !== 0x09) cpu.raise(EXC_GP, sel & 0xfffc);
      if ((attr & ATTR_P) === 0) cpu.raise(EXC_NP, sel & 0xfffc);
      // Mark the TSS busy (type 3 / 11).
      desc[1] = desc[1]! | 0x200;
      sysWrite32(cpu, lin + 4, desc[1]!);
      cpu.setSegmentCache(SREG_TR, sel, descBase(), descLimit(), attr | 2);
      return;
    }
    case 4:
    case 5:
      verify(cpu, cpu.reg === 5);
      return;
    default:
      cpu.raise(EXC_UD, -1);
  }
}

/** Reads the descriptor of `sel` for LAR/LSL/VERR/VERW without faulting; false if unusable. */
function probeDescriptor(cpu: Cpu, sel: number): boolean {
  if ((sel & 0xfffc) === 0) return false;
  const limit = sel & 4 ? (cpu.segAttr[SREG_LDTR] === 0 ? -1 : cpu.segRawLimit[SREG_LDTR]!) : cpu.dtr[1]!;
  if ((sel & ~7) + 7 > limit) return false;
  readDescriptor(cpu, sel);
  const attr = descAttr();
  const dpl = (attr >> 5) & 3;
  const conforming = (attr & (ATTR_S | ATTR_CODE | ATTR_DC)) === (ATTR_S | ATTR_CODE | ATTR_DC);
  return conforming || (dpl >= cpu.cplValue && dpl >= (sel & 3));
}

function setZF(cpu: Cpu, on: boolean): void {
  flushFlags(cpu);
  if (on) cpu.flags |= FLAG_ZF;
  else cpu.flags &= ~FLAG_ZF;
}

/** VERR/VERW: ZF = the segment is readable/writable at CPL and RPL. */
function verify(cpu: Cpu, write: boolean): void {
  const sel = readE16(cpu);
  let ok = probeDescriptor(cpu, sel);
  if (ok) {
    const attr = descAttr();
    if ((attr & ATTR_S) === 0) ok = false;
    else if (write) ok = (attr & (ATTR_CODE | ATTR_RW)) === ATTR_RW;
    else ok = (attr & ATTR_CODE) === 0 || (attr & ATTR_RW) !== 0;
    if ((attr & (ATTR_CODE | ATTR_DC)) === (ATTR_CODE | ATTR_DC) && !write) ok = (attr & ATTR_RW) !== 0;
  }
  setZF(cpu, ok);
}

/** LAR (0F 02) and LSL (0F 03): protected mode only. */
export function larLsl(cpu: Cpu, lsl: boolean): void {
  if (!isProtected(cpu)) cpu.raise(EXC_UD, -1);
  const sel = readE16(cpu);
  let ok = probeDescriptor(cpu, sel);
  if (ok && (descAttr() & ATTR_S) === 0) {
    const type = descAttr() & 0x0f;
    // LAR accepts TSS, LDT, call and task gates; LSL only TSS and LDT (SDM "LAR", "LSL").
    ok = lsl ? [1, 2, 3, 9, 11].includes(type) : [1, 2, 3, 4, 5, 9, 11, 12].includes(type);
  }
  setZF(cpu, ok);
  if (!ok) return;
  const v = lsl ? descLimit() : cpu.o32 ? desc[1]! & 0x00ffff00 : desc[1]! & 0xff00;
  if (cpu.o32) cpu.regs[cpu.reg] = v;
  else cpu.r16[cpu.reg << 1] = v;
}

/** Group 7 (0F 01). */
export function group7(cpu: Cpu): void {
  const reg = cpu.reg;
  if (!cpu.isMem && reg !== 4 && reg !== 6) {
    if (cpu.rm === 1 && (reg === 0 || reg === 3)) {
      hypercall(cpu);
      return;
    }
    cpu.raise(EXC_UD, -1);
  }
  switch (reg) {
    case 0:
    case 1: {
      const off = ea(cpu);
      const i = reg === 0 ? 0 : 2;
      const base = cpu.o32 ? cpu.dtr[i]! : cpu.dtr[i]! & 0xffffff;
      cpu.wr16(cpu.seg, off, cpu.dtr[i + 1]!);
      cpu.wr32(cpu.seg, cpu.a32 ? (off + 2) >>> 0 : (off + 2) & 0xffff, base);
      return;
    }
    case 2:
    case 3: {
      privileged(cpu);
      const off = ea(cpu);
      const limit = cpu.rd16(cpu.seg, off);
      const base = cpu.rd32(cpu.seg, cpu.a32 ? (off + 2) >>> 0 : (off + 2) & 0xffff);
      const i = reg === 2 ? 0 : 2;
      cpu.dtr[i] = cpu.o32 ? base : base & 0xffffff;
      cpu.dtr[i + 1] = limit;
      return;
    }
    case 4:
      // SMSW: a register destination with a 32-bit operand gets all of CR0.
      if (!cpu.isMem && cpu.o32) cpu.regs[cpu.rm] = cpu.cr[0]!;
      else writeE16(cpu, cpu.cr[0]! & 0xffff);
      return;
    case 6: {
      // LMSW: loads MP, EM, TS and can set (never clear) PE.
      privileged(cpu);
      const v = readE16(cpu);
      const old = cpu.cr[0]!;
      cpu.cr[0] = (old & ~0xe) | (v & 0xe) | ((old | v) & CR0_PE);
      if ((old ^ cpu.cr[0]!) & CR0_PE) {
        cpu.refreshAllSegmentRights();
        cpu.pushPagingState();
      }
      return;
    }
    case 7: {
      privileged(cpu);
      cpu.countExit(EXIT_INVLPG);
      const lin = (cpu.segBase[cpu.seg]! + ea(cpu)) | 0;
      if (cpu.traps?.invlpg) cpu.traps.invlpg(lin >>> 0);
      else cpu.memory.invlpg(lin >>> 0);
      cpu.invalidateFetch();
      return;
    }
    default:
      cpu.raise(EXC_UD, -1);
  }
}

/** VMCALL (0F 01 C1) / VMMCALL (0F 01 D9): handed to the Hypervisor; #UD when none is attached. */
function hypercall(cpu: Cpu): void {
  const hv = cpu.hypervisor;
  if (hv === null) cpu.raise(EXC_UD, -1);
  cpu.countExit(EXIT_HYPERCALL);
  hv.hypercall(cpu);
}
