import { Mmu } from '@pv/mmu';
import { Cpu } from '@pv/x86-core';
import { describe, expect, it } from 'vitest';

// x86-core + mmu: the mode transitions of an OS boot (SDM Vol. 3 §9.9: real → protected mode, then
// paging) and the #GP(0) a MOV to a control register raises when PAE paging would load PDPTEs with
// reserved bits set (SDM §4.4.1), which needs the MMU's walker.

const GDT = 0x500;
const GDTR = 0x600;
const IDT = 0x0;
const GP_HANDLER = 0x7000;
const CPUID_PAE = 1 << 6;

function machine(options: { pae?: boolean } = {}) {
  const mmu = new Mmu({ ramSize: 8 << 20 });
  const put32 = (gpa: number, v: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    mmu.writePhys(gpa, b);
  };
  // GDT: null, 0x08 flat 32-bit code, 0x10 flat 32-bit data; GDTR image (limit, base).
  put32(GDT + 8, 0x0000ffff);
  put32(GDT + 12, 0x00cf9a00);
  put32(GDT + 16, 0x0000ffff);
  put32(GDT + 20, 0x00cf9200);
  mmu.writePhys(GDTR, Uint8Array.from([23, 0, GDT & 0xff, GDT >> 8, 0, 0]));
  // IDT gate 13 (#GP) → 0x08:GP_HANDLER (HLT).
  put32(IDT + 13 * 8, (0x08 << 16) | GP_HANDLER);
  put32(IDT + 13 * 8 + 4, 0x8e00);
  mmu.writePhys(GP_HANDLER, Uint8Array.from([0xf4]));
  const cpu = new Cpu({ memory: mmu, cpuid: { extraEdxFeatures: options.pae ? CPUID_PAE : 0 } });
  return { cpu, mmu, put32 };
}

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

describe('real mode → protected mode → paging', () => {
  it('boots from real-mode code through LGDT, CR0.PE, a far JMP and CR0.PG to a remapped store', () => {
    const { cpu, mmu, put32 } = machine();
    // Page directory at 0x1000: PD[0] identity-maps 0–4 MiB, PD[1] maps linear 4 MiB to 0x200000.
    put32(0x1000, 0x2000 | 3);
    put32(0x1004, 0x3000 | 3);
    for (let i = 0; i < 1024; i++) put32(0x2000 + i * 4, (i << 12) | 3);
    put32(0x3000, 0x200000 | 3);
    const pm32 = 0x7c00 + 22;
    const code = [
      0xfa, // cli
      0x0f,
      0x01,
      0x16,
      GDTR & 0xff,
      GDTR >> 8, // lgdt [GDTR]
      0x0f,
      0x20,
      0xc0, // mov eax, cr0
      0x0c,
      0x01, // or al, 1 (PE)
      0x0f,
      0x22,
      0xc0, // mov cr0, eax
      0x66,
      0xea,
      ...le32(pm32),
      0x08,
      0x00, // jmp dword 0x08:pm32
      // pm32 (32-bit code):
      0x66,
      0xb8,
      0x10,
      0x00, // mov ax, 0x10
      0x8e,
      0xd8,
      0x8e,
      0xc0,
      0x8e,
      0xd0, // mov ds, ax; mov es, ax; mov ss, ax
      0xbc,
      ...le32(0x90000), // mov esp, 0x90000
      0xb8,
      ...le32(0x1000),
      0x0f,
      0x22,
      0xd8, // mov eax, 0x1000; mov cr3, eax
      0x0f,
      0x20,
      0xc0,
      0x0d,
      ...le32(0x80000000),
      0x0f,
      0x22,
      0xc0, // cr0.PG = 1
      0xc7,
      0x05,
      ...le32(0x400000),
      ...le32(0xdeadbeef), // mov dword [0x400000], 0xdeadbeef
      0x68,
      ...le32(0x1234), // push 0x1234
      0xf4, // hlt
    ];
    expect(code.slice(22, 24)).toEqual([0x66, 0xb8]); // pm32 is where the far JMP says
    mmu.writePhys(0x7c00, Uint8Array.from(code));
    cpu.reset();
    cpu.loadSegmentReal(1, 0);
    cpu.eip = 0x7c00;
    expect(cpu.cr0 & 1).toBe(0);

    expect(cpu.run(100).reason).toBe('hlt');
    expect(cpu.cr0 & 0x80000001).toBe(0x80000001 | 0);
    expect(cpu.getSegment(1)).toMatchObject({ selector: 0x08, base: 0, limit: 0xffffffff });
    expect(cpu.getSegment(1).attributes & 0x4000).toBe(0x4000); // 32-bit code
    expect(cpu.getSegment(2)).toMatchObject({ selector: 0x10, limit: 0xffffffff });
    const word = (gpa: number) => new DataView(mmu.readPhys(gpa, 4).buffer).getUint32(0, true);
    expect(word(0x200000)).toBe(0xdeadbeef); // the store went through the page tables
    expect(word(0x400000)).toBe(0);
    expect(word(0x90000 - 4)).toBe(0x1234);
    expect(cpu.regs[4]).toBe(0x90000 - 4);
  });
});

describe('MOV to CR0/CR3 with PAE PDPTEs that have reserved bits set', () => {
  function paeMachine(pdpte0: number) {
    const m = machine({ pae: true });
    m.cpu.enterFlatProtectedMode(0x8000);
    m.cpu.dtr[0] = GDT;
    m.cpu.dtr[1] = 23;
    m.cpu.dtr[2] = IDT;
    m.cpu.dtr[3] = 256 * 8 - 1;
    m.cpu.regs[4] = 0x90000;
    // PDPT at 0x1000 (entry 0 as given), a valid PDPT at 0x1100: PD at 0x2000 with a 2-MiB identity page.
    m.put32(0x1000, pdpte0);
    m.put32(0x1100, 0x2000 | 1);
    m.put32(0x2000, 0x83);
    return m;
  }
  const ENABLE_PAE = [0x0f, 0x20, 0xe0, 0x83, 0xc8, 0x20, 0x0f, 0x22, 0xe0]; // cr4 |= PAE
  const CR3 = (v: number) => [0xb8, ...le32(v), 0x0f, 0x22, 0xd8];
  const SET_PG = [0x0f, 0x20, 0xc0, 0x0d, ...le32(0x80000000), 0x0f, 0x22, 0xc0];

  it('setting CR0.PG is #GP(0) and leaves CR0 unchanged', () => {
    const { cpu, mmu } = paeMachine(0x2000 | 1 | 0x6); // bits 1–2 are reserved in a PAE PDPTE
    const code = [...ENABLE_PAE, ...CR3(0x1000), ...SET_PG, 0xf4];
    mmu.writePhys(0x8000, Uint8Array.from(code));
    expect(cpu.run(100).reason).toBe('hlt');
    expect(cpu.eip).toBe(GP_HANDLER + 1);
    const frame = new DataView(mmu.readPhys(cpu.regs[4]! >>> 0, 8).buffer);
    expect(frame.getUint32(0, true)).toBe(0); // error code
    expect(frame.getUint32(4, true)).toBe(0x8000 + ENABLE_PAE.length + 8 + 8); // the MOV CR0
    expect(cpu.cr0 & 0x80000000).toBe(0);
    expect(cpu.cr3).toBe(0x1000);
  });

  it('with paging on, loading CR3 with a bad PDPT is #GP(0) and CR3 keeps the old table', () => {
    const { cpu, mmu } = paeMachine(0x2000 | 1 | 0x6);
    const code = [...ENABLE_PAE, ...CR3(0x1100), ...SET_PG, ...CR3(0x1000), 0xf4];
    mmu.writePhys(0x8000, Uint8Array.from(code));
    expect(cpu.run(100).reason).toBe('hlt');
    expect(cpu.eip).toBe(GP_HANDLER + 1);
    expect(cpu.cr0 & 0x80000000).toBe(0x80000000 | 0);
    expect(cpu.cr3).toBe(0x1100);
  });

  it('a valid PDPT is accepted', () => {
    const { cpu, mmu } = paeMachine(0x2000 | 1);
    const code = [...ENABLE_PAE, ...CR3(0x1000), ...SET_PG, 0xf4];
    mmu.writePhys(0x8000, Uint8Array.from(code));
    expect(cpu.run(100).reason).toBe('hlt');
    expect(cpu.eip).toBe(0x8000 + code.length);
    expect(cpu.cr0 & 0x80000000).toBe(0x80000000 | 0);
  });
});
