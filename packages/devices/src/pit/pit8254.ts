/**
 * Intel 8254 programmable interval timer on the virtual clock (8254 datasheet; QEMU's
 * `hw/timer/i8254_common.c` for the PC-specific conventions).
 *
 * Nothing ticks: each counter stores the PIT clock at which its current count started (`start`),
 * and its counter value and OUT level are computed from the virtual clock on demand, so a read in
 * the middle of a CPU slice is exact (the CPU syncs the clock before every bus call). Channel 0's
 * OUT drives IRQ0 through the `irq` callback: the run loop asks `nextDeadline()` for the virtual
 * cycle of the next rising edge and calls `update()` once the clock passes it; every guest access
 * first delivers edges that fell due. Channel 2's gate and OUT are reached through port 0x61
 * (`portB`), the way Linux calibrates the TSC.
 *
 * A new count written while mode 2 or 3 is counting takes effect at the end of the current period
 * (datasheet; for mode 3 the 8254 switches at the end of the current half-cycle, here at the end of
 * the full cycle). Deviation, as in QEMU: a count is loaded at the write itself, not one CLK later.
 */

import type { VirtualClock } from '@pv/x86-core';
import { cycleOfTick, ticksAt } from '../clock';
import { checkState, DevicesError, stateBool, stateInt, stateNumber } from '../errors';
import type { ByteDevice } from '../portbus';
import { Channel, fromBcd } from './channel';
import {
  PIT_BCD,
  PIT_HZ,
  PIT_MODE_HW_STROBE,
  PIT_MODE_INTERRUPT_ON_TC,
  PIT_MODE_MASK,
  PIT_MODE_ONESHOT,
  PIT_MODE_RATE,
  PIT_MODE_SHIFT,
  PIT_MODE_SQUARE,
  PIT_RB_CH0,
  PIT_RB_NO_COUNT,
  PIT_RB_NO_STATUS,
  PIT_RW_LATCH,
  PIT_RW_LSB,
  PIT_RW_MASK,
  PIT_RW_MSB,
  PIT_RW_SHIFT,
  PIT_RW_WORD,
  PIT_SC_READBACK,
  PIT_SC_SHIFT,
  PORTB_REFRESH,
  PORTB_REFRESH_TICKS,
  PORTB_SPEAKER_ENABLE,
  PORTB_TIMER2_GATE,
  PORTB_TIMER2_OUT,
  PORTB_WRITABLE,
} from './registers';

/** Options of a PIT. */
export interface PitOptions {
  /** The machine's virtual clock. */
  clock: VirtualClock;
  /** Channel 0 OUT → IRQ0; called on every level change (each rising edge is a PIC request). */
  irq: (level: boolean) => void;
  /**
   * The PC speaker: called when its tone changes. It sounds while port 0x61 enables both the
   * channel-2 gate and the speaker data bit and channel 2 runs in mode 3 (square wave); `hz` is
   * 1193182 / count then, 0 when silent. Optional; defaults to nothing.
   */
  speaker?: (hz: number) => void;
}

/** Plain snapshot of one counter. */
export interface PitChannelState {
  mode: number;
  bcd: boolean;
  rw: number;
  reload: number;
  count: number;
  loaded: boolean;
  armed: boolean;
  nullCount: boolean;
  gate: boolean;
  start: number;
  frozen: number;
  writeMsbNext: boolean;
  writeLatch: number;
  readMsbNext: boolean;
  latched: boolean;
  latchedCount: number;
  latchMsbNext: boolean;
  statusLatched: boolean;
  status: number;
  /** A count written during mode 2/3 counting, waiting for the end of the period (0 = none). */
  pending: number;
  /** PIT clock at which `pending` is loaded, or -1 when it waits for a gate trigger. */
  switchAt: number;
}

/** Plain, versioned snapshot of the PIT (tick fields are absolute PIT clocks of the virtual clock). */
export interface PitState {
  kind: 'pit8254';
  version: 1;
  channels: PitChannelState[];
  portB: number;
  irqLevel: boolean;
  /** PIT clock of channel 0's next undelivered rising edge, or -1 for none. */
  nextEdge: number;
}

/** Counters for tests and statistics. */
export interface PitCounters {
  /** Rising edges delivered on IRQ0. */
  irq0Edges: number;
  /** Control words with RW = 00 for a counter already latched (ignored, per datasheet). */
  relatch: number;
}

/** The 8254 PIT, at ports 0x40..0x43 (`pit`) and 0x61 (`pit.portB`). */
export class Pit8254 implements ByteDevice {
  /** System Control Port B (0x61): channel 2 gate, speaker enable, OUT2, refresh toggle. */
  readonly portB: ByteDevice;
  readonly counters: PitCounters = { irq0Edges: 0, relatch: 0 };

  private readonly clock: VirtualClock;
  private readonly hz: number;
  private readonly irqOut: (level: boolean) => void;
  private readonly speakerOut: ((hz: number) => void) | null;
  private speakerHz = 0;
  private readonly ch: [Channel, Channel, Channel] = [
    new Channel(true),
    new Channel(true),
    new Channel(false),
  ];
  private portBBits = 0;
  private irqLevel = false;
  /** PIT clock of channel 0's next rising edge. */
  private nextEdge = Number.POSITIVE_INFINITY;

  constructor(options: PitOptions) {
    const clock = options?.clock;
    if (!clock || typeof clock.now !== 'function' || !(clock.hz > 0) || !Number.isFinite(clock.hz)) {
      throw new DevicesError(
        'INVALID_CONFIG',
        `Pit8254 needs a clock with now() and hz > 0 (hz = ${String(clock?.hz)})`,
      );
    }
    if (typeof options.irq !== 'function')
      throw new DevicesError('INVALID_CONFIG', 'Pit8254 needs an irq callback');
    this.clock = clock;
    this.hz = clock.hz;
    this.irqOut = options.irq;
    this.speakerOut = typeof options.speaker === 'function' ? options.speaker : null;
    this.portB = {
      read: () => this.readPortB(),
      write: (_offset, value) => this.writePortB(value),
    };
    // Counters start at reset (t = 0 of the virtual clock); OUT0's level then is the wire's initial state.
    const t = this.now();
    for (const c of this.ch) c.start = c.gate ? 0 : c.start;
    this.nextEdge = this.ch[0].nextRisingEdge(t);
    this.irqLevel = this.ch[0].out(t);
  }

  /** Restore a PIT from `saveState()` data; the clock must be at (or past) the snapshot's time. */
  static fromState(state: PitState, options: PitOptions): Pit8254 {
    const pit = new Pit8254(options);
    pit.restore(state);
    return pit;
  }

  // ---- Run loop ----

  /** Virtual-clock cycle of the next IRQ0 rising edge, or Infinity when none is scheduled. */
  nextDeadline(): number {
    return cycleOfTick(this.nextEdge, this.hz, PIT_HZ);
  }

  /** Deliver the IRQ0 edges due by the clock's current time. */
  update(): void {
    this.advanceTo(this.clock.now());
  }

  /** Deliver the IRQ0 edges due by virtual cycle `now`. */
  advanceTo(now: number): void {
    this.refresh(ticksAt(now, this.hz, PIT_HZ));
  }

  /** Drive the gate of counter `channel` (0 and 1 are tied high on a PC; 2 is port 0x61 bit 0). */
  setGate(channel: 0 | 1 | 2, level: boolean): void {
    checkChannel(channel);
    const t = this.now();
    this.refresh(t);
    this.gateChange(this.ch[channel], level, t);
    this.rearm(t);
  }

  /** OUT of counter `channel` now. */
  output(channel: 0 | 1 | 2): boolean {
    checkChannel(channel);
    return this.ch[channel].out(this.now());
  }

  /** The count programmed into `channel` (1..65536), for the composer and tests. */
  reloadValue(channel: 0 | 1 | 2): number {
    checkChannel(channel);
    return this.ch[channel].reload;
  }

  // ---- Ports 0x40..0x43 ----

  read(offset: number): number {
    offset &= 3;
    if (offset === 3) return 0xff;
    const t = this.now();
    this.refresh(t);
    const c = this.ch[offset]!;
    if (c.statusLatched) {
      c.statusLatched = false;
      return c.status;
    }
    if (c.latched) {
      const v = c.latchedCount;
      switch (c.rw) {
        case PIT_RW_LSB:
          c.latched = false;
          return v & 0xff;
        case PIT_RW_MSB:
          c.latched = false;
          return v >> 8;
        default:
          if (!c.latchMsbNext) {
            c.latchMsbNext = true;
            return v & 0xff;
          }
          c.latched = false;
          return v >> 8;
      }
    }
    const v = c.value(t);
    switch (c.rw) {
      case PIT_RW_LSB:
        return v & 0xff;
      case PIT_RW_MSB:
        return v >> 8;
      default:
        c.readMsbNext = !c.readMsbNext;
        return c.readMsbNext ? v & 0xff : v >> 8;
    }
  }

  write(offset: number, value: number): void {
    offset &= 3;
    value &= 0xff;
    const t = this.now();
    this.refresh(t);
    if (offset === 3) this.controlWord(value, t);
    else this.writeCount(this.ch[offset]!, value, t);
    this.rearm(t);
    if (this.speakerOut !== null) this.updateSpeaker();
  }

  // ---- Snapshots ----

  saveState(): PitState {
    return {
      kind: 'pit8254',
      version: 1,
      channels: this.ch.map((c) => ({
        mode: c.mode,
        bcd: c.bcd,
        rw: c.rw,
        reload: c.reload,
        count: c.count,
        loaded: c.loaded,
        armed: c.armed,
        nullCount: c.nullCount,
        gate: c.gate,
        start: c.start,
        frozen: c.frozen,
        writeMsbNext: c.writeMsbNext,
        writeLatch: c.writeLatch,
        readMsbNext: c.readMsbNext,
        latched: c.latched,
        latchedCount: c.latchedCount,
        latchMsbNext: c.latchMsbNext,
        statusLatched: c.statusLatched,
        status: c.status,
        pending: c.pending,
        switchAt: c.switchAt === Number.POSITIVE_INFINITY ? -1 : c.switchAt,
      })),
      portB: this.portBBits,
      irqLevel: this.irqLevel,
      nextEdge: this.nextEdge === Number.POSITIVE_INFINITY ? -1 : this.nextEdge,
    };
  }

  private restore(state: PitState): void {
    const k = 'pit8254';
    const s = checkState(state, k, 1);
    if (!Array.isArray(s.channels) || s.channels.length !== 3) {
      throw new DevicesError('INVALID_STATE', `${k} snapshot must have 3 channels`);
    }
    s.channels.forEach((raw: unknown, i: number) => {
      const ck = `${k}.channels[${i}]`;
      if (typeof raw !== 'object' || raw === null)
        throw new DevicesError('INVALID_STATE', `${ck} is not an object`);
      const r = raw as Record<string, unknown>;
      const c = this.ch[i]!;
      c.mode = stateInt(r, ck, 'mode', 0, 5);
      c.bcd = stateBool(r, ck, 'bcd');
      c.rw = stateInt(r, ck, 'rw', PIT_RW_LSB, PIT_RW_WORD);
      c.reload = stateInt(r, ck, 'reload', 1, 0x10000);
      c.count = stateInt(r, ck, 'count', 1, 0x10000);
      c.loaded = stateBool(r, ck, 'loaded');
      c.armed = stateBool(r, ck, 'armed');
      c.nullCount = stateBool(r, ck, 'nullCount');
      c.gate = stateBool(r, ck, 'gate');
      c.start = stateNumber(r, ck, 'start');
      c.frozen = stateNumber(r, ck, 'frozen');
      c.writeMsbNext = stateBool(r, ck, 'writeMsbNext');
      c.writeLatch = stateInt(r, ck, 'writeLatch', 0, 255);
      c.readMsbNext = stateBool(r, ck, 'readMsbNext');
      c.latched = stateBool(r, ck, 'latched');
      c.latchedCount = stateInt(r, ck, 'latchedCount', 0, 0xffff);
      c.latchMsbNext = stateBool(r, ck, 'latchMsbNext');
      c.statusLatched = stateBool(r, ck, 'statusLatched');
      c.status = stateInt(r, ck, 'status', 0, 255);
      c.pending = stateInt(r, ck, 'pending', 0, 0x10000);
      const switchAt = stateNumber(r, ck, 'switchAt');
      c.switchAt = switchAt === -1 ? Number.POSITIVE_INFINITY : switchAt;
      if (c.frozen < -1 || !Number.isInteger(c.frozen) || !Number.isInteger(c.start)) {
        throw new DevicesError('INVALID_STATE', `${ck} start/frozen are not integer PIT clocks`);
      }
    });
    this.portBBits = stateInt(s, k, 'portB', 0, PORTB_WRITABLE);
    // Re-announce OUT0 on the new wiring (a restored PIC ignores it: its edge latch is restored too).
    const level = stateBool(s, k, 'irqLevel');
    this.irqLevel = level;
    if (level) this.irqOut(true);
    const next = stateNumber(s, k, 'nextEdge');
    if (next < -1 || !Number.isInteger(next)) {
      throw new DevicesError(
        'INVALID_STATE',
        `${k} snapshot field nextEdge = ${next} is not a PIT clock or -1`,
      );
    }
    this.nextEdge = next === -1 ? Number.POSITIVE_INFINITY : next;
  }

  // ---- Internals ----

  private now(): number {
    return ticksAt(this.clock.now(), this.hz, PIT_HZ);
  }

  private controlWord(value: number, t: number): void {
    const sc = value >> PIT_SC_SHIFT;
    if (sc === PIT_SC_READBACK) {
      for (let i = 0; i < 3; i++) {
        if (!(value & (PIT_RB_CH0 << i))) continue;
        const c = this.ch[i]!;
        if (!(value & PIT_RB_NO_COUNT)) this.latch(c, t);
        if (!(value & PIT_RB_NO_STATUS) && !c.statusLatched) {
          c.statusLatched = true;
          c.status = c.statusByte(t);
        }
      }
      return;
    }
    const c = this.ch[sc]!;
    const rw = (value & PIT_RW_MASK) >> PIT_RW_SHIFT;
    if (rw === PIT_RW_LATCH) {
      this.latch(c, t);
      return;
    }
    // A control word resets the counter's control logic: OUT to its initial state, waiting for a count.
    let mode = (value & PIT_MODE_MASK) >> PIT_MODE_SHIFT;
    if (mode > 5) mode -= 4; // X10 = 2, X11 = 3
    c.mode = mode;
    c.bcd = (value & PIT_BCD) !== 0;
    c.rw = rw;
    c.loaded = false;
    c.armed = false;
    c.nullCount = true;
    c.frozen = -1;
    c.writeMsbNext = false;
    c.readMsbNext = false;
    c.latched = false;
    c.statusLatched = false;
    c.pending = 0;
    c.switchAt = Number.POSITIVE_INFINITY;
  }

  private latch(c: Channel, t: number): void {
    if (c.latched) {
      this.counters.relatch++;
      return;
    }
    c.latched = true;
    c.latchMsbNext = false;
    c.latchedCount = c.value(t);
  }

  private writeCount(c: Channel, value: number, t: number): void {
    let raw: number;
    switch (c.rw) {
      case PIT_RW_LSB:
        raw = value;
        break;
      case PIT_RW_MSB:
        raw = value << 8;
        break;
      default:
        if (!c.writeMsbNext) {
          c.writeLatch = value;
          c.writeMsbNext = true;
          // Mode 0: writing the first byte stops the count and drives OUT low.
          if (c.mode === PIT_MODE_INTERRUPT_ON_TC) {
            c.loaded = false;
            c.armed = false;
            c.frozen = -1;
          }
          return;
        }
        c.writeMsbNext = false;
        raw = c.writeLatch | (value << 8);
    }
    let n = c.bcd ? fromBcd(raw) : raw;
    if (n === 0) n = c.bcd ? 10000 : 0x10000;
    c.reload = n;
    c.loaded = true;
    if (c.mode === PIT_MODE_ONESHOT || c.mode === PIT_MODE_HW_STROBE) {
      // The count is loaded into the counting element by the next gate trigger.
      return;
    }
    if ((c.mode === PIT_MODE_RATE || c.mode === PIT_MODE_SQUARE) && c.armed) {
      // Counting already: the current period completes with the old count (datasheet, modes 2/3).
      c.settle(t);
      c.pending = n;
      c.nullCount = true;
      if (c.frozen >= 0) c.switchAt = Number.POSITIVE_INFINITY;
      else {
        const p = Math.max(c.count, 2);
        c.switchAt = c.start + (Math.floor((t - c.start) / p) + 1) * p;
      }
      return;
    }
    c.count = n;
    c.nullCount = false;
    c.armed = true;
    c.start = t;
    c.frozen = c.gate ? -1 : 0;
  }

  private gateChange(c: Channel, level: boolean, t: number): void {
    if (level === c.gate) return;
    c.gate = level;
    switch (c.mode) {
      case PIT_MODE_ONESHOT:
      case PIT_MODE_HW_STROBE:
        // A rising gate (re)triggers: load the count and start.
        if (level && c.loaded) {
          c.count = c.reload;
          c.nullCount = false;
          c.armed = true;
          c.start = t;
          c.frozen = -1;
        }
        return;
      case PIT_MODE_RATE:
      case PIT_MODE_SQUARE:
        if (!c.armed) return;
        if (level) {
          c.start = t; // a rising gate reloads the counter, with a pending count if any
          c.frozen = -1;
          if (c.pending !== 0) {
            c.count = c.pending;
            c.pending = 0;
            c.nullCount = false;
            c.switchAt = Number.POSITIVE_INFINITY;
          }
        } else {
          c.settle(t);
          c.frozen = c.elapsed(t); // counting stops, OUT goes high
        }
        return;
      default: // modes 0 and 4: the gate only enables counting
        if (!c.armed) return;
        if (level) {
          c.start = t - c.frozen;
          c.frozen = -1;
        } else {
          c.frozen = c.elapsed(t);
        }
    }
  }

  /** Deliver channel 0's rising edges due by PIT clock `t` and follow its OUT level. */
  private refresh(t: number): void {
    const edge = this.nextEdge <= t;
    if (edge) this.nextEdge = this.ch[0].nextRisingEdge(t);
    const level = this.ch[0].out(t);
    if (edge) {
      this.counters.irq0Edges++;
      if (this.irqLevel) this.irqOut(false);
      this.irqOut(true);
      this.irqLevel = true;
    }
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irqOut(level);
    }
  }

  /** After a guest or gate change at clock `t`: reschedule channel 0 and follow OUT0. */
  private rearm(t: number): void {
    this.nextEdge = this.ch[0].nextRisingEdge(t);
    const level = this.ch[0].out(t);
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irqOut(level);
    }
  }

  private readPortB(): number {
    const t = this.now();
    return (
      this.portBBits |
      (Math.floor(t / PORTB_REFRESH_TICKS) & 1 ? PORTB_REFRESH : 0) |
      (this.ch[2].out(t) ? PORTB_TIMER2_OUT : 0)
    );
  }

  private writePortB(value: number): void {
    this.portBBits = value & PORTB_WRITABLE;
    const t = this.now();
    this.gateChange(this.ch[2], (value & PORTB_TIMER2_GATE) !== 0, t);
    if (this.speakerOut !== null) this.updateSpeaker();
  }

  private updateSpeaker(): void {
    const c = this.ch[2];
    const on =
      (this.portBBits & (PORTB_TIMER2_GATE | PORTB_SPEAKER_ENABLE)) ===
        (PORTB_TIMER2_GATE | PORTB_SPEAKER_ENABLE) &&
      c.mode === PIT_MODE_SQUARE &&
      c.armed;
    const hz = on ? PIT_HZ / (c.pending || c.count) : 0; // a pending count is the tone asked for
    if (hz !== this.speakerHz) {
      this.speakerHz = hz;
      this.speakerOut!(hz);
    }
  }
}

function checkChannel(channel: number): void {
  if (channel !== 0 && channel !== 1 && channel !== 2) {
    throw new DevicesError('INVALID_ARGUMENT', `PIT channel ${String(channel)} is not 0, 1 or 2`);
  }
}
