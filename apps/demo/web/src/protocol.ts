/**
 * Messages between the page (main.ts) and the VM worker (worker.ts). Everything is structured-clone
 * data; console bytes are transferred, not copied.
 */

/** `pv`: the kernel finds the @pv CPUID leaves and batches; `native`: `pv=off`, no PV leaves. */
export type Mode = 'native' | 'pv';
export type ExitModelName = 'shadow' | 'nested';

/** What a boot is made of (the page's controls). */
export interface BootConfig {
  mode: Mode;
  exitModel: ExitModelName;
  /** Number of vCPUs (application processors wait for INIT/SIPI). */
  smp: number;
}

/** Page → worker. */
export type PageMessage =
  /** (Re)boot the mini kernel: any running machine is dropped first. */
  | { type: 'boot'; config: BootConfig; speed: number; kernelUrl: string }
  /** Bytes typed into the terminal, for COM1's receive side. */
  | { type: 'input'; bytes: Uint8Array }
  /** Instruction rate limit in instructions per wall second; 0 runs at full speed. */
  | { type: 'speed'; speed: number };

/** Why a machine stopped (vm.ts's StopReason, plus a host error). */
export type StopReasonName = 'debug-exit' | 'halted' | 'poweroff' | 'reset' | 'shutdown' | 'error';

/**
 * running: executing slices; waiting: every vCPU is halted with interrupts enabled and no timer
 * pending, so only COM1 input can wake it (vm.ts's `waiting`); stopped: for good (debug-exit,
 * power-off, triple fault, a halt with interrupts off, or a host error).
 */
export type MachineState = 'booting' | 'running' | 'waiting' | 'stopped';

export interface Stats {
  run: number;
  state: MachineState;
  /** Exits by kind since boot (x86-core's EXIT_NAMES order). */
  exits: Record<string, number>;
  instructions: number;
  virtualCycles: number;
  /** Virtual cycles per second (the TSC frequency of vm.ts's clock). */
  hz: number;
  /** Wall milliseconds spent inside vm.run() since boot. */
  runMs: number;
  /** Bytes handed to COM1's receive FIFO since boot. */
  inputBytes: number;
}

/** One workload of the kernel: the exits and virtual cycles between its BEGIN and RESULT lines. */
export interface WorkloadFigures {
  workload: string;
  exits: Record<string, number>;
  virtualCycles: number;
  /** The RESULT line's key=value fields (ops, checksum, status, …). */
  result: Record<string, string>;
}

/** Worker → page. */
export type WorkerMessage =
  | { type: 'booted'; run: number; config: BootConfig; cmdline: string }
  | { type: 'console'; run: number; bytes: Uint8Array }
  | { type: 'stats'; stats: Stats }
  | { type: 'workload'; run: number; config: BootConfig; figures: WorkloadFigures }
  | { type: 'stopped'; run: number; reason: StopReasonName; status?: number; message?: string };
