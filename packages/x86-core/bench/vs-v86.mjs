// Benchmark: the fixed multiboot guest of ../shared/bench/crc-sieve (see its README) on this
// interpreter and on v86 (Rust→wasm core, with and without its x86→wasm JIT), alternating in one
// process so every ratio is measured side by side: ours, v86 JIT, v86 interpreter, ours, v86 JIT, …
//
// v86 is NOT a dependency of this package: it is installed on demand with `npm install --no-save`
// into <repo>/node_modules/.cache/pv-bench-v86 (outside every package's resolution) and imported
// by absolute path (PV_BENCH_V86_PREFIX overrides the directory). Without network access the
// script says so and runs only ours.
//
// Usage: node bench/vs-v86.mjs [r4|r40] [passes]   (default r4, 2 passes)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Cpu, FlatMemory } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');
const guestDir = resolve(repoRoot, '../shared/bench/crc-sieve');
const ROUNDS = process.argv[2] === 'r40' ? 40 : 4;
const PASSES = Math.max(1, Number.parseInt(process.argv[3] ?? '2', 10) || 2);
const image = resolve(guestDir, ROUNDS === 40 ? 'guest-r40.elf' : 'guest-r4.elf');
const EXPECT =
  ROUNDS === 40
    ? { checksum: '894246dc', insns: 3_670_442_862 }
    : { checksum: 'dc2e4740', insns: 367_044_286 };
const V86_VERSION = '0.5.462';
const V86_PREFIX = resolve(
  process.env.PV_BENCH_V86_PREFIX ?? resolve(repoRoot, 'node_modules/.cache/pv-bench-v86'),
);
const V86_DIR = resolve(V86_PREFIX, 'node_modules/v86');

if (!existsSync(image)) {
  console.log(`vs-v86 bench skipped: ${image} not found`);
  process.exit(0);
}
const elf = readFileSync(image);

/**
 * Progress samples {t, n} (ms, instructions) during a run. The steady-state rate is taken over the
 * second half of the START→CHECKSUM workload (by instruction count), after v86's JIT warm-up
 * (~92 M instructions, crc-sieve README) and V8's tier-up of ours.
 */
function summarize(name, r) {
  const workload = r.done.n - r.start.n;
  const half = r.start.n + workload / 2;
  // The last sample at or before the midpoint, so the window spans at least half the workload.
  let mid = r.start;
  for (const s of r.samples) if (s.n > mid.n && s.n <= half) mid = s;
  const checksum = /CHECKSUM ([0-9a-f]{8})/.exec(r.out)?.[1];
  const extra = workload - EXPECT.insns;
  return {
    name,
    total: r.end.n,
    workload,
    ok: checksum === EXPECT.checksum && extra >= 0 && extra < 2000 && r.out.endsWith('DONE\n'),
    checksum,
    extra,
    steadySec: (r.done.t - r.start.t) / 1000,
    mipsCold: r.end.n / (r.end.t - r.t0) / 1000,
    mipsStartDone: workload / (r.done.t - r.start.t) / 1000,
    mipsSecondHalf: (r.done.n - mid.n) / (r.done.t - mid.t) / 1000,
    window: (r.done.n - mid.n) / workload,
    // Process CPU time of the whole run: on a loaded machine wall time includes time the process
    // waited for a CPU, so this is the fairer cost figure (v86 runs on the main thread too).
    mipsCpu: r.end.n / r.cpuSec / 1e6,
  };
}

/** Process CPU seconds (user + system) since `c0` (a process.cpuUsage() value). */
function cpuSeconds(c0) {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
}

/** Minimal ELF32 loader: copies every PT_LOAD segment to its physical address, zero-filling the rest. */
function loadElf(bytes, memory) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, false) !== 0x7f454c46 || bytes[4] !== 1 || dv.getUint16(18, true) !== 3) {
    throw new Error(`${image}: not a little-endian ELF32 i386 image`);
  }
  const phoff = dv.getUint32(28, true);
  const phentsize = dv.getUint16(42, true);
  for (let i = 0; i < dv.getUint16(44, true); i++) {
    const ph = phoff + i * phentsize;
    if (dv.getUint32(ph, true) !== 1) continue; // PT_LOAD
    const offset = dv.getUint32(ph + 4, true);
    const paddr = dv.getUint32(ph + 12, true);
    const filesz = dv.getUint32(ph + 16, true);
    const memsz = dv.getUint32(ph + 20, true);
    if (offset + filesz > bytes.length || paddr + memsz > memory.size) {
      throw new Error(`${image}: segment ${i} (0x${paddr.toString(16)}+${memsz}) does not fit`);
    }
    memory.load(paddr, bytes.subarray(offset, offset + filesz));
    memory.bytes.fill(0, paddr + filesz, paddr + memsz);
  }
  return dv.getUint32(24, true);
}

/** One run of the guest on @pv/x86-core (same set-up as crc-sieve.mjs). */
function runOurs() {
  const memory = new FlatMemory(8 << 20);
  const entry = loadElf(elf, memory);
  const INFO = 0x9000; // multiboot v1 info: flags bit 0, mem_lower/mem_upper in KiB
  const info = new DataView(memory.bytes.buffer, INFO, 16);
  info.setUint32(0, 1, true);
  info.setUint32(4, 640, true);
  info.setUint32(8, (memory.size >> 10) - 1024, true);
  const r = { out: '', samples: [], start: null, done: null, end: null, t0: 0 };
  let lcr = 0; // UART line control register: bit 7 (DLAB) makes port 0x3F8 the divisor latch
  let exited = false;
  const cpu = new Cpu({
    memory,
    io: {
      in: (port) => (port === 0x3fd ? 0x60 : 0xff), // LSR: THR and transmitter empty
      out(port, _size, value) {
        if (port === 0x3fb) lcr = value;
        else if (port === 0x3f8 && (lcr & 0x80) === 0) {
          r.out += String.fromCharCode(value);
          if (r.start === null && r.out.endsWith('START\n'))
            r.start = { t: performance.now(), n: cpu.instructions };
          if (r.done === null && r.out.endsWith('CHECKSUM '))
            r.done = { t: performance.now(), n: cpu.instructions };
        } else if (port === 0xf4) {
          exited = true;
          cpu.stop();
        }
      },
    },
  });
  cpu.enterFlatProtectedMode(entry);
  cpu.regs[0] = 0x2badb002;
  cpu.regs[3] = INFO;
  r.t0 = performance.now();
  const c0 = process.cpuUsage();
  let exit;
  do {
    exit = cpu.run(10_000_000);
    r.samples.push({ t: performance.now(), n: cpu.instructions });
  } while (exit.reason === 'budget');
  r.end = { t: performance.now(), n: cpu.instructions };
  r.cpuSec = cpuSeconds(c0);
  if (!exited || r.start === null || r.done === null) {
    throw new Error(`ours: guest did not finish (exit ${exit.reason}, output ${JSON.stringify(r.out)})`);
  }
  return r;
}

/** Installs v86 into the cache directory if needed; returns its module or null (with the reason printed). */
async function loadV86() {
  const pkg = resolve(V86_DIR, 'package.json');
  const installed = () =>
    existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).version.startsWith(V86_VERSION);
  if (!installed()) {
    console.log(`installing v86@${V86_VERSION} into ${V86_PREFIX} (not a dependency of @pv) …`);
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const res = spawnSync(
      npm,
      ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', V86_PREFIX, `v86@${V86_VERSION}`],
      { encoding: 'utf8', timeout: 180_000 },
    );
    if (res.status !== 0 || !installed()) {
      const why = (res.error?.message ?? res.stderr ?? '').trim().split('\n').slice(0, 2).join(' | ');
      console.log(`v86 NOT AVAILABLE (npm install failed, offline?): ${why || `exit ${res.status}`}`);
      console.log('running @pv/x86-core alone; no ratios can be given.');
      return null;
    }
  }
  return import(pathToFileURL(resolve(V86_DIR, 'build/libv86.mjs')).href);
}

/** One run of the guest on a fresh v86 instance; resolves when the guest has printed DONE and v86 has stopped. */
function runV86(V86, disableJit) {
  return new Promise((resolveRun, rejectRun) => {
    const buffer = elf.buffer.slice(elf.byteOffset, elf.byteOffset + elf.byteLength);
    const emulator = new V86({
      wasm_path: resolve(V86_DIR, 'build/v86.wasm'),
      memory_size: 64 << 20,
      multiboot: { buffer },
      autostart: false,
      disable_speaker: true,
      disable_jit: disableJit,
      log_level: 0,
    });
    const r = { out: '', samples: [], start: null, done: null, end: null, t0: 0 };
    const sample = () => ({ t: performance.now(), n: emulator.get_instruction_counter() });
    let c0 = process.cpuUsage();
    let timer = null;
    const watchdog = setTimeout(() => {
      clearInterval(timer);
      rejectRun(new Error(`v86: no DONE within 20 min (output ${JSON.stringify(r.out)})`));
    }, 1_200_000);
    emulator.add_listener('serial0-output-byte', (byte) => {
      r.out += String.fromCharCode(byte);
      if (r.start === null && r.out.endsWith('START\n')) r.start = sample();
      if (r.done === null && r.out.endsWith('CHECKSUM ')) r.done = sample();
      if (r.out.endsWith('DONE\n')) {
        r.end = sample();
        r.cpuSec = cpuSeconds(c0);
        clearInterval(timer);
        clearTimeout(watchdog);
        // The guest halts with interrupts off next; stop() resolves after v86's current slice.
        emulator
          .stop()
          .then(() => emulator.destroy())
          .then(() => resolveRun(r), rejectRun);
      }
    });
    emulator.add_listener('emulator-loaded', () => {
      // In multiboot mode v86 maps port 0xF4 to a test exit that throws "HALT" out of its main
      // loop (uncatchable from here, and the emulator never reports stopping). Make the write a
      // no-op instead: the end of the run is detected on COM1 ("DONE") above.
      const io = emulator.v86?.cpu?.io;
      if (typeof io?.register_write !== 'function') {
        rejectRun(new Error(`v86 ${V86_VERSION}: internal io bus not found; cannot neutralise port 0xF4`));
        return;
      }
      const ignore = () => {};
      io.register_write(0xf4, {}, ignore, ignore, ignore);
      timer = setInterval(() => r.samples.push(sample()), 20);
      r.t0 = performance.now();
      c0 = process.cpuUsage();
      emulator.run();
    });
  });
}

const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '—');
const nproc = cpus().length;
console.log(
  `crc-sieve (${ROUNDS} rounds, ${PASSES} passes) — @pv/x86-core vs v86 ${V86_VERSION}, node ${process.version}, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} on ${nproc} CPUs, ${new Date().toISOString()}`,
);
const V86mod = await loadV86();
const V86 = V86mod?.V86 ?? V86mod?.default;
const configs = [{ name: 'ours', run: async () => runOurs() }];
if (V86) {
  configs.push({ name: 'v86 JIT', run: () => runV86(V86, false) });
  configs.push({ name: 'v86 interp (disable_jit)', run: () => runV86(V86, true) });
}

let failed = false;
const header = `${'engine'.padEnd(26)} ${'instructions'.padStart(14)} ${'START→DONE s'.padStart(12)} ${'MIPS cold'.padStart(10)} ${'MIPS S→D'.padStart(9)} ${'MIPS 2nd½'.padStart(9)} ${'(window)'.padStart(8)} ${'MIPS/CPU-s'.padStart(10)}  ours/this (cold, S→D, 2nd½, CPU)`;
for (let pass = 1; pass <= PASSES; pass++) {
  console.log(`\npass ${pass}${pass === 1 ? ' (cold process: first run of each engine)' : ''}`);
  console.log(header);
  let ours = null;
  for (const c of configs) {
    const s = summarize(c.name, await c.run());
    if (c.name === 'ours') ours = s;
    const ratio =
      c.name === 'ours'
        ? ''
        : `${fmt(ours.mipsCold / s.mipsCold, 2)}×, ${fmt(ours.mipsStartDone / s.mipsStartDone, 2)}×, ${fmt(ours.mipsSecondHalf / s.mipsSecondHalf, 2)}×, ${fmt(ours.mipsCpu / s.mipsCpu, 2)}×`;
    console.log(
      `${c.name.padEnd(26)} ${s.total.toLocaleString('en-US').padStart(14)} ${fmt(s.steadySec, 2).padStart(12)} ${fmt(s.mipsCold).padStart(10)} ${fmt(s.mipsStartDone).padStart(9)} ${fmt(s.mipsSecondHalf).padStart(9)} ${`${fmt(s.window * 100, 0)}%`.padStart(8)} ${fmt(s.mipsCpu).padStart(10)}  ${ratio}`,
    );
    if (!s.ok) {
      failed = true;
      console.log(
        `  ${c.name}: checksum ${s.checksum} (want ${EXPECT.checksum}), workload ${EXPECT.insns} + ${s.extra}: MISMATCH`,
      );
    }
  }
}
console.log(
  `\ninstructions: total retired per run (v86: get_instruction_counter()); workload ${EXPECT.insns.toLocaleString('en-US')} START→CHECKSUM (exact) + framing, checksum ${EXPECT.checksum} checked for every run.`,
);
console.log(
  'MIPS cold = whole run incl. boot; S→D = START→CHECKSUM; 2nd½ = from the last progress sample before the workload midpoint to CHECKSUM (window = share of the workload it covers), i.e. after warm-up; MIPS/CPU-s = whole run per second of process CPU time (user + system). Load after:',
  loadavg()[0].toFixed(2),
);
if (failed) process.exitCode = 1;
