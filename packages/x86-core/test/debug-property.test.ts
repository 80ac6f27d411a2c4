/**
 * Properties of the debug slow path (debug.ts) on random code, in flat 32-bit protected mode with
 * random exception handlers:
 * - with random debug-register settings (addresses near the code, data and stack, any R/W, LEN,
 *   L/G, CR4.DE, TF) run() never throws, ends in a defined exit, DR6's reserved bits stay set, and
 *   data watching is on exactly while a data breakpoint is enabled;
 * - transparency: with all four kinds of breakpoint enabled on addresses nothing touches, every
 *   instruction goes through debugStep and the watched memory, and the final state equals the run
 *   on the fast path bit for bit (registers, EIP, EFLAGS but RF, CR2, memory, retired count).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { refreshDebug } from '../src/debug';
import { Cpu, FlatMemory } from '../src/index';
import { CODE, GDT, IDT, setGate, writeGdt } from './helpers';

const REASONS = new Set(['hlt', 'shutdown', 'budget', 'stop', 'breakpoint']);
const RF = 1 << 16;
const MEM = 2 << 20;

function fill(bytes: Uint8Array, seed: number, from: number, to: number): void {
  let x = seed | 1;
  for (let i = from; i < to; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x;
  }
  // No MOV from/to debug registers in the random code: the two runs of the transparency property
  // start with different DR7 values, which such an instruction would observe.
  for (let i = from + 1; i < to; i++) if (bytes[i - 1] === 0x0f && (bytes[i]! | 2) === 0x23) bytes[i] = 0x90;
}

function machine(): { cpu: Cpu; memory: FlatMemory } {
  const memory = new FlatMemory(MEM);
  const cpu = new Cpu({ memory, io: { in: (port) => (port * 0x9e3779b1) >>> 0, out: () => {} } });
  return { cpu, memory };
}
const a = machine();
const b = machine();

function setup(m: { cpu: Cpu; memory: FlatMemory }, seed: number, code: number[], regs: number[]): void {
  const { cpu, memory } = m;
  cpu.reset();
  memory.flushTlb(true);
  fill(memory.bytes, seed, 0, 0x100000);
  memory.bytes.fill(0, 0x100000);
  writeGdt(memory);
  for (let v = 0; v < 64; v++)
    setGate(memory, v, 0x2000 + ((seed >>> (v % 24)) & 0xfff) * 16, v & 1 ? 0xf : 0xe, v !== 9);
  memory.bytes.set(code, CODE);
  cpu.enterFlatProtectedMode(CODE);
  cpu.dtr[0] = GDT;
  cpu.dtr[1] = 5 * 8 - 1;
  cpu.dtr[2] = IDT;
  cpu.dtr[3] = 64 * 8 - 1;
  for (let i = 0; i < 8; i++) if (i !== 4) cpu.regs[i] = regs[i]!;
  cpu.regs[4] = 0x80000 + (regs[4]! & 0xffff);
  cpu.cr4 = 1 << 3; // CR4.DE
}

const codeArb = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 64 });
const regsArb = fc.array(fc.integer({ min: -0x80000000, max: 0x7fffffff }), { minLength: 8, maxLength: 8 });
/** Breakpoint addresses where code, data and the stack live, or anywhere. */
const addrArb = fc.oneof(
  fc.integer({ min: CODE, max: CODE + 80 }),
  fc.integer({ min: 0x7f000, max: 0x81000 }),
  fc.integer({ min: 0, max: 0xfff }),
  fc.integer({ min: 0, max: 0xffffffff }),
);

describe('debug registers on random code', () => {
  it('never throw out of run(), keep DR6 reserved bits, watch data exactly while a data breakpoint is on', () => {
    let retired = 0;
    fc.assert(
      fc.property(
        fc.integer(),
        codeArb,
        regsArb,
        fc.array(addrArb, { minLength: 4, maxLength: 4 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.boolean(),
        (seed, code, regs, addrs, dr7, tf) => {
          setup(a, seed, code, regs);
          const cpu = a.cpu;
          for (let n = 0; n < 4; n++) cpu.dr[n] = addrs[n]!;
          cpu.dr[7] = (dr7 & 0xffff00ff) | 0x400; // no GD, so random code may rewrite them too
          refreshDebug(cpu);
          if (tf) cpu.eflags |= 1 << 8;
          for (let steps = 0; steps < 2000; steps += 500) {
            const exit = cpu.run(500);
            expect(REASONS.has(exit.reason)).toBe(true);
            retired += exit.instructions;
            expect(cpu.dr[6]! & 0xffff0ff0).toBe(0xffff0ff0 | 0);
            expect(cpu.memory !== cpu.hostMemory).toBe(cpu.dbgData !== 0);
            if (exit.reason === 'shutdown' || exit.reason === 'hlt') break;
          }
        },
      ),
      { numRuns: 40 },
    );
    expect(retired).toBeGreaterThan(5_000);
  });

  it('breakpoints that never match change nothing: the slow path ends in the same state as the fast path', () => {
    let compared = 0;
    fc.assert(
      fc.property(fc.integer(), codeArb, regsArb, (seed, code, regs) => {
        setup(a, seed, code, regs);
        setup(b, seed, code, regs);
        // DR0 execute, DR1 write, DR2 read/write (4 bytes), DR3 I/O: addresses outside RAM and ports.
        const cb = b.cpu;
        cb.dr[0] = 0xfedcba98;
        cb.dr[1] = 0xfedcba90;
        cb.dr[2] = 0xfedcba80;
        cb.dr[3] = 0xfedc;
        cb.dr[7] = 0xff | (0x0 << 16) | (0x1 << 20) | (0xf << 24) | (0x2 << 28) | 0x400;
        refreshDebug(cb);
        expect([cb.dbgExec, cb.dbgData, cb.dbgIo]).toEqual([1, 6, 8]);
        // A repeated string instruction may overwrite its own bytes; it is re-fetched whenever it
        // yields between iterations, which the slow path does after every element while watching
        // data. The fast path yields after every element here too, so both see the same bytes —
        // and both count the same steps (an instruction, a fault delivery or one element), so the
        // runs are compared after the same budget whether or not they reached HLT.
        a.cpu.repChunk = 1;
        const ea = a.cpu.run(2000);
        a.cpu.repChunk = 4096;
        const eb = cb.run(2000);
        // Random code may still reach one of the addresses (e.g. OUT DX, EAX with DX = 0xFED9 covers
        // port 0xFEDC): then the #DB is legitimate and the runs are not compared.
        if ((cb.dr[6]! & 0xf) !== 0 || cb.dbgCarry !== 0) return;
        expect(eb).toEqual(ea);
        compared++;
        expect(Array.from(cb.regs)).toEqual(Array.from(a.cpu.regs));
        expect(cb.eip).toBe(a.cpu.eip);
        expect(cb.eflags & ~RF).toBe(a.cpu.eflags & ~RF);
        expect(cb.cr2).toBe(a.cpu.cr2);
        expect(eb.instructions).toBe(ea.instructions);
        expect(cb.cpl).toBe(a.cpu.cpl);
        expect(Buffer.compare(b.memory.bytes, a.memory.bytes)).toBe(0);
      }),
      { numRuns: 50 },
    );
    expect(compared).toBeGreaterThanOrEqual(45);
  });
});
