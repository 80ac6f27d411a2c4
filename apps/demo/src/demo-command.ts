/**
 * `pv demo` (`npm run demo`): boots the mini PV kernel natively and paravirtually under both exit
 * models and prints, per workload, exits by kind, virtual cycles, wall time and the PV/native
 * ratios: the seed's claim in numbers.
 */
import { bootMiniKernel, type MiniKernelRun, totalExits } from './mini-kernel';
import type { ExitModel } from './vm';

export type { WorkloadFigures } from './mini-kernel';

/** Boots the mini kernel once (natively: `pv=off`) and collects its per-workload figures. */
export function runMiniKernel(
  mode: 'native' | 'pv',
  exitModel: ExitModel,
  echo?: (line: string) => void,
  smp = 1,
): MiniKernelRun {
  return bootMiniKernel({ mode, exitModel, echo, smp });
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
export function comparisonTable(native: MiniKernelRun, pv: MiniKernelRun): string {
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
  const check = (native: MiniKernelRun, pv: MiniKernelRun) => {
    for (const run of [native, pv]) {
      for (const w of run.workloads) if (w.result.status !== 'ok') ok = false;
      if (run.exitCode !== 0 || run.workloads.length !== 4) ok = false;
    }
    for (const w of native.workloads) {
      const p = pv.workloads.find((x) => x.workload === w.workload);
      if (p?.result.checksum !== w.result.checksum) ok = false;
    }
  };
  for (const exitModel of ['shadow', 'nested'] as const) {
    const echo = (mode: string) =>
      exitModel === 'shadow' ? (l: string) => write(`  ${mode} | ${l}\n`) : undefined;
    const native = runMiniKernel('native', exitModel, echo('native'));
    const pv = runMiniKernel('pv', exitModel, echo('pv    '));
    write(
      `\nexit model: ${exitModel}${exitModel === 'shadow' ? ' (page-table writes, CR3 loads and INVLPG exit)' : ' (EPT-like: they do not)'}\n`,
    );
    write(comparisonTable(native, pv));
    write('\n');
    check(native, pv);
  }
  // SMP: the application processors come up through INIT/SIPI and the IPI workload sends real IPIs.
  const smp = 4;
  const native = runMiniKernel('native', 'shadow', undefined, smp);
  const pv = runMiniKernel('pv', 'shadow', undefined, smp);
  write(
    `exit model: shadow, ${smp} vCPUs (IPIs to other vCPUs: ICR writes natively; KVM_HC_SEND_IPI, PV EOI and KVM_HC_SCHED_YIELD in pv)\n`,
  );
  write(comparisonTable(native, pv));
  write('\n');
  check(native, pv);
  write(
    ok
      ? 'every workload checked its results: same checksums in both modes\n'
      : 'FAILED: a workload reported a failure or checksums differ\n',
  );
  return ok ? 0 : 2;
}
