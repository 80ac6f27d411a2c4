/**
 * QEMU's isa-debug-exit (`hw/misc/debugexit.c`): a write of `v` asks the host to stop with process
 * status `(v << 1) | 1`, so a guest can report success or failure to a test harness. QEMU computes
 * it in C `int`, so the status is taken modulo 2^32 (as an unsigned number). Any offset inside the
 * window (usually 4 bytes at 0xf4) and any access size is accepted; reads return 0 like QEMU.
 */
import type { SystemEvents } from './events';
import { sizeMask } from './events';

/** Status for a written value: QEMU `exit((val << 1) | 1)`. */
export function debugExitStatus(value: number, size: number): number {
  return (((value & sizeMask(size)) << 1) | 1) >>> 0;
}

export class DebugExit {
  /** Status of the last exit request, or -1. */
  lastStatus = -1;
  private readonly events: SystemEvents;

  constructor(options: { events?: SystemEvents } = {}) {
    this.events = options.events ?? {};
  }

  read(_offset: number, _size: number): number {
    return 0;
  }

  write(_offset: number, size: number, value: number): void {
    const status = debugExitStatus(value, size);
    this.lastStatus = status;
    this.events.onExit?.(status);
  }
}
