import { Mmu } from '@pv/mmu';
import { Cpu } from '@pv/x86-core';
import { describe, expect, it } from 'vitest';

// Debug-register breakpoints with paging on, on x86-core + mmu (SDM Vol. 3 §17.2.5: breakpoint
// addresses are linear). While a data breakpoint is enabled the CPU reaches the MMU through its
// watching wrapper on every access; translations, faults and the TLB must behave as without it.
const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const GDT = 0x500;
const IDT = 0x600;
const DB_HANDLER = 0x9000;
const PF_HANDLER = 0x9100;

function machine(code: number[]) {
  const mmu = new Mmu({ ramSize: 8 << 20 });
  const put32 = (gpa: number, v: number) => mmu.writePhys(gpa, Uint8Array.from(le32(v >>> 0)));
  put32(0x1000, 0x2000 | 3); // PD[0] → identity map of 0..4 MiB
  put32(0x1004, 0x3000 | 3); // PD[1] → linear 0x400000.. → frames from 0x100000 (an alias)
  for (let i = 0; i < 1024; i++) {
    put32(0x2000 + i * 4, (i << 12) | 3);
    put32(0x3000 + i * 4, (0x100000 + (i << 12)) | 3);
  }
  // GDT: null, flat code, flat data; IDT gates 1 (#DB) and 14 (#PF), 32-bit interrupt gates.
  for (const [i, lo, hi] of [
    [1, 0x0000ffff, 0x00cf9a00],
    [2, 0x0000ffff, 0x00cf9200],
  ] as const) {
    put32(GDT + i * 8, lo);
    put32(GDT + i * 8 + 4, hi);
  }
  for (const [v, h] of [
    [1, DB_HANDLER],
    [14, PF_HANDLER],
  ] as const) {
    put32(IDT + v * 8, (0x08 << 16) | (h & 0xffff));
    put32(IDT + v * 8 + 4, (h & 0xffff0000) | 0x8e00);
  }
  // #DB: EAX ← DR6, EBX ← pushed EIP, count in EDI, IRETD. #PF: ECX ← CR2, EDX ← error code, HLT.
  mmu.writePhys(DB_HANDLER, Uint8Array.from([0x0f, 0x21, 0xf0, 0x8b, 0x1c, 0x24, 0x47, 0xcf]));
  mmu.writePhys(PF_HANDLER, Uint8Array.from([0x0f, 0x20, 0xd1, 0x8b, 0x14, 0x24, 0xf4]));
  mmu.writePhys(0x8000, Uint8Array.from(code));
  const cpu = new Cpu({ memory: mmu });
  cpu.enterFlatProtectedMode(0x8000);
  cpu.dtr[0] = GDT;
  cpu.dtr[1] = 23;
  cpu.dtr[2] = IDT;
  cpu.dtr[3] = 0x7f;
  cpu.regs[4] = 0x7000;
  cpu.regs[7] = 0;
  return { cpu, mmu };
}

const ENABLE_PAGING = [
  0xb8, 0x00, 0x10, 0x00, 0x00, 0x0f, 0x22, 0xd8, 0x0f, 0x20, 0xc0, 0x0d, 0, 0, 0, 0x80, 0x0f, 0x22, 0xc0,
];
/** DR1 ← 0x400004 (4-byte write breakpoint), DR7 = L1 | R/W1 = 01 | LEN1 = 11. */
const ARM_WRITE = [
  0xb8,
  ...le32(0x400004),
  0x0f,
  0x23,
  0xc8,
  0xb8,
  ...le32(0x4 | (1 << 20) | (3 << 22) | 0x400),
  0x0f,
  0x23,
  0xf8,
];
const storeAt = (lin: number) => [0xc7, 0x05, ...le32(lin), ...le32(0x11223344)]; // mov dword [lin], imm32

describe('data breakpoints on linear addresses with paging (x86-core + mmu)', () => {
  it('a store through the breakpoint linear address traps; the same physical bytes through another linear alias do not', () => {
    const alias = storeAt(0x100004); // identity-mapped: the same frame as linear 0x400004
    const hit = storeAt(0x400006);
    const code = [...ENABLE_PAGING, ...ARM_WRITE, ...alias, ...hit, 0xf4];
    const { cpu, mmu } = machine(code);
    expect(cpu.run(200).reason).toBe('hlt');
    expect(cpu.regs[7]).toBe(1);
    expect(cpu.regs[0]! & 0xf).toBe(2); // B1
    expect(cpu.regs[3]).toBe(0x8000 + ENABLE_PAGING.length + ARM_WRITE.length + alias.length + hit.length);
    // Both stores reached memory through the MMU (frame 0x100000).
    expect(Array.from(mmu.readPhys(0x100004, 6))).toEqual([0x44, 0x33, 0x44, 0x33, 0x22, 0x11]);
  });

  it('a page fault while watching is delivered with CR2 and the error code, and reports no breakpoint', () => {
    const fault = storeAt(0x800004); // PD[2] not present
    const { cpu } = machine([...ENABLE_PAGING, ...ARM_WRITE, ...fault, 0xf4]);
    expect(cpu.run(200).reason).toBe('hlt');
    expect(cpu.eip).toBe(PF_HANDLER + 7);
    expect(cpu.regs[1]! >>> 0).toBe(0x800004);
    expect(cpu.regs[2]).toBe(2); // not present, write, supervisor
    expect(cpu.regs[7]).toBe(0);
    expect(cpu.dr[6]! & 0xf).toBe(0);
  });
});
