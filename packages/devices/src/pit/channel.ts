/**
 * One 8254 counter (8254 datasheet, "Mode definitions"), as a function of the PIT clock: the
 * counter value, OUT and the next rising edge are computed from the clock at which the current
 * count started, never ticked.
 *
 * @internal
 */

import {
  PIT_BCD,
  PIT_MODE_INTERRUPT_ON_TC,
  PIT_MODE_ONESHOT,
  PIT_MODE_RATE,
  PIT_MODE_SHIFT,
  PIT_MODE_SQUARE,
  PIT_RW_SHIFT,
  PIT_RW_WORD,
  PIT_STATUS_NULL_COUNT,
  PIT_STATUS_OUT,
} from './registers';

/** @internal */
export class Channel {
  mode = PIT_MODE_INTERRUPT_ON_TC;
  bcd = false;
  rw = PIT_RW_WORD;
  /** The count the guest programmed (1..65536, or 1..10000 in BCD). */
  reload = 0x10000;
  /** The count of the current cycle. */
  count = 0x10000;
  /** A count has been written since the last control word. */
  loaded = false;
  /** Modes 1 and 5: a gate trigger has started the count. Other modes: = loaded. */
  armed = false;
  nullCount = true;
  gate: boolean;
  /** PIT clock at which the current count started. */
  start = 0;
  /** Elapsed clocks while counting is suspended by the gate, or -1 when counting. */
  frozen = -1;
  writeMsbNext = false;
  writeLatch = 0;
  readMsbNext = false;
  latched = false;
  latchedCount = 0;
  latchMsbNext = false;
  statusLatched = false;
  status = 0;
  /** Modes 2/3: a count written during counting, loaded at `switchAt` (0 = none). */
  pending = 0;
  switchAt = Number.POSITIVE_INFINITY;

  /** Reset state as QEMU leaves it (and a BIOS would): mode 3, count 65536, running if gated. */
  constructor(gate: boolean) {
    this.gate = gate;
    this.mode = PIT_MODE_SQUARE;
    this.loaded = true;
    this.armed = true;
    this.nullCount = false;
    this.frozen = gate ? -1 : 0;
  }

  /** Is the counter element counting at clock `t`? */
  running(): boolean {
    return this.armed && this.frozen < 0;
  }

  /** Load a pending mode 2/3 count once its period has ended. */
  settle(t: number): void {
    if (this.pending !== 0 && this.frozen < 0 && t >= this.switchAt) {
      this.start = this.switchAt;
      this.count = this.pending;
      this.pending = 0;
      this.nullCount = false;
      this.switchAt = Number.POSITIVE_INFINITY;
    }
  }

  elapsed(t: number): number {
    return this.frozen >= 0 ? this.frozen : t - this.start;
  }

  /** The counting element's value at clock `t`, as the guest reads it (BCD-encoded in BCD mode). */
  value(t: number): number {
    this.settle(t);
    const m = this.bcd ? 10000 : 0x10000;
    let v: number;
    if (!this.armed) v = this.count;
    else {
      const d = this.elapsed(t);
      switch (this.mode) {
        case PIT_MODE_RATE:
          v = this.count - (d % this.count);
          break;
        case PIT_MODE_SQUARE:
          v = this.count - ((2 * d) % this.count);
          break;
        default: // modes 0, 1, 4, 5 keep decrementing (and wrap) after terminal count
          v = this.count - (d % m);
      }
    }
    v = ((v % m) + m) % m;
    return this.bcd ? toBcd(v) : v;
  }

  /** OUT at clock `t` (datasheet "Mode definitions"). */
  out(t: number): boolean {
    this.settle(t);
    if (!this.loaded) return this.mode !== PIT_MODE_INTERRUPT_ON_TC;
    const d = this.elapsed(t);
    switch (this.mode) {
      case PIT_MODE_INTERRUPT_ON_TC:
        return d >= this.count;
      case PIT_MODE_ONESHOT:
        return !this.armed || d >= this.count;
      case PIT_MODE_RATE: {
        if (!this.gate || !this.armed) return true;
        const p = Math.max(this.count, 2);
        return d % p !== p - 1; // low for the one clock before reload
      }
      case PIT_MODE_SQUARE: {
        if (!this.gate || !this.armed) return true;
        const p = Math.max(this.count, 2);
        return d % p < Math.ceil(p / 2); // high for ceil(N/2), low for floor(N/2)
      }
      default: // modes 4 and 5: one clock low at terminal count
        return !this.armed || d !== this.count;
    }
  }

  /** The PIT clock of the first rising edge of OUT strictly after clock `t`, or Infinity. */
  nextRisingEdge(t: number): number {
    this.settle(t);
    if (!this.running()) return Number.POSITIVE_INFINITY;
    const d = t - this.start;
    switch (this.mode) {
      case PIT_MODE_INTERRUPT_ON_TC:
      case PIT_MODE_ONESHOT:
        return d < this.count ? this.start + this.count : Number.POSITIVE_INFINITY;
      case PIT_MODE_RATE:
      case PIT_MODE_SQUARE: {
        const p = Math.max(this.count, 2);
        return this.start + (Math.floor(d / p) + 1) * p;
      }
      default:
        return d < this.count + 1 ? this.start + this.count + 1 : Number.POSITIVE_INFINITY;
    }
  }

  statusByte(t: number): number {
    return (
      (this.out(t) ? PIT_STATUS_OUT : 0) |
      (this.nullCount ? PIT_STATUS_NULL_COUNT : 0) |
      (this.rw << PIT_RW_SHIFT) |
      (this.mode << PIT_MODE_SHIFT) |
      (this.bcd ? PIT_BCD : 0)
    );
  }
}

export function toBcd(v: number): number {
  return (
    (v % 10) |
    ((Math.floor(v / 10) % 10) << 4) |
    ((Math.floor(v / 100) % 10) << 8) |
    ((Math.floor(v / 1000) % 10) << 12)
  );
}

/** Four BCD digits to binary; invalid digits (A–F) count with their nibble value, like the hardware's adder. */
export function fromBcd(raw: number): number {
  return (raw & 0xf) + ((raw >> 4) & 0xf) * 10 + ((raw >> 8) & 0xf) * 100 + ((raw >> 12) & 0xf) * 1000;
}
