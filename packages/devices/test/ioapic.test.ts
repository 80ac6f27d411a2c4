import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DevicesError } from '../src/errors';
import { IoApic, type IoApicMessage } from '../src/ioapic/ioapic';

function rig(id = 0) {
  const msgs: IoApicMessage[] = [];
  const io = new IoApic({ sink: (m) => msgs.push(m), id });
  const reg = (i: number) => {
    io.mmioWrite(0x00, 4, i);
    return io.mmioRead(0x10, 4);
  };
  const set = (i: number, v: number) => {
    io.mmioWrite(0x00, 4, i);
    io.mmioWrite(0x10, 4, v);
  };
  return { io, msgs, reg, set };
}

describe('82093AA registers', () => {
  it('reports ID, version 0x11 with 24 entries, arbitration ID; resets entries masked', () => {
    const { io, reg, set } = rig(2);
    expect(reg(0x00)).toBe(0x02000000);
    expect(reg(0x01)).toBe(0x00170011);
    expect(reg(0x02)).toBe(0x02000000);
    for (let pin = 0; pin < 24; pin++) {
      expect(reg(0x10 + 2 * pin)).toBe(0x00010000);
      expect(reg(0x11 + 2 * pin)).toBe(0);
    }
    set(0x00, 0xffffffff);
    expect(reg(0x00)).toBe(0x0f000000);
    expect(reg(0x02)).toBe(0x0f000000); // arbitration ID follows the ID
    set(0x01, 0);
    expect(reg(0x01)).toBe(0x00170011); // read only
    expect(reg(0x40)).toBe(0); // beyond the table
    io.mmioWrite(0x00, 1, 0x10);
    expect(io.mmioRead(0x00, 1)).toBe(0x10);
    io.mmio.write(0x00, 4, 0x01);
    expect(io.mmio.read(0x10, 4)).toBe(0x00170011);
    expect(io.mmioRead(0x20, 4)).toBe(0);
  });

  it('keeps delivery status and Remote IRR read-only and only the destination in the high dword', () => {
    const { reg, set } = rig();
    set(0x10, 0xffffffff);
    expect(reg(0x10)).toBe(0x0001afff); // bits 12, 14 and 31:17 not writable
    set(0x11, 0xffffffff);
    expect(reg(0x11)).toBe(0xff000000);
  });

  it('merges byte writes into IOWIN', () => {
    const { io, reg } = rig();
    io.mmioWrite(0x00, 4, 0x12);
    io.mmioWrite(0x10, 1, 0x31);
    io.mmioWrite(0x12, 1, 0x00); // unmask: bits 23:16
    expect(reg(0x12)).toBe(0x00000031);
    expect(io.mmioRead(0x10, 1)).toBe(0x31);
    expect(io.mmioRead(0x11, 1)).toBe(0x00);
  });
});

describe('82093AA delivery', () => {
  it('sends an edge message per rising edge, none while masked (edges are not held)', () => {
    const { io, msgs, set } = rig();
    set(0x10 + 2 * 2, 0x00000030); // pin 2: vector 0x30, fixed, physical, edge, unmasked
    set(0x11 + 2 * 2, 0x01000000); // dest APIC 1
    io.setIrq(2, true);
    io.setIrq(2, true); // no new edge
    io.setIrq(2, false);
    expect(msgs).toEqual([
      { vector: 0x30, deliveryMode: 0, destMode: 0, dest: 1, trigger: 0, level: true, pin: 2 },
    ]);
    set(0x10 + 2 * 2, 0x00010030);
    io.setIrq(2, true);
    io.setIrq(2, false);
    set(0x10 + 2 * 2, 0x00000030);
    expect(msgs.length).toBe(1);
    io.setIrq(2, true);
    expect(msgs.length).toBe(2);
  });

  it('level entries: Remote IRR blocks re-delivery until the local APIC EOIs; re-delivers if still asserted', () => {
    const { io, msgs, reg, set } = rig();
    set(0x10 + 2 * 10, 0x0000a951); // pin 10: vector 0x51, lowest priority, logical, active low, level
    set(0x11 + 2 * 10, 0x03000000);
    io.setIrq(10, true);
    expect(msgs).toEqual([
      { vector: 0x51, deliveryMode: 1, destMode: 1, dest: 3, trigger: 1, level: true, pin: 10 },
    ]);
    expect(reg(0x10 + 2 * 10) & 0x4000).toBe(0x4000); // Remote IRR
    io.setIrq(10, true);
    io.setIrq(10, false);
    io.setIrq(10, true);
    expect(msgs.length).toBe(1); // still awaiting EOI
    io.eoi(0x50); // another vector: no effect
    expect(io.counters.strayEois).toBe(1);
    io.eoi(0x51); // pin still asserted: delivered again at once
    expect(msgs.length).toBe(2);
    expect(reg(0x10 + 2 * 10) & 0x4000).toBe(0x4000);
    io.setIrq(10, false);
    io.eoi(0x51);
    expect(msgs.length).toBe(2);
    expect(reg(0x10 + 2 * 10) & 0x4000).toBe(0);
  });

  it('version 0x20 adds the EOI register at 0x40 (ignored on the 82093AA)', () => {
    for (const version of [0x11, 0x20] as const) {
      const msgs: IoApicMessage[] = [];
      const io = new IoApic({ sink: (m) => msgs.push(m), version });
      io.mmioWrite(0x00, 4, 0x01);
      expect(io.mmioRead(0x10, 4)).toBe(0x00170000 | version);
      io.mmioWrite(0x00, 4, 0x10 + 2 * 9);
      io.mmioWrite(0x10, 4, 0x00008059); // level, vector 0x59
      io.setIrq(9, true);
      io.mmioWrite(0x40, 4, 0x59); // Linux io_apic_eoi()
      expect(msgs.length).toBe(version === 0x20 ? 2 : 1); // re-delivered: the pin is still asserted
    }
    expect(() => new IoApic({ sink: () => {}, version: 0x30 as 0x20 })).toThrow(
      /version 48 is not 0x11 or 0x20/,
    );
  });

  it('delivers an asserted level pin when it is unmasked, and not while masked', () => {
    const { io, msgs, set } = rig();
    set(0x10 + 2 * 11, 0x00018061); // masked, level, vector 0x61
    io.setIrq(11, true);
    expect(msgs.length).toBe(0);
    set(0x10 + 2 * 11, 0x00008061);
    expect(msgs.map((m) => m.vector)).toEqual([0x61]);
  });

  it('passes NMI, INIT and ExtINT delivery modes through, ExtINT as edge', () => {
    const { io, msgs, set } = rig();
    set(0x10, 0x00008700); // pin 0: ExtINT, level programmed
    set(0x12, 0x00000400); // pin 1: NMI
    io.setIrq(0, true);
    io.setIrq(1, true);
    expect(msgs.map((m) => [m.deliveryMode, m.trigger])).toEqual([
      [7, 0],
      [4, 0],
    ]);
    set(0x14, 0x00000005); // fixed with vector 5: illegal, counted
    io.setIrq(2, true);
    expect(io.counters.illegalVectors).toBe(1);
  });

  it('rejects bad pins and snapshots, round-trips a snapshot', () => {
    const { io, msgs, set } = rig();
    expect(() => io.setIrq(24, true)).toThrow(/IO-APIC pin 24 is not in 0\.\.23/);
    expect(() => new IoApic({ sink: () => {}, id: 16 })).toThrow(DevicesError);
    set(0x10 + 2 * 5, 0x00008045);
    io.setIrq(5, true);
    const state = JSON.parse(JSON.stringify(io.saveState()));
    const copyMsgs: IoApicMessage[] = [];
    const copy = IoApic.fromState(state, { sink: (m) => copyMsgs.push(m) });
    copy.eoi(0x45);
    io.eoi(0x45);
    expect(copyMsgs).toEqual(msgs.slice(1));
    expect(copy.saveState()).toEqual(io.saveState());
    expect(() => IoApic.fromState({ ...state, redirection: [0] }, { sink: () => {} })).toThrow(/48 dwords/);
    expect(() => IoApic.fromState(state, { sink: () => {}, version: 0x20 })).toThrow(
      /version 0x11 IO-APIC restored as version 0x20/,
    );
  });
});

describe('82093AA under random MMIO traffic', () => {
  it('never throws; every message has a sane shape and level entries wait for EOI', () => {
    const op = fc.oneof(
      fc.record({
        w: fc.boolean(),
        off: fc.nat(0xfff),
        size: fc.constantFrom(1, 2, 4) as fc.Arbitrary<1 | 2 | 4>,
        v: fc.nat(0xffffffff),
      }),
      fc.record({ pin: fc.nat(23), level: fc.boolean() }),
      fc.record({ eoi: fc.nat(255) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 150 }), (ops) => {
        const msgs: IoApicMessage[] = [];
        const io = new IoApic({ sink: (m) => msgs.push(m) });
        for (const o of ops) {
          if ('eoi' in o) io.eoi(o.eoi);
          else if ('pin' in o) io.setIrq(o.pin, o.level);
          else if (o.w) io.mmioWrite(o.off, o.size, o.v);
          else expect(io.mmioRead(o.off, o.size)).toBeLessThan(2 ** (8 * o.size));
        }
        for (const m of msgs) {
          expect(m.vector).toBeLessThanOrEqual(255);
          expect(m.dest).toBeLessThanOrEqual(255);
        }
        for (let pin = 0; pin < 24; pin++) {
          const { low } = io.entry(pin);
          if (!(low & 0x8000)) expect(low & 0x4000).toBe(0);
        }
      }),
      { numRuns: 300 },
    );
  });
});
