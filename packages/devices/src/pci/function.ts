/**
 * One PCI function's 256-byte configuration space (PCI Local Bus Specification 3.0 §6.1, type 0
 * header). Each byte has a write mask (bits the guest may change) and a write-1-to-clear mask (the
 * status register's error bits); everything else is read-only, so a guest can never corrupt the
 * IDs. BARs get their write mask from their size, which makes the standard sizing protocol (write
 * all-ones, read back) work without code: the low bits of a BAR read back as zero.
 */
import { checkState, DevicesError, hex, stateBytes } from '../errors';

/** Configuration space size of a conventional PCI function. */
export const PCI_CONFIG_SPACE_SIZE = 256;

/** Type 0 header register offsets (PCI 3.0 §6.1). */
export const PCI_VENDOR_ID = 0x00;
export const PCI_DEVICE_ID = 0x02;
export const PCI_COMMAND = 0x04;
export const PCI_STATUS = 0x06;
export const PCI_REVISION_ID = 0x08;
export const PCI_CLASS_PROG = 0x09;
export const PCI_CLASS_DEVICE = 0x0a;
export const PCI_CACHE_LINE_SIZE = 0x0c;
export const PCI_LATENCY_TIMER = 0x0d;
export const PCI_HEADER_TYPE = 0x0e;
export const PCI_BIST = 0x0f;
export const PCI_BASE_ADDRESS_0 = 0x10;
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
export const PCI_SUBSYSTEM_ID = 0x2e;
export const PCI_CAPABILITY_LIST = 0x34;
export const PCI_INTERRUPT_LINE = 0x3c;
export const PCI_INTERRUPT_PIN = 0x3d;

/** Command register bits (PCI 3.0 §6.2.2). */
export const PCI_COMMAND_IO = 0x0001;
export const PCI_COMMAND_MEMORY = 0x0002;
export const PCI_COMMAND_MASTER = 0x0004;
export const PCI_COMMAND_SPECIAL = 0x0008;
export const PCI_COMMAND_INVALIDATE = 0x0010;
export const PCI_COMMAND_VGA_PALETTE = 0x0020;
export const PCI_COMMAND_PARITY = 0x0040;
export const PCI_COMMAND_SERR = 0x0100;
export const PCI_COMMAND_FAST_BACK = 0x0200;
export const PCI_COMMAND_INTX_DISABLE = 0x0400;

/** Status register bits (PCI 3.0 §6.2.3). */
export const PCI_STATUS_INTERRUPT = 0x0008;
export const PCI_STATUS_CAP_LIST = 0x0010;
export const PCI_STATUS_FAST_BACK = 0x0080;
export const PCI_STATUS_PARITY = 0x0100;
export const PCI_STATUS_DEVSEL_MEDIUM = 0x0200;
export const PCI_STATUS_SIG_TARGET_ABORT = 0x0800;
export const PCI_STATUS_REC_TARGET_ABORT = 0x1000;
export const PCI_STATUS_REC_MASTER_ABORT = 0x2000;
export const PCI_STATUS_SIG_SYSTEM_ERROR = 0x4000;
export const PCI_STATUS_DETECTED_PARITY = 0x8000;
/** The status bits that are write-1-to-clear. */
export const PCI_STATUS_W1C_MASK =
  PCI_STATUS_PARITY |
  PCI_STATUS_SIG_TARGET_ABORT |
  PCI_STATUS_REC_TARGET_ABORT |
  PCI_STATUS_REC_MASTER_ABORT |
  PCI_STATUS_SIG_SYSTEM_ERROR |
  PCI_STATUS_DETECTED_PARITY;

/** Header type 0 (endpoint); bit 7 marks a multi-function device. */
export const PCI_HEADER_TYPE_NORMAL = 0x00;
export const PCI_HEADER_TYPE_MULTI_FUNCTION = 0x80;

/** BAR low bits (PCI 3.0 §6.2.5.1). */
export const PCI_BASE_ADDRESS_SPACE_IO = 0x01;
export const PCI_BASE_ADDRESS_MEM_PREFETCH = 0x08;

/** The command bits a generic function lets the guest change. */
export const PCI_COMMAND_WRITABLE =
  PCI_COMMAND_IO |
  PCI_COMMAND_MEMORY |
  PCI_COMMAND_MASTER |
  PCI_COMMAND_PARITY |
  PCI_COMMAND_SERR |
  PCI_COMMAND_INTX_DISABLE;

/** A base address register request. */
export interface PciBar {
  /** Size in bytes: a power of two, at least 16 for memory and 4 for I/O BARs, at most 2 GiB. */
  size: number;
  /** I/O space or 32-bit memory space. */
  kind: 'io' | 'mem32';
  /** Memory BARs only: prefetchable. */
  prefetchable?: boolean;
}

/** Identity and layout of a function. */
export interface PciFunctionOptions {
  vendorId: number;
  deviceId: number;
  /** 24-bit class code: base class << 16 | subclass << 8 | programming interface. */
  classCode: number;
  revision?: number;
  /** Header type byte (bit 7: multi-function); only type 0 layouts are modelled. */
  headerType?: number;
  subsystemVendorId?: number;
  subsystemId?: number;
  /** Interrupt pin 1–4 (INTA#–INTD#), 0 for none. */
  interruptPin?: number;
  /** Up to six BARs (index = BAR number); `undefined` leaves a BAR unimplemented (reads 0). */
  bars?: (PciBar | undefined)[];
  /** Initial command register value. */
  command?: number;
  /** Initial status register value (its read-only bits: capabilities, DEVSEL timing, …). */
  status?: number;
}

/** A function's configuration space: the bytes plus the masks that make guest writes safe. */
export class PciFunction {
  readonly config = new Uint8Array(PCI_CONFIG_SPACE_SIZE);
  /** Bits the guest may write. */
  readonly wmask = new Uint8Array(PCI_CONFIG_SPACE_SIZE);
  /** Bits a guest write of 1 clears. */
  readonly w1cmask = new Uint8Array(PCI_CONFIG_SPACE_SIZE);
  /** Called after a guest write changed configuration space (offset and size of the access). */
  onConfigWrite: ((offset: number, size: number) => void) | undefined;

  constructor(options: PciFunctionOptions) {
    const u16 = (v: number | undefined, name: string, dflt: number): number => {
      const x = v ?? dflt;
      if (!Number.isInteger(x) || x < 0 || x > 0xffff) {
        throw new DevicesError('INVALID_CONFIG', `PCI function ${name} ${String(v)} is not a 16-bit value`);
      }
      return x;
    };
    const vendor = u16(options.vendorId, 'vendorId', 0);
    if (vendor === 0xffff) {
      throw new DevicesError('INVALID_CONFIG', 'PCI function vendorId 0xffff means "no device"');
    }
    if (!Number.isInteger(options.classCode) || options.classCode < 0 || options.classCode > 0xffffff) {
      throw new DevicesError('INVALID_CONFIG', `PCI classCode ${String(options.classCode)} is not 24-bit`);
    }
    this.set16(PCI_VENDOR_ID, vendor);
    this.set16(PCI_DEVICE_ID, u16(options.deviceId, 'deviceId', 0));
    this.set16(PCI_COMMAND, u16(options.command, 'command', 0));
    this.set16(PCI_STATUS, u16(options.status, 'status', 0));
    this.config[PCI_REVISION_ID] = (options.revision ?? 0) & 0xff;
    this.config[PCI_CLASS_PROG] = options.classCode & 0xff;
    this.set16(PCI_CLASS_DEVICE, options.classCode >>> 8);
    this.config[PCI_HEADER_TYPE] = (options.headerType ?? PCI_HEADER_TYPE_NORMAL) & 0xff;
    this.set16(PCI_SUBSYSTEM_VENDOR_ID, u16(options.subsystemVendorId, 'subsystemVendorId', 0));
    this.set16(PCI_SUBSYSTEM_ID, u16(options.subsystemId, 'subsystemId', 0));
    const pin = options.interruptPin ?? 0;
    if (!Number.isInteger(pin) || pin < 0 || pin > 4) {
      throw new DevicesError('INVALID_CONFIG', `PCI interruptPin ${String(pin)} is not 0..4`);
    }
    this.config[PCI_INTERRUPT_PIN] = pin;

    this.setMask16(this.wmask, PCI_COMMAND, PCI_COMMAND_WRITABLE);
    this.setMask16(this.w1cmask, PCI_STATUS, PCI_STATUS_W1C_MASK);
    this.wmask[PCI_CACHE_LINE_SIZE] = 0xff;
    this.wmask[PCI_LATENCY_TIMER] = 0xff;
    this.wmask[PCI_INTERRUPT_LINE] = 0xff;

    const bars = options.bars ?? [];
    if (bars.length > 6)
      throw new DevicesError('INVALID_CONFIG', `PCI function has ${bars.length} BARs (max 6)`);
    bars.forEach((bar, i) => {
      if (bar) this.defineBar(i, bar);
    });
  }

  private defineBar(index: number, bar: PciBar): void {
    const min = bar.kind === 'io' ? 4 : 16;
    const max = bar.kind === 'io' ? 0x10000 : 0x80000000;
    if (
      !Number.isInteger(bar.size) ||
      bar.size < min ||
      bar.size > max ||
      (bar.size & (bar.size - 1)) !== 0
    ) {
      throw new DevicesError(
        'INVALID_CONFIG',
        `PCI BAR${index} size ${hex(bar.size)} is not a power of two in [${hex(min)}, ${hex(max)}]`,
      );
    }
    const off = PCI_BASE_ADDRESS_0 + 4 * index;
    const low =
      bar.kind === 'io' ? PCI_BASE_ADDRESS_SPACE_IO : bar.prefetchable ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0;
    this.set32(off, low);
    // Address bits above the size are writable; an I/O BAR decodes 16 address bits on x86.
    const mask = bar.kind === 'io' ? ~(bar.size - 1) & 0xffff : ~(bar.size - 1);
    this.setMask32(this.wmask, off, mask >>> 0);
  }

  /** Current address programmed into BAR `index` (type bits removed). */
  barAddress(index: number): number {
    const v = this.get32(PCI_BASE_ADDRESS_0 + 4 * index);
    return (v & PCI_BASE_ADDRESS_SPACE_IO ? v & ~0x3 : v & ~0xf) >>> 0;
  }

  /** Guest read of `size` bytes at `offset` (already bounded to the 256-byte space). */
  readConfig(offset: number, size: number): number {
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.config[offset + i]! << (8 * i);
    return v >>> 0;
  }

  /** Guest write: only writable bits change, write-1-to-clear bits clear. Never throws. */
  writeConfig(offset: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) {
      const a = offset + i;
      const b = (value >>> (8 * i)) & 0xff;
      const w = this.wmask[a]!;
      const c = this.w1cmask[a]!;
      this.config[a] = ((this.config[a]! & ~w) | (b & w)) & ~(b & c);
    }
    this.onConfigWrite?.(offset, size);
  }

  get16(offset: number): number {
    return this.config[offset]! | (this.config[offset + 1]! << 8);
  }

  get32(offset: number): number {
    return (this.get16(offset) | (this.get16(offset + 2) << 16)) >>> 0;
  }

  /** Host-side setters (ignore the masks). */
  set16(offset: number, v: number): void {
    this.config[offset] = v & 0xff;
    this.config[offset + 1] = (v >>> 8) & 0xff;
  }

  set32(offset: number, v: number): void {
    this.set16(offset, v & 0xffff);
    this.set16(offset + 2, v >>> 16);
  }

  private setMask16(m: Uint8Array, offset: number, v: number): void {
    m[offset] = v & 0xff;
    m[offset + 1] = (v >>> 8) & 0xff;
  }

  private setMask32(m: Uint8Array, offset: number, v: number): void {
    this.setMask16(m, offset, v & 0xffff);
    this.setMask16(m, offset + 2, v >>> 16);
  }

  /** Configuration space bytes for a snapshot (identity and masks are host configuration). */
  saveState(): { kind: 'pci-function'; version: 1; config: number[] } {
    return { kind: 'pci-function', version: 1, config: Array.from(this.config) };
  }

  /** Restore guest-written bytes; read-only bytes keep this function's values. */
  restoreState(state: unknown): void {
    const s = checkState(state, 'pci-function', 1);
    const bytes = stateBytes(s, 'pci-function', 'config', PCI_CONFIG_SPACE_SIZE);
    for (let i = 0; i < PCI_CONFIG_SPACE_SIZE; i++) {
      const w = this.wmask[i]! | this.w1cmask[i]!;
      this.config[i] = (this.config[i]! & ~w) | (bytes[i]! & w);
    }
  }

  /** Make bytes [offset, offset + length) fully guest-writable (device-specific registers). */
  setWritable(offset: number, length: number, mask = 0xff): void {
    if (offset < 0x40 || offset + length > PCI_CONFIG_SPACE_SIZE || length < 0) {
      throw new DevicesError(
        'INVALID_ARGUMENT',
        `PCI writable range ${hex(offset)}+${length} is outside the device-specific area 0x40..0xff`,
      );
    }
    this.wmask.fill(mask, offset, offset + length);
  }
}
