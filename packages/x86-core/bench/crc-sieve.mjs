// Benchmark: the fixed multiboot guest of ../shared/bench/crc-sieve (see its README) on the
// interpreter built in ../dist. Prints instructions, wall time, MIPS cold (whole run) and steady
// state (START→DONE), and checks the checksum and the workload instruction count.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cpu, FlatMemory } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');
const guestDir = resolve(repoRoot, '../shared/bench/crc-sieve');
const ROUNDS = process.argv[2] === 'r40' ? 40 : 4;
const image = resolve(guestDir, ROUNDS === 40 ? 'guest-r40.elf' : 'guest-r4.elf');
const EXPECT =
  ROUNDS === 40
    ? { checksum: '894246dc', insns: 3_670_442_862 }
    : { checksum: 'dc2e4740', insns: 367_044_286 };

if (!existsSync(image)) {
  console.log(`crc-sieve bench skipped: ${image} not found`);
  process.exit(0);
}

/** Minimal ELF32 loader: copies every PT_LOAD segment to its physical address, zero-filling the rest. */
function loadElf(bytes, memory) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (
    dv.getUint32(0, false) !== 0x7f454c46 ||
    bytes[4] !== 1 ||
    bytes[5] !== 1 ||
    dv.getUint16(18, true) !== 3
  ) {
    throw new Error(`${image}: not a little-endian ELF32 i386 image`);
  }
  const entry = dv.getUint32(24, true);
  const phoff = dv.getUint32(28, true);
  const phentsize = dv.getUint16(42, true);
  const phnum = dv.getUint16(44, true);
  for (let i = 0; i < phnum; i++) {
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
  return entry;
}

const memory = new FlatMemory(8 << 20);
const entry = loadElf(readFileSync(image), memory);

// Multiboot v1 information structure (flags bit 0: mem_lower/mem_upper in KiB).
const INFO = 0x9000;
const info = new DataView(memory.bytes.buffer, INFO, 16);
info.setUint32(0, 1, true);
info.setUint32(4, 640, true);
info.setUint32(8, (memory.size >> 10) - 1024, true);

let out = '';
let lcr = 0; // UART line control register: bit 7 (DLAB) makes port 0x3F8 the divisor latch
let startAt = null;
let doneAt = null;
let exitWritten = false;
let cpu;
const io = {
  in(port) {
    if (port === 0x3fd) return 0x60; // LSR: THR and transmitter empty
    return 0xff;
  },
  out(port, _size, value) {
    if (port === 0x3fb) lcr = value;
    else if (port === 0x3f8 && (lcr & 0x80) === 0) {
      out += String.fromCharCode(value);
      if (startAt === null && out.endsWith('START\n'))
        startAt = { t: performance.now(), n: cpu.instructions };
      if (doneAt === null && out.endsWith('CHECKSUM '))
        doneAt = { t: performance.now(), n: cpu.instructions };
    } else if (port === 0xf4) {
      exitWritten = true;
      cpu.stop();
    }
  },
};

cpu = new Cpu({ memory, io });
cpu.enterFlatProtectedMode(entry);
cpu.regs[0] = 0x2badb002;
cpu.regs[3] = INFO;

const c0 = process.cpuUsage();
const t0 = performance.now();
let exit;
do exit = cpu.run(100_000_000);
while (exit.reason === 'budget');
const t1 = performance.now();
const cpuUsed = process.cpuUsage(c0);
const cpuMs = (cpuUsed.user + cpuUsed.system) / 1000;

const total = cpu.instructions;
const checksum = /CHECKSUM ([0-9a-f]{8})/.exec(out)?.[1];
const workload = doneAt && startAt ? doneAt.n - startAt.n : Number.NaN;
const steadyMs = doneAt && startAt ? doneAt.t - startAt.t : Number.NaN;
console.log(`crc-sieve (${ROUNDS} rounds) on @pv/x86-core, node ${process.version}`);
console.log(`exit: ${exit.reason}${exitWritten ? ' (debug-exit port 0xF4 written)' : ''}`);
console.log(`guest output: ${JSON.stringify(out)}`);
console.log(
  `instructions: ${total.toLocaleString('en-US')} total, ${workload.toLocaleString('en-US')} START→CHECKSUM`,
);
console.log(`wall: ${(t1 - t0).toFixed(0)} ms total, ${steadyMs.toFixed(0)} ms START→DONE`);
console.log(`MIPS cold (whole run): ${(total / (t1 - t0) / 1000).toFixed(1)}`);
// On a shared machine the wall clock includes time the process did not get a CPU; the
// process CPU time shows what the interpreter costs when it runs.
console.log(
  `MIPS per CPU-second (whole run, ${cpuMs.toFixed(0)} ms CPU): ${(total / cpuMs / 1000).toFixed(1)}; load average ${(await import('node:os')).loadavg()[0].toFixed(1)} on ${(await import('node:os')).cpus().length} CPUs`,
);
console.log(`MIPS steady (START→DONE): ${(workload / steadyMs / 1000).toFixed(1)}`);
console.log(
  `v86 interpreter reference (README, same machine kind): 50–60 MIPS → ratio ${(workload / steadyMs / 1000 / 55).toFixed(2)}× of 55 MIPS`,
);
const okSum = checksum === EXPECT.checksum;
// The workload count is exact; START/CHECKSUM framing adds a few hundred instructions (README).
const extra = workload - EXPECT.insns;
const okCount = extra >= 0 && extra < 2000;
console.log(`checksum ${checksum} ${okSum ? 'OK' : `MISMATCH (want ${EXPECT.checksum})`}`);
console.log(
  `workload instructions: ${EXPECT.insns.toLocaleString('en-US')} expected + ${extra} framing ${okCount ? 'OK' : 'MISMATCH'}`,
);
if (!okSum || !okCount || !exitWritten) process.exitCode = 1;
