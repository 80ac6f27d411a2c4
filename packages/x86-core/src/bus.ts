/**
 * The interfaces through which the CPU reaches the rest of the machine (DESIGN.md §3).
 * The CPU never knows what is behind them: @pv/mmu implements `Memory`, the composer
 * (apps/demo/src/vm.ts) implements the buses from @pv/devices and @pv/apic.
 *
 * Packages other than x86-core may import these as *types* only.
 */

/** Access kind bits, used both for the slow-path calls and to index the software TLB. */
export const ACCESS_READ = 0;
/** The access writes. */
export const ACCESS_WRITE = 1;
/** The access is made with user privilege (CPL 3 and not an implicit supervisor access). */
export const ACCESS_USER = 2;
/** The access is an instruction fetch (never combined with ACCESS_WRITE). */
export const ACCESS_FETCH = 4;
/** Number of TLB kinds: the kind index is the OR of the ACCESS_* bits (5 and 7, write + fetch, unused). */
export const TLB_KINDS = 8;

/**
 * The software TLB, shared with the CPU's hot path (the softmmu design of QEMU and v86).
 *
 * Layout: `tag` and `offset` are parallel `Int32Array`s of `TLB_KINDS << bits` entries. For a
 * linear address `lin` and access kind `kind` (an OR of ACCESS_* bits):
 *
 * ```ts
 * const page = lin >>> 12;
 * const i = (kind << tlb.bits) | (page & ((1 << tlb.bits) - 1));
 * if (tlb.tag[i] === page) value = tlb.ram[(lin + tlb.offset[i]) >>> 0];  // a hit
 * else value = memory.read8(lin, kind);                                     // miss: slow path
 * ```
 *
 * A hit means: the page is translated, the access is allowed for that kind, the backing store is
 * `ram` (plain RAM, or ROM for read kinds), and for write kinds the accessed and dirty bits are
 * already set and nobody tracks writes to the page. MMIO, holes, tracked pages and anything that
 * needs the walker are never entered, so every such access goes to the slow path. An empty slot
 * holds tag -1. `ram`, `ram16` and `ram32` are views of the same buffer; `ram16`/`ram32` may be used
 * only for accesses aligned to their size, which then cannot straddle a page.
 */
export interface SoftTlb {
  /** log2 of the number of entries per kind. */
  readonly bits: number;
  /** Linear page number (lin >>> 12) cached in each slot, or -1. */
  readonly tag: Int32Array;
  /** (byte index into `ram` of the page) − (linear page base), modulo 2^32. */
  readonly offset: Int32Array;
  readonly ram: Uint8Array;
  readonly ram16: Uint16Array;
  readonly ram32: Int32Array;
  /**
   * Optional page map, a faster view of the same TLB (one load and no tag compare on a hit):
   * `pageMap[kind]` is an `Int32Array` of 2^20 entries indexed by the linear page `lin >>> 12`.
   * An entry holds `~offset` (the bitwise NOT of the slot's `offset`) exactly while the kind's slot
   * for that page holds it (`tag[i] === page`), and 0 otherwise, so a zero-filled map is empty.
   * With `o = ~pageMap[kind][lin >>> 12]` (−1 when absent, else a multiple of 4096):
   *
   * ```ts
   * if (((lin | o) & 3) === 0) value = tlb.ram32[((lin + o) | 0) >>> 2];  // aligned dword hit
   * if (((lin | o) & 1) === 0) value = tlb.ram16[((lin + o) | 0) >>> 1];  // aligned word hit
   * if ((o & 1) === 0) value = tlb.ram[(lin + o) >>> 0];                   // byte hit
   * ```
   *
   * An unaligned access is a hit when `(o & 1) === 0` and it does not straddle the page.
   * Memories without it leave it undefined; `tag`/`offset` stay authoritative for everyone. The
   * CPU's inline hit path reads only the page map: a Memory without one stays exact but every access
   * becomes a method call (crc-sieve: ~10 instead of ~45 MIPS), so an implementation that wants
   * speed provides it (FlatMemory and @pv/mmu do; each costs 32 MiB of zero-filled address space,
   * of which only the entries of cached pages become resident).
   */
  readonly pageMap?: readonly Int32Array[];
}

/** The paging-relevant control state the CPU pushes to the MMU whenever any part of it changes. */
export interface PagingState {
  cr0: number;
  cr3: number;
  cr4: number;
  /** IA32_EFER low 32 bits (NXE is bit 11). */
  efer: number;
  /** Current privilege level, 0..3. */
  cpl: number;
  /** EFLAGS.AC, relevant for SMAP. */
  ac: boolean;
}

/**
 * Linear memory as the CPU sees it. Every method takes a linear address and an access kind (an OR
 * of ACCESS_* bits); the MMU translates, checks permissions, sets accessed/dirty bits, and routes to
 * RAM, ROM, MMIO or a hole. Accesses that straddle a page are split by the MMU, and a straddling
 * write is checked on both pages before any byte is stored (so a fault leaves memory unchanged).
 *
 * A page fault is reported by calling `raisePageFault`, which the CPU installs in `attachCpu` and
 * which never returns (it unwinds the current instruction). The MMU sets no CPU state itself.
 */
export interface Memory {
  readonly tlb: SoftTlb;
  read8(lin: number, kind: number): number;
  read16(lin: number, kind: number): number;
  /** Returns the value as an unsigned 32-bit number. */
  read32(lin: number, kind: number): number;
  write8(lin: number, value: number, kind: number): void;
  write16(lin: number, value: number, kind: number): void;
  write32(lin: number, value: number, kind: number): void;
  /** Called by the CPU once, before it runs, with its page-fault entry point. */
  attachCpu(hooks: MemoryCpuHooks): void;
  /**
   * CR0/CR3/CR4/EFER/CPL/AC changed; the MMU flushes exactly what hardware would. May return false
   * to refuse the state, changing nothing (PAE PDPTEs with reserved bits set): the CPU then raises
   * #GP(0) on the MOV to CR0/CR3/CR4 that caused it instead of committing the register write.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: implementations that never refuse return void.
  setPagingState(state: PagingState): void | boolean;
  /** INVLPG: drop every cached translation of the page containing `lin` (global or not). */
  invlpg(lin: number): void;
  /** Flush the TLB: all non-global entries, or everything when `includeGlobal`. */
  flushTlb(includeGlobal: boolean): void;
}

/** What the MMU may call back into the CPU. */
export interface MemoryCpuHooks {
  /** Deliver #PF: sets CR2 = `lin` and unwinds the current instruction. Never returns. */
  raisePageFault(lin: number, errorCode: number): never;
  /** A page the CPU has decoded code from was written (for decoded-block caches); optional. */
  codeWritten?(physPage: number): void;
}

/** Port I/O. Unimplemented ports read as all-ones and ignore writes. */
export interface IoBus {
  in(port: number, size: 1 | 2 | 4): number;
  out(port: number, size: 1 | 2 | 4, value: number): void;
}

/** MSRs the CPU does not own itself. `undefined` / `false` mean "no such MSR" ⇒ #GP(0). */
export interface MsrBus {
  read(msr: number): bigint | undefined;
  write(msr: number, value: bigint): boolean;
}

/** The CPU's INTR and NMI pins (a PIC, or a local APIC). */
export interface InterruptLine {
  /** Is a maskable interrupt requested? Polled at instruction boundaries when EFLAGS.IF = 1. */
  pending(): boolean;
  /** INTA cycle: returns the vector and moves it in service. Called only after `pending()`. */
  acknowledge(): number;
  /** Is an NMI requested? Reading consumes it (edge). */
  nmi?(): boolean;
}

/** General-purpose register indices in the SDM's encoding order. */
export const EAX = 0;
export const ECX = 1;
export const EDX = 2;
export const EBX = 3;
export const ESP = 4;
export const EBP = 5;
export const ESI = 6;
export const EDI = 7;

/** The view of a vCPU a hypervisor call handler gets. */
export interface CpuState {
  /** The eight 32-bit general registers, indexed by EAX..EDI (values as int32). */
  readonly regs: Int32Array;
  /** Current privilege level. */
  readonly cpl: number;
  /** Current instruction count (retired). */
  readonly instructions: number;
}

/**
 * Privileged operations a host may carry out itself instead of the CPU doing them on `Memory`
 * directly, so that a trapped instruction and the matching hypercall end in the same code (the
 * paravirt-ops vtable, DESIGN.md §5). Each is called after the exit is counted; each is optional.
 */
export interface CpuTraps {
  /**
   * MOV to CR3 with `value` (reserved low bits cleared). The host loads it into the MMU (which must
   * flush the non-global TLB entries even when the value is unchanged) and writes it back into the
   * CPU's CR3. Returns false for #GP(0).
   */
  writeCr3?(value: number): boolean;
  /** INVLPG of the page containing linear address `lin`. */
  invlpg?(lin: number): void;
  /** HLT at CPL 0: returns whether the vCPU halts (false: continue at once, e.g. a PV kick came first). */
  hlt?(): boolean;
}

/** VMCALL / VMMCALL. The handler reads and writes `cpu.regs`. */
export interface Hypervisor {
  hypercall(cpu: CpuState): void;
}

/**
 * The virtual clock of DESIGN.md §3: cycles advance with retired instructions and exit costs,
 * never with the wall clock. Timers (PIT, APIC, pvclock, RTC) read this one clock.
 */
export interface VirtualClock {
  /** Virtual TSC cycles since reset. */
  now(): number;
  /** Cycles per second of virtual time. */
  readonly hz: number;
}

/** Why `run()` returned. */
export type ExitReason = 'hlt' | 'shutdown' | 'budget' | 'stop' | 'breakpoint';

/** Kinds of exits (transfers to the host that hardware virtualization would trap), for counters. */
export const EXIT_IO = 0;
export const EXIT_MMIO = 1;
export const EXIT_HLT = 2;
export const EXIT_CPUID = 3;
export const EXIT_MSR = 4;
export const EXIT_HYPERCALL = 5;
export const EXIT_APIC = 6;
export const EXIT_CR = 7;
export const EXIT_INVLPG = 8;
export const EXIT_PT_WRITE = 9;
export const EXIT_KINDS = 10;
/** Names of the exit kinds, indexed by EXIT_*. */
export const EXIT_NAMES = [
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
] as const;
export type ExitKindName = (typeof EXIT_NAMES)[number];
