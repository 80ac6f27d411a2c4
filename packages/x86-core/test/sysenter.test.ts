/**
 * SYSENTER/SYSEXIT (SDM Vol. 2 "SYSENTER"/"SYSEXIT", Vol. 3 §5.8.7): the IA32_SYSENTER_CS/ESP/EIP
 * MSRs, a ring 0 → ring 3 → ring 0 round trip (also from virtual-8086 mode), the #GP(0) cases,
 * CPUID.1:EDX.SEP, and the MSRs in snapshots.
 */
import { describe, expect, it } from 'vitest';
import { Cpu, FlatMemory } from '../src/index';
import {
  assemble,
  type Chunk,
  CPUID,
  EAX,
  EBX,
  ECX,
  EDX,
  HLT,
  movImm,
  RDMSR,
  STI,
  SYSENTER,
  SYSEXIT,
  store32,
  WRMSR,
} from './debug-asm';
import { HANDLERS, setGate, setHandler } from './helpers';
import { enterV86, loadTr, sysMachine, USER_CS, USER_SS, V86 } from './v86-setup';

const IF = 1 << 9;
const VM = 1 << 17;
const KSTACK = 0x8800;
const USTACK = 0x7800;

/** WRMSR `msr` ← `value` (high half 0). */
const wrmsr = (msr: number, value: number | string): Chunk[] => [
  movImm(ECX, msr),
  (l) => movImm(EAX, typeof value === 'string' ? l[value]! : value),
  movImm(EDX, 0),
  WRMSR,
];
/** SYSEXIT to `eip` with ESP = USTACK. */
const sysexitTo = (eip: string): Chunk[] => [movImm(ECX, USTACK), (l) => movImm(EDX, l[eip]!), SYSEXIT];
/** #GP handler: EAX ← error code, EBX ← faulting EIP, HLT. */
const gpLogger = [0x8b, 0x04, 0x24, 0x8b, 0x5c, 0x24, 0x04, 0xf4];

function machine(code: Chunk[]) {
  const m = sysMachine([loadTr, ...code]);
  setHandler(m, 13, gpLogger);
  return m;
}

describe('SYSENTER/SYSEXIT', () => {
  it('round trip: SYSEXIT to ring 3 with flat DPL-3 CS/SS from SYSENTER_CS + 16/24, SYSENTER back with IF clear', () => {
    const m = machine([
      ...wrmsr(0x174, 0x08),
      ...wrmsr(0x175, KSTACK),
      ...wrmsr(0x176, 'kentry'),
      movImm(ECX, 0x175),
      RDMSR,
      store32(0x6800, EAX),
      STI,
      ...sysexitTo('user'),
      'user',
      [0x8c, 0xc8], // mov eax, cs
      store32(0x6804, EAX),
      [0x8c, 0xd0], // mov eax, ss
      store32(0x6808, EAX),
      [0x89, 0xe0], // mov eax, esp
      store32(0x680c, EAX),
      movImm(EBX, 0x55),
      SYSENTER,
      HLT, // not reached: SYSENTER does not return here
      'kentry',
      HLT,
    ]);
    const cpu = m.cpu;
    expect(cpu.run(1000).reason).toBe('hlt');
    const r = (a: number) => new DataView(m.mem.bytes.buffer).getUint32(a, true);
    expect(r(0x6800)).toBe(KSTACK);
    expect([r(0x6804), r(0x6808), r(0x680c)]).toEqual([USER_CS, USER_SS, USTACK]);
    expect(cpu.eip).toBe(m.labels.kentry! + 1);
    expect(cpu.cpl).toBe(0);
    expect(cpu.getSegment(1)).toEqual({ selector: 0x08, base: 0, limit: 0xffffffff, attributes: 0xc09b });
    expect(cpu.getSegment(2)).toEqual({ selector: 0x10, base: 0, limit: 0xffffffff, attributes: 0xc093 });
    expect(cpu.regs[4]).toBe(KSTACK);
    expect(cpu.regs[EBX]).toBe(0x55);
    expect(cpu.eflags & IF).toBe(0);
  });

  it('SYSENTER does not clear TF: the single-step #DB is taken at the ring-0 entry point', () => {
    const m = machine([
      ...wrmsr(0x174, 0x08),
      ...wrmsr(0x175, KSTACK),
      ...wrmsr(0x176, 'kentry'),
      ...sysexitTo('user'),
      'user',
      [0x9c, 0x81, 0x0c, 0x24, 0x00, 0x01, 0x00, 0x00, 0x9d], // pushfd; or dword [esp], TF; popfd
      SYSENTER,
      'kentry',
      HLT,
    ]);
    // #DB handler: EBX ← pushed EIP, ECX ← pushed CS, HLT.
    setGate(m.mem, 1, 0x5f00);
    m.mem.load(0x5f00, Uint8Array.from([0x8b, 0x1c, 0x24, 0x8b, 0x4c, 0x24, 0x04, 0xf4]));
    expect(m.cpu.run(1000).reason).toBe('hlt');
    expect(m.cpu.eip).toBe(0x5f08);
    expect(m.cpu.regs[EBX]).toBe(m.labels.kentry);
    expect(m.cpu.regs[ECX]).toBe(0x08);
    expect(m.cpu.dr[6]! & (1 << 14)).not.toBe(0);
  });

  it('SYSENTER from virtual-8086 mode clears VM and enters ring 0', () => {
    const m = machine([
      ...wrmsr(0x174, 0x08),
      ...wrmsr(0x175, KSTACK),
      ...wrmsr(0x176, 'kentry'),
      ...enterV86(0),
      'kentry',
      HLT,
    ]);
    m.mem.load(V86.cs << 4, Uint8Array.from(SYSENTER));
    expect(m.cpu.run(1000).reason).toBe('hlt');
    expect(m.cpu.eip).toBe(m.labels.kentry! + 1);
    expect(m.cpu.eflags & VM).toBe(0);
    expect(m.cpu.cpl).toBe(0);
    expect(m.cpu.getSegment(1).selector).toBe(0x08);
  });

  const gpCases: [string, Chunk[]][] = [
    ['SYSENTER with IA32_SYSENTER_CS = 0', [...wrmsr(0x175, KSTACK), 'fault', SYSENTER]],
    ['SYSENTER with IA32_SYSENTER_CS[15:2] = 0 (CS = 3)', [...wrmsr(0x174, 3), 'fault', SYSENTER]],
    ['SYSEXIT with IA32_SYSENTER_CS = 0', [movImm(ECX, USTACK), 'fault', SYSEXIT]],
    [
      'SYSEXIT at CPL 3',
      [...wrmsr(0x174, 0x08), ...sysexitTo('user'), 'user', movImm(ECX, USTACK), 'fault', SYSEXIT],
    ],
  ];
  for (const [name, code] of gpCases) {
    it(`#GP(0): ${name}`, () => {
      const m = machine(code);
      expect(m.cpu.run(1000).reason).toBe('hlt');
      expect(m.cpu.eip).toBe(HANDLERS + 13 * 16 + gpLogger.length);
      expect(m.cpu.regs[EAX]).toBe(0);
      expect(m.cpu.regs[EBX]).toBe(m.labels.fault);
    });
  }

  it('#GP(0): SYSEXIT in virtual-8086 mode (CPL 3)', () => {
    const m = machine([...wrmsr(0x174, 0x08), ...enterV86(0)]);
    m.mem.load(V86.cs << 4, Uint8Array.from(SYSEXIT));
    expect(m.cpu.run(1000).reason).toBe('hlt');
    expect(m.cpu.regs[EAX]).toBe(0);
    expect(m.cpu.regs[EBX]).toBe(0); // v86 IP of the SYSEXIT
  });

  it('#GP(0): SYSENTER in real mode', () => {
    const mem = new FlatMemory(1 << 20);
    const cpu = new Cpu({ memory: mem });
    mem.load(0x1000, Uint8Array.from(SYSENTER));
    cpu.loadSegmentReal(1, 0);
    cpu.eip = 0x1000;
    cpu.run(1);
    expect(cpu.lastVector).toBe(13);
    expect(cpu.getSegment(1).selector).toBe(0);
    expect(cpu.eip).toBe(0); // the IVT entry of vector 13 (all zero here)
  });
});

describe('CPUID and snapshots', () => {
  it('CPUID.1:EDX advertises SEP and DE, not VME/PVI or an FPU', () => {
    const { bytes } = assemble(0x1000, [movImm(EAX, 1), CPUID, HLT]);
    const mem = new FlatMemory(1 << 20);
    mem.load(0x1000, Uint8Array.from(bytes));
    const cpu = new Cpu({ memory: mem });
    cpu.enterFlatProtectedMode(0x1000);
    cpu.run(10);
    const edx = cpu.regs[EDX]!;
    expect(edx & (1 << 11)).not.toBe(0);
    expect(edx & (1 << 2)).not.toBe(0);
    expect(edx & ((1 << 1) | 1)).toBe(0);
  });

  it('saveState/restoreState carry the SYSENTER MSRs; a version-1 snapshot still restores', () => {
    const m = machine([...wrmsr(0x174, 0x08), ...wrmsr(0x175, KSTACK), ...wrmsr(0x176, 0x1234), HLT]);
    m.cpu.run(1000);
    const snap = m.cpu.saveState();
    expect(snap.version).toBe(2);
    const other = new Cpu({ memory: new FlatMemory(1 << 20) });
    other.restoreState(snap);
    expect([other.sysenterCs, other.sysenterEsp, other.sysenterEip]).toEqual([0x08, KSTACK, 0x1234]);
    const v1 = { ...snap, version: 1, scalars: snap.scalars.slice(0, 10) };
    other.restoreState(v1);
    expect([other.sysenterCs, other.sysenterEsp, other.sysenterEip]).toEqual([0, 0, 0]);
  });
});
