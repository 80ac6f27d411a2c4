// Trap path vs hypercall path, measured side by side in one run: the same APIC writes and PTE
// updates, as N single traps or as one batched hypercall. Prints wall time and virtual cycles
// (exits × 1500, DESIGN.md §3). Not a test: figures only.
import { ApicBus, LocalApic } from '@pv/apic';
import { CODECS, HC } from '@pv/hypercall';
import { Mmu } from '@pv/mmu';
import {
  advertisedFeatures,
  bindHypercalls,
  createDirectOps,
  guestMemoryOf,
  SimpleCpuState,
  TrapPath,
  withLazy,
  withStats,
} from '../dist/index.js';

function machine() {
  const mmu = new Mmu({ ramSize: 1 << 20 });
  const clock = { hz: 1e9, now: () => 0 };
  const bus = new ApicBus();
  const apic = new LocalApic({ id: 0, clock, bus, bsp: true });
  const m = { vcpus: [{ cpu: new SimpleCpuState(), apic, mmu }], bus, clock };
  const ops = withStats(createDirectOps(m));
  const memory = guestMemoryOf(mmu);
  const trap = new TrapPath(ops, 0);
  const hc = bindHypercalls(ops, { vcpu: 0, memory, features: advertisedFeatures(m) });
  mmu.mapMmio(0xfee00000, 0x1000, trap.apicMmio);
  ops.apic.write(0, 0x0f, 0x1ff);
  ops.stats.reset();
  return { mmu, ops, trap, hc, apic, m };
}

function encode(codec, values) {
  const bytes = new Uint8Array(codec.size * values.length);
  const view = new DataView(bytes.buffer);
  for (const [i, v] of values.entries()) codec.encode(view, v, i * codec.size);
  return bytes;
}

const N = 64;
const ROUNDS = 2000;
const regs = [0x08, 0x32, 0x35, 0x36, 0x37, 0x3e];
const writes = Array.from({ length: N }, (_, i) => ({ reg: regs[i % regs.length], value: i & 0x7f }));

function time(f) {
  for (let i = 0; i < 200; i++) f(); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < ROUNDS; i++) f();
  return (performance.now() - t0) / ROUNDS;
}

const a = machine();
const b = machine();
b.mmu.writePhys(
  0x10000,
  encode(
    CODECS.pv_apic_write,
    writes.map((w) => ({ reg: w.reg << 4, value: w.value })),
  ),
);
const trapMs = time(() => {
  for (const w of writes) a.mmu.phys.write(0xfee00000 + (w.reg << 4), 4, w.value);
});
const hcMs = time(() => b.hc.invoke(HC.PV_HC_APIC_WRITE_BATCH, 0x10000, N, 0));
const ta = a.ops.stats;
const tb = b.ops.stats;
console.log(`APIC: ${N} register writes, ${ROUNDS} rounds`);
console.log(
  `  trap      ${(trapMs * 1000).toFixed(1)} µs/round  exits/round ${ta.exits('trap') / (ROUNDS + 200)}  virtual cycles/round ${ta.cycles('trap') / (ROUNDS + 200)}`,
);
console.log(
  `  hypercall ${(hcMs * 1000).toFixed(1)} µs/round  exits/round ${tb.exits('hypercall') / (ROUNDS + 200)}  virtual cycles/round ${tb.cycles('hypercall') / (ROUNDS + 200)}`,
);
console.log(
  `  ratio trap/hypercall: wall ${(trapMs / hcMs).toFixed(2)}x, virtual cycles ${(ta.cycles('trap') / tb.cycles('hypercall')).toFixed(0)}x`,
);

// PTE updates: N trapped page-table stores vs one PT_UPDATE_BATCH vs lazy-mode set_pte.
const c = machine();
const d = machine();
const e = machine();
const lazy = withLazy(e.ops);
const ptes = Array.from({ length: N }, (_, i) => ({ gpa: 0x2000 + 4 * i, lo: ((0x40 + i) << 12) | 3 }));
d.mmu.writePhys(
  0x20000,
  encode(
    CODECS.pv_pte_update,
    ptes.map((p) => ({ pte_gpa: BigInt(p.gpa), value: BigInt(p.lo) })),
  ),
);
const ptTrap = time(() => {
  for (const p of ptes) c.trap.pageTableWrite(p.gpa, p.lo, 0, 4);
});
const ptHc = time(() => d.hc.invoke(HC.PV_HC_PT_UPDATE_BATCH, 0x20000, N, 0, 0));
const ptLazy = time(() => {
  lazy.mmu.lazyEnter(0);
  for (const p of ptes) lazy.mmu.setPte(0, p.gpa, p.lo, 0, 4);
  lazy.mmu.lazyLeave(0);
});
console.log(`PTE: ${N} entry stores, ${ROUNDS} rounds`);
console.log(
  `  trap (ptwrite exits) ${(ptTrap * 1000).toFixed(1)} µs/round  exits/round ${c.ops.stats.exits('trap') / (ROUNDS + 200)}`,
);
console.log(
  `  PT_UPDATE_BATCH      ${(ptHc * 1000).toFixed(1)} µs/round  exits/round ${d.ops.stats.exits('hypercall') / (ROUNDS + 200)}`,
);
console.log(
  `  lazy set_pte (host)  ${(ptLazy * 1000).toFixed(1)} µs/round  (queue applied as one updateBatch)`,
);
console.log(`  ratio trap/batch: wall ${(ptTrap / ptHc).toFixed(2)}x, exits ${N}x`);
