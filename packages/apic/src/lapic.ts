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

import { ApicCore } from './core';
import { ApicError } from './errors';
import {
  APIC_ARBPRI,
  APIC_DEST_SELF,
  APIC_DESTMODE_LOGICAL,
  APIC_DFR,
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
  APIC_EOI,
  APIC_ERR_ACCESS_SIZE,
  APIC_ERR_MODE,
  APIC_ERR_READ_ONLY,
  APIC_ERR_RESERVED_BITS,
  APIC_ERR_UNKNOWN,
  APIC_ERR_WRITE_ONLY,
  APIC_ESR,
  APIC_ESR_ILLEGAL_ADDRESS,
  APIC_ESR_SEND_ILLEGAL_VECTOR,
  APIC_ICR,
  APIC_ICR_HI_VALID,
  APIC_ICR_LO_VALID,
  APIC_ICR2,
  APIC_ID,
  APIC_INT_ASSERT,
  APIC_INT_LEVELTRIG,
  APIC_IRR,
  APIC_ISR,
  APIC_LDR,
  APIC_LDR_VALID,
  APIC_LVR,
  APIC_LVT_CMCI,
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
  APIC_SPIV_VALID,
  APIC_STATUS_NAMES,
  APIC_TASKPRI,
  APIC_TDCR,
  APIC_TMCCT,
  APIC_TMICT,
  APIC_TMR,
  APIC_TPR_VALID,
  APIC_VERSION,
  apicRegName,
  KVM_MSR_ENABLED,
  MSR_IA32_APICBASE,
  MSR_IA32_APICBASE_BSP,
  MSR_IA32_APICBASE_ENABLE,
  MSR_IA32_APICBASE_EXTD,
  MSR_IA32_TSC_DEADLINE,
  MSR_KVM_PV_EOI_EN,
  MSR_X2APIC_BASE,
  MSR_X2APIC_LAST,
} from './regs';
import { type LocalApicState, STATE_VERSION, validateState } from './state';
import { TIMER_DISARMED } from './timer';
import type {
  ApicBatchEntry,
  ApicBatchFailure,
  ApicBatchResult,
  ExtIntSource,
  LocalApicEvents,
  LocalApicOptions,
  LocalApicStats,
  PvEoiMemory,
} from './types';

export type {
  ApicBatchEntry,
  ApicBatchFailure,
  ApicBatchResult,
  ExtIntSource,
  LocalApicEvents,
  LocalApicOptions,
  LocalApicState,
  LocalApicStats,
  PvEoiMemory,
};

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

function lvtIndexOf(reg: number): number {
  if (reg === APIC_LVTCMCI) return APIC_LVT_CMCI;
  return reg - APIC_LVTT; // LVTT..LVTERR are consecutive
}

export class LocalApic extends ApicCore {
  constructor(options: LocalApicOptions) {
    super(options);
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
        if (this.hardwareEnabled) {
          this.timer.writeDeadline(value);
          // A deadline already in the past fires at once.
          if (this.timer.expiry <= this.clock.now()) this.tick();
        }
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
}
