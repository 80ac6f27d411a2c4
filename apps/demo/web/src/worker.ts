/**
 * The VM worker: boots the mini PV kernel (fetched from the URL the page gives) on vm.ts's `Vm`
 * and runs it in slices, yielding to the worker's message loop between turns so that typed keys
 * and reboots are handled at once.
 *
 * A turn runs slices of SLICE instructions until TURN_MS of wall time have passed (or the optional
 * instruction-rate limit is used up), posts the console bytes it collected, and schedules the next
 * turn through a MessageChannel (no 4 ms timer clamping). Counters go to the page every STATS_MS.
 */
import { type RunResult, VM_HZ, Vm } from '../../src/vm';
import type {
  BootConfig,
  MachineState,
  PageMessage,
  StopReasonName,
  WorkerMessage,
  WorkloadFigures,
} from './protocol';

/** Instructions per vm.run() call. */
const SLICE = 100_000;
/** Wall milliseconds of VM work per message-loop turn. */
const TURN_MS = 16;
/** Wall milliseconds between counter updates to the page. */
const STATS_MS = 150;
/** Console bytes buffered before a flush inside a turn. */
const CONSOLE_BUFFER = 64 * 1024;
/** Wall milliseconds between a guest-requested reset and the reboot. */
const RESET_DELAY_MS = 100;
/** Guest RAM (the mini kernel needs a few MiB). */
const MEMORY_MIB = 64;

interface WorkerScope {
  postMessage(message: WorkerMessage, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<PageMessage>) => void) | null;
}
const scope = self as unknown as WorkerScope;

/** One booted machine and everything the loop tracks about it. */
interface Machine {
  run: number;
  vm: Vm;
  config: BootConfig;
  kernelUrl: string;
  state: MachineState;
  runMs: number;
  inputBytes: number;
  /** The console line being assembled (for BEGIN/RESULT). */
  line: string;
  begin: { exits: Record<string, number>; cycles: number } | undefined;
}

let machine: Machine | undefined;
let runCounter = 0;
let speed = 0;
let credit = 0;
let creditAt = 0;
let lastStats = 0;
let scheduled = false;
/** The kernel image of the last successful fetch, by URL. */
let kernel: { url: string; bytes: Promise<Uint8Array> } | undefined;

const out = new Uint8Array(CONSOLE_BUFFER);
let outLength = 0;

const tick = new MessageChannel();
tick.port1.onmessage = () => {
  scheduled = false;
  turn();
};

function post(message: WorkerMessage, transfer?: Transferable[]): void {
  scope.postMessage(message, transfer);
}

function schedule(delayMs = 0): void {
  if (scheduled) return;
  scheduled = true;
  if (delayMs > 0) {
    setTimeout(() => {
      scheduled = false;
      turn();
    }, delayMs);
  } else {
    tick.port2.postMessage(0);
  }
}

function fetchKernel(url: string): Promise<Uint8Array> {
  if (kernel?.url !== url) {
    const bytes = fetch(url).then(async (response) => {
      if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`);
      return new Uint8Array(await response.arrayBuffer());
    });
    kernel = { url, bytes };
    bytes.catch(() => {
      if (kernel?.bytes === bytes) kernel = undefined; // fetch again on the next boot
    });
  }
  return kernel.bytes;
}

function flushConsole(): void {
  if (!machine || outLength === 0) return;
  const bytes = out.slice(0, outLength);
  outLength = 0;
  post({ type: 'console', run: machine.run, bytes }, [bytes.buffer]);
}

function postStats(): void {
  if (!machine) return;
  lastStats = performance.now();
  post({
    type: 'stats',
    stats: {
      run: machine.run,
      state: machine.state,
      exits: machine.vm.exits(),
      instructions: machine.vm.instructions,
      virtualCycles: machine.vm.clock.now(),
      hz: VM_HZ,
      runMs: machine.runMs,
      inputBytes: machine.inputBytes,
    },
  });
}

/** Follows the kernel's BEGIN/RESULT lines and reports each workload's exits and virtual cycles. */
function trackLine(m: Machine, line: string): void {
  if (line.startsWith('BEGIN ')) {
    m.begin = { exits: m.vm.exits(), cycles: m.vm.clock.now() };
  } else if (line.startsWith('RESULT ') && m.begin) {
    const result: Record<string, string> = {};
    for (const field of line.slice(7).split(' ')) {
      const eq = field.indexOf('=');
      if (eq > 0) result[field.slice(0, eq)] = field.slice(eq + 1);
    }
    const now = m.vm.exits();
    const exits: Record<string, number> = {};
    for (const [kind, count] of Object.entries(now)) exits[kind] = count - (m.begin.exits[kind] ?? 0);
    const figures: WorkloadFigures = {
      workload: result.workload ?? '?',
      exits,
      virtualCycles: m.vm.clock.now() - m.begin.cycles,
      result,
    };
    m.begin = undefined;
    post({ type: 'workload', run: m.run, config: m.config, figures });
  }
}

function consoleSink(m: () => Machine | undefined) {
  return (bytes: Uint8Array) => {
    const current = m();
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (outLength === CONSOLE_BUFFER) flushConsole();
      out[outLength++] = b;
      if (!current) continue;
      if (b === 0x0a) {
        trackLine(current, current.line);
        current.line = '';
      } else if (current.line.length < 4096) {
        current.line += String.fromCharCode(b);
      }
    }
  };
}

async function boot(config: BootConfig, kernelUrl: string): Promise<void> {
  const run = ++runCounter;
  machine = undefined;
  outLength = 0;
  let image: Uint8Array;
  try {
    image = await fetchKernel(kernelUrl);
  } catch (e) {
    const message = `cannot fetch the kernel: ${e instanceof Error ? e.message : String(e)}`;
    if (run === runCounter) post({ type: 'stopped', run, reason: 'error', message });
    return;
  }
  if (run !== runCounter) return; // a newer boot request arrived while fetching
  // `echo`: after its workloads the kernel stays up and echoes COM1 input, halting between bytes.
  const cmdline = config.mode === 'native' ? 'pv=off echo' : 'echo';
  let m: Machine | undefined;
  try {
    const vm = new Vm({
      memoryMiB: MEMORY_MIB,
      smp: config.smp,
      pv: config.mode === 'pv',
      exitModel: config.exitModel,
      console: consoleSink(() => m),
    });
    m = { run, vm, config, kernelUrl, state: 'running', runMs: 0, inputBytes: 0, line: '', begin: undefined };
    vm.bootMultiboot(image, { name: 'pv-kernel.elf', cmdline });
  } catch (e) {
    post({ type: 'stopped', run, reason: 'error', message: e instanceof Error ? e.message : String(e) });
    return;
  }
  machine = m;
  post({ type: 'booted', run, config, cmdline });
  postStats();
  credit = 0;
  creditAt = performance.now();
  schedule();
}

/** Instructions the rate limit allows now (full speed: one turn's worth of slices). */
function allowance(now: number): number {
  if (speed <= 0) return Number.POSITIVE_INFINITY;
  credit = Math.min(credit + ((now - creditAt) * speed) / 1000, speed / 10);
  creditAt = now;
  return Math.floor(credit);
}

function stop(m: Machine, reason: StopReasonName, result?: RunResult, message?: string): void {
  m.state = 'stopped';
  flushConsole();
  postStats();
  const msg: WorkerMessage = { type: 'stopped', run: m.run, reason };
  if (result?.status !== undefined) msg.status = result.status;
  if (message !== undefined) msg.message = message;
  post(msg);
}

function turn(): void {
  const m = machine;
  if (m?.state !== 'running') return;
  const start = performance.now();
  let budget = allowance(start);
  let result: RunResult | undefined;
  let now = start;
  let executed = 0;
  try {
    while (budget >= 1 && now - start < TURN_MS) {
      const n = Math.min(SLICE, budget);
      result = m.vm.run(n);
      executed += result.instructions;
      budget -= result.instructions;
      if (speed > 0) credit -= result.instructions;
      now = performance.now();
      if (result.reason !== 'budget') break;
    }
  } catch (e) {
    // vm.run() must not throw on guest input; if it does, say so instead of dying silently.
    m.runMs += performance.now() - start;
    stop(m, 'error', undefined, `host error in vm.run(): ${e instanceof Error ? e.message : String(e)}`);
    return;
  }
  m.runMs += now - start;
  flushConsole();
  const reason = result?.reason ?? 'budget';
  if (reason === 'budget') {
    if (now - lastStats >= STATS_MS) postStats();
    // No instruction in a whole turn: idling on a timer whose interrupt nobody takes (vm.run()
    // counts the skipped virtual time against the budget); do not spin the worker on it.
    schedule(budget >= 1 && executed > 0 ? 0 : 10);
  } else if (reason === 'halted' && result?.waiting) {
    // Halted with interrupts on and no timer pending: only COM1 input wakes it (IRQ 4).
    m.state = 'waiting';
    postStats();
  } else if (reason === 'reset') {
    stop(m, 'reset', result);
    // A guest-requested reset reboots the machine, as a PC does, after a moment (a guest that
    // resets at once must not spin the worker); a boot request meanwhile takes precedence.
    setTimeout(() => {
      if (runCounter === m.run) void boot(m.config, m.kernelUrl);
    }, RESET_DELAY_MS);
  } else {
    stop(m, reason, result);
  }
}

function input(bytes: Uint8Array): void {
  const m = machine;
  if (!m || m.state === 'stopped') return;
  m.inputBytes += m.vm.input(bytes);
  if (m.state === 'waiting') {
    m.state = 'running';
    schedule();
  }
  postStats();
}

scope.onmessage = (event) => {
  const msg = event.data;
  switch (msg.type) {
    case 'boot':
      speed = msg.speed;
      void boot(msg.config, msg.kernelUrl);
      break;
    case 'input':
      input(msg.bytes);
      break;
    case 'speed':
      speed = msg.speed;
      credit = 0;
      creditAt = performance.now();
      break;
  }
};
