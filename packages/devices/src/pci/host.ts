/**
 * PCI configuration mechanism #1 (PCI Local Bus Specification 3.0 §3.2.2.3.2): a dword written to
 * CONFIG_ADDRESS (0xcf8) selects bus/device/function/register when bit 31 is set, and CONFIG_DATA
 * (0xcfc–0xcff) reads or writes bytes, words or dwords of that register. Device offsets are
 * relative to 0xcf8: 0–3 address, 4–7 data. Only a dword access at offset 0 touches the address
 * register (QEMU `pci_host_config_write`); a byte at 0xcf9 is forwarded to the reset control
 * register when one is attached, as on PIIX chipsets. A function that does not exist answers with
 * all-ones (vendor 0xffff), the "no device" answer every OS probes for.
 */
import { checkState, DevicesError, stateBytes, stateInt } from '../errors';
import { sizeMask } from '../system/events';
import { PCI_CONFIG_SPACE_SIZE, type PciFunction } from './function';

/** CONFIG_ADDRESS bits. */
export const PCI_CONFIG_ENABLE = 0x80000000;
export const PCI_CONFIG_BUS_SHIFT = 16;
export const PCI_CONFIG_DEVICE_SHIFT = 11;
export const PCI_CONFIG_FUNCTION_SHIFT = 8;
/** Register number bits (dword aligned). */
export const PCI_CONFIG_REGISTER_MASK = 0xfc;
/** Bits 30:24 are reserved and read back as 0; bits 1:0 are hardwired to 0. */
export const PCI_CONFIG_ADDRESS_MASK = 0x80fffffc;

/** Offsets inside the 0xcf8 window. */
export const PCI_HOST_ADDRESS = 0;
export const PCI_HOST_DATA = 4;

/** Number of device slots on a bus and functions per device. */
export const PCI_SLOTS = 32;
export const PCI_FUNCTIONS = 8;

/** Something that answers a byte access at 0xcf9 (the reset control register). */
export interface BytePortDevice {
  read(offset: number, size: number): number;
  write(offset: number, size: number, value: number): void;
}

/** Bus 0: the functions present, indexed by devfn (device << 3 | function). */
export class PciBus {
  private readonly functions: (PciFunction | undefined)[] = new Array(PCI_SLOTS * PCI_FUNCTIONS);

  /** Place `fn` at 00:device.function. Throws if the slot is taken or out of range. */
  register(device: number, func: number, fn: PciFunction): void {
    if (!Number.isInteger(device) || device < 0 || device >= PCI_SLOTS) {
      throw new DevicesError('INVALID_ARGUMENT', `PCI device number ${String(device)} is not 0..31`);
    }
    if (!Number.isInteger(func) || func < 0 || func >= PCI_FUNCTIONS) {
      throw new DevicesError('INVALID_ARGUMENT', `PCI function number ${String(func)} is not 0..7`);
    }
    const devfn = (device << 3) | func;
    if (this.functions[devfn]) {
      throw new DevicesError(
        'OVERLAP',
        `PCI slot 00:${device.toString(16).padStart(2, '0')}.${func} is taken`,
      );
    }
    this.functions[devfn] = fn;
  }

  /** Every registered function with its devfn (device << 3 | function), in devfn order. */
  entries(): { devfn: number; fn: PciFunction }[] {
    const out: { devfn: number; fn: PciFunction }[] = [];
    this.functions.forEach((fn, devfn) => {
      if (fn) out.push({ devfn, fn });
    });
    return out;
  }

  /** The function at devfn, if any. */
  get(device: number, func: number): PciFunction | undefined {
    return this.functions[((device & 31) << 3) | (func & 7)];
  }
}

export interface PciHostOptions {
  /** The bus behind the host (defaults to a new empty one). */
  bus?: PciBus;
  /** The reset control register sharing the 0xcf8 dword (byte accesses at 0xcf9). */
  resetControl?: BytePortDevice;
}

/** The 0xcf8–0xcff configuration window. */
export class PciHost {
  /** CONFIG_ADDRESS as last written. */
  address = 0;
  readonly bus: PciBus;
  private readonly resetControl: BytePortDevice | undefined;

  constructor(options: PciHostOptions = {}) {
    this.bus = options.bus ?? new PciBus();
    this.resetControl = options.resetControl;
  }

  read(offset: number, size: number): number {
    if (offset < PCI_HOST_DATA) {
      if (offset === PCI_HOST_ADDRESS && size === 4) return this.address >>> 0;
      if (offset === 1 && size === 1 && this.resetControl) return this.resetControl.read(0, 1);
      return sizeMask(size);
    }
    return this.readData(offset - PCI_HOST_DATA, size);
  }

  write(offset: number, size: number, value: number): void {
    if (offset < PCI_HOST_DATA) {
      if (offset === PCI_HOST_ADDRESS && size === 4) this.address = (value & PCI_CONFIG_ADDRESS_MASK) >>> 0;
      else if (offset === 1 && size === 1) this.resetControl?.write(0, 1, value);
      return;
    }
    this.writeData(offset - PCI_HOST_DATA, size, value);
  }

  /** CONFIG_ADDRESS and every function's configuration space. */
  saveState(): {
    kind: 'pci-host';
    version: 1;
    address: number;
    functions: { devfn: number; config: number[] }[];
  } {
    return {
      kind: 'pci-host',
      version: 1,
      address: this.address,
      functions: this.bus.entries().map(({ devfn, fn }) => ({ devfn, config: fn.saveState().config })),
    };
  }

  /** Restore onto a host whose bus has the same functions registered (host configuration). */
  restoreState(state: unknown): void {
    const s = checkState(state, 'pci-host', 1);
    const address = stateInt(s, 'pci-host', 'address', 0, 0xffffffff);
    const list = s.functions;
    const present = this.bus.entries();
    if (!Array.isArray(list) || list.length !== present.length) {
      throw new DevicesError('INVALID_STATE', `pci-host snapshot has a different set of functions`);
    }
    // Validate everything before changing anything, so a bad snapshot leaves the host untouched.
    const configs = list.map((raw, i) => {
      const e = raw as Record<string, unknown>;
      if (typeof e !== 'object' || e === null || e.devfn !== present[i]!.devfn) {
        throw new DevicesError(
          'INVALID_STATE',
          `pci-host snapshot function ${i} is not at devfn ${present[i]!.devfn}`,
        );
      }
      return stateBytes(e, 'pci-host', 'config', PCI_CONFIG_SPACE_SIZE);
    });
    configs.forEach((config, i) => {
      present[i]!.fn.restoreState({ kind: 'pci-function', version: 1, config });
    });
    this.address = (address & PCI_CONFIG_ADDRESS_MASK) >>> 0;
  }

  /** The function and register the current address selects, or undefined. */
  private target(): PciFunction | undefined {
    const a = this.address;
    if ((a & PCI_CONFIG_ENABLE) === 0) return undefined;
    if (((a >>> PCI_CONFIG_BUS_SHIFT) & 0xff) !== 0) return undefined; // only bus 0 exists
    const device = (a >>> PCI_CONFIG_DEVICE_SHIFT) & 31;
    const func = (a >>> PCI_CONFIG_FUNCTION_SHIFT) & 7;
    return this.bus.get(device, func);
  }

  private readData(byte: number, size: number): number {
    const fn = this.target();
    const reg = (this.address & PCI_CONFIG_REGISTER_MASK) + byte;
    if (!fn || reg + size > PCI_CONFIG_SPACE_SIZE || byte + size > 4) return sizeMask(size);
    return fn.readConfig(reg, size);
  }

  private writeData(byte: number, size: number, value: number): void {
    const fn = this.target();
    const reg = (this.address & PCI_CONFIG_REGISTER_MASK) + byte;
    if (!fn || reg + size > PCI_CONFIG_SPACE_SIZE || byte + size > 4) return;
    fn.writeConfig(reg, size, value & sizeMask(size));
  }
}
