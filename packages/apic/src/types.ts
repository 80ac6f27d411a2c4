/** The public option, event and result types of a LocalApic. */

import type { VirtualClock } from '@pv/x86-core';
import type { ApicBus } from './bus';
import type { ApicStatusName } from './regs';

/** Hooks a machine implements; every one is optional and defaults to doing nothing. */
export interface LocalApicEvents {
  /**
   * A maskable interrupt or an NMI became pending for this APIC's vCPU. Called once per
   * interrupt-state re-evaluation that finds something newly pending: wake a halted vCPU.
   */
  onInterrupt?(apicId: number): void;
  /** An INIT was accepted (the APIC has already reset itself): reset the vCPU; an AP waits for SIPI. */
  onInit?(apicId: number): void;
  /** A STARTUP IPI was accepted while waiting for SIPI: start the vCPU at CS = vector << 8, IP = 0. */
  onStartup?(apicId: number, vector: number): void;
  /** The xAPIC page moved or was switched on/off (IA32_APIC_BASE write): remap it. */
  onBaseChange?(base: number, mmioEnabled: boolean): void;
  /** Trace: a message or local interrupt was accepted (delivery mode APIC_DM_*, vector). */
  onAccept?(apicId: number, deliveryMode: number, vector: number): void;
  /** Trace: an EOI retired `vector` (level-triggered ones are also broadcast to the IO-APIC). */
  onEoi?(apicId: number, vector: number): void;
}

/** The 8259 (or other ExtINT source) in front of LINT0: supplies the vector on INTA. */
export interface ExtIntSource {
  /** The INTA cycle of the PIC: returns the vector it delivers. */
  acknowledge(): number;
}

/**
 * Guest-physical byte access for the KVM PV EOI word (the APIC does not know the MMU).
 * `read8` returns undefined and `write8` false for an address that is not guest RAM.
 */
export interface PvEoiMemory {
  read8(gpa: number): number | undefined;
  write8(gpa: number, value: number): boolean;
}

export interface LocalApicOptions {
  /** Initial APIC ID (the x2APIC ID; its low 8 bits are the xAPIC ID after reset). */
  id: number;
  /** The virtual clock that drives the timer. */
  clock: VirtualClock;
  /** The APIC bus to attach to. Without one the APIC gets a private bus (self IPIs only). */
  bus?: ApicBus;
  /** Bootstrap processor: sets IA32_APIC_BASE.BSP and, as QEMU does, LINT0 = ExtINT at reset. */
  bsp?: boolean;
  events?: LocalApicEvents;
  /** The PIC behind LINT0 (virtual-wire mode) and behind ExtINT messages. */
  extInt?: ExtIntSource;
  /** Guest memory for the PV EOI byte. Without it, enabling PV EOI fails with #GP. */
  pvEoiMemory?: PvEoiMemory;
  /** TSC cycles per APIC timer input clock (before the divider); an integer 1..1024, default 1. */
  cyclesPerTick?: number;
  /** Offer x2APIC mode (CPUID.1:ECX[21]); default true. */
  x2apic?: boolean;
  /** MAXPHYADDR, for the reserved bits of IA32_APIC_BASE; default 36. */
  physAddrBits?: number;
}

/** A batched register write: `reg` is the register index (MMIO offset >> 4 = MSR − 0x800). */
export interface ApicBatchEntry {
  reg: number;
  /** Bits 31:0 of the value (uint32, or int32 taken modulo 2^32). */
  value: number;
  /** Bits 63:32 (x2APIC ICR destination); must be 0 for every other register and in xAPIC mode. */
  high?: number;
}

/** One batch entry that was not applied (it had no effect, as the same write alone would have). */
export interface ApicBatchFailure {
  index: number;
  reg: number;
  status: ApicStatusName;
  message: string;
}

export interface ApicBatchResult {
  /** Entries that were applied. */
  applied: number;
  /** Entries that were not, in order. Empty (and frozen) when all were applied. */
  failures: readonly ApicBatchFailure[];
}

/** Counters a test or benchmark can read; none of them is architectural state. */
export interface LocalApicStats {
  /** Register accesses through the MMIO page or the x2APIC / APIC MSRs (each one is an exit). */
  accesses: number;
  /** `writeBatch` calls (each one is one exit). */
  batches: number;
  /** Interrupt-state re-evaluations (apic_update_irq). */
  evaluations: number;
  /** Fixed interrupts that found their IRR bit already set. */
  coalesced: number;
  /** Acknowledges that returned the spurious vector (SDM 10.9). */
  spurious: number;
  /** Messages dropped: fixed ones while software-disabled, SMI, reserved delivery modes, late SIPIs. */
  dropped: number;
  /** Timer expiries (one-shot, periodic or TSC deadline), and periods merged into one. */
  timerFired: number;
  /** EOIs completed on the guest's behalf through PV EOI. */
  pvEoi: number;
  /** MMIO accesses with an unsupported size/alignment, or while the page is off. */
  badMmio: number;
}
