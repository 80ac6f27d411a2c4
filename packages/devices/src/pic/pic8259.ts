/**
 * One Intel 8259A programmable interrupt controller (8259A datasheet; the model follows QEMU's
 * `hw/intc/i8259.c`, whose behaviour every PC guest has been tested against).
 *
 * The chip is a byte device at two ports (A0 = 0/1) plus `setInput(irq, level)` for its IR pins and
 * `output()` / `intAck()` for its INT pin and the INTA cycle. Cascading is done by `Pic8259Pair`.
 *
 * @internal
 */

import { checkState, DevicesError, stateBool, stateInt } from '../errors';
import {
  ICW1_IC4,
  ICW1_INIT,
  ICW1_LTIM,
  ICW1_SNGL,
  ICW4_8086,
  ICW4_AEOI,
  ICW4_SFNM,
  OCW2_EOI,
  OCW2_LEVEL_MASK,
  OCW2_ROTATE_AEOI_CLEAR,
  OCW2_ROTATE_AEOI_SET,
  OCW2_ROTATE_EOI,
  OCW2_ROTATE_SPECIFIC_EOI,
  OCW2_SET_PRIORITY,
  OCW2_SPECIFIC_EOI,
  OCW3_ESMM,
  OCW3_POLL,
  OCW3_RIS,
  OCW3_RR,
  OCW3_SELECT,
  OCW3_SMM,
  PIC_CASCADE_IR,
} from './registers';

/** Initialisation sequence position: 0 = ready (OCWs), 1..3 = expecting ICW2..ICW4. */
const INIT_READY = 0;
const INIT_ICW2 = 1;
const INIT_ICW3 = 2;
const INIT_ICW4 = 3;

/** Plain snapshot of one chip. */
export interface Pic8259ChipState {
  irr: number;
  isr: number;
  imr: number;
  elcr: number;
  lines: number;
  priorityAdd: number;
  vectorBase: number;
  readIsr: boolean;
  poll: boolean;
  specialMask: boolean;
  initState: number;
  icw4Needed: boolean;
  single: boolean;
  ltim: boolean;
  autoEoi: boolean;
  rotateOnAutoEoi: boolean;
  specialFullyNested: boolean;
}

/** Guest-misuse counters of one chip. */
export interface Pic8259Counters {
  /** ICW4 with µPM = 0 (MCS-80/85 mode): vectors are still delivered the 8086 way. */
  mode8080: number;
  /** EOIs written with nothing in service. */
  strayEoi: number;
}

/** One 8259A. */
export class Pic8259 {
  /** Interrupt Request Register. */
  irr = 0;
  /** In-Service Register. */
  isr = 0;
  /** Interrupt Mask Register (OCW1). */
  imr = 0;
  /** Edge/Level Control (1 = level), from the chipset's ELCR. */
  elcr = 0;
  /** Current levels of the IR inputs, for edge detection ("last_irr" in QEMU). */
  lines = 0;
  /** Rotation: priority 0 belongs to IR `priorityAdd`. */
  priorityAdd = 0;
  /** ICW2 T7–T3: the vector of IR0. */
  vectorBase = 0;
  readIsr = false;
  poll = false;
  specialMask = false;
  initState = INIT_READY;
  icw4Needed = false;
  single = false;
  ltim = false;
  autoEoi = false;
  rotateOnAutoEoi = false;
  specialFullyNested = false;
  readonly counters: Pic8259Counters = { mode8080: 0, strayEoi: 0 };

  constructor(
    readonly isMaster: boolean,
    readonly elcrMask: number,
  ) {}

  /** Drive IR input `irq` (0..7) to `level`. */
  setInput(irq: number, level: boolean): void {
    const mask = 1 << irq;
    if (this.isLevel(mask)) {
      // Level-sensitive: IRR follows the line.
      if (level) this.irr |= mask;
      else this.irr &= ~mask;
    } else if (level && !(this.lines & mask)) {
      this.irr |= mask; // rising edge latches the request
    }
    if (level) this.lines |= mask;
    else this.lines &= ~mask;
  }

  /** The IR level that would be acknowledged now, or -1 (datasheet "Priority Resolver"). */
  pendingIrq(): number {
    const priority = this.priority(this.irr & ~this.imr);
    if (priority === 8) return -1;
    // In special mask mode a masked in-service level does not inhibit lower priorities.
    let inService = this.isr;
    if (this.specialMask) inService &= ~this.imr;
    // Special fully nested mode: the slave's in-service cascade input does not block it.
    if (this.specialFullyNested && this.isMaster) inService &= ~(1 << PIC_CASCADE_IR);
    return priority < this.priority(inService) ? (priority + this.priorityAdd) & 7 : -1;
  }

  /** The INT output. */
  output(): boolean {
    return this.pendingIrq() >= 0;
  }

  /** The INTA cycle for `irq`: set ISR (unless auto-EOI), clear an edge request. */
  intAck(irq: number): void {
    const mask = 1 << irq;
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.priorityAdd = (irq + 1) & 7;
    } else {
      this.isr |= mask;
    }
    if (!this.isLevel(mask)) this.irr &= ~mask;
  }

  read(offset: number): number {
    if (this.poll) {
      // Poll command: this read is an interrupt acknowledge; I (D7) says whether there was one.
      this.poll = false;
      const irq = this.pendingIrq();
      if (irq < 0) return 0;
      this.intAck(irq);
      return 0x80 | irq;
    }
    if (offset & 1) return this.imr;
    return this.readIsr ? this.isr : this.irr;
  }

  write(offset: number, value: number): void {
    value &= 0xff;
    if (offset & 1) {
      this.writeData(value);
      return;
    }
    if (value & ICW1_INIT) this.icw1(value);
    else if (value & OCW3_SELECT) this.ocw3(value);
    else this.ocw2(value);
  }

  saveState(): Pic8259ChipState {
    return {
      irr: this.irr,
      isr: this.isr,
      imr: this.imr,
      elcr: this.elcr,
      lines: this.lines,
      priorityAdd: this.priorityAdd,
      vectorBase: this.vectorBase,
      readIsr: this.readIsr,
      poll: this.poll,
      specialMask: this.specialMask,
      initState: this.initState,
      icw4Needed: this.icw4Needed,
      single: this.single,
      ltim: this.ltim,
      autoEoi: this.autoEoi,
      rotateOnAutoEoi: this.rotateOnAutoEoi,
      specialFullyNested: this.specialFullyNested,
    };
  }

  restore(state: unknown, kind: string): void {
    if (typeof state !== 'object' || state === null) {
      throw new DevicesError('INVALID_STATE', `${kind} snapshot is not an object`);
    }
    const s = state as Record<string, unknown>;
    const byte = (f: string) => stateInt(s, kind, f, 0, 255);
    const bool = (f: string) => stateBool(s, kind, f);
    this.irr = byte('irr');
    this.isr = byte('isr');
    this.imr = byte('imr');
    this.elcr = byte('elcr') & this.elcrMask;
    this.lines = byte('lines');
    this.priorityAdd = stateInt(s, kind, 'priorityAdd', 0, 7);
    this.vectorBase = byte('vectorBase') & 0xf8;
    this.readIsr = bool('readIsr');
    this.poll = bool('poll');
    this.specialMask = bool('specialMask');
    this.initState = stateInt(s, kind, 'initState', INIT_READY, INIT_ICW4);
    this.icw4Needed = bool('icw4Needed');
    this.single = bool('single');
    this.ltim = bool('ltim');
    this.autoEoi = bool('autoEoi');
    this.rotateOnAutoEoi = bool('rotateOnAutoEoi');
    this.specialFullyNested = bool('specialFullyNested');
  }

  private isLevel(mask: number): boolean {
    return this.ltim || (this.elcr & mask) !== 0;
  }

  /** 0 = highest .. 7 = lowest priority among the set bits of `mask`, or 8 if none. */
  private priority(mask: number): number {
    if (mask === 0) return 8;
    let p = 0;
    while (!(mask & (1 << ((p + this.priorityAdd) & 7)))) p++;
    return p;
  }

  /**
   * ICW1 (datasheet "Initialization Command Words"): IMR cleared, IR7 lowest priority, special mask
   * off, status read = IRR, edge sense latches cleared (an edge input must rise again).
   */
  private icw1(value: number): void {
    this.lines = 0;
    this.irr &= this.elcr; // level requests persist; edge requests need a new edge
    this.imr = 0;
    this.isr = 0;
    this.priorityAdd = 0;
    this.readIsr = false;
    this.poll = false;
    this.specialMask = false;
    this.autoEoi = false;
    this.rotateOnAutoEoi = false;
    this.specialFullyNested = false;
    this.icw4Needed = (value & ICW1_IC4) !== 0;
    this.single = (value & ICW1_SNGL) !== 0;
    this.ltim = (value & ICW1_LTIM) !== 0;
    this.initState = INIT_ICW2;
  }

  private writeData(value: number): void {
    switch (this.initState) {
      case INIT_ICW2:
        this.vectorBase = value & 0xf8;
        this.initState = this.single ? (this.icw4Needed ? INIT_ICW4 : INIT_READY) : INIT_ICW3;
        return;
      case INIT_ICW3:
        // The PC wires the cascade on IR2 whatever ICW3 says.
        this.initState = this.icw4Needed ? INIT_ICW4 : INIT_READY;
        return;
      case INIT_ICW4:
        if (!(value & ICW4_8086)) this.counters.mode8080++;
        this.autoEoi = (value & ICW4_AEOI) !== 0;
        this.specialFullyNested = (value & ICW4_SFNM) !== 0;
        this.initState = INIT_READY;
        return;
      default:
        this.imr = value; // OCW1
    }
  }

  private ocw2(value: number): void {
    const level = value & OCW2_LEVEL_MASK;
    switch (value >> 5) {
      case OCW2_ROTATE_AEOI_CLEAR:
      case OCW2_ROTATE_AEOI_SET:
        this.rotateOnAutoEoi = value >> 5 === OCW2_ROTATE_AEOI_SET;
        return;
      case OCW2_EOI:
      case OCW2_ROTATE_EOI: {
        // Non-specific EOI: clear the highest-priority ISR bit (fully nested mode).
        const p = this.priority(this.isr);
        if (p === 8) {
          this.counters.strayEoi++;
          return;
        }
        const irq = (p + this.priorityAdd) & 7;
        this.isr &= ~(1 << irq);
        if (value >> 5 === OCW2_ROTATE_EOI) this.priorityAdd = (irq + 1) & 7;
        return;
      }
      case OCW2_SPECIFIC_EOI:
      case OCW2_ROTATE_SPECIFIC_EOI:
        if (!(this.isr & (1 << level))) this.counters.strayEoi++;
        this.isr &= ~(1 << level);
        if (value >> 5 === OCW2_ROTATE_SPECIFIC_EOI) this.priorityAdd = (level + 1) & 7;
        return;
      case OCW2_SET_PRIORITY:
        this.priorityAdd = (level + 1) & 7;
        return;
      default:
        return; // OCW2_NOP
    }
  }

  private ocw3(value: number): void {
    if (value & OCW3_POLL) this.poll = true;
    if (value & OCW3_RR) this.readIsr = (value & OCW3_RIS) !== 0;
    if (value & OCW3_ESMM) this.specialMask = (value & OCW3_SMM) !== 0;
  }
}

/** Validate the shared header of a PIC-pair snapshot. @internal */
export function checkPicState(state: unknown): Record<string, unknown> {
  return checkState(state, 'pic8259pair', 1);
}
