import { describe, expect, it } from 'vitest';
import {
  APIC_DM_FIXED,
  APIC_LVT_CMCI,
  APIC_LVT_PERFORM,
  APIC_LVT_THERMAL,
  APIC_LVT_TIMER,
  ApicBus,
  ApicError,
  LocalApic,
  MSR_KVM_PV_EOI_EN,
} from '../src/index';
import { drain, enableXapic, FakeClock, machine, ram } from './helpers';

/** Put vectors in IRR via fixed self-IPIs (edge). */
function raise(a: LocalApic, ...vectors: number[]) {
  for (const v of vectors) a.mmioWrite(0x300, 4, 0x40000 | v);
}

describe('priority and EOI (SDM 10.8.3.1)', () => {
  it('PPR = TPR when TPR[7:4] >= ISRV[7:4], else ISRV[7:4]:0', () => {
    const { apics } = machine(1);
    const a = apics[0]!;
    enableXapic(a);
    const cases: [number, number, number][] = [
      // tpr, in-service vector, expected PPR
      [0x00, -1, 0x00],
      [0x35, -1, 0x35],
      [0x35, 0x41, 0x40],
      [0x45, 0x41, 0x45],
      [0x40, 0x4f, 0x40],
      [0x3f, 0x40, 0x40],
      [0xff, 0x20, 0xff],
    ];
    for (const [tpr, isrv, ppr] of cases) {
      a.reset();
      enableXapic(a);
      if (isrv >= 0) {
        raise(a, isrv);
        expect(a.acknowledge()).toBe(isrv);
      }
      a.mmioWrite(0x80, 4, tpr);
      expect(a.mmioRead(0xa0, 4), `tpr ${tpr.toString(16)} isrv ${isrv.toString(16)}`).toBe(ppr);
    }
  });

  it('delivers only a vector whose class is above the PPR class, highest first', () => {
    const { apics } = machine(1);
    const a = apics[0]!;
    enableXapic(a);
    a.mmioWrite(0x80, 4, 0x50);
    raise(a, 0x45, 0x55, 0x5f);
    expect(a.pending()).toBe(false); // class 5 is not above TPR class 5
    raise(a, 0x61);
    expect(a.pending()).toBe(true);
    expect(a.acknowledge()).toBe(0x61);
    expect(a.pending()).toBe(false); // PPR is now 0x60
    a.mmioWrite(0xb0, 4, 0);
    expect(a.pending()).toBe(false); // back to TPR 0x50
    a.mmioWrite(0x80, 4, 0x00);
    expect(drain(a)).toEqual([0x5f, 0x55, 0x45]);
  });

  it('nested interrupts: a higher class preempts, EOI retires the highest in service', () => {
    const { apics, log } = machine(1);
    const a = apics[0]!;
    enableXapic(a);
    raise(a, 0x31);
    expect(a.acknowledge()).toBe(0x31);
    raise(a, 0x32, 0x81);
    expect(a.acknowledge()).toBe(0x81); // preempts
    expect(a.pending()).toBe(false); // 0x32 is in class 3 = ISRV class
    a.mmioWrite(0xb0, 4, 0);
    expect(a.pending()).toBe(false); // 0x31 still in service
    a.mmioWrite(0xb0, 4, 0);
    expect(a.acknowledge()).toBe(0x32);
    a.mmioWrite(0xb0, 4, 0);
    a.mmioWrite(0xb0, 4, 0); // EOI with nothing in service: no effect
    expect(log.filter((l) => l.startsWith('eoi'))).toEqual(['eoi 0 129', 'eoi 0 49', 'eoi 0 50']);
  });

  it('spurious vector when the interrupt vanished between INTR and INTA (SDM 10.9)', () => {
    const { apics } = machine(1);
    const a = apics[0]!;
    a.mmioWrite(0xf0, 4, 0x1e7);
    raise(a, 0x40);
    expect(a.pending()).toBe(true);
    a.mmioWrite(0x80, 4, 0x40);
    expect(a.acknowledge()).toBe(0xe7);
    expect(a.mmioRead(0x100 + 0x20, 4)).toBe(0); // ISR untouched
    expect(a.stats.spurious).toBe(1);
  });

  it('level-triggered EOI is broadcast to the IO-APIC, edge-triggered is not', () => {
    const { apics, bus, ioEoi } = machine(1);
    const a = apics[0]!;
    enableXapic(a);
    bus.deliver({ vector: 0x50, deliveryMode: APIC_DM_FIXED, destMode: 0, dest: 0, trigger: 1, level: 1 });
    bus.deliver({ vector: 0x60, deliveryMode: APIC_DM_FIXED, destMode: 0, dest: 0, trigger: 0, level: 1 });
    expect(a.mmioRead(0x180 + 0x20, 4)).toBe(1 << 16); // TMR bit 0x50
    expect(drain(a)).toEqual([0x60, 0x50]);
    expect(ioEoi).toEqual([0x50]);
    // A level de-assert message is not an interrupt.
    expect(bus.deliver({ vector: 0x51, deliveryMode: 0, destMode: 0, dest: 0, trigger: 1, level: 0 })).toBe(
      0,
    );
  });

  it('a software-disabled APIC drops fixed interrupts but keeps IRR and takes NMI', () => {
    const { apics, bus } = machine(1);
    const a = apics[0]!;
    expect(bus.deliver({ vector: 0x50, deliveryMode: 0, destMode: 0, dest: 0, trigger: 0, level: 1 })).toBe(
      1,
    );
    expect(a.mmioRead(0x200 + 0x20, 4)).toBe(0);
    expect(a.stats.dropped).toBe(1);
    bus.deliver({ vector: 0, deliveryMode: 4, destMode: 0, dest: 0, trigger: 0, level: 1 });
    expect(a.nmi()).toBe(true);
    expect(a.nmi()).toBe(false);
  });
});

describe('LVT masking and local interrupt pins', () => {
  it('a masked timer still counts but raises nothing; unmasking does not replay', () => {
    const { apics, clock } = machine(1);
    const a = apics[0]!;
    enableXapic(a);
    a.mmioWrite(0x3e0, 4, 0xb);
    a.mmioWrite(0x320, 4, 0x10040);
    a.mmioWrite(0x380, 4, 100);
    clock.advance(50);
    expect(a.mmioRead(0x390, 4)).toBe(50);
    clock.advance(50);
    expect(a.pending()).toBe(false);
    a.mmioWrite(0x320, 4, 0x40);
    expect(a.pending()).toBe(false);
  });

  it('LINT0 ExtINT passes the 8259 through and takes its vector on INTA', () => {
    let acks = 0;
    const clock = new FakeClock();
    const a = new LocalApic({
      id: 0,
      clock,
      bsp: true,
      extInt: {
        acknowledge: () => {
          acks++;
          return 0x08;
        },
      },
    });
    // BSP reset: LINT0 = ExtINT, unmasked (QEMU's BIOS default), APIC software-disabled.
    expect(a.mmioRead(0x350, 4)).toBe(0x700);
    a.setLint0(true);
    expect(a.pending()).toBe(true);
    expect(a.acknowledge()).toBe(0x08);
    expect(acks).toBe(1);
    a.setLint0(false);
    expect(a.pending()).toBe(false);
    // Masking LINT0 blocks the PIC.
    enableXapic(a);
    a.mmioWrite(0x350, 4, 0x10700);
    a.setLint0(true);
    expect(a.pending()).toBe(false);
  });

  it('with the APIC globally disabled, LINT0 is INTR and LINT1 is NMI', () => {
    const clock = new FakeClock();
    const a = new LocalApic({ id: 1, clock, extInt: { acknowledge: () => 0x20 } });
    expect(a.writeMsr(0x1b, 0xfee00000n)).toBe(true); // EN = 0
    a.setLint0(true);
    expect(a.pending()).toBe(true);
    expect(a.acknowledge()).toBe(0x20);
    a.setLint1(true);
    expect(a.nmi()).toBe(true);
    a.setLint1(true); // no new edge
    expect(a.nmi()).toBe(false);
  });

  it('LINT1 NMI on a rising edge only, masked LINT1 ignored', () => {
    const { apics } = machine(2);
    const a = apics[1]!;
    enableXapic(a);
    a.mmioWrite(0x360, 4, 0x400);
    a.setLint1(true);
    expect(a.nmi()).toBe(true);
    a.setLint1(true);
    expect(a.nmi()).toBe(false);
    a.setLint1(false);
    a.mmioWrite(0x360, 4, 0x10400);
    a.setLint1(true);
    expect(a.nmi()).toBe(false);
  });

  it('level-triggered fixed LINT0: remote IRR holds until EOI, then re-delivers while asserted', () => {
    const { apics } = machine(2);
    const a = apics[1]!;
    enableXapic(a);
    a.mmioWrite(0x350, 4, 0x8000 | 0x70);
    a.setLint0(true);
    expect(a.mmioRead(0x350, 4) & 0x4000).toBe(0x4000);
    expect(a.acknowledge()).toBe(0x70);
    a.mmioWrite(0xb0, 4, 0); // EOI: pin still high ⇒ again
    expect(a.pending()).toBe(true);
    expect(a.acknowledge()).toBe(0x70);
    a.setLint0(false);
    a.mmioWrite(0xb0, 4, 0);
    expect(a.mmioRead(0x350, 4) & 0x4000).toBe(0);
    expect(a.pending()).toBe(false);
  });

  it('polarity: an active-low LINT asserts on a falling level', () => {
    const { apics } = machine(2);
    const a = apics[1]!;
    enableXapic(a);
    a.setLint1(true);
    a.mmioWrite(0x360, 4, 0x2000 | 0x400);
    a.setLint1(false);
    expect(a.nmi()).toBe(true);
  });
});

describe('thermal / perf / CMCI sources', () => {
  it('signalLocal raises through the LVT entry (fixed or NMI), honours the mask, rejects other indices', () => {
    const { apics } = machine(1);
    const a = apics[0]!;
    enableXapic(a);
    a.mmioWrite(0x330, 4, 0x10050); // thermal masked
    a.mmioWrite(0x340, 4, 0x400); // perf → NMI (Linux's perf NMI)
    a.mmioWrite(0x2f0, 4, 0x52); // CMCI fixed
    a.signalLocal(APIC_LVT_THERMAL);
    expect(a.pending()).toBe(false);
    a.signalLocal(APIC_LVT_PERFORM);
    expect(a.nmi()).toBe(true);
    a.signalLocal(APIC_LVT_CMCI);
    expect(a.acknowledge()).toBe(0x52);
    expect(() => a.signalLocal(APIC_LVT_TIMER)).toThrow(ApicError);
  });
});

describe('KVM PV EOI (MSR 0x4b564d04)', () => {
  function pv() {
    const mem = ram(4096);
    const { apics, log, ioEoi, bus } = machine(1, { memory: mem });
    const a = apics[0]!;
    enableXapic(a);
    expect(a.writeMsr(MSR_KVM_PV_EOI_EN, 0x100n | 1n)).toBe(true);
    return { a, mem, log, ioEoi, bus };
  }

  it('sets the guest flag for a lone edge vector; the guest clears it and the EOI happens at the next exit', () => {
    const { a, mem } = pv();
    raise(a, 0x40);
    expect(a.acknowledge()).toBe(0x40);
    expect(mem.bytes[0x100]).toBe(1);
    mem.bytes[0x100] = 0; // guest: test_and_clear, skips the EOI write
    expect(a.priorities().isrv).toBe(0x40); // not an exit
    expect(a.mmioRead(0x100 + 0x20, 4)).toBe(0); // the read is an exit: the EOI is completed first
    expect(a.priorities().isrv).toBe(-1);
    expect(a.stats.pvEoi).toBe(1);
  });

  it('if the guest did a real EOI, the flag is withdrawn and nothing is EOI-ed twice', () => {
    const { a, mem, log } = pv();
    raise(a, 0x40);
    a.acknowledge();
    raise(a, 0x51); // self IPI exit: flag still set ⇒ withdrawn
    expect(mem.bytes[0x100]).toBe(0);
    expect(a.acknowledge()).toBe(0x51); // two in service ⇒ no flag
    expect(mem.bytes[0x100]).toBe(0);
    a.mmioWrite(0xb0, 4, 0);
    a.mmioWrite(0xb0, 4, 0);
    a.exit();
    expect(log.filter((l) => l.startsWith('eoi'))).toEqual(['eoi 0 81', 'eoi 0 64']);
    expect(a.stats.pvEoi).toBe(0);
  });

  it('no flag for level-triggered vectors or with IRR non-empty', () => {
    const { a, mem, bus } = pv();
    bus.deliver({ vector: 0x50, deliveryMode: 0, destMode: 0, dest: 0, trigger: 1, level: 1 });
    a.acknowledge();
    expect(mem.bytes[0x100]).toBe(0);
    a.mmioWrite(0xb0, 4, 0);
    raise(a, 0x60, 0x30);
    expect(a.acknowledge()).toBe(0x60);
    expect(mem.bytes[0x100]).toBe(0);
  });

  it('MSR rules: misaligned address or address outside RAM is #GP, no memory is #GP', () => {
    const { a } = pv();
    expect(a.writeMsr(MSR_KVM_PV_EOI_EN, 0x102n | 1n)).toBe(false);
    expect(a.writeMsr(MSR_KVM_PV_EOI_EN, 0x100000n | 1n)).toBe(false);
    expect(a.readMsr(MSR_KVM_PV_EOI_EN)).toBe(0x101n);
    const b = new LocalApic({ id: 0, clock: new FakeClock(), bus: new ApicBus() });
    expect(b.writeMsr(MSR_KVM_PV_EOI_EN, 0x101n)).toBe(false);
    expect(b.writeMsr(MSR_KVM_PV_EOI_EN, 0n)).toBe(true);
  });
});
