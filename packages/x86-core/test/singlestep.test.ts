/**
 * SingleStepTests 80286 real-mode vectors (../shared/conformance/80286, read in place, never
 * copied): every shipped vector runs one instruction on a fresh real-mode state; registers, flags
 * (with the data set's undefined-flag masks) and memory must match. Exclusions (286 ≠ P6) are
 * listed in EXCLUDED / excludedTest and in the package README.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Cpu, FlatMemory } from '../src/index';

const repoRoot = resolve(__dirname, '../../..');
const dir = resolve(repoRoot, '../shared/conformance/80286');
const present = existsSync(resolve(dir, 'v1_real_mode'));

/** Whole files excluded, with the reason (mirrored in README.md). */
export const EXCLUDED: Record<string, string> = {
  D8: 'x87 escape: the 286 without a coprocessor ignored it; this CPU has no FPU and raises #UD as the issue specifies',
};

/** Per-test exclusions: returns the reason or null. */
function excludedTest(file: string, v: Vector): string | null {
  const bytes = v.bytes;
  if (bytes.length - 1 > 10) return 'longer than 10 bytes: #UD on the 286, valid up to 15 bytes on the 386+';
  const op = Number.parseInt(file.slice(0, 2), 16);
  if (
    v.exception?.number === 13 &&
    ((op >= 0x6c && op <= 0x6f) || (op >= 0xa4 && op <= 0xaf && op !== 0xa8 && op !== 0xa9))
  ) {
    return 'string op faulting on the segment limit: the 286 updates SI/DI first, 386+ faults are restartable';
  }
  let i = 0;
  while ([0x26, 0x2e, 0x36, 0x3e, 0xf0, 0xf2, 0xf3].includes(bytes[i]!)) i++;
  if ((file === '8C' || file === '8E') && [4, 5].includes((bytes[i + 1]! >> 3) & 7)) {
    return 'MOV to/from FS/GS: valid on the 386+, #UD on the 286';
  }
  return null;
}

interface Regs {
  [k: string]: number;
}
interface Vector {
  idx: number;
  name: string;
  bytes: number[];
  initial: { regs: Regs; ram: [number, number][] };
  final: { regs: Regs; ram: [number, number][] };
  exception?: { number: number; flag_address: number };
  hash: string;
}

const REG16: Record<string, number> = { ax: 0, cx: 1, dx: 2, bx: 3, sp: 4, bp: 5, si: 6, di: 7 };
const SREG: Record<string, number> = { es: 0, cs: 1, ss: 2, ds: 3 };

const memory = new FlatMemory(0x120000);
const cpu = new Cpu({ memory });

/** Runs one vector; returns a mismatch description or null. */
function runVector(v: Vector, mask: number, popsFlags: boolean): string | null {
  cpu.reset();
  const ram = memory.bytes;
  for (const [a, b] of v.initial.ram) ram[a] = b;
  const ir = v.initial.regs;
  for (const [n, i] of Object.entries(REG16)) cpu.regs[i] = ir[n]!;
  for (const [n, i] of Object.entries(SREG)) {
    cpu.loadSegmentCache(i, {
      selector: ir[n]!,
      base: ir[n]! << 4,
      limit: 0xffff,
      attributes: i === 1 ? 0x9b : 0x93,
    });
  }
  cpu.eip = ir.ip!;
  cpu.eflags = (ir.flags! & 0x0fff) | 2;
  cpu.run(1);
  if (v.exception?.number === 13 && cpu.lastVector === 12) return 'SS';
  // LOCK on a form the 386+ does not allow it on: #UD here, executed normally by the 286.
  if (v.bytes.includes(0xf0) && cpu.lastVector === 6 && v.exception?.number !== 6) return 'LOCK';
  const fr = { ...ir, ...v.final.regs };
  const errors: string[] = [];
  for (const [n, i] of Object.entries(REG16)) {
    if ((cpu.regs[i]! & 0xffff) !== fr[n])
      errors.push(`${n}=${(cpu.regs[i]! & 0xffff).toString(16)} want ${fr[n]!.toString(16)}`);
  }
  for (const [n, i] of Object.entries(SREG)) {
    if (cpu.getSegment(i).selector !== fr[n])
      errors.push(`${n}=${cpu.getSegment(i).selector.toString(16)} want ${fr[n]!.toString(16)}`);
  }
  // The recorded IP is after the terminating HLT (README §1.6 step 6).
  const hltAdjust = v.bytes[0] === 0xf4 ? 0 : 1;
  if (((cpu.eip + hltAdjust) & 0xffff) !== fr.ip)
    errors.push(`ip=${((cpu.eip + 1) & 0xffff).toString(16)} want ${fr.ip!.toString(16)}`);
  let fmask = mask;
  // The 286 drops IOPL/NT/bit 15 on POPF/IRET in real mode; a 386+ at CPL 0 keeps them (README §1.4.3).
  if (popsFlags) fmask &= 0x0fff;
  const wantFlags = v.final.regs.flags ?? ir.flags! & 0x0fff;
  if ((cpu.eflags & fmask & 0xffff) !== (wantFlags & fmask)) {
    errors.push(
      `flags=${(cpu.eflags & 0xffff).toString(16)} want ${wantFlags.toString(16)} (mask ${fmask.toString(16)})`,
    );
  }
  for (const [a, b] of v.final.ram) {
    let got = ram[a]!;
    let want = b;
    if (v.exception) {
      // The FLAGS image sits at SS:SP+4 after delivery (flag_address is off by one for odd SP).
      const fa = (fr.ss! << 4) + ((fr.sp! + 4) & 0xffff);
      if (a === fa) {
        got &= mask & 0xff;
        want &= mask & 0xff;
      } else if (a === fa + 1) {
        got &= mask >> 8;
        want &= mask >> 8;
      }
    }
    if (got !== want) errors.push(`[${a.toString(16)}]=${got.toString(16)} want ${b.toString(16)}`);
  }
  // Clean up written memory so the next vector starts from zeros where it specifies nothing.
  for (const [a] of v.initial.ram) ram[a] = 0;
  for (const [a] of v.final.ram) ram[a] = 0;
  return errors.length ? errors.join(', ') : null;
}

describe.skipIf(!present)('SingleStepTests 80286 real mode', () => {
  if (!present) return;
  const index = JSON.parse(readFileSync(resolve(dir, 'index.json'), 'utf8')) as {
    files: Record<string, { 'flags-mask'?: number; mnemonic: string; status: string }>;
  };
  const revoked = new Set(
    readFileSync(resolve(dir, 'revocation_list.txt'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#')),
  );
  const files = readdirSync(resolve(dir, 'v1_real_mode'))
    .filter((f) => f.endsWith('.json.gz'))
    .map((f) => f.replace('.json.gz', ''))
    .sort();

  it('passes every vector of every included opcode', () => {
    const report: string[] = [];
    const failures: string[] = [];
    let total = 0;
    let passed = 0;
    let skipped = 0;
    const reasons = new Map<string, number>();
    for (const file of files) {
      if (EXCLUDED[file]) {
        report.push(`${file.padEnd(5)} excluded: ${EXCLUDED[file]}`);
        continue;
      }
      const meta = index.files[file]!;
      const mask = meta['flags-mask'] ?? 0xffff;
      const vectors = JSON.parse(
        gunzipSync(readFileSync(resolve(dir, 'v1_real_mode', `${file}.json.gz`))).toString(),
      ) as Vector[];
      const opByte = Number.parseInt(file.slice(0, 2), 16);
      let ok = 0;
      let run = 0;
      let skip = 0;
      for (const v of vectors) {
        const why = revoked.has(v.hash) ? 'revoked upstream' : excludedTest(file, v);
        if (why) {
          reasons.set(why, (reasons.get(why) ?? 0) + 1);
          skip++;
          continue;
        }
        run++;
        const err = runVector(v, mask, opByte === 0x9d || opByte === 0xcf);
        if (err === 'SS' || err === 'LOCK') {
          // The 286 raised #GP for stack-segment limit violations where the 386+ raises #SS (SDM
          // §20.1), and executed LOCK with any instruction where the 386+ raises #UD.
          const why =
            err === 'SS'
              ? 'stack-segment limit violation: #GP on the 286, #SS on the 386+'
              : 'LOCK on a non-lockable form: #UD on the 386+, executed by the 286';
          reasons.set(why, (reasons.get(why) ?? 0) + 1);
          run--;
          skip++;
          continue;
        }
        if (err === null) ok++;
        else if (failures.filter((f) => f.startsWith(`${file}#`)).length < 3)
          failures.push(
            `${file}#${v.idx} ${v.name} [${v.bytes.map((b) => b.toString(16)).join(' ')}]: ${err}`,
          );
      }
      total += run;
      passed += ok;
      skipped += skip;
      report.push(
        `${file.padEnd(5)} ${meta.mnemonic.padEnd(8)} ${ok}/${run}${skip ? ` (${skip} excluded)` : ''}`,
      );
    }
    console.log(
      `SingleStepTests 80286: ${passed}/${total} passed (${((100 * passed) / Math.max(1, total)).toFixed(2)} %), ${skipped} vectors excluded:\n${[...reasons].map(([r, n]) => `  ${n} × ${r}`).join('\n')}\n${report.join('\n')}`,
    );
    expect(failures).toEqual([]);
    expect(passed).toBe(total);
  });
});

if (!present) {
  describe('SingleStepTests 80286 real mode', () => {
    it.skip(`skipped: ${dir} is absent`, () => {});
  });
  console.warn(`SingleStepTests skipped: ${dir} not found`);
}
