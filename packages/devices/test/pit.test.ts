import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cycleOfTick, ticksAt } from '../src/clock';
import { DevicesError } from '../src/errors';
import { Pit8254 } from '../src/pit/pit8254';
import { PIT_HZ } from '../src/pit/registers';

class TestClock {
  t = 0;
  constructor(readonly hz: number) {}
  now() {
    return this.t;
  }
  /** Move to the cycle at which PIT clock `tick` begins. */
  toTick(tick: number) {
    this.t = cycleOfTick(tick, this.hz, PIT_HZ);
  }
}

function rig(hz = PIT_HZ * 4) {
  const clock = new TestClock(hz);
  const irqs: boolean[] = [];
  const pit = new Pit8254({ clock, irq: (l) => irqs.push(l) });
  const latch0 = () => {
    pit.write(3, 0x00);
    return pit.read(0) | (pit.read(0) << 8);
  };
  return { clock, pit, irqs, latch0 };
}

describe('clock conversions', () => {
  it('are exact inverses at tick boundaries, for large times too', () => {
    for (const hz of [PIT_HZ, 1e9, 3_000_000_000, 2_500_000_001]) {
      // up to a day of PIT clocks (cycles stay below 2^53 for these rates)
      for (const tick of [1, 17, PIT_HZ - 1, PIT_HZ * 86400 + 12345]) {
        const c = cycleOfTick(tick, hz, PIT_HZ);
        expect(ticksAt(c, hz, PIT_HZ)).toBe(tick);
        expect(ticksAt(c - 1, hz, PIT_HZ)).toBe(tick - 1);
      }
      expect(ticksAt(0, hz, PIT_HZ)).toBe(0);
    }
  });
});

describe('8254 counting modes', () => {
  it('comes out of reset as QEMU leaves it: every counter in mode 3 with count 65536', () => {
    const { clock, pit, irqs } = rig(1e9);
    pit.write(3, 0xe2);
    expect(pit.read(0)).toBe(0x80 | 0x36);
    expect(pit.nextDeadline()).toBe(cycleOfTick(65536, 1e9, PIT_HZ)); // 18.2 Hz
    clock.t = pit.nextDeadline();
    pit.update();
    expect(irqs).toEqual([false, true]);
  });

  it('mode 2 (rate generator) counts N..1, reloads, and pulses OUT low for one clock', () => {
    const { clock, pit, irqs, latch0 } = rig();
    pit.write(3, 0x34); // Linux PIT periodic: channel 0, LSB/MSB, mode 2, binary
    pit.write(0, 1000 & 0xff);
    pit.write(0, 1000 >> 8);
    expect(latch0()).toBe(1000);
    clock.toTick(1);
    expect(latch0()).toBe(999);
    clock.toTick(999);
    expect(latch0()).toBe(1);
    pit.write(3, 0xe2); // read-back status of counter 0
    expect(pit.read(0) & 0x80).toBe(0); // OUT low in the clock before reload
    clock.toTick(1000);
    expect(latch0()).toBe(1000);
    pit.write(3, 0xe2);
    expect(pit.read(0)).toBe(0x80 | 0x34); // OUT high again, count loaded, RW=3, mode 2
    expect(irqs).toEqual([false, true]); // the rising edge at reload
  });

  it('mode 2 delivers one IRQ0 edge per period at nextDeadline()', () => {
    const { clock, pit, irqs } = rig(1_000_000_000);
    pit.write(3, 0x34);
    pit.write(0, 0x9c); // LATCH for HZ=100: 11932 = 0x2e9c
    pit.write(0, 0x2e);
    const deadlines: number[] = [];
    for (let i = 0; i < 50; i++) {
      const d = pit.nextDeadline();
      deadlines.push(d);
      clock.t = d;
      pit.update();
    }
    expect(pit.counters.irq0Edges).toBe(50);
    expect(irqs.filter((l) => l).length).toBe(50);
    // periods of 11932 PIT clocks = 10.000151 ms of a 1 GHz clock, to the cycle
    expect(deadlines[49]! - deadlines[48]!).toBeGreaterThanOrEqual(10_000_150);
    expect(deadlines[49]! - deadlines[48]!).toBeLessThanOrEqual(10_000_151);
    expect(deadlines[0]).toBe(cycleOfTick(11932, 1e9, PIT_HZ));
    // A late run loop gets one coalesced edge, and the schedule stays on the original grid.
    clock.t = deadlines[49]! + 35_000_000;
    pit.update();
    expect(pit.counters.irq0Edges).toBe(51);
    expect(pit.nextDeadline()).toBe(cycleOfTick(11932 * 54, 1e9, PIT_HZ));
    clock.t = pit.nextDeadline() - 1;
    pit.update();
    expect(pit.counters.irq0Edges).toBe(51);
  });

  it('mode 2: a count written while counting takes effect at the end of the current period', () => {
    const { clock, pit, latch0 } = rig(1e9);
    pit.write(3, 0x34);
    pit.write(0, 1000 & 0xff);
    pit.write(0, 1000 >> 8);
    clock.toTick(300);
    pit.write(0, 500 & 0xff);
    pit.write(0, 500 >> 8);
    pit.write(3, 0xe2);
    expect(pit.read(0) & 0x40).toBe(0x40); // NULL COUNT until the new count is loaded
    expect(latch0()).toBe(700);
    expect(pit.nextDeadline()).toBe(cycleOfTick(1000, 1e9, PIT_HZ));
    clock.toTick(999);
    expect(latch0()).toBe(1);
    clock.toTick(1000);
    pit.update();
    expect(latch0()).toBe(500);
    pit.write(3, 0xe2);
    expect(pit.read(0) & 0x40).toBe(0);
    expect(pit.nextDeadline()).toBe(cycleOfTick(1500, 1e9, PIT_HZ));
    clock.toTick(1700);
    expect(latch0()).toBe(300);
    expect(pit.counters.irq0Edges).toBe(2);
  });

  it('mode 3 (square wave) counts by two with OUT high ceil(N/2) and low floor(N/2)', () => {
    const { clock, pit, irqs, latch0 } = rig();
    pit.write(3, 0x36);
    pit.write(0, 1000 & 0xff);
    pit.write(0, 1000 >> 8);
    clock.toTick(1);
    expect(latch0()).toBe(998);
    clock.toTick(499);
    expect(pit.output(0)).toBe(true);
    clock.toTick(500);
    expect(pit.output(0)).toBe(false);
    expect(latch0()).toBe(1000);
    clock.toTick(1000);
    pit.update();
    expect(irqs).toEqual([false, true]);
    // odd count: 5 -> high 3, low 2
    pit.write(3, 0x36);
    pit.write(0, 5);
    pit.write(0, 0);
    const outs: boolean[] = [];
    for (let i = 0; i < 10; i++) {
      clock.toTick(1000 + i);
      outs.push(pit.output(0));
    }
    expect(outs).toEqual([true, true, true, false, false, true, true, true, false, false]);
  });

  it('mode 0 raises OUT once at terminal count and keeps counting down through zero', () => {
    const { clock, pit, irqs, latch0 } = rig();
    pit.write(3, 0x30);
    expect(irqs).toEqual([false]); // mode 0's initial OUT is low (reset left mode 3 running, OUT high)
    pit.write(0, 100);
    expect(pit.output(0)).toBe(false);
    pit.write(0, 0);
    clock.toTick(99);
    pit.update();
    expect(irqs).toEqual([false]);
    expect(pit.nextDeadline()).toBe(cycleOfTick(100, clock.hz, PIT_HZ));
    clock.toTick(100);
    pit.update();
    expect(irqs).toEqual([false, true]);
    clock.toTick(102);
    expect(latch0()).toBe(0xfffe);
    expect(pit.nextDeadline()).toBe(Number.POSITIVE_INFINITY);
    // Writing the first byte of a new count drives OUT low and stops counting.
    pit.write(0, 10);
    expect(irqs).toEqual([false, true, false]);
  });

  it('mode 4 (Linux one-shot, 0x38) strobes OUT low for one clock at terminal count', () => {
    const { clock, pit, irqs } = rig();
    pit.write(3, 0x38);
    pit.write(0, 50);
    pit.write(0, 0);
    clock.toTick(50);
    expect(pit.output(0)).toBe(false);
    pit.update();
    expect(irqs).toEqual([false]);
    clock.toTick(51);
    pit.update();
    expect(irqs).toEqual([false, true]);
    expect(pit.nextDeadline()).toBe(Number.POSITIVE_INFINITY);
  });

  it('counts in BCD and accepts LSB-only and MSB-only access', () => {
    const { clock, pit, latch0 } = rig();
    pit.write(3, 0x35); // mode 2, BCD
    pit.write(0, 0x00);
    pit.write(0, 0x10); // 1000 decimal
    expect(latch0()).toBe(0x1000);
    clock.toTick(1);
    expect(latch0()).toBe(0x0999);
    pit.write(3, 0x14); // LSB only, mode 2
    pit.write(0, 200);
    expect(pit.reloadValue(0)).toBe(200);
    clock.toTick(11);
    expect(pit.read(0)).toBe(190);
    pit.write(3, 0x24); // MSB only
    pit.write(0, 0x02);
    expect(pit.reloadValue(0)).toBe(0x200);
    clock.toTick(11 + 0x10);
    expect(pit.read(0)).toBe(0x01);
    pit.write(3, 0x34);
    pit.write(0, 0);
    pit.write(0, 0); // 0 = 65536
    expect(pit.reloadValue(0)).toBe(65536);
  });

  it('holds a latched count while time passes; read-back latches status before count', () => {
    const { clock, pit } = rig();
    pit.write(3, 0x34);
    pit.write(3, 0xe2);
    expect(pit.read(0)).toBe(0x40 | 0x80 | 0x34); // NULL COUNT: no count written yet
    pit.write(0, 0x00);
    pit.write(0, 0x10); // 4096
    clock.toTick(96);
    pit.write(3, 0x00);
    clock.toTick(500);
    pit.write(3, 0x00); // ignored: already latched
    expect(pit.counters.relatch).toBe(1);
    expect(pit.read(0) | (pit.read(0) << 8)).toBe(4000);
    pit.write(3, 0xc2); // read-back: count and status of counter 0
    clock.toTick(600);
    expect(pit.read(0)).toBe(0x80 | 0x34); // status first
    expect(pit.read(0) | (pit.read(0) << 8)).toBe(4096 - 500);
    expect(pit.read(0) | (pit.read(0) << 8)).toBe(4096 - 600); // live again
  });
});

describe('channel 2 and port 0x61', () => {
  it('runs the pit_calibrate_tsc loop: OUT2 rises after CAL_LATCH clocks', () => {
    const hz = 2_400_000_000;
    const { clock, pit } = rig(hz);
    const inb61 = () => pit.portB.read(0);
    pit.portB.write(0, (inb61() & ~0x02) | 0x01); // gate high, speaker off
    pit.write(3, 0xb0); // channel 2, LSB/MSB, mode 0, binary
    const latch = Math.floor(PIT_HZ / (1000 / 10)); // CAL_LATCH, 10 ms
    pit.write(2, latch & 0xff);
    pit.write(2, latch >> 8);
    const t1 = clock.t;
    let pitcnt = 0;
    while ((inb61() & 0x20) === 0) {
      clock.t += 1700; // the loop body: an IN exit plus a few instructions
      pitcnt++;
    }
    const delta = clock.t - t1;
    const tscKhz = delta / 10; // Linux: delta / ms
    expect(pitcnt).toBeGreaterThan(1000);
    expect(Math.abs(tscKhz * 1000 - hz) / hz).toBeLessThan(0.0005);
  });

  it('runs the quick_pit_calibrate MSB loop: each MSB lasts 256 clocks', () => {
    const hz = 1_000_000_000;
    const { clock, pit } = rig(hz);
    const inb = (port: number) => {
      clock.t += 1500; // every IN is an exit
      return port === 0x61 ? pit.portB.read(0) : pit.read(port - 0x40);
    };
    pit.portB.write(0, (inb(0x61) & ~0x02) | 0x01);
    pit.write(3, 0xb0);
    pit.write(2, 0xff);
    pit.write(2, 0xff);
    const verifyMsb = (val: number) => {
      inb(0x42); // ignore LSB
      return inb(0x42) === val;
    };
    const expectMsb = (val: number) => {
      let count = 0;
      let tsc = clock.t;
      let prev = tsc;
      for (; count < 50000; count++) {
        if (!verifyMsb(val)) break;
        prev = tsc;
        tsc = clock.t;
      }
      return { ok: count > 5, tsc, delta: clock.t - prev };
    };
    verifyMsb(0);
    const first = expectMsb(0xff);
    expect(first.ok).toBe(true);
    let last = first;
    let i = 1;
    for (; i <= 40; i++) {
      const r = expectMsb(0xff - i);
      expect(r.ok).toBe(true);
      last = r;
    }
    const estimate = ((last.tsc - first.tsc) * PIT_HZ) / ((i - 1) * 256);
    expect(Math.abs(estimate - hz) / hz).toBeLessThan(0.01);
  });

  it('gates counting in mode 0 and triggers mode 1 through bit 0', () => {
    const { clock, pit } = rig();
    const read2 = () => {
      pit.write(3, 0x80);
      return pit.read(2) | (pit.read(2) << 8);
    };
    pit.write(3, 0xb0);
    pit.write(2, 100);
    pit.write(2, 0);
    clock.toTick(10);
    expect(read2()).toBe(100); // gate low since reset: not counting
    pit.portB.write(0, 0x01);
    clock.toTick(40);
    expect(read2()).toBe(70);
    pit.portB.write(0, 0x00);
    clock.toTick(1000);
    expect(read2()).toBe(70);
    expect(pit.portB.read(0) & 0x20).toBe(0);
    // mode 1: OUT high until a gate rising edge, then low for N clocks; retriggerable
    pit.write(3, 0xb2);
    pit.write(2, 20);
    pit.write(2, 0);
    expect(pit.output(2)).toBe(true);
    pit.portB.write(0, 0x01);
    expect(pit.output(2)).toBe(false);
    clock.toTick(1010);
    pit.portB.write(0, 0x00);
    pit.portB.write(0, 0x01); // retrigger at 1010
    clock.toTick(1025);
    expect(pit.output(2)).toBe(false);
    clock.toTick(1030);
    expect(pit.output(2)).toBe(true);
    expect(pit.portB.read(0) & 0x20).toBe(0x20);
  });

  it('mode 2 with the gate low holds OUT high; a rising gate reloads', () => {
    const { clock, pit } = rig();
    pit.portB.write(0, 0x01);
    pit.write(3, 0xb4);
    pit.write(2, 10);
    pit.write(2, 0);
    clock.toTick(9);
    expect(pit.output(2)).toBe(false);
    pit.portB.write(0, 0x00);
    expect(pit.output(2)).toBe(true);
    clock.toTick(50);
    pit.portB.write(0, 0x01);
    clock.toTick(59);
    expect(pit.output(2)).toBe(false);
  });

  it('sounds the speaker while gate and data enable are set and channel 2 runs a square wave', () => {
    const tones: number[] = [];
    const clock = new TestClock(1e9);
    const pit = new Pit8254({ clock, irq: () => {}, speaker: (hz) => tones.push(hz) });
    pit.write(3, 0xb6); // channel 2, LSB/MSB, mode 3 (Linux's beep: PIT_TICK_RATE / 440)
    pit.write(2, 2712 & 0xff);
    pit.write(2, 2712 >> 8);
    expect(tones).toEqual([]);
    pit.portB.write(0, 0x03);
    expect(tones.map(Math.round)).toEqual([440]);
    pit.write(2, 1356 & 0xff);
    pit.write(2, 1356 >> 8);
    expect(tones.map(Math.round)).toEqual([440, 880]);
    pit.portB.write(0, 0x01); // speaker data off
    expect(tones.map(Math.round)).toEqual([440, 880, 0]);
  });

  it('keeps bits 3:0, toggles the refresh bit every 18 clocks, ignores writes to 7:4', () => {
    const { clock, pit } = rig();
    pit.portB.write(0, 0xfe);
    expect(pit.portB.read(0) & 0x0f).toBe(0x0e);
    const r0 = pit.portB.read(0) & 0x10;
    clock.toTick(18);
    expect(pit.portB.read(0) & 0x10).toBe(r0 ^ 0x10);
    clock.toTick(35);
    expect(pit.portB.read(0) & 0x10).toBe(r0 ^ 0x10);
    clock.toTick(36);
    expect(pit.portB.read(0) & 0x10).toBe(r0);
  });
});

describe('8254 snapshots and misuse', () => {
  it('round-trips mid-count through JSON', () => {
    const a = rig(1e9);
    a.pit.write(3, 0x34);
    a.pit.write(0, 0x9c);
    a.pit.write(0, 0x2e);
    a.clock.t = 12_345_678;
    a.pit.update();
    a.pit.write(3, 0x00); // a pending latch survives too
    const state = JSON.parse(JSON.stringify(a.pit.saveState()));
    const b = rig(1e9);
    b.clock.t = a.clock.t;
    const pit = Pit8254.fromState(state, { clock: b.clock, irq: (l) => b.irqs.push(l) });
    expect(b.irqs).toEqual([true]); // OUT0 is high in mode 2 between pulses: re-announced
    expect(pit.nextDeadline()).toBe(a.pit.nextDeadline());
    expect(pit.read(0)).toBe(a.pit.read(0));
    expect(pit.read(0)).toBe(a.pit.read(0));
    b.clock.t = a.clock.t = 40_000_000;
    a.pit.update();
    pit.update();
    expect(pit.counters.irq0Edges).toBe(1); // fourth edge of the grid, coalesced
    expect(pit.nextDeadline()).toBe(a.pit.nextDeadline());
    expect(() => Pit8254.fromState({ ...state, channels: [] }, { clock: b.clock, irq: () => {} })).toThrow(
      DevicesError,
    );
  });

  it('rejects a bad clock or channel', () => {
    expect(() => new Pit8254({ clock: { now: () => 0, hz: 0 }, irq: () => {} })).toThrow(/hz > 0/);
    const { pit } = rig();
    expect(() => pit.setGate(3 as 0, true)).toThrow(/PIT channel 3/);
    expect(() => pit.output(-1 as 0)).toThrow(/PIT channel -1 is not 0, 1 or 2/);
    expect(() => pit.reloadValue(7 as 0)).toThrow(DevicesError);
  });

  it('never throws on random port traffic and time, and keeps deadlines in the future', () => {
    const op = fc.oneof(
      fc.record({ port: fc.constantFrom(0, 1, 2, 3, 0x61), w: fc.boolean(), v: fc.nat(255) }),
      fc.record({ dt: fc.nat(2_000_000) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const { clock, pit, irqs } = rig(3_000_000_000);
        for (const o of ops) {
          if ('dt' in o) {
            clock.t += o.dt;
            pit.update();
            expect(pit.nextDeadline()).toBeGreaterThan(clock.t);
          } else if (o.port === 0x61) {
            if (o.w) pit.portB.write(0, o.v);
            else expect(pit.portB.read(0)).toBeLessThanOrEqual(0x3f);
          } else if (o.w) pit.write(o.port, o.v);
          else expect(pit.read(o.port)).toBeLessThanOrEqual(0xff);
        }
        for (let i = 1; i < irqs.length; i++) expect(irqs[i]).not.toBe(irqs[i - 1]);
      }),
      { numRuns: 300 },
    );
  });
});
