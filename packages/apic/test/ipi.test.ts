import { describe, expect, it } from 'vitest';
import { APIC_DM_EXTINT, APIC_DM_LOWPRI, ApicBus, ApicError, LocalApic } from '../src/index';
import { drain, enableX2apic, enableXapic, FakeClock, machine } from './helpers';

type Mode = 'xapic-physical' | 'xapic-flat' | 'xapic-cluster' | 'x2apic-physical' | 'x2apic-logical';
const MODES: Mode[] = ['xapic-physical', 'xapic-flat', 'xapic-cluster', 'x2apic-physical', 'x2apic-logical'];
const SHORTHANDS = [0, 1, 2, 3] as const; // none, self, all-including-self, all-excluding-self

/** Set up n APICs (IDs 0..n-1) for a destination model: flat LDR = 1 << i, cluster (i>>2, 1<<(i&3)). */
function setup(n: number, mode: Mode) {
  const m = machine(n);
  for (const [i, a] of m.apics.entries()) {
    if (mode.startsWith('x2apic')) enableX2apic(a);
    else {
      enableXapic(a);
      if (mode === 'xapic-flat') a.mmioWrite(0xd0, 4, (1 << i) << 24);
      if (mode === 'xapic-cluster') {
        a.mmioWrite(0xe0, 4, 0x0fffffff);
        a.mmioWrite(0xd0, 4, (((i >> 2) << 4) | (1 << (i & 3))) << 24);
      }
    }
  }
  return m;
}

/** The SDM's destination rules, written out per APIC independently of the implementation. */
function expected(n: number, mode: Mode, sh: number, sender: number, dest: number): number[] {
  const all = Array.from({ length: n }, (_, i) => i);
  if (sh === 1) return [sender];
  if (sh === 2) return all;
  if (sh === 3) return all.filter((i) => i !== sender);
  switch (mode) {
    case 'xapic-physical':
      return all.filter((i) => dest === 0xff || dest === i);
    case 'xapic-flat':
      return all.filter((i) => (dest & (1 << i)) !== 0);
    case 'xapic-cluster':
      return all.filter((i) => (dest >> 4 === 0xf || dest >> 4 === i >> 2) && (dest & (1 << (i & 3))) !== 0);
    case 'x2apic-physical':
      return all.filter((i) => dest === 0xffffffff || dest === i);
    case 'x2apic-logical':
      return all.filter((i) => dest === 0xffffffff || (dest >>> 16 === 0 && (dest & (1 << i)) !== 0));
  }
}

function destinations(n: number, mode: Mode): number[] {
  switch (mode) {
    case 'xapic-physical':
      return [0, 1, n - 1, n, 0xfe, 0xff];
    case 'xapic-flat':
      return [0, 1, 2, 0x81, 0x55, 0xff];
    case 'xapic-cluster':
      return [0x01, 0x03, 0x1f, 0x12, 0xf1, 0xff, 0x2f];
    case 'x2apic-physical':
      return [0, 1, n - 1, n, 0xff, 0xffffffff];
    case 'x2apic-logical':
      return [1, 2, 0x81, 0xff, 0x10001, 0xffffffff];
  }
}

function sendFixed(a: LocalApic, mode: Mode, vector: number, sh: number, dest: number, dm = 0) {
  const logical = mode.endsWith('physical') ? 0 : 1 << 11;
  const lo = vector | (dm << 8) | logical | (1 << 14) | (sh << 18);
  if (mode.startsWith('x2apic')) {
    expect(a.writeMsr(0x830, (BigInt(dest >>> 0) << 32n) | BigInt(lo))).toBe(true);
  } else {
    a.mmioWrite(0x310, 4, (dest << 24) >>> 0);
    a.mmioWrite(0x300, 4, lo);
  }
}

describe('IPI delivery matrix: destination modes × shorthands × 1, 2, 8 APICs', () => {
  for (const n of [1, 2, 8]) {
    for (const mode of MODES) {
      it(`${n} APIC(s), ${mode}`, () => {
        let cases = 0;
        for (const sh of SHORTHANDS) {
          for (const sender of [0, n - 1]) {
            for (const dest of destinations(n, mode)) {
              const m = setup(n, mode);
              const vector = 0x40 + sh * 8 + sender;
              sendFixed(m.apics[sender]!, mode, vector, sh, dest);
              const got = m.apics.flatMap((a, i) => (drain(a).includes(vector) ? [i] : []));
              expect(got, `sh=${sh} sender=${sender} dest=${dest.toString(16)}`).toEqual(
                expected(n, mode, sh, sender, dest),
              );
              cases++;
            }
          }
        }
        expect(cases).toBeGreaterThanOrEqual(4 * 6);
      });
    }
  }

  it('NMI, INIT and SIPI use the same destination decoding (all-excluding-self, 8 APICs)', () => {
    const m = setup(8, 'xapic-physical');
    const bsp = m.apics[0]!;
    sendFixed(bsp, 'xapic-physical', 0, 3, 0, 4); // NMI
    expect(m.apics.map((a) => a.nmi())).toEqual([false, true, true, true, true, true, true, true]);
    m.log.length = 0;
    sendFixed(bsp, 'xapic-physical', 0, 3, 0, 5); // INIT assert
    expect(m.log.filter((l) => l.startsWith('init'))).toEqual([1, 2, 3, 4, 5, 6, 7].map((i) => `init ${i}`));
    sendFixed(bsp, 'xapic-physical', 0x9a, 0, 3, 6); // SIPI to APIC 3 only
    sendFixed(bsp, 'xapic-physical', 0x9a, 0, 3, 6); // second SIPI: ignored (already started)
    expect(m.log.filter((l) => l.startsWith('sipi'))).toEqual(['sipi 3 154']);
  });
});

describe('INIT / SIPI as machine events', () => {
  it('INIT resets the target APIC and the AP waits for SIPI; a SIPI without INIT is ignored', () => {
    const m = machine(2);
    const [bsp, ap] = m.apics as [LocalApic, LocalApic];
    enableXapic(bsp);
    enableXapic(ap);
    ap.mmioWrite(0x80, 4, 0x70);
    // SIPI before INIT: no event.
    bsp.mmioWrite(0x310, 4, 1 << 24);
    bsp.mmioWrite(0x300, 4, 0x4610);
    expect(m.log).toEqual([]);
    // INIT assert, INIT level de-assert (no event), SIPI, SIPI (MP spec sequence).
    bsp.mmioWrite(0x300, 4, 0xc500);
    bsp.mmioWrite(0x300, 4, 0x8500);
    bsp.mmioWrite(0x300, 4, 0x4610);
    bsp.mmioWrite(0x300, 4, 0x4610);
    expect(m.log).toEqual(['accept 1 dm5 0', 'init 1', 'accept 1 dm6 16', 'sipi 1 16']);
    expect(ap.mmioRead(0x80, 4)).toBe(0); // registers reset by INIT
    expect(ap.mmioRead(0xf0, 4)).toBe(0xff);
    expect(ap.mmioRead(0x20, 4)).toBe(1 << 24); // ID preserved
  });

  it('x2APIC INIT keeps x2APIC mode and the derived LDR', () => {
    const m = machine(2, { ids: [0, 0x21] });
    for (const a of m.apics) enableX2apic(a);
    expect(m.apics[0]!.writeMsr(0x830, (0x21n << 32n) | 0x4500n)).toBe(true);
    expect(m.log).toContain('init 33');
    const ap = m.apics[1]!;
    expect(ap.x2apicMode).toBe(true);
    expect(ap.readMsr(0x80d)).toBe(BigInt((2 << 16) | 2));
    expect(ap.readMsr(0x80f)).toBe(0xffn);
  });
});

describe('lowest priority and IO-APIC messages', () => {
  it('lowest priority picks the lowest APR; ties go to the first attached APIC; focus wins', () => {
    const m = setup(4, 'xapic-flat');
    const [a0, a1, a2, a3] = m.apics as [LocalApic, LocalApic, LocalApic, LocalApic];
    a0.mmioWrite(0x80, 4, 0x40);
    a1.mmioWrite(0x80, 4, 0x20);
    a2.mmioWrite(0x80, 4, 0x10);
    a3.mmioWrite(0x80, 4, 0x10);
    const msg = { vector: 0x61, deliveryMode: APIC_DM_LOWPRI, destMode: 1, dest: 0x0f, trigger: 0, level: 1 };
    expect(m.bus.deliver(msg)).toBe(1);
    expect(m.apics.map((a) => a.priorities().irrv)).toEqual([-1, -1, 0x61, -1]);
    // a2 now has 0x61 pending; with focus checking on (SVR bit 9 = 0) it is the focus.
    expect(m.bus.deliver({ ...msg, vector: 0x61 })).toBe(1);
    expect(a2.stats.coalesced).toBe(1);
    // Its APR now reflects IRR class 6, so a different vector goes to a3.
    expect(m.bus.deliver({ ...msg, vector: 0x62 })).toBe(1);
    expect(a3.priorities().irrv).toBe(0x62);
  });

  it('lowest priority IPI from the ICR, and to nobody when every target is software-disabled', () => {
    const m = setup(2, 'xapic-physical');
    const [a0, a1] = m.apics as [LocalApic, LocalApic];
    sendFixed(a0, 'xapic-physical', 0x70, 0, 1, 1);
    expect(a1.priorities().irrv).toBe(0x70);
    a1.mmioWrite(0xf0, 4, 0xff);
    const before = m.bus.stats.unclaimed;
    sendFixed(a0, 'xapic-physical', 0x71, 0, 1, 1);
    expect(m.bus.stats.unclaimed).toBe(before + 1);
  });

  it('ExtINT message: the vector comes from the PIC on INTA', () => {
    const m = machine(2, { extInt: { acknowledge: () => 0x21 } });
    const ap = m.apics[1]!;
    enableXapic(ap);
    m.bus.deliver({ vector: 0, deliveryMode: APIC_DM_EXTINT, destMode: 0, dest: 1, trigger: 0, level: 1 });
    expect(ap.pending()).toBe(true);
    expect(ap.acknowledge()).toBe(0x21);
    expect(ap.pending()).toBe(false);
  });

  it('a globally disabled APIC receives nothing; duplicate IDs on a bus are a host error', () => {
    const m = setup(2, 'xapic-physical');
    m.apics[1]!.writeMsr(0x1b, 0xfee00000n);
    expect(
      m.bus.deliver({ vector: 0x40, deliveryMode: 0, destMode: 0, dest: 0xff, trigger: 0, level: 1 }),
    ).toBe(1);
    const bus = new ApicBus();
    new LocalApic({ id: 7, clock: new FakeClock(), bus });
    expect(() => new LocalApic({ id: 7, clock: new FakeClock(), bus })).toThrow(ApicError);
    try {
      new LocalApic({ id: -1, clock: new FakeClock() });
    } catch (e) {
      expect(ApicError.isInstance(e) && e.code).toBe('APIC_BAD_OPTION');
    }
  });
});
