/**
 * MC146818 RTC and CMOS RAM at ports 0x70/0x71, on the virtual clock.
 *
 * Time is kept as a divider-chain origin `divBase` (a virtual cycle) plus the Unix second `baseSec`
 * at that origin: second boundaries ("update cycles") fall every 32768 divider ticks after
 * `divBase`, periodic interrupts every 2^(RS-1) ticks. Nothing ticks: every access first
 * performs the updates that fell due since the last one (copying the new time into the clock
 * registers, setting UF/AF/PF), so register contents are exact at any instant. IRQ8 follows
 * IRQF; the run loop asks `nextDeadline()` and calls `update()` so enabled interrupts arrive on
 * time.
 *
 * The guest-visible epoch comes from the composer (the host's time at VM start, or a fixed time
 * for reproducible runs); the device never reads the host clock.
 */

import type { VirtualClock } from '@pv/x86-core';
import { cycleOfTick, ticksAt } from '../clock';
import { checkState, DevicesError, stateBool, stateBytes, stateInt, stateNumber } from '../errors';
import type { ByteDevice } from '../portbus';
import { civilFromSeconds, secondsFromCivil } from './calendar';
import {
  CMOS_BASE_MEM_HI,
  CMOS_BASE_MEM_LO,
  CMOS_CHECKSUM_HI,
  CMOS_CHECKSUM_LO,
  CMOS_CPU_COUNT_MINUS_1,
  CMOS_EQUIPMENT,
  CMOS_EXT_MEM_ACTUAL_HI,
  CMOS_EXT_MEM_ACTUAL_LO,
  CMOS_EXT_MEM_HI,
  CMOS_EXT_MEM_LO,
  CMOS_MEM_4G_HI,
  CMOS_MEM_4G_LO,
  CMOS_MEM_4G_MID,
  CMOS_MEM_16M_HI,
  CMOS_MEM_16M_LO,
  CMOS_SIZE,
  RTC_24H,
  RTC_AF,
  RTC_AIE,
  RTC_ALARM_DONT_CARE,
  RTC_CENTURY,
  RTC_DAY_OF_MONTH,
  RTC_DAY_OF_WEEK,
  RTC_DIV_MASK,
  RTC_DIV_SHIFT,
  RTC_DM_BINARY,
  RTC_HOURS,
  RTC_HOURS_ALARM,
  RTC_HOURS_PM,
  RTC_INDEX_MASK,
  RTC_IRQF,
  RTC_MINUTES,
  RTC_MINUTES_ALARM,
  RTC_MONTH,
  RTC_NMI_DISABLE,
  RTC_PF,
  RTC_PIE,
  RTC_RATE_SELECT,
  RTC_REF_CLCK_32KHZ,
  RTC_REG_A,
  RTC_REG_B,
  RTC_REG_C,
  RTC_REG_D,
  RTC_SECONDS,
  RTC_SECONDS_ALARM,
  RTC_SET,
  RTC_TICK_HZ,
  RTC_UF,
  RTC_UIE,
  RTC_UIP,
  RTC_UIP_TICKS,
  RTC_VRT,
  RTC_YEAR,
} from './registers';

/** Options of the RTC. */
export interface RtcOptions {
  clock: VirtualClock;
  /** IRQ8; called on every change of IRQF. */
  irq: (level: boolean) => void;
  /**
   * Guest wall-clock time at virtual cycle 0, in Unix milliseconds (UTC). The composer passes the
   * host's `Date.now()` at VM start by default, or a fixed value for reproducible runs.
   */
  epochMs: number;
  /** RAM below 4 GiB and above 4 GiB in bytes, for the BIOS memory-size bytes. */
  memory?: { belowFourG: number; aboveFourG?: number };
  /** Number of CPUs (CMOS 0x5f = count - 1). Default 1. */
  cpus?: number;
}

/** Plain, versioned snapshot of the RTC and its CMOS contents. */
export interface RtcState {
  kind: 'mc146818';
  version: 1;
  cmos: number[];
  index: number;
  nmiMasked: boolean;
  divBase: number;
  baseSec: number;
  lastTick: number;
  irqLevel: boolean;
}

/** Counters for tests and statistics. */
export interface RtcCounters {
  /** Update cycles performed (second boundaries while not in SET mode). */
  updates: number;
  /** Interrupts raised on IRQ8 (rising edges of IRQF). */
  interrupts: number;
}

const KIND = 'mc146818';
const HALF_SECOND_TICKS = RTC_TICK_HZ / 2;

/** The MC146818 RTC with 128 bytes of CMOS. A byte device for ports 0x70..0x71. */
export class Rtc implements ByteDevice {
  readonly counters: RtcCounters = { updates: 0, interrupts: 0 };

  private readonly clock: VirtualClock;
  private readonly hz: number;
  private readonly irqOut: (level: boolean) => void;
  private readonly cmos = new Uint8Array(CMOS_SIZE);
  private index = 0;
  private nmi = false;
  /** Virtual cycle of the divider chain's origin (a second boundary). */
  private divBase = 0;
  /** Unix second at `divBase`. */
  private baseSec = 0;
  /** Divider ticks since `divBase` at the last synchronisation. */
  private lastTick = 0;
  private irqLevel = false;

  constructor(options: RtcOptions) {
    const clock = options?.clock;
    if (!clock || typeof clock.now !== 'function' || !(clock.hz > 0) || !Number.isFinite(clock.hz)) {
      throw new DevicesError(
        'INVALID_CONFIG',
        `Rtc needs a clock with now() and hz > 0 (hz = ${String(clock?.hz)})`,
      );
    }
    if (typeof options.irq !== 'function')
      throw new DevicesError('INVALID_CONFIG', 'Rtc needs an irq callback');
    if (typeof options.epochMs !== 'number' || !Number.isFinite(options.epochMs)) {
      throw new DevicesError(
        'INVALID_CONFIG',
        `Rtc epochMs ${String(options.epochMs)} is not a finite number`,
      );
    }
    this.clock = clock;
    this.hz = clock.hz;
    this.irqOut = options.irq;

    // Power-on register values as a BIOS leaves them: 32.768 kHz, 1024 Hz rate, 24 h BCD.
    this.cmos[RTC_REG_A] = RTC_REF_CLCK_32KHZ | 0x06;
    this.cmos[RTC_REG_B] = RTC_24H;
    this.cmos[RTC_REG_D] = RTC_VRT;
    const sec = Math.floor(options.epochMs / 1000);
    const fractionMs = options.epochMs - sec * 1000;
    this.baseSec = sec;
    // The current second began `fraction` before cycle 0.
    this.divBase = -Math.round((fractionMs * this.hz) / 1000);
    this.lastTick = this.tickNow(clock.now());
    this.writeTime(this.baseSec + Math.floor(this.lastTick / RTC_TICK_HZ));
    this.setupBiosBytes(options.memory, options.cpus ?? 1);
  }

  /** Restore an RTC from `saveState()` data (the clock must be at the snapshot's time). */
  static fromState(state: RtcState, options: RtcOptions): Rtc {
    const rtc = new Rtc(options);
    rtc.restore(state);
    return rtc;
  }

  // ---- Host side ----

  /** NMI disabled through port 0x70 bit 7 (the composer gates NMI delivery with it). */
  get nmiMasked(): boolean {
    return this.nmi;
  }

  /** The IRQ8 level. */
  get irqAsserted(): boolean {
    return this.irqLevel;
  }

  /** The RTC's current time in Unix seconds, as the clock registers will show it. */
  unixTime(): number {
    this.sync();
    return this.currentSecond();
  }

  /** Read CMOS byte `index` without side effects on the clock registers' flags. */
  readCmos(index: number): number {
    this.checkIndex(index);
    this.sync();
    return this.cmos[index]!;
  }

  /** Set CMOS byte `index` (for a composer adding BIOS data; clock registers are not allowed). */
  writeCmos(index: number, value: number): void {
    this.checkIndex(index);
    if (index <= RTC_REG_D) {
      throw new DevicesError('INVALID_ARGUMENT', `CMOS byte 0x${index.toString(16)} is a clock register`);
    }
    this.cmos[index] = value & 0xff;
  }

  /** Virtual cycle of the next enabled interrupt (periodic, alarm or update-ended), or Infinity. */
  nextDeadline(): number {
    if (this.irqLevel || !this.dividerRunning()) return Number.POSITIVE_INFINITY;
    const b = this.cmos[RTC_REG_B]!;
    let next = Number.POSITIVE_INFINITY;
    const t = this.lastTick;
    const period = this.periodTicks();
    if (b & RTC_PIE && period > 0) next = (Math.floor(t / period) + 1) * period;
    if (b & (RTC_UIE | RTC_AIE) && !(b & RTC_SET)) {
      next = Math.min(next, (Math.floor(t / RTC_TICK_HZ) + 1) * RTC_TICK_HZ);
    }
    return next === Number.POSITIVE_INFINITY ? next : this.divBase + cycleOfTick(next, this.hz, RTC_TICK_HZ);
  }

  /** Perform the updates and interrupts due by the clock's current time. */
  update(): void {
    this.sync();
  }

  /** Perform the updates and interrupts due by virtual cycle `now`. */
  advanceTo(now: number): void {
    this.sync(now);
  }

  // ---- Ports 0x70/0x71 ----

  read(offset: number): number {
    if (!(offset & 1)) return 0xff; // the index port is write-only
    const i = this.index;
    if (i > RTC_REG_D && i !== RTC_CENTURY) return this.cmos[i]!;
    this.sync();
    switch (i) {
      case RTC_REG_A: {
        const uip = this.updateInProgress() ? RTC_UIP : 0;
        return (this.cmos[RTC_REG_A]! & ~RTC_UIP) | uip;
      }
      case RTC_REG_C: {
        // Reading C returns and clears all flags, and releases IRQ8 (datasheet "Register C").
        const c = this.cmos[RTC_REG_C]!;
        this.cmos[RTC_REG_C] = 0;
        this.updateIrq();
        return c;
      }
      case RTC_REG_D:
        return RTC_VRT;
      default:
        return this.cmos[i]!;
    }
  }

  write(offset: number, value: number): void {
    value &= 0xff;
    if (!(offset & 1)) {
      this.index = value & RTC_INDEX_MASK;
      this.nmi = (value & RTC_NMI_DISABLE) !== 0;
      return;
    }
    const i = this.index;
    if (i > RTC_REG_D && i !== RTC_CENTURY) {
      this.cmos[i] = value;
      return;
    }
    this.sync();
    switch (i) {
      case RTC_REG_A: {
        const wasRunning = this.dividerRunning();
        this.cmos[RTC_REG_A] = value & ~RTC_UIP;
        if (!wasRunning && this.dividerRunning()) {
          // Divider released from reset: the first update comes half a second later (datasheet).
          this.restartDivider(this.registerTime(), HALF_SECOND_TICKS);
        }
        break;
      }
      case RTC_REG_B: {
        const old = this.cmos[RTC_REG_B]!;
        if (value & RTC_SET) value &= ~RTC_UIE; // SET clears UIE
        this.cmos[RTC_REG_B] = value;
        if (old & RTC_SET && !(value & RTC_SET)) this.setTime(this.registerTime());
        break;
      }
      case RTC_REG_C:
      case RTC_REG_D:
        break; // read only
      default:
        this.cmos[i] = value;
        // A time register written while the clock runs takes effect at once (as in QEMU).
        if (!(this.cmos[RTC_REG_B]! & RTC_SET) && this.dividerRunning()) this.setTime(this.registerTime());
    }
    this.updateIrq();
  }

  // ---- Snapshots ----

  saveState(): RtcState {
    return {
      kind: KIND,
      version: 1,
      cmos: Array.from(this.cmos),
      index: this.index,
      nmiMasked: this.nmi,
      divBase: this.divBase,
      baseSec: this.baseSec,
      lastTick: this.lastTick,
      irqLevel: this.irqLevel,
    };
  }

  private restore(state: RtcState): void {
    const s = checkState(state, KIND, 1);
    this.cmos.set(stateBytes(s, KIND, 'cmos', CMOS_SIZE));
    this.index = stateInt(s, KIND, 'index', 0, RTC_INDEX_MASK);
    this.nmi = stateBool(s, KIND, 'nmiMasked');
    this.divBase = stateNumber(s, KIND, 'divBase');
    this.baseSec = stateNumber(s, KIND, 'baseSec');
    this.lastTick = stateNumber(s, KIND, 'lastTick');
    for (const f of ['divBase', 'baseSec', 'lastTick'] as const) {
      if (!Number.isInteger(this[f]))
        throw new DevicesError('INVALID_STATE', `${KIND} snapshot field ${f} is not an integer`);
    }
    stateBool(s, KIND, 'irqLevel');
    // Re-announce IRQ8 on the new wiring (it follows IRQF in register C).
    this.irqLevel = false;
    this.updateIrq();
  }

  // ---- Internals ----

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= CMOS_SIZE) {
      throw new DevicesError('INVALID_ARGUMENT', `CMOS index ${String(index)} is not in 0..127`);
    }
  }

  private tickNow(now: number): number {
    return ticksAt(now - this.divBase, this.hz, RTC_TICK_HZ);
  }

  /** DV = 000..010 run the divider chain (QEMU's rule); 011..111 hold it. */
  private dividerRunning(): boolean {
    return (this.cmos[RTC_REG_A]! & RTC_DIV_MASK) >> RTC_DIV_SHIFT <= 2;
  }

  private periodTicks(): number {
    const rs = this.cmos[RTC_REG_A]! & RTC_RATE_SELECT;
    if (rs === 0) return 0;
    return rs <= 2 ? 1 << (rs + 6) : 1 << (rs - 1); // datasheet table: RS 1,2 alias 8,9
  }

  private currentSecond(): number {
    return this.baseSec + Math.floor(this.lastTick / RTC_TICK_HZ);
  }

  private updateInProgress(): boolean {
    const b = this.cmos[RTC_REG_B]!;
    if (b & RTC_SET || !this.dividerRunning()) return false;
    return this.lastTick % RTC_TICK_HZ >= RTC_TICK_HZ - RTC_UIP_TICKS;
  }

  /** Perform the periodic ticks and update cycles due by cycle `now`. */
  private sync(now = this.clock.now()): void {
    if (!this.dividerRunning()) return;
    const tick = this.tickNow(now);
    const last = this.lastTick;
    if (tick <= last) return;
    this.lastTick = tick;
    let flags = 0;
    const period = this.periodTicks();
    if (period > 0 && Math.floor(tick / period) > Math.floor(last / period)) flags |= RTC_PF;
    const secNow = Math.floor(tick / RTC_TICK_HZ);
    const secLast = Math.floor(last / RTC_TICK_HZ);
    if (secNow > secLast && !(this.cmos[RTC_REG_B]! & RTC_SET)) {
      this.counters.updates += secNow - secLast;
      flags |= RTC_UF;
      if (this.alarmMatches(this.baseSec + secLast, this.baseSec + secNow)) flags |= RTC_AF;
      this.writeTime(this.baseSec + secNow);
    }
    if (flags !== 0) {
      this.cmos[RTC_REG_C] = this.cmos[RTC_REG_C]! | flags;
      this.updateIrq();
    }
  }

  /** Does some second in (from, to] match the alarm registers (in the current data format)? */
  private alarmMatches(from: number, to: number): boolean {
    if (to - from >= 86400) {
      // Every time of day passed: the alarm matched iff each field can match some value.
      return (
        this.alarmCanMatch(RTC_SECONDS_ALARM, 60, false) &&
        this.alarmCanMatch(RTC_MINUTES_ALARM, 60, false) &&
        this.alarmCanMatch(RTC_HOURS_ALARM, 24, true)
      );
    }
    for (let s = to; s > from; s--) {
      const sod = ((s % 86400) + 86400) % 86400;
      const hour = Math.floor(sod / 3600);
      const minute = Math.floor((sod - hour * 3600) / 60);
      if (
        this.alarmField(RTC_SECONDS_ALARM, this.encode(sod % 60)) &&
        this.alarmField(RTC_MINUTES_ALARM, this.encode(minute)) &&
        this.alarmField(RTC_HOURS_ALARM, this.encodeHour(hour))
      ) {
        return true;
      }
    }
    return false;
  }

  private alarmCanMatch(reg: number, count: number, hours: boolean): boolean {
    for (let v = 0; v < count; v++) {
      if (this.alarmField(reg, hours ? this.encodeHour(v) : this.encode(v))) return true;
    }
    return false;
  }

  private alarmField(reg: number, value: number): boolean {
    const a = this.cmos[reg]!;
    return (a & RTC_ALARM_DONT_CARE) === RTC_ALARM_DONT_CARE || a === value;
  }

  private binary(): boolean {
    return (this.cmos[RTC_REG_B]! & RTC_DM_BINARY) !== 0;
  }

  private encode(v: number): number {
    return this.binary() ? v : (Math.floor(v / 10) << 4) | (v % 10);
  }

  private decode(v: number): number {
    return this.binary() ? v : (v >> 4) * 10 + (v & 0xf);
  }

  private encodeHour(h: number): number {
    if (this.cmos[RTC_REG_B]! & RTC_24H) return this.encode(h);
    return this.encode(h % 12 || 12) | (h >= 12 ? RTC_HOURS_PM : 0);
  }

  private decodeHour(v: number): number {
    if (this.cmos[RTC_REG_B]! & RTC_24H) return this.decode(v);
    return (this.decode(v & ~RTC_HOURS_PM) % 12) + (v & RTC_HOURS_PM ? 12 : 0);
  }

  /** Copy Unix second `sec` into the clock registers in the current format (an update cycle). */
  private writeTime(sec: number): void {
    const t = civilFromSeconds(sec);
    const c = this.cmos;
    c[RTC_SECONDS] = this.encode(t.second);
    c[RTC_MINUTES] = this.encode(t.minute);
    c[RTC_HOURS] = this.encodeHour(t.hour);
    c[RTC_DAY_OF_WEEK] = this.encode(t.weekday);
    c[RTC_DAY_OF_MONTH] = this.encode(t.day);
    c[RTC_MONTH] = this.encode(t.month);
    c[RTC_YEAR] = this.encode(((t.year % 100) + 100) % 100);
    c[RTC_CENTURY] = this.encode(Math.floor(t.year / 100) & 0xff) & 0xff;
  }

  /** The time the clock registers hold (out-of-range fields roll over; never throws). */
  private registerTime(): number {
    const c = this.cmos;
    const year = this.decode(c[RTC_CENTURY]!) * 100 + this.decode(c[RTC_YEAR]!);
    return secondsFromCivil(
      year,
      this.decode(c[RTC_MONTH]!),
      this.decode(c[RTC_DAY_OF_MONTH]!),
      this.decodeHour(c[RTC_HOURS]!),
      this.decode(c[RTC_MINUTES]!),
      this.decode(c[RTC_SECONDS]!),
    );
  }

  /** The guest set the time: keep the divider phase, so the next update is at the next boundary. */
  private setTime(sec: number): void {
    this.baseSec = sec - Math.floor(this.lastTick / RTC_TICK_HZ);
  }

  /** Restart the divider chain now with time `sec`, the first update `firstUpdateTicks` from now. */
  private restartDivider(sec: number, firstUpdateTicks: number): void {
    const now = this.clock.now();
    this.divBase = now - cycleOfTick(RTC_TICK_HZ - firstUpdateTicks, this.hz, RTC_TICK_HZ);
    this.baseSec = sec;
    this.lastTick = this.tickNow(now);
  }

  private updateIrq(): void {
    const c = this.cmos[RTC_REG_C]! & ~RTC_IRQF;
    const b = this.cmos[RTC_REG_B]!;
    const irqf = c & b & (RTC_PF | RTC_AF | RTC_UF) ? RTC_IRQF : 0;
    this.cmos[RTC_REG_C] = c | irqf;
    const level = irqf !== 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      if (level) this.counters.interrupts++;
      this.irqOut(level);
    }
  }

  /** The BIOS data bytes QEMU's `pc_cmos_init` writes and SeaBIOS reads. */
  private setupBiosBytes(memory: RtcOptions['memory'], cpus: number): void {
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > 256) {
      throw new DevicesError('INVALID_CONFIG', `Rtc cpus ${String(cpus)} is not in 1..256`);
    }
    const below = memory?.belowFourG ?? 0;
    const above = memory?.aboveFourG ?? 0;
    for (const [name, v] of [
      ['belowFourG', below],
      ['aboveFourG', above],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < 0) {
        throw new DevicesError('INVALID_CONFIG', `Rtc memory.${name} ${String(v)} is not a byte count`);
      }
    }
    if (below > 2 ** 32)
      throw new DevicesError('INVALID_CONFIG', `Rtc memory.belowFourG ${below} exceeds 4 GiB`);
    const c = this.cmos;
    const KiB = 1024;
    const MiB = 1024 * KiB;
    const base = Math.min(Math.floor(below / KiB), 640);
    c[CMOS_BASE_MEM_LO] = base & 0xff;
    c[CMOS_BASE_MEM_HI] = base >> 8;
    const ext = Math.min(below > MiB ? Math.floor((below - MiB) / KiB) : 0, 0xffff);
    c[CMOS_EXT_MEM_LO] = c[CMOS_EXT_MEM_ACTUAL_LO] = ext & 0xff;
    c[CMOS_EXT_MEM_HI] = c[CMOS_EXT_MEM_ACTUAL_HI] = ext >> 8;
    const mid = Math.min(below > 16 * MiB ? Math.floor((below - 16 * MiB) / (64 * KiB)) : 0, 0xffff);
    c[CMOS_MEM_16M_LO] = mid & 0xff;
    c[CMOS_MEM_16M_HI] = mid >> 8;
    const high = Math.min(Math.floor(above / (64 * KiB)), 0xffffff);
    c[CMOS_MEM_4G_LO] = high & 0xff;
    c[CMOS_MEM_4G_MID] = (high >> 8) & 0xff;
    c[CMOS_MEM_4G_HI] = high >> 16;
    c[CMOS_CPU_COUNT_MINUS_1] = cpus - 1;
    c[CMOS_EQUIPMENT] = 0x06; // FPU, PS/2 mouse
    let sum = 0;
    for (let i = 0x10; i <= 0x2d; i++) sum += c[i]!;
    c[CMOS_CHECKSUM_HI] = (sum >> 8) & 0xff;
    c[CMOS_CHECKSUM_LO] = sum & 0xff;
  }
}
