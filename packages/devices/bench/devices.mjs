// Benchmark: host cost of the guest's port traffic to the platform devices, side by side in one
// run. Each figure is guest-visible operations per second of this process's wall clock (and ns per
// operation), with the cost of going through the PortBus (what the CPU does on IN/OUT) next to
// calling the device directly.
// A trapped IN/OUT costs a VT-x exit on hardware; these numbers are the emulation work behind it.
import { performance } from 'node:perf_hooks';
import { Pic8259Pair, Pit8254, PortBus, Rtc, Uart16550 } from '../dist/index.js';

const N = Number(process.env.ITER ?? 1_000_000);

const clock = {
  t: 0,
  hz: 1e9,
  now() {
    return this.t;
  },
};
const pic = new Pic8259Pair();
const pit = new Pit8254({ clock, irq: (l) => pic.setIrq(0, l) });
let sink = 0;
const uart = new Uart16550({ irq: (l) => pic.setIrq(4, l), output: (b) => (sink += b) });
const rtc = new Rtc({ clock, irq: (l) => pic.setIrq(8, l), epochMs: Date.UTC(2026, 0, 1) });
const bus = new PortBus();
bus.registerBytes(0x20, 2, pic.master, 'pic-master');
bus.registerBytes(0xa0, 2, pic.slave, 'pic-slave');
bus.registerBytes(0x40, 4, pit, 'pit');
bus.registerBytes(0x61, 1, pit.portB, 'port-b');
bus.registerBytes(0x70, 2, rtc, 'rtc');
bus.registerBytes(0x3f8, 8, uart, 'com1');

function rate(name, fn, ops = 1) {
  fn(N); // warm up (JIT)
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    fn(N);
    best = Math.min(best, performance.now() - t0);
  }
  return { name, perSec: (N * ops) / (best / 1000), ms: best };
}

function show(rows) {
  for (const r of rows) {
    const ns = 1e9 / r.perSec;
    console.log(
      `${r.name.padEnd(52)} ${(r.perSec / 1e6).toFixed(2).padStart(8)} M/s ${ns.toFixed(1).padStart(7)} ns/op`,
    );
  }
}

// Pre-programme the devices as Linux leaves them.
for (const [p, v] of [
  [0x20, 0x11],
  [0x21, 0x30],
  [0x21, 0x04],
  [0x21, 0x01],
  [0xa0, 0x11],
  [0xa1, 0x38],
  [0xa1, 0x02],
  [0xa1, 0x01],
  [0x21, 0x00],
  [0xa1, 0x00],
  [0x43, 0x34],
  [0x40, 0x9c],
  [0x40, 0x2e],
])
  bus.out(p, 1, v);

console.log(`@pv/devices bench, ${N.toLocaleString()} iterations per row, best of 3 after a warm-up\n`);

const direct = rate('UART LSR/SCR reads, direct uart.read(5 | 7)', (n) => {
  let x = 0;
  for (let i = 0; i < n; i++) x ^= uart.read(5 | ((i & 1) << 1));
  sink += x;
});
const viaBus = rate('UART LSR/SCR reads, bus.in(0x3fd | 0x3ff, 1)', (n) => {
  let x = 0;
  for (let i = 0; i < n; i++) x ^= bus.in(0x3fd | ((i & 1) << 1), 1);
  sink += x;
});
const split = rate('16-bit IN split into two byte reads (0x3fc/0x3fe)', (n) => {
  let x = 0;
  for (let i = 0; i < n; i++) x ^= bus.in(0x3fc | ((i & 1) << 1), 2);
  sink += x;
});
const unclaimed = rate('IN from unclaimed ports (0x1234/0x1236)', (n) => {
  let x = 0;
  for (let i = 0; i < n; i++) x ^= bus.in(0x1234 | ((i & 1) << 1), 1);
  sink += x;
});
show([direct, viaBus, split, unclaimed]);
console.log(
  `bus dispatch overhead: ${(1e9 / viaBus.perSec - 1e9 / direct.perSec).toFixed(1)} ns per IN ` +
    '(the direct call is inlined by V8)',
);
console.log('');

const tx = rate('UART transmit: OUT 0x3f8 (byte to the output sink)', (n) => {
  for (let i = 0; i < n; i++) bus.out(0x3f8, 1, i & 0x7f);
});
const pitLatch = rate('PIT: latch + 2 reads of channel 0 (3 port ops)', (n) => {
  let x = 0;
  for (let i = 0; i < n; i++) {
    clock.t += 50;
    bus.out(0x43, 1, 0x00);
    x ^= bus.in(0x40, 1) | (bus.in(0x40, 1) << 8);
  }
  sink += x;
});
const rtcRead = rate('RTC: select + read seconds (2 port ops)', (n) => {
  let x = 0;
  for (let i = 0; i < n; i++) {
    clock.t += 1000;
    bus.out(0x70, 1, 0x00);
    x ^= bus.in(0x71, 1);
  }
  sink += x;
});
const picCycle = rate('PIC: IRQ edge + INTA + EOI (one full interrupt)', (n) => {
  let x = 0;
  for (let i = 0; i < n; i++) {
    pic.setIrq(3, true);
    x ^= pic.acknowledge();
    pic.setIrq(3, false);
    bus.out(0x20, 1, 0x20);
  }
  sink += x;
});
show([tx, pitLatch, rtcRead, picCycle]);
console.log(`\n(checksum ${sink & 0xffff})`);
