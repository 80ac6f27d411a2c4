import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DevicesError } from '../src/errors';
import { Pic8259Pair } from '../src/pic/pic-pair';

/** Linux arch/x86/kernel/i8259.c init_8259A(auto_eoi), with ISA_IRQ_VECTOR(0) = 0x30. */
function linuxInit(pic: Pic8259Pair, autoEoi = false) {
  pic.master.write(1, 0xff); // mask all of 8259A-1
  pic.slave.write(1, 0xff); // mask all of 8259A-2
  pic.master.write(0, 0x11); // ICW1: select 8259A-1 init, ICW4 needed
  pic.master.write(1, 0x30); // ICW2: IR0-7 mapped to 0x30-0x37
  pic.master.write(1, 1 << 2); // ICW3: slave on IR2
  pic.master.write(1, autoEoi ? 0x03 : 0x01); // ICW4: 8086 mode (+ AEOI)
  pic.slave.write(0, 0x11);
  pic.slave.write(1, 0x38); // IR8-15 mapped to 0x38-0x3f
  pic.slave.write(1, 2); // ICW3: slave id 2
  pic.slave.write(1, 0x01); // ICW4
  pic.master.write(1, 0xfb); // restore: all masked but the cascade
  pic.slave.write(1, 0xff);
}

/** Linux mask_and_ack_8259A's EOI: specific EOI to the slave, then to the master's cascade. */
function linuxEoi(pic: Pic8259Pair, irq: number) {
  if (irq >= 8) {
    pic.slave.write(0, 0x60 + (irq & 7));
    pic.master.write(0, 0x60 + 2);
  } else {
    pic.master.write(0, 0x60 + irq);
  }
}

function unmask(pic: Pic8259Pair, irq: number) {
  const dev = irq >= 8 ? pic.slave : pic.master;
  dev.write(1, dev.read(1) & ~(1 << (irq & 7)));
}

describe('8259A pair: the Linux init sequence and EOI', () => {
  it('programs vector bases and masks, and passes the Linux probe', () => {
    const pic = new Pic8259Pair();
    pic.master.write(1, 0xff);
    expect(pic.master.read(1)).toBe(0xff); // probe_8259A
    linuxInit(pic);
    expect(pic.vectorBases).toEqual([0x30, 0x38]);
    expect(pic.imr).toBe(0xfffb);
    expect(pic.chipCounters.master.mode8080).toBe(0);
  });

  it('delivers a master IRQ edge, holds it in service until the specific EOI', () => {
    const intr: boolean[] = [];
    const pic = new Pic8259Pair({ onIntr: (l) => intr.push(l) });
    linuxInit(pic);
    unmask(pic, 0);
    pic.setIrq(0, true);
    expect(pic.pending()).toBe(true);
    expect(pic.acknowledge()).toBe(0x30);
    expect(pic.isr).toBe(0x0001);
    expect(pic.irr & 1).toBe(0); // edge request consumed by INTA
    expect(pic.pending()).toBe(false);
    pic.setIrq(0, false);
    pic.setIrq(0, true); // a new edge while in service: latched, not delivered
    expect(pic.pending()).toBe(false);
    linuxEoi(pic, 0);
    expect(pic.pending()).toBe(true);
    expect(pic.acknowledge()).toBe(0x30);
    expect(intr).toEqual([true, false, true, false]);
  });

  it('cascades slave IRQs through IR2 and needs EOIs on both chips', () => {
    const pic = new Pic8259Pair();
    linuxInit(pic);
    unmask(pic, 12);
    pic.setIrq(12, true);
    expect(pic.acknowledge()).toBe(0x3c);
    expect(pic.isr).toBe(0x1004); // slave IR4 and master IR2 in service
    pic.setIrq(12, false);
    pic.setIrq(12, true);
    expect(pic.pending()).toBe(false);
    pic.slave.write(0, 0x64);
    expect(pic.pending()).toBe(false); // master IR2 still in service
    pic.master.write(0, 0x62);
    expect(pic.acknowledge()).toBe(0x3c);
  });

  it('nests by priority and clears the highest in-service level on a non-specific EOI', () => {
    const pic = new Pic8259Pair();
    linuxInit(pic);
    pic.master.write(1, 0x00);
    pic.setIrq(3, true);
    pic.setIrq(1, true);
    expect(pic.acknowledge()).toBe(0x31);
    expect(pic.pending()).toBe(false); // IRQ3 is lower priority than IRQ1 in service
    pic.setIrq(0, true);
    expect(pic.acknowledge()).toBe(0x30); // IRQ0 pre-empts
    expect(pic.isr).toBe(0x0003);
    pic.master.write(0, 0x20); // non-specific EOI: clears IRQ0
    expect(pic.isr).toBe(0x0002);
    pic.master.write(0, 0x20); // clears IRQ1
    expect(pic.acknowledge()).toBe(0x33);
    pic.master.write(0, 0x20);
    pic.master.write(0, 0x20); // nothing in service
    expect(pic.chipCounters.master.strayEoi).toBe(1);
  });

  it('auto-EOI never sets ISR', () => {
    const pic = new Pic8259Pair();
    linuxInit(pic, true);
    unmask(pic, 1);
    pic.setIrq(1, true);
    expect(pic.acknowledge()).toBe(0x31);
    expect(pic.isr).toBe(0);
    pic.setIrq(1, false);
    pic.setIrq(1, true);
    expect(pic.acknowledge()).toBe(0x31);
  });
});

describe('8259A pair: modes and registers', () => {
  it('level-triggers through the ELCR: re-requests after EOI while the line is high', () => {
    const pic = new Pic8259Pair();
    linuxInit(pic);
    pic.elcr.write(0, 0xff);
    pic.elcr.write(1, 0xff);
    expect([pic.elcr.read(0), pic.elcr.read(1)]).toEqual([0xf8, 0xde]); // IRQ0-2, 8, 13 are edge only
    unmask(pic, 11);
    pic.setIrq(11, true);
    expect(pic.acknowledge()).toBe(0x3b);
    expect(pic.irr & 0x0800).toBe(0x0800); // level: IRR follows the line, not cleared by INTA
    linuxEoi(pic, 11);
    expect(pic.acknowledge()).toBe(0x3b); // still asserted
    pic.setIrq(11, false);
    linuxEoi(pic, 11);
    expect(pic.pending()).toBe(false);
    // an edge line held high does not re-request after EOI
    unmask(pic, 1); // IRQ1 stays edge whatever ELCR1 says
    pic.setIrq(1, true);
    expect(pic.acknowledge()).toBe(0x31);
    linuxEoi(pic, 1);
    expect(pic.pending()).toBe(false);
  });

  it('answers a vanished request with spurious IRQ7 / IRQ15 (Linux i8259A_irq_real)', () => {
    const pic = new Pic8259Pair();
    linuxInit(pic);
    pic.elcr.write(0, 0x08);
    unmask(pic, 3);
    pic.setIrq(3, true);
    expect(pic.pending()).toBe(true);
    pic.setIrq(3, false); // the device drops its level request before INTA
    expect(pic.acknowledge()).toBe(0x37);
    pic.master.write(0, 0x0b); // OCW3: read ISR
    expect(pic.master.read(0) & 0x80).toBe(0); // IRQ7 not really in service: spurious
    pic.master.write(0, 0x0a);
    expect(pic.counters.spuriousMaster).toBe(1);

    pic.elcr.write(1, 0x08);
    unmask(pic, 11);
    pic.setIrq(11, true); // slave INT rises: master IR2 (edge) latches
    pic.setIrq(11, false);
    expect(pic.pending()).toBe(true);
    expect(pic.acknowledge()).toBe(0x3f); // spurious IRQ15
    expect(pic.isr).toBe(0x0004); // the master's cascade is in service: Linux EOIs the master
    expect(pic.counters.spuriousSlave).toBe(1);
  });

  it('reads IRR or ISR as selected by OCW3, and IMR at A0=1', () => {
    const pic = new Pic8259Pair();
    linuxInit(pic);
    pic.master.write(1, 0xf0);
    pic.setIrq(5, true);
    pic.setIrq(1, true);
    expect(pic.master.read(0)).toBe(0x22); // IRR after init is selected by ICW1
    pic.acknowledge();
    pic.master.write(0, 0x0b);
    expect(pic.master.read(0)).toBe(0x02);
    expect(pic.master.read(0)).toBe(0x02); // the selection persists
    pic.master.write(0, 0x0a);
    expect(pic.master.read(0)).toBe(0x20);
    expect(pic.master.read(1)).toBe(0xf0);
  });

  it('poll mode: the read acknowledges and returns I | level', () => {
    const pic = new Pic8259Pair();
    linuxInit(pic);
    pic.master.write(1, 0x00);
    pic.setIrq(6, true);
    pic.master.write(0, 0x0c); // OCW3: poll
    expect(pic.master.read(0)).toBe(0x86);
    expect(pic.isr).toBe(0x40);
    pic.master.write(0, 0x0c);
    expect(pic.master.read(1)).toBe(0x00); // nothing requesting: I = 0
    expect(pic.master.read(1)).toBe(0x00); // back to IMR
  });

  it('special mask mode lets lower priorities in while a masked level is in service', () => {
    const pic = new Pic8259Pair();
    linuxInit(pic);
    pic.master.write(1, 0x00);
    pic.setIrq(3, true);
    expect(pic.acknowledge()).toBe(0x33);
    pic.setIrq(5, true);
    expect(pic.pending()).toBe(false);
    pic.master.write(1, 0x08); // mask IRQ3 ...
    expect(pic.pending()).toBe(false);
    pic.master.write(0, 0x68); // ... and set special mask mode
    expect(pic.acknowledge()).toBe(0x35);
    pic.master.write(0, 0x48); // reset SMM
    pic.master.write(0, 0x65);
    pic.master.write(0, 0x63);
    expect(pic.isr).toBe(0);
  });

  it('special fully nested mode lets a higher slave IRQ through while the cascade is in service', () => {
    for (const sfnm of [false, true]) {
      const pic = new Pic8259Pair();
      linuxInit(pic);
      pic.master.write(0, 0x11); // re-init the master with ICW4.SFNM as chosen
      pic.master.write(1, 0x30);
      pic.master.write(1, 0x04);
      pic.master.write(1, sfnm ? 0x11 : 0x01);
      pic.master.write(1, 0x00);
      pic.slave.write(1, 0x00);
      pic.setIrq(12, true);
      expect(pic.acknowledge()).toBe(0x3c);
      pic.setIrq(9, true); // higher priority than IRQ12 on the slave
      expect(pic.pending()).toBe(sfnm);
      if (sfnm) expect(pic.acknowledge()).toBe(0x39);
    }
  });

  it('rotates priorities on EOI and by set-priority', () => {
    const pic = new Pic8259Pair();
    linuxInit(pic);
    pic.master.write(1, 0x00);
    pic.setIrq(1, true);
    pic.setIrq(4, true);
    expect(pic.acknowledge()).toBe(0x31);
    pic.master.write(0, 0xa0); // rotate on non-specific EOI: IR1 becomes lowest
    pic.setIrq(1, false);
    pic.setIrq(1, true);
    expect(pic.acknowledge()).toBe(0x34); // IR4 now outranks IR1
    pic.master.write(0, 0x20);
    pic.master.write(0, 0xc3); // set priority: IR3 lowest, so IR4 highest
    pic.setIrq(4, false);
    pic.setIrq(4, true);
    expect(pic.acknowledge()).toBe(0x34);
  });

  it('a new ICW1 clears IMR/ISR and edge latches but keeps level requests', () => {
    const pic = new Pic8259Pair();
    linuxInit(pic);
    pic.master.write(1, 0);
    pic.setIrq(1, true);
    pic.acknowledge();
    pic.master.write(0, 0x11);
    expect(pic.isr).toBe(0);
    expect(pic.imr & 0xff).toBe(0);
    expect(pic.pending()).toBe(false);
  });

  it('rejects bad IRQ numbers and bad snapshots, and round-trips a snapshot', () => {
    const pic = new Pic8259Pair();
    expect(() => pic.setIrq(16, true)).toThrow(/PIC IRQ 16 is not in 0\.\.15/);
    linuxInit(pic);
    unmask(pic, 9);
    pic.elcr.write(1, 0x02);
    pic.setIrq(9, true);
    const state = JSON.parse(JSON.stringify(pic.saveState()));
    const copy = Pic8259Pair.fromState(state);
    expect(copy.pending()).toBe(true);
    expect(copy.acknowledge()).toBe(pic.acknowledge());
    expect(copy.saveState()).toEqual(pic.saveState());
    try {
      Pic8259Pair.fromState({ ...state, master: { ...state.master, priorityAdd: 9 } });
      expect.unreachable();
    } catch (e) {
      expect(DevicesError.isInstance(e) && e.code).toBe('INVALID_STATE');
    }
  });
});

describe('8259A pair under random traffic', () => {
  it('never throws and only ever hands out vectors of its programmed bases', () => {
    const op = fc.oneof(
      fc.record({
        dev: fc.constantFrom('master', 'slave', 'elcr'),
        w: fc.boolean(),
        off: fc.nat(3),
        v: fc.nat(255),
      }),
      fc.record({ irq: fc.nat(15), level: fc.boolean() }),
      fc.constant('ack' as const),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 150 }), (ops) => {
        const pic = new Pic8259Pair();
        linuxInit(pic);
        for (const o of ops) {
          if (o === 'ack') {
            if (!pic.pending()) continue;
            const [mb, sb] = pic.vectorBases;
            const v = pic.acknowledge();
            expect((v & ~7) === mb || (v & ~7) === sb).toBe(true);
          } else if ('irq' in o) pic.setIrq(o.irq, o.level);
          else if (o.w) pic[o.dev as 'master'].write(o.off, o.v);
          else expect(pic[o.dev as 'master'].read(o.off)).toBeLessThanOrEqual(0xff);
        }
        expect(pic.isr).toBeLessThanOrEqual(0xffff);
      }),
      { numRuns: 300 },
    );
  });
});
