// Benchmark: typical guest APIC sequences as single trapped writes vs one writeBatch.
// Host time per sequence (wall clock of this process) and exits per sequence (counted by the
// APIC: every MMIO/MSR access is one exit, every batch is one exit), side by side in one run.
// Virtual cost uses DESIGN.md §3's default of 1,500 cycles per exit.
import { performance } from 'node:perf_hooks';
import { ApicBus, LocalApic } from '../dist/index.js';

const EXIT_CYCLES = 1500;
const ITER = Number(process.env.ITER ?? 200_000);

function makeMachine(n, x2) {
  const clock = {
    t: 0,
    hz: 1e9,
    now() {
      return this.t;
    },
  };
  const bus = new ApicBus();
  const apics = [];
  for (let i = 0; i < n; i++) {
    const a = new LocalApic({ id: i, clock, bus, bsp: i === 0 });
    if (x2) {
      a.writeMsr(0x1b, 0xfee00c00n);
      a.writeMsr(0x80f, 0x1ffn);
    } else a.mmioWrite(0xf0, 4, 0x1ff);
    apics.push(a);
  }
  return { clock, bus, apics };
}

function exits(apics) {
  let n = 0;
  for (const a of apics) n += a.stats.accesses + a.stats.batches;
  return n;
}

const ROUNDS = 7;

/** Time `body` over ITER iterations; the best of ROUNDS rounds (rounds of all variants interleave). */
function variant(setup, body) {
  const ctx = setup();
  for (let i = 0; i < ITER; i++) body(ctx, i); // warm-up (JIT)
  return { ctx, body, ns: Number.POSITIVE_INFINITY, exits: 0 };
}

function round(v) {
  const e0 = exits(v.ctx.apics);
  const t0 = performance.now();
  for (let i = 0; i < ITER; i++) v.body(v.ctx, i);
  const t1 = performance.now();
  v.ns = Math.min(v.ns, ((t1 - t0) * 1e6) / ITER);
  v.exits = (exits(v.ctx.apics) - e0) / ITER;
}

// 1. Timer reprogram: LVT timer (one-shot, vector 0xef), divide, initial count (xAPIC MMIO).
const timerEntries = [
  { reg: 0x32, value: 0xef },
  { reg: 0x3e, value: 0x3 },
  { reg: 0x38, value: 0 },
];
const timerSingle = variant(
  () => makeMachine(1, false),
  ({ apics, clock }, i) => {
    clock.t += 100;
    const a = apics[0];
    a.mmioWrite(0x320, 4, 0xef);
    a.mmioWrite(0x3e0, 4, 0x3);
    a.mmioWrite(0x380, 4, 10_000 + (i & 1023));
  },
);
const timerBatch = variant(
  () => makeMachine(1, false),
  ({ apics, clock }, i) => {
    clock.t += 100;
    timerEntries[2].value = 10_000 + (i & 1023);
    apics[0].writeBatch(timerEntries);
  },
);

// 2. EOI + TPR write. Before each sequence vector 0x41 is put in service directly in the ISR
// array (the interrupt the handler is finishing; no APIC call, no exit) so every EOI retires it.
const eoiEntries = [
  { reg: 0x0b, value: 0 },
  { reg: 0x08, value: 0x20 },
];
const eoiSingle = variant(
  () => makeMachine(1, false),
  ({ apics }, i) => {
    const a = apics[0];
    a.isr[2] = 2;
    a.mmioWrite(0xb0, 4, 0);
    a.mmioWrite(0x80, 4, (i & 1) << 5);
  },
);
const eoiBatch = variant(
  () => makeMachine(1, false),
  ({ apics }, i) => {
    const a = apics[0];
    a.isr[2] = 2;
    eoiEntries[1].value = (i & 1) << 5;
    a.writeBatch(eoiEntries);
  },
);

// 3. Multicast IPI from CPU 0 to CPUs 1..7 (x2APIC physical: one ICR write per target, as Linux's
// x2apic_phys does), then the same 7 ICR writes as one batch; KVM's PV send-IPI bitmap for context.
const ipiEntries = [1, 2, 3, 4, 5, 6, 7].map((d) => ({ reg: 0x30, value: 0x40f0, high: d }));
const drainAll = (apics) => {
  for (let k = 1; k < 8; k++) apics[k].irr[7] = 0;
};
const ipiSingle = variant(
  () => makeMachine(8, true),
  ({ apics }) => {
    for (let d = 1; d < 8; d++) apics[0].writeMsr(0x830, (BigInt(d) << 32n) | 0x40f0n);
    drainAll(apics);
  },
);
const ipiBatch = variant(
  () => makeMachine(8, true),
  ({ apics }) => {
    apics[0].writeBatch(ipiEntries);
    drainAll(apics);
  },
);
const ipiPv = variant(
  () => makeMachine(8, true),
  ({ apics }) => {
    apics[0].sendIpiMask(0xfe, 0, 0, 0x40f0);
    drainAll(apics);
  },
);

const all = [timerSingle, timerBatch, eoiSingle, eoiBatch, ipiSingle, ipiBatch, ipiPv];
for (let r = 0; r < ROUNDS; r++) for (const v of all) round(v);

const rows = [
  ['timer reprogram (3 writes)', timerSingle, timerBatch],
  ['EOI + TPR (2 writes)', eoiSingle, eoiBatch],
  ['multicast IPI to 7 CPUs (7 ICR writes)', ipiSingle, ipiBatch],
];
const f = (x, d = 1) => x.toFixed(d);
console.log(
  `@pv/apic batch benchmark, ${ITER} iterations per variant, best of ${ROUNDS} interleaved rounds, node ${process.version}`,
);
console.log(
  '| sequence | single: host ns | batch: host ns | host ratio | single: exits | batch: exits | exit ratio | virtual cycles single → batch |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const [name, s, b] of rows) {
  console.log(
    `| ${name} | ${f(s.ns)} | ${f(b.ns)} | ${f(s.ns / b.ns, 2)}× | ${f(s.exits, 0)} | ${f(b.exits, 0)} | ${f(s.exits / b.exits, 0)}× | ${f(s.exits * EXIT_CYCLES, 0)} → ${f(b.exits * EXIT_CYCLES, 0)} |`,
  );
}
console.log(
  `| multicast IPI via PV send-IPI bitmap (1 hypercall) | — | ${f(ipiPv.ns)} | — | — | ${f(ipiPv.exits, 0)} | — | ${f(ipiPv.exits * EXIT_CYCLES, 0)} |`,
);
