/**
 * Exact conversions between virtual-clock cycles and a device's own tick rate (the PIT's
 * 1.193182 MHz, the RTC's 32.768 kHz divider chain). All arithmetic stays in integers below 2^53:
 * `cycles = q·hz + r` is split so that only `r·rate` (< hz·rate) is ever multiplied. This holds for
 * integer clocks up to about 7.5 GHz, far beyond any configured virtual TSC.
 *
 * @internal
 */

/** The number of whole device ticks completed by virtual cycle `cycles`: floor(cycles·rate/hz). */
export function ticksAt(cycles: number, hz: number, rate: number): number {
  if (cycles <= 0) return cycles === 0 ? 0 : -ticksCeil(-cycles, hz, rate);
  const q = Math.floor(cycles / hz);
  const r = cycles - q * hz;
  return q * rate + Math.floor((r * rate) / hz);
}

/** ceil(cycles·rate/hz) for cycles >= 0. */
function ticksCeil(cycles: number, hz: number, rate: number): number {
  const q = Math.floor(cycles / hz);
  const r = cycles - q * hz;
  return q * rate + Math.ceil((r * rate) / hz);
}

/** The first virtual cycle at which `ticksAt` reaches `tick`: ceil(tick·hz/rate). */
export function cycleOfTick(tick: number, hz: number, rate: number): number {
  if (tick === Number.POSITIVE_INFINITY) return tick;
  const neg = tick < 0;
  const t = neg ? -tick : tick;
  const q = Math.floor(t / rate);
  const r = t - q * rate;
  if (!neg) return q * hz + Math.ceil((r * hz) / rate);
  return -(q * hz + Math.floor((r * hz) / rate));
}
