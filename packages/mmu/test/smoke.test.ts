import * as core from '@pv/x86-core';
import { describe, expect, it } from 'vitest';
import * as C from '../src/constants';
import { Mmu, MmuError, VERSION } from '../src/index';

describe('@pv/mmu surface', () => {
  it('exports a version and an MMU', () => {
    expect(typeof VERSION).toBe('string');
    expect(new Mmu({ ramSize: 1 << 16 }).phys.ramSize).toBe(1 << 16);
  });

  it('mirrors the access-kind and exit constants of @pv/x86-core', () => {
    expect(C.ACCESS_READ).toBe(core.ACCESS_READ);
    expect(C.ACCESS_WRITE).toBe(core.ACCESS_WRITE);
    expect(C.ACCESS_USER).toBe(core.ACCESS_USER);
    expect(C.ACCESS_FETCH).toBe(core.ACCESS_FETCH);
    expect(C.TLB_KINDS).toBe(core.TLB_KINDS);
    expect(C.EXIT_MMIO).toBe(core.EXIT_MMIO);
    expect(C.EXIT_PT_WRITE).toBe(core.EXIT_PT_WRITE);
    expect(core.EXIT_NAMES[C.EXIT_MMIO]).toBe('mmio');
    expect(core.EXIT_NAMES[C.EXIT_PT_WRITE]).toBe('ptwrite');
  });

  it('rejects bad configuration with a typed error naming the input', () => {
    expect(() => new Mmu({ ramSize: 1000 })).toThrow(/ramSize 1000/);
    expect(() => new Mmu({ ramSize: 4 * 2 ** 30 })).toThrow(MmuError);
    expect(() => new Mmu({ ramSize: 4096, tlbBits: 2 })).toThrow(/tlbBits 2/);
    expect(() => new Mmu({ ramSize: 4096, maxPhyAddr: 52 })).toThrow(/maxPhyAddr 52/);
    try {
      new Mmu({ ramSize: -1 });
    } catch (e) {
      expect(MmuError.isInstance(e)).toBe(true);
      expect((e as MmuError).code).toBe('INVALID_CONFIG');
    }
  });

  it('allocates 3 GiB of zeroed RAM and reaches its last byte', () => {
    const mmu = new Mmu({ ramSize: 3 * 2 ** 30 });
    const last = 3 * 2 ** 30 - 4;
    expect(mmu.read32(last, 0)).toBe(0);
    mmu.write32(last, 0xdeadbeef, 1);
    expect(mmu.readPhys(last, 4)).toEqual(new Uint8Array([0xef, 0xbe, 0xad, 0xde]));
    expect(mmu.read32(3 * 2 ** 30, 0)).toBe(0xffffffff);
  });
});
