/** FlatMemory: RAM-only Memory with the SoftTlb layout of bus.ts. */
import { describe, expect, it } from 'vitest';
import { ACCESS_FETCH, ACCESS_READ, ACCESS_WRITE, FlatMemory } from '../src/index';

describe('FlatMemory', () => {
  it('reads and writes little-endian RAM and fills only the TLB kind used', () => {
    const m = new FlatMemory(1 << 20, { tlbBits: 4 });
    m.write32(0x1ffe, 0x11223344, ACCESS_WRITE); // straddles a page
    expect(m.read32(0x1ffe, ACCESS_READ)).toBe(0x11223344);
    expect(m.read16(0x2000, ACCESS_READ)).toBe(0x1122);
    const slot = 0x2 & 15;
    expect(m.tlb.tag[(ACCESS_WRITE << 4) | slot]).toBe(2);
    expect(m.tlb.tag[(ACCESS_READ << 4) | slot]).toBe(2);
    expect(m.tlb.tag[(ACCESS_FETCH << 4) | slot]).toBe(-1);
    m.flushTlb(true);
    expect(m.tlb.tag.every((t) => t === -1)).toBe(true);
  });

  it('is an open bus beyond RAM and masks A20 when the gate is off', () => {
    const m = new FlatMemory(2 << 20);
    expect(m.read8(0x300000, ACCESS_READ)).toBe(0xff);
    m.write8(0x300000, 1, ACCESS_WRITE);
    m.write8(0x000010, 0xaa, ACCESS_WRITE);
    expect(m.read8(0x100010, ACCESS_READ)).toBe(0);
    m.setA20(false);
    expect(m.read8(0x100010, ACCESS_READ)).toBe(0xaa);
  });

  it('rejects bad sizes and out-of-range loads, naming the input', () => {
    expect(() => new FlatMemory(4095)).toThrow(/FlatMemory.size/);
    expect(() => new FlatMemory(4096, { tlbBits: 0 })).toThrow(/tlbBits/);
    expect(() => new FlatMemory(4096).load(4000, new Uint8Array(100))).toThrow(/0xfa0\+100/);
  });
});
