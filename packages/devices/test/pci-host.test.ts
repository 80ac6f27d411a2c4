import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DevicesError } from '../src/errors';
import { PCI_COMMAND, PCI_STATUS, PciFunction } from '../src/pci/function';
import { PciBus, PciHost } from '../src/pci/host';
import { createI440fxHostBridge } from '../src/pci/i440fx';
import { ResetControl } from '../src/system/reset-control';

const addr = (bus: number, dev: number, fn: number, reg: number) =>
  (0x80000000 | (bus << 16) | (dev << 11) | (fn << 8) | (reg & 0xfc)) >>> 0;

function machine() {
  const resets: string[] = [];
  const bus = new PciBus();
  bus.register(0, 0, createI440fxHostBridge());
  const host = new PciHost({
    bus,
    resetControl: new ResetControl({ events: { onReset: (k) => resets.push(k) } }),
  });
  const cfgRead = (a: number, size: 1 | 2 | 4, off = 0) => {
    host.write(0, 4, a);
    return host.read(4 + off, size);
  };
  const cfgWrite = (a: number, size: 1 | 2 | 4, v: number, off = 0) => {
    host.write(0, 4, a);
    host.write(4 + off, size, v);
  };
  return { bus, host, cfgRead, cfgWrite, resets };
}

describe('PCI configuration mechanism #1', () => {
  it('finds the i440FX host bridge at 00:00.0 like QEMU pc', () => {
    const m = machine();
    expect(m.cfgRead(addr(0, 0, 0, 0), 4)).toBe(0x12378086);
    expect(m.cfgRead(addr(0, 0, 0, 8), 4)).toBe(0x06000002); // class 060000, revision 2
    expect(m.cfgRead(addr(0, 0, 0, 0xc), 1, 2)).toBe(0); // header type 0
    expect(m.cfgRead(addr(0, 0, 0, 0), 2, 2)).toBe(0x1237); // word at 0xcfe
    expect(m.cfgRead(addr(0, 0, 0, 0), 1, 1)).toBe(0x80); // byte at 0xcfd
    expect(m.cfgRead(addr(0, 0, 0, 4), 2, 2)).toBe(0x0280); // PCISTS
  });

  it('answers all-ones for absent functions, other buses and a disabled address', () => {
    const m = machine();
    expect(m.cfgRead(addr(0, 1, 0, 0), 4)).toBe(0xffffffff);
    expect(m.cfgRead(addr(0, 0, 1, 0), 2)).toBe(0xffff);
    expect(m.cfgRead(addr(1, 0, 0, 0), 4)).toBe(0xffffffff);
    m.host.write(0, 4, addr(0, 0, 0, 0) & 0x7fffffff);
    expect(m.host.read(4, 4)).toBe(0xffffffff);
    // writes to absent functions vanish
    m.cfgWrite(addr(0, 3, 0, 4), 4, 0);
  });

  it('latches the address only on dword accesses and forwards byte 0xcf9 to reset control', () => {
    const m = machine();
    m.host.write(0, 4, 0x8000_1234 | 3);
    expect(m.host.read(0, 4)).toBe(0x80001234); // bits 1:0 read as 0
    m.host.write(0, 2, 0);
    expect(m.host.read(0, 4)).toBe(0x80001234);
    m.host.write(1, 1, 0x06);
    expect(m.resets).toEqual(['cf9-hard']);
    expect(m.host.read(1, 1)).toBe(0x02);
    expect(m.host.read(0, 4)).toBe(0x80001234);
  });

  it('respects read-only IDs, writable command bits and write-1-to-clear status', () => {
    const m = machine();
    m.cfgWrite(addr(0, 0, 0, 0), 4, 0);
    expect(m.cfgRead(addr(0, 0, 0, 0), 4)).toBe(0x12378086);
    m.cfgWrite(addr(0, 0, 0, PCI_COMMAND), 2, 0xffff);
    expect(m.cfgRead(addr(0, 0, 0, PCI_COMMAND), 2)).toBe(0x0547);
    const f = m.bus.get(0, 0)!;
    f.set16(PCI_STATUS, 0x2280); // host sets "received master abort"
    m.cfgWrite(addr(0, 0, 0, PCI_COMMAND), 2, 0x0000, 2); // writing 0 clears nothing
    expect(m.cfgRead(addr(0, 0, 0, PCI_COMMAND), 2, 2)).toBe(0x2280);
    m.cfgWrite(addr(0, 0, 0, PCI_COMMAND), 2, 0x2000, 2);
    expect(m.cfgRead(addr(0, 0, 0, PCI_COMMAND), 2, 2)).toBe(0x0280);
    // PAM registers are writable chipset storage
    m.cfgWrite(addr(0, 0, 0, 0x58), 1, 0x33, 1);
    expect(m.cfgRead(addr(0, 0, 0, 0x58), 1, 1)).toBe(0x33);
  });

  it('registered functions with BARs support the sizing protocol', () => {
    const m = machine();
    const nic = new PciFunction({
      vendorId: 0x1af4,
      deviceId: 0x1000,
      classCode: 0x020000,
      interruptPin: 1,
      bars: [
        { kind: 'io', size: 0x20 },
        { kind: 'mem32', size: 0x1000, prefetchable: true },
      ],
    });
    m.bus.register(3, 0, nic);
    m.cfgWrite(addr(0, 3, 0, 0x10), 4, 0xffffffff);
    expect(m.cfgRead(addr(0, 3, 0, 0x10), 4)).toBe(0x0000ffe1);
    m.cfgWrite(addr(0, 3, 0, 0x14), 4, 0xffffffff);
    expect(m.cfgRead(addr(0, 3, 0, 0x14), 4)).toBe(0xfffff008);
    m.cfgWrite(addr(0, 3, 0, 0x14), 4, 0xfebf1234);
    expect(nic.barAddress(1)).toBe(0xfebf1000);
    m.cfgWrite(addr(0, 3, 0, 0x3c), 1, 11);
    expect(m.cfgRead(addr(0, 3, 0, 0x3c), 2)).toBe(0x010b);
    expect(m.cfgRead(addr(0, 2, 0, 0), 4)).toBe(0xffffffff);
  });

  it('passes Linux pci_check_type1() and pci_sanity_check()', () => {
    const m = machine();
    const io = m.host; // offsets from 0xcf8
    io.write(3, 1, 0x01); // outb(0x01, 0xcfb): not the address register
    const tmp = io.read(0, 4);
    io.write(0, 4, 0x80000000);
    expect(io.read(0, 4)).toBe(0x80000000);
    // pci_sanity_check: some devfn on bus 0 is a host bridge (class 0x0600) or an Intel/Compaq part.
    let found = false;
    for (let devfn = 0; devfn < 0x100 && !found; devfn++) {
      io.write(0, 4, 0x80000000 | (devfn << 8) | 0x08);
      const cls = io.read(4 + 2, 2);
      io.write(0, 4, 0x80000000 | (devfn << 8));
      const vendor = io.read(4, 2);
      found = cls === 0x0600 || cls === 0x0300 || vendor === 0x8086 || vendor === 0x0e11;
    }
    expect(found).toBe(true);
    io.write(0, 4, tmp);
    expect(io.read(0, 4)).toBe(tmp);
  });

  it('host misuse throws typed errors', () => {
    const m = machine();
    const f = () => new PciFunction({ vendorId: 1, deviceId: 2, classCode: 0 });
    expect(() => m.bus.register(0, 0, f())).toThrow(DevicesError);
    expect(() => m.bus.register(32, 0, f())).toThrow(/0..31/);
    expect(() => new PciFunction({ vendorId: 0xffff, deviceId: 0, classCode: 0 })).toThrow(DevicesError);
    expect(
      () => new PciFunction({ vendorId: 1, deviceId: 0, classCode: 0, bars: [{ kind: 'mem32', size: 100 }] }),
    ).toThrow(/BAR0/);
  });

  it('random configuration traffic never throws and IDs never change', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            off: fc.integer({ min: 0, max: 7 }),
            size: fc.constantFrom(1, 2, 4),
            v: fc.integer({ min: 0, max: 0xffffffff }),
            w: fc.boolean(),
          }),
          { maxLength: 200 },
        ),
        (ops) => {
          const m = machine();
          for (const op of ops) {
            if (op.w) m.host.write(op.off, op.size, op.v);
            else {
              const r = m.host.read(op.off, op.size);
              expect(r >= 0 && r <= 0xffffffff).toBe(true);
            }
          }
          expect(m.cfgRead(addr(0, 0, 0, 0), 4)).toBe(0x12378086);
          expect(m.cfgRead(addr(0, 0, 0, 8), 4)).toBe(0x06000002);
        },
      ),
      { numRuns: 300 },
    );
  });
});
