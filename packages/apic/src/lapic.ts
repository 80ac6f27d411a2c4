/**
 * One local APIC (SDM Vol. 3A ch. 10), modelled on QEMU's hw/intc/apic.c and KVM's lapic.c.
 *
 * The APIC is a state machine that knows nothing of the machine: the composer maps `mmioRead` /
 * `mmioWrite` at `base` (and follows `onBaseChange`), routes MSRs to `readMsr` / `writeMsr`,
 * hands the object to the CPU as its `InterruptLine`, drives LINT0/LINT1 from the PIC / NMI
 * logic, and calls `tick()` when the virtual clock reaches `nextDeadline()`.
 *
 * Guest mistakes never throw: they set ESR bits, are ignored as hardware ignores them, or are
 * returned as #GP (`undefined` / `false` from the MSR methods, a status from `writeRegister`).
 */

import type { InterruptLine, VirtualClock } from '@pv/x86-core';
import { countBits, highestBit, isEmpty, resetBit, setBit, testBit } from './bits';
import { ApicBus } from './bus';
import { ApicError } from './errors';
import {
  APIC_ARBPRI,
  APIC_BROADCAST,
  APIC_DEFAULT_ADDRESS,
  APIC_DEST_SELF,
  APIC_DESTMODE_LOGICAL,
  APIC_DFR,
  APIC_DFR_CLUSTER,
  APIC_DFR_RESERVED_ONES,
  APIC_DFR_VALID,
  APIC_DM_EXTINT,
  APIC_DM_FIXED,
  APIC_DM_INIT,
  APIC_DM_LOWPRI,
  APIC_DM_MASK,
  APIC_DM_NMI,
  APIC_DM_REMRD,
  APIC_DM_SHIFT,
  APIC_DM_STARTUP,
  APIC_EOI,
  APIC_ERR_ACCESS_SIZE,
  APIC_ERR_MODE,
  APIC_ERR_READ_ONLY,
  APIC_ERR_RESERVED_BITS,
  APIC_ERR_UNKNOWN,
  APIC_ERR_WRITE_ONLY,
  APIC_ESR,
  APIC_ESR_ILLEGAL_ADDRESS,
  APIC_ESR_RECV_ILLEGAL_VECTOR,
  APIC_ESR_SEND_ILLEGAL_VECTOR,
  APIC_ICR,
  APIC_ICR_HI_VALID,
  APIC_ICR_LO_VALID,
  APIC_ICR2,
  APIC_ID,
  APIC_INPUT_POLARITY,
  APIC_INT_ASSERT,
  APIC_INT_LEVELTRIG,
  APIC_IRR,
  APIC_ISR,
  APIC_LDR,
  APIC_LDR_VALID,
  APIC_LVR,
  APIC_LVT_CMCI,
  APIC_LVT_ERROR,
  APIC_LVT_LEVEL_TRIGGER,
  APIC_LVT_LINT0,
  APIC_LVT_LINT1,
  APIC_LVT_MASKED,
  APIC_LVT_NB,
  APIC_LVT_REMOTE_IRR,
  APIC_LVT_TIMER,
  APIC_LVT_TIMER_MASK,
  APIC_LVT_TIMER_SHIFT,
  APIC_LVT_VALID,
  APIC_LVT0,
  APIC_LVTCMCI,
  APIC_LVTERR,
  APIC_LVTT,
  APIC_OK,
  APIC_PROCPRI,
  APIC_REG_COUNT,
  APIC_RRR,
  APIC_SELF_IPI,
  APIC_SEND_PENDING,
  APIC_SHORTHAND_MASK,
  APIC_SHORTHAND_SHIFT,
  APIC_SPIV,
  APIC_SPIV_APIC_ENABLED,
  APIC_SPIV_FOCUS_DISABLED,
  APIC_SPIV_VALID,
  APIC_SPIV_VECTOR,
  APIC_STATUS_NAMES,
  APIC_TASKPRI,
  APIC_TDCR,
  APIC_TMCCT,
  APIC_TMICT,
  APIC_TMR,
  APIC_TPR_VALID,
  APIC_VERSION,
  type ApicStatusName,
  apicRegName,
  KVM_MSR_ENABLED,
  KVM_PV_EOI_ENABLED,
  MSR_IA32_APICBASE,
  MSR_IA32_APICBASE_BSP,
  MSR_IA32_APICBASE_ENABLE,
  MSR_IA32_APICBASE_EXTD,
  MSR_IA32_TSC_DEADLINE,
  MSR_KVM_PV_EOI_EN,
  MSR_X2APIC_BASE,
  MSR_X2APIC_LAST,
  X2APIC_BROADCAST,
} from './regs';
import { ApicTimer, TIMER_DISARMED } from './timer';

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

/** Plain, versioned snapshot data (QEMU's vmstate_apic_common in spirit). */
export interface LocalApicState {
  version: 1;
  id: number;
  bsp: boolean;
  x2apicSupported: boolean;
  physAddrBits: number;
  cyclesPerTick: number;
  /** IA32_APIC_BASE low bits (address | EXTD | EN | BSP) as a number (< 2^52). */
  apicBase: number;
  xapicId: number;
  tpr: number;
  svr: number;
  ldr: number;
  dfr: number;
  esr: number;
  esrPending: number;
  icrLo: number;
  icrHi: number;
  isr: Uint32Array;
  tmr: Uint32Array;
  irr: Uint32Array;
  lvt: Uint32Array;
  timerInitial: number;
  timerDivide: number;
  /** Next timer expiry in TSC cycles, or -1. */
  timerExpiry: number;
  /** IA32_TSC_DEADLINE as a decimal string. */
  tscDeadline: string;
  lint0: boolean;
  lint1: boolean;
  extIntPending: boolean;
  nmiPending: boolean;
  waitForSipi: boolean;
  /** MSR_KVM_PV_EOI_EN as a decimal string. */
  pvEoiMsr: string;
  pvEoiPending: boolean;
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

const STATE_VERSION = 1;
const NO_FAILURES: readonly ApicBatchFailure[] = Object.freeze([]);

/** An integer a 32-bit register field can be taken from (int32 or uint32 range). */
function isU32ish(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= -0x8000_0000 && v <= 0xffff_ffff;
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
const TWO32 = 0x1_0000_0000;

function lvtIndexOf(reg: number): number {
  if (reg === APIC_LVTCMCI) return APIC_LVT_CMCI;
  return reg - APIC_LVTT; // LVTT..LVTERR are consecutive
}

export class LocalApic implements InterruptLine {
  /** Initial APIC ID = x2APIC ID (never changes). */
  readonly id: number;
  readonly bsp: boolean;
  readonly bus: ApicBus;
  readonly clock: VirtualClock;
  readonly stats: LocalApicStats = {
    accesses: 0,
    batches: 0,
    evaluations: 0,
    coalesced: 0,
    spurious: 0,
    dropped: 0,
    timerFired: 0,
    pvEoi: 0,
    badMmio: 0,
  };

  /** In-service, trigger-mode and request registers, vector v at bit v&31 of word v>>5. */
  readonly isr = new Uint32Array(8);
  readonly tmr = new Uint32Array(8);
  readonly irr = new Uint32Array(8);
  /** LVT entries indexed by APIC_LVT_*. */
  readonly lvt = new Uint32Array(APIC_LVT_NB);

  private readonly events: LocalApicEvents;
  private readonly extInt: ExtIntSource | undefined;
  private readonly pvEoiMemory: PvEoiMemory | undefined;
  private readonly x2apicSupported: boolean;
  private readonly physAddrBits: number;
  private readonly timer: ApicTimer;

  /** IA32_APIC_BASE bits 31:0 and the address bits above (kept as one number < 2^52). */
  private apicBase = 0;
  private xapicId = 0;
  private tpr = 0;
  private svr = 0;
  private ldr = 0;
  private dfr = 0;
  /** ESR as last latched by a write; `esrPending` accumulates errors until the next write. */
  private esr = 0;
  private esrPending = 0;
  private icrLo = 0;
  private icrHi = 0;
  private lint0 = false;
  private lint1 = false;
  private extIntPending = false;
  private nmiPending = false;
  private waitForSipi = false;
  private pvEoiMsr = 0n;
  private pvEoiPending = false;

  /** Cached result of the last evaluation: a maskable interrupt is deliverable. */
  private intr = false;
  /** `onInterrupt` was raised and nothing has been taken since. */
  private signalled = false;
  /** State changed during a batch; evaluate at its end. */
  private dirty = false;

  constructor(options: LocalApicOptions) {
    const { id, clock } = options;
    if (!Number.isInteger(id) || id < 0 || id > 0xffffffff || id === X2APIC_BROADCAST) {
      throw new ApicError('APIC_BAD_OPTION', `LocalApic: id ${String(id)} is not an APIC ID (0..0xfffffffe)`);
    }
    if (clock === undefined || typeof clock.now !== 'function') {
      throw new ApicError('APIC_BAD_OPTION', `LocalApic ${id}: options.clock is not a VirtualClock`);
    }
    const cpt = options.cyclesPerTick ?? 1;
    // Bounded so that initial count × 128 × cyclesPerTick stays an exact double (< 2^53).
    if (!Number.isInteger(cpt) || cpt < 1 || cpt > 1024) {
      throw new ApicError(
        'APIC_BAD_OPTION',
        `LocalApic ${id}: cyclesPerTick ${cpt} is not an integer in 1..1024`,
      );
    }
    const pab = options.physAddrBits ?? 36;
    if (!Number.isInteger(pab) || pab < 32 || pab > 52) {
      throw new ApicError('APIC_BAD_OPTION', `LocalApic ${id}: physAddrBits ${pab} is not in 32..52`);
    }
    this.id = id;
    this.bsp = options.bsp ?? false;
    this.clock = clock;
    this.events = options.events ?? {};
    this.extInt = options.extInt;
    this.pvEoiMemory = options.pvEoiMemory;
    this.x2apicSupported = options.x2apic ?? true;
    this.physAddrBits = pab;
    this.timer = new ApicTimer(cpt);
    this.bus = options.bus ?? new ApicBus();
    this.powerOnReset();
    this.bus.attach(this);
  }

  /** Restore from `saveState()` data; validates it and re-arms the timer from the stored expiry. */
  static fromState(state: LocalApicState, deps: Omit<LocalApicOptions, 'id' | 'bsp'>): LocalApic {
    validateState(state);
    const apic = new LocalApic({
      ...deps,
      id: state.id,
      bsp: state.bsp,
      x2apic: state.x2apicSupported,
      physAddrBits: state.physAddrBits,
      cyclesPerTick: state.cyclesPerTick,
    });
    apic.apicBase = state.apicBase;
    apic.xapicId = state.xapicId;
    apic.tpr = state.tpr;
    apic.svr = state.svr;
    apic.ldr = state.ldr;
    apic.dfr = state.dfr;
    apic.esr = state.esr;
    apic.esrPending = state.esrPending;
    apic.icrLo = state.icrLo;
    apic.icrHi = state.icrHi;
    apic.isr.set(state.isr);
    apic.tmr.set(state.tmr);
    apic.irr.set(state.irr);
    apic.lvt.set(state.lvt);
    const t = apic.timer;
    t.mode = (state.lvt[APIC_LVT_TIMER]! & APIC_LVT_TIMER_MASK) >>> APIC_LVT_TIMER_SHIFT;
    t.initial = state.timerInitial;
    t.tdcr = state.timerDivide;
    t.expiry = state.timerExpiry < 0 ? TIMER_DISARMED : state.timerExpiry;
    t.deadline = BigInt(state.tscDeadline);
    apic.lint0 = state.lint0;
    apic.lint1 = state.lint1;
    apic.extIntPending = state.extIntPending;
    apic.nmiPending = state.nmiPending;
    apic.waitForSipi = state.waitForSipi;
    apic.pvEoiMsr = BigInt(state.pvEoiMsr);
    apic.pvEoiPending = state.pvEoiPending;
    apic.signalled = false;
    apic.evaluate();
    return apic;
  }

  saveState(): LocalApicState {
    const t = this.timer;
    return {
      version: STATE_VERSION,
      id: this.id,
      bsp: this.bsp,
      x2apicSupported: this.x2apicSupported,
      physAddrBits: this.physAddrBits,
      cyclesPerTick: this.timer.cyclesPerTick,
      apicBase: this.apicBase,
      xapicId: this.xapicId,
      tpr: this.tpr,
      svr: this.svr,
      ldr: this.ldr,
      dfr: this.dfr,
      esr: this.esr,
      esrPending: this.esrPending,
      icrLo: this.icrLo,
      icrHi: this.icrHi,
      isr: this.isr.slice(),
      tmr: this.tmr.slice(),
      irr: this.irr.slice(),
      lvt: this.lvt.slice(),
      timerInitial: t.initial,
      timerDivide: t.tdcr,
      timerExpiry: t.expiry === TIMER_DISARMED ? -1 : t.expiry,
      tscDeadline: t.deadline.toString(),
      lint0: this.lint0,
      lint1: this.lint1,
      extIntPending: this.extIntPending,
      nmiPending: this.nmiPending,
      waitForSipi: this.waitForSipi,
      pvEoiMsr: this.pvEoiMsr.toString(),
      pvEoiPending: this.pvEoiPending,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Mode and base
  // -------------------------------------------------------------------------------------------

  /** IA32_APIC_BASE.EN: the APIC takes part in the bus at all. */
  get hardwareEnabled(): boolean {
    return (this.apicBase & MSR_IA32_APICBASE_ENABLE) !== 0;
  }

  /** x2APIC mode (EN = EXTD = 1). */
  get x2apicMode(): boolean {
    return (this.apicBase & MSR_IA32_APICBASE_EXTD) !== 0;
  }

  /** SVR bit 8: the APIC accepts fixed interrupts and delivers them to the CPU. */
  get softwareEnabled(): boolean {
    return (this.svr & APIC_SPIV_APIC_ENABLED) !== 0;
  }

  /** Guest-physical address of the xAPIC page (4 KiB aligned). */
  get base(): number {
    return this.apicBase - (this.apicBase % 0x1000);
  }

  /** The xAPIC page answers accesses: EN = 1 and EXTD = 0. */
  get mmioEnabled(): boolean {
    return this.hardwareEnabled && !this.x2apicMode;
  }

  /** The full IA32_APIC_BASE value. */
  getApicBase(): bigint {
    return BigInt(this.apicBase);
  }

  /**
   * WRMSR IA32_APIC_BASE with the SDM 10.12.5 transition rules: disabled → xAPIC → x2APIC →
   * disabled are legal; x2APIC → xAPIC, disabled → x2APIC, EXTD without EN, EXTD without x2APIC
   * support and reserved bits are #GP (returns false, nothing changes). BSP is read-only.
   */
  setApicBase(value: bigint): boolean {
    const limit = 1n << BigInt(this.physAddrBits);
    if (value < 0n || value >= limit) return false;
    const v = Number(value);
    const lo = v % 0x1000;
    if ((lo & 0x2ff) !== 0) return false; // bits 7:0 and 9 reserved (bit 8 BSP is read-only)
    const en = (lo & MSR_IA32_APICBASE_ENABLE) !== 0;
    const extd = (lo & MSR_IA32_APICBASE_EXTD) !== 0;
    if (extd && !this.x2apicSupported) return false;
    if (extd && !en) return false; // invalid state
    const wasEn = this.hardwareEnabled;
    const wasX2 = this.x2apicMode;
    if (wasEn && wasX2 && en && !extd) return false; // x2APIC → xAPIC
    if (!wasEn && en && extd) return false; // disabled → x2APIC
    const oldBase = this.base;
    const oldMmio = this.mmioEnabled;
    const flags = (en ? MSR_IA32_APICBASE_ENABLE : 0) | (extd ? MSR_IA32_APICBASE_EXTD : 0);
    this.apicBase = v - lo + flags + (this.bsp ? MSR_IA32_APICBASE_BSP : 0);
    if (wasEn && !en) {
      // SDM 10.4.3: clearing EN may return the APIC to its power-up state; we always do, keeping
      // the base and the x2APIC ID. LINT0/LINT1 now act as INTR/NMI pins.
      this.resetRegisters();
    }
    if (en && extd && !wasX2) {
      // SDM 10.12.10.2: the logical x2APIC ID is derived from the x2APIC ID on entering x2APIC.
      this.ldr = (((this.id >>> 4) << 16) | (1 << (this.id & 0xf))) >>> 0;
      this.icrHi = 0;
    }
    if (this.base !== oldBase || this.mmioEnabled !== oldMmio) {
      this.events.onBaseChange?.(this.base, this.mmioEnabled);
    }
    this.markDirty();
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // MMIO (xAPIC page) and MSRs (x2APIC, IA32_APIC_BASE, TSC deadline, PV EOI)
  // -------------------------------------------------------------------------------------------

  /**
   * Read `size` bytes at `offset` in the xAPIC page. Registers are 32 bits at 16-byte strides;
   * narrower reads extract bytes, bytes 4–15 of a slot read 0. While the page is off (APIC
   * disabled or in x2APIC mode) reads return all-ones, like an unclaimed bus.
   */
  mmioRead(offset: number, size: 1 | 2 | 4): number {
    this.stats.accesses++;
    const mask = size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
    if (!this.mmioEnabled) {
      this.stats.badMmio++;
      return mask >>> 0;
    }
    this.enter();
    const reg = (offset >>> 4) & 0xff;
    const byte = offset & 0xf;
    const value = this.readReg(reg, false);
    if (this.status === APIC_ERR_UNKNOWN) this.setError(APIC_ESR_ILLEGAL_ADDRESS);
    this.leave();
    if (byte >= 4) return 0;
    return ((value >>> (byte * 8)) & mask) >>> 0;
  }

  /**
   * Write at `offset` in the xAPIC page. Only aligned 32-bit writes reach a register (others are
   * ignored, as KVM does); returns the access status (APIC_OK or an APIC_ERR_* code).
   */
  mmioWrite(offset: number, size: 1 | 2 | 4, value: number): number {
    this.stats.accesses++;
    if (!this.mmioEnabled || size !== 4 || (offset & 0xf) !== 0) {
      this.stats.badMmio++;
      return this.mmioEnabled ? APIC_ERR_ACCESS_SIZE : APIC_ERR_MODE;
    }
    this.enter();
    const status = this.writeReg((offset >>> 4) & 0xff, value >>> 0, 0, false);
    this.leave();
    return status;
  }

  /** True for the MSRs this APIC answers (route them here from the CPU's MsrBus). */
  ownsMsr(msr: number): boolean {
    return (
      msr === MSR_IA32_APICBASE ||
      msr === MSR_IA32_TSC_DEADLINE ||
      msr === MSR_KVM_PV_EOI_EN ||
      (msr >= MSR_X2APIC_BASE && msr <= MSR_X2APIC_LAST)
    );
  }

  /** RDMSR. `undefined` means #GP(0) (also for MSRs this APIC does not own). */
  readMsr(msr: number): bigint | undefined {
    this.stats.accesses++;
    switch (msr) {
      case MSR_IA32_APICBASE:
        return BigInt(this.apicBase);
      case MSR_IA32_TSC_DEADLINE:
        this.enter();
        this.leave();
        return this.hardwareEnabled ? this.timer.readDeadline() : 0n;
      case MSR_KVM_PV_EOI_EN:
        return this.pvEoiMsr;
    }
    if (msr < MSR_X2APIC_BASE || msr > MSR_X2APIC_LAST || !this.x2apicMode) return undefined;
    this.enter();
    const reg = msr - MSR_X2APIC_BASE;
    const lo = this.readReg(reg, true);
    const ok = this.status === APIC_OK;
    this.leave();
    if (!ok) return undefined;
    const hi = reg === APIC_ICR ? this.icrHi : 0;
    return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  }

  /** WRMSR. `false` means #GP(0): nothing was changed. */
  writeMsr(msr: number, value: bigint): boolean {
    this.stats.accesses++;
    if (value < 0n || value > 0xffff_ffff_ffff_ffffn) return false;
    switch (msr) {
      case MSR_IA32_APICBASE: {
        this.enter();
        const ok = this.setApicBase(value);
        this.leave();
        return ok;
      }
      case MSR_IA32_TSC_DEADLINE:
        // SDM 10.5.4.1: ignored unless the LVT timer is in TSC-deadline mode.
        this.enter();
        if (this.hardwareEnabled) this.timer.writeDeadline(value);
        this.leave();
        return true;
      case MSR_KVM_PV_EOI_EN:
        return this.setPvEoi(value);
    }
    if (msr < MSR_X2APIC_BASE || msr > MSR_X2APIC_LAST || !this.x2apicMode) return false;
    this.enter();
    const status = this.writeReg(
      msr - MSR_X2APIC_BASE,
      Number(value & 0xffffffffn),
      Number(value >> 32n),
      true,
    );
    this.leave();
    return status === APIC_OK;
  }

  /**
   * One register write by index in the current mode, as the paravirt `apic.write` op: the same
   * semantics as the MMIO dword write (xAPIC) or WRMSR (x2APIC). Returns an APIC_* status.
   */
  writeRegister(reg: number, value: number, high = 0): number {
    this.stats.accesses++;
    if (!this.hardwareEnabled) return APIC_ERR_MODE;
    if (!Number.isInteger(reg) || reg < 0 || reg >= APIC_REG_COUNT) return APIC_ERR_UNKNOWN;
    if (!this.x2apicMode && high !== 0) return APIC_ERR_RESERVED_BITS;
    this.enter();
    const status = this.writeReg(reg, value >>> 0, high >>> 0, this.x2apicMode);
    this.leave();
    return status;
  }

  /** One register read by index in the current mode (low 32 bits), or undefined on #GP. */
  readRegister(reg: number): number | undefined {
    this.stats.accesses++;
    if (!this.hardwareEnabled || !Number.isInteger(reg) || reg < 0 || reg >= APIC_REG_COUNT) return undefined;
    this.enter();
    const v = this.readReg(reg, this.x2apicMode);
    const status = this.status;
    if (status === APIC_ERR_UNKNOWN && !this.x2apicMode) this.setError(APIC_ESR_ILLEGAL_ADDRESS);
    this.leave();
    return status === APIC_OK ? v >>> 0 : undefined;
  }

  /**
   * Apply N register writes with exactly the semantics of N sequential writes in the current
   * mode (each entry: the xAPIC MMIO dword write at reg << 4, or WRMSR 0x800 + reg), in order,
   * with one interrupt-state re-evaluation and one exit. Entries that the hardware would ignore
   * or #GP are not applied and are reported; the following entries are still applied.
   */
  writeBatch(entries: readonly ApicBatchEntry[]): ApicBatchResult {
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (
        e === null ||
        typeof e !== 'object' ||
        !isU32ish(e.reg) ||
        !isU32ish(e.value) ||
        (e.high !== undefined && !isU32ish(e.high))
      ) {
        throw new ApicError(
          'APIC_BAD_BATCH',
          `writeBatch: entry ${i} is not { reg, value, high? } with 32-bit integer fields: ${safeJson(e)}`,
        );
      }
    }
    this.stats.batches++;
    let failures: ApicBatchFailure[] | undefined;
    let applied = 0;
    this.enter();
    const x2 = this.x2apicMode;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const status = this.batchEntry(e.reg, e.value >>> 0, (e.high ?? 0) >>> 0, x2);
      if (status === APIC_OK) applied++;
      else {
        failures ??= [];
        failures.push({
          index: i,
          reg: e.reg,
          status: APIC_STATUS_NAMES[status]!,
          message: `entry ${i}: ${APIC_STATUS_NAMES[status]} ${x2 ? 'x2APIC' : 'xAPIC'} register ${apicRegName(e.reg)}`,
        });
      }
    }
    this.leave();
    return { applied, failures: failures ?? NO_FAILURES };
  }

  /**
   * `writeBatch` over flat little records, for the hypercall path (no allocation): entry i is
   * `words[3i]` = register index, `words[3i+1]` = bits 31:0, `words[3i+2]` = bits 63:32. When
   * `status` is given, `status[i]` receives the entry's APIC_* status code. Returns the number of
   * entries applied.
   */
  writeBatchWords(words: Uint32Array, count: number, status?: Uint8Array): number {
    if (!Number.isInteger(count) || count < 0 || count * 3 > words.length) {
      throw new ApicError(
        'APIC_BAD_BATCH',
        `writeBatchWords: count ${count} needs ${count * 3} words, the array has ${words.length}`,
      );
    }
    if (status !== undefined && status.length < count) {
      throw new ApicError(
        'APIC_BAD_BATCH',
        `writeBatchWords: status array of ${status.length} < count ${count}`,
      );
    }
    this.stats.batches++;
    let applied = 0;
    this.enter();
    const x2 = this.x2apicMode;
    for (let i = 0; i < count; i++) {
      const st = this.batchEntry(words[3 * i]!, words[3 * i + 1]!, words[3 * i + 2]!, x2);
      if (status !== undefined) status[i] = st;
      if (st === APIC_OK) applied++;
    }
    this.leave();
    return applied;
  }

  private batchEntry(reg: number, value: number, high: number, x2: boolean): number {
    if (this.timer.expiry <= this.clock.now()) this.tick(); // as each trap would (enter())
    if (!this.hardwareEnabled) return APIC_ERR_MODE;
    if (reg < 0 || reg >= APIC_REG_COUNT) return APIC_ERR_UNKNOWN;
    if (!x2 && high !== 0) return APIC_ERR_RESERVED_BITS;
    return this.writeReg(reg, value, high, x2);
  }

  /**
   * KVM_HC_SEND_IPI (KVM's kvm_pv_send_ipi): one fixed or NMI IPI, physical destination, to
   * APIC IDs `min + i` for every bit i of `bitmapLow` and `min + 32 + i` of `bitmapHigh` (the
   * 32-bit ABI). `icr` supplies vector, delivery mode and trigger. Returns the number of APICs
   * that received it, or -1 (the caller's -EINVAL) for a delivery mode other than fixed,
   * lowest priority (delivered as fixed, as KVM does) or NMI.
   */
  sendIpiMask(bitmapLow: number, bitmapHigh: number, min: number, icr: number): number {
    const dm = (icr & APIC_DM_MASK) >>> APIC_DM_SHIFT;
    if (dm !== APIC_DM_FIXED && dm !== APIC_DM_LOWPRI && dm !== APIC_DM_NMI) return -1;
    const vector = icr & 0xff;
    const trigger = (icr & APIC_INT_LEVELTRIG) !== 0 ? 1 : 0;
    this.stats.batches++;
    this.enter();
    let n = 0;
    for (let half = 0; half < 2; half++) {
      let bits = (half === 0 ? bitmapLow : bitmapHigh) >>> 0;
      while (bits !== 0) {
        const i = 31 - Math.clz32(bits & -bits);
        bits = (bits & (bits - 1)) >>> 0;
        const target = this.bus.get((min >>> 0) + half * 32 + i);
        if (target === undefined || !target.hardwareEnabled) continue;
        if (dm !== APIC_DM_NMI && vector < 16) {
          this.setError(APIC_ESR_SEND_ILLEGAL_VECTOR);
          continue;
        }
        target.receive(dm === APIC_DM_NMI ? APIC_DM_NMI : APIC_DM_FIXED, vector, trigger);
        n++;
      }
    }
    this.leave();
    return n;
  }

  // -------------------------------------------------------------------------------------------
  // The CPU side: InterruptLine
  // -------------------------------------------------------------------------------------------

  /** INTR: a maskable interrupt is deliverable (fixed vector above PPR, or ExtINT). */
  pending(): boolean {
    if (this.timer.expiry <= this.clock.now()) this.tick();
    return this.intr;
  }

  /**
   * INTA (QEMU's apic_get_interrupt, then the PIC): the highest IRR vector above PPR moves to
   * ISR; otherwise an ExtINT vector comes from the PIC; otherwise the spurious vector (SDM 10.9).
   */
  acknowledge(): number {
    this.syncPvEoi();
    this.signalled = false;
    if (this.hardwareEnabled && this.softwareEnabled) {
      const irrv = highestBit(this.irr);
      if (irrv >= 0 && (irrv & 0xf0) > (this.ppr() & 0xf0)) {
        resetBit(this.irr, irrv);
        setBit(this.isr, irrv);
        this.setPvEoiIfAllowed(irrv);
        this.evaluate();
        return irrv;
      }
    }
    if (this.extIntActive()) {
      this.extIntPending = false;
      const v = this.extInt === undefined ? this.svr & APIC_SPIV_VECTOR : this.extInt.acknowledge() & 0xff;
      this.evaluate();
      return v;
    }
    this.stats.spurious++;
    this.evaluate();
    return this.svr & APIC_SPIV_VECTOR;
  }

  /** NMI pin: reading consumes a pending NMI (from LINT1, an NMI IPI or an NMI message). */
  nmi(): boolean {
    if (!this.nmiPending) return false;
    this.nmiPending = false;
    this.signalled = false;
    return true;
  }

  /** Drive LINT0 (the 8259's INT output in virtual-wire mode). */
  setLint0(level: boolean): void {
    this.setLint(APIC_LVT_LINT0, level);
  }

  /** Drive LINT1 (NMI in the usual wiring). */
  setLint1(level: boolean): void {
    this.setLint(APIC_LVT_LINT1, level);
  }

  // -------------------------------------------------------------------------------------------
  // Time and exits
  // -------------------------------------------------------------------------------------------

  /** TSC cycle of the next timer event, or +Infinity: the run loop stops there and calls tick(). */
  nextDeadline(): number {
    return this.timer.expiry;
  }

  /** Process timer expiries due at the clock's current time. Returns true if the timer fired. */
  tick(): boolean {
    if (!this.timer.expire(this.clock.now())) return false;
    this.stats.timerFired++;
    if (this.hardwareEnabled) this.localDeliver(APIC_LVT_TIMER);
    this.markDirty();
    return true;
  }

  /** Called by the run loop at every exit: completes an EOI the guest skipped through PV EOI. */
  exit(): void {
    this.syncPvEoi();
  }

  /** Snapshot of the priority registers, for tests and debuggers. */
  priorities(): { tpr: number; ppr: number; apr: number; isrv: number; irrv: number } {
    return {
      tpr: this.tpr,
      ppr: this.ppr(),
      apr: this.arbitrationPriority(),
      isrv: highestBit(this.isr),
      irrv: highestBit(this.irr),
    };
  }

  /** Host reset (RESET#): power-up state, xAPIC mode at the default base. */
  reset(): void {
    const oldBase = this.base;
    const oldMmio = this.mmioEnabled;
    this.powerOnReset();
    if (this.base !== oldBase || this.mmioEnabled !== oldMmio) {
      this.events.onBaseChange?.(this.base, this.mmioEnabled);
    }
    this.markDirty();
  }

  // -------------------------------------------------------------------------------------------
  // Bus side (@internal: called by ApicBus)
  // -------------------------------------------------------------------------------------------

  /** @internal Physical destination match (SDM 10.6.2.1, 10.12.10). */
  matchPhysical(dest: number): boolean {
    if (this.x2apicMode) return dest === X2APIC_BROADCAST || dest === this.id;
    const d = dest & 0xff;
    return d === APIC_BROADCAST || d === this.xapicId;
  }

  /** @internal Logical destination match: flat / cluster (SDM 10.6.2.2), x2APIC cluster (10.12.10.1). */
  matchLogical(dest: number): boolean {
    if (this.x2apicMode) {
      if (dest === X2APIC_BROADCAST) return true;
      return dest >>> 16 === this.ldr >>> 16 && (dest & this.ldr & 0xffff) !== 0;
    }
    const d = dest & 0xff;
    const logical = this.ldr >>> 24;
    if (this.dfr >>> 28 === APIC_DFR_CLUSTER) {
      const cluster = d >>> 4;
      return (cluster === 0xf || cluster === logical >>> 4) && (d & logical & 0xf) !== 0;
    }
    return (d & logical) !== 0; // flat model (and reserved models treated as flat)
  }

  /** @internal Focus processor for lowest-priority delivery (SDM 10.6.2.4). */
  isFocusFor(vector: number): boolean {
    return (
      (this.svr & APIC_SPIV_FOCUS_DISABLED) === 0 && (testBit(this.isr, vector) || testBit(this.irr, vector))
    );
  }

  /**
   * APR (SDM 10.8.3, P6 rule): TPR when TPR[7:4] ≥ IRRV[7:4] and TPR[7:4] > ISRV[7:4], else the
   * highest of the three priority classes with subclass 0.
   */
  arbitrationPriority(): number {
    const tpr = this.tpr >>> 4;
    const isrv = Math.max(highestBit(this.isr), 0) >>> 4;
    const irrv = Math.max(highestBit(this.irr), 0) >>> 4;
    if (tpr >= irrv && tpr > isrv) return this.tpr;
    return Math.max(tpr, isrv, irrv) << 4;
  }

  /** @internal Accept a message from the bus (the APIC is a target and hardware-enabled). */
  receive(deliveryMode: number, vector: number, trigger: number): void {
    switch (deliveryMode) {
      case APIC_DM_FIXED:
      case APIC_DM_LOWPRI:
        if (!this.softwareEnabled) {
          // SDM 10.4.7.2: a software-disabled APIC still takes NMI, INIT, SMI and SIPI only.
          this.stats.dropped++;
          return;
        }
        this.acceptFixed(vector, trigger !== 0);
        return;
      case APIC_DM_NMI:
        this.events.onAccept?.(this.id, APIC_DM_NMI, 2);
        this.nmiPending = true;
        this.markDirty();
        return;
      case APIC_DM_INIT:
        this.acceptInit();
        return;
      case APIC_DM_STARTUP:
        if (!this.waitForSipi) {
          this.stats.dropped++; // SDM 8.4.4.1: a SIPI outside wait-for-SIPI is ignored
          return;
        }
        this.waitForSipi = false;
        this.events.onAccept?.(this.id, APIC_DM_STARTUP, vector);
        this.events.onStartup?.(this.id, vector);
        return;
      case APIC_DM_EXTINT:
        this.events.onAccept?.(this.id, APIC_DM_EXTINT, vector);
        this.extIntPending = true;
        this.markDirty();
        return;
      default:
        this.stats.dropped++; // SMI (no SMM here) and reserved encodings
    }
  }

  /** @internal End of a bus batch: evaluate once if anything changed. */
  flushDeferred(): void {
    if (this.dirty) this.evaluate();
  }

  // -------------------------------------------------------------------------------------------
  // Internals
  // -------------------------------------------------------------------------------------------

  /** Status of the last readReg/writeReg (avoids allocating a result object on the hot path). */
  private status = APIC_OK;

  /** Every guest access is an exit: complete a PV EOI, bring the timer up to date, defer evaluation. */
  private enter(): void {
    this.syncPvEoi();
    this.bus.beginBatch();
    if (this.timer.expiry <= this.clock.now()) this.tick();
  }

  private leave(): void {
    this.bus.endBatch();
  }

  private markDirty(): void {
    if (this.bus.batchDepth > 0) this.dirty = true;
    else this.evaluate();
  }

  /** apic_update_irq: recompute INTR and raise onInterrupt on a new pending interrupt or NMI. */
  private evaluate(): void {
    this.dirty = false;
    this.stats.evaluations++;
    let intr = false;
    if (this.hardwareEnabled && this.softwareEnabled) {
      const irrv = highestBit(this.irr);
      intr = irrv >= 0 && (irrv & 0xf0) > (this.ppr() & 0xf0);
    }
    if (!intr) intr = this.extIntActive();
    this.intr = intr;
    const want = intr || this.nmiPending;
    if (want && !this.signalled) {
      this.signalled = true;
      this.events.onInterrupt?.(this.id);
    } else if (!want) {
      this.signalled = false;
    }
  }

  /** PPR (SDM 10.8.3.1): TPR if TPR[7:4] ≥ ISRV[7:4], else ISRV[7:4] with subclass 0. */
  private ppr(): number {
    const isrv = highestBit(this.isr);
    const isrClass = isrv < 0 ? 0 : isrv & 0xf0;
    return (this.tpr & 0xf0) >= isrClass ? this.tpr : isrClass;
  }

  /** An ExtINT vector is requested: LINT0 wired through (APIC disabled), LINT0 ExtINT, or a message. */
  private extIntActive(): boolean {
    if (!this.hardwareEnabled) return this.lint0;
    if (this.extIntPending) return true;
    const lvt = this.lvt[APIC_LVT_LINT0]!;
    return (
      (lvt & APIC_LVT_MASKED) === 0 &&
      (lvt & APIC_DM_MASK) >>> APIC_DM_SHIFT === APIC_DM_EXTINT &&
      this.lintActive(lvt, this.lint0)
    );
  }

  private lintActive(lvt: number, level: boolean): boolean {
    return (lvt & APIC_INPUT_POLARITY) !== 0 ? !level : level;
  }

  private setLint(index: number, level: boolean): void {
    const old = index === APIC_LVT_LINT0 ? this.lint0 : this.lint1;
    if (index === APIC_LVT_LINT0) this.lint0 = level;
    else this.lint1 = level;
    if (!this.hardwareEnabled) {
      // SDM 10.4.3: without the APIC, LINT0 is INTR and LINT1 is NMI.
      if (index === APIC_LVT_LINT1 && level && !old) this.nmiPending = true;
      this.markDirty();
      return;
    }
    const lvt = this.lvt[index]!;
    const active = this.lintActive(lvt, level);
    const wasActive = this.lintActive(lvt, old);
    const dm = (lvt & APIC_DM_MASK) >>> APIC_DM_SHIFT;
    if (dm === APIC_DM_EXTINT) {
      this.markDirty(); // level-sensitive: extIntActive() follows the pin
      return;
    }
    const levelTrig = (lvt & APIC_LVT_LEVEL_TRIGGER) !== 0 && dm === APIC_DM_FIXED;
    if (levelTrig ? active && (lvt & APIC_LVT_REMOTE_IRR) === 0 : active && !wasActive) {
      this.localDeliver(index);
    }
  }

  /** apic_local_deliver: raise the interrupt an LVT entry describes (SDM 10.5.1). */
  private localDeliver(index: number): void {
    const lvt = this.lvt[index]!;
    if ((lvt & APIC_LVT_MASKED) !== 0) return;
    const vector = lvt & 0xff;
    // The timer and error entries have no delivery-mode field: always fixed.
    const dm =
      index === APIC_LVT_TIMER || index === APIC_LVT_ERROR
        ? APIC_DM_FIXED
        : (lvt & APIC_DM_MASK) >>> APIC_DM_SHIFT;
    switch (dm) {
      case APIC_DM_FIXED: {
        const level =
          (index === APIC_LVT_LINT0 || index === APIC_LVT_LINT1) && (lvt & APIC_LVT_LEVEL_TRIGGER) !== 0;
        if (vector < 16) {
          if (index === APIC_LVT_ERROR) this.esrPending |= APIC_ESR_RECV_ILLEGAL_VECTOR;
          else this.setError(APIC_ESR_RECV_ILLEGAL_VECTOR);
          return;
        }
        if (level) this.lvt[index] = lvt | APIC_LVT_REMOTE_IRR;
        this.acceptFixed(vector, level);
        return;
      }
      case APIC_DM_NMI:
        this.events.onAccept?.(this.id, APIC_DM_NMI, 2);
        this.nmiPending = true;
        this.markDirty();
        return;
      case APIC_DM_INIT:
        this.acceptInit();
        return;
      case APIC_DM_EXTINT:
        this.markDirty();
        return;
      default:
        this.stats.dropped++; // SMI and reserved modes
    }
  }

  /** apic_set_irq: accept a fixed interrupt into IRR, setting TMR for level (SDM 10.8.4). */
  private acceptFixed(vector: number, level: boolean): void {
    if (vector < 16) {
      this.setError(APIC_ESR_RECV_ILLEGAL_VECTOR);
      return;
    }
    this.events.onAccept?.(this.id, APIC_DM_FIXED, vector);
    if (testBit(this.irr, vector)) this.stats.coalesced++;
    setBit(this.irr, vector);
    if (level) setBit(this.tmr, vector);
    else resetBit(this.tmr, vector);
    this.markDirty();
  }

  /** INIT: registers reset except the IDs and the mode (SDM 10.12.5.1); an AP waits for SIPI. */
  private acceptInit(): void {
    this.events.onAccept?.(this.id, APIC_DM_INIT, 0);
    const ldr = this.ldr;
    this.resetRegisters();
    if (this.x2apicMode) this.ldr = ldr;
    this.waitForSipi = !this.bsp;
    this.markDirty();
    this.events.onInit?.(this.id);
  }

  /**
   * Record an error (SDM 10.5.3): the bit is latched internally until the next ESR write, and
   * the LVT error entry, if unmasked, raises its interrupt.
   */
  private setError(bits: number): void {
    this.esrPending |= bits;
    this.localDeliver(APIC_LVT_ERROR);
  }

  /** EOI (SDM 10.8.5): retire the highest in-service vector; broadcast it if level-triggered. */
  private eoi(): void {
    const isrv = highestBit(this.isr);
    if (isrv < 0) return;
    resetBit(this.isr, isrv);
    this.events.onEoi?.(this.id, isrv);
    if (testBit(this.tmr, isrv)) {
      // LINT pins with a level-triggered fixed entry for this vector: clear Remote IRR, and
      // re-deliver while the pin is still asserted.
      this.lintEoi(APIC_LVT_LINT0, isrv);
      this.lintEoi(APIC_LVT_LINT1, isrv);
      this.bus.broadcastEoi(isrv);
    }
    this.markDirty();
  }

  private lintEoi(index: number, vector: number): void {
    const lvt = this.lvt[index]!;
    if ((lvt & APIC_LVT_REMOTE_IRR) === 0 || (lvt & 0xff) !== vector) return;
    this.lvt[index] = lvt & ~APIC_LVT_REMOTE_IRR;
    if (this.lintActive(lvt, index === APIC_LVT_LINT0 ? this.lint0 : this.lint1)) this.localDeliver(index);
  }

  /** Send the IPI described by ICR (SDM 10.6.1). */
  private sendIpi(): void {
    const lo = this.icrLo;
    const vector = lo & 0xff;
    const dm = (lo & APIC_DM_MASK) >>> APIC_DM_SHIFT;
    const shorthand = (lo & APIC_SHORTHAND_MASK) >>> APIC_SHORTHAND_SHIFT;
    const trigger = (lo & APIC_INT_LEVELTRIG) !== 0 ? 1 : 0;
    if ((dm === APIC_DM_FIXED || dm === APIC_DM_LOWPRI) && vector < 16) {
      this.setError(APIC_ESR_SEND_ILLEGAL_VECTOR);
      return;
    }
    if (dm === APIC_DM_INIT && (lo & APIC_INT_ASSERT) === 0 && trigger === 1) return; // INIT level de-assert
    if (dm === APIC_DM_REMRD || dm === APIC_DM_EXTINT) {
      this.stats.dropped++; // reserved in the ICR on P4 and later
      return;
    }
    const destMode = (lo & APIC_DESTMODE_LOGICAL) !== 0 ? 1 : 0;
    const dest = this.x2apicMode ? this.icrHi >>> 0 : this.icrHi >>> 24;
    this.bus.send(this, dm, vector, destMode, dest, trigger, shorthand);
  }

  /** Register read by index; sets `this.status`. The caller handles ESR for xAPIC unknowns. */
  private readReg(reg: number, x2: boolean): number {
    this.status = APIC_OK;
    switch (reg) {
      case APIC_ID:
        return x2 ? this.id : (this.xapicId << 24) >>> 0;
      case APIC_LVR:
        return APIC_VERSION;
      case APIC_TASKPRI:
        return this.tpr;
      case APIC_ARBPRI:
        if (x2) break;
        return this.arbitrationPriority();
      case APIC_PROCPRI:
        return this.ppr();
      case APIC_EOI:
        if (x2) {
          this.status = APIC_ERR_WRITE_ONLY;
          return 0;
        }
        return 0;
      case APIC_RRR:
        if (x2) break;
        return 0;
      case APIC_LDR:
        return this.ldr;
      case APIC_DFR:
        if (x2) break;
        return (this.dfr | APIC_DFR_RESERVED_ONES) >>> 0;
      case APIC_SPIV:
        return this.svr;
      case APIC_ESR:
        return this.esr;
      case APIC_LVTCMCI:
      case APIC_LVTT:
      case APIC_LVTT + 1:
      case APIC_LVTT + 2:
      case APIC_LVT0:
      case APIC_LVT0 + 1:
      case APIC_LVTERR:
        return this.lvt[lvtIndexOf(reg)]!;
      case APIC_ICR:
        return this.icrLo;
      case APIC_ICR2:
        if (x2) break;
        return this.icrHi;
      case APIC_TMICT:
        return this.timer.initial;
      case APIC_TMCCT:
        return this.timer.currentCount(this.clock.now());
      case APIC_TDCR:
        return this.timer.tdcr;
      case APIC_SELF_IPI:
        if (x2) {
          this.status = APIC_ERR_WRITE_ONLY;
          return 0;
        }
        break;
      default:
        if (reg >= APIC_ISR && reg < APIC_ISR + 8) return this.isr[reg - APIC_ISR]!;
        if (reg >= APIC_TMR && reg < APIC_TMR + 8) return this.tmr[reg - APIC_TMR]!;
        if (reg >= APIC_IRR && reg < APIC_IRR + 8) return this.irr[reg - APIC_IRR]!;
    }
    this.status = APIC_ERR_UNKNOWN;
    return 0;
  }

  /**
   * Register write by index (value = bits 31:0, high = bits 63:32 in x2APIC mode). Returns an
   * APIC_* status. In xAPIC mode an unknown register sets ESR "illegal register address" and a
   * read-only one is ignored; in x2APIC mode every non-OK status is a #GP (SDM 10.12.1.3).
   */
  private writeReg(reg: number, value: number, high: number, x2: boolean): number {
    const status = this.writeRegInner(reg, value, high, x2);
    if (status === APIC_ERR_UNKNOWN && !x2) this.setError(APIC_ESR_ILLEGAL_ADDRESS);
    return status;
  }

  private writeRegInner(reg: number, value: number, high: number, x2: boolean): number {
    if (x2 && high !== 0 && reg !== APIC_ICR) {
      return this.knownInMode(reg, x2) ? APIC_ERR_RESERVED_BITS : APIC_ERR_UNKNOWN;
    }
    switch (reg) {
      case APIC_ID:
        if (x2) return APIC_ERR_READ_ONLY;
        this.xapicId = value >>> 24;
        return APIC_OK;
      case APIC_TASKPRI:
        if (x2 && (value & ~APIC_TPR_VALID) !== 0) return APIC_ERR_RESERVED_BITS;
        this.tpr = value & APIC_TPR_VALID;
        this.markDirty();
        return APIC_OK;
      case APIC_EOI:
        if (x2 && value !== 0) return APIC_ERR_RESERVED_BITS;
        this.eoi();
        return APIC_OK;
      case APIC_LDR:
        if (x2) return APIC_ERR_READ_ONLY;
        this.ldr = (value & APIC_LDR_VALID) >>> 0;
        return APIC_OK;
      case APIC_DFR:
        if (x2) return APIC_ERR_UNKNOWN;
        this.dfr = (value & APIC_DFR_VALID) >>> 0;
        return APIC_OK;
      case APIC_SPIV:
        if (x2 && (value & ~APIC_SPIV_VALID) !== 0) return APIC_ERR_RESERVED_BITS;
        this.svr = value & APIC_SPIV_VALID;
        if (!this.softwareEnabled) {
          // SDM 10.4.7.2: software-disabling masks every LVT entry.
          for (let i = 0; i < APIC_LVT_NB; i++) this.lvt[i]! |= APIC_LVT_MASKED;
        }
        this.markDirty();
        return APIC_OK;
      case APIC_ESR:
        if (x2 && value !== 0) return APIC_ERR_RESERVED_BITS;
        // SDM 10.5.3: a write latches the errors recorded since the previous write.
        this.esr = this.esrPending;
        this.esrPending = 0;
        return APIC_OK;
      case APIC_LVTCMCI:
      case APIC_LVTT:
      case APIC_LVTT + 1:
      case APIC_LVTT + 2:
      case APIC_LVT0:
      case APIC_LVT0 + 1:
      case APIC_LVTERR:
        return this.writeLvt(lvtIndexOf(reg), value, x2);
      case APIC_ICR:
        if (x2) {
          if ((value & ~APIC_ICR_LO_VALID) !== 0) return APIC_ERR_RESERVED_BITS;
          this.icrHi = high;
        }
        this.icrLo = value & APIC_ICR_LO_VALID;
        this.sendIpi();
        return APIC_OK;
      case APIC_ICR2:
        if (x2) return APIC_ERR_UNKNOWN;
        this.icrHi = (value & APIC_ICR_HI_VALID) >>> 0;
        return APIC_OK;
      case APIC_TMICT:
        this.timer.writeInitial(this.clock.now(), value);
        return APIC_OK;
      case APIC_TDCR:
        if (x2 && (value & ~0x0b) !== 0) return APIC_ERR_RESERVED_BITS;
        this.timer.writeDivide(this.clock.now(), value);
        return APIC_OK;
      case APIC_SELF_IPI:
        if (!x2) return APIC_ERR_UNKNOWN;
        if ((value & ~0xff) !== 0) return APIC_ERR_RESERVED_BITS;
        // SDM 10.12.11: identical to ICR = fixed, edge, shorthand self.
        if ((value & 0xff) < 16) this.setError(APIC_ESR_SEND_ILLEGAL_VECTOR);
        else this.bus.send(this, APIC_DM_FIXED, value & 0xff, 0, 0, 0, APIC_DEST_SELF);
        return APIC_OK;
    }
    return this.knownInMode(reg, x2) ? APIC_ERR_READ_ONLY : APIC_ERR_UNKNOWN;
  }

  /** The register exists in this mode (for telling read-only from unknown). */
  private knownInMode(reg: number, x2: boolean): boolean {
    const save = this.status;
    this.readReg(reg, x2);
    const known = this.status !== APIC_ERR_UNKNOWN;
    this.status = save;
    return known;
  }

  private writeLvt(index: number, value: number, x2: boolean): number {
    const valid = APIC_LVT_VALID[index]!;
    const old = this.lvt[index]!;
    if (x2 && (value & ~(valid | APIC_SEND_PENDING | APIC_LVT_REMOTE_IRR)) !== 0)
      return APIC_ERR_RESERVED_BITS;
    let v = value & valid;
    if (index === APIC_LVT_TIMER) {
      let mode = (v & APIC_LVT_TIMER_MASK) >>> APIC_LVT_TIMER_SHIFT;
      if (mode === 3) {
        if (x2) return APIC_ERR_RESERVED_BITS;
        // Reserved encoding: bit 18 is dropped (documented choice; SDM Table 10-2).
        v &= ~(2 << APIC_LVT_TIMER_SHIFT);
        mode = 1;
      }
      this.timer.setMode(mode);
    }
    if (!this.softwareEnabled) v |= APIC_LVT_MASKED;
    v |= old & APIC_LVT_REMOTE_IRR;
    this.lvt[index] = v >>> 0;
    if (index === APIC_LVT_LINT0 || index === APIC_LVT_LINT1) this.markDirty();
    return APIC_OK;
  }

  /** KVM PV EOI MSR write (Documentation/virt/kvm/x86/msr.rst). */
  private setPvEoi(value: bigint): boolean {
    const addr = value & ~BigInt(KVM_MSR_ENABLED);
    if ((addr & 3n) !== 0n) return false;
    if ((value & BigInt(KVM_MSR_ENABLED)) !== 0n) {
      if (this.pvEoiMemory === undefined || addr > BigInt(Number.MAX_SAFE_INTEGER)) return false;
      if (this.pvEoiMemory.read8(Number(addr)) === undefined) return false;
    }
    this.syncPvEoi();
    this.pvEoiMsr = value;
    return true;
  }

  private pvEoiAddress(): number {
    return Number(this.pvEoiMsr & ~BigInt(KVM_MSR_ENABLED));
  }

  /**
   * apic_sync_pv_eoi_to_guest: after injecting `vector`, let the guest skip its EOI when exactly
   * one vector is in service, IRR is empty and the vector is edge-triggered (no IO-APIC EOI).
   */
  private setPvEoiIfAllowed(vector: number): void {
    if ((this.pvEoiMsr & 1n) === 0n || this.pvEoiMemory === undefined) return;
    if (!isEmpty(this.irr) || countBits(this.isr) !== 1 || testBit(this.tmr, vector)) return;
    const gpa = this.pvEoiAddress();
    const byte = this.pvEoiMemory.read8(gpa);
    if (byte === undefined) return;
    if (this.pvEoiMemory.write8(gpa, byte | KVM_PV_EOI_ENABLED)) this.pvEoiPending = true;
  }

  /**
   * apic_sync_pv_eoi_from_guest: at an exit, if the guest cleared the flag it skipped the EOI
   * write, so the APIC performs the EOI now; if the flag is still set, withdraw it.
   */
  private syncPvEoi(): void {
    if (!this.pvEoiPending) return;
    this.pvEoiPending = false;
    const mem = this.pvEoiMemory!;
    const gpa = this.pvEoiAddress();
    const byte = mem.read8(gpa);
    if (byte !== undefined && (byte & KVM_PV_EOI_ENABLED) !== 0) {
      mem.write8(gpa, byte & ~KVM_PV_EOI_ENABLED);
      return;
    }
    this.stats.pvEoi++;
    this.bus.beginBatch();
    this.eoi();
    this.bus.endBatch();
  }

  /** Power-up state (SDM 10.4.7.1 and 10.12.5.1). */
  private powerOnReset(): void {
    this.apicBase = APIC_DEFAULT_ADDRESS + MSR_IA32_APICBASE_ENABLE + (this.bsp ? MSR_IA32_APICBASE_BSP : 0);
    this.xapicId = this.id & 0xff;
    this.resetRegisters();
    this.pvEoiMsr = 0n;
    this.pvEoiPending = false;
    this.waitForSipi = false;
    if (this.bsp) {
      // QEMU's apic_reset_common: the BIOS normally puts the BSP's LINT0 in ExtINT (virtual
      // wire) so the 8259 works out of reset; we do the same for firmware-less boots.
      this.lvt[APIC_LVT_LINT0] = APIC_DM_EXTINT << APIC_DM_SHIFT;
    }
  }

  /** Register state as after INIT: everything but the IDs, the base/mode and the pins. */
  private resetRegisters(): void {
    this.tpr = 0;
    this.svr = 0xff;
    this.ldr = 0;
    this.dfr = APIC_DFR_VALID;
    this.esr = 0;
    this.esrPending = 0;
    this.icrLo = 0;
    this.icrHi = 0;
    this.isr.fill(0);
    this.tmr.fill(0);
    this.irr.fill(0);
    this.lvt.fill(APIC_LVT_MASKED);
    this.timer.reset();
    this.extIntPending = false;
    this.nmiPending = false;
    this.pvEoiPending = false;
  }
}

function validateState(s: LocalApicState): void {
  const fail = (what: string): never => {
    throw new ApicError('APIC_BAD_STATE', `LocalApic.fromState: ${what}`);
  };
  if (s === null || typeof s !== 'object') fail('state is not an object');
  if (s.version !== STATE_VERSION) fail(`unsupported state version ${String(s.version)} (expected 1)`);
  const u32 = (name: keyof LocalApicState) => {
    const v = s[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= TWO32)
      fail(`${name} = ${String(v)} is not a u32`);
  };
  for (const n of [
    'id',
    'xapicId',
    'tpr',
    'svr',
    'ldr',
    'dfr',
    'esr',
    'esrPending',
    'icrLo',
    'icrHi',
  ] as const)
    u32(n);
  for (const n of ['timerInitial', 'timerDivide', 'cyclesPerTick', 'physAddrBits'] as const) u32(n);
  if (!Number.isInteger(s.apicBase) || s.apicBase < 0 || s.apicBase > Number.MAX_SAFE_INTEGER)
    fail('apicBase');
  for (const n of ['isr', 'tmr', 'irr'] as const) {
    if (!(s[n] instanceof Uint32Array) || s[n].length !== 8) fail(`${n} is not a Uint32Array(8)`);
  }
  if (!(s.lvt instanceof Uint32Array) || s.lvt.length !== APIC_LVT_NB)
    fail(`lvt is not a Uint32Array(${APIC_LVT_NB})`);
  if (typeof s.timerExpiry !== 'number' || Number.isNaN(s.timerExpiry)) fail('timerExpiry is not a number');
  for (const n of ['tscDeadline', 'pvEoiMsr'] as const) {
    if (typeof s[n] !== 'string' || !/^\d+$/.test(s[n])) fail(`${n} is not a decimal string`);
  }
  for (const n of [
    'bsp',
    'x2apicSupported',
    'lint0',
    'lint1',
    'extIntPending',
    'nmiPending',
    'waitForSipi',
    'pvEoiPending',
  ] as const) {
    if (typeof s[n] !== 'boolean') fail(`${n} is not a boolean`);
  }
}
