import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApicBus, LocalApic, MSR_IA32_TSC_DEADLINE } from '../src/index';
import { FakeClock } from './helpers';

/** TDCR encodings and their divisors (SDM Figure 10-10). */
const DIVIDES: [number, number][] = [
  [0b0000, 2],
  [0b0001, 4],
  [0b0010, 8],
  [0b0011, 16],
  [0b1000, 32],
  [0b1001, 64],
  [0b1010, 128],
  [0b1011, 1],
];
const CYCLES_PER_TICK = 3;

function timerApic() {
  const clock = new FakeClock();
  clock.t = 1000;
  const a = new LocalApic({ id: 0, clock, bus: new ApicBus(), cyclesPerTick: CYCLES_PER_TICK });
  a.mmioWrite(0xf0, 4, 0x1ff);
  return { a, clock };
}

function fired(a: LocalApic, vector: number): boolean {
  if (!a.pending()) return false;
  const v = a.acknowledge();
  a.mmioWrite(0xb0, 4, 0);
  return v === vector;
}

describe('one-shot timer, every divide value', () => {
  it.each(DIVIDES)('TDCR %#x (÷%i): exact current count, fires exactly at expiry, once', (tdcr, div) => {
    const { a, clock } = timerApic();
    const period = CYCLES_PER_TICK * div;
    const initial = 37;
    a.mmioWrite(0x3e0, 4, tdcr);
    a.mmioWrite(0x320, 4, 0x40);
    const start = clock.t;
    a.mmioWrite(0x380, 4, initial);
    expect(a.nextDeadline()).toBe(start + initial * period);
    for (const e of [0, 1, period - 1, period, period + 1, 5 * period, initial * period - 1]) {
      clock.t = start + e;
      expect(a.mmioRead(0x390, 4), `elapsed ${e}`).toBe(initial - Math.floor(e / period));
    }
    expect(a.tick()).toBe(false);
    expect(fired(a, 0x40)).toBe(false);
    clock.t = start + initial * period;
    expect(a.tick()).toBe(true);
    expect(fired(a, 0x40)).toBe(true);
    expect(a.mmioRead(0x390, 4)).toBe(0);
    expect(a.nextDeadline()).toBe(Number.POSITIVE_INFINITY);
    clock.advance(initial * period * 3);
    expect(a.tick()).toBe(false);
    expect(a.mmioRead(0x380, 4)).toBe(initial);
  });
});

describe('periodic timer, every divide value', () => {
  it.each(DIVIDES)('TDCR %#x (÷%i): reloads, fires every period, merges missed periods', (tdcr, div) => {
    const { a, clock } = timerApic();
    const period = CYCLES_PER_TICK * div;
    const initial = 10;
    a.mmioWrite(0x3e0, 4, tdcr);
    a.mmioWrite(0x320, 4, 0x20041);
    const start = clock.t;
    a.mmioWrite(0x380, 4, initial);
    for (let k = 1; k <= 3; k++) {
      clock.t = start + k * initial * period - 1;
      expect(a.mmioRead(0x390, 4)).toBe(1);
      expect(fired(a, 0x41)).toBe(false);
      clock.t += 1;
      expect(a.nextDeadline()).toBe(clock.t);
      expect(fired(a, 0x41)).toBe(true); // pending() processes the due expiry
      expect(a.mmioRead(0x390, 4)).toBe(initial);
      expect(a.nextDeadline()).toBe(start + (k + 1) * initial * period);
    }
    // The run loop overshoots by 4.5 periods: one interrupt, next expiry stays on the grid.
    clock.t = start + 3 * initial * period + Math.floor(4.5 * initial * period);
    expect(a.tick()).toBe(true);
    expect(a.nextDeadline()).toBe(start + 8 * initial * period);
    expect(a.mmioRead(0x390, 4)).toBe(initial - Math.floor((initial * period) / 2 / period));
    expect(fired(a, 0x41)).toBe(true);
    expect(fired(a, 0x41)).toBe(false);
    // TMICT = 0 stops it.
    a.mmioWrite(0x380, 4, 0);
    expect(a.nextDeadline()).toBe(Number.POSITIVE_INFINITY);
    expect(a.mmioRead(0x390, 4)).toBe(0);
  });
});

describe('TSC-deadline timer (SDM 10.5.4.1)', () => {
  it.each(DIVIDES)('TDCR %#x is irrelevant: fires at the TSC value exactly', (tdcr) => {
    const { a, clock } = timerApic();
    a.mmioWrite(0x3e0, 4, tdcr);
    a.mmioWrite(0x320, 4, 0x40042);
    a.mmioWrite(0x380, 4, 1234); // ignored in deadline mode
    expect(a.mmioRead(0x380, 4)).toBe(0);
    expect(a.nextDeadline()).toBe(Number.POSITIVE_INFINITY);
    expect(a.writeMsr(MSR_IA32_TSC_DEADLINE, 5000n)).toBe(true);
    expect(a.readMsr(MSR_IA32_TSC_DEADLINE)).toBe(5000n);
    expect(a.nextDeadline()).toBe(5000);
    expect(a.mmioRead(0x390, 4)).toBe(0);
    clock.t = 4999;
    expect(fired(a, 0x42)).toBe(false);
    clock.t = 5000;
    expect(fired(a, 0x42)).toBe(true);
    expect(a.readMsr(MSR_IA32_TSC_DEADLINE)).toBe(0n);
    expect(a.nextDeadline()).toBe(Number.POSITIVE_INFINITY);
  });

  it('a deadline in the past fires at once; 0 disarms; writes outside deadline mode are ignored', () => {
    const { a, clock } = timerApic();
    expect(a.writeMsr(MSR_IA32_TSC_DEADLINE, 50n)).toBe(true); // one-shot mode: ignored
    expect(a.readMsr(MSR_IA32_TSC_DEADLINE)).toBe(0n);
    a.mmioWrite(0x320, 4, 0x40042);
    a.writeMsr(MSR_IA32_TSC_DEADLINE, 10n);
    expect(a.priorities().irrv).toBe(0x42); // in IRR right after the WRMSR
    expect(a.nextDeadline()).toBe(Number.POSITIVE_INFINITY);
    expect(fired(a, 0x42)).toBe(true);
    a.writeMsr(MSR_IA32_TSC_DEADLINE, BigInt(clock.t + 100));
    a.writeMsr(MSR_IA32_TSC_DEADLINE, 0n);
    clock.advance(1000);
    expect(fired(a, 0x42)).toBe(false);
  });

  it('switching between deadline and count modes disarms; one-shot ↔ periodic keeps counting', () => {
    const { a, clock } = timerApic();
    a.mmioWrite(0x3e0, 4, 0xb);
    a.mmioWrite(0x320, 4, 0x40);
    a.mmioWrite(0x380, 4, 100);
    a.mmioWrite(0x320, 4, 0x20040);
    expect(a.mmioRead(0x380, 4)).toBe(100);
    clock.advance(3);
    expect(a.mmioRead(0x390, 4)).toBe(99);
    a.mmioWrite(0x320, 4, 0x40040);
    expect(a.mmioRead(0x380, 4)).toBe(0);
    expect(a.nextDeadline()).toBe(Number.POSITIVE_INFINITY);
    a.writeMsr(MSR_IA32_TSC_DEADLINE, BigInt(clock.t + 5));
    a.mmioWrite(0x320, 4, 0x40);
    expect(a.readMsr(MSR_IA32_TSC_DEADLINE)).toBe(0n);
    expect(a.nextDeadline()).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('timer details', () => {
  it('changing the divider mid-count continues from the current count at the new rate', () => {
    const { a, clock } = timerApic();
    a.mmioWrite(0x3e0, 4, 0xb); // ÷1: 3 cycles per count
    a.mmioWrite(0x320, 4, 0x40);
    a.mmioWrite(0x380, 4, 100);
    clock.advance(30);
    expect(a.mmioRead(0x390, 4)).toBe(90);
    a.mmioWrite(0x3e0, 4, 0x0); // ÷2: 6 cycles per count
    expect(a.mmioRead(0x390, 4)).toBe(90);
    expect(a.nextDeadline()).toBe(clock.t + 90 * 6);
  });

  it('the current count is exact at any instant (property, 2000 cases)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...DIVIDES),
        fc.integer({ min: 1, max: 0xffffffff }),
        fc.boolean(),
        fc.double({ min: 0, max: 1, noNaN: true }),
        ([tdcr, div], initial, periodic, frac) => {
          const { a, clock } = timerApic();
          a.mmioWrite(0x3e0, 4, tdcr);
          a.mmioWrite(0x320, 4, periodic ? 0x20040 : 0x40);
          const start = clock.t;
          a.mmioWrite(0x380, 4, initial);
          const period = CYCLES_PER_TICK * div;
          const span = initial * period;
          const e = Math.floor(frac * (span - 1));
          clock.t = start + e;
          return a.mmioRead(0x390, 4) === initial - Math.floor(e / period);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
