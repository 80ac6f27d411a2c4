import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DevicesError } from '../src/errors';
import { civilFromSeconds, secondsFromCivil } from '../src/rtc/calendar';
import { Rtc, type RtcOptions } from '../src/rtc/rtc';

const HZ = 1_000_000_000; // 1 GHz virtual clock: 1 cycle = 1 ns

class TestClock {
  t = 0;
  readonly hz = HZ;
  now() {
    return this.t;
  }
}

function rig(epochMs = Date.UTC(2024, 1, 29, 23, 59, 58, 500), extra: Partial<RtcOptions> = {}) {
  const clock = new TestClock();
  const irqs: boolean[] = [];
  const rtc = new Rtc({ clock, irq: (l) => irqs.push(l), epochMs, ...extra });
  const reg = (i: number) => {
    rtc.write(0, i);
    return rtc.read(1);
  };
  const set = (i: number, v: number) => {
    rtc.write(0, i);
    rtc.write(1, v);
  };
  return { clock, rtc, irqs, reg, set };
}

const time = (reg: (i: number) => number) =>
  [0x32, 9, 8, 7, 6, 4, 2, 0].map((i) => reg(i).toString(16).padStart(2, '0')).join(' ');

describe('calendar', () => {
  it('agrees with Date.UTC over four centuries of samples', () => {
    for (let s = -2_000_000_000_0; s < 9_000_000_000_0; s += 7_777_777_7) {
      const d = new Date(s * 1000);
      const c = civilFromSeconds(s);
      expect([c.year, c.month, c.day, c.hour, c.minute, c.second, c.weekday]).toEqual([
        d.getUTCFullYear(),
        d.getUTCMonth() + 1,
        d.getUTCDate(),
        d.getUTCHours(),
        d.getUTCMinutes(),
        d.getUTCSeconds(),
        d.getUTCDay() + 1,
      ]);
      expect(secondsFromCivil(c.year, c.month, c.day, c.hour, c.minute, c.second)).toBe(s);
    }
  });
});

describe('MC146818 time keeping', () => {
  it('starts from the configured epoch in BCD 24 h and rolls over a leap day', () => {
    const { clock, reg } = rig();
    expect(time(reg)).toBe('20 24 02 29 05 23 59 58'); // Thursday = 5
    clock.t = 499_999_999;
    expect(reg(0)).toBe(0x58);
    clock.t = 500_000_000; // the second began 0.5 s before cycle 0
    expect(reg(0)).toBe(0x59);
    clock.t = 1_500_000_000;
    expect(time(reg)).toBe('20 24 03 01 06 00 00 00');
  });

  it('shows binary and 12-hour formats from the next update on', () => {
    const { clock, reg, set } = rig(Date.UTC(1999, 11, 31, 13, 5, 7));
    expect(reg(4)).toBe(0x13);
    set(0x0b, 0x00); // BCD, 12 h
    clock.t = 1e9;
    expect(reg(4)).toBe(0x81); // 1 PM
    set(0x0b, 0x04); // binary, 12 h
    clock.t = 2e9;
    expect([reg(4), reg(2), reg(0), reg(9), reg(0x32)]).toEqual([0x81, 5, 9, 99, 19]);
    set(0x0b, 0x06); // binary, 24 h
    clock.t = 3e9;
    expect(reg(4)).toBe(13);
  });

  it('raises UIP for the 244 us before each update, as Linux mc146818_get_time waits for', () => {
    const { clock, reg } = rig(Date.UTC(2030, 0, 1, 0, 0, 0));
    const tick = 1e9 / 32768;
    clock.t = Math.floor(1e9 - 9 * tick); // 9 divider ticks (275 us) before the boundary
    expect(reg(0x0a) & 0x80).toBe(0);
    clock.t = Math.ceil(1e9 - 8 * tick); // 244 us before
    expect(reg(0x0a) & 0x80).toBe(0x80);
    expect(reg(0)).toBe(0x00); // still the old second
    clock.t = 1e9;
    expect(reg(0x0a)).toBe(0x26);
    expect(reg(0)).toBe(0x01);
    // The Linux read loop: spin while UIP, then read the time.
    clock.t = 2e9 - 200_000;
    let spins = 0;
    while (reg(0x0a) & 0x80) {
      clock.t += 20_000;
      spins++;
    }
    expect(spins).toBe(10);
    expect(reg(0)).toBe(0x02);
  });

  it('SET inhibits updates and clears UIE; the new time runs from the next boundary', () => {
    const { clock, reg, set } = rig(Date.UTC(2024, 5, 1, 12, 0, 0));
    set(0x0b, 0x12); // UIE, 24 h
    set(0x0b, 0x82); // SET
    expect(reg(0x0b)).toBe(0x82); // UIE cleared by SET
    set(0x04, 0x08);
    set(0x02, 0x30);
    set(0x00, 0x00);
    clock.t = 3e9;
    expect(reg(0x0a) & 0x80).toBe(0);
    expect([reg(4), reg(2), reg(0)]).toEqual([0x08, 0x30, 0x00]); // frozen
    set(0x0b, 0x02);
    clock.t = 3.5e9;
    expect(reg(0)).toBe(0x00);
    clock.t = 4e9;
    expect([reg(4), reg(2), reg(0)]).toEqual([0x08, 0x30, 0x01]);
  });

  it('holds the divider in reset and makes the first update half a second after release', () => {
    const { clock, reg, set } = rig(Date.UTC(2024, 5, 1, 12, 0, 0));
    set(0x0a, 0x66);
    clock.t = 5e9;
    expect(reg(0)).toBe(0x00);
    set(0x0a, 0x26);
    clock.t = 5e9 + 499_999_999;
    expect(reg(0)).toBe(0x00);
    clock.t = 5.5e9;
    expect(reg(0)).toBe(0x01);
  });
});

describe('MC146818 interrupts', () => {
  it('delivers 1024 periodic interrupts per second when each is acknowledged through register C', () => {
    const { clock, rtc, irqs, reg, set } = rig();
    set(0x0b, 0x42); // PIE, 24 h; rate 6 = 1024 Hz from reset
    let acks = 0;
    while (true) {
      const d = rtc.nextDeadline();
      if (d > 1e9) break;
      clock.t = d;
      rtc.update();
      expect(rtc.irqAsserted).toBe(true);
      expect(rtc.nextDeadline()).toBe(Number.POSITIVE_INFINITY); // IRQ8 stays high until acked
      expect(reg(0x0c) & 0xc0).toBe(0xc0); // IRQF | PF
      acks++;
    }
    expect(acks).toBe(1024);
    expect(irqs.length).toBe(2048);
    expect(rtc.counters.interrupts).toBe(1024);
  });

  it('sets PF even with PIE off (polled) and changes rate through RS', () => {
    const { clock, rtc, reg, set } = rig();
    clock.t = 1_000_000;
    expect(reg(0x0c)).toBe(0x40); // PF without IRQF
    expect(reg(0x0c)).toBe(0x00);
    set(0x0a, 0x2f); // 2 Hz
    set(0x0b, 0x42);
    let n = 0;
    clock.t = 2_000_000;
    reg(0x0c);
    for (;;) {
      const d = rtc.nextDeadline();
      if (d > 10e9) break;
      clock.t = d;
      rtc.update();
      reg(0x0c);
      n++;
    }
    expect(n).toBe(20);
    set(0x0a, 0x20); // rate 0: no periodic interrupt
    expect(rtc.nextDeadline()).toBe(Number.POSITIVE_INFINITY);
  });

  it('raises the update-ended interrupt once per second and the alarm on a match', () => {
    const { clock, rtc, irqs, reg, set } = rig(Date.UTC(2024, 0, 1, 10, 0, 55));
    set(0x0b, 0x32); // AIE | UIE | 24 h
    set(0x01, 0x00); // alarm at hh:mm:00, any hour and minute
    set(0x03, 0xc0);
    set(0x05, 0xff);
    const seen: number[] = [];
    for (let i = 0; i < 10; i++) {
      clock.t = rtc.nextDeadline();
      rtc.update();
      seen.push(reg(0x0c) & ~0x40); // PF runs at 1024 Hz meanwhile
    }
    expect(seen).toEqual([0x90, 0x90, 0x90, 0x90, 0xb0, 0x90, 0x90, 0x90, 0x90, 0x90]); // AF at 10:01:00
    expect(irqs.filter((l) => l).length).toBe(10);
    // After a two-day gap an exact-time alarm has matched at some point.
    set(0x0b, 0x02);
    set(0x01, 0x30);
    set(0x03, 0x15);
    set(0x05, 0x07);
    reg(0x0c);
    clock.t += 2 * 86400e9;
    expect(reg(0x0c) & 0x20).toBe(0x20);
    clock.t += 3e9;
    expect(reg(0x0c) & 0x20).toBe(0);
  });
});

describe('CMOS contents', () => {
  it('holds the BIOS memory-size bytes as QEMU/SeaBIOS define them', () => {
    const MiB = 1 << 20;
    const { reg } = rig(0, { memory: { belowFourG: 128 * MiB, aboveFourG: 1024 * MiB }, cpus: 2 });
    expect(reg(0x15) | (reg(0x16) << 8)).toBe(640);
    expect(reg(0x17) | (reg(0x18) << 8)).toBe(0xffff); // 127 MiB in KiB, capped
    expect(reg(0x30) | (reg(0x31) << 8)).toBe(0xffff);
    expect(reg(0x34) | (reg(0x35) << 8)).toBe((112 * MiB) / 65536);
    expect(reg(0x5b) | (reg(0x5c) << 8) | (reg(0x5d) << 16)).toBe(16384);
    expect(reg(0x5f)).toBe(1);
    const small = rig(0, { memory: { belowFourG: 32 * MiB } });
    expect(small.reg(0x17) | (small.reg(0x18) << 8)).toBe(31 * 1024);
    let sum = 0;
    for (let i = 0x10; i <= 0x2d; i++) sum += small.reg(i);
    expect((small.reg(0x2e) << 8) | small.reg(0x2f)).toBe(sum);
  });

  it('exposes the NMI mask bit of port 0x70, keeps RAM bytes, answers 0xff on the index port', () => {
    const { rtc, reg } = rig();
    rtc.write(0, 0x80 | 0x40);
    expect(rtc.nmiMasked).toBe(true);
    rtc.write(1, 0x5a);
    expect(reg(0x40)).toBe(0x5a);
    expect(rtc.nmiMasked).toBe(false);
    expect(rtc.read(0)).toBe(0xff);
    expect(reg(0x0d)).toBe(0x80);
    rtc.writeCmos(0x38, 0x12);
    expect(rtc.readCmos(0x38)).toBe(0x12);
    expect(() => rtc.writeCmos(0x0b, 0)).toThrow(/clock register/);
    expect(() => rtc.readCmos(128)).toThrow(DevicesError);
    expect(() => rig(0, { memory: { belowFourG: -1 } })).toThrow(/memory.belowFourG -1/);
    expect(() => rig(Number.NaN)).toThrow(/epochMs NaN/);
  });

  it('survives a snapshot: RAM, time, pending flags', () => {
    const a = rig();
    a.set(0x50, 0x77);
    a.set(0x0b, 0x42);
    a.clock.t = 123_456_789;
    a.rtc.update();
    const state = JSON.parse(JSON.stringify(a.rtc.saveState()));
    const b = rig(0);
    b.clock.t = a.clock.t;
    const rtc = Rtc.fromState(state, { clock: b.clock, irq: (l) => b.irqs.push(l), epochMs: 0 });
    expect(b.irqs).toEqual([true]);
    const reg = (i: number) => {
      rtc.write(0, i);
      return rtc.read(1);
    };
    expect(reg(0x50)).toBe(0x77);
    expect(time(reg)).toBe(time(a.reg));
    b.clock.t = a.clock.t = 7.3e9;
    expect(time(reg)).toBe(time(a.reg));
    expect(reg(0x0c)).toBe(a.reg(0x0c));
    expect(() =>
      Rtc.fromState({ ...state, cmos: [1] }, { clock: b.clock, irq: () => {}, epochMs: 0 }),
    ).toThrow(/cmos is not 128 bytes/);
  });
});

describe('MC146818 under random traffic', () => {
  it('never throws and keeps IRQ8 equal to IRQF', () => {
    const op = fc.oneof(
      fc.record({ port: fc.nat(1), w: fc.boolean(), v: fc.nat(255) }),
      fc.record({ dt: fc.nat(3_000_000_000) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 100 }), fc.integer({ min: -1e12, max: 1e13 }), (ops, epochMs) => {
        const { clock, rtc, irqs } = rig(epochMs);
        for (const o of ops) {
          if ('dt' in o) {
            clock.t += o.dt;
            rtc.update();
          } else if (o.w) rtc.write(o.port, o.v);
          else expect(rtc.read(o.port)).toBeLessThanOrEqual(0xff);
        }
        for (let i = 1; i < irqs.length; i++) expect(irqs[i]).not.toBe(irqs[i - 1]);
        expect(rtc.irqAsserted).toBe((rtc.readCmos(0x0c) & 0x80) !== 0);
      }),
      { numRuns: 200 },
    );
  });
});
