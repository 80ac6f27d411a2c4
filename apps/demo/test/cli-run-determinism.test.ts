/**
 * Determinism through the `pv run` CLI path: two runs of the same image and input with a fixed
 * epoch give byte-identical console output, instruction counts and exit statistics — with one
 * vCPU and with `--smp 4` (application processors started by INIT/SIPI, IPIs between vCPUs).
 */
import { MINI_KERNEL_PATH } from '@pv/guest';
import { describe, expect, it } from 'vitest';
import { runCommand } from '../src/run-command';

interface Run {
  status: number;
  stdout: Buffer;
  stats: { exits: Record<string, number>; instructions: number; virtualCycles: number; post: number | null };
}

async function pvRun(...argv: string[]): Promise<Run> {
  const out: Buffer[] = [];
  let stderr = '';
  const status = await runCommand([MINI_KERNEL_PATH, '--stats', '--epoch', '1767225600', ...argv], {
    stdout: (b) => out.push(Buffer.from(b)),
    stderr: (t) => {
      stderr += t;
    },
    // A clock that never moves: --timeout cannot fire, wallMs is 0 in both runs.
    now: () => 0,
  });
  const { wallMs, ...stats } = JSON.parse(stderr.trim().split('\n').at(-1)!);
  expect(wallMs).toBe(0);
  return { status, stdout: Buffer.concat(out), stats };
}

describe('pv run is deterministic with a fixed epoch', () => {
  for (const smp of ['1', '4']) {
    for (const mode of ['on', 'off']) {
      it(`--smp ${smp} --pv ${mode}: byte-identical console, instructions and exit statistics`, async () => {
        const a = await pvRun('--smp', smp, '--pv', mode, '--mem', '64');
        const b = await pvRun('--smp', smp, '--pv', mode, '--mem', '64');
        expect(a.status).toBe(1); // debug-exit 0: (0 << 1) | 1
        const text = a.stdout.toString('latin1');
        expect(text).toMatch(/\nDONE\n$/);
        expect(text).toContain(`smp: ${smp} of ${smp} CPUs online`);
        expect(text).toMatch(
          new RegExp(`RESULT workload=ipi mode=${mode === 'on' ? 'pv' : 'native'} .* cpus=${smp} status=ok`),
        );
        expect(b.status).toBe(a.status);
        expect(b.stdout.equals(a.stdout)).toBe(true);
        expect(b.stats).toEqual(a.stats);
        expect(a.stats.post).toBe(0x23);
        expect(a.stats.instructions).toBeGreaterThan(1_000_000);
      }, 120_000);
    }
  }
});
