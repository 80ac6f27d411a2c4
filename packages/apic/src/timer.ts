/**
 * The local APIC timer (SDM 10.5.4) on the virtual clock. The timer is stored as an absolute
 * expiry in TSC cycles, never as a running counter, so the current count is exact at any instant,
 * snapshots re-arm from the stored expiry, and replay is deterministic.
 *
 * One count lasts `period = cyclesPerTick × divisor` TSC cycles. With the next expiry E, the
 * current count at time t < E is ceil((E − t) / period): at the start of a count the value is the
 * full remaining count, and it reaches 0 exactly at E (one-shot), or reloads to the initial count
 * (periodic).
 */

import {
  APIC_LVT_TIMER_ONESHOT,
  APIC_LVT_TIMER_PERIODIC,
  APIC_LVT_TIMER_TSCDEADLINE,
  APIC_TDCR_VALID,
} from './regs';

/** No expiry pending. */
export const TIMER_DISARMED = Number.POSITIVE_INFINITY;

/** log2 of the divisor selected by TDCR bits 3,1:0 (SDM Figure 10-10): 0b000 = 2 … 0b111 = 1. */
export function divideShift(tdcr: number): number {
  const v = (tdcr & 3) | ((tdcr >> 1) & 4);
  return (v + 1) & 7;
}

export class ApicTimer {
  /** Timer mode from LVT timer bits 18:17 (APIC_LVT_TIMER_*). */
  mode = APIC_LVT_TIMER_ONESHOT;
  /** Initial count register (TMICT). */
  initial = 0;
  /** Divide configuration register (TDCR), writable bits only. */
  tdcr = 0;
  /** IA32_TSC_DEADLINE as the guest last wrote it; 0 when disarmed or fired. */
  deadline = 0n;
  /** Next expiry in TSC cycles, or TIMER_DISARMED. */
  expiry = TIMER_DISARMED;
  /** Expiries that were merged because the run loop passed several periods at once. */
  missed = 0;

  constructor(readonly cyclesPerTick: number) {}

  /** TSC cycles per count with the current divide configuration. */
  period(): number {
    return this.cyclesPerTick * (1 << divideShift(this.tdcr));
  }

  /** TMCCT at `now` (SDM 10.5.4: 0 in TSC-deadline mode and after a one-shot expired). */
  currentCount(now: number): number {
    if (this.mode === APIC_LVT_TIMER_TSCDEADLINE || this.expiry === TIMER_DISARMED) return 0;
    const p = this.period();
    let e = this.expiry;
    if (now >= e) {
      if (this.mode !== APIC_LVT_TIMER_PERIODIC) return 0;
      const span = this.initial * p;
      e += (Math.floor((now - e) / span) + 1) * span;
    }
    return Math.floor((e - now + p - 1) / p);
  }

  /** Write of TMICT at `now`: starts (or with 0 stops) the count; ignored in TSC-deadline mode. */
  writeInitial(now: number, value: number): void {
    if (this.mode === APIC_LVT_TIMER_TSCDEADLINE) return;
    this.initial = value >>> 0;
    this.expiry = this.initial === 0 ? TIMER_DISARMED : now + this.initial * this.period();
  }

  /**
   * Write of TDCR at `now`. A running count continues from its current value at the new rate
   * (the SDM leaves a mid-count change unspecified; this keeps the count monotonic).
   */
  writeDivide(now: number, value: number): void {
    const running = this.expiry !== TIMER_DISARMED && this.mode !== APIC_LVT_TIMER_TSCDEADLINE;
    const count = running ? this.currentCount(now) : 0;
    this.tdcr = value & APIC_TDCR_VALID;
    if (running) this.expiry = count === 0 ? now : now + count * this.period();
  }

  /**
   * The LVT timer mode changed. Switching into or out of TSC-deadline mode disarms the timer and
   * clears TMICT and IA32_TSC_DEADLINE (SDM 10.5.4.1, as KVM's apic_update_lvtt); one-shot ↔
   * periodic keeps the count running.
   */
  setMode(mode: number): void {
    if (mode === this.mode) return;
    if ((mode === APIC_LVT_TIMER_TSCDEADLINE) !== (this.mode === APIC_LVT_TIMER_TSCDEADLINE)) {
      this.initial = 0;
      this.deadline = 0n;
      this.expiry = TIMER_DISARMED;
    }
    this.mode = mode;
  }

  /** WRMSR IA32_TSC_DEADLINE: arms at `value` (0 disarms); ignored outside TSC-deadline mode. */
  writeDeadline(value: bigint): void {
    if (this.mode !== APIC_LVT_TIMER_TSCDEADLINE) return;
    this.deadline = value;
    this.expiry = value === 0n ? TIMER_DISARMED : Number(value);
  }

  /** RDMSR IA32_TSC_DEADLINE: 0 outside TSC-deadline mode. */
  readDeadline(): bigint {
    return this.mode === APIC_LVT_TIMER_TSCDEADLINE ? this.deadline : 0n;
  }

  /**
   * Consume the expiry if it is due at `now`; returns true when the timer fired (once, however
   * many periods passed: the IRR bit would merge them anyway).
   */
  expire(now: number): boolean {
    const e = this.expiry;
    if (now < e) return false;
    if (this.mode === APIC_LVT_TIMER_PERIODIC && this.initial !== 0) {
      const span = this.initial * this.period();
      const n = Math.floor((now - e) / span) + 1;
      this.missed += n - 1;
      this.expiry = e + n * span;
    } else {
      this.expiry = TIMER_DISARMED;
      if (this.mode === APIC_LVT_TIMER_TSCDEADLINE) this.deadline = 0n;
    }
    return true;
  }

  reset(): void {
    this.mode = APIC_LVT_TIMER_ONESHOT;
    this.initial = 0;
    this.tdcr = 0;
    this.deadline = 0n;
    this.expiry = TIMER_DISARMED;
  }
}
