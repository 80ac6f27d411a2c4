/**
 * withLazy: queued ops are not visible before leave, are visible after, and a dependent op flushes
 * the queue first; results are never changed (property against the un-wrapped vtable).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type LazyOps, withLazy, withTrace } from '../src/index';
import { buildMachine, machineState, PageFault, PT_A, PTE_P, PTE_RW, type TestMachine } from './helpers';

const lazyMachine = (vcpus = 2) => {
  const m = buildMachine({ vcpus, wrap: (ops) => withLazy(ops) });
  return { m, lazy: m.top as LazyOps };
};
const LIN = 0x400000;
const frameValue = (f: number) => (0xf0000000 | f) >>> 0;

describe('lazy MMU mode', () => {
  it('PTE stores and flushes are queued: invisible before leave, visible after, as one batch', () => {
    const { m, lazy } = lazyMachine();
    expect(m.mmu.read32(LIN, 0)).toBe(frameValue(0x10)); // translation cached
    lazy.mmu.lazyEnter(0);
    for (let i = 0; i < 4; i++) {
      expect(lazy.mmu.setPte(0, PT_A + 4 * i, ((0x2c + i) << 12) | PTE_P | PTE_RW, 0, 4)).toBe(0);
    }
    lazy.mmu.flushTlbOne(0, LIN);
    expect(lazy.lazy.queued).toBe(5);
    // Not visible: the entries in RAM and the translations are unchanged.
    const pte0 = new DataView(m.mmu.readPhys(PT_A, 4).buffer).getUint32(0, true);
    expect(pte0 & ~0x60).toBe((0x10 << 12) | 3); // (the walker may have set A/D)
    expect(m.mmu.read32(LIN, 0)).toBe(frameValue(0x10));
    expect(m.mmu.read32(LIN + 0x1000, 0)).toBe(frameValue(0x11));
    expect(m.ops.stats.calls('mmu.setPte')).toBe(0);
    lazy.mmu.lazyLeave(0);
    expect(lazy.lazy.queued).toBe(0);
    for (let i = 0; i < 4; i++) expect(m.mmu.read32(LIN + i * 0x1000, 0)).toBe(frameValue(0x2c + i));
    // Applied as one update batch + one flush list by the wrapped vtable.
    expect(m.ops.stats.calls('mmu.updateBatch')).toBe(1);
    expect(m.ops.stats.calls('mmu.flushTlbList')).toBe(1);
  });

  it('a translation after queued PTE stores flushes the queue first', () => {
    const { lazy } = lazyMachine();
    lazy.mmu.lazyEnter(0);
    lazy.mmu.setPte(0, PT_A, (0x2a << 12) | PTE_P | PTE_RW, 0, 4);
    expect(lazy.lazy.queued).toBe(1);
    expect(lazy.mmu.readLinear(0, LIN)).toBe(frameValue(0x2a));
    expect(lazy.lazy.queued).toBe(0);
    expect(lazy.lazy.mmuMode(0)).toBe(true); // still lazy
    // A not-present entry: the dependent read faults only after the store is applied.
    lazy.mmu.setPte(0, PT_A + 4, 0, 0, 4);
    expect(() => lazy.mmu.readLinear(0, LIN + 0x1000)).toThrow(PageFault);
  });

  it('a store whose precondition fails is answered at once and not queued', () => {
    const { lazy } = lazyMachine();
    lazy.mmu.lazyEnter(0);
    expect(lazy.mmu.setPte(0, PT_A + 2, 0, 0, 4)).toBe(-14); // misaligned: -KVM_EFAULT
    expect(lazy.mmu.setPte(0, 0x100000, 0, 0, 4)).toBe(-14); // MMIO
    expect(lazy.mmu.setPte(0, PT_A, 0, 1, 4)).toBe(-22); // high bits with width 4: -KVM_EINVAL
    expect(lazy.lazy.queued).toBe(0);
  });

  it('PT_UPDATE_BATCH while lazy: queued, result unchanged, visible after lazyFlush', () => {
    const { m, lazy } = lazyMachine();
    lazy.mmu.lazyEnter(0);
    const writes = [0, 1, 2].map((i) => ({
      gpa: PT_A + 4 * i,
      lo: ((0x20 + i) << 12) | 3,
      hi: 0,
      width: 4 as const,
    }));
    writes.push({ gpa: 0x3fffe, lo: 0, hi: 0, width: 4 }); // fails: misaligned
    expect(lazy.mmu.updateBatch(0, writes)).toBe(3);
    expect(m.mmu.read32(LIN, 0)).toBe(frameValue(0x10));
    lazy.mmu.lazyFlush(0);
    expect(m.mmu.read32(LIN, 0)).toBe(frameValue(0x20));
  });
});

describe('lazy CPU mode (APIC writes)', () => {
  it('xAPIC writes and EOIs are queued, then applied as one writeBatch on leave', () => {
    const { m, lazy } = lazyMachine();
    const a = m.apics[0]!;
    lazy.cpu.lazyEnter(0);
    expect(lazy.apic.write(0, 0x08, 0x50)).toBe(0); // TPR
    expect(lazy.apic.write(0, 0x32, 0x10040)).toBe(0); // LVTT masked, vector 0x40
    lazy.apic.eoi(0);
    expect(lazy.lazy.queued).toBe(3);
    expect(a.priorities().tpr).toBe(0); // not visible
    expect(a.saveState().lvt[0]).toBe(0x10000);
    lazy.cpu.lazyLeave(0);
    expect(a.priorities().tpr).toBe(0x50);
    expect(a.saveState().lvt[0]).toBe(0x10040);
    expect(m.ops.stats.calls('apic.writeBatch')).toBe(1);
    expect(m.ops.stats.calls('apic.write')).toBe(0);
  });

  it('an APIC read after queued writes flushes first (through the trap path too)', () => {
    const { m, lazy } = lazyMachine();
    lazy.cpu.lazyEnter(0);
    lazy.apic.write(0, 0x08, 0x70);
    expect(m.apics[0]!.priorities().tpr).toBe(0);
    expect(lazy.apic.read(0, 0x08)).toBe(0x70);
    lazy.apic.write(0, 0x08, 0x30);
    // A guest MMIO read of TPR (xAPIC page of vCPU 0) is an apic.read: it sees the queued write.
    expect(m.mmu.phys.read(0x100080, 4)).toBe(0x30);
    expect(lazy.lazy.queued).toBe(0);
  });

  it('a queued IPI reaches its target only when the queue is applied', () => {
    const { m, lazy } = lazyMachine();
    lazy.cpu.lazyEnter(0);
    lazy.apic.write(0, 0x31, 1 << 24);
    lazy.apic.write(0, 0x30, 0x4041);
    expect(m.apics[1]!.pending()).toBe(false);
    expect(lazy.apic.pending(1)).toBe(true); // a dependent op: flushes, then answers
    expect(m.apics[1]!.acknowledge()).toBe(0x41);
  });

  it('x2APIC writes are not queued (their #GP verdict needs the APIC)', () => {
    const { m, lazy } = lazyMachine();
    expect(lazy.cpu.writeMsr(0, 0x1b, m.apics[0]!.getApicBase() | 0xc00n)).toBe(true);
    lazy.cpu.lazyEnter(0);
    expect(lazy.apic.write(0, 0x08, 0x20)).toBe(0);
    expect(m.apics[0]!.priorities().tpr).toBe(0x20);
    expect(lazy.apic.write(0, 0x08, 0x100)).toBe(-22); // reserved TPR bits in x2APIC: #GP
    expect(lazy.apic.write(0, 0x0d, 1)).toBe(-22); // LDR is read-only in x2APIC
    expect(lazy.lazy.queued).toBe(0);
  });
});

type LOp =
  | { t: 'mmuEnter' | 'mmuLeave' | 'mmuFlush' | 'cpuEnter' | 'cpuLeave'; cpu: number }
  | { t: 'pte'; cpu: number; i: number; frame: number; present: boolean; width: 4 | 8; odd: boolean }
  | { t: 'flush'; cpu: number; i: number }
  | { t: 'read'; cpu: number; i: number }
  | { t: 'apicWrite'; cpu: number; reg: number; value: number }
  | { t: 'apicRead'; cpu: number; reg: number }
  | { t: 'eoi'; cpu: number }
  | { t: 'ack'; cpu: number };

const cpuArb = fc.integer({ min: 0, max: 1 });
const lopArb: fc.Arbitrary<LOp> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constantFrom('mmuEnter', 'cpuEnter' as const),
      cpu: cpuArb,
    }) as fc.Arbitrary<LOp>,
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constantFrom('mmuLeave', 'mmuFlush', 'cpuLeave' as const),
      cpu: cpuArb,
    }) as fc.Arbitrary<LOp>,
  },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('pte' as const),
      cpu: cpuArb,
      i: fc.integer({ min: 0, max: 15 }),
      frame: fc.integer({ min: 0x10, max: 0x2f }),
      present: fc.boolean(),
      width: fc.constantFrom(4 as const, 4 as const, 8 as const),
      odd: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('flush' as const),
      cpu: cpuArb,
      i: fc.integer({ min: 0, max: 15 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('read' as const),
      cpu: cpuArb,
      i: fc.integer({ min: 0, max: 15 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('apicWrite' as const),
      cpu: cpuArb,
      reg: fc.constantFrom(0x08, 0x0b, 0x28, 0x30, 0x31, 0x32, 0x37, 0x02),
      value: fc.oneof(fc.integer({ min: 0, max: 0xff }), fc.constantFrom(0x4041, 0x4051, 0x1000000, 0x4000)),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('apicRead' as const),
      cpu: cpuArb,
      reg: fc.constantFrom(0x08, 0x0a, 0x10, 0x20, 0x28, 0x32),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('eoi' as const), cpu: cpuArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('ack' as const), cpu: cpuArb }) },
);

function runL(m: TestMachine, ops: LOp[]): unknown[] {
  const o = m.top;
  const out: unknown[] = [];
  for (const op of ops) {
    switch (op.t) {
      case 'mmuEnter':
        o.mmu.lazyEnter(op.cpu);
        break;
      case 'mmuLeave':
        o.mmu.lazyLeave(op.cpu);
        break;
      case 'mmuFlush':
        o.mmu.lazyFlush(op.cpu);
        break;
      case 'cpuEnter':
        o.cpu.lazyEnter(op.cpu);
        break;
      case 'cpuLeave':
        o.cpu.lazyLeave(op.cpu);
        break;
      case 'pte':
        out.push(
          o.mmu.setPte(
            op.cpu,
            PT_A + 4 * op.i + (op.odd ? 2 : 0),
            (op.frame << 12) | (op.present ? 3 : 2),
            0,
            op.width,
          ),
        );
        break;
      case 'flush':
        o.mmu.flushTlbOne(op.cpu, LIN + op.i * 0x1000);
        break;
      case 'read':
        try {
          out.push(o.mmu.readLinear(op.cpu, LIN + op.i * 0x1000));
        } catch (e) {
          if (!(e instanceof PageFault)) throw e;
          out.push(`#PF ${e.code}`);
        }
        break;
      case 'apicWrite':
        out.push(o.apic.write(op.cpu, op.reg, op.value));
        break;
      case 'apicRead':
        out.push(o.apic.read(op.cpu, op.reg));
        break;
      case 'eoi':
        o.apic.eoi(op.cpu);
        break;
      case 'ack':
        out.push(o.apic.pending(op.cpu) ? o.apic.acknowledge(op.cpu) : -1);
        break;
    }
  }
  // Leave every mode: the lazy machine's queue is applied.
  for (let c = 0; c < 2; c++) {
    o.mmu.lazyLeave(c);
    o.cpu.lazyLeave(c);
  }
  return out;
}

describe('wrappers never change results', () => {
  it('withTrace(withLazy(withStats(direct))) ≡ withStats(direct) on random op sequences (1000 cases)', () => {
    let queuedSomething = 0;
    fc.assert(
      fc.property(fc.array(lopArb, { minLength: 1, maxLength: 40 }), (ops) => {
        const plain = buildMachine({ vcpus: 2 });
        const wrapped = buildMachine({ vcpus: 2, wrap: (o) => withTrace(withLazy(o), { capacity: 8 }) });
        const rp = runL(plain, ops);
        const rw = runL(wrapped, ops);
        expect(rw).toEqual(rp);
        expect(machineState(wrapped)).toEqual(machineState(plain));
        if (wrapped.ops.stats.calls('mmu.updateBatch') + wrapped.ops.stats.calls('apic.writeBatch') > 0)
          queuedSomething++;
      }),
      { numRuns: 1000 },
    );
    expect(queuedSomething).toBeGreaterThan(100); // the property exercised the queue (~20 % of cases)
  }, 120_000);
});
