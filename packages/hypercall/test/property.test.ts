/**
 * Random registers and random guest memory, thousands of calls: the dispatcher only ever returns a
 * documented errno or performs the defined effect; it never throws, never hands a handler an
 * argument outside its documented domain, and never changes a guest byte outside the ranges the
 * call names (computed here independently, from the memory as it was before the call).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ABI_CONST, createDispatcher, ERRNO, HC, MANIFEST } from '../src/index';
import { ALL_FEATURES, recordingHandlers, testMemory } from './helpers';

/** 16 KiB of RAM with an MMIO window at 0x2000–0x2fff (small, so thousands of runs stay fast). */
const RAM_SIZE = 0x4000;
const MMIO_BASE = 0x2000;

const NRS = MANIFEST.calls.map((c) => c.nr);
const ERRORS = new Map<number, Set<number>>(
  MANIFEST.calls.map((c) => [c.nr, new Set(c.errors.map((e) => -ERRNO[e]))]),
);
const inMmio = (a: number, len: number) => a < MMIO_BASE + 0x1000 && a + len > MMIO_BASE;
const isRam = (a: number, len: number) => a >= 0 && a + len <= RAM_SIZE && !inMmio(a, len);

/** Ranges [start, end) the call (with these args) may write, from the pre-call memory. */
function namedRanges(view: DataView, nr: number, a: number[], depth = 0): [number, number][] {
  const out: [number, number][] = [];
  if (nr === HC.PV_HC_APIC_WRITE_BATCH || nr === HC.PV_HC_PT_UPDATE_BATCH) {
    if (a[2] !== 0) out.push([a[2]!, a[2]! + 16]);
  }
  if (nr === HC.PV_HC_MULTICALL && depth === 0) {
    const [list, count] = a as [number, number];
    if (count <= ABI_CONST.PV_MULTICALL_MAX && list % 4 === 0 && isRam(list, count * 24)) {
      for (let i = 0; i < count; i++) {
        const e = list + i * 24;
        out.push([e + 20, e + 24]);
        const args = [0, 1, 2, 3].map((k) => view.getUint32(e + 4 + k * 4, true));
        out.push(...namedRanges(view, view.getUint32(e, true), args, 1));
      }
    }
  }
  return out;
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
/** Arguments: random, pointer-like (often in RAM, sometimes misaligned or at the edges), small counts. */
const arg = fc.oneof(
  u32,
  fc.integer({ min: 0, max: RAM_SIZE + 0x40 }),
  fc.integer({ min: 0, max: RAM_SIZE / 16 }).map((x) => x * 16),
  fc.integer({ min: 0, max: 300 }),
  fc.constantFrom(0, 1, 3, 0xffffffff, 0xfffffff0, MMIO_BASE - 8, RAM_SIZE - 16),
);
const nrArb = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...NRS) }, { weight: 1, arbitrary: u32 });
const entryArb = fc.record({ nr: nrArb, args: fc.tuple(arg, arg, arg, arg) });
const apicArb = fc.record({
  reg: fc.oneof(
    fc.integer({ min: 0, max: 0x3f }).map((x) => x * 16),
    u32,
  ),
  value: u32,
});

const pteArb = fc.record({
  gpa: fc.oneof(
    fc.integer({ min: 0, max: RAM_SIZE / 4 }).map((x) => x * 4),
    u32,
  ),
  gpaHi: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: u32 }),
  lo: u32,
  hi: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: u32 }),
});

const caseArb = fc.record({
  seed: fc.integer({ min: 1, max: 0x7fffffff }),
  nr: nrArb,
  args: fc.tuple(arg, arg, arg, arg),
  cpl: fc.oneof(
    { weight: 9, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) },
  ),
  // A structured list placed somewhere in RAM (also read as other calls' lists), and whether the call uses it.
  listAt: fc.integer({ min: 0, max: RAM_SIZE / 8 - 1 }).map((x) => x * 8),
  entries: fc.array(entryArb, { maxLength: 6 }),
  apic: fc.array(apicArb, { maxLength: 6 }),
  ptes: fc.array(pteArb, { maxLength: 6 }),
  pae: fc.constantFrom(0, 1),
  useList: fc.constantFrom('none', 'multicall', 'apic', 'pt'),
});

describe('random registers and memory', () => {
  it('only errno or defined effects; no byte outside the named ranges changes', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const memory = testMemory(RAM_SIZE, MMIO_BASE);
        // Random RAM contents (xorshift32 from the seed).
        let x = c.seed;
        for (let i = 0; i < RAM_SIZE; i += 4) {
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          memory.view.setUint32(i, x >>> 0, true);
        }
        let nr = c.nr;
        const a = [...c.args].map((v) => v >>> 0);
        if (c.useList === 'multicall' && c.listAt + c.entries.length * 24 <= RAM_SIZE) {
          c.entries.forEach((e, i) => {
            memory.view.setUint32(c.listAt + i * 24, e.nr, true);
            e.args.forEach((v, k) => {
              memory.view.setUint32(c.listAt + i * 24 + 4 + k * 4, v >>> 0, true);
            });
          });
          nr = HC.PV_HC_MULTICALL;
          a[0] = c.listAt;
          a[1] = c.entries.length;
        } else if (c.useList === 'apic' && c.listAt + c.apic.length * 8 <= RAM_SIZE) {
          c.apic.forEach((e, i) => {
            memory.view.setUint32(c.listAt + i * 8, e.reg, true);
            memory.view.setUint32(c.listAt + i * 8 + 4, e.value, true);
          });
          nr = HC.PV_HC_APIC_WRITE_BATCH;
          a[0] = c.listAt;
          a[1] = c.apic.length;
        } else if (c.useList === 'pt' && c.listAt + c.ptes.length * 16 <= RAM_SIZE) {
          c.ptes.forEach((e, i) => {
            const at = c.listAt + i * 16;
            [e.gpa, e.gpaHi, e.lo, e.hi].forEach((v, k) => {
              memory.view.setUint32(at + k * 4, v, true);
            });
          });
          nr = HC.PV_HC_PT_UPDATE_BATCH;
          a[0] = c.listAt;
          a[1] = c.ptes.length;
          a[3] = c.pae;
        }
        const before = memory.ram.slice();
        const named = namedRanges(new DataView(before.buffer), nr, a);

        const rec = recordingHandlers();
        const bad: string[] = [];
        const h = rec.handlers;
        // Handlers check their documented argument domains and sometimes fail.
        rec.results.apicWrite = (reg) => {
          if (reg % 16 !== 0 || reg >= 0x400) bad.push(`apicWrite reg ${reg}`);
          return reg === 0x20 ? -ERRNO.KVM_EINVAL : 0;
        };
        rec.results.ptUpdate = (gpa, lo, hi, width) => {
          if (!isRam(gpa, width) || gpa % width !== 0 || (width === 4 && hi !== 0))
            bad.push(`ptUpdate ${gpa}`);
          return lo & 1 ? 0 : -ERRNO.KVM_EOPNOTSUPP;
        };
        rec.results.sendIpi = (lo, _hi, _min, icr) => {
          if (icr & ((1 << 11) | (3 << 18))) bad.push(`sendIpi icr ${icr}`);
          return lo & 1;
        };
        rec.results.consoleWrite = (len) => {
          if (len < 1 || len > ABI_CONST.PV_CONSOLE_WRITE_MAX) bad.push(`console len ${len}`);
          return len >> 1;
        };
        const d = createDispatcher({ memory, handlers: h, features: ALL_FEATURES });
        const regs = new Int32Array([nr, a[1]!, a[2]!, a[0]!, 0x11, 0x22, a[3]!, 0x33]);
        d.hypercall({ regs, cpl: c.cpl });
        const r = regs[0]!;

        // Registers other than EAX untouched.
        expect([regs[1], regs[2], regs[3], regs[4], regs[5], regs[6], regs[7]]).toEqual([
          a[1]! | 0,
          a[2]! | 0,
          a[0]! | 0,
          0x11,
          0x22,
          a[3]! | 0,
          0x33,
        ]);
        // Result: a documented errno or a non-negative result.
        if (c.cpl !== 0) expect(r).toBe(-ERRNO.KVM_EPERM);
        else if (!ERRORS.has(nr >>> 0)) expect(r).toBe(-ERRNO.KVM_ENOSYS);
        else if (r < 0) expect(ERRORS.get(nr >>> 0)!.has(r)).toBe(true);
        expect(bad).toEqual([]);
        // No write into MMIO; memory outside the named ranges byte-for-byte unchanged.
        for (const [gpa, len] of memory.writes) expect(inMmio(gpa, len)).toBe(false);
        const mask = new Uint8Array(RAM_SIZE);
        for (const [s, e] of named) mask.fill(1, Math.max(0, s), Math.min(RAM_SIZE, e));
        const w0 = new Int32Array(before.buffer);
        const w1 = new Int32Array(memory.ram.buffer);
        for (let i = 0; i < RAM_SIZE; i++) {
          if ((i & 3) === 0 && w0[i >> 2] === w1[i >> 2]) {
            i += 3;
            continue;
          }
          if (!mask[i] && memory.ram[i] !== before[i]) {
            throw new Error(
              `byte 0x${i.toString(16)} changed outside the named ranges (nr 0x${(nr >>> 0).toString(16)})`,
            );
          }
        }
        // A negative result means nothing was written at all.
        if (r < 0) expect(memory.writes).toEqual([]);
      }),
      { numRuns: 3000 },
    );
  });

  it('every call is reached with its full range of outcomes (the generator is not vacuous)', () => {
    // Spot-check that random inputs do reach success paths, not only errno paths.
    const seen = new Map<number, Set<string>>();
    fc.assert(
      fc.property(caseArb, (c) => {
        const memory = testMemory(RAM_SIZE, MMIO_BASE);
        const d = createDispatcher({
          memory,
          handlers: recordingHandlers().handlers,
          features: ALL_FEATURES,
        });
        let nr = c.nr;
        let a: number[] = [...c.args];
        if (c.useList === 'multicall' && c.listAt + c.entries.length * 24 <= RAM_SIZE) {
          c.entries.forEach((e, i) => {
            memory.view.setUint32(c.listAt + i * 24, e.nr, true);
            e.args.forEach((v, k) => {
              memory.view.setUint32(c.listAt + i * 24 + 4 + k * 4, v >>> 0, true);
            });
          });
          [nr, a] = [HC.PV_HC_MULTICALL, [c.listAt, c.entries.length, 0, 0]];
        } else if (c.useList === 'pt' && c.listAt + c.ptes.length * 16 <= RAM_SIZE) {
          c.ptes.forEach((e, i) => {
            [e.gpa, e.gpaHi, e.lo, e.hi].forEach((v, k) => {
              memory.view.setUint32(c.listAt + i * 16 + k * 4, v, true);
            });
          });
          [nr, a] = [HC.PV_HC_PT_UPDATE_BATCH, [c.listAt, c.ptes.length, 0, c.pae]];
        }
        const r = d.invoke(nr, ...(a as [number, number, number, number]));
        const s = seen.get(nr) ?? new Set<string>();
        s.add(r >= 0 ? 'ok' : String(r));
        seen.set(nr, s);
      }),
      { numRuns: 2000, seed: 42 },
    );
    for (const nr of NRS) expect(seen.get(nr), `0x${nr.toString(16)}`).toContain('ok');
  });
});
