import { Mmu } from '@pv/mmu';
import { Cpu } from '@pv/x86-core';
import { describe, expect, it } from 'vitest';

// x86-core + mmu together: the TLB invalidations software relies on (SDM Vol. 3A 4.10.4.1).
function machine(code: number[]) {
  const mmu = new Mmu({ ramSize: 8 << 20 });
  const put32 = (gpa: number, v: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    mmu.writePhys(gpa, b);
  };
  put32(0x1000, 0x2000 | 3); // PD[0] → PT identity-mapping 0..4 MiB
  put32(0x1004, 0x3000 | 3); // PD[1] → PT2 for 4..8 MiB
  for (let i = 0; i < 1024; i++) put32(0x2000 + i * 4, (i << 12) | 3);
  put32(0x3000, 0x100000 | 3); // linear 0x400000 → frame A (0x100000)
  mmu.writePhys(0x8000, Uint8Array.from(code));
  const cpu = new Cpu({ memory: mmu });
  cpu.enterFlatProtectedMode(0x8000);
  return { cpu, mmu };
}

const ENABLE_PAGING = [
  0xb8, 0x00, 0x10, 0x00, 0x00, 0x0f, 0x22, 0xd8, 0x0f, 0x20, 0xc0, 0x0d, 0, 0, 0, 0x80, 0x0f, 0x22, 0xc0,
];
const TOUCH = [0xc6, 0x05, 0x00, 0x00, 0x40, 0x00, 0x11]; // mov byte [0x400000], 0x11: write translation cached
const REMAP = [0xc7, 0x05, 0x00, 0x30, 0x00, 0x00, 0x03, 0x10, 0x10, 0x00]; // PT2[0] = frame B (0x101000)
const STORE = [0xc6, 0x05, 0x00, 0x00, 0x40, 0x00, 0x55, 0xf4]; // mov byte [0x400000], 0x55; hlt

describe('TLB invalidation by the CPU through the MMU', () => {
  it('MOV CR3 with the unchanged value flushes the non-global entries', () => {
    const reload = [0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8]; // mov eax, cr3; mov cr3, eax
    const { cpu, mmu } = machine([...ENABLE_PAGING, ...TOUCH, ...REMAP, ...reload, ...STORE]);
    expect(cpu.run(100).reason).toBe('hlt');
    expect(mmu.readPhys(0x101000, 1)[0]).toBe(0x55);
    expect(mmu.readPhys(0x100000, 1)[0]).toBe(0x11);
  });

  it('INVLPG drops the page', () => {
    const invlpg = [0x0f, 0x01, 0x3d, 0x00, 0x00, 0x40, 0x00]; // invlpg [0x400000]
    const { cpu, mmu } = machine([...ENABLE_PAGING, ...TOUCH, ...REMAP, ...invlpg, ...STORE]);
    expect(cpu.run(100).reason).toBe('hlt');
    expect(mmu.readPhys(0x101000, 1)[0]).toBe(0x55);
  });

  it('without an invalidation the stale translation may still be used (the SDM allows it)', () => {
    const { cpu, mmu } = machine([...ENABLE_PAGING, ...TOUCH, ...REMAP, ...STORE]);
    expect(cpu.run(100).reason).toBe('hlt');
    const a = mmu.readPhys(0x100000, 1)[0];
    const b = mmu.readPhys(0x101000, 1)[0];
    // Either the stale translation (frame A) or the new one (frame B) took the store.
    expect([a === 0x55 && b === 0, a === 0x11 && b === 0x55]).toContain(true);
  });
});
