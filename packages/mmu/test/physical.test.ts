import { describe, expect, it } from 'vitest';
import { MmuError } from '../src/index';
import { CR0_PE, faultOf, makeMmu, peek32, poke32, READ, setCr, WRITE } from './helpers';

interface Call {
  op: 'r' | 'w';
  offset: number;
  size: number;
  value?: number;
}

function device(log: Call[]) {
  return {
    read(offset: number, size: 1 | 2 | 4): number {
      log.push({ op: 'r', offset, size });
      return 0x0403_0201 * 0 + (0x11223344 + offset);
    },
    write(offset: number, size: 1 | 2 | 4, value: number): void {
      log.push({ op: 'w', offset, size, value });
    },
  };
}

describe('MMIO', () => {
  it('calls the handler with the region offset and the access size, and counts exits', () => {
    const mmu = makeMmu({ ramSize: 1 << 20 });
    const log: Call[] = [];
    mmu.mapMmio(0xfee00000, 0x2000, device(log));
    expect(mmu.read32(0xfee00020, READ)).toBe(0x11223364);
    expect(mmu.read16(0xfee01002, READ)).toBe((0x11223344 + 0x1002) & 0xffff);
    expect(mmu.read8(0xfee00fff, READ)).toBe((0x11223344 + 0xfff) & 0xff);
    mmu.write32(0xfee000b0, 0x80000001, WRITE);
    mmu.write8(0xfee00001, 0x1ff, WRITE);
    expect(log).toEqual([
      { op: 'r', offset: 0x20, size: 4 },
      { op: 'r', offset: 0x1002, size: 2 },
      { op: 'r', offset: 0xfff, size: 1 },
      { op: 'w', offset: 0xb0, size: 4, value: 0x80000001 },
      { op: 'w', offset: 1, size: 1, value: 0xff },
    ]);
    // Never cached: a second access calls the device again.
    mmu.read32(0xfee00020, READ);
    expect(log.length).toBe(6);
    expect(mmu.exits.mmio).toBe(6);
  });

  it('splits an access straddling RAM and MMIO at the page boundary', () => {
    const mmu = makeMmu({ ramSize: 1 << 20 });
    const log: Call[] = [];
    mmu.mapMmio(0x10000, 0x1000, device(log));
    poke32(mmu, 0xfffc, 0xddccbbaa);
    // 2 bytes of RAM (0xcc, 0xdd), then 2 bytes from the device at offset 0.
    expect(mmu.read32(0xfffe, READ)).toBe(((0x3344 << 16) | 0xddcc) >>> 0);
    expect(log).toEqual([{ op: 'r', offset: 0, size: 2 }]);
    log.length = 0;
    // One byte of RAM then three device bytes (split 1 + 2).
    mmu.write32(0xffff, 0x44332211, WRITE);
    expect(peek32(mmu, 0xfffc) >>> 24).toBe(0x11);
    expect(log).toEqual([
      { op: 'w', offset: 0, size: 1, value: 0x22 },
      { op: 'w', offset: 1, size: 2, value: 0x4433 },
    ]);
    log.length = 0;
    // MMIO then RAM.
    mmu.mapMmio(0x20000, 0x1000, device(log));
    poke32(mmu, 0x21000, 0x000000ee);
    expect(mmu.read16(0x20fff, READ)).toBe(0xee00 | ((0x11223344 + 0xfff) & 0xff));
  });

  it('rejects overlapping or malformed registrations with typed errors', () => {
    const mmu = makeMmu({ ramSize: 1 << 20 });
    mmu.mapMmio(0xa0000, 0x20000, device([]));
    expect(() => mmu.mapMmio(0xbf000, 0x2000, device([]))).toThrow(/overlaps .* 0xbf000/);
    expect(() => mmu.mapMmio(0xc0100, 0x1000, device([]))).toThrow(MmuError);
    expect(() => mmu.mapMmio(0xc0000, 0, device([]))).toThrow(/whole pages/);
    expect(() => mmu.unmapMmio(0xb0000)).toThrow(/no MMIO region starts at 0xb0000/);
    mmu.unmapMmio(0xa0000);
    // Back to RAM.
    mmu.write8(0xa0000, 7, WRITE);
    expect(mmu.read8(0xa0000, READ)).toBe(7);
  });
});

describe('ROM and holes', () => {
  const rom = new Uint8Array(0x1800).map((_, i) => i & 0xff);

  it('ROM reads through the TLB, ignores guest writes, pads with 0xff', () => {
    const mmu = makeMmu({
      ramSize: 1 << 20,
      rom: [
        { base: 0xffffe000, data: rom },
        { base: 0xf0000, data: rom },
      ],
    });
    expect(mmu.read32(0xfffff7fc, READ)).toBe(0xfffefdfc);
    expect(mmu.read32(0xfffff800, READ)).toBe(0xffffffff);
    mmu.write32(0xffffe000, 0xdeadbeef, WRITE);
    expect(mmu.read32(0xffffe000, READ)).toBe(0x03020100);
    // Twice (the second read is a TLB hit) and after a write attempt.
    mmu.write8(0xffffe000, 0x55, WRITE);
    expect(mmu.read8(0xffffe000, READ)).toBe(0);
    // A ROM over RAM shadows it; the RAM underneath is untouched.
    expect(mmu.read32(0xf0004, READ)).toBe(0x07060504);
    mmu.write32(0xf0004, 0, WRITE);
    expect(mmu.read32(0xf0004, READ)).toBe(0x07060504);
    expect(mmu.readPhys(0xffffe000, 4)).toEqual(new Uint8Array([0, 1, 2, 3]));
    expect(() => mmu.writePhys(0xf0000, new Uint8Array(1))).toThrow(/0xf0000/);
    expect(mmu.isRam(0xf0000, 1)).toBe(false);
    expect(mmu.isRam(0xef000, 0x1000)).toBe(true);
    expect(mmu.isRam(0xef000, 0x1001)).toBe(false);
  });

  it('holes read all-ones and ignore writes', () => {
    const mmu = makeMmu({ ramSize: 1 << 20 });
    expect(mmu.read32(0x100000, READ)).toBe(0xffffffff);
    expect(mmu.read16(0x80000000, READ)).toBe(0xffff);
    expect(mmu.read8(0xffffffff, READ)).toBe(0xff);
    mmu.write32(0x100000, 0, WRITE);
    expect(mmu.read32(0x100000, READ)).toBe(0xffffffff);
    // A read straddling the end of RAM.
    poke32(mmu, 0xffffc, 0x44332211);
    expect(mmu.read32(0xffffe, READ)).toBe(0xffff4433);
    // A linear straddle across 4 GiB wraps to address 0.
    poke32(mmu, 0, 0x88776655);
    expect(mmu.read32(0xfffffffe, READ)).toBe(0x6655ffff);
  });
});

describe('A20', () => {
  it('wraps bit 20 while disabled, for data and for page walks', () => {
    const mmu = makeMmu({ ramSize: 4 << 20 });
    poke32(mmu, 0x1234, 0x11111111);
    poke32(mmu, 0x101234, 0x22222222);
    expect(mmu.read32(0x101234, READ)).toBe(0x22222222);
    mmu.setA20(false);
    expect(mmu.a20Enabled).toBe(false);
    expect(mmu.read32(0x101234, READ)).toBe(0x11111111);
    mmu.write32(0x301238, 0x33333333, WRITE);
    expect(peek32(mmu, 0x201238)).toBe(0x33333333);
    mmu.setA20(true);
    expect(mmu.read32(0x101234, READ)).toBe(0x22222222);
    // Host helpers are not masked.
    mmu.setA20(false);
    expect(peek32(mmu, 0x101234)).toBe(0x22222222);
    // A walk reads the page directory through the mask: CR3 = 1 MiB + 0x1000 → 0x1000.
    poke32(mmu, 0x1000, 0x2000 | 3);
    poke32(mmu, 0x2000, 0x3000 | 3);
    poke32(mmu, 0x3000, 0xabcdef01);
    setCr(mmu, { cr3: 0x101000 });
    expect(mmu.read32(0, READ)).toBe(0xabcdef01);
    setCr(mmu, { cr0: CR0_PE });
    expect(mmu.read32(0x103000, READ)).toBe(0xabcdef01);
  });
});

describe('host helpers', () => {
  it('bytes/readPhys/writePhys check the range and name the address', () => {
    const mmu = makeMmu({ ramSize: 1 << 20 });
    mmu.writePhys(0x1000, new Uint8Array([1, 2, 3]));
    expect(mmu.bytes(0x1000, 3)).toEqual(new Uint8Array([1, 2, 3]));
    expect(mmu.readPhys(0xffffe, 2)).toEqual(new Uint8Array(2));
    expect(() => mmu.bytes(0xfffff, 2)).toThrow(/0xfffff \+ 0x2 is not entirely guest RAM/);
    expect(() => mmu.readPhys(0xfffff, 2)).toThrow(/0x100000/);
    expect(() => mmu.writePhys(-1, new Uint8Array(1))).toThrow(/-1/);
    expect(() => mmu.bytes(2 ** 32, 0)).toThrow(MmuError);
    expect(() => mmu.bytes(1.5, 1)).toThrow(/1.5/);
    try {
      mmu.bytes(0x200000, 4);
    } catch (e) {
      expect(MmuError.isInstance(e) && e.code).toBe('OUT_OF_RANGE');
    }
    expect(mmu.isRam(-1, 1)).toBe(false);
    expect(mmu.isRam(0, 1 << 20)).toBe(true);
  });

  it('a guest fault without an attached CPU is a host error', () => {
    const mmu = makeMmu();
    const bare = new (mmu.constructor as new (o: { ramSize: number }) => typeof mmu)({ ramSize: 1 << 16 });
    setCr(bare, { cr3: 0 });
    expect(() => bare.read8(0x1000, READ)).toThrow(/no CPU attached/);
    expect(faultOf(() => 0)).toBeUndefined();
  });
});

describe('guest input never throws on the host', () => {
  it('random CR3 / entries pointing at MMIO, ROM, holes or themselves only ever raise #PF', async () => {
    const fc = (await import('fast-check')).default;
    const rom = new Uint8Array(0x2000).fill(0x67);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 63 }), fc.integer({ min: 0, max: 1023 }), fc.integer()), {
          maxLength: 40,
        }),
        fc.integer(),
        fc.integer(),
        fc.array(fc.tuple(fc.integer(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 30 }),
        (entries, cr3, cr4bits, accesses) => {
          const mmu = makeMmu({ ramSize: 1 << 18, rom: [{ base: 0x30000, data: rom }], tlbBits: 4 });
          mmu.mapMmio(0x20000, 0x4000, {
            read: (off: number) => off * 0x01010101,
            write: () => {},
          });
          // Page tables anywhere in the first 64 pages: RAM, MMIO at 0x20000, ROM at 0x30000.
          for (const [page, idx, value] of entries) {
            if (mmu.isRam(page * 4096 + idx * 4, 4)) poke32(mmu, page * 4096 + idx * 4, value);
          }
          const cr4 = cr4bits & ((1 << 4) | (1 << 5) | (1 << 7) | (1 << 20) | (1 << 21));
          const root = cr3 & 1 ? cr3 >>> 0 : cr3 & 0x3ffff; // mostly among RAM, MMIO and ROM
          const ok = setCr(mmu, { cr3: root, cr4, efer: cr4bits & (1 << 11), cpl: cr4bits & 3 });
          expect(typeof ok).toBe('boolean');
          for (const [lin, kind] of accesses) {
            const k = kind === 5 || kind === 7 ? 0 : kind;
            const f = faultOf(() => {
              if (k & WRITE) mmu.write32(lin >>> 0, lin, k);
              else mmu.read32(lin >>> 0, k);
            });
            if (f) expect(f.code & ~0x1f).toBe(0);
            mmu.invlpg(lin >>> 0);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
