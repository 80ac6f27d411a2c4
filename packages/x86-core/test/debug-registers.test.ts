/**
 * Debug registers and single-step (SDM Vol. 3 Chapter 17): instruction, data (each length, write
 * and read/write) and I/O breakpoints with local/global enables and the DR6 bits they report, RF,
 * TF single-step (POPF, INT n), DR7.GD, INT1/ICEBP, the MOV SS/POP SS shadow, DR4/DR5 aliasing.
 * Every case runs guest code that programs the debug registers with MOV DRn and a #DB handler
 * that logs the pushed EIP, DR6 and the pushed EFLAGS.
 */
import { describe, expect, it } from 'vitest';
import type { IoBus } from '../src/index';
import {
  andEsp,
  assemble,
  type Chunk,
  EAX,
  EBP,
  EBX,
  ECX,
  EDI,
  EDX,
  ESI,
  HLT,
  ICEBP,
  IN_AL_DX,
  INC,
  INT,
  IRETD,
  load32,
  loadEsp,
  logEdi,
  movFromDr,
  movImm,
  movSreg,
  movToCr,
  movToDr,
  NOP,
  OUT_DX_AL,
  OUT_DX_EAX,
  orEsp,
  outImm,
  POP,
  POPFD,
  PUSH,
  PUSHFD,
  store8,
  store16,
  store32,
  UD2,
} from './debug-asm';
import { CODE, HANDLERS, protectedMachine, read32, setGate, setHandler } from './helpers';

const DB_HANDLER = 0x5000;
const LOG_EIP = 0x6000;
const LOG_DR6 = 0x6100;
const LOG_FLAGS = 0x6200;
const LOG_ECX = 0x6300;
const RF = 1 << 16;
const TF = 1 << 8;
const DR6_BD = 1 << 13;
const DR6_BS = 1 << 14;
const DR6_RESET = 0xffff0ff0;
const CR4_DE = 1 << 3;

/** DR7 value enabling breakpoint n (local or global) with R/W and LEN fields. */
function dr7(n: number, rw: number, len: number, global = false): number {
  return ((global ? 2 : 1) << (2 * n)) | (rw << (16 + 4 * n)) | (len << (18 + 4 * n)) | 0x400;
}

/** Guest code that loads DRn with `addr` and DR7 with `ctl` (clobbers EAX). */
function arm(n: number, addr: number | string, ctl: number): Chunk[] {
  return [
    (l) => movImm(EAX, typeof addr === 'string' ? l[addr]! : addr),
    movToDr(n, EAX),
    movImm(EAX, ctl),
    movToDr(7, EAX),
  ];
}

/** Sets TF with PUSHFD / OR / POPFD, and clears it the same way. */
const setTf: Chunk[] = [PUSHFD, orEsp(0, TF), POPFD];

/**
 * A flat protected-mode machine running `program` at CODE, with a #DB handler that counts hits in
 * EDI and logs pushed EIP, DR6 and pushed EFLAGS per hit (then clears DR6, optionally sets RF in
 * the EFLAGS image, and IRETs).
 */
function machine(program: Chunk[], opts: { setRf?: boolean; io?: IoBus } = {}) {
  const { bytes, labels } = assemble(CODE, program);
  const m = protectedMachine(bytes, opts.io ? { io: opts.io } : {});
  setGate(m.mem, 1, DB_HANDLER);
  // EDI counts hits; EAX/ECX/EDX/ESI are preserved; ECX at the hit is logged too.
  const handler = [
    ...PUSH(EAX),
    ...PUSH(ECX),
    ...PUSH(EDX),
    ...PUSH(ESI),
    ...INC(EDI),
    ...logEdi(LOG_ECX, ECX),
    ...movFromDr(ECX, 6),
    ...loadEsp(EDX, 16),
    ...loadEsp(ESI, 24),
    ...logEdi(LOG_EIP, EDX),
    ...logEdi(LOG_DR6, ECX),
    ...logEdi(LOG_FLAGS, ESI),
    ...movImm(EAX, 0),
    ...movToDr(6, EAX),
    ...(opts.setRf ? orEsp(24, RF) : []),
    ...POP(ESI),
    ...POP(EDX),
    ...POP(ECX),
    ...POP(EAX),
    ...IRETD,
  ];
  m.mem.load(DB_HANDLER, Uint8Array.from(handler));
  return {
    ...m,
    labels,
    hits: () => m.cpu.regs[EDI]!,
    eip: (i: number) => read32(m.mem, LOG_EIP + 4 * i),
    dr6: (i: number) => read32(m.mem, LOG_DR6 + 4 * i),
    flags: (i: number) => read32(m.mem, LOG_FLAGS + 4 * i),
    ecx: (i: number) => read32(m.mem, LOG_ECX + 4 * i),
    eips: () => Array.from({ length: m.cpu.regs[EDI]! }, (_, i) => read32(m.mem, LOG_EIP + 4 * (i + 1))),
  };
}

describe('instruction breakpoints (R/W = 00) are faults', () => {
  for (let n = 0; n < 4; n++) {
    for (const global of [false, true]) {
      it(`DR${n} ${global ? 'global' : 'local'}: #DB before the instruction, B${n}, RF = 0 pushed; RF set by the handler lets it run once`, () => {
        const m = machine([...arm(n, 'target', dr7(n, 0, 0, global)), NOP, 'target', INC(EBX), 'end', HLT], {
          setRf: true,
        });
        expect(m.cpu.run(1000).reason).toBe('hlt');
        expect(m.hits()).toBe(1);
        expect(m.eip(1)).toBe(m.labels.target);
        expect(m.dr6(1)).toBe((DR6_RESET | (1 << n)) >>> 0);
        expect(m.flags(1) & RF).toBe(0);
        expect(m.cpu.regs[EBX]).toBe(1);
        expect(m.cpu.eip).toBe(m.labels.end! + 1);
        // RF was cleared after the instruction it let through (SDM §17.3.1.1).
        expect(m.cpu.eflags & RF).toBe(0);
      });
    }
  }

  it('without RF in the EFLAGS image the breakpoint fires again on every IRET', () => {
    const m = machine([...arm(0, 'target', dr7(0, 0, 0)), 'target', INC(EBX), HLT]);
    expect(m.cpu.run(500).reason).toBe('budget');
    expect(m.hits()).toBeGreaterThan(20);
    expect(m.cpu.regs[EBX]).toBe(0);
    for (let i = 1; i <= 5; i++) expect(m.eip(i)).toBe(m.labels.target);
  });

  it('a disabled breakpoint (L/G clear) or another address does not fire', () => {
    const m = machine([
      ...arm(0, 'target', (0 << 16) | 0x400),
      ...arm(1, 'other', dr7(1, 0, 0)),
      'target',
      INC(EBX),
      HLT,
      'other',
      HLT,
    ]);
    expect(m.cpu.run(1000).reason).toBe('hlt');
    expect(m.hits()).toBe(0);
    expect(m.cpu.regs[EBX]).toBe(1);
  });
});

describe('data breakpoints are traps after the accessing instruction', () => {
  // [name, DR address, R/W, LEN, the access, hit?]
  const cases: [string, number, number, number, number[], boolean][] = [
    ['1-byte write bp, byte write on it', 0x7001, 1, 0, store8(0x7001, EAX), true],
    ['1-byte write bp, byte write below', 0x7001, 1, 0, store8(0x7000, EAX), false],
    ['1-byte write bp, byte write above', 0x7001, 1, 0, store8(0x7002, EAX), false],
    ['2-byte write bp, byte write on its 2nd byte', 0x7002, 1, 1, store8(0x7003, EAX), true],
    ['2-byte write bp, word write overlapping its 1st byte', 0x7002, 1, 1, store16(0x7001, EAX), true],
    ['2-byte write bp, byte write after it', 0x7002, 1, 1, store8(0x7004, EAX), false],
    ['4-byte write bp, dword write overlapping its last byte', 0x7004, 1, 3, store32(0x7007, EAX), true],
    ['4-byte write bp, dword write overlapping its first byte', 0x7004, 1, 3, store32(0x7001, EAX), true],
    ['4-byte write bp, byte write after it', 0x7004, 1, 3, store8(0x7008, EAX), false],
    ['4-byte bp at an unaligned address covers the aligned dword', 0x7005, 1, 3, store8(0x7004, EAX), true],
    ['8-byte (LEN = 10) write bp, byte write on its last byte', 0x7008, 1, 2, store8(0x700f, EAX), true],
    ['8-byte (LEN = 10) write bp, byte write after it', 0x7008, 1, 2, store8(0x7010, EAX), false],
    ['write-only bp (R/W = 01) ignores a read', 0x7000, 1, 3, load32(EBX, 0x7000), false],
    ['read/write bp (R/W = 11) catches a read', 0x7000, 3, 3, load32(EBX, 0x7000), true],
    ['read/write bp (R/W = 11) catches a write', 0x7000, 3, 0, store8(0x7000, EAX), true],
  ];
  cases.forEach(([name, addr, rw, len, access, hit], i) => {
    const n = i % 4;
    const global = i % 2 === 1;
    it(`DR${n} ${global ? 'G' : 'L'}: ${name} ⇒ ${hit ? `#DB with B${n}` : 'no #DB'}`, () => {
      const m = machine([...arm(n, addr, dr7(n, rw, len, global)), access, 'after', NOP, HLT]);
      expect(m.cpu.run(1000).reason).toBe('hlt');
      expect(m.hits()).toBe(hit ? 1 : 0);
      if (hit) {
        expect(m.eip(1)).toBe(m.labels.after);
        expect(m.dr6(1)).toBe((DR6_RESET | (1 << n)) >>> 0);
        expect(m.flags(1) & RF).toBe(0);
      }
    });
  });

  it('REP LODSB stops after the iteration that hit, with EIP at the instruction and RF = 1 pushed, then finishes', () => {
    const m = machine([
      movImm(ESI, 0x7100),
      movImm(ECX, 10),
      ...arm(0, 0x7105, dr7(0, 3, 0)),
      'rep',
      [0xf3, 0xac],
      'after',
      HLT,
    ]);
    m.mem.load(0x7100, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    expect(m.cpu.run(1000).reason).toBe('hlt');
    expect(m.hits()).toBe(1);
    expect(m.eip(1)).toBe(m.labels.rep);
    expect(m.ecx(1)).toBe(4); // six iterations done, the sixth read 0x7105
    expect(m.flags(1) & RF).toBe(RF);
    expect(m.dr6(1)).toBe((DR6_RESET | 1) >>> 0);
    expect(m.cpu.regs[ECX]).toBe(0);
    expect(m.cpu.regs[ESI]).toBe(0x710a);
    expect(m.cpu.regs[EAX]! & 0xff).toBe(10);
  });

  it('TF single-steps REP LODSB one iteration at a time', () => {
    const m = machine([
      movImm(ESI, 0x7100),
      movImm(ECX, 3),
      ...setTf,
      'rep',
      [0xf3, 0xac],
      'after',
      PUSHFD,
      andEsp(0, ~TF),
      POPFD,
      HLT,
    ]);
    expect(m.cpu.run(1000).reason).toBe('hlt');
    const l = m.labels;
    expect(m.eips().slice(0, 3)).toEqual([l.rep, l.rep, l.after]);
    expect([m.ecx(1), m.ecx(2), m.ecx(3)]).toEqual([2, 1, 0]);
    expect([m.flags(1) & RF, m.flags(2) & RF, m.flags(3) & RF]).toEqual([RF, RF, 0]);
  });
});

describe('I/O breakpoints (R/W = 10) need CR4.DE', () => {
  const io: IoBus = { in: () => 0xff, out: () => undefined };
  const de = [movImm(EAX, CR4_DE), movToCr(4, EAX)];
  const cases: [string, number, number, Chunk[], boolean][] = [
    ['OUT imm8 to the port', 0x80, 0, [outImm(0x80)], true],
    ['OUT imm8 to the next port', 0x80, 0, [outImm(0x81)], false],
    ['IN AL, DX from the port', 0x80, 0, [movImm(EDX, 0x80), IN_AL_DX], true],
    ['OUT DX, AL to the 2nd port of a 2-byte bp', 0x80, 1, [movImm(EDX, 0x81), OUT_DX_AL], true],
    ['OUT DX, EAX overlapping a 1-byte bp', 0x81, 0, [movImm(EDX, 0x7e), OUT_DX_EAX], true],
    ['OUT DX, EAX ending below the bp', 0x82, 0, [movImm(EDX, 0x7e), OUT_DX_EAX], false],
  ];
  for (const [name, port, len, access, hit] of cases) {
    it(`${name} ⇒ ${hit ? '#DB with B2' : 'no #DB'}`, () => {
      const m = machine([...de, ...arm(2, port, dr7(2, 2, len, true)), ...access, 'after', HLT], { io });
      expect(m.cpu.run(1000).reason).toBe('hlt');
      expect(m.hits()).toBe(hit ? 1 : 0);
      if (hit) {
        expect(m.eip(1)).toBe(m.labels.after);
        expect(m.dr6(1)).toBe((DR6_RESET | 4) >>> 0);
      }
    });
  }

  it('REP OUTSB with ECX = 0 does no I/O and so matches nothing', () => {
    const m = machine(
      [...de, ...arm(2, 0x80, dr7(2, 2, 0, true)), movImm(EDX, 0x80), movImm(ECX, 0), [0xf3, 0x6e], HLT],
      {
        io,
      },
    );
    expect(m.cpu.run(1000).reason).toBe('hlt');
    expect(m.hits()).toBe(0);
  });

  it('with CR4.DE = 0 the same breakpoint never fires', () => {
    const m = machine([...arm(2, 0x80, dr7(2, 2, 0, true)), outImm(0x80), HLT], { io });
    expect(m.cpu.run(1000).reason).toBe('hlt');
    expect(m.hits()).toBe(0);
  });
});

describe('single-step (EFLAGS.TF)', () => {
  const clearTf: Chunk[] = [PUSHFD, 'e', andEsp(0, ~TF), 'f', POPFD, 'g'];

  it('traps after each instruction with BS, not after the POPF that set TF, and after the POPF that clears it', () => {
    const m = machine([...setTf, 'a', NOP, 'b', NOP, 'c', INC(EBX), 'd', ...clearTf, HLT]);
    expect(m.cpu.run(1000).reason).toBe('hlt');
    const l = m.labels;
    expect(m.eips()).toEqual([l.b, l.c, l.d, l.e, l.f, l.g]);
    for (let i = 1; i <= 6; i++) {
      expect(m.dr6(i)).toBe((DR6_RESET | DR6_BS) >>> 0);
      // The trap after the POPF that cleared TF pushes the new EFLAGS (TF = 0).
      expect(m.flags(i) & TF).toBe(i < 6 ? TF : 0);
      expect(m.flags(i) & RF).toBe(0);
    }
    expect(m.cpu.regs[EBX]).toBe(1);
  });

  it('INT n with TF: the #DB is taken at the handler entry (TF clear there), then stepping resumes after its IRET', () => {
    const m = machine([...setTf, 'x', INT(0x40), 'y', ...clearTf, HLT]);
    setHandler(m, 0x40, [...PUSH(EAX), ...POP(EAX), ...IRETD]);
    expect(m.cpu.run(1000).reason).toBe('hlt');
    const l = m.labels;
    expect(m.eips()).toEqual([HANDLERS + 0x40 * 16, l.e, l.f, l.g]);
    expect(m.flags(1) & TF).toBe(0);
    expect(m.dr6(1) & DR6_BS).toBe(DR6_BS);
  });

  it('a faulting instruction reports no single-step; its handler runs with TF clear and RF = 1 in the image', () => {
    const m = machine([...setTf, 'u', UD2, HLT]);
    // #UD handler: EBX ← pushed EFLAGS, EBP ← EFLAGS inside the handler; HLT.
    setHandler(m, 6, [...loadEsp(EBX, 8), 0x9c, 0x5d, 0xf4]); // pushfd; pop ebp; hlt
    expect(m.cpu.run(1000).reason).toBe('hlt');
    expect(m.hits()).toBe(0);
    expect(m.cpu.regs[EBX]! & (TF | RF)).toBe(TF | RF);
    expect(m.cpu.regs[EBP]! & (TF | RF)).toBe(0);
  });

  it('a single-step trap after HLT is taken at once and resumes execution (a debug exception wakes the CPU)', () => {
    const m = machine([...setTf, 'h', HLT, 'after', PUSHFD, andEsp(0, ~TF), POPFD, 'end', HLT]);
    expect(m.cpu.run(1000).reason).toBe('hlt');
    const l = m.labels;
    expect(m.eips()[0]).toBe(l.after);
    expect(m.cpu.eip).toBe(l.end! + 1);
  });

  it('MOV SS holds the trap until after the next instruction (SDM §6.8.3)', () => {
    const m = machine([
      movImm(EAX, 0x10),
      ...setTf,
      NOP,
      'm',
      movSreg(2, EAX),
      'n',
      NOP,
      'o',
      ...clearTf,
      HLT,
    ]);
    expect(m.cpu.run(1000).reason).toBe('hlt');
    const l = m.labels;
    // No trap with EIP = n (right after MOV SS): the MOV SS trap and the NOP's come together at o.
    expect(m.eips()).toEqual([l.m, l.o, l.e, l.f, l.g]);
    expect(m.dr6(2)).toBe((DR6_RESET | DR6_BS) >>> 0);
  });

  it('POP SS holds the trap the same way', () => {
    const m = machine([movImm(EAX, 0x10), ...setTf, PUSH(EAX), 'p', [0x17], 'n', NOP, 'o', ...clearTf, HLT]);
    expect(m.cpu.run(1000).reason).toBe('hlt');
    const l = m.labels;
    expect(m.eips()).toEqual([l.p, l.o, l.e, l.f, l.g]);
  });
});

describe('DR7.GD, INT1/ICEBP, DR4/DR5', () => {
  it('GD: MOV from a debug register is a #DB fault with BD; GD is cleared for the handler; the MOV then runs', () => {
    const m = machine([movImm(EAX, 0x2400), movToDr(7, EAX), 'acc', movFromDr(EBX, 7), 'after', HLT]);
    expect(m.cpu.run(1000).reason).toBe('hlt');
    expect(m.hits()).toBe(1);
    expect(m.eip(1)).toBe(m.labels.acc);
    expect(m.dr6(1)).toBe((DR6_RESET | DR6_BD) >>> 0);
    // A fault-class #DB other than an instruction breakpoint pushes RF = 1.
    expect(m.flags(1) & RF).toBe(RF);
    expect(m.cpu.regs[EBX]).toBe(0x400);
  });

  it('GD also guards MOV to a debug register', () => {
    const m = machine([
      movImm(EAX, 0x2400),
      movToDr(7, EAX),
      movImm(EAX, 0x1234),
      'acc',
      movToDr(0, EAX),
      HLT,
    ]);
    expect(m.cpu.run(1000).reason).toBe('hlt');
    expect(m.hits()).toBe(1);
    expect(m.eip(1)).toBe(m.labels.acc);
    expect(m.cpu.dr[0]).toBe(0x1234);
  });

  it('ICEBP (F1) is a #DB trap past the instruction that leaves DR6 unchanged', () => {
    const m = machine([ICEBP, 'after', HLT]);
    expect(m.cpu.run(1000).reason).toBe('hlt');
    expect(m.hits()).toBe(1);
    expect(m.eip(1)).toBe(m.labels.after);
    expect(m.dr6(1)).toBe(DR6_RESET >>> 0);
    expect(m.flags(1) & RF).toBe(0);
  });

  it('DR6 and DR7 keep their fixed bits: DR6 reads 0xFFFF0FF0 after writing 0, DR7 drops bits 11, 12, 14, 15', () => {
    const m = machine([
      movImm(EAX, 0),
      movToDr(6, EAX),
      movFromDr(EBX, 6),
      movImm(EAX, 0xd800),
      movToDr(7, EAX),
      movFromDr(EBP, 7),
      HLT,
    ]);
    expect(m.cpu.run(100).reason).toBe('hlt');
    expect(m.cpu.regs[EBX]! >>> 0).toBe(DR6_RESET);
    expect(m.cpu.regs[EBP]).toBe(0x400);
  });

  it('DR4/DR5 alias DR6/DR7 with CR4.DE = 0 and raise #UD with CR4.DE = 1', () => {
    const m = machine([
      movImm(EAX, 0xf),
      movToDr(4, EAX),
      movFromDr(EBX, 6),
      movFromDr(EBP, 5),
      movImm(EAX, CR4_DE),
      movToCr(4, EAX),
      'ud',
      movFromDr(ESI, 4),
      HLT,
    ]);
    setHandler(m, 6, [...loadEsp(EDX, 0), 0xf4]);
    expect(m.cpu.run(1000).reason).toBe('hlt');
    expect(m.cpu.regs[EBX]! >>> 0).toBe(0xffff0fff);
    expect(m.cpu.regs[EBP]).toBe(0x400);
    expect(m.cpu.regs[EDX]).toBe(m.labels.ud);
  });
});

describe('data breakpoints hit by event delivery', () => {
  it('the stack pushes of an external interrupt are reported once, with the traps of the next instruction', () => {
    let pending = true;
    const interrupts = {
      pending: () => pending,
      acknowledge: () => {
        pending = false;
        return 0x40;
      },
    };
    // Watch the dword the interrupt frame's EFLAGS goes to (STACK_TOP − 4; the frame is EFLAGS, CS, EIP).
    const { bytes } = assemble(CODE, [
      ...arm(3, 0x9000 - 4, dr7(3, 1, 3)),
      [0xfb],
      'sti',
      NOP,
      'n',
      NOP,
      HLT,
    ]);
    const m = protectedMachine(bytes, { interrupts });
    setGate(m.mem, 1, DB_HANDLER);
    setHandler(m, 0x40, [...PUSH(EAX), ...POP(EAX), ...IRETD]);
    // #DB handler: log the pushed EIP and DR6 in EBP/ESI, count in EDI, IRETD.
    m.mem.load(
      DB_HANDLER,
      Uint8Array.from([...INC(EDI), ...loadEsp(EBP, 0), ...movFromDr(ESI, 6), ...IRETD]),
    );
    m.cpu.regs[EDI] = 0;
    expect(m.cpu.run(1000).reason).toBe('hlt');
    expect(m.cpu.regs[EDI]).toBe(1);
    expect(m.cpu.regs[ESI]! & 0xf).toBe(8);
    // STI's shadow covers the NOP at 'sti'; the interrupt comes before the NOP at 'n'; the #DB
    // follows the handler's first instruction (PUSH EAX, which moves ESP so the #DB's own frame
    // does not land on the watched dword again).
    expect(m.cpu.regs[EBP]).toBe(HANDLERS + 0x40 * 16 + 1);
  });
});

describe('debug state across snapshots and reset', () => {
  it('a restored snapshot keeps its breakpoints armed; reset() disarms them', () => {
    const m = machine([...arm(1, 0x7000, dr7(1, 1, 3)), 'snap', NOP, store32(0x7000, EAX), 'after', HLT]);
    m.cpu.addBreakpoint(m.labels.snap!);
    expect(m.cpu.run(1000).reason).toBe('breakpoint');
    expect(m.cpu.memory).not.toBe(m.cpu.hostMemory); // watching data
    const snap = m.cpu.saveState();
    const copy = machine([]);
    copy.mem.bytes.set(m.mem.bytes);
    copy.cpu.restoreState(snap);
    expect(copy.cpu.memory).not.toBe(copy.cpu.hostMemory);
    expect(copy.cpu.run(1000).reason).toBe('hlt');
    expect(copy.hits()).toBe(1);
    expect(copy.eip(1)).toBe(m.labels.after);
    copy.cpu.reset();
    expect(copy.cpu.memory).toBe(copy.cpu.hostMemory);
    expect(copy.cpu.dr[7]).toBe(0x400);
  });
});
