import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DebugConsole } from '../src/system/debug-console';
import { DebugExit, debugExitStatus } from '../src/system/debug-exit';
import type { ResetKind } from '../src/system/events';
import {
  I8042,
  I8042_CMD_CTL_RCTR,
  I8042_CMD_CTL_TEST,
  I8042_CMD_CTL_WCTR,
  I8042_CMD_KBD_DISABLE,
  I8042_CMD_KBD_ENABLE,
  I8042_CMD_KBD_TEST,
  I8042_CMD_READ_OUTPUT,
  I8042_CMD_RESET,
  I8042_CMD_WRITE_OUTPUT,
  I8042_CTR_KBDINT,
  I8042_DATA,
  I8042_STATUS,
  I8042_STR_AUXDATA,
  I8042_STR_CMDDAT,
  I8042_STR_OBF,
  I8042_STR_SYSFLAG,
} from '../src/system/i8042';
import { Port92 } from '../src/system/port92';
import { POST_HISTORY, PostPort } from '../src/system/post';
import { ResetControl } from '../src/system/reset-control';

function harness() {
  const resets: ResetKind[] = [];
  const a20: boolean[] = [];
  const irqs: [number, boolean][] = [];
  const events = { onReset: (k: ResetKind) => resets.push(k), onA20: (e: boolean) => a20.push(e) };
  const kbc = new I8042({ events, irq: (l, v) => irqs.push([l, v]) });
  const cmd = (c: number) => kbc.write(I8042_STATUS, 1, c);
  const data = (d: number) => kbc.write(I8042_DATA, 1, d);
  const status = () => kbc.read(I8042_STATUS, 1);
  const readData = () => kbc.read(I8042_DATA, 1);
  return { kbc, resets, a20, irqs, cmd, data, status, readData };
}

describe('i8042', () => {
  it('self-test 0xaa answers 0x55 and sets the system flag', () => {
    const h = harness();
    expect(h.status() & I8042_STR_OBF).toBe(0);
    h.cmd(I8042_CMD_CTL_TEST);
    expect(h.status() & (I8042_STR_OBF | I8042_STR_SYSFLAG | I8042_STR_CMDDAT)).toBe(
      I8042_STR_OBF | I8042_STR_SYSFLAG | I8042_STR_CMDDAT,
    );
    expect(h.readData()).toBe(0x55);
    expect(h.status() & I8042_STR_OBF).toBe(0);
  });

  it('reads and writes the command byte like Linux i8042_controller_check/init', () => {
    const h = harness();
    h.cmd(I8042_CMD_CTL_RCTR);
    const ctr = h.readData();
    expect(ctr & 0x40).toBe(0x40); // translation on by default
    h.cmd(I8042_CMD_CTL_WCTR);
    h.data(0x65);
    h.cmd(I8042_CMD_CTL_RCTR);
    expect(h.readData()).toBe(0x65);
    expect(h.status() & I8042_STR_CMDDAT).toBe(I8042_STR_CMDDAT);
  });

  it('interface test answers 0 and controller replies are not held back by a disabled keyboard', () => {
    const h = harness();
    h.cmd(I8042_CMD_KBD_DISABLE);
    h.cmd(I8042_CMD_KBD_TEST);
    expect(h.status() & I8042_STR_OBF).toBe(I8042_STR_OBF);
    expect(h.readData()).toBe(0x00);
  });

  it('pulse 0xfe requests a reset; 0xff does not', () => {
    const h = harness();
    h.cmd(0xff);
    expect(h.resets).toEqual([]);
    h.cmd(I8042_CMD_RESET);
    expect(h.resets).toEqual(['i8042']);
  });

  it('output port: A20 via 0xd1 and reset when bit 0 is written low; 0xd0 reads it back', () => {
    const h = harness();
    h.cmd(I8042_CMD_WRITE_OUTPUT);
    h.data(0x01); // A20 off, reset line high
    expect(h.a20).toEqual([false]);
    expect(h.kbc.a20).toBe(false);
    h.cmd(I8042_CMD_READ_OUTPUT);
    expect(h.readData() & 0x03).toBe(0x01);
    h.cmd(I8042_CMD_WRITE_OUTPUT);
    h.data(0xdf & ~0x01); // A20 on, reset low
    expect(h.a20).toEqual([false, true]);
    expect(h.resets).toEqual(['i8042']);
    h.cmd(0xdd);
    h.cmd(0xdf);
    expect(h.a20).toEqual([false, true, false, true]);
  });

  it('keyboard reset acknowledges with 0xfa then 0xaa, and identify with fa ab 83', () => {
    const h = harness();
    h.data(0xff);
    expect(h.readData()).toBe(0xfa);
    expect(h.readData()).toBe(0xaa);
    h.data(0xf2);
    expect([h.readData(), h.readData(), h.readData()]).toEqual([0xfa, 0xab, 0x83]);
    h.data(0xed); // set LEDs takes a parameter
    expect(h.readData()).toBe(0xfa);
    h.data(0x07);
    expect(h.readData()).toBe(0xfa);
    h.data(0x12); // unknown
    expect(h.readData()).toBe(0xfe);
  });

  it('AUX commands through 0xd4 answer on the AUX side with AUXDATA and IRQ12 when enabled', () => {
    const h = harness();
    h.cmd(I8042_CMD_CTL_WCTR);
    h.data(0x47); // KBDINT | AUXINT | SYS | XLATE
    h.cmd(0xd4);
    h.data(0xf2);
    expect(h.status() & (I8042_STR_OBF | I8042_STR_AUXDATA)).toBe(I8042_STR_OBF | I8042_STR_AUXDATA);
    expect(h.irqs.at(-1)).toEqual([12, true]);
    expect(h.readData()).toBe(0xfa);
    expect(h.readData()).toBe(0x00);
    expect(h.irqs.at(-1)).toEqual([12, false]);
  });

  it('AUX loopback (0xd3) works with the AUX port disabled, as Linux i8042_check_aux expects', () => {
    const h = harness();
    h.cmd(0xa7); // disable AUX
    h.cmd(0xd3);
    h.data(0x5a);
    expect(h.status() & (I8042_STR_OBF | I8042_STR_AUXDATA)).toBe(I8042_STR_OBF | I8042_STR_AUXDATA);
    expect(h.readData()).toBe(0x5a);
    h.cmd(0xd2); // keyboard loopback
    h.data(0x33);
    expect(h.status() & I8042_STR_AUXDATA).toBe(0);
    expect(h.readData()).toBe(0x33);
  });

  it('host scancodes are delivered one at a time with IRQ1, held while the keyboard is disabled', () => {
    const h = harness();
    h.cmd(I8042_CMD_KBD_DISABLE);
    expect(h.kbc.enqueueScancodes([0x1e, 0x9e])).toBe(2);
    expect(h.status() & I8042_STR_OBF).toBe(0);
    h.cmd(I8042_CMD_KBD_ENABLE);
    expect(h.status() & I8042_STR_OBF).toBe(I8042_STR_OBF);
    expect(h.irqs).toEqual([[1, true]]);
    expect(h.readData()).toBe(0x1e);
    // The next byte is loaded at once: IRQ1 drops and rises again around the read.
    expect(h.irqs).toEqual([[1, true]]);
    expect(h.readData()).toBe(0x9e);
    expect(h.irqs).toEqual([
      [1, true],
      [1, false],
    ]);
    expect(h.kbc.pendingInput).toBe(0);
  });

  it('IRQ1 follows the command byte interrupt enable', () => {
    const h = harness();
    h.cmd(I8042_CMD_CTL_WCTR);
    h.data(0x44 & ~I8042_CTR_KBDINT);
    h.kbc.enqueueScancodes([0x1c]);
    expect(h.irqs).toEqual([]);
    expect(h.readData()).toBe(0x1c);
  });

  it('random traffic never throws and the status stays a byte', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            port: fc.integer({ min: 0, max: 7 }),
            w: fc.boolean(),
            v: fc.integer({ min: 0, max: 0xffffffff }),
            size: fc.constantFrom(1, 2, 4),
          }),
          { maxLength: 200 },
        ),
        (ops) => {
          const h = harness();
          for (const op of ops) {
            if (op.w) h.kbc.write(op.port, op.size, op.v);
            else {
              const r = h.kbc.read(op.port, op.size);
              expect(Number.isInteger(r) && r >= 0).toBe(true);
            }
          }
          const s = h.status();
          expect(s >= 0 && s <= 0xff).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('port 0x92', () => {
  it('bit 1 gates A20 and a 0 → 1 edge of bit 0 resets', () => {
    const resets: ResetKind[] = [];
    const a20: boolean[] = [];
    const p = new Port92({ events: { onReset: (k) => resets.push(k), onA20: (e) => a20.push(e) } });
    p.write(0, 1, 0x02);
    expect(a20).toEqual([true]);
    expect(p.read(0, 1)).toBe(0x02);
    p.write(0, 1, 0x03);
    expect(resets).toEqual(['port92']);
    expect(p.read(0, 1)).toBe(0x02); // bit 0 self-clears
    p.write(0, 1, 0x03);
    expect(resets).toEqual(['port92', 'port92']);
    expect(a20).toEqual([true]);
  });
});

describe('reset control 0xcf9', () => {
  it('follows Linux reboot=pci: 0x02 then 0x06 is a hard reset, 0x0e a full one', () => {
    const resets: ResetKind[] = [];
    const r = new ResetControl({ events: { onReset: (k) => resets.push(k) } });
    r.write(0, 1, 0x02);
    expect(resets).toEqual([]);
    expect(r.read(0, 1)).toBe(0x02);
    r.write(0, 1, 0x06);
    expect(resets).toEqual(['cf9-hard']);
    expect(r.read(0, 1)).toBe(0x02); // RST_CPU is not stored
    r.write(0, 1, 0x04);
    r.write(0, 1, 0x0e);
    expect(resets).toEqual(['cf9-hard', 'cf9-soft', 'cf9-full']);
    r.write(0, 2, 0x06); // not a byte access: not this register
    expect(resets.length).toBe(3);
    expect(r.read(0, 2)).toBe(0xffff);
  });
});

describe('POST ports', () => {
  it('record codes and read as all-ones', () => {
    const seen: number[] = [];
    const p = new PostPort({ onCode: (c) => seen.push(c) });
    expect(p.lastCode).toBe(-1);
    p.write(0, 1, 0x1234);
    p.write(0, 2, 0xabcd);
    expect(p.lastCode).toBe(0xabcd);
    expect(seen).toEqual([0x34, 0xabcd]);
    expect(p.read(0, 1)).toBe(0xff);
    for (let i = 0; i < POST_HISTORY + 5; i++) p.write(0, 1, i);
    const h = p.history();
    expect(h.length).toBe(POST_HISTORY);
    expect(h[0]).toBe(5);
    expect(h.at(-1)).toBe(POST_HISTORY + 4);
  });
});

describe('debug console 0xe9', () => {
  it('sends bytes to the host and reads back 0xe9', () => {
    const out: number[] = [];
    const d = new DebugConsole({ output: (b) => out.push(b) });
    for (const c of 'hi\n') d.write(0, 1, c.charCodeAt(0));
    d.write(0, 2, 0x4241);
    expect(String.fromCharCode(...out)).toBe('hi\nAB');
    expect(d.read(0, 1)).toBe(0xe9);
  });
});

describe('debug exit 0xf4', () => {
  it('requests a stop with status (v << 1) | 1 at any size', () => {
    const codes: number[] = [];
    const d = new DebugExit({ events: { onExit: (s) => codes.push(s) } });
    d.write(0, 1, 0x10);
    d.write(0, 4, 0x20);
    d.write(0, 1, 0x1ff); // byte access keeps only the low byte
    d.write(0, 4, 0x80000000); // C int arithmetic: wraps to 1
    expect(codes).toEqual([0x21, 0x41, 0x1ff, 1]);
    expect(debugExitStatus(0, 4)).toBe(1);
    expect(d.read(0, 4)).toBe(0);
  });
});

describe('small ports never throw', () => {
  it('under random traffic', () => {
    const devs = [new Port92(), new ResetControl(), new PostPort(), new DebugConsole(), new DebugExit()];
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 4 }),
            fc.integer({ min: 0, max: 3 }),
            fc.constantFrom(1, 2, 4),
            fc.integer({ min: 0, max: 0xffffffff }),
            fc.boolean(),
          ),
          { maxLength: 100 },
        ),
        (ops) => {
          for (const [d, off, size, v, w] of ops) {
            if (w) devs[d]!.write(off, size, v);
            else {
              const r = devs[d]!.read(off, size);
              expect(r >= 0 && r <= 0xffffffff).toBe(true);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
