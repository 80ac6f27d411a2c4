import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApicBus, ApicError, LocalApic, type LocalApicState, MSR_IA32_TSC_DEADLINE } from '../src/index';
import { drain, enableXapic, FakeClock, machine } from './helpers';

describe('snapshot (saveState / fromState)', () => {
  it('restores every register and re-arms the timer from the stored expiry', () => {
    const { apics, clock } = machine(1);
    const a = apics[0]!;
    enableXapic(a);
    a.mmioWrite(0x80, 4, 0x21);
    a.mmioWrite(0x3e0, 4, 0x1); // ÷4
    a.mmioWrite(0x320, 4, 0x20045); // periodic, vector 0x45
    a.mmioWrite(0x380, 4, 1000);
    a.mmioWrite(0x300, 4, 0x40000 | 0x77);
    clock.advance(1234);
    const state = structuredClone(a.saveState());
    const clock2 = new FakeClock();
    clock2.t = clock.t;
    const b = LocalApic.fromState(state, { clock: clock2, bus: new ApicBus() });
    expect(b.saveState()).toEqual(a.saveState());
    expect(b.nextDeadline()).toBe(a.nextDeadline());
    for (const off of [0x20, 0x80, 0xa0, 0xf0, 0x320, 0x380, 0x390, 0x3e0, 0x200 + 0x30]) {
      expect(b.mmioRead(off, 4), `offset ${off.toString(16)}`).toBe(a.mmioRead(off, 4));
    }
    clock.advance(4000);
    clock2.advance(4000);
    expect(drain(b)).toEqual(drain(a));
    expect(b.nextDeadline()).toBe(a.nextDeadline());
  });

  it('TSC deadline and PV EOI survive a snapshot', () => {
    const { apics } = machine(1);
    const a = apics[0]!;
    enableXapic(a);
    a.mmioWrite(0x320, 4, 0x40050);
    a.writeMsr(MSR_IA32_TSC_DEADLINE, 123456n);
    const b = LocalApic.fromState(a.saveState(), { clock: a.clock, bus: new ApicBus() });
    expect(b.readMsr(MSR_IA32_TSC_DEADLINE)).toBe(123456n);
    expect(b.nextDeadline()).toBe(123456);
  });

  it('the state is plain data that survives JSON for its scalar fields', () => {
    const { apics } = machine(1);
    const s = apics[0]!.saveState();
    expect(s.version).toBe(1);
    expect(s.isr).toBeInstanceOf(Uint32Array);
    expect(typeof s.tscDeadline).toBe('string');
  });

  it('rejects malformed states with a typed error naming the field', () => {
    const { apics } = machine(1);
    const good = apics[0]!.saveState();
    const bad: [Partial<Record<keyof LocalApicState, unknown>>, RegExp][] = [
      [{ version: 2 }, /version/],
      [{ isr: new Uint32Array(7) }, /isr/],
      [{ lvt: [0, 0, 0, 0, 0, 0, 0] }, /lvt/],
      [{ tpr: -1 }, /tpr/],
      [{ tscDeadline: '-5' }, /tscDeadline/],
      [{ nmiPending: 1 }, /nmiPending/],
    ];
    for (const [patch, re] of bad) {
      const s = { ...good, ...patch } as LocalApicState;
      let err: unknown;
      try {
        LocalApic.fromState(s, { clock: new FakeClock(), bus: new ApicBus() });
      } catch (e) {
        err = e;
      }
      expect(ApicError.isInstance(err)).toBe(true);
      expect((err as ApicError).code).toBe('APIC_BAD_STATE');
      expect((err as Error).message).toMatch(re);
    }
  });
});

describe('bad guest input never throws', () => {
  const op = fc.oneof(
    fc.record({
      k: fc.constant('mr' as const),
      off: fc.integer({ min: 0, max: 0xfff }),
      size: fc.constantFrom(1, 2, 4),
    }),
    fc.record({
      k: fc.constant('mw' as const),
      off: fc.integer({ min: 0, max: 0xfff }),
      size: fc.constantFrom(1, 2, 4),
      v: fc.integer({ min: 0, max: 0xffffffff }),
    }),
    fc.record({
      k: fc.constant('rm' as const),
      msr: fc.oneof(fc.integer({ min: 0x800, max: 0x8ff }), fc.constantFrom(0x1b, 0x6e0, 0x4b564d04, 0x10)),
    }),
    fc.record({
      k: fc.constant('wm' as const),
      msr: fc.oneof(fc.integer({ min: 0x800, max: 0x8ff }), fc.constantFrom(0x1b, 0x6e0, 0x4b564d04)),
      v: fc.oneof(
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.constantFrom(0xfee00800n, 0xfee00c00n, 0xfee00000n),
      ),
    }),
    fc.record({ k: fc.constant('ack' as const) }),
    fc.record({ k: fc.constant('lint' as const), pin: fc.boolean(), level: fc.boolean() }),
    fc.record({ k: fc.constant('time' as const), dt: fc.integer({ min: 0, max: 100000 }) }),
    fc.record({
      k: fc.constant('msg' as const),
      vector: fc.integer({ min: 0, max: 255 }),
      dm: fc.integer({ min: 0, max: 7 }),
      destMode: fc.integer({ min: 0, max: 1 }),
      dest: fc.integer({ min: 0, max: 0xffffffff }),
      trigger: fc.integer({ min: 0, max: 1 }),
    }),
    fc.record({
      k: fc.constant('pvipi' as const),
      lo: fc.integer({ min: 0, max: 0xffffffff }),
      min: fc.integer({ min: 0, max: 4 }),
      icr: fc.integer({ min: 0, max: 0xfffff }),
    }),
  );

  it('random accesses from 3 vCPUs leave architecturally valid state (1500 sequences)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), op), { maxLength: 60 }), (ops) => {
        const m = machine(3, { extInt: { acknowledge: () => 0x30 } });
        for (const [who, o] of ops) {
          const a = m.apics[who]!;
          switch (o.k) {
            case 'mr':
              a.mmioRead(o.off, o.size as 1 | 2 | 4);
              break;
            case 'mw':
              a.mmioWrite(o.off, o.size as 1 | 2 | 4, o.v);
              break;
            case 'rm':
              a.readMsr(o.msr);
              break;
            case 'wm':
              a.writeMsr(o.msr, o.v);
              break;
            case 'ack':
              if (a.pending()) a.acknowledge();
              a.nmi();
              break;
            case 'lint':
              if (o.pin) a.setLint1(o.level);
              else a.setLint0(o.level);
              break;
            case 'time':
              m.clock.advance(o.dt);
              for (const x of m.apics) if (x.nextDeadline() <= m.clock.t) x.tick();
              break;
            case 'msg':
              m.bus.deliver({
                vector: o.vector,
                deliveryMode: o.dm,
                destMode: o.destMode,
                dest: o.dest,
                trigger: o.trigger,
                level: 1,
              });
              break;
            case 'pvipi':
              a.sendIpiMask(o.lo, 0, o.min, o.icr);
              break;
          }
        }
        for (const a of m.apics) {
          const s = a.saveState();
          expect(s.tpr).toBeLessThanOrEqual(0xff);
          expect(s.svr & ~0x3ff).toBe(0);
          expect(s.esr & ~0xf0).toBe(0);
          for (const lvt of s.lvt) expect(lvt & ~0x7f7ff).toBe(0);
          // Software-disabled ⇒ every LVT masked, except the BSP's reset-time LINT0 = ExtINT (QEMU).
          if ((s.svr & 0x100) === 0) {
            for (const [i, lvt] of s.lvt.entries()) {
              if (!(s.bsp && i === 3 && lvt === 0x700)) expect(lvt & 0x10000).toBe(0x10000);
            }
          }
          // Vectors 0–15 are never accepted.
          expect(s.irr[0]! & 0xffff).toBe(0);
          expect(s.isr[0]! & 0xffff).toBe(0);
          // Mode is one of the three valid states.
          expect(s.apicBase & 0xc00).not.toBe(0x400);
        }
      }),
      { numRuns: 1500 },
    );
  });
});

describe('PV send IPI (KVM_HC_SEND_IPI)', () => {
  it('delivers to min + bit for each set bit, counts receivers, rejects other delivery modes', () => {
    const m = machine(8);
    for (const a of m.apics) enableXapic(a);
    expect(m.apics[0]!.sendIpiMask(0b1011, 0, 2, 0x4060)).toBe(3); // APICs 2, 3, 5
    expect(m.apics.map((a) => a.priorities().irrv)).toEqual([-1, -1, 0x60, 0x60, -1, 0x60, -1, -1]);
    expect(m.apics[0]!.sendIpiMask(0x80, 0, 2, 0x400)).toBe(0); // APIC 9 does not exist
    expect(m.apics[0]!.sendIpiMask(0x2, 0, 0, 0x4500)).toBe(-1); // INIT is not allowed
    expect(m.apics[0]!.sendIpiMask(0x2, 0, 0, 0x4400)).toBe(1); // NMI
    expect(m.apics[1]!.nmi()).toBe(true);
  });
});
