/**
 * trap ≡ hypercall in x2APIC mode: a native guest WRMSRs 0x800 + reg (one exit each, #GP on a bad
 * value); the PV guest sends the same writes as PV_HC_APIC_WRITE_BATCH lists and its IPIs as
 * KVM_HC_SEND_IPI. Same APIC state, same pending interrupts, same #GP verdicts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildMachine, encodeList, HC, machineState, Scratch, type TestMachine } from './helpers';

const NCPU = 3;

type XOp =
  | { t: 'write'; cpu: number; reg: number; value: number }
  | { t: 'bad'; cpu: number; reg: number; value: number }
  | { t: 'ipi'; cpu: number; targets: number; vector: number }
  | { t: 'read'; cpu: number; reg: number }
  | { t: 'ack'; cpu: number }
  | { t: 'tick'; cycles: number };

const cpuArb = fc.integer({ min: 0, max: NCPU - 1 });
const vec = fc.integer({ min: 0x20, max: 0xff });
/** Values WRMSR accepts in x2APIC mode (SDM 10.12.1.3: reserved bits #GP). */
const validWrite = fc.oneof(
  fc.record({ reg: fc.constant(0x08), value: fc.integer({ min: 0, max: 0xff }) }),
  fc.record({ reg: fc.constant(0x0b), value: fc.constant(0) }),
  fc.record({ reg: fc.constant(0x28), value: fc.constant(0) }),
  fc.record({
    reg: fc.constantFrom(0x32, 0x37),
    value: fc.tuple(vec, fc.boolean()).map(([v, m]) => (v | (m ? 0x10000 : 0)) >>> 0),
  }),
  fc.record({ reg: fc.constant(0x38), value: fc.integer({ min: 0, max: 4000 }) }),
  fc.record({ reg: fc.constant(0x3e), value: fc.constantFrom(0, 1, 2, 3, 8, 9, 0xa, 0xb) }),
  fc.record({ reg: fc.constant(0x3f), value: vec }),
);
/** Values that #GP: read-only / unknown registers, reserved bits. */
const badWrite = fc.oneof(
  fc.record({ reg: fc.constant(0x08), value: fc.integer({ min: 0x100, max: 0xffff }) }),
  fc.record({
    reg: fc.constantFrom(0x02, 0x03, 0x0d, 0x0e, 0x31, 0x09, 0x0c),
    value: fc.integer({ min: 0, max: 0xff }),
  }),
  fc.record({ reg: fc.constant(0x0b), value: fc.integer({ min: 1, max: 0xff }) }),
  fc.record({ reg: fc.constant(0x3f), value: fc.integer({ min: 0x100, max: 0x1ff }) }),
);
const opArb: fc.Arbitrary<XOp> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.tuple(cpuArb, validWrite).map(([cpu, w]) => ({ t: 'write' as const, cpu, ...w })),
  },
  { weight: 1, arbitrary: fc.tuple(cpuArb, badWrite).map(([cpu, w]) => ({ t: 'bad' as const, cpu, ...w })) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('ipi' as const),
      cpu: cpuArb,
      targets: fc.integer({ min: 0, max: 7 }),
      vector: vec,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('read' as const),
      cpu: cpuArb,
      reg: fc.constantFrom(0x02, 0x08, 0x0a, 0x0d, 0x0f, 0x10, 0x17, 0x20, 0x28, 0x32, 0x39),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('ack' as const), cpu: cpuArb }) },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant('tick' as const), cycles: fc.integer({ min: 1, max: 3000 }) }),
  },
);

function x2Machine(): TestMachine {
  const m = buildMachine({ vcpus: NCPU });
  for (let i = 0; i < NCPU; i++) {
    if (!m.top.cpu.writeMsr(i, 0x1b, m.apics[i]!.getApicBase() | 0xc00n)) throw new Error('x2APIC enable');
    m.top.apic.write(i, 0x0f, 0x1ff);
  }
  m.ops.stats.reset();
  return m;
}

function common(m: TestMachine, op: XOp, out: unknown[]): boolean {
  switch (op.t) {
    case 'read':
      out.push(m.traps[op.cpu]!.msr.read(0x800 + op.reg));
      return true;
    case 'ack':
      out.push(m.top.apic.pending(op.cpu) ? m.top.apic.acknowledge(op.cpu) : -1);
      return true;
    case 'tick':
      m.clock.advance(op.cycles);
      for (const a of m.apics) a.tick();
      return true;
    default:
      return false;
  }
}

function runTrap(m: TestMachine, ops: XOp[]): unknown[] {
  const out: unknown[] = [];
  for (const op of ops) {
    if (common(m, op, out)) continue;
    const msr = m.traps[(op as { cpu: number }).cpu]!.msr;
    if (op.t === 'write' || op.t === 'bad') {
      const ok = msr.write(0x800 + op.reg, BigInt(op.value));
      // The generator knows which values WRMSR accepts (SDM 10.12.1.3): the verdicts are checked too.
      expect(ok).toBe(op.t === 'write');
      out.push(ok);
    } else if (op.t === 'ipi') {
      // x2APIC ICR: one 64-bit WRMSR per destination (destination in bits 63:32).
      for (let d = 0; d < NCPU; d++)
        if (op.targets & (1 << d)) msr.write(0x830, (BigInt(d) << 32n) | BigInt(0x4000 | op.vector));
    }
  }
  return out;
}

function runHypercall(m: TestMachine, ops: XOp[], plan: boolean[]): unknown[] {
  const out: unknown[] = [];
  const scratch = new Scratch(m.mmu);
  let p = 0;
  let i = 0;
  while (i < ops.length) {
    const op = ops[i]!;
    if (common(m, op, out)) {
      i++;
      continue;
    }
    scratch.reset();
    const hc = m.hc[(op as { cpu: number }).cpu]!;
    if (op.t === 'ipi') {
      expect(hc.invoke(HC.KVM_HC_SEND_IPI, op.targets, 0, 0, 0x4000 | op.vector)).toBeGreaterThanOrEqual(0);
      i++;
      continue;
    }
    if (op.t === 'bad') {
      // A write that #GPs natively fails as entry 0 of its batch: nothing applied.
      const list = scratch.put(encodeList('pv_apic_write', [{ reg: op.reg << 4, value: op.value }]));
      const r = hc.invoke(HC.PV_HC_APIC_WRITE_BATCH, list, 1, 0);
      out.push(r === 1);
      i++;
      continue;
    }
    // A run of valid writes of one vCPU: one batch, or single calls.
    const group: Extract<XOp, { t: 'write' }>[] = [op as Extract<XOp, { t: 'write' }>];
    if (plan[p++ % plan.length]) {
      while (i + group.length < ops.length) {
        const o = ops[i + group.length]!;
        if (o.t !== 'write' || o.cpu !== group[0]!.cpu) break;
        group.push(o);
      }
    }
    i += group.length;
    const list = scratch.put(
      encodeList(
        'pv_apic_write',
        group.map((g) => ({ reg: g.reg << 4, value: g.value })),
      ),
    );
    const r = hc.invoke(HC.PV_HC_APIC_WRITE_BATCH, list, group.length, 0);
    for (let k = 0; k < group.length; k++) out.push(k < r);
  }
  return out;
}

describe('trap path ≡ hypercall path in x2APIC mode', () => {
  it('WRMSR per register ≡ APIC write batches and SEND_IPI (600 cases)', () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { minLength: 1, maxLength: 30 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
        (ops, plan) => {
          const a = x2Machine();
          const b = x2Machine();
          const ra = runTrap(a, ops);
          const rb = runHypercall(b, ops, plan);
          expect(rb).toEqual(ra);
          expect(machineState(b)).toEqual(machineState(a));
        },
      ),
      { numRuns: 600 },
    );
  }, 120_000);
});
