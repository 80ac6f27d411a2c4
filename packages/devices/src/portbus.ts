/**
 * The x86 I/O port space (64 Ki byte-addressed ports) as an `IoBus` for the CPU.
 *
 * Devices know nothing of ports: the composer places each one at a base port
 * (`io.register(0x40, 4, pitPorts)`), and the device sees only an offset from that base, as
 * rust-vmm's `vm-device` bus does. Lookup is one `Uint16Array` index per port, so `in`/`out` are
 * a table read and a call.
 *
 * An access that lies wholly inside one sized region is passed on as one access of its size. An
 * access to a byte-wide region (`registerBytes`), or one that straddles regions or unclaimed
 * ports, is split into byte accesses in little-endian order, the way an ISA bus splits a 16/32-bit
 * cycle for an 8-bit device. Unclaimed ports read as all-ones and ignore writes (an open ISA bus).
 */

import type { IoBus } from '@pv/x86-core';
import { DevicesError, hex } from './errors';

/** Access size in bytes. */
export type PortSize = 1 | 2 | 4;

/** A device that decodes accesses of any size itself. `offset` is relative to its base port. */
export interface PortDevice {
  /** Called on IN; returns the value (only the low `size` bytes are used). */
  read(offset: number, size: PortSize): number;
  /** Called on OUT; `value` is already truncated to `size` bytes. */
  write(offset: number, size: PortSize, value: number): void;
}

/** A device with 8-bit registers (UART, PIC, PIT, RTC): wider accesses are split into bytes. */
export interface ByteDevice {
  read(offset: number): number;
  write(offset: number, value: number): void;
}

/** Options of a `PortBus`. */
export interface PortBusOptions {
  /**
   * Called on every IN/OUT instruction the bus receives (claimed or not), before dispatch. The
   * composer counts exits here; with `countPerPort` the bus keeps per-port counts itself.
   */
  onAccess?: (port: number, size: PortSize, isWrite: boolean) => void;
  /** Keep `portCounts[port]` (a 256 KiB `Uint32Array`) of accesses per port. Default false. */
  countPerPort?: boolean;
}

/** One registration, as listed by `regions()`. */
export interface PortRegion {
  readonly base: number;
  readonly length: number;
  readonly name: string;
  readonly byteWide: boolean;
}

interface Slot extends PortRegion {
  readonly device: PortDevice | null;
  readonly bytes: ByteDevice | null;
}

const ALL_ONES = [0, 0xff, 0xffff, 0, 0xffffffff] as const;

/** The port space. Implements the CPU's `IoBus`. */
export class PortBus implements IoBus {
  /** Total IN accesses seen (one per instruction, not per byte). */
  reads = 0;
  /** Total OUT accesses seen. */
  writes = 0;
  /** Accesses that touched at least one unclaimed port. */
  unclaimed = 0;
  /** Per-port access counts when `countPerPort` was set; otherwise null. */
  readonly portCounts: Uint32Array | null;

  private readonly map = new Uint16Array(0x10000); // slot index + 1, 0 = unclaimed
  private readonly slots: (Slot | null)[] = [];
  private readonly onAccess: ((port: number, size: PortSize, isWrite: boolean) => void) | null;

  constructor(options: PortBusOptions = {}) {
    this.onAccess = options.onAccess ?? null;
    this.portCounts = options.countPerPort ? new Uint32Array(0x10000) : null;
  }

  /** Claim `length` ports from `base` for a device that decodes sized accesses. */
  register(base: number, length: number, device: PortDevice, name = 'device'): void {
    this.claim({ base, length, name, byteWide: false, device, bytes: null });
  }

  /** Claim `length` ports from `base` for a byte-register device; wider accesses are split. */
  registerBytes(base: number, length: number, device: ByteDevice, name = 'device'): void {
    this.claim({ base, length, name, byteWide: true, device: null, bytes: device });
  }

  /** Release the region that starts at `base`. Throws if no region starts there. */
  unregister(base: number): void {
    const index = Number.isInteger(base) && base >= 0 && base <= 0xffff ? this.map[base]! - 1 : -1;
    const slot = index >= 0 ? this.slots[index] : null;
    if (!slot || slot.base !== base) {
      throw new DevicesError('INVALID_ARGUMENT', `no port region starts at ${hex(base)}`);
    }
    this.map.fill(0, slot.base, slot.base + slot.length);
    this.slots[index] = null;
  }

  /** The current registrations, sorted by base port. */
  regions(): PortRegion[] {
    return this.slots
      .filter((s): s is Slot => s !== null)
      .map(({ base, length, name, byteWide }) => ({ base, length, name, byteWide }))
      .sort((a, b) => a.base - b.base);
  }

  /** Name of the region claiming `port`, or undefined. */
  owner(port: number): string | undefined {
    const i = this.map[port & 0xffff]!;
    return i === 0 ? undefined : this.slots[i - 1]!.name;
  }

  in(port: number, size: PortSize): number {
    port &= 0xffff;
    this.reads++;
    if (this.onAccess !== null) this.onAccess(port, size, false);
    if (this.portCounts !== null) this.portCounts[port]!++;
    const i = this.map[port]!;
    if (i !== 0) {
      const slot = this.slots[i - 1]!;
      const offset = port - slot.base;
      if (slot.device !== null && offset + size <= slot.length) {
        return toUnsigned(slot.device.read(offset, size), size);
      }
      if (size === 1) return slot.bytes!.read(offset) & 0xff;
    } else if (size === 1) {
      this.unclaimed++;
      return 0xff;
    }
    let value = 0;
    let missed = false;
    for (let b = 0; b < size; b++) {
      const p = (port + b) & 0xffff;
      const j = this.map[p]!;
      let byte = 0xff;
      if (j === 0) missed = true;
      else {
        const slot = this.slots[j - 1]!;
        byte = slot.bytes !== null ? slot.bytes.read(p - slot.base) : slot.device!.read(p - slot.base, 1);
      }
      value |= (byte & 0xff) << (8 * b);
    }
    if (missed) this.unclaimed++;
    return value >>> 0;
  }

  out(port: number, size: PortSize, value: number): void {
    port &= 0xffff;
    value = toUnsigned(value, size);
    this.writes++;
    if (this.onAccess !== null) this.onAccess(port, size, true);
    if (this.portCounts !== null) this.portCounts[port]!++;
    const i = this.map[port]!;
    if (i !== 0) {
      const slot = this.slots[i - 1]!;
      const offset = port - slot.base;
      if (slot.device !== null && offset + size <= slot.length) {
        slot.device.write(offset, size, value);
        return;
      }
      if (size === 1) {
        slot.bytes!.write(offset, value);
        return;
      }
    } else if (size === 1) {
      this.unclaimed++;
      return;
    }
    let missed = false;
    for (let b = 0; b < size; b++) {
      const p = (port + b) & 0xffff;
      const j = this.map[p]!;
      const byte = (value >>> (8 * b)) & 0xff;
      if (j === 0) missed = true;
      else {
        const slot = this.slots[j - 1]!;
        if (slot.bytes !== null) slot.bytes.write(p - slot.base, byte);
        else slot.device!.write(p - slot.base, 1, byte);
      }
    }
    if (missed) this.unclaimed++;
  }

  private claim(slot: Slot): void {
    const { base, length, name } = slot;
    const dev = slot.device ?? slot.bytes;
    if (typeof dev?.read !== 'function' || typeof dev.write !== 'function') {
      throw new DevicesError(
        'INVALID_ARGUMENT',
        `port device "${name}" at ${hex(base)} has no read/write methods`,
      );
    }
    if (!Number.isInteger(base) || base < 0 || base > 0xffff) {
      throw new DevicesError(
        'INVALID_ARGUMENT',
        `port base ${String(base)} of "${name}" is not in 0..0xffff`,
      );
    }
    if (!Number.isInteger(length) || length < 1 || base + length > 0x10000) {
      throw new DevicesError(
        'INVALID_ARGUMENT',
        `port length ${String(length)} of "${name}" at ${hex(base)} must be >= 1 and end by 0xffff`,
      );
    }
    for (let p = base; p < base + length; p++) {
      const j = this.map[p]!;
      if (j !== 0) {
        const other = this.slots[j - 1]!;
        throw new DevicesError(
          'OVERLAP',
          `ports ${hex(base)}..${hex(base + length - 1)} of "${name}" overlap port ${hex(p)} of "${other.name}" ` +
            `(${hex(other.base)}..${hex(other.base + other.length - 1)})`,
        );
      }
    }
    let index = this.slots.indexOf(null);
    if (index < 0) index = this.slots.length;
    if (index >= 0xffff) throw new DevicesError('OUT_OF_RANGE', 'too many port regions');
    this.slots[index] = slot;
    this.map.fill(index + 1, base, base + length);
  }
}

function toUnsigned(value: number, size: PortSize): number {
  return size === 4 ? value >>> 0 : value & ALL_ONES[size];
}
