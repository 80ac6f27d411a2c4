/**
 * Reset control register at 0xcf9 (PIIX3/PIIX4 RC, Intel ICH "RST_CNT"). Bit 1 SYS_RST selects a
 * hard (1) or soft (0) reset, bit 2 RST_CPU initiates it on a 0 → 1 transition, bit 3 FULL_RST
 * asks for a power cycle. RST_CPU is not stored (it reads 0), so each write with it set resets
 * — the behaviour of QEMU `hw/isa/piix.c` (`rcr_write`). Linux writes 0x02 then 0x06 (warm) or
 * 0x0e (cold) in `arch/x86/kernel/reboot.c`. Only byte accesses reach this register: a dword at
 * 0xcf8 is the PCI configuration address.
 */
import { checkState, stateInt } from '../errors';
import type { SystemEvents } from './events';
import { sizeMask } from './events';

/** Bit 1: hard reset when set, soft (INIT) when clear. */
export const RCR_SYS_RST = 0x02;
/** Bit 2: initiate the reset. */
export const RCR_RST_CPU = 0x04;
/** Bit 3: full reset (power cycle). */
export const RCR_FULL_RST = 0x08;

export class ResetControl {
  /** Stored bits (SYS_RST and FULL_RST). */
  value = 0;
  private readonly events: SystemEvents;

  constructor(options: { events?: SystemEvents } = {}) {
    this.events = options.events ?? {};
  }

  read(offset: number, size: number): number {
    if (offset !== 0 || size !== 1) return sizeMask(size);
    return this.value;
  }

  write(offset: number, size: number, value: number): void {
    if (offset !== 0 || size !== 1) return;
    this.value = value & (RCR_SYS_RST | RCR_FULL_RST);
    if ((value & RCR_RST_CPU) !== 0) {
      const kind =
        (value & RCR_FULL_RST) !== 0 ? 'cf9-full' : (value & RCR_SYS_RST) !== 0 ? 'cf9-hard' : 'cf9-soft';
      this.events.onReset?.(kind);
    }
  }

  /** Plain data for a snapshot. */
  saveState(): { kind: 'reset-control'; version: 1; value: number } {
    return { kind: 'reset-control', version: 1, value: this.value };
  }

  /** Rebuild from `saveState()` data (no events are replayed). */
  static fromState(state: unknown, options: { events?: SystemEvents } = {}): ResetControl {
    const s = checkState(state, 'reset-control', 1);
    const d = new ResetControl(options);
    d.value = stateInt(s, 'reset-control', 'value', 0, 255) & (RCR_SYS_RST | RCR_FULL_RST);
    return d;
  }
}
