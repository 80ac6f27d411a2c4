/**
 * The interrupt logic of one local APIC (SDM Vol. 3A 10.5–10.9): its state, acceptance into
 * IRR/TMR, PPR/APR, INTR/INTA through `InterruptLine`, EOI, the LINT pins, local (LVT) delivery,
 * ESR, the timer expiry, bus message reception and the KVM PV EOI handshake. `LocalApic` adds
 * the register interfaces (xAPIC page, MSRs, batches), mode changes and snapshots on top.
 */

import type { InterruptLine, VirtualClock } from '@pv/x86-core';
import { countBits, highestBit, isEmpty, resetBit, setBit, testBit } from './bits';
import { ApicBus } from './bus';
import { ApicError } from './errors';
import {
  APIC_BROADCAST,
  APIC_DEFAULT_ADDRESS,
  APIC_DFR_CLUSTER,
  APIC_DFR_VALID,
  APIC_DM_EXTINT,
  APIC_DM_FIXED,
  APIC_DM_INIT,
  APIC_DM_LOWPRI,
  APIC_DM_MASK,
  APIC_DM_NMI,
  APIC_DM_SHIFT,
  APIC_DM_STARTUP,
  APIC_ESR_RECV_ILLEGAL_VECTOR,
  APIC_INPUT_POLARITY,
  APIC_LVT_CMCI,
  APIC_LVT_ERROR,
  APIC_LVT_LEVEL_TRIGGER,
  APIC_LVT_LINT0,
  APIC_LVT_LINT1,
  APIC_LVT_MASKED,
  APIC_LVT_NB,
  APIC_LVT_PERFORM,
  APIC_LVT_REMOTE_IRR,
  APIC_LVT_THERMAL,
  APIC_LVT_TIMER,
  APIC_SPIV_APIC_ENABLED,
  APIC_SPIV_FOCUS_DISABLED,
  APIC_SPIV_VECTOR,
  KVM_MSR_ENABLED,
  KVM_PV_EOI_ENABLED,
  MSR_IA32_APICBASE_BSP,
  MSR_IA32_APICBASE_ENABLE,
  MSR_IA32_APICBASE_EXTD,
  X2APIC_BROADCAST,
} from './regs';
import { ApicTimer } from './timer';
import type { ExtIntSource, LocalApicEvents, LocalApicOptions, LocalApicStats, PvEoiMemory } from './types';

/** @internal The interrupt logic shared by LocalApic; not constructed directly. */
export abstract class ApicCore implements InterruptLine {
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

  protected readonly events: LocalApicEvents;

  protected readonly extInt: ExtIntSource | undefined;

  protected readonly pvEoiMemory: PvEoiMemory | undefined;

  protected readonly x2apicSupported: boolean;

  protected readonly physAddrBits: number;

  protected readonly timer: ApicTimer;

  /** IA32_APIC_BASE bits 31:0 and the address bits above (kept as one number < 2^52). */
  protected apicBase = 0;

  protected xapicId = 0;

  protected tpr = 0;

  protected svr = 0;

  protected ldr = 0;

  protected dfr = 0;

  /** ESR as last latched by a write; `esrPending` accumulates errors until the next write. */
  protected esr = 0;

  protected esrPending = 0;

  protected icrLo = 0;

  protected icrHi = 0;

  protected lint0 = false;

  protected lint1 = false;

  protected extIntPending = false;

  protected nmiPending = false;

  protected waitForSipi = false;

  protected pvEoiMsr = 0n;

  protected pvEoiPending = false;

  /** Cached result of the last evaluation: a maskable interrupt is deliverable. */
  protected intr = false;

  /** `onInterrupt` was raised and nothing has been taken since. */
  protected signalled = false;

  /** State changed during a batch; evaluate at its end. */
  protected dirty = false;

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
  }

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

  /**
   * A local interrupt source fired (KVM's kvm_apic_local_deliver): APIC_LVT_THERMAL (thermal
   * sensor), APIC_LVT_PERFORM (performance-counter overflow) or APIC_LVT_CMCI (corrected machine
   * check). Raised through that LVT entry, if unmasked. Other indices are host misuse.
   */
  signalLocal(lvtIndex: number): void {
    if (lvtIndex !== APIC_LVT_THERMAL && lvtIndex !== APIC_LVT_PERFORM && lvtIndex !== APIC_LVT_CMCI) {
      throw new ApicError(
        'APIC_BAD_OPTION',
        `signalLocal: LVT index ${String(lvtIndex)} is not APIC_LVT_THERMAL (1), APIC_LVT_PERFORM (2) or APIC_LVT_CMCI (6)`,
      );
    }
    if (this.hardwareEnabled) this.localDeliver(lvtIndex);
  }

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

  protected markDirty(): void {
    if (this.bus.batchDepth > 0) this.dirty = true;
    else this.evaluate();
  }

  /** apic_update_irq: recompute INTR and raise onInterrupt on a new pending interrupt or NMI. */
  protected evaluate(): void {
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
  protected ppr(): number {
    const isrv = highestBit(this.isr);
    const isrClass = isrv < 0 ? 0 : isrv & 0xf0;
    return (this.tpr & 0xf0) >= isrClass ? this.tpr : isrClass;
  }

  /** An ExtINT vector is requested: LINT0 wired through (APIC disabled), LINT0 ExtINT, or a message. */
  protected extIntActive(): boolean {
    if (!this.hardwareEnabled) return this.lint0;
    if (this.extIntPending) return true;
    const lvt = this.lvt[APIC_LVT_LINT0]!;
    return (
      (lvt & APIC_LVT_MASKED) === 0 &&
      (lvt & APIC_DM_MASK) >>> APIC_DM_SHIFT === APIC_DM_EXTINT &&
      this.lintActive(lvt, this.lint0)
    );
  }

  protected lintActive(lvt: number, level: boolean): boolean {
    return (lvt & APIC_INPUT_POLARITY) !== 0 ? !level : level;
  }

  protected setLint(index: number, level: boolean): void {
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
  protected localDeliver(index: number): void {
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
  protected acceptFixed(vector: number, level: boolean): void {
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
  protected acceptInit(): void {
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
  protected setError(bits: number): void {
    this.esrPending |= bits;
    this.localDeliver(APIC_LVT_ERROR);
  }

  /** EOI (SDM 10.8.5): retire the highest in-service vector; broadcast it if level-triggered. */
  protected eoi(): void {
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

  protected lintEoi(index: number, vector: number): void {
    const lvt = this.lvt[index]!;
    if ((lvt & APIC_LVT_REMOTE_IRR) === 0 || (lvt & 0xff) !== vector) return;
    this.lvt[index] = lvt & ~APIC_LVT_REMOTE_IRR;
    if (this.lintActive(lvt, index === APIC_LVT_LINT0 ? this.lint0 : this.lint1)) this.localDeliver(index);
  }

  protected pvEoiAddress(): number {
    return Number(this.pvEoiMsr & ~BigInt(KVM_MSR_ENABLED));
  }

  /**
   * apic_sync_pv_eoi_to_guest: after injecting `vector`, let the guest skip its EOI when exactly
   * one vector is in service, IRR is empty and the vector is edge-triggered (no IO-APIC EOI).
   */
  protected setPvEoiIfAllowed(vector: number): void {
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
  protected syncPvEoi(): void {
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
  protected powerOnReset(): void {
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
  protected resetRegisters(): void {
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
