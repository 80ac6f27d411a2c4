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

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * A converter from elapsed cycles to whole ticks, exact like `cyclesToTicks`, that stays in doubles
 * when it can: with hz and rate reduced by their gcd to h and k, cycles = q·h + r and only r·k
 * (< h·k ≤ 2^53) is multiplied; floor of an exact quotient of integers below 2^53 is exact. This is
 * the common case (1 GHz and the HPET's 100 MHz reduce to 10 and 1). Otherwise it uses BigInt.
 */
export function tickConverter(hz: bigint, rate: bigint): (cycles: number) => bigint {
  const g = gcd(Number(hz), Number(rate));
  const h = Number(hz) / g;
  const k = Number(rate) / g;
  if (h * k > 2 ** 53) return (cycles) => cyclesToTicks(cycles, hz, rate);
  return (cycles) => {
    if (cycles < 0 || cycles > Number.MAX_SAFE_INTEGER) return cyclesToTicks(cycles, hz, rate);
    const c = Math.floor(cycles);
    const q = Math.floor(c / h);
    const t = q * k + Math.floor(((c - q * h) * k) / h);
    return Number.isSafeInteger(t) ? BigInt(t) : cyclesToTicks(cycles, hz, rate);
  };
}
