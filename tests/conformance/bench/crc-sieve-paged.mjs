// Benchmark: the crc-sieve guest (../shared/bench/crc-sieve from the repo root, as x86-core/bench) on the
// CPU with @pv/mmu as its Memory, paging ON (identity-mapped 4-KiB pages set up by the host before the
// guest starts), so every access goes through the MMU's TLB (and, with a page-map CPU, its page map).
// Usage: node tests/conformance/bench/crc-sieve-paged.mjs [x86-core-dist-index.js] [nopaging]
// The optional path runs another build of @pv/x86-core (e.g. an older copy of dist) against the same
// @pv/mmu, for before/after comparisons in alternating runs.
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Mmu } from '@pv/mmu';

const here = dirname(fileURLToPath(import.meta.url));
const coreArg = process.argv.slice(2).find((a) => a.endsWith('.js'));
const paging = !process.argv.includes('nopaging');
const { Cpu } = await import(coreArg ? pathToFileURL(resolve(coreArg)).href : '@pv/x86-core');
const image = resolve(here, '../../../../shared/bench/crc-sieve/guest-r4.elf');
const EXPECT = { checksum: 'dc2e4740', insns: 367_044_286 };
if (!existsSync(image)) {
  console.log(`crc-sieve-paged bench skipped: ${image} not found`);
  process.exit(0);
}

const RAM = 16 << 20;
const GUEST_RAM = 8 << 20; // what the multiboot info reports; page tables live above it
const PD = 0xc00000;
const mmu = new Mmu({ ramSize: RAM });
const put32 = (gpa, v) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  mmu.writePhys(gpa, b);
};

// ELF32 PT_LOAD segments to their physical addresses, zero-filling the rest (as x86-core's bench).
const bytes = readFileSync(image);
const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const entry = dv.getUint32(24, true);
const phoff = dv.getUint32(28, true);
for (let i = 0; i < dv.getUint16(44, true); i++) {
  const ph = phoff + i * dv.getUint16(42, true);
  if (dv.getUint32(ph, true) !== 1) continue;
  const [off, paddr, filesz, memsz] = [4, 12, 16, 20].map((o) => dv.getUint32(ph + o, true));
  const seg = new Uint8Array(memsz);
  seg.set(bytes.subarray(off, off + filesz));
  mmu.writePhys(paddr, seg);
}
const INFO = 0x9000;
put32(INFO, 1);
put32(INFO + 4, 640);
put32(INFO + 8, (GUEST_RAM >> 10) - 1024);

// Identity map of the 16 MiB with 4-KiB pages: PD at PD, four page tables after it (P, R/W, U/S).
for (let t = 0; t < 4; t++) {
  put32(PD + t * 4, (PD + 0x1000 * (t + 1)) | 7);
  for (let i = 0; i < 1024; i++) put32(PD + 0x1000 * (t + 1) + i * 4, (((t << 10) | i) << 12) | 7);
}

let out = '';
let lcr = 0;
let startAt = null;
let doneAt = null;
let cpu;
const io = {
  in: (port) => (port === 0x3fd ? 0x60 : 0xff),
  out(port, _size, value) {
    if (port === 0x3fb) lcr = value;
    else if (port === 0x3f8 && (lcr & 0x80) === 0) {
      out += String.fromCharCode(value);
      if (startAt === null && out.endsWith('START\n'))
        startAt = { t: performance.now(), n: cpu.instructions };
      if (doneAt === null && out.endsWith('CHECKSUM '))
        doneAt = { t: performance.now(), n: cpu.instructions };
    } else if (port === 0xf4) cpu.stop();
  },
};
cpu = new Cpu({ memory: mmu, io });
cpu.enterFlatProtectedMode(entry);
cpu.regs[0] = 0x2badb002;
cpu.regs[3] = INFO;
if (paging) {
  // As MOV CR3 / MOV CR0 would: the CPU pushes its paging state to the MMU.
  cpu.cr[3] = PD;
  cpu.cr[0] = cpu.cr[0] | 0x80000000 | 0;
  if (cpu.pushPagingState() === false) throw new Error('MMU refused the paging state');
}

const c0 = process.cpuUsage();
let exit;
do exit = cpu.run(100_000_000);
while (exit.reason === 'budget');
const u = process.cpuUsage(c0);
const cpuMs = (u.user + u.system) / 1000;
const checksum = /CHECKSUM ([0-9a-f]{8})/.exec(out)?.[1];
const workload = doneAt && startAt ? doneAt.n - startAt.n : Number.NaN;
const okCount = workload - EXPECT.insns >= 0 && workload - EXPECT.insns < 2000;
console.log(
  `crc-sieve r4 on @pv/mmu, paging ${paging ? 'on' : 'off'} (${coreArg ?? '@pv/x86-core'}): ` +
    `${(workload / (doneAt.t - startAt.t) / 1000).toFixed(1)} MIPS steady, ` +
    `${(cpu.instructions / cpuMs / 1000).toFixed(1)} MIPS per CPU-second; load ${loadavg()[0].toFixed(1)}; ` +
    `checksum ${checksum} ${checksum === EXPECT.checksum && okCount ? 'OK' : 'MISMATCH'}`,
);
if (checksum !== EXPECT.checksum || !okCount) process.exitCode = 1;
