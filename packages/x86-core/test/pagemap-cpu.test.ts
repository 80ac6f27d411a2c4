/**
 * The CPU's inline page-map hit path (core.ts lr*, lw*, probeWrite, fetchSlow) against its slow path:
 * random programs of 8/16/32-bit loads and stores (aligned, unaligned, straddling a page, beyond RAM,
 * through A20 aliases), PUSH/POP, REP MOVS, INVLPG, TLB flushes and A20 toggles from the guest run on
 * a FlatMemory (page map, small TLBs so slots are evicted all the time) and on a Memory without a
 * page map (every access through Memory methods); registers, EFLAGS and all of RAM must agree.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { IoBus, Memory, MemoryCpuHooks, PagingState, SoftTlb } from '../src/index';
import { Cpu, FlatMemory } from '../src/index';
import { CODE, GDT, IDT, le32, STACK_TOP, setGate, writeGdt } from './helpers';

/** A Memory over a FlatMemory that offers no page map, so the CPU always takes its slow path. */
class NoPageMapMemory implements Memory {
  readonly tlb: SoftTlb;
  calls = 0;
  constructor(readonly inner: FlatMemory) {
    const t = inner.tlb;
    this.tlb = { bits: t.bits, tag: t.tag, offset: t.offset, ram: t.ram, ram16: t.ram16, ram32: t.ram32 };
  }
  read8(lin: number, kind: number): number {
    this.calls++;
    return this.inner.read8(lin, kind);
  }
  read16(lin: number, kind: number): number {
    this.calls++;
    return this.inner.read16(lin, kind);
  }
  read32(lin: number, kind: number): number {
    this.calls++;
    return this.inner.read32(lin, kind);
  }
  write8(lin: number, value: number, kind: number): void {
    this.calls++;
    this.inner.write8(lin, value, kind);
  }
  write16(lin: number, value: number, kind: number): void {
    this.calls++;
    this.inner.write16(lin, value, kind);
  }
  write32(lin: number, value: number, kind: number): void {
    this.calls++;
    this.inner.write32(lin, value, kind);
  }
  attachCpu(hooks: MemoryCpuHooks): void {
    this.inner.attachCpu(hooks);
  }
  setPagingState(state: PagingState): void {
    this.inner.setPagingState(state);
  }
  invlpg(lin: number): void {
    this.inner.invlpg(lin);
  }
  flushTlb(includeGlobal: boolean): void {
    this.inner.flushTlb(includeGlobal);
  }
}

const RAM = 4 << 20;
/** Data addresses: RAM pages, A20 aliases of 0x20000.. (0x120000..), a page beyond RAM, slot-sharing pages. */
const PAGES = [0x20, 0x21, 0x3f, 0x120, 0x121, 0x220, 0x3ff, 0x400];
const OFFSETS = [0, 1, 2, 3, 0x7ff, 0xffc, 0xffd, 0xffe, 0xfff];
const PORT_A20 = 0x92;
const PORT_FLUSH = 0x93;

const addrArb = fc
  .tuple(fc.constantFrom(...PAGES), fc.oneof(fc.constantFrom(...OFFSETS), fc.integer({ min: 0, max: 0xfff })))
  .map(([p, o]) => (p << 12) | o);

/** One instruction (or a short sequence) as bytes. */
const insnArb: fc.Arbitrary<readonly number[]> = fc.oneof(
  fc.integer().map((v) => [0xbb, ...le32(v)]), // mov ebx, imm32
  addrArb.map((a) => [0xa1, ...le32(a)]), // mov eax, [a]
  addrArb.map((a) => [0xa3, ...le32(a)]), // mov [a], eax
  addrArb.map((a) => [0x8b, 0x1d, ...le32(a)]), // mov ebx, [a]
  addrArb.map((a) => [0x89, 0x1d, ...le32(a)]), // mov [a], ebx
  addrArb.map((a) => [0x66, 0x8b, 0x0d, ...le32(a)]), // mov cx, [a]
  addrArb.map((a) => [0x66, 0x89, 0x1d, ...le32(a)]), // mov [a], bx
  fc
    .tuple(addrArb, fc.integer({ min: 0, max: 0xffff }))
    .map(([a, v]) => [0x66, 0xc7, 0x05, ...le32(a), v & 0xff, v >> 8]), // mov word [a], imm16
  addrArb.map((a) => [0x66, 0x01, 0x1d, ...le32(a)]), // add [a], bx
  addrArb.map((a) => [0x8a, 0x15, ...le32(a)]), // mov dl, [a]
  addrArb.map((a) => [0x88, 0x1d, ...le32(a)]), // mov [a], bl
  addrArb.map((a) => [0x01, 0x1d, ...le32(a)]), // add [a], ebx (read-modify-write)
  addrArb.map((a) => [0x0f, 0xc1, 0x1d, ...le32(a)]), // xadd [a], ebx
  fc.constant([0x01, 0xc3, 0xc1, 0xc3, 0x05, 0x01, 0xd3, 0x01, 0xcb]), // add ebx,eax; rol ebx,5; add ebx,edx; add ebx,ecx
  // mov esp, a+4; push ebx; pop esi; push dword [a]; pop edi (probeWrite, stack through the TLB)
  fc
    .tuple(addrArb, addrArb)
    .map(([s, a]) => [0xbc, ...le32(s + 4), 0x53, 0x5e, 0xff, 0x35, ...le32(a), 0x5f]),
  // mov esi, s; mov edi, d; mov ecx, n; rep movsb / rep movsd
  fc
    .tuple(addrArb, addrArb, fc.integer({ min: 0, max: 24 }), fc.boolean())
    .map(([s, d, n, dw]) => [0xbe, ...le32(s), 0xbf, ...le32(d), 0xb9, ...le32(n), 0xf3, dw ? 0xa5 : 0xa4]),
  addrArb.map((a) => [0x0f, 0x01, 0x3d, ...le32(a)]), // invlpg [a]
  fc.boolean().map((on) => [0xb0, on ? 2 : 0, 0xe6, PORT_A20]), // A20 on/off
  fc.constant([0xe6, PORT_FLUSH]), // host flushes the TLB
);

/** Distinct pseudo-random bytes in every data page, so an access through a wrong offset shows. */
function fillData(flat: FlatMemory): void {
  let x = 0x9e3779b9;
  const ram = flat.bytes;
  for (const [from, to] of [
    [0x20000, 0x40000],
    [0x120000, 0x122000],
    [0x220000, 0x221000],
    [0x3ff000, RAM],
  ] as const) {
    for (let i = from; i < to; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      ram[i] = x;
    }
  }
}

function machine(memory: Memory, flat: FlatMemory, program: number[]): Cpu {
  fillData(flat);
  writeGdt(flat);
  for (let v = 0; v < 256; v++) setGate(flat, v, 0x4000 + v * 16);
  for (let v = 0; v < 256; v++) flat.load(0x4000 + v * 16, Uint8Array.from([0xf4])); // every vector: hlt
  flat.load(CODE, Uint8Array.from([...program, 0xf4]));
  const io: IoBus = {
    in: () => 0xff,
    out: (port, _size, value) => {
      if (port === PORT_A20) flat.setA20((value & 2) !== 0);
      else if (port === PORT_FLUSH) flat.flushTlb(true);
    },
  };
  const cpu = new Cpu({ memory, io });
  cpu.enterFlatProtectedMode(CODE);
  cpu.dtr[0] = GDT;
  cpu.dtr[1] = 5 * 8 - 1;
  cpu.dtr[2] = IDT;
  cpu.dtr[3] = 256 * 8 - 1;
  cpu.regs[4] = STACK_TOP;
  return cpu;
}

function runBoth(program: number[], bits: number) {
  const fast = new FlatMemory(RAM, { tlbBits: bits });
  const slowInner = new FlatMemory(RAM);
  const slow = new NoPageMapMemory(slowInner);
  const a = machine(fast, fast, program);
  const b = machine(slow, slowInner, program);
  const ea = a.run(100_000);
  const eb = b.run(100_000);
  return { a, b, ea, eb, fast, slowInner, slow };
}

describe('CPU memory accessors on the page map', () => {
  it('agree with the slow path on random access programs (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 3, 10),
        fc.boolean(),
        fc.array(insnArb, { minLength: 1, maxLength: 40 }),
        (bits, a20Off, insns) => {
          const program = [...(a20Off ? [0xb0, 0, 0xe6, PORT_A20] : []), ...insns.flat()];
          const { a, b, ea, eb, fast, slowInner } = runBoth(program, bits);
          // Both ran the whole program without an exception (the final HLT is the last byte).
          expect(a.lastVector).toBe(-1);
          expect(a.eip).toBe(CODE + program.length + 1);
          expect(ea.reason).toBe(eb.reason);
          expect(a.eip).toBe(b.eip);
          expect(Array.from(a.regs)).toEqual(Array.from(b.regs));
          expect(a.eflags).toBe(b.eflags);
          expect(a.lastVector).toBe(b.lastVector);
          expect(Buffer.compare(fast.bytes, slowInner.bytes)).toBe(0);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('hits without calling Memory once a page is cached, and a Memory without a page map still works', () => {
    // mov eax,[0x20000]; mov [0x20ffe],eax (straddle: slow); mov ebx,[0x21001] (unaligned hit) ×2
    const body = [0xa1, ...le32(0x20000), 0xa3, ...le32(0x20ffe), 0x8b, 0x1d, ...le32(0x21001)];
    const { a, b, slow, fast } = runBoth([...body, ...body], 10);
    expect(a.regs[3]).toBe(b.regs[3]);
    expect(slow.calls).toBeGreaterThanOrEqual(6);
    // The page map is the CPU's: after the first pass both data pages are cached for read and write.
    const map = fast.tlb.pageMap!;
    expect(map[0]![0x20]).not.toBe(0);
    expect(map[1]![0x20]).not.toBe(0);
    expect(map[0]![0x21]).not.toBe(0);
  });
});
