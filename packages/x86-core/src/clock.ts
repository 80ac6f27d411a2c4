import type { VirtualClock } from './bus';
import { requireOption } from './errors';

/**
 * The machine's virtual clock (DESIGN.md §3): it advances only when the CPU retires instructions
 * or takes exits, never with the wall clock, so a run is deterministic.
 */
export class MachineClock implements VirtualClock {
  readonly hz: number;
  private cycles = 0;

  constructor(hz = 1_000_000_000) {
    requireOption(Number.isFinite(hz) && hz > 0, 'clock.hz', `must be a positive number, got ${hz}`);
    this.hz = hz;
  }

  /** Virtual TSC cycles since reset. */
  now(): number {
    return this.cycles;
  }

  /** Moves the clock forward by `cycles` (≥ 0). */
  advance(cycles: number): void {
    if (cycles > 0) this.cycles += cycles;
  }

  /** Sets the clock (snapshot restore). */
  set(cycles: number): void {
    this.cycles = cycles;
  }
}
