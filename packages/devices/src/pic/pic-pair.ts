/**
 * The PC's cascaded 8259A pair: master at 0x20/0x21 (IRQ0–7), slave at 0xA0/0xA1 (IRQ8–15) with
 * its INT wired to the master's IR2, and the chipset's ELCR at 0x4D0/0x4D1 selecting edge or level
 * per IRQ (PIIX/ICH).
 *
 * The pair is the CPU's `InterruptLine` when there is no local APIC (`pending()`/`acknowledge()`),
 * or, with an APIC, the source of its LINT0 "virtual wire": `onIntr` reports each change of INTR
 * and the APIC calls `acknowledge()` for the vector when it accepts the ExtINT.
 *
 * The composer registers `pic.master`, `pic.slave` and `pic.elcr` on the port bus and routes device
 * interrupts to `setIrq(n, level)`.
 */

import type { InterruptLine } from '@pv/x86-core';
import { DevicesError } from '../errors';
import type { ByteDevice } from '../portbus';
import { checkPicState, Pic8259, type Pic8259ChipState, type Pic8259Counters } from './pic8259';
import { ELCR_MASTER_MASK, ELCR_SLAVE_MASK, PIC_CASCADE_IR } from './registers';

/** Options of a PIC pair. */
export interface PicOptions {
  /** Called whenever the INTR output changes (for an APIC's LINT0, or a run loop's wake-up). */
  onIntr?: (level: boolean) => void;
}

/** Plain, versioned snapshot of the pair. */
export interface PicState {
  kind: 'pic8259pair';
  version: 1;
  master: Pic8259ChipState;
  slave: Pic8259ChipState;
}

/** Counters of the pair, for tests and statistics. */
export interface PicCounters {
  /** INTA cycles (vectors handed to the CPU). */
  acknowledges: number;
  /** Spurious IRQ7 deliveries (nothing pending at INTA). */
  spuriousMaster: number;
  /** Spurious IRQ15 deliveries (slave request vanished before INTA). */
  spuriousSlave: number;
  /** `acknowledge()` called while INTR was low (a host run-loop error; answered as spurious). */
  ackWithoutIntr: number;
}

/** The cascaded master/slave 8259A pair with ELCR. */
export class Pic8259Pair implements InterruptLine {
  /** Byte device for 0x20..0x21. */
  readonly master: ByteDevice;
  /** Byte device for 0xA0..0xA1. */
  readonly slave: ByteDevice;
  /** Byte device for 0x4D0..0x4D1 (ELCR1, ELCR2). */
  readonly elcr: ByteDevice;
  readonly counters: PicCounters = {
    acknowledges: 0,
    spuriousMaster: 0,
    spuriousSlave: 0,
    ackWithoutIntr: 0,
  };

  private readonly m = new Pic8259(true, ELCR_MASTER_MASK);
  private readonly s = new Pic8259(false, ELCR_SLAVE_MASK);
  private readonly onIntr: ((level: boolean) => void) | null;
  private intr = false;

  constructor(options: PicOptions = {}) {
    this.onIntr = options.onIntr ?? null;
    this.master = {
      read: (offset) => this.after(this.m.read(offset)),
      write: (offset, value) => {
        this.m.write(offset, value);
        this.update();
      },
    };
    this.slave = {
      read: (offset) => this.after(this.s.read(offset)),
      write: (offset, value) => {
        this.s.write(offset, value);
        this.update();
      },
    };
    this.elcr = {
      read: (offset) => (offset & 1 ? this.s.elcr : this.m.elcr),
      write: (offset, value) => {
        const chip = offset & 1 ? this.s : this.m;
        chip.elcr = value & chip.elcrMask;
        this.update();
      },
    };
  }

  /** Restore a pair from `saveState()` data. */
  static fromState(state: PicState, options: PicOptions = {}): Pic8259Pair {
    const s = checkPicState(state);
    const pic = new Pic8259Pair(options);
    pic.m.restore(s.master, 'pic8259pair.master');
    pic.s.restore(s.slave, 'pic8259pair.slave');
    pic.update();
    return pic;
  }

  /** Drive ISA IRQ line `irq` (0..15) to `level`. IRQ2 is the cascade and has no device. */
  setIrq(irq: number, level: boolean): void {
    if (!Number.isInteger(irq) || irq < 0 || irq > 15) {
      throw new DevicesError('INVALID_ARGUMENT', `PIC IRQ ${String(irq)} is not in 0..15`);
    }
    if (irq >= 8) this.s.setInput(irq - 8, level);
    else this.m.setInput(irq, level);
    this.update();
  }

  /** The INTR output (InterruptLine). */
  pending(): boolean {
    return this.intr;
  }

  /**
   * The INTA cycle (InterruptLine): returns the vector and moves the IRQ in service. With nothing
   * pending the 8259A answers with IR7 of the chip that was asked, without setting ISR: the
   * spurious IRQ7 (master) or IRQ15 (slave) that Linux's `i8259A_irq_real` checks for.
   */
  acknowledge(): number {
    if (!this.intr) this.counters.ackWithoutIntr++;
    this.counters.acknowledges++;
    const m = this.m;
    const irq = m.pendingIrq();
    let vector: number;
    if (irq < 0) {
      this.counters.spuriousMaster++;
      vector = m.vectorBase + 7;
    } else {
      if (irq === PIC_CASCADE_IR) {
        const irq2 = this.s.pendingIrq();
        if (irq2 >= 0) {
          this.s.intAck(irq2);
          vector = this.s.vectorBase + irq2;
        } else {
          this.counters.spuriousSlave++;
          vector = this.s.vectorBase + 7;
        }
      } else {
        vector = m.vectorBase + irq;
      }
      m.intAck(irq);
    }
    this.update();
    return vector;
  }

  /** IRR of both chips as a 16-bit value (slave in bits 15:8). */
  get irr(): number {
    return this.m.irr | (this.s.irr << 8);
  }

  /** ISR of both chips as a 16-bit value. */
  get isr(): number {
    return this.m.isr | (this.s.isr << 8);
  }

  /** IMR of both chips as a 16-bit value. */
  get imr(): number {
    return this.m.imr | (this.s.imr << 8);
  }

  /** Vector bases programmed by ICW2 (master, slave). */
  get vectorBases(): readonly [number, number] {
    return [this.m.vectorBase, this.s.vectorBase];
  }

  /** Guest-misuse counters of each chip. */
  get chipCounters(): { master: Readonly<Pic8259Counters>; slave: Readonly<Pic8259Counters> } {
    return { master: this.m.counters, slave: this.s.counters };
  }

  saveState(): PicState {
    return { kind: 'pic8259pair', version: 1, master: this.m.saveState(), slave: this.s.saveState() };
  }

  private after(value: number): number {
    this.update(); // a poll-mode read acknowledges an interrupt
    return value;
  }

  /** Propagate the slave's INT into the master's IR2, then the master's INT to INTR. */
  private update(): void {
    this.m.setInput(PIC_CASCADE_IR, this.s.output());
    const intr = this.m.output();
    if (intr !== this.intr) {
      this.intr = intr;
      this.onIntr?.(intr);
    }
  }
}
