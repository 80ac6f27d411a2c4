/**
 * The paravirt_ops vtable (DESIGN.md §5): the one place where a privileged operation is carried
 * out, whichever way the guest asked for it (a trap or a hypercall).
 *
 * **This is an internal API and may change freely between releases.** Only the hypercall ABI of
 * @pv/hypercall is a contract. The groups follow Linux's `arch/x86/include/asm/paravirt_types.h`
 * (`pv_cpu_ops`, `pv_irq_ops`, `pv_mmu_ops` with `lazy_mode {enter, leave, flush}`), plus `apic`,
 * `time`, `sched`, `console` and `exit` groups for what the hypervisor side needs.
 *
 * Conventions of every op:
 * - the first argument is the vCPU index (position in `PvMachine.vcpus`), except for machine-wide
 *   reads; a host passing an index out of range gets a `ParavirtError` (host misuse);
 * - guest-controlled arguments never throw: a failure is a negative ABI errno (`-ERRNO.KVM_*`),
 *   a `false` (the trap path turns it into #GP) or `undefined` (#GP / #UD on a read);
 * - ops do not count exits or charge exit costs; the trap and hypercall adapters report each exit
 *   once through `exit.record`.
 */
import type { ApicBatchEntry } from '@pv/apic';
import type { ExitKindName } from '@pv/x86-core';

/** Which way the guest reached the host. */
export type ExitPath = 'trap' | 'hypercall';

/** Exit kinds, as counted by x86-core (`EXIT_NAMES`). */
export type ExitKind = ExitKindName;

/** The local APIC mode of a vCPU (SDM 10.12.5). */
export type ApicMode = 'disabled' | 'xapic' | 'x2apic';

/** Control registers an op accepts (CR0, CR2, CR3, CR4). */
export type ControlRegister = 0 | 2 | 3 | 4;

/** One page-table entry store of `mmu.updateBatch`. */
export interface PteWrite {
  /** Guest-physical address of the entry, aligned to `width`. */
  gpa: number;
  /** Bits 31:0 of the entry. */
  lo: number;
  /** Bits 63:32 (PAE entries; 0 for 4-byte entries). */
  hi: number;
  /** Entry width in bytes. */
  width: 4 | 8;
}

/** pv_cpu_ops: CPUID, control registers, MSRs, descriptor tables, I/O delay. */
export interface PvCpuOps {
  /** CPUID as the guest sees it, [EAX, EBX, ECX, EDX] as uint32; hypervisor leaves included. */
  cpuid(vcpu: number, leaf: number, subleaf: number): readonly [number, number, number, number];
  /** MOV from CRn; `undefined` for a register that does not exist (#UD). */
  readCr(vcpu: number, cr: number): number | undefined;
  /** MOV to CRn with the SDM's checks; `false` means #GP(0) and nothing changed. */
  writeCr(vcpu: number, cr: number, value: number): boolean;
  /** RDMSR; `undefined` means #GP(0). */
  readMsr(vcpu: number, msr: number): bigint | undefined;
  /** WRMSR; `false` means #GP(0) and nothing changed. */
  writeMsr(vcpu: number, msr: number, value: bigint): boolean;
  /** LIDT. */
  loadIdt(vcpu: number, base: number, limit: number): void;
  /** LGDT. */
  loadGdt(vcpu: number, base: number, limit: number): void;
  /** The port-0x80 style delay (KVM_FEATURE_NOP_IO_DELAY: nothing to wait for). */
  ioDelay(vcpu: number): void;
  /** Lazy CPU mode (Linux's arch_start_context_switch): APIC writes and EOIs may be queued. */
  lazyEnter(vcpu: number): void;
  /** Leave lazy CPU mode: everything queued is applied now. */
  lazyLeave(vcpu: number): void;
}

/** pv_irq_ops: EFLAGS.IF and halting. */
export interface PvIrqOps {
  /** EFLAGS.IF (save_fl). */
  saveFl(vcpu: number): boolean;
  /** restore_fl. */
  restoreFl(vcpu: number, enabled: boolean): void;
  /** CLI. */
  disable(vcpu: number): void;
  /** STI. */
  enable(vcpu: number): void;
  /**
   * HLT: the vCPU stops until an interrupt it can take (IF = 1 and one pending), an NMI or a PV
   * kick. Returns true when the vCPU is now halted, false when HLT completed at once (a kick was
   * already pending, or IF = 1 with an interrupt or NMI pending).
   */
  halt(vcpu: number): boolean;
  /** STI; HLT as one step (native_safe_halt). Same result as `halt`. */
  safeHalt(vcpu: number): boolean;
  /** Is the vCPU halted? */
  halted(vcpu: number): boolean;
}

/** pv_mmu_ops: page-table stores, CR3, TLB flushes, lazy MMU mode. */
export interface PvMmuOps {
  /** The precondition of `setPte` alone (pure: depends only on the physical map): 0 or -errno. */
  checkPte(vcpu: number, gpa: number, hi: number, width: number): number;
  /**
   * Store a page-table entry (set_pte) and drop exactly the cached translations that used it.
   * 0, or -KVM_EFAULT (not plain RAM, misaligned), -KVM_EINVAL (bad width, high bits with width 4).
   */
  setPte(vcpu: number, gpa: number, lo: number, hi: number, width: 4 | 8): number;
  /** `setPte` for each entry in order, stopping at the first failure; returns the number applied. */
  updateBatch(vcpu: number, writes: readonly PteWrite[]): number;
  /** MOV to CR3 (flushes non-global translations); false means #GP(0) (bad PAE PDPTEs). */
  writeCr3(vcpu: number, cr3: number): boolean;
  /** INVLPG. */
  flushTlbOne(vcpu: number, linear: number): void;
  /** Flush non-global translations (MOV CR3 semantics), or everything with `includeGlobal`. */
  flushTlbAll(vcpu: number, includeGlobal: boolean): void;
  /** INVLPG of each address. */
  flushTlbList(vcpu: number, linear: ArrayLike<number>): void;
  /**
   * A 32-bit supervisor data read at a linear address through the MMU's read path (TLB, walker).
   * A page fault is raised through the CPU hooks attached to the MMU, as for a guest access.
   */
  readLinear(vcpu: number, linear: number): number;
  /** Enter lazy MMU mode: PTE stores and TLB flushes may be queued. */
  lazyEnter(vcpu: number): void;
  /** Leave lazy MMU mode: everything queued is applied now. */
  lazyLeave(vcpu: number): void;
  /** Apply everything queued, staying in lazy mode (arch_flush_lazy_mmu_mode). */
  lazyFlush(vcpu: number): void;
}

/** Local APIC ops. Register numbers are indices (xAPIC MMIO offset >> 4 = x2APIC MSR − 0x800). */
export interface PvApicOps {
  /** The APIC's mode (changes only through IA32_APIC_BASE, i.e. `cpu.writeMsr`). */
  mode(vcpu: number): ApicMode;
  /** Register read in the current mode (low 32 bits); `undefined` = #GP (x2APIC) or no APIC. */
  read(vcpu: number, reg: number): number | undefined;
  /**
   * Register write in the current mode. xAPIC: the 32-bit MMIO store, which always completes
   * (errors land in ESR as on hardware) ⇒ 0. x2APIC: WRMSR, 0 or -KVM_EINVAL where WRMSR #GPs.
   * A hardware-disabled APIC ⇒ -KVM_EINVAL.
   */
  write(vcpu: number, reg: number, value: number, high?: number): number;
  /** `write` for each entry in order with one interrupt re-evaluation; stops at the first failure. */
  writeBatch(vcpu: number, entries: readonly ApicBatchEntry[]): number;
  /** Write 0 to EOI. */
  eoi(vcpu: number): void;
  /**
   * KVM_HC_SEND_IPI semantics: one IPI (fixed, lowest priority as fixed, or NMI; physical
   * destination) to APIC IDs min + bit. Returns the number delivered, or -KVM_EINVAL.
   */
  sendIpi(vcpu: number, bitmapLow: number, bitmapHigh: number, minApicId: number, icr: number): number;
  /** Is an interrupt pending for the CPU (INTR)? */
  pending(vcpu: number): boolean;
  /** INTA: take the highest pending vector into service and return it. */
  acknowledge(vcpu: number): number;
}

/** Time: the virtual clock, pvclock and the APIC timer. */
export interface PvTimeOps {
  /** The virtual TSC in cycles. */
  tsc(): number;
  /** Nanoseconds since VM start (the kvmclock system time, exact: floor(tsc · 10^9 / hz)). */
  systemTimeNs(): bigint;
  /** Program the APIC timer: one-shot `initialCount` ticks on `vector` (divide by 1). */
  setTimer(vcpu: number, vector: number, initialCount: number): number;
  /** IA32_TSC_DEADLINE write (effective in TSC-deadline mode only, SDM 10.5.4.1). */
  setDeadline(vcpu: number, tsc: bigint): boolean;
  /** Rewrite the vCPU's pvclock page (the host calls it after the clock's rate or base changes). */
  refreshClock(vcpu: number): void;
}

/** Scheduling: PV unhalt and PV yield. */
export interface PvSchedOps {
  /** KVM_HC_SCHED_YIELD: the calling vCPU yields towards the vCPU with `targetApicId`. 0. */
  yield(vcpu: number, targetApicId: number): number;
  /** KVM_HC_KICK_CPU: wake the vCPU with `apicId` from HLT, or make its next HLT return. 0. */
  kick(vcpu: number, apicId: number): number;
}

/** The host console. */
export interface PvConsoleOps {
  /** Write bytes (valid only during the call); returns how many the host accepted. */
  write(vcpu: number, bytes: Uint8Array): number;
}

/** Exit bookkeeping: the trap and hypercall adapters report each exit here, once. */
export interface PvExitOps {
  record(vcpu: number, path: ExitPath, kind: ExitKind): void;
}

/** The whole vtable. */
export interface PvOps {
  readonly cpu: PvCpuOps;
  readonly irq: PvIrqOps;
  readonly mmu: PvMmuOps;
  readonly apic: PvApicOps;
  readonly time: PvTimeOps;
  readonly sched: PvSchedOps;
  readonly console: PvConsoleOps;
  readonly exit: PvExitOps;
}

/** Group names of the vtable. */
export type PvGroupName = keyof PvOps;

/** "group.op" names, e.g. "apic.write". */
export type PvOpName = {
  [G in PvGroupName]: `${G}.${Extract<keyof PvOps[G], string>}`;
}[PvGroupName];

/** The groups in vtable order (for wrappers that visit every op). */
export const PV_GROUPS: readonly PvGroupName[] = [
  'cpu',
  'irq',
  'mmu',
  'apic',
  'time',
  'sched',
  'console',
  'exit',
];

/** Exit kinds in x86-core's EXIT_* order (a type-only dependency: the list is repeated here). */
export const EXIT_KIND_NAMES: readonly ExitKind[] = [
  'io',
  'mmio',
  'hlt',
  'cpuid',
  'msr',
  'hypercall',
  'apic',
  'cr',
  'invlpg',
  'ptwrite',
];
