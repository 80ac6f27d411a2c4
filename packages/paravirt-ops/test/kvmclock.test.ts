/**
 * kvmclock: a guest-side reader written here from the pvclock formula (Linux
 * arch/x86/include/asm/pvclock.h: pvclock_read_begin/retry, pvclock_scale_delta) reads the records
 * the host writes into the Mmu's RAM; its time is monotonic and matches the virtual clock within
 * one tick, across version updates.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  KvmClock,
  MSR_KVM_SYSTEM_TIME_NEW,
  MSR_KVM_WALL_CLOCK_NEW,
  pvclockScale,
  pvclockScaleDelta,
} from '../src/index';
import { buildMachine, type TestMachine } from './helpers';

const PAGE = 0x5000;

/** One attempt of the guest reader at TSC `tsc`; undefined when it must retry. */
function tryRead(m: TestMachine, gpa: number, tsc: bigint): bigint | undefined {
  const b = m.mmu.readPhys(gpa, 32);
  const v = new DataView(b.buffer);
  const version = v.getUint32(0, true);
  if (version & 1) return undefined; // host update in progress
  const tscTimestamp = v.getBigUint64(8, true);
  const systemTime = v.getBigUint64(16, true);
  const mul = v.getUint32(24, true);
  const shift = v.getInt8(28);
  // The guest re-reads the version after the fields: a change means a torn read.
  if (new DataView(m.mmu.readPhys(gpa, 4).buffer).getUint32(0, true) !== version) return undefined;
  let delta = tsc - tscTimestamp;
  delta = shift < 0 ? delta >> BigInt(-shift) : delta << BigInt(shift);
  return systemTime + ((delta * BigInt(mul)) >> 32n);
}

function read(m: TestMachine, gpa: number): bigint {
  const r = tryRead(m, gpa, BigInt(m.clock.now()));
  if (r === undefined) throw new Error('record left odd');
  return r;
}

describe('pvclock scale (kvm_get_time_scale)', () => {
  it('1 GHz is exact: mul 2^31, shift 1', () => {
    expect(pvclockScale(1_000_000_000)).toEqual({ mul: 0x8000_0000, shift: 1 });
    expect(pvclockScaleDelta(123_456_789n, 0x8000_0000, 1)).toBe(123_456_789n);
  });
  it('known rates', () => {
    // 1 MHz: tps32 = 10^6 << 10 > 10^9, mul = 10^9 · 2^32 / 1.024·10^9 = 4194304000 (exact).
    const s = pvclockScale(1_000_000);
    expect(s).toEqual({ mul: 4_194_304_000, shift: 10 });
    expect(pvclockScaleDelta(1_000_000n, s.mul, s.shift)).toBe(1_000_000_000n);
    // A 3 GHz TSC needs a right shift.
    const f = pvclockScale(3_000_000_000);
    expect(f.shift).toBeLessThan(0);
    expect(Number(pvclockScaleDelta(3_000_000_000n, f.mul, f.shift))).toBeCloseTo(1e9, -1);
  });
});

describe('kvmclock', () => {
  const rates = [1_000_000, 3_579_545, 10_000_000, 100_000_000, 250_000_000, 1_000_000_000];

  it('guest time is monotonic and within one tick of the virtual clock, across updates', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...rates),
        fc.array(fc.record({ cycles: fc.integer({ min: 0, max: 1 << 28 }), refresh: fc.boolean() }), {
          minLength: 1,
          maxLength: 30,
        }),
        (hz, steps) => {
          const m = buildMachine({ vcpus: 2, hz });
          expect(m.traps[1]!.msr.write(MSR_KVM_SYSTEM_TIME_NEW, BigInt(PAGE) | 1n)).toBe(true);
          let last = -1n;
          let versions = 0;
          for (const s of steps) {
            m.clock.advance(s.cycles);
            if (s.refresh) m.top.time.refreshClock(1);
            const version = m.mmu.bytes(PAGE, 4);
            expect(version[0]! & 1).toBe(0);
            versions = Math.max(versions, version[0]!);
            const ns = read(m, PAGE);
            const tsc = BigInt(m.clock.now());
            // Never ahead of the virtual clock, and less than one tick (10^9/hz ns) behind it:
            // 0 ≤ tsc·10^9 − ns·hz < 10^9 (exact integer arithmetic).
            const err = tsc * 1_000_000_000n - ns * BigInt(hz);
            expect(err >= 0n).toBe(true);
            expect(err < 1_000_000_000n).toBe(true);
            expect(ns >= last).toBe(true);
            last = ns;
          }
          expect(m.kvmclock.updates).toBe(1 + steps.filter((s) => s.refresh).length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the version is odd while the host writes, even and advanced by 2 after; the reader retries', () => {
    const phases: string[] = [];
    const m = buildMachine({ vcpus: 1 });
    const clock = new KvmClock({
      memory: m.memory,
      clock: m.clock,
      vcpus: 1,
      epochNs: 0n,
      onUpdate(_vcpu, phase) {
        const v = m.mmu.bytes(PAGE, 4)[0]!;
        phases.push(`${phase}:${v}`);
        const r = tryRead(m, PAGE, BigInt(m.clock.now()));
        if (phase === 'end') expect(r).toBeDefined();
        else expect(r).toBeUndefined();
      },
    });
    m.mmu.writePhys(PAGE, new Uint8Array([6, 0, 0, 0])); // a guest page with some old version
    expect(clock.writeMsr(0, MSR_KVM_SYSTEM_TIME_NEW, BigInt(PAGE) | 1n)).toBe(true);
    m.clock.advance(12345);
    clock.update(0);
    expect(phases).toEqual(['begin:7', 'fields:7', 'end:8', 'begin:9', 'fields:9', 'end:10']);
    const rec = new DataView(m.mmu.readPhys(PAGE, 32).buffer);
    expect(rec.getBigUint64(8, true)).toBe(12345n); // tsc_timestamp
    expect(rec.getBigUint64(16, true)).toBe(12345n); // system_time (1 GHz)
    expect(rec.getUint8(29)).toBe(1); // PVCLOCK_TSC_STABLE_BIT
    expect(rec.getUint32(4, true)).toBe(0);
    expect(rec.getUint16(30, true)).toBe(0);
  });

  it('wall clock: the configured epoch at system time 0, version even', () => {
    const m = buildMachine({ vcpus: 1, epochNs: 1_700_000_000_987_654_321n });
    m.clock.advance(5_000_000);
    expect(m.traps[0]!.msr.write(MSR_KVM_WALL_CLOCK_NEW, 0x6000n)).toBe(true);
    const w = new DataView(m.mmu.readPhys(0x6000, 12).buffer);
    expect(w.getUint32(0, true)).toBe(2);
    expect(w.getUint32(4, true)).toBe(1_700_000_000);
    expect(w.getUint32(8, true)).toBe(987_654_321);
    expect(m.traps[0]!.msr.read(MSR_KVM_WALL_CLOCK_NEW)).toBe(0x6000n);
  });

  it('bad guest addresses are #GP, never a host exception; disabling stops updates', () => {
    const m = buildMachine({ vcpus: 1 });
    const msr = m.traps[0]!.msr;
    expect(msr.write(MSR_KVM_SYSTEM_TIME_NEW, 0x5002n | 1n)).toBe(false); // misaligned
    expect(msr.write(MSR_KVM_SYSTEM_TIME_NEW, 0x100000n | 1n)).toBe(false); // the APIC page (MMIO)
    expect(msr.write(MSR_KVM_SYSTEM_TIME_NEW, (1n << 40n) | 1n)).toBe(false); // beyond 4 GiB
    expect(msr.write(MSR_KVM_SYSTEM_TIME_NEW, 0x3fff0n | 1n)).toBe(false); // runs off the end of RAM
    expect(msr.write(MSR_KVM_WALL_CLOCK_NEW, 0x100000n)).toBe(false);
    expect(msr.write(MSR_KVM_SYSTEM_TIME_NEW, -1n)).toBe(false);
    expect(m.kvmclock.updates).toBe(0);
    expect(msr.write(MSR_KVM_SYSTEM_TIME_NEW, BigInt(PAGE) | 1n)).toBe(true);
    expect(msr.write(MSR_KVM_SYSTEM_TIME_NEW, BigInt(PAGE))).toBe(true); // disable
    m.top.time.refreshClock(0);
    expect(m.kvmclock.updates).toBe(1);
    expect(msr.read(MSR_KVM_SYSTEM_TIME_NEW)).toBe(BigInt(PAGE));
  });
});
