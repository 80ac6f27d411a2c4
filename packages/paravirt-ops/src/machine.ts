/**
 * What the default backend operates on: the composed machine, seen through narrow interfaces.
 *
 * The CPU side is `CpuControl`, a handful of fields and hooks a composer fills in from its vCPU
 * (x86-core's `Cpu`, or `SimpleCpuState` below for hosts and tests that model only the
 * privileged state). The MMU, APICs, bus and clock are the real components of @pv/mmu and
 * @pv/apic.
 */
import type { ApicBus, LocalApic } from '@pv/apic';
import type { Mmu } from '@pv/mmu';
import type { VirtualClock } from '@pv/x86-core';
import type { KvmClock } from './kvmclock';

/** SDM Vol. 3A 2.5: control-register bits the ops check. */
export const CR0_PE = 1 << 0;
export const CR0_NW = 1 << 29;
export const CR0_CD = 1 << 30;
export const CR0_PG = 1 << 31;
/** CR0 bits that exist on a P6 (PE MP EM TS ET NE WP AM NW CD PG). */
export const CR0_VALID = (0x8005003f | CR0_NW | CR0_CD) >>> 0;
export const CR4_PAE = 1 << 5;
/** CR4 bits this machine accepts (VME PVI TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT). */
export const CR4_VALID = 0x7ff;

/**
 * The CPU-side privileged state the ops need, filled in by the composer. The ops do all the
 * checking; these hooks only store and report.
 */
export interface CpuControl {
  /** CR0, CR2, CR3, CR4 as the CPU holds them. */
  getCr(cr: 0 | 2 | 3 | 4): number;
  /** Commit a control register value the op has validated (and already pushed to the MMU). */
  setCr(cr: 0 | 2 | 3 | 4, value: number): void;
  /** IA32_EFER low word and the CPL, for the MMU's paging state. */
  readonly efer: number;
  readonly cpl: number;
  /** EFLAGS.IF. */
  interruptsEnabled: boolean;
  /** The vCPU is in the HLT state. The run loop resumes it when this turns false. */
  halted: boolean;
  /** LGDT / LIDT. */
  setDescriptorTable(table: 'gdt' | 'idt', base: number, limit: number): void;
  /** The CPU's own CPUID answer for non-hypervisor leaves; absent ⇒ zeros. */
  cpuid?(leaf: number, subleaf: number): readonly [number, number, number, number];
  /** MSRs the CPU owns itself (EFER, TSC, SYSENTER…); `undefined` / `false` ⇒ #GP. */
  readMsr?(msr: number): bigint | undefined;
  writeMsr?(msr: number, value: bigint): boolean;
}

/** One vCPU as the ops see it. */
export interface PvVcpu {
  readonly cpu: CpuControl;
  readonly apic: LocalApic;
  /** The MMU this vCPU translates through (vCPUs may share one). */
  readonly mmu: Mmu;
}

/** Scheduler hooks; each is optional and defaults to doing nothing. */
export interface PvSchedulerHooks {
  /** A vCPU left HLT (kick, interrupt): make it runnable. */
  wake?(vcpu: number): void;
  /** `from` yields its time slice, preferably to `to` (−1: no such vCPU). */
  yieldTo?(from: number, to: number): void;
  /** An I/O delay was requested (nothing to do with NOP_IO_DELAY; for tracing). */
  ioDelay?(vcpu: number): void;
}

/** The composed machine. */
export interface PvMachine {
  readonly vcpus: readonly PvVcpu[];
  readonly bus: ApicBus;
  readonly clock: VirtualClock;
  /** kvmclock state; without it CLOCKSOURCE2 is not advertised and its MSRs #GP. */
  readonly kvmclock?: KvmClock;
  /** The host console; without it PV_FEATURE_CONSOLE_WRITE is not advertised. */
  readonly console?: (bytes: Uint8Array) => number;
  /** The APICs were created with `pvEoiMemory` (PV EOI works); default false. */
  readonly pvEoi?: boolean;
  readonly scheduler?: PvSchedulerHooks;
}

/**
 * A `CpuControl` that is only the privileged state (control registers, IF, HLT, descriptor
 * tables), for hosts without an instruction interpreter and for tests. Typed arrays, so a
 * snapshot is a copy.
 */
export class SimpleCpuState implements CpuControl {
  /** CR0..CR4 (index = register number; CR1 unused). */
  readonly cr = new Int32Array(5);
  /** GDTR base, GDTR limit, IDTR base, IDTR limit. */
  readonly dtr = new Float64Array(4);
  efer = 0;
  cpl = 0;
  interruptsEnabled = false;
  halted = false;
  private readonly msrs = new Map<number, bigint>();

  constructor(init: { cr0?: number; cr3?: number; cr4?: number } = {}) {
    this.cr[0] = (init.cr0 ?? 0x10) | 0;
    this.cr[3] = (init.cr3 ?? 0) | 0;
    this.cr[4] = (init.cr4 ?? 0) | 0;
  }

  getCr(cr: 0 | 2 | 3 | 4): number {
    return this.cr[cr]! >>> 0;
  }

  setCr(cr: 0 | 2 | 3 | 4, value: number): void {
    this.cr[cr] = value | 0;
  }

  setDescriptorTable(table: 'gdt' | 'idt', base: number, limit: number): void {
    const i = table === 'gdt' ? 0 : 2;
    this.dtr[i] = base >>> 0;
    this.dtr[i + 1] = limit & 0xffff;
  }

  /** A few scratch MSRs a guest may use (SYSENTER_CS/ESP/EIP 0x174–0x176). */
  readMsr(msr: number): bigint | undefined {
    if (msr < 0x174 || msr > 0x176) return undefined;
    return this.msrs.get(msr) ?? 0n;
  }

  writeMsr(msr: number, value: bigint): boolean {
    if (msr < 0x174 || msr > 0x176) return false;
    this.msrs.set(msr, value);
    return true;
  }

  /** Plain-data copy of the state (for comparisons and snapshots). */
  saveState(): {
    cr: number[];
    dtr: number[];
    efer: number;
    cpl: number;
    interruptsEnabled: boolean;
    halted: boolean;
    msrs: [number, string][];
  } {
    return {
      cr: Array.from(this.cr, (v) => v >>> 0),
      dtr: Array.from(this.dtr),
      efer: this.efer,
      cpl: this.cpl,
      interruptsEnabled: this.interruptsEnabled,
      halted: this.halted,
      msrs: [...this.msrs].sort((a, b) => a[0] - b[0]).map(([k, v]) => [k, v.toString()]),
    };
  }
}
