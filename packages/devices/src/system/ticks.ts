/**
 * Exact conversions between virtual-clock cycles and a device tick rate, in BigInt so they stay
 * exact for any rate and any run length (the HPET's 100 MHz times a GHz clock overflows 2^53 in a
 * day's worth of cycles). Used only on register accesses and timer re-arming, never per instruction.
 *
 * @internal
 */
import type { VirtualClock } from '@pv/x86-core';
import { DevicesError } from '../errors';

/** A clock's rate as a BigInt, checked once. */
export function clockHz(clock: VirtualClock, device: string): bigint {
  const hz = clock.hz;
  if (!Number.isInteger(hz) || hz <= 0 || !Number.isSafeInteger(hz)) {
    throw new DevicesError('INVALID_CONFIG', `${device}: clock.hz ${String(hz)} is not a positive integer`);
  }
  return BigInt(hz);
}

/** Whole ticks at `rate` Hz elapsed after `cycles` cycles of a `hz` clock: floor(cycles·rate/hz). */
export function cyclesToTicks(cycles: number, hz: bigint, rate: bigint): bigint {
  const c = BigInt(Math.floor(cycles));
  const p = c * rate;
  // floor division for negative values too (a counter base may lie in the future after a write)
  return p >= 0n ? p / hz : -((-p + hz - 1n) / hz);
}

/** The first cycle (as a number) at which `ticks` ticks have elapsed: ceil(ticks·hz/rate). */
export function ticksToCycles(ticks: bigint, hz: bigint, rate: bigint): number {
  const p = ticks * hz;
  const q = p >= 0n ? (p + rate - 1n) / rate : -(-p / rate);
  return Number(q);
}
