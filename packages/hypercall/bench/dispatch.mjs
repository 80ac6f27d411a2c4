// Dispatcher cost, measured side by side in one run: N APIC register writes as N single-entry
// batches (one exit each) vs one N-entry batch, and N yields as N exits vs one multicall.
// Host-side cost only (no CPU, no exit cost): what the dispatcher adds per entry and per exit.
import { CODECS, createDispatcher, flatGuestMemory, HC } from '../dist/index.js';

const ram = new Uint8Array(1 << 20);
const view = new DataView(ram.buffer);
let sink = 0;
const d = createDispatcher({
  memory: flatGuestMemory(ram),
  handlers: {
    apicWrite: (reg, v) => {
      sink += reg ^ v;
      return 0;
    },
    schedYield: (id) => {
      sink += id;
      return 0;
    },
  },
  features: {
    kvm: ['KVM_FEATURE_PV_SCHED_YIELD'],
    pv: ['PV_FEATURE_MULTICALL', 'PV_FEATURE_APIC_WRITE_BATCH'],
  },
});

const N = 64;
for (let i = 0; i < N; i++)
  CODECS.pv_apic_write.encode(view, { reg: 0x300 + (i & 1) * 0x10, value: i }, 0x1000 + i * 8);
for (let i = 0; i < N; i++) {
  CODECS.pv_multicall_entry.encode(
    view,
    { nr: HC.KVM_HC_SCHED_YIELD, args: [i, 0, 0, 0], result: 0 },
    0x4000 + i * 24,
  );
}
const regs = new Int32Array(8);
const cpu = { regs, cpl: 0 };

function time(label, rounds, fn) {
  for (let i = 0; i < rounds / 10; i++) fn(); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) fn();
  const ns = Number(process.hrtime.bigint() - t0) / rounds;
  console.log(`${label.padEnd(44)} ${(ns / N).toFixed(1).padStart(8)} ns/entry`);
  return ns;
}

const rounds = 20000;
const single = time(`APIC writes: ${N} exits of 1-entry batches`, rounds, () => {
  for (let i = 0; i < N; i++) {
    regs[0] = HC.PV_HC_APIC_WRITE_BATCH;
    regs[3] = 0x1000 + i * 8;
    regs[1] = 1;
    regs[2] = 0;
    d.hypercall(cpu);
  }
});
const batched = time(`APIC writes: 1 exit, ${N}-entry batch`, rounds, () => {
  regs[0] = HC.PV_HC_APIC_WRITE_BATCH;
  regs[3] = 0x1000;
  regs[1] = N;
  regs[2] = 0x3000;
  d.hypercall(cpu);
});
const yields = time(`sched_yield: ${N} exits`, rounds, () => {
  for (let i = 0; i < N; i++) {
    regs[0] = HC.KVM_HC_SCHED_YIELD;
    regs[3] = i;
    d.hypercall(cpu);
  }
});
const multi = time(`sched_yield: 1 exit, ${N}-entry multicall`, rounds, () => {
  regs[0] = HC.PV_HC_MULTICALL;
  regs[3] = 0x4000;
  regs[1] = N;
  d.hypercall(cpu);
});
console.log(`batch vs single-entry exits (host cost only): ${(single / batched).toFixed(2)}x`);
console.log(`multicall vs separate exits (host cost only): ${(yields / multi).toFixed(2)}x`);
console.log(
  `exits saved per ${N} operations: ${N - 1} (each worth the configured exit cost, default 1,500 cycles)`,
);
if (sink === 0.5) console.log(sink);
