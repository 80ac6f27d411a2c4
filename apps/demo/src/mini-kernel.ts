/**
 * Boot @pv/guest's mini PV kernel on the reference machine and collect what it reports: the
 * console, its `RESULT` lines, and the host's exits per workload, attributed exactly by the
 * kernel's POST markers (0x10 + i before workload i, 0x20 + i after it). `npm run demo` and the
 * tests use it.
 */
import { miniKernelImage } from '@pv/guest';
import type { PvOps } from '@pv/paravirt-ops';
import type { ExitKindName } from '@pv/x86-core';
import { type ExitModel, type StopReason, Vm } from './vm';

/** Fixed epoch so that runs are reproducible. */
export const MINI_KERNEL_EPOCH_MS = Date.UTC(2026, 0, 1);

const POST_WORKLOAD_BEGIN = 0x10;
const POST_WORKLOAD_END = 0x20;

export interface MiniKernelOptions {
  /**
   * 'pv': hypervisor leaves advertised, hypercall slots chosen by the kernel; 'native': the same
   * machine with `pv=off` on the command line; 'bare': no hypervisor leaves at all (CPUID.1:ECX[31] clear).
   */
  mode?: 'pv' | 'native' | 'bare';
  /** Extra command-line words. */
  cmdline?: string;
  exitModel?: ExitModel;
  smp?: number;
  memoryMiB?: number;
  /** Interpose on the paravirt-ops vtable (fault injection; `VmOptions.ops`). */
  ops?: (ops: PvOps) => PvOps;
  /** Each console line as it completes. */
  echo?: (line: string) => void;
  maxInstructions?: number;
  /** Another kernel image (default: the shipped one). */
  image?: Uint8Array;
}

/** One `RESULT key=value …` line. */
export type ResultFields = Record<string, string>;

export interface WorkloadFigures {
  workload: string;
  /** Host-side exits by kind between the workload's POST markers (every vCPU). */
  exits: Record<ExitKindName, number>;
  /** Virtual cycles between the markers. */
  virtualCycles: number;
  wallMs: number;
  /** The RESULT line's fields (ops, checksum, status, counters …). */
  result: ResultFields;
}

export interface MiniKernelRun {
  mode: 'pv' | 'native' | 'bare';
  exitModel: ExitModel;
  smp: number;
  console: string;
  reason: StopReason;
  /** The value the kernel wrote to the debug-exit port (0 success, 1 a workload failed, …), or null. */
  exitCode: number | null;
  instructions: number;
  virtualCycles: number;
  /** All exits by kind over the whole run. */
  exits: Record<ExitKindName, number>;
  workloads: WorkloadFigures[];
}

export const totalExits = (e: Record<string, number>): number => Object.values(e).reduce((a, b) => a + b, 0);

/** The kernel's RESULT lines, in order. */
export function resultLines(console: string): ResultFields[] {
  return console
    .split('\n')
    .filter((l) => l.startsWith('RESULT '))
    .map((l) =>
      Object.fromEntries(
        l
          .slice(7)
          .split(' ')
          .map((kv) => {
            const i = kv.indexOf('=');
            return [kv.slice(0, i), kv.slice(i + 1)];
          }),
      ),
    );
}

/** Boots the mini kernel once and collects its figures. */
export function bootMiniKernel(options: MiniKernelOptions = {}): MiniKernelRun {
  const mode = options.mode ?? 'pv';
  const exitModel = options.exitModel ?? 'shadow';
  const smp = options.smp ?? 1;
  let console = '';
  let line = '';
  const marks = new Map<number, { exits: Record<ExitKindName, number>; cycles: number; wall: number }>();
  const decoder = new TextDecoder('latin1');
  const vm: Vm = new Vm({
    memoryMiB: options.memoryMiB ?? 64,
    smp,
    pv: mode !== 'bare',
    epochMs: MINI_KERNEL_EPOCH_MS,
    exitModel,
    ops: options.ops,
    onPost: (code) => {
      if (code >= POST_WORKLOAD_BEGIN && code < POST_WORKLOAD_END + 0x10)
        marks.set(code, { exits: vm.exits(), cycles: vm.clock.now(), wall: performance.now() });
    },
    console: (bytes) => {
      const text = decoder.decode(bytes);
      console += text;
      if (!options.echo) return;
      for (const c of text) {
        if (c !== '\n') line += c;
        else {
          options.echo(line);
          line = '';
        }
      }
    },
  });
  const cmdline = [mode === 'native' ? 'pv=off' : '', options.cmdline ?? ''].filter(Boolean).join(' ');
  vm.bootMultiboot(options.image ?? miniKernelImage(), { name: 'pv-kernel.elf', cmdline });
  const r = vm.run(options.maxInstructions ?? 1_000_000_000);
  const results = resultLines(console);
  const workloads: WorkloadFigures[] = [];
  for (let i = 0; i < 0x10; i++) {
    const begin = marks.get(POST_WORKLOAD_BEGIN + i);
    const end = marks.get(POST_WORKLOAD_END + i);
    if (!begin || !end) continue;
    const exits = Object.fromEntries(
      Object.entries(end.exits).map(([k, v]) => [k, v - begin.exits[k as ExitKindName]]),
    ) as Record<ExitKindName, number>;
    const result = results[i] ?? {};
    workloads.push({
      workload: result.workload ?? `#${i}`,
      exits,
      virtualCycles: end.cycles - begin.cycles,
      wallMs: end.wall - begin.wall,
      result,
    });
  }
  return {
    mode,
    exitModel,
    smp,
    console,
    reason: r.reason,
    exitCode: r.reason === 'debug-exit' && r.status !== undefined ? (r.status - 1) >> 1 : null,
    instructions: vm.instructions,
    virtualCycles: vm.clock.now(),
    exits: vm.exits(),
    workloads,
  };
}
