/** `pv run`: boot a multiboot kernel (or a ROM) with COM1 on stdin/stdout. */
import { readFileSync } from 'node:fs';
import { GuestError, romRegions } from '@pv/guest';
import { parseRunArgs, type RunArgs, UsageError } from './args';
import { type RunResult, Vm } from './vm';

/** Exit statuses of `pv run` (issue 11): stable, documented in the README. */
export const STATUS_OK = 0;
export const STATUS_GUEST_FAILURE = 2;
export const STATUS_USAGE = 64;
export const STATUS_TIMEOUT = 124;

/** Paravirt-ops calls kept by --trace. */
const TRACE_CAPACITY = 64;

/** Instructions between two looks at the wall clock and at stdin. */
const CHUNK = 2_000_000;

export interface RunIo {
  stdout: (bytes: Uint8Array) => void;
  stderr: (text: string) => void;
  /**
   * Registers a COM1 input source (and, optionally, the end of that input); returns a function
   * that unregisters it. While the input is open, a guest that halts waiting for an interrupt
   * (e.g. the mini kernel with `echo`) is kept running until input arrives.
   */
  stdin?: (onData: (bytes: Uint8Array) => void, onEnd?: () => void) => () => void;
  now?: () => number;
  /** Show a progress line (stderr is a terminal): once a second after the first two seconds. */
  progress?: boolean;
}

function readInput(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new UsageError(`cannot read ${what} '${path}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

function buildVm(args: RunArgs, io: RunIo): Vm {
  const bios = args.bios === undefined ? undefined : romRegions(readInput(args.bios, 'ROM image'), args.bios);
  const vm = new Vm({
    memoryMiB: args.memMiB,
    smp: args.smp,
    pv: args.pv,
    exitModel: args.exitModel,
    epochMs: args.epochMs,
    console: io.stdout,
    bios,
    traceCapacity: args.trace ? TRACE_CAPACITY : 0,
  });
  if (args.file !== undefined) {
    const modules = args.modules.map((m) => ({ name: m, data: readInput(m, 'module') }));
    vm.bootMultiboot(readInput(args.file, 'kernel'), { name: args.file, cmdline: args.append, modules });
  }
  return vm;
}

/** Runs `pv run …`; resolves to the process exit status. */
export async function runCommand(argv: readonly string[], io: RunIo): Promise<number> {
  const started = (io.now ?? Date.now)();
  let args: RunArgs;
  let vm: Vm;
  try {
    args = parseRunArgs(argv);
    vm = buildVm(args, io);
  } catch (e) {
    if (e instanceof UsageError || GuestError.isInstance(e)) {
      io.stderr(`pv: ${(e as Error).message}\n`);
      return STATUS_USAGE;
    }
    throw e;
  }
  let inputOpen = io.stdin !== undefined;
  let inputArrived = false;
  const unlisten = io.stdin?.(
    (bytes) => {
      inputArrived = true;
      vm.input(bytes);
    },
    () => {
      inputOpen = false;
    },
  );
  let result: RunResult | undefined;
  let timedOut = false;
  let total = 0;
  let resets = 0;
  let lastProgress = 0;
  try {
    for (;;) {
      result = vm.run(Math.min(CHUNK, args.maxInstructions - total));
      total += result.instructions;
      if (result.reason === 'reset' && args.reboot) {
        // --reboot: a guest-requested reset restarts the machine from scratch (same image and options).
        resets++;
        vm = buildVm(args, io);
        continue;
      }
      if (result.reason === 'halted' && result.waiting && inputOpen) {
        // Halted with interrupts on and nothing scheduled: wait for COM1 input (or its end).
        inputArrived = false;
        while (!inputArrived && inputOpen && ((io.now ?? Date.now)() - started) / 1000 < args.timeoutSec)
          await new Promise((r) => setTimeout(r, 10));
        if (inputArrived || inputOpen) {
          if (!inputArrived) {
            timedOut = true;
            break;
          }
          continue;
        }
        break; // the input ended: the halt is final
      }
      if (result.reason !== 'budget') break;
      const elapsed = (io.now ?? Date.now)() - started;
      if (io.progress && elapsed > 2000 && elapsed - lastProgress >= 1000) {
        lastProgress = elapsed;
        io.stderr(
          `\rpv: ${(total / 1e6).toFixed(0)}M instructions, ${(total / elapsed / 1e3).toFixed(1)} MIPS, ${(elapsed / 1000).toFixed(0)} s `,
        );
      }
      if (total >= args.maxInstructions) break;
      if (((io.now ?? Date.now)() - started) / 1000 >= args.timeoutSec) {
        timedOut = true;
        break;
      }
      await new Promise((r) => setImmediate(r)); // let stdin data reach COM1
    }
  } finally {
    unlisten?.();
    if (lastProgress > 0) io.stderr('\n');
  }
  const status = exitStatus(result!, total, timedOut, io);
  if (args.trace && vm.trace) {
    io.stderr(`pv: last ${vm.trace.entries().length} of ${vm.trace.total} paravirt-ops calls:\n`);
    for (const e of vm.trace.entries()) {
      io.stderr(`  #${e.seq} ${e.op}(${e.args.filter((a) => !Number.isNaN(a)).join(', ')}) = ${e.result}\n`);
    }
  }
  if (args.stats) {
    io.stderr(
      `${JSON.stringify({
        exits: vm.exits(),
        instructions: vm.instructions,
        virtualCycles: vm.clock.now(),
        wallMs: Math.round((io.now ?? Date.now)() - started),
        post: vm.post.lastCode >= 0 ? vm.post.lastCode : null,
        resets,
      })}\n`,
    );
  }
  return status;
}

function exitStatus(r: RunResult, total: number, timedOut: boolean, io: RunIo): number {
  if (timedOut) {
    io.stderr('pv: wall-clock timeout\n');
    return STATUS_TIMEOUT;
  }
  switch (r.reason) {
    case 'debug-exit':
      return r.status ?? STATUS_OK;
    case 'halted':
    case 'poweroff':
    case 'reset':
      return STATUS_OK;
    case 'shutdown':
      io.stderr('pv: the guest triple-faulted (CPU shutdown)\n');
      return STATUS_GUEST_FAILURE;
    case 'budget':
      io.stderr(`pv: instruction limit reached after ${total} instructions\n`);
      return STATUS_TIMEOUT;
  }
}
