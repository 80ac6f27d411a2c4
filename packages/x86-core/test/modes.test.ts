/** Mode transitions: real → 32-bit protected mode via CR0.PE and a far jump, 16-bit protected mode, and back. */
import { describe, expect, it } from 'vitest';
import { Cpu, FlatMemory } from '../src/index';
import { GDT, le32, writeGdt } from './helpers';

describe('mode transitions', () => {
  it('real mode → protected mode (LGDT, MOV CR0, far JMP) → segment loads → 16-bit code segment', () => {
    const mem = new FlatMemory(1 << 20);
    writeGdt(mem);
    // GDTR image at 0x7b00: limit, base.
    mem.load(0x7b00, Uint8Array.from([5 * 8 - 1, 0, ...le32(GDT)]));
    const real = [
      0x0f,
      0x01,
      0x16,
      0x00,
      0x7b, // lgdt [0x7b00]
      0x0f,
      0x20,
      0xc0, // mov eax, cr0
      0x0c,
      0x01, // or al, 1
      0x0f,
      0x22,
      0xc0, // mov cr0, eax
      0x66,
      0xea,
      ...le32(0x7c40),
      0x08,
      0x00, // jmp dword 0x08:0x7c40
    ];
    const pm32 = [
      0x66,
      0xb8,
      0x10,
      0x00, // mov ax, 0x10
      0x8e,
      0xd8, // mov ds, ax
      0x8e,
      0xd0, // mov ss, ax
      0xbc,
      ...le32(0x9000), // mov esp, 0x9000
      0xc7,
      0x05,
      ...le32(0x500),
      ...le32(0xcafebabe), // mov dword [0x500], 0xcafebabe
      0xea,
      ...le32(0x7c80),
      0x18,
      0x00, // jmp 0x18:0x7c80 (16-bit code segment)
    ];
    const pm16 = [
      0xb8,
      0x34,
      0x12, // mov ax, 0x1234 (16-bit operand size by default)
      0x66,
      0xb9,
      ...le32(0x89abcdef), // mov ecx, 0x89abcdef (operand-size prefix)
      0xf4, // hlt
    ];
    mem.load(0x7c00, Uint8Array.from(real));
    mem.load(0x7c40, Uint8Array.from(pm32));
    mem.load(0x7c80, Uint8Array.from(pm16));
    const cpu = new Cpu({ memory: mem });
    cpu.loadSegmentReal(1, 0);
    cpu.eip = 0x7c00;
    cpu.regs[0] = 0xffff0000 | 0;
    const exit = cpu.run(100);
    expect(exit.reason).toBe('hlt');
    expect(cpu.cr0 & 1).toBe(1);
    expect(cpu.getSegment(1).selector).toBe(0x18);
    expect(cpu.getSegment(3)).toEqual({ selector: 0x10, base: 0, limit: 0xffffffff, attributes: 0xc093 });
    expect(new DataView(mem.bytes.buffer).getUint32(0x500, true)).toBe(0xcafebabe);
    expect(cpu.regs[0]! & 0xffff).toBe(0x1234);
    expect(cpu.regs[0]! >>> 16).toBe(0x6000); // the upper half (from CR0) is untouched by a 16-bit MOV
    expect(cpu.regs[1]! >>> 0).toBe(0x89abcdef);
    // The accessed bit was set in the GDT for the descriptors loaded.
    expect(mem.bytes[GDT + 2 * 8 + 5]! & 1).toBe(1);
  });

  it('back to real mode: clearing CR0.PE keeps the cached 4 GiB limits ("unreal mode")', () => {
    const mem = new FlatMemory(2 << 20);
    const cpu = new Cpu({ memory: mem });
    cpu.enterFlatProtectedMode(0x7c00);
    // mov eax,cr0; and al,0xfe; mov cr0,eax; jmp 0:0x7c20 (16-bit code follows via a 16-bit CS cache)
    mem.load(
      0x7c00,
      Uint8Array.from([0x0f, 0x20, 0xc0, 0x24, 0xfe, 0x0f, 0x22, 0xc0, 0xea, ...le32(0x7c20), 0x00, 0x00]),
    );
    // 16-bit code: a32 mov [0x100000], al ⇒ above 1 MiB through DS with a 4 GiB cached limit; hlt
    mem.load(0x7c20, Uint8Array.from([0x67, 0xa2, ...le32(0x100000), 0xf4]));
    cpu.loadSegmentCache(1, { selector: 0x18, base: 0, limit: 0xffff, attributes: 0x009b });
    const exit = cpu.run(10);
    expect(exit.reason).toBe('hlt');
    expect(cpu.cr0 & 1).toBe(0);
    expect(mem.bytes[0x100000]).toBe(0x10); // AL = CR0 & 0xFE (ET)
  });
});
