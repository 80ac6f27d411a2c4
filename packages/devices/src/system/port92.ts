/**
 * System control port A (port 0x92, "fast A20 and init"), as on PS/2 machines and every PIIX/ICH
 * chipset: bit 1 drives the A20 gate, a 0 → 1 transition of bit 0 resets the CPU. Reads return the
 * last value written with bit 0 clear once the reset was taken. QEMU `hw/i386/pc.c` (port92).
 */
import { checkState, stateInt } from '../errors';
import { type SystemEvents, sizeMask } from './events';

/** Bit 0: fast reset (INIT), edge-triggered on 0 → 1. */
export const PORT92_RESET = 0x01;
/** Bit 1: A20 gate enable. */
export const PORT92_A20 = 0x02;

export class Port92 {
  /** Latched register value. */
  value = 0;
  private readonly events: SystemEvents;

  constructor(options: { events?: SystemEvents } = {}) {
    this.events = options.events ?? {};
  }

  /** Is the A20 gate open according to this port? */
  get a20(): boolean {
    return (this.value & PORT92_A20) !== 0;
  }

  read(offset: number, size: number): number {
    if (offset !== 0) return sizeMask(size);
    return (this.value | (sizeMask(size) & ~0xff)) >>> 0;
  }

  write(offset: number, _size: number, value: number): void {
    if (offset !== 0) return;
    const old = this.value;
    const v = value & 0xff;
    this.value = v & ~PORT92_RESET;
    if ((old ^ v) & PORT92_A20) this.events.onA20?.((v & PORT92_A20) !== 0);
    // Bit 0 self-clears once the reset is taken, so every later 0 → 1 write resets again.
    if ((v & PORT92_RESET) !== 0 && (old & PORT92_RESET) === 0) this.events.onReset?.('port92');
  }

  /** Plain data for a snapshot. */
  saveState(): { kind: 'port92'; version: 1; value: number } {
    return { kind: 'port92', version: 1, value: this.value };
  }

  /** Rebuild from `saveState()` data (no events are replayed). */
  static fromState(state: unknown, options: { events?: SystemEvents } = {}): Port92 {
    const s = checkState(state, 'port92', 1);
    const d = new Port92(options);
    d.value = stateInt(s, 'port92', 'value', 0, 255) & 0xfe;
    return d;
  }
}
