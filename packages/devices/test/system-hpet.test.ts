import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  HPET_CFG,
  HPET_CFG_ENABLE,
  HPET_CFG_LEGACY,
  HPET_COUNTER,
  HPET_ID,
  HPET_STATUS,
  HPET_TN_32BIT,
  HPET_TN_ENABLE,
  HPET_TN_INT_ROUTE_SHIFT,
  HPET_TN_PERIODIC,
  HPET_TN_SETVAL,
  HPET_TN_TYPE_LEVEL,
  Hpet,
} from '../src/system/hpet';

const TN_CFG = (n: number) => 0x100 + 0x20 * n;
const TN_CMP = (n: number) => 0x108 + 0x20 * n;

function rig(hz = 1_000_000_000) {
  const clock = {
    t: 0,
    hz,
    now() {
      return this.t;
    },
  };
  const irqs: [number, boolean][] = [];
  const legacy: boolean[] = [];
  const hpet = new Hpet({
    clock,
    irq: (l, v) => irqs.push([l, v]),
    onLegacyReplacement: (e) => legacy.push(e),
  });
  const r = (o: number) => hpet.read(o, 4);
  const w = (o: number, v: number) => hpet.write(o, 4, v);
  const counter = () => r(HPET_COUNTER) + r(HPET_COUNTER + 4) * 2 ** 32;
  return { clock, hpet, irqs, legacy, r, w, counter };
}

describe('HPET', () => {
  it('reports QEMU-compatible capabilities: Intel, 3 timers, 64-bit, legacy capable, 10 ns period', () => {
    const { r, w, hpet } = rig();
    expect(r(HPET_ID)).toBe(0x8086a201);
    expect(hpet.blockId).toBe(0x8086a201);
    expect(r(HPET_ID + 4)).toBe(10_000_000);
    expect(r(TN_CFG(0)) & 0x30).toBe(0x30); // periodic capable, 64-bit comparator
    expect(r(TN_CFG(0) + 4)).toBe(0x00ff0104);
    expect(r(TN_CMP(2))).toBe(0xffffffff); // comparators reset to all-ones
    expect(r(TN_CFG(3))).toBe(0); // no fourth timer
    w(HPET_ID, 0);
    expect(r(HPET_ID)).toBe(0x8086a201);
  });

  it('main counter runs at exactly 100 MHz of virtual time only while enabled, and is writable halted', () => {
    const { clock, w, counter, hpet } = rig();
    clock.t = 5_000;
    expect(counter()).toBe(0);
    w(HPET_CFG, HPET_CFG_ENABLE);
    clock.t += 1_000_000_000; // one virtual second
    expect(counter()).toBe(100_000_000);
    clock.t += 7; // 7 ns = 0.7 tick
    expect(counter()).toBe(100_000_000);
    clock.t += 3;
    expect(counter()).toBe(100_000_001);
    w(HPET_COUNTER, 5);
    expect(hpet.stats.counterWritesWhileRunning).toBe(1);
    w(HPET_CFG, 0);
    clock.t += 1_000_000;
    expect(counter()).toBe(100_000_001);
    w(HPET_COUNTER, 0xfffffff0);
    w(HPET_COUNTER + 4, 0x12);
    expect(counter()).toBe(0x12fffffff0);
    w(HPET_CFG, HPET_CFG_ENABLE);
    clock.t += 200; // 20 ticks: carries into the high half
    expect(counter()).toBe(0x1300000004);
  });

  it('stays exact far beyond 2^53 cycle·rate products', () => {
    const { clock, w, hpet } = rig(3_000_000_007);
    w(HPET_CFG, HPET_CFG_ENABLE);
    clock.t = 3_000_000_007 * 86_400 * 30 + 1; // 30 days
    expect(hpet.counter()).toBe(BigInt(86_400 * 30) * 100_000_000n);
  });

  it('counter equals floor(cycles·10^8/hz) exactly on both arithmetic paths', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1_000_000_000, 2_500_000_000, 3_000_000_007, 100_000_000, 1_193_182),
        fc.oneof(fc.integer({ min: 0, max: 2 ** 32 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
        (hz, cycles) => {
          const clock = {
            hz,
            t: 0,
            now() {
              return this.t;
            },
          };
          const hpet = new Hpet({ clock });
          hpet.write(HPET_CFG, 4, HPET_CFG_ENABLE);
          clock.t = cycles;
          const want = (BigInt(cycles) * 100_000_000n) / BigInt(hz);
          expect(hpet.counter()).toBe(want & ((1n << 64n) - 1n));
          expect(hpet.read(HPET_COUNTER, 4)).toBe(Number(want & 0xffffffffn));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('one-shot edge timer fires once at the comparator with a pulse on its route', () => {
    const { clock, w, hpet, irqs } = rig();
    w(TN_CFG(2), HPET_TN_ENABLE | (11 << HPET_TN_INT_ROUTE_SHIFT));
    w(TN_CMP(2), 1000);
    w(TN_CMP(2) + 4, 0);
    expect(hpet.nextDeadline()).toBe(Number.POSITIVE_INFINITY); // HPET not enabled yet
    w(HPET_CFG, HPET_CFG_ENABLE);
    expect(hpet.nextDeadline()).toBe(10_000);
    hpet.update(9_999);
    expect(irqs).toEqual([]);
    clock.t = 10_000;
    hpet.update();
    expect(irqs).toEqual([
      [11, true],
      [11, false],
    ]);
    expect(hpet.nextDeadline()).toBe(Number.POSITIVE_INFINITY);
    clock.t = 10_000_000;
    hpet.update();
    expect(irqs.length).toBe(2);
  });

  it('Linux legacy periodic setup (SETVAL, 32-bit): timer 0 ticks on IRQ0 every period', () => {
    const { clock, w, r, hpet, irqs, legacy } = rig();
    w(HPET_CFG, HPET_CFG_ENABLE | HPET_CFG_LEGACY);
    expect(legacy).toEqual([true]);
    const delta = 100_000; // 1 ms at 100 MHz
    const cfg = r(TN_CFG(0)) | HPET_TN_ENABLE | HPET_TN_PERIODIC | HPET_TN_SETVAL | HPET_TN_32BIT;
    w(TN_CFG(0), cfg);
    const now = r(HPET_COUNTER);
    w(TN_CMP(0), now + delta);
    w(TN_CMP(0), delta); // second write: the period
    expect(r(TN_CFG(0)) & HPET_TN_SETVAL).toBe(0);
    expect(hpet.nextDeadline()).toBe(1_000_000);
    for (let i = 1; i <= 5; i++) {
      clock.t = hpet.nextDeadline();
      hpet.update();
      expect(irqs.filter(([, v]) => v).length).toBe(i);
      expect(r(TN_CMP(0))).toBe((i + 1) * delta);
    }
    expect(irqs.every(([l]) => l === 0)).toBe(true);
    // A late update coalesces missed periods into one interrupt and stays on the grid.
    clock.t += 3_500_000;
    hpet.update();
    expect(irqs.filter(([, v]) => v).length).toBe(6);
    expect(hpet.nextDeadline()).toBe(9_000_000); // 8.5 ms → next grid point 9 ms
  });

  it('Linux clockevent one-shot programming (32-bit mode, counter above 2^32) fires at cnt + delta', () => {
    const { clock, w, r, hpet, irqs } = rig(100_000_000); // one cycle per tick
    w(HPET_COUNTER, 0xfffff000);
    w(HPET_COUNTER + 4, 0x1); // counter = 0x1_ffff_f000
    w(HPET_CFG, HPET_CFG_ENABLE | HPET_CFG_LEGACY);
    // hpet_clkevt_set_state_oneshot: clear PERIODIC, set ENABLE | 32BIT.
    w(TN_CFG(0), (r(TN_CFG(0)) & ~HPET_TN_PERIODIC) | HPET_TN_ENABLE | HPET_TN_32BIT);
    // hpet_clkevt_set_next_event(delta = 0x2000): cnt = readl(COUNTER) + delta; writel(cnt, T0_CMP).
    clock.t = 0x100;
    const cnt = (r(HPET_COUNTER) + 0x2000) >>> 0; // wraps the low 32 bits
    w(TN_CMP(0), cnt);
    const res = (cnt - r(HPET_COUNTER)) | 0;
    expect(res).toBe(0x2000);
    // The 32-bit one-shot also fires at the low-32-bit wrap (QEMU), then at the match.
    expect(hpet.nextDeadline()).toBe(0x100 + 0xeff);
    clock.t = hpet.nextDeadline();
    hpet.update();
    expect(hpet.nextDeadline()).toBe(0x100 + 0x2000);
    clock.t = 0x100 + 0x1fff;
    hpet.update();
    expect(irqs.filter(([, v]) => v).length).toBe(1);
    clock.t = 0x100 + 0x2000;
    hpet.update();
    expect(irqs.filter(([, v]) => v).length).toBe(2);
    expect(irqs.every(([l]) => l === 0)).toBe(true); // legacy route: IRQ0
    expect(hpet.nextDeadline()).toBe(Number.POSITIVE_INFINITY);
  });

  it('level-triggered timer sets its status bit and holds the line until write-1-to-clear', () => {
    const { clock, w, r, hpet, irqs } = rig();
    w(HPET_CFG, HPET_CFG_ENABLE);
    w(TN_CFG(1), HPET_TN_ENABLE | HPET_TN_TYPE_LEVEL | (20 << HPET_TN_INT_ROUTE_SHIFT));
    w(TN_CMP(1), 50);
    w(TN_CMP(1) + 4, 0);
    clock.t = 500;
    hpet.update();
    expect(r(HPET_STATUS)).toBe(0b10);
    expect(irqs).toEqual([[20, true]]);
    w(HPET_STATUS, 0b01); // clearing another bit changes nothing
    expect(r(HPET_STATUS)).toBe(0b10);
    w(HPET_STATUS, 0b10);
    expect(r(HPET_STATUS)).toBe(0);
    expect(irqs).toEqual([
      [20, true],
      [20, false],
    ]);
  });

  it('32-bit one-shot also interrupts at the 32-bit wrap, and a past comparator fires next tick', () => {
    const { clock, w, hpet, irqs } = rig(100_000_000); // one cycle per tick
    w(HPET_COUNTER, 0xfffffff0);
    w(TN_CFG(0), HPET_TN_ENABLE | HPET_TN_32BIT | (2 << HPET_TN_INT_ROUTE_SHIFT));
    w(TN_CMP(0), 0x10);
    w(HPET_CFG, HPET_CFG_ENABLE);
    expect(hpet.nextDeadline()).toBe(0x0f); // counter low reaches 0xffffffff
    clock.t = 0x0f;
    hpet.update();
    expect(hpet.nextDeadline()).toBe(0x20); // then the comparator match
    clock.t = 0x20;
    hpet.update();
    expect(irqs.filter(([, v]) => v).length).toBe(2);
    w(TN_CMP(0), 0x5); // behind the counter
    expect(hpet.nextDeadline()).toBe(0x21);
  });

  it('disabling the HPET deasserts lines and halts timers', () => {
    const { clock, w, r, hpet, irqs } = rig();
    w(HPET_CFG, HPET_CFG_ENABLE);
    w(TN_CFG(0), HPET_TN_ENABLE | HPET_TN_TYPE_LEVEL | (2 << HPET_TN_INT_ROUTE_SHIFT));
    w(TN_CMP(0), 10);
    w(TN_CMP(0) + 4, 0);
    clock.t = 1000;
    hpet.update();
    expect(irqs).toEqual([[2, true]]);
    w(HPET_CFG, 0);
    expect(irqs).toEqual([
      [2, true],
      [2, false],
    ]);
    expect(r(HPET_STATUS)).toBe(0);
    expect(hpet.nextDeadline()).toBe(Number.POSITIVE_INFINITY);
  });

  it('random MMIO traffic and clock steps never throw; deadlines stay in the future', () => {
    const regs = [
      0, 4, 0x10, 0x14, 0x20, 0xf0, 0xf4, 0x100, 0x104, 0x108, 0x10c, 0x110, 0x120, 0x128, 0x140, 0x148,
      0x3fc, 0x3ff,
    ];
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            off: fc.oneof(fc.constantFrom(...regs), fc.integer({ min: 0, max: 0x3ff })),
            size: fc.constantFrom(1, 2, 4),
            v: fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(0x10f, 0x14e, 0x3, 0x1)),
            w: fc.boolean(),
            dt: fc.integer({ min: 0, max: 50_000_000 }),
          }),
          { maxLength: 80 },
        ),
        (ops) => {
          const { clock, hpet } = rig();
          for (const op of ops) {
            clock.t += op.dt;
            hpet.update();
            const d = hpet.nextDeadline();
            expect(d === Number.POSITIVE_INFINITY || d > clock.t).toBe(true);
            if (op.w) hpet.write(op.off, op.size, op.v);
            else {
              const x = hpet.read(op.off, op.size);
              expect(Number.isInteger(x) && x >= 0 && x <= 0xffffffff).toBe(true);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
