/**
 * High Precision Event Timer (IA-PC HPET Specification 1.0a), as QEMU models it for the `pc`
 * machine (`hw/timer/hpet.c`): a 64-bit main counter at 100 MHz (period 10^7 fs) on the virtual
 * clock, three comparators with one-shot and periodic modes, 32-bit mode, edge or level interrupts
 * and legacy replacement routing (timer 0 → IRQ0, timer 1 → IRQ8). No FSB (MSI) delivery.
 *
 * The counter is exact whenever it is read: it is computed from the clock, never ticked. Timers are
 * stored as the absolute counter value at which they next fire; `nextDeadline()` converts that to a
 * clock cycle for the composer's scheduler and `update(now)` fires what is due.
 *
 * Register offsets follow spec §2.3 (Table 2-2 … 2-13); all registers are 64-bit and are accessed
 * with the CPU's MMIO sizes, 1, 2 or 4 bytes (QEMU accepts 4 and 8): a narrower access reads or
 * merges its bytes of the 64-bit register.
 */
import type { VirtualClock } from '@pv/x86-core';
import { checkState, DevicesError, stateBool, stateInt } from '../errors';
import { stateBig } from './snapshot';
import { clockHz, tickConverter, ticksToCycles } from './ticks';

/** General Capabilities and ID register (RO). */
export const HPET_ID = 0x000;
/** General Configuration register. */
export const HPET_CFG = 0x010;
/** General Interrupt Status register (write 1 to clear). */
export const HPET_STATUS = 0x020;
/** Main Counter Value register. */
export const HPET_COUNTER = 0x0f0;
/** Timer N registers start at 0x100 + 0x20·N. */
export const HPET_TIMER_BASE = 0x100;
export const HPET_TIMER_STRIDE = 0x20;
/** Offsets inside a timer block. */
export const HPET_TN_CFG = 0x00;
export const HPET_TN_CMP = 0x08;
export const HPET_TN_ROUTE = 0x10;

/** Capabilities: REV_ID in bits 7:0. */
export const HPET_ID_REV = 0x01;
/** Capabilities: NUM_TIM_CAP (number of timers − 1) in bits 12:8. */
export const HPET_ID_NUM_TIM_SHIFT = 8;
/** Capabilities: COUNT_SIZE_CAP, the main counter is 64 bits wide. */
export const HPET_ID_COUNT_SIZE_CAP = 1 << 13;
/** Capabilities: LEG_RT_CAP, legacy replacement routing supported. */
export const HPET_ID_LEG_RT_CAP = 1 << 15;
/** Capabilities: VENDOR_ID in bits 31:16. */
export const HPET_ID_VENDOR_SHIFT = 16;
/** Vendor ID reported (Intel, as QEMU). */
export const HPET_VENDOR_INTEL = 0x8086;
/** COUNTER_CLK_PERIOD in femtoseconds (bits 63:32): 10 ns, a 100 MHz counter (QEMU). */
export const HPET_CLK_PERIOD_FS = 10_000_000;
/** Counter frequency in Hz implied by the period. */
export const HPET_FREQUENCY = 1e15 / HPET_CLK_PERIOD_FS;

/** General configuration: ENABLE_CNF. */
export const HPET_CFG_ENABLE = 0x1;
/** General configuration: LEG_RT_CNF. */
export const HPET_CFG_LEGACY = 0x2;

/** Timer config: Tn_INT_TYPE_CNF (1 = level triggered). */
export const HPET_TN_TYPE_LEVEL = 0x002;
/** Timer config: Tn_INT_ENB_CNF. */
export const HPET_TN_ENABLE = 0x004;
/** Timer config: Tn_TYPE_CNF (1 = periodic). */
export const HPET_TN_PERIODIC = 0x008;
/** Timer config: Tn_PER_INT_CAP (RO). */
export const HPET_TN_PERIODIC_CAP = 0x010;
/** Timer config: Tn_SIZE_CAP (RO, 64-bit comparator). */
export const HPET_TN_SIZE_CAP = 0x020;
/** Timer config: Tn_VAL_SET_CNF (write the accumulator directly in periodic mode). */
export const HPET_TN_SETVAL = 0x040;
/** Timer config: Tn_32MODE_CNF. */
export const HPET_TN_32BIT = 0x100;
/** Timer config: Tn_INT_ROUTE_CNF, bits 13:9. */
export const HPET_TN_INT_ROUTE_SHIFT = 9;
export const HPET_TN_INT_ROUTE_MASK = 0x3e00;
/** Guest-writable timer config bits (QEMU `HPET_TN_CFG_WRITE_MASK` without FSB). */
export const HPET_TN_CFG_WRITE_MASK = 0x3f4e;
/** Interrupt routing capability (bits 63:32): IO-APIC inputs 2, 8 and 16–23, as QEMU's pc. */
export const HPET_DEFAULT_ROUTE_CAP = 0x00ff0104;

/** Legacy replacement lines: timer 0 → ISA IRQ 0, timer 1 → ISA IRQ 8 (spec §2.3.9.2.2). */
export const HPET_LEGACY_PIT_IRQ = 0;
export const HPET_LEGACY_RTC_IRQ = 8;

const MASK64 = (1n << 64n) - 1n;

/**
 * Low 32 bits of the capabilities register for `timers` comparators. The ACPI HPET table's Event
 * Timer Block ID is the same number (HPET spec §3.2.4), so both come from here.
 */
export function hpetBlockId(timers: number): number {
  return (
    (HPET_ID_REV |
      ((timers - 1) << HPET_ID_NUM_TIM_SHIFT) |
      HPET_ID_COUNT_SIZE_CAP |
      HPET_ID_LEG_RT_CAP |
      (HPET_VENDOR_INTEL << HPET_ID_VENDOR_SHIFT)) >>>
    0
  );
}
const MASK32 = 0xffffffffn;

export interface HpetOptions {
  clock: VirtualClock;
  /**
   * Interrupt output. `line` is the IO-APIC input from Tn_INT_ROUTE_CNF, or in legacy replacement
   * mode 0 (timer 0, the PIT's ISA IRQ 0 — GSI 2 after the MADT override) and 8 (timer 1).
   * Edge-triggered timers pulse (true then false); level-triggered ones hold until cleared.
   */
  irq?: (line: number, level: boolean) => void;
  /** Number of comparators, 3 to 32 (default 3, as QEMU). */
  timers?: number;
  /** Called when LEG_RT_CNF changes: the PIT and RTC outputs must be disconnected while set. */
  onLegacyReplacement?: (enabled: boolean) => void;
}

/** Counters for tests and debugging; guest misuse never throws. */
export interface HpetStats {
  /** Writes to the main counter while it was running (ignored, as in QEMU). */
  counterWritesWhileRunning: number;
  /** Interrupts delivered (edge pulses and level assertions). */
  interrupts: number;
}

/** Plain, versioned snapshot of an `Hpet` (64-bit values as decimal strings). */
export interface HpetState {
  kind: 'hpet';
  version: 1;
  config: number;
  isr: number;
  /** Unwrapped main counter at the base cycle (the halted value while disabled). */
  counterBase: string;
  /** Virtual cycles from the base cycle to the snapshot (keeps the sub-tick phase exact). */
  cyclesSinceBase: number;
  timers: {
    config: number;
    cmp: string;
    period: string;
    fsb: string;
    /** Unwrapped counter value of the next expiry, or "none". */
    target: string;
    wrapFlag: boolean;
    asserted: boolean;
  }[];
}

const KIND = 'hpet';

interface Timer {
  config: number;
  cmp: bigint;
  period: bigint;
  fsb: bigint;
  /** Absolute (unwrapped) counter value at which the timer fires next, or -1n when disarmed. */
  target: bigint;
  wrapFlag: boolean;
  /** Is the output line asserted (level mode)? */
  asserted: boolean;
}

/** The HPET block. Register it on the MMIO bus at `HPET_BASE` for `HPET_SIZE` bytes. */
export class Hpet {
  readonly numTimers: number;
  readonly stats: HpetStats = { counterWritesWhileRunning: 0, interrupts: 0 };
  private readonly clock: VirtualClock;
  private readonly hz: bigint;
  private readonly rate = BigInt(HPET_FREQUENCY);
  /** Elapsed cycles → counter ticks, exact. */
  private readonly elapsed: (cycles: number) => bigint;
  private readonly irqOut: (line: number, level: boolean) => void;
  private readonly onLegacy: ((enabled: boolean) => void) | undefined;
  private config = 0;
  private isr = 0;
  /** Counter value while halted, or at `baseCycle` while running (unwrapped). */
  private counterBase = 0n;
  private baseCycle = 0;
  private readonly timer: Timer[] = [];

  constructor(options: HpetOptions) {
    const n = options.timers ?? 3;
    if (!Number.isInteger(n) || n < 3 || n > 32) {
      throw new DevicesError('INVALID_CONFIG', `HPET timers ${String(n)} is not 3..32`);
    }
    this.numTimers = n;
    this.clock = options.clock;
    this.hz = clockHz(options.clock, 'HPET');
    this.elapsed = tickConverter(this.hz, this.rate);
    this.irqOut = options.irq ?? (() => {});
    this.onLegacy = options.onLegacyReplacement;
    for (let i = 0; i < n; i++) {
      this.timer.push({
        config: HPET_TN_PERIODIC_CAP | HPET_TN_SIZE_CAP,
        cmp: MASK64,
        period: 0n,
        fsb: 0n,
        target: -1n,
        wrapFlag: false,
        asserted: false,
      });
    }
  }

  /** Plain data for a snapshot, taken at the clock's current cycle. */
  saveState(): HpetState {
    return {
      kind: KIND,
      version: 1,
      config: this.config,
      isr: this.isr >>> 0,
      counterBase: this.counterBase.toString(),
      cyclesSinceBase: this.enabled ? this.clock.now() - this.baseCycle : 0,
      timers: this.timer.map((t) => ({
        config: t.config,
        cmp: t.cmp.toString(),
        period: t.period.toString(),
        fsb: t.fsb.toString(),
        target: t.target < 0n ? 'none' : t.target.toString(),
        wrapFlag: t.wrapFlag,
        asserted: t.asserted,
      })),
    };
  }

  /**
   * Rebuild an HPET from `saveState()` data, with `options.clock` at the snapshot's time: the
   * counter continues from the saved value and armed timers keep their expiry (QEMU `post_load`).
   * Asserted level lines are raised again through `options.irq`.
   */
  static fromState(state: HpetState, options: Omit<HpetOptions, 'timers'>): Hpet {
    const s = checkState(state, KIND, 1);
    const list = s.timers;
    if (!Array.isArray(list) || list.length < 3 || list.length > 32) {
      throw new DevicesError('INVALID_STATE', `${KIND} snapshot field timers is not a list of 3..32 timers`);
    }
    const h = new Hpet({ ...options, timers: list.length });
    h.config = stateInt(s, KIND, 'config', 0, 3);
    h.isr = stateInt(s, KIND, 'isr', 0, 0xffffffff) | 0;
    h.counterBase = stateBig(s, KIND, 'counterBase', 128);
    h.baseCycle = h.clock.now() - stateInt(s, KIND, 'cyclesSinceBase', 0, Number.MAX_SAFE_INTEGER);
    list.forEach((raw, i) => {
      const f = `timers[${i}]`;
      if (typeof raw !== 'object' || raw === null) {
        throw new DevicesError('INVALID_STATE', `${KIND} snapshot field ${f} is not an object`);
      }
      const ts = raw as Record<string, unknown>;
      const t = h.timer[i]!;
      t.config =
        (stateInt(ts, KIND, 'config', 0, 0xffffffff) & HPET_TN_CFG_WRITE_MASK) |
        HPET_TN_PERIODIC_CAP |
        HPET_TN_SIZE_CAP;
      t.cmp = stateBig(ts, KIND, 'cmp', 64);
      t.period = stateBig(ts, KIND, 'period', 64);
      t.fsb = stateBig(ts, KIND, 'fsb', 64);
      t.target = ts.target === 'none' ? -1n : stateBig(ts, KIND, 'target', 128);
      t.wrapFlag = stateBool(ts, KIND, 'wrapFlag');
      t.asserted = stateBool(ts, KIND, 'asserted');
      if (t.asserted) h.irqOut(h.routeOf(i, h.config), true);
    });
    return h;
  }

  /** Low 32 bits of the capabilities register: also the ACPI HPET table's Event Timer Block ID. */
  get blockId(): number {
    return hpetBlockId(this.numTimers);
  }

  get enabled(): boolean {
    return (this.config & HPET_CFG_ENABLE) !== 0;
  }

  get legacyReplacement(): boolean {
    return (this.config & HPET_CFG_LEGACY) !== 0;
  }

  /** The main counter now (64 bits). */
  counter(): bigint {
    return this.ticksNow() & MASK64;
  }

  private ticksNow(): bigint {
    if (!this.enabled) return this.counterBase;
    return this.counterBase + this.elapsed(this.clock.now() - this.baseCycle);
  }

  read(offset: number, size: number): number {
    if (offset < 0 || offset + size > 0x400) return size === 4 ? 0xffffffff : (1 << (8 * size)) - 1;
    const reg = offset & ~7;
    const shift = BigInt(8 * (offset & 7));
    const v = (this.readReg(reg) >> shift) & ((1n << BigInt(8 * size)) - 1n);
    return Number(v);
  }

  /** 64-bit register read at an 8-aligned offset. */
  readReg(reg: number): bigint {
    if (reg >= HPET_TIMER_BASE) {
      const t = this.timerAt(reg);
      if (!t) return 0n;
      switch ((reg - HPET_TIMER_BASE) % HPET_TIMER_STRIDE) {
        case HPET_TN_CFG:
          return BigInt(t.config) | (BigInt(HPET_DEFAULT_ROUTE_CAP) << 32n);
        case HPET_TN_CMP:
          return t.cmp;
        case HPET_TN_ROUTE:
          return t.fsb;
        default:
          return 0n;
      }
    }
    switch (reg) {
      case HPET_ID:
        return BigInt(this.blockId) | (BigInt(HPET_CLK_PERIOD_FS) << 32n);
      case HPET_CFG:
        return BigInt(this.config);
      case HPET_STATUS:
        return BigInt(this.isr >>> 0);
      case HPET_COUNTER:
        return this.counter();
      default:
        return 0n;
    }
  }

  write(offset: number, size: number, value: number): void {
    if (offset < 0 || offset + size > 0x400 || size < 1 || size > 8) return;
    const reg = offset & ~7;
    const shift = BigInt(8 * (offset & 7));
    const bits = BigInt(Math.min(8 * size, 64));
    const mask = (((1n << bits) - 1n) << shift) & MASK64;
    const v = (BigInt(Math.floor(value) >>> 0) << shift) & mask;
    this.writeReg(reg, v, mask);
  }

  /** 64-bit register write: `value` is already in position, `mask` marks the bytes written. */
  writeReg(reg: number, value: bigint, mask: bigint): void {
    if (reg >= HPET_TIMER_BASE) {
      const i = (reg - HPET_TIMER_BASE) >> 5;
      const t = this.timerAt(reg);
      if (t) this.writeTimer(i, t, (reg - HPET_TIMER_BASE) % HPET_TIMER_STRIDE, value, mask);
      return;
    }
    switch (reg) {
      case HPET_CFG:
        this.writeConfig(Number(((BigInt(this.config) & ~mask) | value) & 3n));
        return;
      case HPET_STATUS: {
        const clear = Number(value & mask & MASK32) & this.isr;
        for (let i = 0; i < this.numTimers; i++) {
          if (clear & (1 << i)) this.setIrq(i, false);
        }
        return;
      }
      case HPET_COUNTER:
        if (this.enabled) this.stats.counterWritesWhileRunning++;
        else this.counterBase = ((this.counterBase & MASK64 & ~mask) | value) & MASK64;
        return;
      default:
      // capabilities and reserved registers are read-only
    }
  }

  private timerAt(reg: number): Timer | undefined {
    return this.timer[(reg - HPET_TIMER_BASE) >> 5];
  }

  private writeConfig(v: number): void {
    const old = this.config;
    this.config = v;
    const now = this.clock.now();
    if (!(old & HPET_CFG_ENABLE) && v & HPET_CFG_ENABLE) {
      // Start the counter from its halted value and arm every enabled timer.
      this.baseCycle = now;
      for (const t of this.timer) if (t.config & HPET_TN_ENABLE) this.arm(t);
    } else if (old & HPET_CFG_ENABLE && !(v & HPET_CFG_ENABLE)) {
      // Halt: freeze the counter, disarm and deassert everything.
      this.counterBase = this.counterBase + this.elapsed(now - this.baseCycle);
      for (let i = 0; i < this.numTimers; i++) {
        this.timer[i]!.target = -1n;
        this.setIrq(i, false);
      }
    }
    if ((old ^ v) & HPET_CFG_LEGACY) {
      // Lines move: drop what timers 0 and 1 assert on their old routes.
      for (let i = 0; i < 2; i++) {
        const t = this.timer[i]!;
        if (t.asserted) {
          t.asserted = false;
          this.irqOut(this.routeOf(i, old), false);
          this.isr &= ~(1 << i);
        }
      }
      this.onLegacy?.((v & HPET_CFG_LEGACY) !== 0);
    }
  }

  private writeTimer(i: number, t: Timer, sub: number, value: bigint, mask: bigint): void {
    switch (sub) {
      case HPET_TN_CFG: {
        const lowMask = Number(mask & MASK32);
        const nv = Number(value & MASK32);
        const old = t.config;
        const wm = lowMask & HPET_TN_CFG_WRITE_MASK;
        t.config = ((old & ~wm) | (nv & wm)) >>> 0;
        if (t.config & HPET_TN_32BIT) {
          t.cmp &= MASK32;
          t.period &= MASK32;
        }
        const wasOn = (old & HPET_TN_ENABLE) !== 0;
        const isOn = (t.config & HPET_TN_ENABLE) !== 0;
        if (!wasOn && isOn) {
          if (this.enabled) this.arm(t);
        } else if (wasOn && !isOn) {
          t.target = -1n;
          this.setIrq(i, false);
        } else if ((old ^ t.config) & HPET_TN_TYPE_LEVEL && !(t.config & HPET_TN_TYPE_LEVEL)) {
          this.setIrq(i, false); // switched to edge: release a held level
        }
        return;
      }
      case HPET_TN_CMP: {
        let v = value;
        if (t.config & HPET_TN_32BIT) v &= MASK32;
        const m = t.config & HPET_TN_32BIT ? mask & MASK32 : mask;
        const periodic = (t.config & HPET_TN_PERIODIC) !== 0;
        if (!periodic || t.config & HPET_TN_SETVAL) t.cmp = (t.cmp & ~m) | (v & m);
        if (periodic) {
          // The period is clamped to half the comparator width (QEMU).
          const cap = t.config & HPET_TN_32BIT ? MASK32 >> 1n : MASK64 >> 1n;
          t.period = ((t.period & ~m) | (v & m)) & cap;
        }
        t.config &= ~HPET_TN_SETVAL;
        if (this.enabled && t.config & HPET_TN_ENABLE) this.arm(t);
        return;
      }
      case HPET_TN_ROUTE:
        t.fsb = ((t.fsb & ~mask) | value) & MASK64;
        return;
      default:
    }
  }

  /** Comparator width mask of a timer. */
  private width(t: Timer): bigint {
    return t.config & HPET_TN_32BIT ? MASK32 : MASK64;
  }

  /**
   * Ticks from `cur` until the comparator matches, at least 1: a comparator already behind the
   * counter (by less than half the width) fires on the next tick (QEMU `hpet_calculate_diff`).
   */
  private diff(t: Timer, cur: bigint): bigint {
    const w = this.width(t);
    const d = (t.cmp - (cur & w)) & w;
    const half = (w >> 1n) + 1n;
    return d === 0n || d >= half ? 1n : d;
  }

  /** Arm a timer from the current counter (QEMU `hpet_set_timer`). */
  private arm(t: Timer): void {
    const cur = this.ticksNow();
    t.wrapFlag = false;
    let d = this.diff(t, cur);
    // One-shot 32-bit mode also interrupts when the counter wraps (spec §2.3.9.2.1, QEMU).
    if (t.config & HPET_TN_32BIT && !(t.config & HPET_TN_PERIODIC)) {
      const wrapDiff = MASK32 - (cur & MASK32);
      if (wrapDiff < d) {
        d = wrapDiff;
        t.wrapFlag = true;
      }
    }
    t.target = cur + d;
  }

  /** The clock cycle at which the next timer fires, or `Infinity` if none is armed. */
  nextDeadline(): number {
    if (!this.enabled) return Number.POSITIVE_INFINITY;
    let best = -1n;
    for (const t of this.timer) {
      if (t.target >= 0n && (best < 0n || t.target < best)) best = t.target;
    }
    if (best < 0n) return Number.POSITIVE_INFINITY;
    return this.baseCycle + ticksToCycles(best - this.counterBase, this.hz, this.rate);
  }

  /** Fire every timer whose comparator the counter reached by cycle `now` (QEMU `hpet_timer`). */
  update(now: number = this.clock.now()): void {
    if (!this.enabled) return;
    const cur = this.counterBase + this.elapsed(now - this.baseCycle);
    for (let i = 0; i < this.numTimers; i++) {
      const t = this.timer[i]!;
      if (t.target < 0n || t.target > cur) continue;
      const w = this.width(t);
      if (t.config & HPET_TN_PERIODIC && t.period !== 0n) {
        // Advance the comparator past the counter, coalescing missed periods, then re-arm.
        const lag = ((cur & w) - t.cmp) & w;
        const steps = lag > w >> 1n ? 0n : lag / t.period + 1n; // a comparator ahead stays put
        t.cmp = (t.cmp + steps * t.period) & w;
        t.target = cur + this.diff(t, cur);
      } else if (t.wrapFlag) {
        t.wrapFlag = false;
        t.target = cur + this.diff(t, cur);
      } else {
        t.target = -1n;
      }
      this.setIrq(i, true);
    }
  }

  private routeOf(i: number, config: number): number {
    if (i <= 1 && config & HPET_CFG_LEGACY) return i === 0 ? HPET_LEGACY_PIT_IRQ : HPET_LEGACY_RTC_IRQ;
    return (this.timer[i]!.config & HPET_TN_INT_ROUTE_MASK) >> HPET_TN_INT_ROUTE_SHIFT;
  }

  /** QEMU `update_irq`. */
  private setIrq(i: number, set: boolean): void {
    const t = this.timer[i]!;
    const line = this.routeOf(i, this.config);
    const bit = 1 << i;
    if (!set || !(t.config & HPET_TN_ENABLE) || !this.enabled) {
      this.isr &= ~bit;
      if (t.asserted) {
        t.asserted = false;
        this.irqOut(line, false);
      }
    } else if (t.config & HPET_TN_TYPE_LEVEL) {
      this.isr |= bit;
      this.stats.interrupts++;
      if (!t.asserted) {
        t.asserted = true;
        this.irqOut(line, true);
      }
    } else {
      this.isr &= ~bit;
      this.stats.interrupts++;
      this.irqOut(line, true);
      this.irqOut(line, false);
    }
  }
}
