/** The public API: reset state, options validation, CPUID/MSR/TSC models, exits, snapshots, segment protection. */
import { describe, expect, it } from 'vitest';
import {
  CPUID_ECX_HYPERVISOR,
  Cpu,
  EXIT_CPUID,
  EXIT_HLT,
  EXIT_HYPERCALL,
  EXIT_MSR,
  FlatMemory,
  MachineClock,
  X86CoreError,
} from '../src/index';
import { CODE, le32, protectedMachine, read32, setHandler } from './helpers';

describe('Cpu API', () => {
  it('resets to the SDM power-on state', () => {
    const cpu = new Cpu({ memory: new FlatMemory(1 << 20) });
    expect(cpu.eip).toBe(0xfff0);
    expect(cpu.getSegment(1)).toEqual({
      selector: 0xf000,
      base: 0xffff0000,
      limit: 0xffff,
      attributes: 0x9b,
    });
    expect(cpu.regs[2]).toBe(0x652);
    expect(cpu.cr0).toBe(0x60000010);
    expect(cpu.eflags).toBe(2);
    expect(cpu.cpl).toBe(0);
  });

  it('rejects bad options with a typed error naming the field', () => {
    expect(() => new Cpu({ memory: {} as never })).toThrow(/memory/);
    expect(() => new Cpu({ memory: new FlatMemory(4096), exitCost: -1 })).toThrow(X86CoreError);
    expect(() => new FlatMemory(1000)).toThrow(/FlatMemory.size/);
    expect(() => new MachineClock(0)).toThrow(/clock.hz/);
    const cpu = new Cpu({ memory: new FlatMemory(4096) });
    expect(() => cpu.run(-1)).toThrow(/maxInstructions/);
    expect(() => cpu.getSegment(9)).toThrow(/sreg/);
    try {
      cpu.restoreState({ version: 99 } as never);
    } catch (e) {
      expect(X86CoreError.isInstance(e) && e.code).toBe('INVALID_STATE');
    }
  });

  it('CPUID: GenuineIntel P6, no FPU, hypervisor bit, host leaves; each CPUID is an exit', () => {
    // cpuid (leaf 0); mov esi,ebx; mov eax,1; cpuid; mov eax,0x40000000; cpuid; hlt
    const m = protectedMachine(
      [
        0x31,
        0xc0,
        0x0f,
        0xa2,
        0x89,
        0xde,
        0xb8,
        ...le32(1),
        0x0f,
        0xa2,
        0x89,
        0xd7,
        0x89,
        0xcd,
        0xb8,
        ...le32(0x40000000),
        0x0f,
        0xa2,
        0xf4,
      ],
      {
        cpuid: { leaves: { 1073741824: [0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d] } },
      },
    );
    m.cpu.run(100);
    expect(m.cpu.regs[6]).toBe(0x756e6547); // "Genu"
    expect(m.cpu.regs[7]! & 1).toBe(0); // EDX.FPU = 0
    expect(m.cpu.regs[7]! & (1 << 15)).not.toBe(0); // CMOV
    expect(m.cpu.regs[5]! & CPUID_ECX_HYPERVISOR).not.toBe(0);
    expect(m.cpu.regs[3]).toBe(0x4b4d564b);
    expect(m.cpu.exitCounts[EXIT_CPUID]).toBe(3);
  });

  it('MSRs: TSC follows the virtual clock, APIC base is kept, unknown MSRs #GP(0), the rest go to the MsrBus', () => {
    const written: [number, bigint][] = [];
    const m = protectedMachine(
      [
        0xb9,
        ...le32(0x10),
        0x0f,
        0x32, // rdmsr TSC
        0xb9,
        ...le32(0x1b),
        0x0f,
        0x32,
        0x89,
        0xc6, // rdmsr APIC_BASE → esi
        0xb9,
        ...le32(0x277),
        0xb8,
        ...le32(7),
        0x31,
        0xd2,
        0x0f,
        0x30, // wrmsr PAT via the bus
        0xb9,
        ...le32(0x9999),
        0x0f,
        0x32, // unknown ⇒ #GP
      ],
      {
        msr: {
          read: () => undefined,
          write: (msr, v) => msr === 0x277 && written.push([msr, v]) > 0,
        },
        exitCost: 100,
      },
    );
    setHandler(m, 13, [0xf4]);
    m.cpu.run(100);
    expect(m.cpu.regs[6]).toBe(0xfee00900 | 0);
    expect(written).toEqual([[0x277, 7n]]);
    expect(m.cpu.lastVector).toBe(13);
    expect(read32(m.mem, 0x9000 - 16)).toBe(0);
    expect(m.cpu.exitCounts[EXIT_MSR]).toBe(4);
    // The clock advanced by one cycle per retired instruction plus 100 per exit (4 MSR + the HLT).
    expect(m.cpu.clock.now()).toBe(m.cpu.instructions + 5 * 100);
  });

  it('exitKinds: events of the kinds left out are neither counted nor charged (nested model)', () => {
    const code = [0x31, 0xc0, 0x0f, 0xa2, 0x31, 0xc0, 0x0f, 0xa2, 0xf4]; // xor eax,eax; cpuid; ×2; hlt
    const all = protectedMachine(code, { exitCost: 100 });
    all.cpu.run(100);
    expect(all.cpu.exitCounts[EXIT_CPUID]).toBe(2);
    expect(all.cpu.clock.now()).toBe(all.cpu.instructions + 3 * 100);
    const some = protectedMachine(code, { exitCost: 100, exitKinds: [EXIT_HLT] });
    some.cpu.run(100);
    expect(some.cpu.exitCounts[EXIT_CPUID]).toBe(0);
    expect(some.cpu.exitCounts[EXIT_HLT]).toBe(1);
    expect(some.cpu.clock.now()).toBe(some.cpu.instructions + 100);
    expect(() => new Cpu({ memory: new FlatMemory(4096), exitKinds: [99] })).toThrow(/exitKinds/);
  });

  it('traps: MOV CR3, INVLPG and HLT are carried out by the host when it asks to', () => {
    const cr3: number[] = [];
    const invlpg: number[] = [];
    let hlts = 0;
    const code = [0xb8, ...le32(0x5fff), 0x0f, 0x22, 0xd8, 0x0f, 0x01, 0x3d, ...le32(0x1234), 0xf4, 0xf4];
    const m = protectedMachine(code, {
      traps: {
        writeCr3: (v) => cr3.push(v) > 0,
        invlpg: (lin) => invlpg.push(lin),
        hlt: () => ++hlts > 1, // the first HLT is declined (a PV kick came first), the second halts
      },
    });
    expect(m.cpu.run(100).reason).toBe('hlt');
    expect(cr3).toEqual([0x5018]); // reserved low bits cleared
    expect(invlpg).toEqual([0x1234]);
    expect(hlts).toBe(2);
    expect(m.cpu.exitCounts[EXIT_HLT]).toBe(2);
    const refused = protectedMachine([0x31, 0xc0, 0x0f, 0x22, 0xd8, 0xf4], {
      traps: { writeCr3: () => false },
    });
    setHandler(refused, 13, [0xf4]);
    refused.cpu.run(100);
    expect(refused.cpu.lastVector).toBe(13);
  });

  it('VMCALL goes to the Hypervisor (or #UD without one)', () => {
    let seen = -1;
    const m = protectedMachine([0xb8, ...le32(5), 0x0f, 0x01, 0xc1, 0x0f, 0x01, 0xd9, 0xf4], {
      hypervisor: {
        hypercall: (c) => {
          seen = c.regs[0]!;
          c.regs[0] = c.regs[0]! + 1;
        },
      },
    });
    m.cpu.run(10);
    expect(seen).toBe(6);
    expect(m.cpu.regs[0]).toBe(7);
    expect(m.cpu.exitCounts[EXIT_HYPERCALL]).toBe(2);
    const n = protectedMachine([0x0f, 0x01, 0xc1]);
    setHandler(n, 6, [0xf4]);
    n.cpu.run(10);
    expect(n.cpu.lastVector).toBe(6);
  });

  it('budget, stop() and host breakpoints', () => {
    const m = protectedMachine([0x40, 0xeb, 0xfd]); // inc eax; jmp -3
    expect(m.cpu.run(10)).toEqual({ reason: 'budget', instructions: 10 });
    m.cpu.addBreakpoint(CODE);
    const e = m.cpu.run(100);
    expect(e.reason).toBe('breakpoint');
    expect(m.cpu.eip).toBe(CODE);
    m.cpu.removeBreakpoint(CODE);
    expect(m.cpu.run(4).instructions).toBe(4);
  });

  it('pushes paging state to the Memory on CR writes (host and guest)', () => {
    const states: { cr0: number; cr3: number; cpl: number }[] = [];
    class Spy extends FlatMemory {
      override setPagingState(s: { cr0: number; cr3: number; cpl: number }): void {
        states.push({ cr0: s.cr0, cr3: s.cr3, cpl: s.cpl });
      }
    }
    const mem = new Spy(1 << 20);
    mem.load(0x1000, Uint8Array.from([0xb8, ...le32(0x5000), 0x0f, 0x22, 0xd8, 0xf4])); // mov eax,0x5000; mov cr3,eax; hlt
    const cpu = new Cpu({ memory: mem });
    cpu.enterFlatProtectedMode(0x1000);
    cpu.cr3 = 0x2000;
    expect(states.at(-1)).toEqual({ cr0: 0x60000011, cr3: 0x2000, cpl: 0 });
    cpu.run(10);
    expect(states.at(-1)!.cr3).toBe(0x5000);
  });

  it('a long REP STOSB yields to the run loop but retires as one instruction', () => {
    const m = protectedMachine([0xf3, 0xaa, 0xf4]); // rep stosb; hlt
    m.cpu.regs[1] = 10_000;
    m.cpu.regs[7] = 0x100000;
    m.cpu.regs[0] = 0x5a;
    expect(m.cpu.run(2).reason).toBe('budget'); // two steps of 4096 elements each
    expect(m.cpu.regs[1]).toBe(10_000 - 2 * 4096);
    expect(m.cpu.instructions).toBe(0);
    expect(m.cpu.run(100)).toEqual({ reason: 'hlt', instructions: 2 });
    expect(m.cpu.regs[1]).toBe(0);
    expect(m.mem.bytes[0x100000 + 9_999]).toBe(0x5a);
  });

  it('self-modifying code: a store into the next instruction is seen when it executes', () => {
    // mov byte [CODE+8], 0x42 (7 bytes); nop; mov al, 0x00 (patched to 0x42); hlt
    const m = protectedMachine([0xc6, 0x05, ...le32(CODE + 9), 0x42, 0x90, 0xb0, 0x00, 0xf4]);
    expect(m.cpu.run(10).reason).toBe('hlt');
    expect(m.cpu.regs[0]! & 0xff).toBe(0x42);
  });

  it('a snapshot is a copy that restores exactly', () => {
    const m = protectedMachine([0x40, 0x43, 0xeb, 0xfc]); // inc eax; inc ebx; jmp -4
    m.cpu.run(7);
    const snap = m.cpu.saveState();
    m.cpu.run(9);
    const after = [...m.cpu.regs, m.cpu.eip, m.cpu.eflags];
    m.cpu.restoreState(snap);
    m.cpu.run(9);
    expect([...m.cpu.regs, m.cpu.eip, m.cpu.eflags]).toEqual(after);
  });
});

describe('segment protection (protected mode)', () => {
  it('writing through a code segment or a read-only data segment raises #GP(0)', () => {
    const m = protectedMachine([0x2e, 0xa3, ...le32(0x100)]); // mov cs:[0x100], eax
    setHandler(m, 13, [0xf4]);
    m.cpu.run(10);
    expect(m.cpu.lastVector).toBe(13);
    expect(read32(m.mem, 0x9000 - 12)).toBe(CODE);
    const r = protectedMachine([0xa1, ...le32(0x100), 0xa3, ...le32(0x100)]); // read ok, write faults
    r.cpu.loadSegmentCache(3, { selector: 0x10, base: 0, limit: 0xffffffff, attributes: 0xc091 }); // read-only data
    setHandler(r, 13, [0xf4]);
    r.cpu.run(10);
    expect(r.cpu.lastVector).toBe(13);
    expect(read32(r.mem, 0x9000 - 12)).toBe(CODE + 5);
  });

  it('expand-down segments are valid above the limit only', () => {
    const m = protectedMachine([0x8b, 0x03, 0x8b, 0x01]); // mov eax,[ebx]; mov eax,[ecx]
    m.cpu.loadSegmentCache(3, { selector: 0x10, base: 0, limit: 0xfff, attributes: 0xc097 });
    m.cpu.regs[3] = 0x2000;
    m.cpu.regs[1] = 0x800;
    setHandler(m, 13, [0xf4]);
    m.cpu.run(10);
    expect(m.cpu.lastVector).toBe(13);
    expect(read32(m.mem, 0x9000 - 12)).toBe(CODE + 2);
  });
});
