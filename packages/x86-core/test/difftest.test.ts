/**
 * Differential tests against the host processor (issue 4, "Differential tests against real
 * hardware for 32-bit code").
 *
 * test/difftest/gen.c runs integer instruction forms on the host CPU and records inputs and
 * outputs; this file replays every record in the emulator (flat 32-bit protected mode, the same
 * data addresses; the instruction, whose semantics do not depend on EIP, is placed across a page
 * boundary) and asserts equality of every register, every byte of the data window,
 * the exception, and every EFLAGS bit the SDM defines for that case (the generator writes the
 * per-case mask: it masks only flags the SDM documents as undefined, e.g. AF after logic ops,
 * OF after multi-bit shifts, SF/ZF/AF/PF after MUL, all arithmetic flags after DIV, and register
 * bits the SDM leaves undefined: BSF/BSR destination for a zero source, SHLD/SHRD of a 16-bit
 * operand by more than 16). Vendor differences in undefined flags are therefore never compared.
 *
 * Forms (gen.c, 135 of them, each with 16- and 32-bit and where they exist 8-bit operand sizes,
 * register and memory operands through every 32-bit ModRM/SIB form incl. ESP-based ones, random
 * ES/SS/DS overrides and LOCK where legal): ADD OR ADC SBB AND SUB XOR CMP TEST, INC DEC NOT NEG (FE/FF, F6/F7), ROL ROR RCL RCR SHL
 * SHR SAR (by 1, CL, imm8: counts 0, 1, width−1, width, width+1, ≥ 32), SHLD SHRD, MUL, IMUL (all
 * forms), DIV, IDIV (with #DE), BT BTS BTR BTC (register, immediate and bit-string memory forms with
 * offsets beyond the operand), BSF BSR, SETcc, CMOVcc, CMPXCHG, CMPXCHG8B, XADD, BSWAP, MOVZX,
 * MOVSX, XCHG, MOV, LEA, CBW/CWDE/CWD/CDQ, LAHF/SAHF, CLC/STC/CMC/CLD/STD, XLAT, NOP, MOVS CMPS STOS
 * LODS SCAS (none/REP/REPE/REPNE, DF = 0 and 1, counts 0..8), #UD (LOCK on non-lockable forms,
 * UD2) and #GP (instructions longer than 15 bytes, error code compared).
 *
 * Two record sources, each one `it` per form:
 * - a fresh run: gcc builds the generator into a temp dir and runs it with a new seed (printed;
 *   reproduce with DIFFTEST_SEED=<seed>; DIFFTEST_CASES sets cases per form, default 2000;
 *   DIFFTEST_FORM=<name substring> limits the fresh run to matching forms).
 *   Skipped with a visible message when gcc is missing or the host is not x86-64.
 * - the committed corpus test/corpus/difftest.txt.gz (fixed seed, 300 cases per form), so machines
 *   without gcc still test. Regenerate it with `npm run difftest:corpus -w @pv/x86-core`.
 *
 * The host cannot execute 32-bit code (its kernel has no IA-32 compatibility mode), so the
 * reference runs the same instruction semantics in 64-bit mode (see gen.c). Forms that cannot be
 * run natively there are NOT covered here; the SingleStepTests vectors (singlestep.test.ts) cover them:
 * - BCD: DAA, DAS, AAA, AAS, AAM, AAD (#UD in 64-bit mode);
 * - 16-bit address size (the 0x67 prefix selects 32-bit addressing in 64-bit mode), including
 *   string instructions with SI/DI/CX and 16-bit ModRM forms;
 * - PUSH/POP of any kind, PUSHA/POPA, PUSHF/POPF, ENTER/LEAVE, CALL/RET/JMP/Jcc/LOOP/JCXZ (64-bit
 *   stack and branch semantics differ), BOUND, INTO, ARPL, LDS/LES, segment-register moves;
 * - INC/DEC r32 in the 40-4F short form (REX prefixes in 64-bit mode; covered here through FE/FF),
 *   the 82 alias of group 1 (#UD in 64-bit mode), MOV moffs (A0-A3: 64-bit offsets), disp32-only
 *   ModRM (RIP-relative in 64-bit mode: memory operands here use base/index forms instead);
 * - BSWAP with a 16-bit operand (undefined by the SDM).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Cpu, type Exit, FlatMemory } from '../src/index';

// ---- the layout shared with gen.c --------------------------------------------------------------
/**
 * Each instruction ends within 8 bytes of CODE_PAGE_END (the record index picks the distance), so
 * instructions and the HLT after them straddle the page boundary in every possible way.
 */
const CODE_PAGE_END = 0x00201000;
/** The 64-byte data window straddles a page boundary (gen.c). */
const WINDOW = 0x00100fe0;
const WINSZ = 64;
/** Bytes on either side of the window that must stay untouched. */
const GUARD = 256;
const GUARD_BYTE = 0xcc;
/** Exception handlers: one HLT per vector at HANDLERS + 16 × vector. */
const HANDLERS = 0x00300000;
const IDT = 0x00301000;
const GDT = 0x00302000;
const SETUP = 0x00303000;
const RAM_SIZE = 4 << 20;
const VECTORS = 32;
/** Vectors that push an error code (SDM Vol. 3 §6.13). */
const WITH_ERROR_CODE = new Set([8, 10, 11, 12, 13, 14, 17]);
const REG_NAMES = ['EAX', 'ECX', 'EDX', 'EBX', 'ESP', 'EBP', 'ESI', 'EDI'];
const FLAG_NAMES: [number, string][] = [
  [0x001, 'CF'],
  [0x004, 'PF'],
  [0x010, 'AF'],
  [0x040, 'ZF'],
  [0x080, 'SF'],
  [0x400, 'DF'],
  [0x800, 'OF'],
];
const ESP = 4;
/** CF PF AF ZF SF DF OF: the bits the records describe. */
const ARITH_AND_DF = 0xcd5;
const FLAG_RF = 0x10000;

// ---- records ------------------------------------------------------------------------------------
interface Form {
  index: number;
  name: string;
  lines: string[];
}

interface Record {
  code: Uint8Array;
  regsIn: Uint32Array;
  flagsIn: number;
  memIn: Uint8Array | null;
  regsOut: Uint32Array;
  flagsOut: number;
  memOut: Uint8Array;
  vector: number;
  /** Error code pushed with the exception, −1 for none. */
  errorCode: number;
  definedFlags: number;
  undefinedBits: Uint32Array;
}

/** Hex digit values by character code (−1: not a hex digit). */
const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX['0123456789abcdef'.charCodeAt(i)] = i;
  HEX['0123456789ABCDEF'.charCodeAt(i)] = i;
}
function hexDigits(s: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const d = HEX[s.charCodeAt(i)] ?? -1;
    if (d < 0) throw new Error(`difftest: bad hex "${s}"`);
    v = (v << 4) | d;
  }
  return v >>> 0;
}
function hexBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = hexDigits(s, 2 * i, 2);
  return out;
}
function hexRegs(s: string): Uint32Array {
  const out = new Uint32Array(8);
  for (let i = 0; i < 8; i++) out[i] = hexDigits(s, 8 * i, 8);
  return out;
}

function parseRecord(line: string): Record {
  const f = line.split(' ');
  if (f.length !== 12 || f[0] !== 'C') throw new Error(`difftest: malformed record: ${line}`);
  const memIn = f[5] === '-' ? null : hexBytes(f[5]!);
  const memOut = memIn ? memIn.slice() : new Uint8Array(WINSZ);
  if (f[8] !== '-') {
    for (const run of f[8]!.split(',')) {
      const [off, bytes] = run.split('=') as [string, string];
      memOut.set(hexBytes(bytes), Number.parseInt(off, 16));
    }
  }
  const undefinedBits = new Uint32Array(8);
  if (f[11] !== '-') {
    for (const item of f[11]!.split(',')) {
      const [reg, mask] = item.split('=') as [string, string];
      undefinedBits[Number(reg)] = Number.parseInt(mask, 16);
    }
  }
  return {
    code: hexBytes(f[2]!),
    regsIn: hexRegs(f[3]!),
    flagsIn: Number.parseInt(f[4]!, 16),
    memIn,
    regsOut: hexRegs(f[6]!),
    flagsOut: Number.parseInt(f[7]!, 16),
    memOut,
    vector: f[9] === '-' ? -1 : Number.parseInt(f[9]!, 16),
    errorCode: f[9]!.includes(':') ? Number.parseInt(f[9]!.split(':')[1]!, 16) : -1,
    definedFlags: Number.parseInt(f[10]!, 16),
    undefinedBits,
  };
}

function parseStream(text: string): Form[] {
  const forms = new Map<number, Form>();
  for (const line of text.split('\n')) {
    if (line.startsWith('F ')) {
      const sp = line.indexOf(' ', 2);
      const index = Number(line.slice(2, sp));
      forms.set(index, { index, name: line.slice(sp + 1), lines: [] });
    } else if (line.startsWith('C ')) {
      const index = Number(line.slice(2, line.indexOf(' ', 2)));
      const form = forms.get(index);
      if (!form) throw new Error(`difftest: record before its form line: ${line}`);
      form.lines.push(line);
    }
  }
  return [...forms.values()];
}

// ---- record sources -----------------------------------------------------------------------------
const here = dirname(fileURLToPath(import.meta.url));
const GENERATOR = join(here, 'difftest', 'gen.c');
const CORPUS = join(here, 'corpus', 'difftest.txt.gz');

type Fresh = { forms: Form[]; seed: string; cases: number } | { skip: string };

function freshRecords(): Fresh {
  if (process.arch !== 'x64' || process.platform !== 'linux') {
    return { skip: `host is ${process.platform}/${process.arch}, the generator needs x86-64 Linux` };
  }
  if (spawnSync('gcc', ['--version']).status !== 0) return { skip: 'gcc not found' };
  const seed = process.env['DIFFTEST_SEED'] ?? String(Math.floor(Math.random() * 0x100000000));
  const cases = Number(process.env['DIFFTEST_CASES'] ?? 2000);
  const dir = mkdtempSync(join(tmpdir(), 'pv-difftest-'));
  try {
    const exe = join(dir, 'difftest');
    const cc = spawnSync('gcc', ['-O2', '-o', exe, GENERATOR], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`difftest: gcc failed:\n${cc.stderr}`);
    const args = [seed, String(cases)];
    const filter = process.env['DIFFTEST_FORM'];
    if (filter) args.push(filter);
    const run = spawnSync(exe, args, { encoding: 'utf8', maxBuffer: 1 << 30 });
    if (run.status === 3) return { skip: `generator cannot map its fixed addresses: ${run.stderr.trim()}` };
    if (run.status !== 0) throw new Error(`difftest: generator failed (${run.status}):\n${run.stderr}`);
    return { forms: parseStream(run.stdout), seed, cases };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- the emulator harness -----------------------------------------------------------------------
class Harness {
  readonly cpu: Cpu;
  readonly ram: Uint8Array;
  private readonly view: DataView;

  constructor() {
    const memory = new FlatMemory(RAM_SIZE);
    this.cpu = new Cpu({ memory });
    this.ram = memory.bytes;
    this.view = new DataView(this.ram.buffer, this.ram.byteOffset, this.ram.byteLength);
    this.installTables();
  }

  /**
   * A flat GDT (0x08 code, 0x10 data) and an IDT whose 32 interrupt gates each lead to a HLT;
   * rewritten after every case that raised an exception or failed, in case a stray frame or write
   * (ESP is random in most forms) landed on them.
   */
  private writeTables(): void {
    const v = this.view;
    const flat = (at: number, access: number) => {
      v.setUint32(at, 0x0000ffff, true);
      v.setUint32(at + 4, 0x00cf0000 | (access << 8), true);
    };
    v.setUint32(GDT, 0, true);
    v.setUint32(GDT + 4, 0, true);
    flat(GDT + 8, 0x9b);
    flat(GDT + 16, 0x93);
    for (let vec = 0; vec < VECTORS; vec++) {
      const handler = HANDLERS + 16 * vec;
      this.ram[handler] = 0xf4;
      v.setUint16(IDT + 8 * vec, handler & 0xffff, true);
      v.setUint16(IDT + 8 * vec + 2, 0x08, true);
      v.setUint16(IDT + 8 * vec + 4, 0x8e00, true); // present, DPL 0, 32-bit interrupt gate
      v.setUint16(IDT + 8 * vec + 6, handler >>> 16, true);
    }
  }

  /** Loads GDTR and IDTR with the tables of writeTables() by running LGDT and LIDT. */
  private installTables(): void {
    const v = this.view;
    this.writeTables();
    v.setUint16(SETUP + 0x100, 3 * 8 - 1, true);
    v.setUint32(SETUP + 0x102, GDT, true);
    v.setUint16(SETUP + 0x108, VECTORS * 8 - 1, true);
    v.setUint32(SETUP + 0x10a, IDT, true);
    // lgdt [SETUP+0x100]; lidt [SETUP+0x108]; hlt
    this.ram.set([0x0f, 0x01, 0x15], SETUP);
    v.setUint32(SETUP + 3, SETUP + 0x100, true);
    this.ram.set([0x0f, 0x01, 0x1d], SETUP + 7);
    v.setUint32(SETUP + 10, SETUP + 0x108, true);
    this.ram[SETUP + 14] = 0xf4;
    this.cpu.enterFlatProtectedMode(SETUP);
    const exit = this.cpu.run(10);
    if (exit.reason !== 'hlt' || this.cpu.eip !== SETUP + 15) {
      throw new Error(`difftest: LGDT/LIDT setup ended with ${exit.reason} at ${hex(this.cpu.eip)}`);
    }
  }

  /** Runs one record; returns a description of every difference, or null when all agree. */
  check(rec: Record, slot: number): string | null {
    const { cpu, ram } = this;
    const code = CODE_PAGE_END - rec.code.length + (slot % 16) - 8;
    ram.set(rec.code, code);
    ram[code + rec.code.length] = 0xf4; // HLT
    ram.fill(GUARD_BYTE, WINDOW - GUARD, WINDOW + WINSZ + GUARD);
    if (rec.memIn) ram.set(rec.memIn, WINDOW);
    else ram.fill(0, WINDOW, WINDOW + WINSZ);
    cpu.enterFlatProtectedMode(code);
    for (let i = 0; i < 8; i++) cpu.regs[i] = rec.regsIn[i]! | 0;
    cpu.eflags = rec.flagsIn;

    let exit: Exit;
    try {
      exit = cpu.run(1000);
    } catch (e) {
      return `host exception from run(): ${e instanceof Error ? e.stack : String(e)}`;
    }
    const diffs: string[] = [];
    const eip = cpu.eip;
    let vector = -1;
    let flags = cpu.eflags;
    const regs = Uint32Array.from(cpu.regs, (x) => x >>> 0);
    if (exit.reason === 'hlt' && eip === code + rec.code.length + 1) {
      // completed normally
    } else if (
      exit.reason === 'hlt' &&
      eip > HANDLERS &&
      eip <= HANDLERS + 16 * VECTORS &&
      (eip - HANDLERS - 1) % 16 === 0
    ) {
      vector = (eip - HANDLERS - 1) / 16;
      // Undo the exception frame to get the state at the fault: [error code,] EIP, CS, EFLAGS.
      this.writeTables();
      let sp = regs[ESP]!;
      if (sp + 16 > RAM_SIZE)
        return `${vecName(vector)} delivered with ESP ${hex(sp)} outside RAM (expected ${vecName(rec.vector)})`;
      let errorCode = -1;
      if (WITH_ERROR_CODE.has(vector)) {
        errorCode = this.view.getUint32(sp, true);
        sp += 4;
      }
      if (vector === rec.vector && errorCode !== rec.errorCode) {
        diffs.push(
          `error code ${errorCode < 0 ? 'none' : hex(errorCode)}, expected ${rec.errorCode < 0 ? 'none' : hex(rec.errorCode)}`,
        );
      }
      const frameEip = this.view.getUint32(sp, true);
      const frameCs = this.view.getUint32(sp + 4, true) & 0xffff;
      if (frameCs !== 0x08) diffs.push(`fault pushed CS ${hex(frameCs)}, expected 0x08`);
      flags = this.view.getUint32(sp + 8, true);
      regs[ESP] = sp + 12;
      if (frameEip !== code)
        diffs.push(`fault pushed EIP ${hex(frameEip)}, expected ${hex(code)} (a fault restarts)`);
    } else {
      this.writeTables();
      return `no clean end: exit '${exit.reason}' after ${exit.instructions} instructions at EIP ${hex(eip)}`;
    }
    if (vector !== rec.vector) {
      diffs.push(`exception: ${vecName(vector)}, expected ${vecName(rec.vector)}`);
    }
    for (let i = 0; i < 8; i++) {
      const bad = (regs[i]! ^ rec.regsOut[i]!) & ~rec.undefinedBits[i]!;
      if (bad !== 0) diffs.push(`${REG_NAMES[i]} = ${hex(regs[i]!)}, expected ${hex(rec.regsOut[i]!)}`);
    }
    const badFlags = (flags ^ rec.flagsOut) & rec.definedFlags;
    if (badFlags !== 0) {
      const names = FLAG_NAMES.filter(([bit]) => badFlags & bit).map(
        ([bit, name]) => `${name}=${flags & bit ? 1 : 0} (expected ${rec.flagsOut & bit ? 1 : 0})`,
      );
      diffs.push(`EFLAGS ${names.join(' ')}`);
    }
    // None of these forms touches a system flag: the rest of EFLAGS must read 0x2 (bit 1 set, IF
    // and the others clear as loaded), except RF, which a fault sets in the pushed image (SDM §17.3.1.1).
    const system = flags & ~(ARITH_AND_DF | (vector >= 0 ? FLAG_RF : 0));
    if (system !== 0x2) diffs.push(`EFLAGS system/reserved bits ${hex(system)}, expected 0x00000002`);
    for (let i = -GUARD; i < WINSZ + GUARD; i++) {
      const expected = i < 0 || i >= WINSZ ? GUARD_BYTE : rec.memOut[i]!;
      const actual = ram[WINDOW + i]!;
      if (actual !== expected)
        diffs.push(`memory [${hex(WINDOW + i)}] = ${hex2(actual)}, expected ${hex2(expected)}`);
      if (diffs.length > 12) break;
    }
    if (diffs.length === 0) return null;
    this.writeTables();
    return diffs.join('; ');
  }
}

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
}
function hex2(v: number): string {
  return v.toString(16).padStart(2, '0');
}
function vecName(v: number): string {
  const names: { [v: number]: string } = { 0: '#DE', 6: '#UD', 8: '#DF', 13: '#GP', 14: '#PF' };
  return v < 0 ? 'none' : `vector ${v}${names[v] ? ` (${names[v]})` : ''}`;
}
function flagString(f: number): string {
  return `${hex(f)} [${FLAG_NAMES.filter(([bit]) => f & bit)
    .map(([, n]) => n)
    .join(' ')}]`;
}

function describeInputs(rec: Record, slot: number): string {
  const code = `${[...rec.code].map(hex2).join(' ')} at ${hex(CODE_PAGE_END - rec.code.length + (slot % 16) - 8)}`;
  const regs = REG_NAMES.map((n, i) => `${n}=${hex(rec.regsIn[i]!)}`).join(' ');
  const mem = rec.memIn ? [...rec.memIn].map(hex2).join('') : '(zero)';
  return `  code ${code}\n  in:  ${regs} EFLAGS=${flagString(rec.flagsIn)}\n  window ${mem}\n  defined flags ${flagString(rec.definedFlags)}`;
}

/** One `it` per form: every record of the form must agree. */
function defineForms(forms: Form[], harness: () => Harness): void {
  for (const form of forms) {
    it(`${form.name} (${form.lines.length} cases)`, () => {
      const h = harness();
      const failures: string[] = [];
      let failed = 0;
      for (let k = 0; k < form.lines.length; k++) {
        const rec = parseRecord(form.lines[k]!);
        const diff = h.check(rec, k);
        if (diff !== null) {
          failed++;
          if (failures.length < 5) failures.push(`${describeInputs(rec, k)}\n  diff: ${diff}`);
        }
      }
      expect(
        failed,
        `${form.name}: ${failed} of ${form.lines.length} cases disagree with the host CPU; first ${failures.length}:\n${failures.join('\n')}`,
      ).toBe(0);
    });
  }
}

let shared: Harness | null = null;
const harness = (): Harness => {
  shared ??= new Harness();
  return shared;
};

const corpusForms = existsSync(CORPUS) ? parseStream(gunzipSync(readFileSync(CORPUS)).toString('utf8')) : [];

describe('difftest: committed corpus (seed 1)', () => {
  const forms = corpusForms;
  it('corpus is present and covers every form', () => {
    expect(existsSync(CORPUS), `missing ${CORPUS}`).toBe(true);
    expect(forms.length).toBeGreaterThan(100);
    for (const f of forms) expect(f.lines.length, f.name).toBeGreaterThan(0);
  });
  it('the comparison catches a wrong register, flag, memory byte, exception and error code', () => {
    // Negative control: corrupt one expectation at a time in records the emulator agrees with.
    const pick = (name: string, ok: (r: Record) => boolean) => {
      const lines = forms.find((f) => f.name === name)?.lines ?? [];
      for (const line of lines) {
        const rec = parseRecord(line);
        if (ok(rec) && harness().check(rec, 0) === null) return rec;
      }
      throw new Error(`no passing ${name} record to corrupt`);
    };
    const plain = pick('ADD 32', (r) => r.vector < 0 && r.memIn !== null);
    expect(
      harness().check({ ...plain, regsOut: plain.regsOut.map((v, i) => (i === 3 ? v ^ 1 : v)) }, 0),
    ).toMatch(/EBX/);
    expect(harness().check({ ...plain, flagsOut: plain.flagsOut ^ 0x800 }, 0)).toMatch(/OF=/);
    const memOut = plain.memOut.slice();
    memOut[WINSZ - 1]! ^= 0x80;
    expect(harness().check({ ...plain, memOut }, 0)).toMatch(/memory/);
    expect(harness().check({ ...plain, vector: 0 }, 0)).toMatch(/exception/);
    const gp = pick('#GP: 15-byte limit (prefix runs)', (r) => r.vector === 13);
    expect(harness().check({ ...gp, errorCode: 8 }, 0)).toMatch(/error code/);
    // A masked flag (AF after AND) is not compared.
    const and = pick('AND 32', (r) => r.vector < 0);
    expect(harness().check({ ...and, flagsOut: and.flagsOut ^ 0x10 }, 0)).toBeNull();
  });
  defineForms(forms, harness);
});

const fresh = freshRecords();
if ('skip' in fresh) {
  console.warn(`difftest: fresh host run skipped: ${fresh.skip} (the committed corpus still runs)`);
} else {
  console.log(
    `difftest: fresh host run with seed ${fresh.seed}, ${fresh.cases} cases per form ` +
      `(reproduce: DIFFTEST_SEED=${fresh.seed} npx vitest run --project @pv/x86-core difftest)`,
  );
}
describe(`difftest: fresh host run (seed ${'seed' in fresh ? fresh.seed : 'none'})`, () => {
  if ('skip' in fresh) {
    it.skip(`skipped: ${fresh.skip}`, () => {});
    return;
  }
  if (!process.env['DIFFTEST_FORM']) {
    it('the committed corpus has the same forms as the generator (else: npm run difftest:corpus)', () => {
      expect(corpusForms.map((f) => f.name)).toEqual(fresh.forms.map((f) => f.name));
    });
  }
  defineForms(fresh.forms, harness);
});
