/**
 * The seed's property: writeBatch(seq) and the same writes one by one (through the trap path:
 * MMIO dword writes in xAPIC mode, WRMSR in x2APIC mode) leave identical APIC state, identical
 * delivered-interrupt logs and identical per-entry outcomes, with one re-evaluation per batch.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ApicBatchEntry } from '../src/index';
import { drain, enableX2apic, enableXapic, machine } from './helpers';

const REG = {
  ID: 0x02,
  TPR: 0x08,
  EOI: 0x0b,
  LDR: 0x0d,
  DFR: 0x0e,
  SVR: 0x0f,
  ESR: 0x28,
  CMCI: 0x2f,
  ICR: 0x30,
  ICR2: 0x31,
  LVTT: 0x32,
  TMICT: 0x38,
  TMCCT: 0x39,
  TDCR: 0x3e,
  SELF: 0x3f,
};

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const vector = fc.oneof(fc.integer({ min: 0x20, max: 0xff }), fc.integer({ min: 0, max: 0x1f }));

function icrLow() {
  return fc
    .record({
      vector,
      dm: fc.constantFrom(0, 0, 0, 1, 2, 3, 4, 5, 6, 7),
      logical: fc.boolean(),
      assert: fc.boolean(),
      level: fc.boolean(),
      sh: fc.integer({ min: 0, max: 3 }),
    })
    .map(
      (r) =>
        r.vector |
        (r.dm << 8) |
        (r.logical ? 1 << 11 : 0) |
        (r.assert ? 1 << 14 : 0) |
        (r.level ? 1 << 15 : 0) |
        (r.sh << 18),
    );
}

function entryArb(x2: boolean, n: number): fc.Arbitrary<ApicBatchEntry> {
  const dest = x2
    ? fc.oneof(fc.integer({ min: 0, max: n }), fc.constant(0xffffffff), fc.integer({ min: 1, max: 0xf }))
    : fc.oneof(fc.integer({ min: 0, max: n }), fc.constant(0xff), fc.integer({ min: 1, max: 0xf }));
  const e = (reg: number, value: fc.Arbitrary<number>, high: fc.Arbitrary<number> = fc.constant(0)) =>
    fc.record({ reg: fc.constant(reg), value, high });
  const lvt = fc
    .record({ reg: fc.integer({ min: 0x32, max: 0x37 }), vector, bits: fc.integer({ min: 0, max: 0x7 }) })
    .map((r) => ({ reg: r.reg, value: r.vector | ((r.bits & 1) << 16) | ((r.bits >> 1) << 17), high: 0 }));
  const common: fc.Arbitrary<ApicBatchEntry>[] = [
    e(REG.TPR, fc.oneof(fc.integer({ min: 0, max: 0xff }), u32)),
    e(REG.EOI, fc.oneof(fc.constant(0), fc.constant(0), u32)),
    e(REG.SVR, fc.oneof(fc.integer({ min: 0x100, max: 0x3ff }), fc.integer({ min: 0, max: 0xff }), u32)),
    e(REG.ESR, fc.oneof(fc.constant(0), u32)),
    lvt,
    e(REG.CMCI, u32),
    e(REG.TMICT, fc.oneof(fc.integer({ min: 0, max: 1000 }), u32)),
    e(REG.TMCCT, u32),
    e(REG.TDCR, fc.oneof(fc.integer({ min: 0, max: 0xb }), u32)),
    e(REG.ID, u32),
    e(REG.LDR, u32),
    e(REG.DFR, u32),
    fc.record({ reg: fc.integer({ min: 0, max: 0xff }), value: u32, high: fc.constant(0) }),
  ];
  if (x2) {
    return fc.oneof(
      ...common,
      fc.record({ reg: fc.constant(REG.ICR), value: icrLow(), high: dest }),
      fc.record({ reg: fc.constant(REG.ICR), value: icrLow(), high: dest }),
      fc.record({ reg: fc.constant(REG.ICR), value: u32, high: u32 }),
      e(REG.SELF, fc.oneof(vector, u32)),
      e(REG.TPR, fc.integer({ min: 0, max: 0xff }), fc.integer({ min: 0, max: 3 })),
    );
  }
  return fc.oneof(
    ...common,
    e(
      REG.ICR2,
      dest.map((d) => (d << 24) >>> 0),
    ),
    e(REG.ICR, icrLow()),
    e(REG.ICR, icrLow()),
    e(REG.ICR, u32),
  );
}

interface Scenario {
  x2: boolean;
  n: number;
  pre: number[];
  acks: number;
  tpr: number;
  timer: number;
  seq: ApicBatchEntry[];
  later: number;
}

const scenario: fc.Arbitrary<Scenario> = fc
  .record({ x2: fc.boolean(), n: fc.integer({ min: 1, max: 4 }) })
  .chain(({ x2, n }) =>
    fc.record({
      x2: fc.constant(x2),
      n: fc.constant(n),
      pre: fc.array(fc.integer({ min: 0x20, max: 0xff }), { maxLength: 6 }),
      acks: fc.integer({ min: 0, max: 4 }),
      tpr: fc.integer({ min: 0, max: 0xff }),
      timer: fc.integer({ min: 0, max: 200 }),
      seq: fc.array(entryArb(x2, n), { minLength: 1, maxLength: 24 }),
      later: fc.integer({ min: 0, max: 5000 }),
    }),
  );

function build(s: Scenario) {
  const m = machine(s.n);
  for (const [i, a] of m.apics.entries()) {
    if (s.x2) enableX2apic(a);
    else {
      enableXapic(a);
      a.mmioWrite(0xd0, 4, (1 << i) << 24);
    }
  }
  const w = m.apics[0]!;
  // Some level-triggered and edge interrupts in service / pending so EOI and PPR matter.
  for (const [k, v] of s.pre.entries()) {
    m.bus.deliver({ vector: v, deliveryMode: 0, destMode: 0, dest: 0, trigger: k & 1, level: 1 });
  }
  for (let k = 0; k < s.acks && w.pending(); k++) w.acknowledge();
  w.writeRegister(REG.TPR, s.tpr);
  w.writeRegister(REG.LVTT, 0x20000 | 0x30);
  w.writeRegister(REG.TMICT, s.timer);
  m.log.length = 0;
  m.ioEoi.length = 0;
  return m;
}

/** Everything observable, as one string (typed arrays spelled out) so comparisons are cheap. */
function observe(m: ReturnType<typeof build>, later: number): string {
  const json = (v: unknown) =>
    JSON.stringify(v, (_k, x) => (x instanceof Uint32Array ? Array.from(x) : x === Infinity ? 'inf' : x));
  const states = m.apics.map((a) => a.saveState());
  const log = [...m.log];
  const ioEoi = [...m.ioEoi];
  const deadlines = m.apics.map((a) => a.nextDeadline());
  m.clock.advance(later);
  const after = m.apics.map((a) => ({ nmi: a.nmi(), intr: drain(a), state: a.saveState() }));
  return json({ states, log, ioEoi, deadlines, after, tail: [...m.log] });
}

describe('writeBatch ≡ sequential writes', () => {
  it('identical state, delivered-interrupt log, per-entry outcome; one evaluation per batch (3000 cases)', () => {
    let withIpis = 0;
    let withFailures = 0;
    fc.assert(
      fc.property(scenario, (s) => {
        const seqM = build(s);
        const batM = build(s);
        // Sequential, through the trap path.
        const w = seqM.apics[0]!;
        const seqFailed: number[] = [];
        for (const [i, e] of s.seq.entries()) {
          const ok = s.x2
            ? w.writeMsr(0x800 + e.reg, (BigInt(e.high ?? 0) << 32n) | BigInt(e.value >>> 0))
            : w.mmioWrite(e.reg << 4, 4, e.value) === 0;
          if (!ok) seqFailed.push(i);
        }
        // Batched.
        const b = batM.apics[0]!;
        const evals = batM.apics.map((a) => a.stats.evaluations);
        const accessesBefore = b.stats.accesses;
        const result = b.writeBatch(s.seq);
        const evalDelta = batM.apics.map((a, i) => a.stats.evaluations - evals[i]!);
        expect(evalDelta.every((d) => d <= 1)).toBe(true);
        expect(b.stats.accesses).toBe(accessesBefore); // one exit, counted as a batch
        expect(result.failures.map((f) => f.index)).toEqual(seqFailed);
        expect(result.applied).toBe(s.seq.length - seqFailed.length);
        if (seqM.log.some((l) => !l.startsWith('accept 0') && l.startsWith('accept'))) withIpis++;
        if (seqFailed.length > 0) withFailures++;
        // The flat-record form used by the hypercall path gives the same outcome.
        const wordsM = build(s);
        const words = new Uint32Array(s.seq.length * 3);
        for (const [i, e] of s.seq.entries()) words.set([e.reg, e.value >>> 0, (e.high ?? 0) >>> 0], 3 * i);
        const status = new Uint8Array(s.seq.length);
        expect(wordsM.apics[0]!.writeBatchWords(words, s.seq.length, status)).toBe(result.applied);
        expect([...status.entries()].filter(([, st]) => st !== 0).map(([i]) => i)).toEqual(seqFailed);
        const want = observe(seqM, s.later);
        expect(observe(batM, s.later)).toBe(want);
        expect(observe(wordsM, s.later)).toBe(want);
      }),
      { numRuns: 3000 },
    );
    // The generator really exercises cross-CPU delivery and failing entries.
    expect(withIpis).toBeGreaterThan(300);
    expect(withFailures).toBeGreaterThan(300);
  });

  it('reports unknown and read-only registers per entry, by name', () => {
    const m = machine(1);
    const a = m.apics[0]!;
    enableXapic(a);
    const r = a.writeBatch([
      { reg: 0x08, value: 0x20 },
      { reg: 0x05, value: 1 },
      { reg: 0x0a, value: 1 },
      { reg: 0x39, value: 1 },
      { reg: 0x3f, value: 0x40 },
      { reg: 0x0b, value: 0 },
    ]);
    expect(r.applied).toBe(2);
    expect(r.failures.map((f) => [f.index, f.status])).toEqual([
      [1, 'unknown-register'],
      [2, 'read-only'],
      [3, 'read-only'],
      [4, 'unknown-register'],
    ]);
    expect(r.failures[1]!.message).toContain('PPR (0x0a)');
    expect(r.failures[3]!.message).toContain('SELF_IPI');
    expect(() => a.writeBatch([{ reg: 1.5, value: 0 }])).toThrow(/entry 0/);
    expect(() =>
      a.writeBatch([
        { reg: 8, value: 0 },
        { reg: 8, value: 2 ** 33 },
      ]),
    ).toThrow(/entry 1/);
    expect(a.mmioRead(0x80, 4)).toBe(0x20); // a rejected batch applies nothing
    expect(() => a.writeBatchWords(new Uint32Array(5), 2)).toThrow(/count 2/);
  });

  it('ICR writes inside a batch send their IPIs in order', () => {
    const m = machine(3);
    for (const a of m.apics) enableX2apic(a);
    const r = m.apics[0]!.writeBatch([
      { reg: 0x30, value: 0x4051, high: 2 },
      { reg: 0x30, value: 0x4052, high: 1 },
      { reg: 0x30, value: 0x4053, high: 2 },
      { reg: 0x3f, value: 0x54 },
    ]);
    expect(r.failures).toEqual([]);
    expect(m.log).toEqual(['accept 2 dm0 81', 'accept 1 dm0 82', 'accept 2 dm0 83', 'accept 0 dm0 84']);
  });
});
