/**
 * The run loop's hot path (src/hot.ts) against the generic decode() + execute() path: every
 * (byte0, byte1) entry of the hot table is executed from random machine states — registers, lazy
 * flag states, segment limits, a not-present page, random displacement/immediate bytes — once with
 * the table in place and once with it emptied (so the same bytes at the same address go through the
 * generic path), and the outcomes must be identical: exit, every register, EIP, EFLAGS, the vector
 * of a delivered exception and every byte of memory.
 */
import { describe, expect, it } from 'vitest';
import { HOT } from '../src/hot';
import type { MemoryCpuHooks } from '../src/index';
import { Cpu, FlatMemory, SREG_CS, SREG_DS, SREG_SS } from '../src/index';
import { F_MODRM, OPCODE_FLAGS } from '../src/opcodes';
import { GDT, HANDLERS, IDT, setGate, writeGdt } from './helpers';

const MEM_SIZE = 256 << 10;
/** Accesses to this page raise #PF (not present), so restartability is compared too. */
const FAULT_PAGE = 0x30;
/** The instruction under test follows a NOP that opens the run loop's fetch window. */
const CODE = 0x8000;

class PagedMemory extends FlatMemory {
  hooks: MemoryCpuHooks | null = null;
  override attachCpu(hooks: MemoryCpuHooks): void {
    this.hooks = hooks;
  }
  private check(lin: number, kind: number): void {
    if (lin >>> 12 === FAULT_PAGE) this.hooks!.raisePageFault(lin, (kind & 1) << 1);
  }
  override read8(lin: number, kind: number): number {
    this.check(lin, kind);
    return super.read8(lin, kind);
  }
  override write8(lin: number, value: number, kind: number): void {
    this.check(lin, kind);
    super.write8(lin, value, kind);
  }
  override read16(lin: number, kind: number): number {
    this.check(lin, kind);
    this.check(lin + 1, kind);
    return super.read16(lin, kind);
  }
  override write16(lin: number, value: number, kind: number): void {
    this.check(lin, kind);
    this.check(lin + 1, kind);
    super.write16(lin, value, kind);
  }
  override read32(lin: number, kind: number): number {
    this.check(lin, kind);
    this.check(lin + 3, kind);
    return super.read32(lin, kind);
  }
  override write32(lin: number, value: number, kind: number): void {
    this.check(lin, kind);
    this.check(lin + 3, kind);
    super.write32(lin, value, kind);
  }
}

/** xorshift32: a fixed-seed generator, so every run checks the same cases. */
function rng(seed: number): () => number {
  let s = seed | 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

interface Case {
  bytes: number[];
  regs: number[];
  flags: number;
  cc: number[];
  dsLimited: boolean;
  ssLimited: boolean;
  csLimit: number;
}

function randomValue(next: () => number): number {
  switch (next() % 6) {
    case 0:
      return next() % MEM_SIZE; // lands in RAM
    case 1:
      return (FAULT_PAGE << 12) + (next() & 0xfff); // the not-present page
    case 2:
      return [0, 1, -1, 0x7fffffff, 0x80000000, 0xffff, 0x1f, 0x20][next() & 7]! | 0;
    default:
      return next() | 0;
  }
}

function randomCase(next: () => number, b0: number, b1: number): Case {
  const bytes = [b0, b1];
  for (let i = 0; i < 14; i++) bytes.push(next() & 0xff);
  // Displacements and immediates are often small, so memory operands land in RAM.
  if (next() & 1) for (let i = 3; i < 16; i++) if (i % 4 !== 2) bytes[i] = 0;
  const regs = Array.from({ length: 8 }, () => randomValue(next));
  regs[4] = 0x20000 + ((next() % 0x1000) & ~3); // ESP in RAM (sometimes misaligned below)
  if ((next() & 7) === 0) regs[4] = randomValue(next);
  return {
    bytes,
    regs,
    flags: (next() & 0x8d5) | 2,
    cc: [next() % 9, next() | 0, next() | 0, next() | 0, [7, 15, 31][next() % 3]!, next() & 0x801],
    dsLimited: (next() & 7) === 0,
    ssLimited: (next() & 15) === 0,
    csLimit: (next() & 7) === 0 ? CODE + 0x100 + (next() & 0xfff) : 0xffffffff,
  };
}

interface Outcome {
  reason: string;
  instructions: number;
  regs: number[];
  eip: number;
  eflags: number;
  lastVector: number;
}

/** Memory contents of every case: GDT, IDT, random data from 64 KiB up. */
const IMAGE = (() => {
  const mem = new FlatMemory(MEM_SIZE);
  const fill = rng(0x1234567);
  const dv = new DataView(mem.bytes.buffer);
  for (let a = 0x10000; a < MEM_SIZE; a += 4) dv.setUint32(a, fill(), true);
  writeGdt(mem);
  for (let v = 0; v < 32; v++) setGate(mem, v, HANDLERS + v * 16);
  return mem.bytes;
})();

/** A machine reused by every case (reset in place: building one per case is slow). */
function newMachine(): Cpu {
  return new Cpu({ memory: new PagedMemory(MEM_SIZE) });
}

/** Puts `cpu` into the state of case `c` (flat protected mode at CODE, then the case's details). */
function setUp(cpu: Cpu, c: Case): void {
  const bytes = (cpu.memory as PagedMemory).bytes;
  bytes.set(IMAGE);
  bytes[CODE] = 0x90;
  bytes.set(c.bytes, CODE + 1);
  cpu.reset();
  cpu.enterFlatProtectedMode(CODE);
  cpu.dtr[0] = GDT;
  cpu.dtr[1] = 5 * 8 - 1;
  cpu.dtr[2] = IDT;
  cpu.dtr[3] = 32 * 8 - 1;
  const limited = { selector: 0x20, base: 0, limit: 0xfff, attributes: 0x4093 };
  if (c.dsLimited) cpu.loadSegmentCache(SREG_DS, limited);
  if (c.ssLimited) cpu.loadSegmentCache(SREG_SS, limited);
  if (c.csLimit !== 0xffffffff) {
    cpu.loadSegmentCache(SREG_CS, { selector: 0x08, base: 0, limit: c.csLimit, attributes: 0x409b });
  }
  for (let i = 0; i < 8; i++) cpu.regs[i] = c.regs[i]!;
  cpu.flags = c.flags;
  [cpu.ccOp, cpu.ccA, cpu.ccB, cpu.ccR, cpu.ccSz, cpu.ccC] = c.cc as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
}

function outcome(cpu: Cpu, budget = 2): Outcome {
  const exit = cpu.run(budget);
  return {
    reason: exit.reason,
    instructions: exit.instructions,
    regs: Array.from(cpu.regs),
    eip: cpu.eip,
    eflags: cpu.getEflags(),
    lastVector: cpu.lastVector,
  };
}

const EMPTY = new Uint8Array(HOT.length);

/** Runs `c` on `a` with the hot table in place and on `b` with it emptied. */
function both(a: Cpu, b: Cpu, c: Case, budget = 2): [Outcome, Outcome] {
  setUp(a, c);
  setUp(b, c);
  const hot = outcome(a, budget);
  const saved = HOT.slice();
  HOT.set(EMPTY);
  try {
    return [hot, outcome(b, budget)];
  } finally {
    HOT.set(saved);
  }
}

function same(ma: Cpu, mb: Cpu, a: Outcome, b: Outcome): boolean {
  return (
    a.reason === b.reason &&
    a.instructions === b.instructions &&
    a.eip === b.eip &&
    a.eflags === b.eflags &&
    a.lastVector === b.lastVector &&
    a.regs.every((v, i) => v === b.regs[i]) &&
    view(ma).equals(view(mb))
  );
}

/** A Buffer over the machine's RAM (no copy), for a fast comparison. */
function view(cpu: Cpu): Buffer {
  const bytes = (cpu.memory as PagedMemory).bytes;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function hex(bytes: number[]): string {
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');
}

describe('run loop hot path', () => {
  it('agrees with the generic decode/execute path on every hot (byte0, byte1) entry', {
    timeout: 120_000,
  }, () => {
    const next = rng(0x5eed1234);
    // Every entry whose second byte is a ModRM; for the others (the second byte is an operand or,
    // after 0F, the opcode) every opcode with 8 sampled second bytes.
    const entries: number[] = [];
    let total = 0;
    for (let i = 0; i < 0x10000; i++) {
      if (HOT[i] === 0) continue;
      total++;
      const b0 = i >> 8;
      const modrm = b0 !== 0x0f && (OPCODE_FLAGS[b0]! & F_MODRM) !== 0;
      if (modrm || (i & 0xff) % 37 === b0 % 37) entries.push(i);
    }
    // The table covers the frequent forms of compiled 32-bit code.
    expect(total).toBeGreaterThan(20000);
    let cases = 0;
    let faults = 0;
    const failures: string[] = [];
    const ma = newMachine();
    const mb = newMachine();
    for (const e of entries) {
      // Jcc, INC/DEC and ALU read the lazy flags: those get more states.
      const h = HOT[e]!;
      const reps = h <= 10 ? 4 : 2;
      for (let k = 0; k < reps; k++) {
        const c = randomCase(next, e >> 8, e & 0xff);
        const [a, b] = both(ma, mb, c);
        cases++;
        if (a.lastVector !== -1) faults++;
        if (!same(ma, mb, a, b) && failures.length < 10) {
          failures.push(`${hex(c.bytes.slice(0, 8))}: hot ${JSON.stringify(a)} generic ${JSON.stringify(b)}`);
        }
      }
    }
    console.log(
      `hot path: ${total} table entries, ${entries.length} checked, ${cases} cases, ${faults} with an exception`,
    );
    expect(failures).toEqual([]);
    // The random states reach the fault paths (limits, #PF, CS limit) as well as normal execution.
    expect(faults).toBeGreaterThan(cases / 50);
  });

  it('agrees on runs of hot instructions (EIP and the count kept in locals) at every budget', {
    timeout: 120_000,
  }, () => {
    // Sequences of 8 instructions drawn from the table (each with its encoding's bytes: ModRM,
    // SIB, displacement and immediate bytes are random), run with budgets 1..12, so that the hot
    // path's consecutive execution, its budget check and its write-back are all compared.
    const next = rng(0x0ddba11);
    const entries: number[] = [];
    for (let i = 0; i < 0x10000; i++) if (HOT[i] !== 0) entries.push(i);
    const ma = newMachine();
    const mb = newMachine();
    const failures: string[] = [];
    let cases = 0;
    for (let k = 0; k < 1500; k++) {
      const base = randomCase(next, 0x90, 0x90);
      const bytes: number[] = [];
      while (bytes.length < 15 * 8) {
        const e = entries[next() % entries.length]!;
        const tail = Array.from({ length: 6 }, () => (next() & 1 ? 0 : next() & 0xff));
        // Short jumps stay inside the sequence most of the time.
        if (e >> 8 >= 0x70 && e >> 8 <= 0x7f) bytes.push(e >> 8, next() & 0x0f);
        else bytes.push(e >> 8, e & 0xff, ...tail);
      }
      const c = { ...base, bytes: bytes.slice(0, 15 * 8) };
      for (const budget of [1 + (k % 12), 64]) {
        const [a, b] = both(ma, mb, c, budget);
        cases++;
        if (!same(ma, mb, a, b) && failures.length < 10) {
          failures.push(
            `${hex(c.bytes.slice(0, 24))} budget ${budget}: hot ${JSON.stringify(a)} generic ${JSON.stringify(b)}`,
          );
        }
      }
    }
    console.log(`hot path sequences: ${cases} cases`);
    expect(failures).toEqual([]);
  });

  it('executes self-modifying code exactly (the table reads the bytes, nothing is cached)', () => {
    // CALL 0x8020 (INC EAX; RET), MOV byte [0x8020], 0x48 (DEC EAX), CALL 0x8020 again, HLT.
    const mem = new FlatMemory(MEM_SIZE);
    const code = [0xe8, 0x1b, 0, 0, 0, 0xc6, 0x05, 0x20, 0x80, 0, 0, 0x48, 0xe8, 0x0f, 0, 0, 0, 0xf4];
    mem.load(CODE, Uint8Array.from(code));
    mem.load(CODE + 0x20, Uint8Array.from([0x40, 0xc3]));
    const cpu = new Cpu({ memory: mem });
    cpu.enterFlatProtectedMode(CODE);
    cpu.regs[0] = 5;
    cpu.regs[4] = 0x20000;
    expect(cpu.run(20)).toEqual({ reason: 'hlt', instructions: 8 });
    expect(cpu.regs[0]).toBe(5);
    expect(cpu.eip).toBe(CODE + code.length);
  });
});
