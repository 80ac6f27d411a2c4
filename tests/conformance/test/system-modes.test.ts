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

describe('a task switch loads CR3 from a 32-bit TSS', () => {
  it('each task sees its own address space; the switch back restores the first one', () => {
    const { cpu, mmu, put32 } = machine();
    // GDT entries 3 and 4: 32-bit TSSs A (0x3000) and B (0x3100), limit 0x67.
    const tss = (i: number, base: number, type: number) => {
      put32(GDT + i * 8, ((base & 0xffff) << 16) | 0x67);
      put32(GDT + i * 8 + 4, ((base >>> 16) & 0xff) | ((0x80 | type) << 8));
    };
    tss(3, 0x3000, 0x0b); // A: busy (current)
    tss(4, 0x3100, 0x09); // B: available
    // Two page directories sharing the identity map of 0-4 MiB; linear 4 MiB maps to frame
    // 0x200000 in A's address space (PD 0x10000) and to 0x201000 in B's (PD 0x11000).
    for (const [pd, pt, frame] of [
      [0x10000, 0x12000, 0x200000],
      [0x11000, 0x13000, 0x201000],
    ] as const) {
      put32(pd, 0x14000 | 3);
      put32(pd + 4, pt | 3);
      put32(pt, frame | 3);
    }
    for (let i = 0; i < 1024; i++) put32(0x14000 + i * 4, (i << 12) | 3);
    // The processor never writes CR3 to a TSS: task A's PDBR field is the OS's job (SDM §7.2.1).
    put32(0x3000 + 0x1c, 0x10000);
    // Task B: CR3 = 0x11000, stores 0xBBBB at linear 4 MiB and jumps back to A.
    put32(0x3100 + 0x1c, 0x11000);
    put32(0x3100 + 0x20, 0x9000);
    put32(0x3100 + 0x24, 2);
    put32(0x3100 + 0x38, 0x80000); // ESP
    put32(0x3100 + 0x4c, 0x08);
    put32(0x3100 + 0x50, 0x10);
    put32(0x3100 + 0x54, 0x10);
    put32(0x3100 + 0x48, 0x10);
    const storeAt = (v: number) => [0xc7, 0x05, ...le32(0x400000), ...le32(v)];
    mmu.writePhys(0x9000, Uint8Array.from([...storeAt(0xbbbb), 0xea, 0, 0, 0, 0, 0x18, 0]));
    // Task A: paging on with CR3 = 0x10000 (TR = TSS A, loaded by hand), JMP to B, then a store.
    const a = [
      0xb8,
      ...le32(0x10000),
      0x0f,
      0x22,
      0xd8,
      0x0f,
      0x20,
      0xc0,
      0x0d,
      ...le32(0x80000000),
      0x0f,
      0x22,
      0xc0,
      0xea,
      0,
      0,
      0,
      0,
      0x20,
      0, // jmp 0x20:0 (task B)
      ...storeAt(0xaaaa),
      0xf4,
    ];
    mmu.writePhys(0x8000, Uint8Array.from(a));
    cpu.enterFlatProtectedMode(0x8000);
    cpu.dtr[0] = GDT;
    cpu.dtr[1] = 5 * 8 - 1;
    cpu.dtr[2] = IDT;
    cpu.dtr[3] = 256 * 8 - 1;
    cpu.regs[4] = 0x90000;
    cpu.loadSegmentCache(7, { selector: 0x18, base: 0x3000, limit: 0x67, attributes: 0x8b });
    expect(cpu.run(200).reason).toBe('hlt');
    expect(cpu.eip).toBe(0x8000 + a.length);
    const word = (gpa: number) => new DataView(mmu.readPhys(gpa, 4).buffer).getUint32(0, true);
    expect(word(0x201000)).toBe(0xbbbb); // B's store, through B's page tables
    expect(word(0x200000)).toBe(0xaaaa); // A's store after the switch back: A's CR3 again
    expect(cpu.cr3).toBe(0x10000);
    expect(word(0x3100 + 0x1c)).toBe(0x11000); // CR3 is not written back to the TSS
    expect(cpu.cr0 & 8).toBe(8); // CR0.TS
  });
});
