// Hot-TLB throughput of @pv/mmu against raw typed-array access on the same buffer, in one run.
//
//   npm run bench -w @pv/mmu        (build first: `npx turbo run build --filter=@pv/mmu`)
//
// Every figure is a loop of aligned 32-bit accesses over a 256-KiB working set (64 pages, all
// TLB hits after warm-up). "inline" is the lookup the CPU's hot path does (bus.ts SoftTlb:
// tag compare, then ram32[(lin + offset) >>> 2], calling the MMU only on a miss); "method" is a
// call of mmu.read32/write32 (the slow-path entry, which itself starts with the same lookup).
// Ratios are time per access relative to raw typed-array access (1.00 = the physical limit).
import { Mmu } from '../dist/index.js';

const ACCESS_READ = 0;
const ACCESS_WRITE = 1;
const RAM = 64 << 20;
const WS = 256 << 10; // working set
const BASE = 16 << 20; // physical base of the working set
const LIN = 0x40000000; // linear base with paging on
// Many short rounds, best taken: robust against a loaded shared machine.
const N = 2_000_000;
const ROUNDS = 25;

function makeMmu(paging) {
  const mmu = new Mmu({ ramSize: RAM });
  mmu.attachCpu({
    raisePageFault(lin, code) {
      throw new Error(`unexpected #PF at ${lin.toString(16)} (${code})`);
    },
  });
  if (paging) {
    const view = new DataView(mmu.bytes(0, RAM).buffer);
    const PD = 0x1000;
    const PT = 0x2000;
    view.setUint32(PD + (LIN >>> 22) * 4, PT | 7, true);
    for (let i = 0; i < 1024; i++) view.setUint32(PT + i * 4, (BASE + i * 4096) | 7, true);
    mmu.setPagingState({ cr0: 0x80010011, cr3: PD, cr4: 0, efer: 0, cpl: 0, ac: false });
  } else {
    mmu.setPagingState({ cr0: 0x11, cr3: 0, cr4: 0, efer: 0, cpl: 0, ac: false });
  }
  return mmu;
}

const paged = makeMmu(true);
const flat = makeMmu(false);
const ram32 = paged.tlb.ram32;

// --- loops ----------------------------------------------------------------------------------------

function rawRead(n) {
  const r = ram32;
  let s = 0;
  for (let k = 0; k < n; k++) s = (s + r[(BASE + ((k << 2) & (WS - 1))) >>> 2]) | 0;
  return s;
}
function rawWrite(n) {
  const r = ram32;
  for (let k = 0; k < n; k++) r[(BASE + ((k << 2) & (WS - 1))) >>> 2] = k;
  return 0;
}

// The CPU's hot path keeps the miss call out of line (a small helper), so the loop stays tight.
function missRead(mmu, lin, kind) {
  return mmu.read32(lin, kind);
}
function missWrite(mmu, lin, value, kind) {
  mmu.write32(lin, value, kind);
}

// Raw access with an out-of-line slow-path call in the loop, the shape every real caller has:
// V8 compiles the call in once it has been taken (here during warm-up, as TLB misses are for the
// TLB loops), and a live call in a loop costs by itself (values reloaded after it, register
// pressure). This row separates that cost from the cost of the TLB lookup.
function rawSlow(a) {
  return flat.read32(a & 0xffff, ACCESS_READ);
}
function rawReadWithMissPath(base) {
  return (n) => {
    const r = ram32;
    let s = 0;
    for (let k = 0; k < n; k++) {
      const a = (base + ((k << 2) & (WS - 1))) | 0;
      s = (s + (a >= 0 ? r[a >>> 2] : rawSlow(a))) | 0;
    }
    return s;
  };
}
function rawWriteWithMissPath(base) {
  return (n) => {
    const r = ram32;
    for (let k = 0; k < n; k++) {
      const a = (base + ((k << 2) & (WS - 1))) | 0;
      if (a >= 0) r[a >>> 2] = k;
      else flat.write32(a & 0xffff, k, ACCESS_WRITE);
    }
    return 0;
  };
}

// Each case gets its own copy of its loop (its own type feedback, as a distinct call site in a CPU
// would have): closures of one function literal share feedback in V8, and mixing the paged and
// flat MMU in one loop's feedback made its code (and the figures) erratic from run to run.
const LOOPS = {
  inlineRead: `
    const { tag, offset, ram32: r, bits } = mmu.tlb;
    const mask = (1 << bits) - 1;
    const kind = ACCESS_READ << bits;
    let s = 0;
    for (let k = 0; k < n; k++) {
      const lin = (base + ((k << 2) & (WS - 1))) | 0; // an int32, as the CPU computes it
      const page = lin >>> 12;
      const i = kind | (page & mask);
      const t = tag[i];
      const o = offset[i];
      const v = t === page ? r[((lin + o) | 0) >>> 2] : missRead(mmu, lin, ACCESS_READ);
      s = (s + v) | 0;
    }
    return s;`,
  inlineWrite: `
    const { tag, offset, ram32: r, bits } = mmu.tlb;
    const mask = (1 << bits) - 1;
    const kind = ACCESS_WRITE << bits;
    for (let k = 0; k < n; k++) {
      const lin = (base + ((k << 2) & (WS - 1))) | 0;
      const page = lin >>> 12;
      const i = kind | (page & mask);
      const t = tag[i];
      const o = offset[i];
      if (t === page) r[((lin + o) | 0) >>> 2] = k;
      else missWrite(mmu, lin, k, ACCESS_WRITE);
    }
    return 0;`,
  methodRead: `
    let s = 0;
    for (let k = 0; k < n; k++) s = (s + mmu.read32((base + ((k << 2) & (WS - 1))) | 0, ACCESS_READ)) | 0;
    return s;`,
  methodWrite: `
    for (let k = 0; k < n; k++) mmu.write32((base + ((k << 2) & (WS - 1))) | 0, k, ACCESS_WRITE);
    return 0;`,
};
function loop(name, mmu, base) {
  const make = new Function(
    'mmu',
    'base',
    'missRead',
    'missWrite',
    'ACCESS_READ',
    'ACCESS_WRITE',
    'WS',
    `return (n) => {${LOOPS[name]}\n};`,
  );
  return make(mmu, base | 0, missRead, missWrite, ACCESS_READ, ACCESS_WRITE, WS);
}

// --- measurement ----------------------------------------------------------------------------------

const cases = [
  ['raw typed array          read32', rawRead],
  ['raw typed array          write32', rawWrite],
  ['raw + slow-path call    read32', rawReadWithMissPath(BASE)],
  ['raw + slow-path call    write32', rawWriteWithMissPath(BASE)],
  ['paging on,  inline TLB   read32', loop('inlineRead', paged, LIN)],
  ['paging on,  inline TLB   write32', loop('inlineWrite', paged, LIN)],
  ['paging off, inline TLB   read32', loop('inlineRead', flat, BASE)],
  ['paging off, inline TLB   write32', loop('inlineWrite', flat, BASE)],
  ['paging on,  method call  read32', loop('methodRead', paged, LIN)],
  ['paging on,  method call  write32', loop('methodWrite', paged, LIN)],
  ['paging off, method call  read32', loop('methodRead', flat, BASE)],
  ['paging off, method call  write32', loop('methodWrite', flat, BASE)],
];

let sink = 0;
for (const [, fn] of cases) sink ^= fn(200_000); // warm up (JIT, TLB: the misses take the slow path)
// Take the raw loops' slow-path call during warm-up too (a negative address), as a miss would.
sink ^= rawReadWithMissPath(-(WS >> 1))(200_000);
sink ^= rawWriteWithMissPath(-(WS >> 1))(200_000);
const best = new Map();
for (let round = 0; round < ROUNDS; round++) {
  // Interleave the cases in every round so machine-load drift hits them alike.
  for (const [name, fn] of cases) {
    const t0 = performance.now();
    sink ^= fn(N);
    const ns = ((performance.now() - t0) * 1e6) / N;
    best.set(name, Math.min(best.get(name) ?? Number.POSITIVE_INFINITY, ns));
  }
}

const rawNs = { read32: best.get(cases[0][0]), write32: best.get(cases[1][0]) };
console.log(
  `@pv/mmu TLB benchmark: ${N.toLocaleString('en')} aligned accesses per run, best of ${ROUNDS}, ${process.version}`,
);
console.log('case                              ns/access    M/s   × raw');
console.log('-'.repeat(57));
for (const [name] of cases) {
  const ns = best.get(name);
  const op = name.endsWith('read32') ? 'read32' : 'write32';
  console.log(
    `${name.padEnd(33)} ${ns.toFixed(2).padStart(8)} ${(1e3 / ns).toFixed(0).padStart(6)} ${(ns / rawNs[op]).toFixed(2).padStart(7)}`,
  );
}
const stats = paged.exits;
console.log(`(sink ${sink & 1}; MMIO exits ${stats.mmio})`);
