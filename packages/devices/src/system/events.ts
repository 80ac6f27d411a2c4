/**
 * Host callbacks of the system-control devices, injected by the composer (vm-superio style: the
 * device never knows what happens next). Every hook is optional and defaults to doing nothing.
 */

/** Which register requested a reset. */
export type ResetKind =
  /** i8042 output port bit 0 pulsed low (command 0xfe, or 0xd1 with bit 0 clear). */
  | 'i8042'
  /** System control port A (0x92) bit 0 went 0 → 1. */
  | 'port92'
  /** Reset control register 0xcf9: RST_CPU with SYS_RST clear (soft reset, INIT). */
  | 'cf9-soft'
  /** Reset control register 0xcf9: RST_CPU with SYS_RST set (hard reset). */
  | 'cf9-hard'
  /** Reset control register 0xcf9: RST_CPU with FULL_RST set (power cycle). */
  | 'cf9-full';

/** What the system-control devices ask of the machine. Called synchronously from a port write. */
export interface SystemEvents {
  /** The guest asked for a reset; the composer resets the machine after the current instruction. */
  onReset?(kind: ResetKind): void;
  /** The A20 gate changed (i8042 output port bit 1, port 0x92 bit 1). */
  onA20?(enabled: boolean): void;
  /** isa-debug-exit: the guest asked to stop with process status `status`. */
  onExit?(status: number): void;
  /** ACPI S5 (soft-off) through PM1 control: stop the machine cleanly. */
  onPowerOff?(): void;
}

/** Mask of the low `size` bytes of a port value. */
export function sizeMask(size: number): number {
  return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
}
