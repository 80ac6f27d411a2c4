import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ACPI_PM_TMR,
  ACPI_PM1_CNT,
  ACPI_PM1_EN,
  ACPI_PM1_STS,
  ACPI_PWRBTN_EN,
  ACPI_PWRBTN_STS,
  ACPI_SCI_EN,
  ACPI_SLP_EN,
  ACPI_SLP_TYP_S5,
  ACPI_SLP_TYP_SHIFT,
  ACPI_TMR_EN,
  ACPI_TMR_STS,
  AcpiPm,
} from '../src/system/acpi-pm';

function rig(hz = 1_000_000_000) {
  const clock = {
    t: 0,
    hz,
    now() {
      return this.t;
    },
  };
  const sci: boolean[] = [];
  const log: string[] = [];
  const pm = new AcpiPm({
    clock,
    sci: (l) => sci.push(l),
    events: { onPowerOff: () => log.push('off') },
    onSleep: (t) => log.push(`sleep${t}`),
  });
  return { clock, pm, sci, log };
}

describe('ACPI PM timer and PM1 blocks', () => {
  it('PM timer counts 3.579545 MHz of virtual time in 24 bits', () => {
    const { clock, pm } = rig();
    expect(pm.read(ACPI_PM_TMR, 4)).toBe(0);
    clock.t = 1_000_000_000;
    expect(pm.read(ACPI_PM_TMR, 4)).toBe(3_579_545);
    clock.t = 10_000_000_000; // 35,795,450 ticks wraps 24 bits twice
    expect(pm.read(ACPI_PM_TMR, 4)).toBe(35_795_450 % 2 ** 24);
    expect(pm.read(ACPI_PM_TMR + 1, 1)).toBe(((35_795_450 % 2 ** 24) >> 8) & 0xff);
    pm.write(ACPI_PM_TMR, 4, 0);
    expect(pm.read(ACPI_PM_TMR, 4)).toBe(35_795_450 % 2 ** 24);
  });

  it('a Linux-style calibration against the PM timer sees the configured clock rate', () => {
    const { clock, pm } = rig(2_000_000_000);
    const t0 = pm.read(ACPI_PM_TMR, 4);
    const c0 = clock.t;
    while (((pm.read(ACPI_PM_TMR, 4) - t0) & 0xffffff) < 3_579_545 / 20) clock.t += 997;
    const hz = (clock.t - c0) * 20;
    expect(Math.abs(hz - 2e9) / 2e9).toBeLessThan(2e-5); // 997-cycle polling granularity;
  });

  it('TMR_STS sets when bit 23 toggles and raises the SCI with TMR_EN; write-1 clears', () => {
    const { clock, pm, sci } = rig(ACPI_PM_TIMER_HZ);
    expect(pm.read(ACPI_PM1_CNT, 2) & ACPI_SCI_EN).toBe(ACPI_SCI_EN);
    pm.write(ACPI_PM1_EN, 2, ACPI_TMR_EN);
    expect(pm.read(ACPI_PM1_EN, 2)).toBe(ACPI_TMR_EN);
    expect(pm.nextDeadline()).toBe(2 ** 23);
    clock.t = 2 ** 23 - 1;
    pm.update();
    expect(pm.read(ACPI_PM1_STS, 2) & ACPI_TMR_STS).toBe(0);
    clock.t = 2 ** 23;
    pm.update();
    expect(sci).toEqual([true]);
    expect(pm.read(ACPI_PM1_STS, 2) & ACPI_TMR_STS).toBe(ACPI_TMR_STS);
    expect(pm.nextDeadline()).toBe(Number.POSITIVE_INFINITY);
    pm.write(ACPI_PM1_STS, 2, 0); // writing 0 clears nothing
    expect(pm.sci).toBe(true);
    pm.write(ACPI_PM1_STS, 2, ACPI_TMR_STS);
    expect(sci).toEqual([true, false]);
    expect(pm.nextDeadline()).toBe(2 ** 24);
  });

  it('the power button raises PWRBTN_STS and the SCI only when enabled', () => {
    const { pm, sci } = rig();
    pm.pressPowerButton();
    expect(pm.read(ACPI_PM1_STS, 2) & ACPI_PWRBTN_STS).toBe(ACPI_PWRBTN_STS);
    expect(sci).toEqual([]);
    pm.write(ACPI_PM1_EN + 1, 1, ACPI_PWRBTN_EN >> 8); // byte write to the high half of PM1_EN
    expect(sci).toEqual([true]);
    pm.write(ACPI_PM1_STS + 1, 1, ACPI_PWRBTN_STS >> 8);
    expect(sci).toEqual([true, false]);
  });

  it('SLP_EN with the S5 type powers off; SLP_EN reads back 0; other types go to onSleep', () => {
    const { pm, log } = rig();
    const cnt = pm.read(ACPI_PM1_CNT, 2);
    pm.write(ACPI_PM1_CNT, 2, cnt | (1 << ACPI_SLP_TYP_SHIFT));
    expect(log).toEqual([]); // SLP_TYP alone does nothing
    pm.write(ACPI_PM1_CNT, 2, cnt | (1 << ACPI_SLP_TYP_SHIFT) | ACPI_SLP_EN);
    expect(log).toEqual(['sleep1']);
    pm.write(ACPI_PM1_CNT, 2, cnt | (ACPI_SLP_TYP_S5 << ACPI_SLP_TYP_SHIFT) | ACPI_SLP_EN);
    expect(log).toEqual(['sleep1', 'off']);
    expect(pm.read(ACPI_PM1_CNT, 2) & ACPI_SLP_EN).toBe(0);
  });

  it('with an SMI command port, SCI_EN starts clear and ACPI_ENABLE/ACPI_DISABLE toggle it', () => {
    const clock = { hz: 1e9, now: () => 0 };
    const sci: boolean[] = [];
    const pm = new AcpiPm({ clock, smiCommand: true, sci: (l) => sci.push(l) });
    expect(pm.read(ACPI_PM1_CNT, 2) & ACPI_SCI_EN).toBe(0);
    pm.write(ACPI_PM1_EN + 1, 1, ACPI_PWRBTN_EN >> 8);
    pm.pressPowerButton();
    expect(sci).toEqual([]); // SCI_EN clear: no SCI
    pm.smiPort.write(0, 1, 0xf1);
    expect(pm.read(ACPI_PM1_CNT, 2) & ACPI_SCI_EN).toBe(ACPI_SCI_EN);
    expect(sci).toEqual([true]);
    expect(pm.smiPort.read(0, 1)).toBe(0xf1);
    pm.smiPort.write(0, 1, 0xf0);
    expect(pm.read(ACPI_PM1_CNT, 2) & ACPI_SCI_EN).toBe(0);
    expect(sci).toEqual([true, false]);
    pm.smiPort.write(0, 1, 0x12); // other SMI commands: recorded, no effect
    expect(pm.read(ACPI_PM1_CNT, 2) & ACPI_SCI_EN).toBe(0);
  });

  it('the PM timer equals floor(cycles·3579545/hz) mod 2^24 exactly, on both arithmetic paths', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1_000_000_000, 2_400_000_000, 3_000_000_007, 999_999_937),
        fc.oneof(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
        (hz, cycles) => {
          const clock = {
            hz,
            t: cycles,
            now() {
              return this.t;
            },
          };
          const pm = new AcpiPm({ clock });
          const want = Number(((BigInt(cycles) * 3_579_545n) / BigInt(hz)) % (1n << 24n));
          expect(pm.read(ACPI_PM_TMR, 4)).toBe(want);
          expect(pm.read(ACPI_PM_TMR, 2) | (pm.read(ACPI_PM_TMR + 2, 2) << 16)).toBe(want);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('random port traffic never throws', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            off: fc.integer({ min: 0, max: 11 }),
            size: fc.constantFrom(1, 2, 4),
            v: fc.integer({ min: 0, max: 0xffffffff }),
            w: fc.boolean(),
            dt: fc.integer({ min: 0, max: 10_000_000 }),
          }),
          { maxLength: 100 },
        ),
        (ops) => {
          const { clock, pm } = rig();
          for (const op of ops) {
            clock.t += op.dt;
            pm.update();
            if (op.w) pm.write(op.off, op.size, op.v);
            else {
              const x = pm.read(op.off, op.size);
              expect(x >= 0 && x <= 0xffffffff).toBe(true);
            }
            const d = pm.nextDeadline();
            expect(d === Number.POSITIVE_INFINITY || d > clock.t).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

const ACPI_PM_TIMER_HZ = 3_579_545;
