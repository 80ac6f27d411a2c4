/**
 * Property: no guest byte stream makes run() throw, and every run ends in a defined exit. Random
 * code, random registers and random memory (so exception handlers jump to random code as well), in
 * real mode and in flat 32-bit protected mode with a valid GDT/IDT whose handlers are random bytes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Cpu, FlatMemory } from '../src/index';
import { CODE, GDT, IDT, setGate, writeGdt } from './helpers';

const REASONS = new Set(['hlt', 'shutdown', 'budget', 'stop', 'breakpoint']);
const STEPS = 4000;
let total = 0;

/** xorshift32 filling of memory from a seed (fast-check shrinks the seed, not megabytes). */
function fill(bytes: Uint8Array, seed: number, from: number, to: number): void {
  let x = seed | 1;
  for (let i = from; i < to; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x;
  }
}

const memory = new FlatMemory(2 << 20);
let pending = false;
const cpu: Cpu = new Cpu({
  memory,
  io: { in: (port) => (port * 0x9e3779b1) >>> 0, out: () => {} },
  interrupts: {
    pending: () => pending,
    acknowledge: () => {
      pending = false;
      return 0x20 + (cpu.instructions & 7);
    },
    nmi: () => (cpu.instructions & 0xfff) === 0x7ff,
  },
  hypervisor: {
    hypercall: (c) => {
      c.regs[0] = -1000;
    },
  },
  msr: { read: (m) => (m === 0x174 ? 0n : undefined), write: (m) => m === 0x174 },
});

function runCase(protectedMode: boolean, seed: number, code: number[], regs: number[]): void {
  const ram = memory.bytes;
  cpu.reset();
  memory.flushTlb(true);
  fill(ram, seed, 0, 0x100000);
  if (protectedMode) {
    writeGdt(memory);
    for (let v = 0; v < 64; v++)
      setGate(memory, v, 0x2000 + ((seed >>> (v % 24)) & 0xfff) * 16, v & 1 ? 0xf : 0xe, v !== 9);
    ram.set(code, CODE);
    cpu.enterFlatProtectedMode(CODE);
    cpu.dtr[0] = GDT;
    cpu.dtr[1] = 5 * 8 - 1;
    cpu.dtr[2] = IDT;
    cpu.dtr[3] = 64 * 8 - 1;
  } else {
    cpu.loadSegmentCache(1, { selector: 0xf000, base: 0xf0000, limit: 0xffff, attributes: 0x9b });
    cpu.eip = 0xfe00;
    ram.set(code, 0xffe00);
  }
  for (let i = 0; i < 8; i++) if (i !== 4) cpu.regs[i] = regs[i]!;
  cpu.regs[4] = protectedMode ? 0x80000 + (regs[4]! & 0xffff) : regs[4]! & 0xffff;
  pending = (seed & 3) === 0;
  let steps = 0;
  while (steps < STEPS) {
    const exit = cpu.run(500);
    expect(REASONS.has(exit.reason)).toBe(true);
    expect(exit.instructions).toBeLessThanOrEqual(500);
    total += exit.instructions;
    steps += 500;
    if (exit.reason === 'shutdown') break;
    if (exit.reason === 'hlt') pending = true;
  }
}

const codeArb = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 64 });
const regsArb = fc.array(fc.integer({ min: -0x80000000, max: 0x7fffffff }), { minLength: 8, maxLength: 8 });

describe('random byte streams', () => {
  it('never throw out of run() in real mode', () => {
    fc.assert(
      fc.property(fc.integer(), codeArb, regsArb, (seed, code, regs) => {
        runCase(false, seed, code, regs);
      }),
      { numRuns: 60 },
    );
  });

  it('never throw out of run() in 32-bit protected mode', () => {
    fc.assert(
      fc.property(fc.integer(), codeArb, regsArb, (seed, code, regs) => {
        runCase(true, seed, code, regs);
      }),
      { numRuns: 60 },
    );
  });

  it('executed at least 100,000 instructions in total', () => {
    console.log(`property tests retired ${total.toLocaleString('en-US')} instructions`);
    expect(total).toBeGreaterThanOrEqual(100_000);
  });
});
