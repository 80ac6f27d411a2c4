import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { APIC_DM_FIXED, type LocalApic } from '../src/index';
import { enableXapic, machine } from './helpers';

describe('a Linux-like SMP bring-up over the xAPIC page', () => {
  it('BSP setup, INIT-SIPI-SIPI to the AP, timer calibration, IO-APIC level interrupt', () => {
    const m = machine(2);
    const [bsp, ap] = m.apics as [LocalApic, LocalApic];
    const starts: [number, number][] = [];
    // The machine starts the AP when the SIPI arrives (events are shared in the helper log).
    // setup_local_APIC on the BSP.
    const ver = bsp.mmioRead(0x30, 4);
    expect(ver & 0xff).toBe(0x14);
    expect((ver >>> 16) & 0xff).toBe(6); // maxlvt: timer..error + CMCI
    bsp.mmioWrite(0x80, 4, 0);
    bsp.mmioWrite(0xf0, 4, 0x1ff);
    bsp.mmioWrite(0x350, 4, 0x700); // LINT0 ExtINT (virtual wire)
    bsp.mmioWrite(0x360, 4, 0x400); // LINT1 NMI
    bsp.mmioWrite(0x370, 4, 0xfe); // error vector
    bsp.mmioWrite(0x280, 4, 0);
    expect(bsp.mmioRead(0x280, 4)).toBe(0);
    // wakeup_secondary_cpu_via_init: INIT assert, INIT de-assert, then two STARTUPs, each time
    // polling the ICR delivery-status bit and checking ESR.
    const icr = (hi: number, lo: number) => {
      bsp.mmioWrite(0x310, 4, hi << 24);
      bsp.mmioWrite(0x300, 4, lo);
      expect(bsp.mmioRead(0x300, 4) & 0x1000).toBe(0); // idle
      bsp.mmioWrite(0x280, 4, 0);
      expect(bsp.mmioRead(0x280, 4) & 0xef).toBe(0);
    };
    icr(1, 0xc500);
    icr(1, 0x8500);
    icr(1, 0x0600 | 0x9f);
    icr(1, 0x0600 | 0x9f);
    for (const l of m.log)
      if (l.startsWith('sipi')) starts.push(l.split(' ').slice(1).map(Number) as [number, number]);
    expect(starts).toEqual([[1, 0x9f]]);
    // The AP comes up, enables its APIC and moves to x2APIC.
    enableXapic(ap);
    expect(ap.writeMsr(0x1b, 0xfee00c00n)).toBe(true);
    expect(ap.readMsr(0x802)).toBe(1n);
    // Timer calibration on the BSP: one-shot, ÷16, from 0xffffffff, measured over 1,600,000 cycles.
    bsp.mmioWrite(0x3e0, 4, 0x3);
    bsp.mmioWrite(0x320, 4, 0x10000 | 0xef);
    bsp.mmioWrite(0x380, 4, 0xffffffff);
    m.clock.advance(1_600_000);
    const elapsed = 0xffffffff - bsp.mmioRead(0x390, 4);
    expect(elapsed).toBe(100_000); // 16 cycles per count
    // Periodic tick at that rate.
    bsp.mmioWrite(0x320, 4, 0x20000 | 0xef);
    bsp.mmioWrite(0x380, 4, 1000);
    let ticks = 0;
    for (let i = 0; i < 10; i++) {
      m.clock.t = bsp.nextDeadline();
      while (bsp.pending()) {
        expect(bsp.acknowledge()).toBe(0xef);
        bsp.mmioWrite(0xb0, 4, 0);
        ticks++;
      }
    }
    expect(ticks).toBe(10);
    // An IO-APIC level-triggered interrupt to the AP (x2APIC, physical dest 1), EOI'd by WRMSR.
    m.bus.deliver({
      vector: 0x61,
      deliveryMode: APIC_DM_FIXED,
      destMode: 0,
      dest: 1,
      trigger: 1,
      level: true,
    });
    expect(ap.acknowledge()).toBe(0x61);
    expect(ap.writeMsr(0x80b, 0n)).toBe(true);
    expect(m.ioEoi).toEqual([0x61]);
  });
});

describe('priority logic against a reference model (SDM 10.8)', () => {
  type Op = { k: 'irq'; v: number } | { k: 'tpr'; v: number } | { k: 'ack' } | { k: 'eoi' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ k: fc.constant('irq' as const), v: fc.integer({ min: 0x10, max: 0xff }) }),
    fc.record({ k: fc.constant('tpr' as const), v: fc.integer({ min: 0, max: 0xff }) }),
    fc.record({ k: fc.constant('ack' as const) }),
    fc.record({ k: fc.constant('eoi' as const) }),
  );

  it('pending / acknowledge / PPR match a set-based model over 2000 random sequences', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const { apics, bus } = machine(1);
        const a = apics[0]!;
        enableXapic(a);
        const irr = new Set<number>();
        const isr = new Set<number>();
        let tpr = 0;
        const max = (s: Set<number>) => (s.size === 0 ? -1 : Math.max(...s));
        const ppr = () => {
          const isrv = Math.max(max(isr), 0);
          return (tpr & 0xf0) >= (isrv & 0xf0) ? tpr : isrv & 0xf0;
        };
        const deliverable = () => irr.size > 0 && (max(irr) & 0xf0) > (ppr() & 0xf0);
        for (const o of ops) {
          switch (o.k) {
            case 'irq':
              bus.deliver({ vector: o.v, deliveryMode: 0, destMode: 0, dest: 0, trigger: 0, level: 1 });
              if (o.v >= 16) irr.add(o.v);
              break;
            case 'tpr':
              a.mmioWrite(0x80, 4, o.v);
              tpr = o.v;
              break;
            case 'ack': {
              const ok = deliverable();
              const want = ok ? max(irr) : 0xff; // else the spurious vector (SVR = 0x1ff)
              if (ok) {
                irr.delete(want);
                isr.add(want);
              }
              if (a.acknowledge() !== want) return false;
              break;
            }
            case 'eoi':
              a.mmioWrite(0xb0, 4, 0);
              isr.delete(max(isr));
              break;
          }
          if (a.pending() !== deliverable()) return false;
          if (a.mmioRead(0xa0, 4) !== ppr()) return false;
        }
        return true;
      }),
      { numRuns: 2000 },
    );
  });
});
