/**
 * The I/O permission bit map (SDM Vol. 1 §19.5, Vol. 3 §20.2.8.1): IN/OUT/INS/OUTS at CPL > IOPL
 * and in virtual-8086 mode are allowed only when the 32-bit TSS's map has a clear bit for every
 * byte of the port range; a map byte beyond the TSS limit, a 16-bit TSS or a map base past the
 * limit mean #GP(0). Each case runs ring-3 (or v86) code entered through SYSEXIT (or IRETD) and a
 * ring-0 #GP handler that records the error code and the faulting EIP.
 */
import { describe, expect, it } from 'vitest';
import type { IoBus } from '../src/index';
import {
  assemble,
  type Chunk,
  EAX,
  EBX,
  ECX,
  EDX,
  ESI,
  HLT,
  IN_AL_DX,
  movImm,
  OUT_DX_AL,
  OUT_DX_AX,
  OUT_DX_EAX,
  outImm,
  WRMSR,
} from './debug-asm';
import { HANDLERS, setHandler } from './helpers';
import { enterV86, loadTr, type SysOptions, setIoMap, sysMachine, TSS_LIMIT, V86 } from './v86-setup';

const GP_STUB = HANDLERS + 13 * 16;
/** #GP handler: EAX ← error code, EBX ← faulting EIP, HLT. */
const gpLogger = [0x8b, 0x04, 0x24, 0x8b, 0x5c, 0x24, 0x04, 0xf4];

/** Ring 0: LTR, IA32_SYSENTER_CS = 8, SYSEXIT to the ring-3 `user` code. */
const toRing3: Chunk[] = [
  loadTr,
  movImm(ECX, 0x174),
  movImm(EAX, 0x08),
  movImm(EDX, 0),
  WRMSR,
  movImm(ECX, 0x7800),
  (l) => movImm(EDX, l.user!),
  [0x0f, 0x35],
  'user',
];

interface Run {
  /** Port accesses that reached the bus: [port, size, 'in' | 'out']. */
  log: [number, number, string][];
  gp: boolean;
  err: number;
  eip: number;
  labels: Record<string, number>;
}

function run(
  user: Chunk[],
  opts: SysOptions & { iopl?: number; deny?: [number, number][]; v86?: boolean } = {},
): Run {
  const log: [number, number, string][] = [];
  const io: IoBus = {
    in: (port, size) => {
      log.push([port, size, 'in']);
      return 0;
    },
    out: (port, size) => {
      log.push([port, size, 'out']);
    },
  };
  const m = opts.v86
    ? sysMachine([loadTr, ...enterV86((opts.iopl ?? 0) << 12)], { ...opts, io })
    : sysMachine([...toRing3, ...user, 'end', HLT], { ...opts, io });
  if (opts.v86) {
    const { bytes } = assemble(0, [...user, HLT]);
    m.mem.load(V86.cs << 4, Uint8Array.from(bytes));
  }
  for (const [port, n] of opts.deny ?? []) setIoMap(m, port, n, true, opts.ioMapBase ?? 0x68);
  setHandler(m, 13, gpLogger);
  m.cpu.eflags = (m.cpu.eflags & ~0x3000) | ((opts.iopl ?? 0) << 12);
  expect(m.cpu.run(10_000).reason).toBe('hlt');
  const gp = m.cpu.eip === GP_STUB + gpLogger.length;
  return { log, gp, err: m.cpu.regs[EAX]!, eip: m.cpu.regs[EBX]!, labels: m.labels };
}

describe('CPL 3 > IOPL: the I/O bit map decides', () => {
  it('a clear bit lets the access through, a set bit raises #GP(0) at the instruction', () => {
    const r = run([outImm(0x80), 'denied', outImm(0x81), HLT], { deny: [[0x81, 1]] });
    expect(r.log).toEqual([[0x80, 1, 'out']]);
    expect([r.gp, r.err, r.eip]).toEqual([true, 0, r.labels.denied]);
  });

  it('every byte of a word access is checked', () => {
    const r = run([movImm(EDX, 0x80), 'denied', OUT_DX_AX, HLT], { deny: [[0x81, 1]] });
    expect(r.log).toEqual([]);
    expect([r.gp, r.eip]).toEqual([true, r.labels.denied]);
  });

  it('a dword access crossing a map byte is checked in both bytes', () => {
    const denied = run([movImm(EDX, 0x7e), 'denied', OUT_DX_EAX, HLT], { deny: [[0x81, 1]] });
    expect([denied.gp, denied.eip, denied.log.length]).toEqual([true, denied.labels.denied, 0]);
    const allowed = run([movImm(EDX, 0x7e), OUT_DX_EAX, movImm(EDX, 0x7e), IN_AL_DX, 'last', HLT], {
      deny: [
        [0x82, 1],
        [0x7d, 1],
      ],
    });
    expect(allowed.log).toEqual([
      [0x7e, 4, 'out'],
      [0x7e, 1, 'in'],
    ]);
    // The ring-3 HLT is the first #GP.
    expect([allowed.gp, allowed.eip]).toEqual([true, allowed.labels.last]);
  });

  it('port 0xFFFF is covered by the last map byte (the terminator byte lies within the limit)', () => {
    const r = run([movImm(EDX, 0xffff), OUT_DX_AL, 'last', HLT]);
    expect(r.log).toEqual([[0xffff, 1, 'out']]);
    expect(r.eip).toBe(r.labels.last);
  });

  it('map bytes beyond the TSS limit count as set', () => {
    // Limit 0x77: map bytes 0x68..0x77 exist (ports 0..0x7F, with the 2-byte read needing offset+1 ≤ limit).
    const r = run([outImm(0x40), 'denied', outImm(0x80), HLT], { tssLimit: 0x77 });
    expect(r.log).toEqual([[0x40, 1, 'out']]);
    expect([r.gp, r.err, r.eip]).toEqual([true, 0, r.labels.denied]);
  });

  it('a map base at or past the TSS limit denies every port', () => {
    const r = run(['denied', outImm(0x00), HLT], { ioMapBase: TSS_LIMIT + 1 });
    expect(r.log).toEqual([]);
    expect([r.gp, r.err, r.eip]).toEqual([true, 0, r.labels.denied]);
  });

  it('REP OUTSB to an allowed port runs every element; to a denied port it faults before any I/O with ECX unchanged', () => {
    const ok = run([movImm(ESI, 0x6000), movImm(ECX, 3), movImm(EDX, 0x80), [0xf3, 0x6e], 'last', HLT]);
    expect(ok.log).toEqual([
      [0x80, 1, 'out'],
      [0x80, 1, 'out'],
      [0x80, 1, 'out'],
    ]);
    expect(ok.eip).toBe(ok.labels.last);
    const denied = run(
      [movImm(ESI, 0x6000), movImm(ECX, 3), movImm(EDX, 0x81), 'denied', [0xf3, 0x6c], HLT],
      {
        deny: [[0x81, 1]],
      },
    );
    expect(denied.log).toEqual([]);
    expect([denied.gp, denied.eip]).toEqual([true, denied.labels.denied]);
  });
});

describe('when the bit map is not consulted, or cannot be', () => {
  it('CPL 3 with IOPL 3: every port is allowed whatever the map says', () => {
    const r = run([outImm(0x81), 'last', HLT], { iopl: 3, deny: [[0x81, 1]] });
    expect(r.log).toEqual([[0x81, 1, 'out']]);
    expect(r.eip).toBe(r.labels.last);
  });

  it('CPL 0 ≤ IOPL 0: every port is allowed', () => {
    const log: number[] = [];
    const m = sysMachine([loadTr, outImm(0x81), HLT], {
      io: { in: () => 0, out: (p) => void log.push(p) },
    });
    setIoMap(m, 0, 0x10000, true);
    expect(m.cpu.run(100).reason).toBe('hlt');
    expect(log).toEqual([0x81]);
  });

  it('a 16-bit TSS has no I/O map: #GP(0) at CPL 3 > IOPL', () => {
    const r = run(['denied', outImm(0x80), HLT], { tssType: 1 });
    expect(r.log).toEqual([]);
    expect([r.gp, r.err, r.eip]).toEqual([true, 0, r.labels.denied]);
  });
});

describe('virtual-8086 mode always uses the bit map', () => {
  it('with IOPL 3, an allowed port goes through and a denied one is #GP(0)', () => {
    const r = run([outImm(0x80), outImm(0x81), HLT], { v86: true, iopl: 3, deny: [[0x81, 1]] });
    expect(r.log).toEqual([[0x80, 1, 'out']]);
    expect([r.gp, r.err, r.eip]).toEqual([true, 0, 2]);
  });
});
