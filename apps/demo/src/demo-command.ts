/**
 * `pv demo` (`npm run demo`): boots the mini PV kernel natively and paravirtually under both exit
 * models and prints, per workload, exits by kind, virtual cycles, wall time and the PV/native
 * ratios: the seed's claim in numbers.
 */
import { miniKernelImage } from '@pv/guest';
import type { ExitKindName } from '@pv/x86-core';
import { type ExitModel, Vm } from './vm';

/** Fixed epoch so that the demo's output is reproducible. */
const DEMO_EPOCH_MS = Date.UTC(2026, 0, 1);

export interface WorkloadFigures {
  workload: string;
  /** Host-side exits by kind between the kernel's BEGIN and RESULT lines. */
  exits: Record<ExitKindName, number>;
  /** Virtual cycles between BEGIN and RESULT. */
  virtualCycles: number;
  wallMs: number;
  /** The RESULT line's fields (ops, checksum, status, …). */
  result: Record<string, string>;
}

export interface DemoRun {
  mode: 'native' | 'pv';
  exitModel: ExitModel;
  workloads: WorkloadFigures[];
  console: string;
  status: number | undefined;
}

const totalExits = (e: Record<string, number>) => Object.values(e).reduce((a, b) => a + b, 0);

/** Boots the mini kernel once and collects its per-workload figures. */
export function runMiniKernel(
  mode: 'native' | 'pv',
  exitModel: ExitModel,
  echo?: (line: string) => void,
): DemoRun {
  let console = '';
  let line = '';
  const workloads: WorkloadFigures[] = [];
  let begin: { exits: Record<ExitKindName, number>; cycles: number; wall: number } | undefined;
  const vm: Vm = new Vm({
    memoryMiB: 64,
    epochMs: DEMO_EPOCH_MS,
    exitModel,
    console: (bytes) => {
      for (const b of bytes) {
        const c = String.fromCharCode(b);
        console += c;
        if (c !== '\n') {
          line += c;
          continue;
        }
        echo?.(line);
        if (line.startsWith('BEGIN ')) {
          begin = { exits: vm.exits(), cycles: vm.clock.now(), wall: performance.now() };
        } else if (line.startsWith('RESULT ') && begin) {
          const now = vm.exits();
          const exits = Object.fromEntries(
            Object.entries(now).map(([k, v]) => [k, v - begin!.exits[k as ExitKindName]]),
          ) as Record<ExitKindName, number>;
          const result = Object.fromEntries(
            line
              .slice(7)
              .split(' ')
              .map((kv) => kv.split('=') as [string, string]),
          );
          workloads.push({
            workload: result.workload ?? '?',
            exits,
            virtualCycles: vm.clock.now() - begin.cycles,
            wallMs: performance.now() - begin.wall,
            result,
          });
          begin = undefined;
        }
        line = '';
      }
    },
  });
  vm.bootMultiboot(miniKernelImage(), { name: 'pv-kernel.elf', cmdline: mode === 'native' ? 'pv=off' : '' });
  const r = vm.run(500_000_000);
  return { mode, exitModel, workloads, console, status: r.reason === 'debug-exit' ? r.status : undefined };
}

function fmt(n: number): string {
  return n >= 1e6
    ? `${(n / 1e6).toFixed(2)}M`
    : n >= 1e4
      ? `${(n / 1e3).toFixed(1)}k`
      : String(Math.round(n));
}

function breakdown(e: Record<string, number>): string {
  return Object.entries(e)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

/** The side-by-side table of one exit model. */
export function comparisonTable(native: DemoRun, pv: DemoRun): string {
  const rows: string[][] = [
    [
      'workload',
      'native exits',
      'pv exits',
      'exits pv/native',
      'native cycles',
      'pv cycles',
      'cycles pv/native',
      'wall pv/native',
    ],
  ];
  const detail: string[] = [];
  for (const n of native.workloads) {
    const p = pv.workloads.find((w) => w.workload === n.workload);
    if (!p) continue;
    const [ne, pe] = [totalExits(n.exits), totalExits(p.exits)];
    rows.push([
      n.workload,
      fmt(ne),
      fmt(pe),
      ne ? (pe / ne).toFixed(3) : '-',
      fmt(n.virtualCycles),
      fmt(p.virtualCycles),
      (p.virtualCycles / n.virtualCycles).toFixed(3),
      (p.wallMs / n.wallMs).toFixed(2),
    ]);
    detail.push(
      `  ${n.workload.padEnd(8)} native: ${breakdown(n.exits) || 'none'}\n  ${''.padEnd(8)} pv:     ${breakdown(p.exits) || 'none'}`,
    );
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const table = rows.map((r) =>
    r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '),
  );
  return `${table.join('\n')}\n\nexits by kind:\n${detail.join('\n')}\n`;
}

/** Runs the whole demo; returns the process status (0 when every workload reported ok in both modes). */
export function demoCommand(write: (text: string) => void): number {
  write('@pv demo: the mini PV kernel, booted natively (pv=off) and paravirtually (batched hypercalls)\n\n');
  let ok = true;
  for (const exitModel of ['shadow', 'nested'] as const) {
    const native = runMiniKernel(
      'native',
      exitModel,
      exitModel === 'shadow' ? (l) => write(`  native | ${l}\n`) : undefined,
    );
    const pv = runMiniKernel(
      'pv',
      exitModel,
      exitModel === 'shadow' ? (l) => write(`  pv     | ${l}\n`) : undefined,
    );
    write(
      `\nexit model: ${exitModel}${exitModel === 'shadow' ? ' (page-table writes, CR3 loads and INVLPG exit)' : ' (EPT-like: they do not)'}\n`,
    );
    write(comparisonTable(native, pv));
    write('\n');
    for (const run of [native, pv]) {
      for (const w of run.workloads) if (w.result.status !== 'ok') ok = false;
      if (run.status !== 1) ok = false;
    }
    for (const w of native.workloads) {
      const p = pv.workloads.find((x) => x.workload === w.workload);
      if (p?.result.checksum !== w.result.checksum) ok = false;
    }
  }
  write(
    ok
      ? 'every workload checked its results: same checksums in both modes\n'
      : 'FAILED: a workload reported a failure or checksums differ\n',
  );
  return ok ? 0 : 2;
}
