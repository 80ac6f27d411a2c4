import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IoApic, type IoApicMessage } from '../src/ioapic/ioapic';
import { Pic8259Pair } from '../src/pic/pic-pair';
import { Pit8254 } from '../src/pit/pit8254';
import { Rtc } from '../src/rtc/rtc';
import { Uart16550 } from '../src/uart/uart16550';

/**
 * For every device: run random guest traffic, snapshot through JSON at a random point, then feed
 * the same remaining traffic to the original and to the restored copy. Every observable result
 * (register reads, interrupt edges, output bytes, messages) must be identical.
 */

class Clock {
  t = 0;
  readonly hz = 1_000_000_000;
  now() {
    return this.t;
  }
}

type Op = { k: 'r' | 'w' | 'x'; a: number; v: number };
const ops = (addrMax: number) =>
  fc.array(
    fc.record({
      k: fc.constantFrom('r', 'w', 'x') as fc.Arbitrary<'r' | 'w' | 'x'>,
      a: fc.nat(addrMax),
      v: fc.nat(0xffff),
    }),
    { maxLength: 120 },
  );

/** Runs `before`, snapshots, then runs `after` on both; returns the two logs of the second part. */
function twin<D>(
  make: (log: unknown[]) => D,
  restore: (state: unknown, log: unknown[]) => D,
  save: (d: D) => unknown,
  apply: (d: D, op: Op, log: unknown[]) => void,
  before: Op[],
  after: Op[],
) {
  const logA: unknown[] = [];
  const a = make(logA);
  for (const op of before) apply(a, op, logA);
  const state = JSON.parse(JSON.stringify(save(a)));
  const logB: unknown[] = [];
  const b = restore(state, logB);
  logA.length = 0;
  logB.length = 0;
  for (const op of after) {
    apply(a, op, logA);
    apply(b, op, logB);
  }
  expect(logB).toEqual(logA);
  expect(save(b)).toEqual(save(a));
}

describe('snapshots restore exactly (property)', () => {
  it('UART', () => {
    fc.assert(
      fc.property(ops(7), ops(7), (before, after) => {
        const opts = (log: unknown[]) => ({
          irq: (l: boolean) => log.push(`irq${+l}`),
          output: (x: number) => log.push(`out${x}`),
          inputCapacity: 40,
        });
        twin(
          (log) => new Uart16550(opts(log)),
          (s, log) => Uart16550.fromState(s as never, opts(log)),
          (d) => d.saveState(),
          (d, op, log) => {
            if (op.k === 'r') log.push(d.read(op.a));
            else if (op.k === 'w') d.write(op.a, op.v);
            else if (op.v & 0x100) log.push(d.enqueueWithError(op.v, op.v & 1 ? 'break' : 'framing'));
            else log.push(d.enqueueInput([op.v & 0xff, op.v >> 9]));
          },
          before,
          after,
        );
      }),
      { numRuns: 150 },
    );
  });

  it('PIC pair', () => {
    fc.assert(
      fc.property(ops(0xff), ops(0xff), (before, after) => {
        twin(
          (log) => new Pic8259Pair({ onIntr: (l) => log.push(`intr${+l}`) }),
          (s, log) => Pic8259Pair.fromState(s as never, { onIntr: (l) => log.push(`intr${+l}`) }),
          (d) => d.saveState(),
          (d, op, log) => {
            const dev = [d.master, d.slave, d.elcr][op.a % 3]!;
            if (op.k === 'r') log.push(dev.read(op.a >> 2));
            else if (op.k === 'w') dev.write(op.a >> 2, op.v & 0xff);
            else if (op.v & 1 && d.pending()) log.push(d.acknowledge());
            else d.setIrq(op.a & 15, (op.v & 2) !== 0);
          },
          before,
          after,
        );
      }),
      { numRuns: 150 },
    );
  });

  it('PIT', () => {
    fc.assert(
      fc.property(ops(4), ops(4), (before, after) => {
        const clocks: Clock[] = [];
        const opts = (log: unknown[]) => {
          const clock = new Clock();
          clock.t = clocks[0]?.t ?? 0; // the copy starts at the snapshot's time
          clocks.push(clock);
          return { clock, irq: (l: boolean) => log.push(`irq${+l}@${clock.t}`) };
        };
        twin(
          (log) => ({ d: new Pit8254(opts(log)), clock: clocks.at(-1)! }),
          (s, log) => ({ d: Pit8254.fromState(s as never, opts(log)), clock: clocks.at(-1)! }),
          ({ d }) => d.saveState(),
          ({ d, clock }, op, log) => {
            if (op.k === 'x') {
              clock.t += op.v * 997;
              d.update();
              log.push(d.nextDeadline());
            } else if (op.a === 4) {
              if (op.k === 'r') log.push(d.portB.read(0));
              else d.portB.write(0, op.v & 0xff);
            } else if (op.k === 'r') log.push(d.read(op.a));
            else d.write(op.a, op.v & 0xff);
          },
          before,
          after,
        );
      }),
      { numRuns: 150 },
    );
  });

  it('RTC', () => {
    fc.assert(
      fc.property(ops(0x7f), ops(0x7f), (before, after) => {
        const clocks: Clock[] = [];
        const opts = (log: unknown[]) => {
          const clock = new Clock();
          clock.t = clocks[0]?.t ?? 0;
          clocks.push(clock);
          return { clock, irq: (l: boolean) => log.push(`irq${+l}@${clock.t}`), epochMs: 1_700_000_000_123 };
        };
        twin(
          (log) => ({ d: new Rtc(opts(log)), clock: clocks.at(-1)! }),
          (s, log) => ({ d: Rtc.fromState(s as never, opts(log)), clock: clocks.at(-1)! }),
          ({ d }) => d.saveState(),
          ({ d, clock }, op, log) => {
            if (op.k === 'x') {
              clock.t += op.v * 30_011;
              d.update();
              log.push(d.nextDeadline());
            } else if (op.k === 'r') {
              d.write(0, op.a);
              log.push(d.read(1));
            } else {
              d.write(0, op.a);
              d.write(1, op.v & 0xff);
            }
          },
          before,
          after,
        );
      }),
      { numRuns: 150 },
    );
  });

  it('IO-APIC', () => {
    fc.assert(
      fc.property(ops(0x3f), ops(0x3f), (before, after) => {
        const opts = (log: unknown[]) => ({ sink: (m: IoApicMessage) => log.push(m) });
        twin(
          (log) => new IoApic(opts(log)),
          (s, log) => IoApic.fromState(s as never, opts(log)),
          (d) => d.saveState(),
          (d, op, log) => {
            if (op.k === 'r') log.push(d.mmioRead(op.a & 0x1f, 4));
            else if (op.k === 'w') {
              d.mmioWrite(0, 4, op.a & 0x3f);
              d.mmioWrite(0x10, 4, (op.v * 0x10001) >>> 0);
            } else if (op.v & 1) d.eoi(op.a);
            else d.setIrq(op.a % 24, (op.v & 2) !== 0);
          },
          before,
          after,
        );
      }),
      { numRuns: 150 },
    );
  });
});
