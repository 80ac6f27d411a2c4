/**
 * The central property of the package (DESIGN.md §1): a guest doing the same privileged thing
 * natively (trap path) or paravirtually (hypercall path: single calls, batches, multicalls, lists
 * encoded with @pv/hypercall's codecs into the Mmu's RAM) ends in the same machine state with the
 * same guest-visible results; only the number of exits differs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  apicPage,
  buildMachine,
  CR4_PGE,
  CR4_PSE,
  encodeList,
  HC,
  machineState,
  PageFault,
  PD,
  PT_A,
  PT_B,
  PTE_G,
  PTE_P,
  PTE_PS,
  PTE_RW,
  Scratch,
  type TestMachine,
} from './helpers';

const NCPU = 3;

type Op =
  | { t: 'apicWrite'; cpu: number; reg: number; value: number }
  | { t: 'icr'; cpu: number; dest: number; value: number }
  | { t: 'apicRead'; cpu: number; reg: number }
  | { t: 'eoi'; cpu: number }
  | { t: 'ipi'; cpu: number; targets: number; vector: number; nmi: boolean; level: boolean }
  | { t: 'pte'; cpu: number; gpa: number; value: number }
  | { t: 'invlpg'; cpu: number; lin: number }
  | { t: 'flushAll'; cpu: number; global: boolean }
  | { t: 'read'; lin: number }
  | { t: 'tick'; cycles: number }
  | { t: 'ack'; cpu: number }
  | { t: 'console'; cpu: number; bytes: number[] }
  | { t: 'kvmclock'; cpu: number }
  | { t: 'hlt'; cpu: number; sti: boolean };

const cpuArb = fc.integer({ min: 0, max: NCPU - 1 });
const vectorArb = fc.oneof(fc.integer({ min: 0x20, max: 0xff }), fc.integer({ min: 0, max: 0x1f }));
/** Registers a guest programs, with a few unknown / read-only ones (ESR paths). */
const regArb = fc.constantFrom(
  0x08,
  0x0b,
  0x0d,
  0x0e,
  0x0f,
  0x28,
  0x31,
  0x32,
  0x35,
  0x36,
  0x37,
  0x38,
  0x3e,
  0x03,
  0x01,
);
const valueFor = (reg: number) => {
  switch (reg) {
    case 0x30: // ICR: fixed / NMI / INIT / lowest, physical or logical, no shorthand or self/all
      return fc
        .record({
          vector: vectorArb,
          dm: fc.constantFrom(0, 1, 4, 5),
          logical: fc.boolean(),
          sh: fc.constantFrom(0, 0, 1, 2, 3),
          level: fc.boolean(),
        })
        .map(
          ({ vector, dm, logical, sh, level }) =>
            (vector | (dm << 8) | (logical ? 0x800 : 0) | (level ? 0xc000 : 0x4000) | (sh << 18)) >>> 0,
        );
    case 0x31:
      return fc.integer({ min: 0, max: 3 }).map((d) => (d << 24) >>> 0);
    case 0x32:
    case 0x35:
    case 0x36:
    case 0x37:
      return fc
        .record({
          vector: vectorArb,
          masked: fc.boolean(),
          mode: fc.integer({ min: 0, max: 1 }),
          dm: fc.constantFrom(0, 4, 7),
        })
        .map(
          ({ vector, masked, mode, dm }) =>
            (vector | (dm << 8) | (mode << 17) | (masked ? 0x10000 : 0)) >>> 0,
        );
    case 0x38:
      return fc.integer({ min: 0, max: 5000 });
    case 0x0f:
      return fc.oneof(fc.constant(0x1ff), fc.integer({ min: 0, max: 0xffffffff }));
    default:
      return fc.oneof(fc.integer({ min: 0, max: 0xff }), fc.integer({ min: 0, max: 0xffffffff }));
  }
};

const lins = [
  ...Array.from({ length: 16 }, (_, i) => 0x400000 + i * 0x1000),
  ...Array.from({ length: 16 }, (_, i) => 0x800000 + i * 0x1000),
  0xc00000,
  0xc10000,
];
const linArb = fc.constantFrom(...lins).chain((l) => fc.constantFrom(l, l + 0x10));
/** PTE/PDE stores: page-table entries of both tables, and PDE[1..3] (remapping whole tables). */
const pteArb = fc.oneof(
  fc.record({
    gpa: fc.oneof(
      fc.integer({ min: 0, max: 15 }).map((i) => PT_A + 4 * i),
      fc.integer({ min: 0, max: 15 }).map((i) => PT_B + 4 * i),
    ),
    value: fc
      .record({ frame: fc.integer({ min: 0x10, max: 0x2f }), p: fc.nat(9), g: fc.boolean() })
      .map(({ frame, p, g }) => ((frame << 12) | (p === 0 ? 0 : PTE_P) | PTE_RW | (g ? PTE_G : 0)) >>> 0),
  }),
  fc.record({
    gpa: fc.constantFrom(PD + 4, PD + 8, PD + 12),
    value: fc.constantFrom(
      PT_A | PTE_P | PTE_RW,
      PT_B | PTE_P | PTE_RW,
      0,
      PTE_P | PTE_RW | PTE_PS | PTE_G,
      0x400000 | PTE_P | PTE_RW | PTE_PS,
    ),
  }),
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({ cpu: cpuArb, reg: regArb })
      .chain(({ cpu, reg }) => valueFor(reg).map((value) => ({ t: 'apicWrite' as const, cpu, reg, value }))),
  },
  // Every readable register but ICR/ICR2: KVM_HC_SEND_IPI does not latch the ICR (as in KVM).
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('apicRead' as const),
      cpu: cpuArb,
      reg: fc.constantFrom(
        0x02,
        0x03,
        0x08,
        0x09,
        0x0a,
        0x0d,
        0x0e,
        0x0f,
        0x10,
        0x17,
        0x18,
        0x20,
        0x27,
        0x28,
        0x32,
        0x35,
        0x37,
        0x38,
        0x39,
        0x3e,
        0x3f,
      ),
    }),
  },
  // A raw ICR command: the destination (ICR2) is written first, as every guest does.
  {
    weight: 2,
    arbitrary: fc
      .record({ cpu: cpuArb, dest: fc.constantFrom(0, 1, 2, 3, 0xff), value: valueFor(0x30) })
      .map((o) => ({ t: 'icr' as const, ...o })),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('eoi' as const), cpu: cpuArb }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('ipi' as const),
      cpu: cpuArb,
      targets: fc.integer({ min: 0, max: 7 }),
      vector: vectorArb,
      nmi: fc.boolean(),
      level: fc.boolean(),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({ cpu: cpuArb, p: pteArb }).map(({ cpu, p }) => ({ t: 'pte' as const, cpu, ...p })),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('invlpg' as const), cpu: cpuArb, lin: linArb }) },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant('flushAll' as const), cpu: cpuArb, global: fc.boolean() }),
  },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('read' as const), lin: linArb }) },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant('tick' as const), cycles: fc.integer({ min: 1, max: 3000 }) }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('ack' as const), cpu: cpuArb }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('console' as const),
      cpu: cpuArb,
      bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 12 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('kvmclock' as const), cpu: cpuArb }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('hlt' as const), cpu: cpuArb, sti: fc.boolean() }) },
);

/** Operations both paths perform the same way (no hypercall exists for them). */
function common(m: TestMachine, op: Op, out: unknown[]): boolean {
  switch (op.t) {
    case 'apicRead':
      // Reads are not batched: both guests read the APIC page (an MMIO trap).
      out.push(m.mmu.phys.read(apicPage(op.cpu) + (op.reg << 4), 4));
      return true;
    case 'read':
      try {
        out.push(m.mmu.read32(op.lin, 0));
      } catch (e) {
        if (!(e instanceof PageFault)) throw e;
        out.push(`#PF ${e.lin.toString(16)} ${e.code}`);
      }
      return true;
    case 'tick':
      m.clock.advance(op.cycles);
      for (let i = 0; i < NCPU; i++) {
        m.apics[i]!.tick();
        // The run loop resumes a halted vCPU that can take an interrupt.
        if (m.cpus[i]!.halted && m.cpus[i]!.interruptsEnabled && m.apics[i]!.pending())
          m.cpus[i]!.halted = false;
      }
      return true;
    case 'ack': {
      const pending = m.top.apic.pending(op.cpu);
      out.push(pending ? m.top.apic.acknowledge(op.cpu) : -1);
      return true;
    }
    case 'kvmclock':
      out.push(m.traps[op.cpu]!.msr.write(0x4b564d01, BigInt(0x5000 + op.cpu * 32) | 1n));
      return true;
    case 'hlt':
      if (op.sti) m.top.irq.enable(op.cpu);
      out.push(m.traps[op.cpu]!.hlt());
      return true;
    default:
      return false;
  }
}

/** (a) The native guest: every privileged operation traps. */
function runTrap(m: TestMachine, ops: Op[]): unknown[] {
  const out: unknown[] = [];
  for (const op of ops) {
    if (common(m, op, out)) continue;
    switch (op.t) {
      case 'apicWrite':
        m.mmu.phys.write(apicPage(op.cpu) + (op.reg << 4), 4, op.value);
        break;
      case 'icr':
        m.mmu.phys.write(apicPage(op.cpu) + 0x310, 4, (op.dest << 24) >>> 0);
        m.mmu.phys.write(apicPage(op.cpu) + 0x300, 4, op.value);
        break;
      case 'eoi':
        m.mmu.phys.write(apicPage(op.cpu) + 0xb0, 4, 0);
        break;
      case 'ipi': {
        // One ICR2 + ICR write pair per destination (physical mode), as native x2APIC-less Linux does.
        const icr = (op.nmi ? 0x400 : op.vector) | 0x4000 | (op.level ? 0x8000 : 0);
        for (let d = 0; d < NCPU; d++) {
          if (!(op.targets & (1 << d))) continue;
          m.mmu.phys.write(apicPage(op.cpu) + 0x310, 4, d << 24);
          m.mmu.phys.write(apicPage(op.cpu) + 0x300, 4, icr);
        }
        break;
      }
      case 'pte':
        out.push(m.traps[op.cpu]!.pageTableWrite(op.gpa, op.value, 0, 4));
        break;
      case 'invlpg':
        m.traps[op.cpu]!.invlpg(op.lin);
        break;
      case 'flushAll':
        if (op.global) {
          // Toggle CR4.PGE (SDM 4.10.4.1: flushes global translations too).
          m.traps[op.cpu]!.writeCr(4, CR4_PSE);
          m.traps[op.cpu]!.writeCr(4, CR4_PSE | CR4_PGE);
        } else m.traps[op.cpu]!.writeCr(3, PD);
        break;
      case 'console':
        for (const b of op.bytes) m.traps[op.cpu]!.consolePort.out(0xe9, 1, b);
        break;
    }
  }
  return out;
}

/** One hypercall of the PV guest: (nr, args), to be issued alone or inside a multicall. */
type Call = { nr: number; args: [number, number, number, number]; expect: 'pte' | 'none' };

/** (b) The PV guest: runs of batchable operations become batches (or single calls), optionally in multicalls. */
function runHypercall(m: TestMachine, ops: Op[], plan: boolean[]): unknown[] {
  const out: unknown[] = [];
  const scratch = new Scratch(m.mmu);
  let p = 0;
  const choose = () => plan[p++ % plan.length]!;
  let i = 0;
  while (i < ops.length) {
    const op = ops[i]!;
    if (common(m, op, out)) {
      i++;
      continue;
    }
    // Collect a run of batchable ops of the same vCPU (console/ipi stand alone).
    const cpu = (op as { cpu: number }).cpu;
    const run: Op[] = [op];
    let j = i + 1;
    while (j < ops.length) {
      const o = ops[j]!;
      if (
        o.t === 'apicRead' ||
        o.t === 'read' ||
        o.t === 'tick' ||
        o.t === 'ack' ||
        o.t === 'kvmclock' ||
        o.t === 'hlt'
      )
        break;
      if ((o as { cpu: number }).cpu !== cpu) break;
      run.push(o);
      j++;
    }
    i = j;
    scratch.reset();
    const calls: Call[] = [];
    // Within the run, consecutive same-kind ops form one batch or single calls, as the plan says.
    let k = 0;
    while (k < run.length) {
      const o = run[k]!;
      const kindOf = (x: Op) => (x.t === 'eoi' || x.t === 'icr' ? 'apicWrite' : x.t);
      const kind = kindOf(o);
      let e = k + 1;
      if (choose())
        while (
          e < run.length &&
          kindOf(run[e]!) === kind &&
          kind !== 'ipi' &&
          kind !== 'console' &&
          kind !== 'flushAll'
        )
          e++;
      const group = run.slice(k, e);
      k = e;
      switch (kind) {
        case 'apicWrite': {
          const list = encodeList(
            'pv_apic_write',
            group.flatMap((g) =>
              g.t === 'eoi'
                ? [{ reg: 0xb0, value: 0 }]
                : g.t === 'icr'
                  ? [
                      { reg: 0x310, value: (g.dest << 24) >>> 0 },
                      { reg: 0x300, value: g.value },
                    ]
                  : [{ reg: (g as { reg: number }).reg << 4, value: (g as { value: number }).value }],
            ),
          );
          calls.push({
            nr: HC.PV_HC_APIC_WRITE_BATCH,
            args: [scratch.put(list), list.length / 8, 0, 0],
            expect: 'none',
          });
          break;
        }
        case 'pte': {
          const list = encodeList(
            'pv_pte_update',
            group.map((g) => ({
              pte_gpa: BigInt((g as { gpa: number }).gpa),
              value: BigInt((g as { value: number }).value),
            })),
          );
          for (const _ of group) out.push(0);
          calls.push({
            nr: HC.PV_HC_PT_UPDATE_BATCH,
            args: [scratch.put(list), group.length, 0, 0],
            expect: 'pte',
          });
          break;
        }
        case 'invlpg': {
          const list = encodeList(
            'pv_tlb_flush_entry',
            group.map((g) => ({ linear: (g as { lin: number }).lin })),
          );
          calls.push({
            nr: HC.PV_HC_TLB_FLUSH,
            args: [scratch.put(list), group.length, 0, 0],
            expect: 'none',
          });
          break;
        }
        case 'flushAll': {
          const g = group[0] as { global: boolean };
          calls.push({ nr: HC.PV_HC_TLB_FLUSH, args: [0, 0, g.global ? 3 : 1, 0], expect: 'none' });
          break;
        }
        case 'ipi': {
          const g = group[0] as Extract<Op, { t: 'ipi' }>;
          const icr = (g.nmi ? 0x400 : g.vector) | 0x4000 | (g.level ? 0x8000 : 0);
          calls.push({ nr: HC.KVM_HC_SEND_IPI, args: [g.targets, 0, 0, icr], expect: 'none' });
          break;
        }
        case 'console': {
          const g = group[0] as { bytes: number[] };
          calls.push({
            nr: HC.PV_HC_CONSOLE_WRITE,
            args: [scratch.put(Uint8Array.from(g.bytes), 1), g.bytes.length, 0, 0],
            expect: 'none',
          });
          break;
        }
      }
    }
    const hc = m.hc[cpu]!;
    if (calls.length > 1 && choose()) {
      const list = encodeList(
        'pv_multicall_entry',
        calls.map((c) => ({ nr: c.nr, args: c.args, result: 0 })),
      );
      const r = hc.invoke(HC.PV_HC_MULTICALL, scratch.put(list), calls.length);
      if (r !== calls.length) throw new Error(`multicall stopped at ${r}`);
    } else {
      for (const c of calls) {
        const r = hc.invoke(c.nr, ...c.args);
        if (r < 0) throw new Error(`hypercall ${c.nr.toString(16)} failed: ${r}`);
      }
    }
  }
  return out;
}

describe('trap path ≡ hypercall path', () => {
  it('random privileged-op sequences leave identical machine state and results (2000 cases)', () => {
    let trapExits = 0;
    let hcExits = 0;
    fc.assert(
      fc.property(
        fc.array(opArb, { minLength: 1, maxLength: 40 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }),
        (ops, plan) => {
          const a = buildMachine({ vcpus: NCPU });
          const b = buildMachine({ vcpus: NCPU });
          const ra = runTrap(a, ops);
          const rb = runHypercall(b, ops, plan);
          expect(rb).toEqual(ra);
          expect(machineState(b)).toEqual(machineState(a));
          trapExits += a.ops.stats.exits('trap');
          hcExits += b.ops.stats.exits('hypercall') + b.ops.stats.exits('trap');
        },
      ),
      { numRuns: Number(process.env.PV_RUNS ?? 2000) },
    );
    expect(hcExits).toBeLessThan(trapExits);
  }, 180_000);
});
