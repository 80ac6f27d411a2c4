/**
 * Exception and interrupt delivery: restartable faults (#PF with CR2 and error code, partial REP
 * progress), #GP/#NP error codes, #DF, triple fault ⇒ shutdown, the STI and MOV SS interrupt
 * shadows, HLT wake-up, #UD for LOCK, #GP for the 15-byte limit, real-mode IVT delivery.
 */
import { describe, expect, it } from 'vitest';
import type { Memory, MemoryCpuHooks } from '../src/index';
import { Cpu, EXIT_HLT, EXIT_IO, FlatMemory } from '../src/index';
import {
  CODE,
  GDT,
  HANDLERS,
  IDT,
  le32,
  protectedMachine,
  read32,
  setGate,
  setHandler,
  writeGdt,
} from './helpers';

/** FlatMemory with one not-present page (linear 0x200000) until `present` is set. */
class FaultingMemory extends FlatMemory {
  hooks: MemoryCpuHooks | null = null;
  present = false;
  override attachCpu(hooks: MemoryCpuHooks): void {
    this.hooks = hooks;
  }
  private check(lin: number, kind: number): void {
    if (!this.present && lin >>> 12 === 0x200) this.hooks!.raisePageFault(lin, (kind & 1) << 1);
  }
  override read8(lin: number, kind: number): number {
    this.check(lin, kind);
    if (lin >>> 12 === 0x200) return this.bytes[lin]!; // never cached: the page can disappear
    return super.read8(lin, kind);
  }
  override write8(lin: number, value: number, kind: number): void {
    this.check(lin, kind);
    if (lin >>> 12 === 0x200) this.bytes[lin] = value;
    else super.write8(lin, value, kind);
  }
}

describe('faults are restartable', () => {
  it('#PF reports CR2 and the error code, and the faulting store re-executes after the handler', () => {
    const mem: Memory & FaultingMemory = new FaultingMemory(4 << 20);
    writeGdt(mem);
    for (let v = 0; v < 32; v++) setGate(mem, v, HANDLERS + v * 16);
    setGate(mem, 14, 0x6000);
    const code = [0xbb, ...le32(0x12345678), 0x89, 0x1d, ...le32(0x200000), 0xf4]; // mov ebx,imm; mov [0x200000],ebx; hlt
    mem.load(CODE, Uint8Array.from(code));
    // #PF handler: mov eax,[esp]; mov [0x500],eax; mov eax,[esp+4]; mov [0x504],eax; out 0x80,al; add esp,4; iret
    mem.load(
      0x6000,
      Uint8Array.from([
        0x8b,
        0x04,
        0x24,
        0xa3,
        ...le32(0x500),
        0x8b,
        0x44,
        0x24,
        0x04,
        0xa3,
        ...le32(0x504),
        0xe6,
        0x80,
        0x83,
        0xc4,
        0x04,
        0xcf,
      ]),
    );
    const cpu = new Cpu({
      memory: mem,
      io: {
        in: () => 0xff,
        out: () => {
          mem.present = true;
        },
      },
    });
    cpu.enterFlatProtectedMode(CODE);
    cpu.dtr.set([GDT, 39, IDT, 32 * 8 - 1]);
    cpu.regs[4] = 0x9000;
    const exit = cpu.run(100);
    expect(exit.reason).toBe('hlt');
    expect(cpu.cr2).toBe(0x200000);
    expect(read32(mem, 0x500)).toBe(2); // write, supervisor, not present
    expect(read32(mem, 0x504)).toBe(CODE + 5); // EIP of the faulting MOV
    expect(read32(mem, 0x200000)).toBe(0x12345678);
    expect(cpu.regs[4]).toBe(0x9000);
  });

  it('a POP whose memory destination faults leaves ESP unchanged; REP MOVSB keeps its partial progress', () => {
    const m = protectedMachine([0x8f, 0x05, ...le32(0x2000), 0xf4]); // pop dword [0x2000]
    m.cpu.loadSegmentCache(3, { selector: 0x20, base: 0, limit: 0xfff, attributes: 0x4093 }); // DS limit 0xFFF
    setHandler(m, 13, [0xf4]);
    m.cpu.run(10);
    expect(m.cpu.lastVector).toBe(13);
    expect(m.cpu.regs[4]).toBe(0x9000 - 16); // the #GP frame sits on the original ESP
    expect(read32(m.mem, 0x9000 - 12)).toBe(CODE); // EIP of the POP

    const r = protectedMachine([0xf3, 0xa4, 0xf4]); // rep movsb
    r.cpu.loadSegmentCache(0, { selector: 0x20, base: 0, limit: 0xfff, attributes: 0x4093 }); // ES limit 0xFFF
    r.cpu.regs[6] = 0x100; // ESI
    r.cpu.regs[7] = 0xffc; // EDI: the 5th byte crosses the ES limit
    r.cpu.regs[1] = 10; // ECX
    setHandler(r, 13, [0xf4]);
    r.cpu.run(10);
    expect(r.cpu.lastVector).toBe(13);
    expect(r.cpu.regs[1]).toBe(6);
    expect(r.cpu.regs[7]).toBe(0x1000);
    expect(read32(r.mem, 0x9000 - 12)).toBe(CODE); // the pushed EIP is the REP MOVSB itself
  });
});

describe('error codes, double and triple fault', () => {
  it('#GP(selector) for a selector beyond the GDT limit, pushed with the faulting EIP', () => {
    const m = protectedMachine([0x66, 0xb8, 0x50, 0x00, 0x8e, 0xd8, 0xf4]); // mov ax,0x50; mov ds,ax
    setHandler(m, 13, [0xf4]);
    m.cpu.run(10);
    expect(m.cpu.lastVector).toBe(13);
    expect(read32(m.mem, 0x9000 - 16)).toBe(0x50); // error code
    expect(read32(m.mem, 0x9000 - 12)).toBe(CODE + 4); // EIP of MOV DS
    expect(m.cpu.getSegment(3).selector).toBe(0x10);
  });

  it('far JMP to a non-conforming code segment with RPL > CPL raises #GP(selector)', () => {
    const m = protectedMachine([0xea, ...le32(0x1000), 0x0b, 0x00]); // jmp 0x0b:0x1000 (RPL 3)
    setHandler(m, 13, [0xf4]);
    m.cpu.run(10);
    expect(m.cpu.lastVector).toBe(13);
    expect(read32(m.mem, 0x9000 - 16)).toBe(0x08);
    expect(m.cpu.getSegment(1).selector).toBe(0x08);
  });

  it('#NP while delivering #GP becomes #DF with error code 0', () => {
    const m = protectedMachine([0x66, 0xb8, 0x50, 0x00, 0x8e, 0xd8]); // mov ax,0x50; mov ds,ax ⇒ #GP
    setGate(m.mem, 13, HANDLERS + 13 * 16, 0xe, false); // #GP gate not present ⇒ #NP (contributory)
    setHandler(m, 8, [0xf4]);
    m.cpu.run(10);
    expect(m.cpu.lastVector).toBe(8);
    expect(read32(m.mem, 0x9000 - 16)).toBe(0);
    expect(m.cpu.halted).toBe(true);
  });

  it('a fault while delivering #DF is a triple fault: run() exits with shutdown until reset', () => {
    const m = protectedMachine([0x8e, 0xd8]); // mov ds,ax with ax = 0x50 ⇒ #GP
    m.cpu.regs[0] = 0x50;
    m.cpu.dtr[3] = 0; // empty IDT: #GP ⇒ #GP(IDT) ⇒ #DF ⇒ shutdown
    expect(m.cpu.run(10).reason).toBe('shutdown');
    expect(m.cpu.run(10)).toEqual({ reason: 'shutdown', instructions: 0 });
    m.cpu.reset();
    expect(m.cpu.eip).toBe(0xfff0);
  });

  it('LOCK on a non-lockable instruction raises #UD (no error code)', () => {
    const m = protectedMachine([0xf0, 0x90]); // lock nop ⇒ #UD
    setHandler(m, 6, [0xf4]);
    m.cpu.run(10);
    expect(m.cpu.lastVector).toBe(6);
    expect(read32(m.mem, 0x9000 - 12)).toBe(CODE); // no error code: EIP at ESP
  });

  it('an instruction longer than 15 bytes raises #GP(0)', () => {
    const m = protectedMachine([...new Array(15).fill(0x66), 0x90]);
    setHandler(m, 13, [0xf4]);
    m.cpu.run(10);
    expect(m.cpu.lastVector).toBe(13);
    expect(read32(m.mem, 0x9000 - 16)).toBe(0);
    expect(read32(m.mem, 0x9000 - 12)).toBe(CODE);
  });

  it('#DE from DIV is a fault at the DIV', () => {
    const m = protectedMachine([0x31, 0xc9, 0xf7, 0xf1]); // xor ecx,ecx; div ecx
    setHandler(m, 0, [0xf4]);
    m.cpu.run(10);
    expect(m.cpu.lastVector).toBe(0);
    expect(read32(m.mem, 0x9000 - 12)).toBe(CODE + 2);
  });
});

describe('external interrupts', () => {
  function line() {
    const l = { asserted: false, vector: 0x20, acks: 0 };
    return {
      l,
      bus: {
        pending: () => l.asserted,
        acknowledge: () => {
          l.asserted = false;
          l.acks++;
          return l.vector;
        },
      },
    };
  }

  it('STI delays delivery until after the next instruction', () => {
    const { l, bus } = line();
    const m = protectedMachine([0xfb, 0x40, 0x40, 0xf4], { interrupts: bus }); // sti; inc eax; inc eax; hlt
    setHandler(m, 0x20, [0xa3, ...le32(0x600), 0xcf]); // mov [0x600],eax; iret
    l.asserted = true;
    expect(m.cpu.run(100).reason).toBe('hlt');
    expect(read32(m.mem, 0x600)).toBe(1);
    expect(m.cpu.regs[0]).toBe(2);
  });

  it('MOV SS delays delivery until after the next instruction', () => {
    const { l, bus } = line();
    const m = protectedMachine([0x8e, 0xd3, 0x40, 0x40, 0xf4], { interrupts: bus }); // mov ss,bx; inc eax; inc eax; hlt
    m.cpu.regs[3] = 0x10;
    m.cpu.eflags |= 0x200;
    setHandler(m, 0x20, [0xa3, ...le32(0x600), 0xcf]);
    l.asserted = true;
    // The first boundary (before MOV SS) delivers at once; re-assert to observe the shadow.
    m.cpu.run(1);
    expect(l.acks).toBe(1);
    m.cpu.run(2); // handler: mov, iret
    l.asserted = true;
    m.cpu.run(100);
    expect(read32(m.mem, 0x600)).toBe(1);
  });

  it('HLT exits to the host and wakes on an interrupt; counted as exits by kind', () => {
    const { l, bus } = line();
    const m = protectedMachine([0xfb, 0xf4, 0xe6, 0x80, 0xf4], { interrupts: bus }); // sti; hlt; out 0x80,al; hlt
    setHandler(m, 0x20, [0x43, 0xcf]); // inc ebx; iret
    expect(m.cpu.run(100).reason).toBe('hlt');
    expect(m.cpu.run(100)).toEqual({ reason: 'hlt', instructions: 0 }); // nothing pending: stays halted
    l.asserted = true;
    const e = m.cpu.run(100);
    expect(e.reason).toBe('hlt');
    expect(m.cpu.regs[3]).toBe(1);
    expect(m.cpu.exitCounts[EXIT_HLT]).toBe(2);
    expect(m.cpu.exitCounts[EXIT_IO]).toBe(1);
  });

  it('real mode delivers through the IVT with FLAGS, CS, IP on the stack', () => {
    const mem = new FlatMemory(1 << 20);
    mem.load(0x7c00, Uint8Array.from([0xcd, 0x21, 0xf4])); // int 0x21; hlt
    mem.load(0x21 * 4, Uint8Array.from([0x00, 0x05, 0x00, 0x00])); // 0000:0500
    mem.load(0x500, Uint8Array.from([0xbb, 0x34, 0x12, 0xcf])); // mov bx,0x1234; iret
    const cpu = new Cpu({ memory: mem });
    cpu.loadSegmentReal(1, 0);
    cpu.eip = 0x7c00;
    cpu.regs[4] = 0x7000;
    expect(cpu.run(100).reason).toBe('hlt');
    expect(cpu.regs[3]).toBe(0x1234);
    expect(cpu.eip).toBe(0x7c03);
    expect(cpu.regs[4]).toBe(0x7000);
  });
});
