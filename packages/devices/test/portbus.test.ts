import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DevicesError } from '../src/errors';
import { type ByteDevice, PortBus, type PortDevice } from '../src/portbus';

function bytes(): ByteDevice & { regs: Uint8Array; log: string[] } {
  const regs = new Uint8Array(8);
  const log: string[] = [];
  return {
    regs,
    log,
    read: (o) => {
      log.push(`r${o}`);
      return regs[o]!;
    },
    write: (o, v) => {
      log.push(`w${o}=${v}`);
      regs[o] = v;
    },
  };
}

describe('PortBus', () => {
  it('dispatches by offset, splits wide accesses to byte devices little-endian', () => {
    const bus = new PortBus();
    const dev = bytes();
    bus.registerBytes(0x3f8, 8, dev, 'com1');
    bus.out(0x3f8 + 7, 1, 0x1ab); // truncated to a byte
    expect(dev.regs[7]).toBe(0xab);
    bus.out(0x3f8 + 2, 2, 0x1234);
    expect(dev.log.slice(-2)).toEqual(['w2=52', 'w3=18']);
    expect(bus.in(0x3f8 + 2, 2)).toBe(0x1234);
    expect(bus.in(0x3f8 + 4, 4)).toBe(0xab000000);
    expect(bus.owner(0x3fc)).toBe('com1');
  });

  it('reads all-ones from unclaimed ports, also for the unclaimed bytes of a straddling access', () => {
    const bus = new PortBus();
    const dev = bytes();
    bus.registerBytes(0x70, 2, dev, 'rtc');
    expect(bus.in(0x1234, 1)).toBe(0xff);
    expect(bus.in(0x1234, 2)).toBe(0xffff);
    expect(bus.in(0x1234, 4)).toBe(0xffffffff);
    dev.regs[1] = 0x42;
    expect(bus.in(0x71, 2)).toBe(0xff42);
    expect(bus.in(0xffff, 2)).toBe(0xffff); // wraps to port 0, unclaimed
    bus.out(0x9999, 4, 0xdeadbeef); // ignored
    expect(bus.unclaimed).toBe(6);
  });

  it('hands sized accesses to sized devices whole', () => {
    const bus = new PortBus();
    const seen: string[] = [];
    const dev: PortDevice = {
      read: (o, s) => {
        seen.push(`r${o}/${s}`);
        return -1; // normalised to the access size
      },
      write: (o, s, v) => seen.push(`w${o}/${s}=${v.toString(16)}`),
    };
    bus.register(0xcf8, 8, dev, 'pci');
    expect(bus.in(0xcfc, 4)).toBe(0xffffffff);
    expect(bus.in(0xcfe, 2)).toBe(0xffff);
    bus.out(0xcf8, 4, -0x80000000);
    expect(seen).toEqual(['r4/4', 'r6/2', 'w0/4=80000000']);
  });

  it('rejects overlapping or malformed registrations naming the ports', () => {
    const bus = new PortBus();
    bus.registerBytes(0x20, 2, bytes(), 'pic1');
    expect(() => bus.registerBytes(0x1f, 2, bytes(), 'x')).toThrow(
      /ports 0x1f\.\.0x20 of "x" overlap port 0x20 of "pic1" \(0x20\.\.0x21\)/,
    );
    for (const [b, l] of [
      [-1, 1],
      [0x10000, 1],
      [0xffff, 2],
      [0x100, 0],
      [1.5, 1],
    ] as const) {
      try {
        bus.registerBytes(b, l, bytes());
        expect.unreachable();
      } catch (e) {
        expect(DevicesError.isInstance(e) && e.code).toBe('INVALID_ARGUMENT');
      }
    }
    const e = (() => {
      try {
        bus.registerBytes(0x21, 1, bytes());
      } catch (err) {
        return err;
      }
    })();
    expect(DevicesError.isInstance(e) && e.code).toBe('OVERLAP');
    expect(() => bus.registerBytes(0x300, 1, {} as never, 'bogus')).toThrow(
      /"bogus" at 0x300 has no read\/write/,
    );
    bus.unregister(0x20);
    bus.registerBytes(0x1f, 2, bytes(), 'x');
    expect(bus.regions().map((r) => r.name)).toEqual(['x']);
    expect(() => bus.unregister(0x20)).toThrow(/no port region starts at 0x20/);
  });

  it('counts accesses through the hook and per port', () => {
    const hits: string[] = [];
    const bus = new PortBus({
      onAccess: (p, s, w) => hits.push(`${w ? 'out' : 'in'} ${p.toString(16)}/${s}`),
      countPerPort: true,
    });
    bus.in(0x80, 1);
    bus.out(0x80, 2, 1);
    bus.out(0x10080, 1, 1); // port numbers wrap to 16 bits
    expect(hits).toEqual(['in 80/1', 'out 80/2', 'out 80/1']);
    expect(bus.portCounts![0x80]).toBe(3);
    expect([bus.reads, bus.writes]).toEqual([1, 2]);
  });

  it('never throws on random traffic', () => {
    const bus = new PortBus();
    bus.registerBytes(0x3f8, 8, bytes());
    bus.register(0xcf8, 8, { read: () => 0, write: () => {} });
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.boolean(),
            fc.integer({ min: -5, max: 0x1ffff }),
            fc.constantFrom(1, 2, 4),
            fc.integer(),
          ),
        ),
        (ops) => {
          for (const [w, port, size, v] of ops) {
            if (w) bus.out(port, size as 1 | 2 | 4, v);
            else {
              const r = bus.in(port, size as 1 | 2 | 4);
              expect(r).toBeGreaterThanOrEqual(0);
              expect(r).toBeLessThan(2 ** (8 * size));
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
