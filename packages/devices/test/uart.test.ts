import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DevicesError } from '../src/errors';
import {
  UART_DLL,
  UART_DLM,
  UART_FCR,
  UART_IER,
  UART_IIR,
  UART_LCR,
  UART_LSR,
  UART_MCR,
  UART_MSR,
  UART_RX,
  UART_SCR,
  UART_TX,
} from '../src/uart/registers';
import { Uart16550, type UartOptions } from '../src/uart/uart16550';

function rig(extra: Partial<UartOptions> = {}) {
  const out: number[] = [];
  const irqs: boolean[] = [];
  const uart = new Uart16550({ irq: (l) => irqs.push(l), output: (b) => out.push(b), ...extra });
  return { uart, out, irqs };
}

describe('Uart16550 registers', () => {
  it('has the documented reset state', () => {
    const { uart } = rig();
    expect(uart.read(UART_IIR)).toBe(0x01); // no interrupt, FIFOs off
    expect(uart.read(UART_LSR)).toBe(0x60); // THRE | TEMT
    expect(uart.read(UART_MSR)).toBe(0xb0); // DCD | DSR | CTS, no deltas
    expect(uart.read(UART_LCR)).toBe(0x03);
    expect(uart.read(UART_IER)).toBe(0);
  });

  it('reaches the divisor latch through DLAB without disturbing IER/THR', () => {
    const { uart, out } = rig();
    uart.write(UART_IER, 0x05);
    uart.write(UART_LCR, 0x83);
    uart.write(UART_DLL, 0x01);
    uart.write(UART_DLM, 0x00);
    expect(uart.read(UART_DLL)).toBe(1);
    expect(uart.read(UART_DLM)).toBe(0);
    expect(uart.baudRate).toBe(115200);
    uart.write(UART_LCR, 0x03);
    expect(uart.read(UART_IER)).toBe(0x05);
    expect(out).toEqual([]); // the DLL write did not transmit
    uart.write(UART_LCR, 0x80);
    uart.write(UART_DLL, 0x0c);
    expect(uart.baudRate).toBe(9600);
  });

  it('transmits THR bytes to the output and keeps IER upper bits and scratch', () => {
    const { uart, out } = rig();
    for (const c of 'hi\n') uart.write(UART_TX, c.charCodeAt(0));
    expect(String.fromCharCode(...out)).toBe('hi\n');
    expect(uart.counters.txBytes).toBe(3);
    uart.write(UART_IER, 0xff);
    expect(uart.read(UART_IER)).toBe(0x0f);
    uart.write(UART_SCR, 0xa5);
    expect(uart.read(UART_SCR)).toBe(0xa5);
  });
});

describe('Uart16550 interrupts', () => {
  it('raises THRE when ETBEI is enabled, clears it on IIR read, re-arms with an edge on THR write', () => {
    const { uart, irqs } = rig();
    uart.write(UART_IER, 0x02);
    expect(irqs).toEqual([true]);
    expect(uart.read(UART_IIR)).toBe(0x02);
    expect(irqs).toEqual([true, false]);
    expect(uart.read(UART_IIR)).toBe(0x01); // cleared by the previous read
    uart.write(UART_TX, 0x41);
    expect(irqs).toEqual([true, false, true]);
    uart.write(UART_TX, 0x42); // still pending: the line pulses low then high again
    expect(irqs).toEqual([true, false, true, false, true]);
    uart.write(UART_IER, 0);
    expect(irqs.at(-1)).toBe(false);
  });

  it("passes Linux 8250 startup's TX-enable and THRE re-assert probes (no UART_BUG_TXEN/THRE)", () => {
    const { uart } = rig();
    // autoconfig: FCR 0xE7 would set IIR bit 5 on a 16750; a 16550A reports 0xC0 only.
    uart.write(UART_FCR, 0xe7);
    expect(uart.read(UART_IIR) & 0xe0).toBe(0xc0);
    uart.write(UART_FCR, 0x00);
    // UART_BUG_TXEN test
    uart.write(UART_IER, 0x02);
    const lsr = uart.read(UART_LSR);
    let iir = uart.read(UART_IIR);
    uart.write(UART_IER, 0);
    expect(lsr & 0x40 && iir & 0x01).toBe(0);
    // UART_BUG_THRE test
    uart.write(UART_IER, 0x02);
    const iir1 = uart.read(UART_IIR);
    uart.write(UART_IER, 0);
    uart.write(UART_IER, 0x02);
    iir = uart.read(UART_IIR);
    uart.write(UART_IER, 0);
    expect(iir1 & 0x01).toBe(0); // THRE was raised ...
    expect(iir & 0x01).toBe(0); // ... and re-asserted after IER was toggled
  });

  it('signals data by FIFO trigger level and character timeout', () => {
    const { uart, irqs } = rig();
    uart.write(UART_FCR, 0xc7); // enable, clear both, trigger 14
    uart.write(UART_IER, 0x01);
    expect(uart.read(UART_IIR)).toBe(0xc1);
    uart.enqueueInput([1, 2, 3]);
    expect(irqs).toEqual([true]);
    expect(uart.read(UART_IIR)).toBe(0xcc); // timeout: 3 < 14 and no more input coming
    uart.enqueueInput([4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    expect(uart.rxFifoLevel).toBe(14);
    expect(uart.read(UART_IIR)).toBe(0xc4); // at trigger level: RDA
    expect(uart.read(UART_RX)).toBe(1);
    expect(uart.read(UART_IIR)).toBe(0xcc); // 13 left: timeout again
    for (let i = 2; i <= 14; i++) expect(uart.read(UART_RX)).toBe(i);
    expect(uart.read(UART_IIR)).toBe(0xc1);
    expect(uart.read(UART_LSR) & 1).toBe(0);
    expect(irqs.at(-1)).toBe(false);
    // trigger 4: exactly 4 bytes is RDA
    uart.write(UART_FCR, 0x41);
    uart.enqueueInput([1, 2, 3, 4]);
    expect(uart.read(UART_IIR)).toBe(0xc4);
  });

  it('with FIFOs off gives each queued byte its own RDA edge (the line drops when RBR is read)', () => {
    const { uart, irqs } = rig();
    uart.write(UART_IER, 0x01);
    uart.enqueueInput([0x61, 0x62, 0x63]);
    expect(irqs).toEqual([true]);
    expect(uart.read(UART_IIR)).toBe(0x04);
    expect(uart.read(UART_RX)).toBe(0x61);
    expect(irqs).toEqual([true, false, true]);
    expect(uart.read(UART_RX)).toBe(0x62);
    expect(uart.read(UART_RX)).toBe(0x63);
    expect(irqs).toEqual([true, false, true, false, true, false]);
  });

  it('orders causes RLS > RDA > THRE > MSR and clears each at its documented source', () => {
    const { uart } = rig();
    uart.write(UART_MCR, 0x10); // loopback, all modem outputs off
    uart.read(UART_MSR); // discard the deltas of entering loopback
    uart.write(UART_IER, 0x0f);
    uart.write(UART_TX, 0x11); // non-FIFO mode: one-byte holding register
    uart.write(UART_TX, 0x22); // overrun
    uart.write(UART_MCR, 0x11); // DTR on: DSR changes in loopback -> DDSR
    expect(uart.counters.overruns).toBe(1);
    expect(uart.read(UART_IIR)).toBe(0x06); // RLS
    const lsr = uart.read(UART_LSR);
    expect(lsr & 0x03).toBe(0x03); // OE | DR
    expect(uart.read(UART_LSR) & 0x02).toBe(0); // OE cleared by reading LSR
    expect(uart.read(UART_IIR)).toBe(0x04); // RDA
    expect(uart.read(UART_RX)).toBe(0x11); // the overrun byte was lost, not the first one
    expect(uart.read(UART_IIR)).toBe(0x02); // THRE (cleared by this read)
    expect(uart.read(UART_IIR)).toBe(0x00); // modem status
    expect(uart.read(UART_MSR)).toBe(0x20 | 0x02); // DSR | DDSR
    expect(uart.read(UART_IIR)).toBe(0x01);
  });

  it('reports a received break with LSR.BI when it reaches the top of the FIFO (line-status interrupt)', () => {
    const { uart } = rig();
    uart.write(UART_FCR, 0x07); // FIFO, trigger 1
    uart.write(UART_IER, 0x05); // RDA + RLS
    uart.enqueueInput([0x61]);
    expect(uart.enqueueBreak()).toBe(true);
    uart.enqueueInput([0x62]);
    expect(uart.enqueueWithError(0x63, 'parity')).toBe(true);
    expect(uart.read(UART_IIR)).toBe(0xc4); // 'a' on top: no error yet
    expect(uart.read(UART_LSR)).toBe(0xe1); // DR, THRE, TEMT and FIFOE (errored bytes in the FIFO)
    expect(uart.read(UART_RX)).toBe(0x61);
    expect(uart.read(UART_IIR)).toBe(0xc6); // the break is on top: RLS outranks RDA
    expect(uart.read(UART_LSR)).toBe(0xf1); // BI | DR | THRE | TEMT | FIFOE
    expect(uart.read(UART_IIR)).toBe(0xc4);
    expect(uart.read(UART_RX)).toBe(0x00); // the break character
    expect(uart.read(UART_LSR) & 0x1e).toBe(0);
    expect(uart.read(UART_RX)).toBe(0x62);
    expect(uart.read(UART_LSR) & 0x9e).toBe(0x84); // PE of 'c' revealed, FIFOE
    expect(uart.read(UART_RX)).toBe(0x63);
    expect(uart.read(UART_LSR)).toBe(0x60);
    expect(() => uart.enqueueWithError(1, 'noise' as never)).toThrow(/noise is not parity/);
  });

  it('loops MCR outputs back into MSR and received data in loopback', () => {
    const { uart, out } = rig();
    uart.write(UART_FCR, 0x01);
    uart.write(UART_MCR, 0x1f);
    expect(uart.read(UART_MSR) & 0xf0).toBe(0xf0); // CTS=RTS, DSR=DTR, RI=OUT1, DCD=OUT2
    uart.write(UART_MCR, 0x1b); // OUT1 off: RI trailing edge
    expect(uart.read(UART_MSR) & 0x04).toBe(0x04);
    for (let i = 0; i < 20; i++) uart.write(UART_TX, i);
    expect(out).toEqual([]);
    expect(uart.rxFifoLevel).toBe(16);
    expect(uart.counters.overruns).toBe(4);
    expect(uart.read(UART_RX)).toBe(0);
  });

  it('reports host modem input changes as MSR deltas', () => {
    const { uart, irqs } = rig();
    uart.write(UART_IER, 0x08);
    uart.setModemInputs({ dcd: false, ri: true });
    expect(irqs).toEqual([true]);
    expect(uart.read(UART_IIR)).toBe(0x00);
    expect(uart.read(UART_MSR)).toBe(0x70 | 0x08); // CTS DSR RI + DDCD
    expect(irqs).toEqual([true, false]);
    uart.setModemInputs({ ri: false });
    expect(uart.read(UART_MSR) & 0x0f).toBe(0x04); // TERI
  });

  it('gates the interrupt with OUT2 when asked to', () => {
    const { uart, irqs } = rig({ gateIrqWithOut2: true });
    uart.write(UART_MCR, 0x00);
    uart.write(UART_IER, 0x02);
    expect(irqs).toEqual([]);
    uart.write(UART_MCR, 0x08);
    expect(irqs).toEqual([true]);
  });
});

describe('Uart16550 input backpressure', () => {
  it('never drops a host byte: the queue refuses what does not fit and the guest gets everything in order', () => {
    let drained = 0;
    let reads = 0;
    let missed = 0;
    const { uart } = rig({
      inputCapacity: 32,
      events: { inputDrained: () => drained++, bufferRead: () => reads++, missedRead: () => missed++ },
    });
    uart.write(UART_FCR, 0x01);
    const data = Array.from({ length: 100 }, (_, i) => (i * 7) & 0xff);
    let sent = uart.enqueueInput(data);
    expect(sent).toBe(32); // 16 went into the FIFO, 16 wait in the queue
    expect(uart.rxFifoLevel).toBe(16);
    const got: number[] = [];
    while (got.length < data.length) {
      if (sent < data.length) sent += uart.enqueueInput(data.slice(sent));
      while (uart.read(UART_LSR) & 1) got.push(uart.read(UART_RX));
    }
    expect(got).toEqual(data);
    expect(uart.counters.missedReads).toBe(0);
    expect(drained).toBeGreaterThan(0);
    expect(reads).toBe(100);
    expect(uart.read(UART_RX)).toBe(0);
    expect(uart.counters.missedReads).toBe(1);
    expect(missed).toBe(1);
  });

  it('keeps queued input while in loopback and delivers it afterwards', () => {
    const { uart } = rig();
    uart.write(UART_MCR, 0x10);
    expect(uart.enqueueInput([9, 8])).toBe(2);
    expect(uart.read(UART_LSR) & 1).toBe(0);
    uart.write(UART_MCR, 0x00);
    expect(uart.read(UART_RX)).toBe(9);
    expect(uart.read(UART_RX)).toBe(8);
  });

  it('discards the FIFO (not the host queue) on a guest FIFO reset', () => {
    const { uart } = rig({ inputCapacity: 64 });
    uart.write(UART_FCR, 0x01);
    uart.enqueueInput(Array.from({ length: 20 }, (_, i) => i));
    uart.write(UART_FCR, 0x03); // clear receive FIFO: bytes 0..15 go, 16..19 refill
    expect(uart.counters.discarded).toBe(16);
    expect(uart.read(UART_RX)).toBe(16);
  });
});

describe('Uart16550 snapshots', () => {
  it('round-trips through JSON and continues identically', () => {
    const a = rig();
    a.uart.write(UART_FCR, 0x81);
    a.uart.write(UART_IER, 0x03);
    a.uart.write(UART_SCR, 0x5a);
    a.uart.enqueueInput(Array.from({ length: 40 }, (_, i) => i + 1));
    a.uart.read(UART_RX);
    const state = JSON.parse(JSON.stringify(a.uart.saveState()));
    const b = rig();
    const uart = Uart16550.fromState(state, { irq: (l) => b.irqs.push(l), output: (x) => b.out.push(x) });
    expect(b.irqs).toEqual([true]);
    for (const u of [a.uart, uart]) expect(u.read(UART_SCR)).toBe(0x5a);
    const readAll = (u: Uart16550) => {
      const r: number[] = [];
      while (u.read(UART_LSR) & 1) r.push(u.read(UART_RX));
      return r;
    };
    expect(readAll(uart)).toEqual(readAll(a.uart));
    expect(uart.read(UART_IIR)).toBe(0xc2);
  });

  it('rejects malformed snapshots with INVALID_STATE', () => {
    const { uart } = rig();
    const good = uart.saveState();
    const opts = { irq: () => {}, output: () => {} };
    for (const bad of [
      { ...good, version: 2 },
      { ...good, lcr: 256 },
      { ...good, triggerLevel: 5 },
      { ...good, rxFifo: [1, 2] },
    ]) {
      try {
        Uart16550.fromState(bad as never, opts);
        expect.unreachable();
      } catch (e) {
        expect(DevicesError.isInstance(e) && e.code).toBe('INVALID_STATE');
      }
    }
    expect(() => new Uart16550({} as never)).toThrow(DevicesError);
  });
});

describe('Uart16550 under random guest traffic', () => {
  it('never throws and keeps LSR.DR, the FIFO level and the irq line consistent', () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('r' as const), off: fc.integer({ min: 0, max: 7 }) }),
      fc.record({
        k: fc.constant('w' as const),
        off: fc.integer({ min: 0, max: 7 }),
        v: fc.integer({ min: 0, max: 255 }),
      }),
      fc.record({ k: fc.constant('in' as const), bytes: fc.uint8Array({ maxLength: 24 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const { uart, irqs } = rig({ inputCapacity: 64 });
        for (const o of ops) {
          if (o.k === 'r') uart.read(o.off);
          else if (o.k === 'w') uart.write(o.off, o.v);
          else uart.enqueueInput(o.bytes);
          expect(uart.rxFifoLevel).toBeLessThanOrEqual(16);
          expect(uart.pendingInput).toBeLessThanOrEqual(64);
        }
        for (let i = 1; i < irqs.length; i++) expect(irqs[i]).not.toBe(irqs[i - 1]);
        expect(uart.irqAsserted).toBe(irqs.at(-1) ?? false);
        const lcr = uart.read(UART_LCR);
        uart.write(UART_LCR, lcr & 0x7f);
        expect((uart.read(UART_LSR) & 1) === 1).toBe(uart.rxFifoLevel > 0);
      }),
      { numRuns: 300 },
    );
  });
});
