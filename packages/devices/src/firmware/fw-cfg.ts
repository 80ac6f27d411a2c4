/**
 * QEMU's firmware configuration device, port-I/O flavour (QEMU `hw/nvram/fw_cfg.c`, keys and file
 * directory layout from `include/standard-headers/linux/qemu_fw_cfg.h`, documented in QEMU
 * `docs/specs/fw_cfg.rst`): a 16-bit write to the selector port (0x510) picks an item and resets
 * the read offset, and byte reads from the data port (0x511) return the item's bytes in order;
 * past the end they read 0. Device offsets: 0 = selector, 1 = data. As QEMU's combined region
 * does, a 16-bit write anywhere selects and a byte read anywhere reads data; guest writes of data
 * are ignored (the write channel is gone since QEMU 2.4), and other access sizes read all-ones.
 *
 * The legacy keys carry what SeaBIOS, Linux's `qemu_fw_cfg` driver and other tools expect; files
 * (from selector 0x20 on) are listed in FILE_DIR sorted by name, as QEMU sorts them. The DMA
 * interface (QEMU `fw_cfg_dma_transfer`, port 0x514) is offered when the host gives the device
 * guest-memory access (`dma` option); FW_CFG_ID then reports it.
 */
import { checkState, DevicesError, hex, stateInt } from '../errors';
import { type E820Entry, encodeE820 } from './e820';

/** Well-known selector keys. */
export const FW_CFG_SIGNATURE = 0x00;
export const FW_CFG_ID = 0x01;
export const FW_CFG_UUID = 0x02;
export const FW_CFG_RAM_SIZE = 0x03;
export const FW_CFG_NOGRAPHIC = 0x04;
export const FW_CFG_NB_CPUS = 0x05;
export const FW_CFG_MACHINE_ID = 0x06;
export const FW_CFG_KERNEL_ADDR = 0x07;
export const FW_CFG_KERNEL_SIZE = 0x08;
export const FW_CFG_KERNEL_CMDLINE = 0x09;
export const FW_CFG_INITRD_ADDR = 0x0a;
export const FW_CFG_INITRD_SIZE = 0x0b;
export const FW_CFG_BOOT_DEVICE = 0x0c;
export const FW_CFG_NUMA = 0x0d;
export const FW_CFG_BOOT_MENU = 0x0e;
export const FW_CFG_MAX_CPUS = 0x0f;
export const FW_CFG_KERNEL_ENTRY = 0x10;
export const FW_CFG_KERNEL_DATA = 0x11;
export const FW_CFG_INITRD_DATA = 0x12;
export const FW_CFG_CMDLINE_ADDR = 0x13;
export const FW_CFG_CMDLINE_SIZE = 0x14;
export const FW_CFG_CMDLINE_DATA = 0x15;
export const FW_CFG_SETUP_ADDR = 0x16;
export const FW_CFG_SETUP_SIZE = 0x17;
export const FW_CFG_SETUP_DATA = 0x18;
export const FW_CFG_FILE_DIR = 0x19;
/** First selector of host-added files. */
export const FW_CFG_FILE_FIRST = 0x20;
/** Selector bit of the (obsolete) write channel; ignored for lookup. */
export const FW_CFG_WRITE_CHANNEL = 0x4000;
/** Selector bit of architecture-local keys (x86: 0x8000 ACPI tables … 0x8003 E820). */
export const FW_CFG_ARCH_LOCAL = 0x8000;
/** Key bits that index the item table. */
export const FW_CFG_ENTRY_MASK = 0x3fff;
/** FW_CFG_ID feature bits. */
export const FW_CFG_VERSION = 0x01;
export const FW_CFG_VERSION_DMA = 0x02;
/** File names are at most 55 bytes plus a NUL (`FW_CFG_MAX_FILE_PATH`). */
export const FW_CFG_MAX_FILE_PATH = 56;
/** One FILE_DIR entry: size (be32), select (be16), reserved (be16), name[56]. */
export const FW_CFG_FILE_ENTRY_SIZE = 64;
/** x86 arch-local key QEMU's pc sets to 1 (IRQ0 is routed to IO-APIC pin 2). */
export const FW_CFG_IRQ0_OVERRIDE = FW_CFG_ARCH_LOCAL | 0x02;

/** DMA control bits (`FWCfgDmaAccess.control`, big-endian). */
export const FW_CFG_DMA_CTL_ERROR = 0x01;
export const FW_CFG_DMA_CTL_READ = 0x02;
export const FW_CFG_DMA_CTL_SKIP = 0x04;
export const FW_CFG_DMA_CTL_SELECT = 0x08;
export const FW_CFG_DMA_CTL_WRITE = 0x10;
/** Size of `FWCfgDmaAccess { be32 control; be32 length; be64 address; }`. */
export const FW_CFG_DMA_ACCESS_SIZE = 16;
/** What the DMA address register reads as: "QEMU CFG" as a big-endian u64. */
export const FW_CFG_DMA_SIGNATURE = 0x51454d5520434647n;

/** Guest-physical memory access for DMA. Both return false for an address the guest may not use. */
export interface FwCfgDmaMemory {
  /** Copy `length` bytes at `gpa` into a new array, or return undefined. */
  read(gpa: number, length: number): Uint8Array | undefined;
  /** Store `bytes` at `gpa`; false if the range is not plain guest memory. */
  write(gpa: number, bytes: Uint8Array): boolean;
}

/** Zeros for DMA reads past the end of an item, written at most this much at a time. */
const DMA_ZERO_CHUNK = new Uint8Array(0x10000);

/** Offsets inside the 2-port window. */
export const FW_CFG_SELECTOR = 0;
export const FW_CFG_DATA = 1;

/** A Linux/multiboot image handed to the guest through fw_cfg (what `-kernel`/`-initrd` do). */
export interface FwCfgBlob {
  /** Guest-physical load address advertised in the *_ADDR key. */
  addr: number;
  data: Uint8Array;
}

export interface FwCfgOptions {
  /** RAM size in bytes (FW_CFG_RAM_SIZE, u64). */
  ramSize?: number;
  /** vCPUs started at boot (FW_CFG_NB_CPUS, u16); default 1. */
  cpus?: number;
  /** Possible vCPUs (FW_CFG_MAX_CPUS, u16); default `cpus`. */
  maxCpus?: number;
  /** 16-byte UUID (FW_CFG_UUID); default all zero as QEMU without `-uuid`. */
  uuid?: Uint8Array;
  /** FW_CFG_NOGRAPHIC (u16); default false. */
  nographic?: boolean;
  /** FW_CFG_BOOT_MENU (u16); default false. */
  bootMenu?: boolean;
  /** FW_CFG_MACHINE_ID (u32), only when given. */
  machineId?: number;
  kernel?: FwCfgBlob & { entry?: number };
  initrd?: FwCfgBlob;
  setup?: FwCfgBlob;
  /** Kernel command line; CMDLINE_DATA holds it NUL-terminated, CMDLINE_SIZE counts the NUL. */
  cmdline?: { addr: number; text: string };
  /** Guest-memory access that enables the DMA interface (port 0x514, `dmaPort`). */
  dma?: FwCfgDmaMemory;
  /** Memory map published as the "etc/e820" file (what SeaBIOS and OVMF read on QEMU). */
  e820?: readonly E820Entry[];
}

/** Name of the e820 file. */
export const FW_CFG_E820_FILE = 'etc/e820';

/** A file as listed in FILE_DIR. */
export interface FwCfgFileInfo {
  name: string;
  select: number;
  size: number;
}

function le(value: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let v = BigInt(value);
  for (let i = 0; i < bytes; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function checkUint(value: number, bits: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0 || (bits < 53 && value >= 2 ** bits)) {
    throw new DevicesError(
      'INVALID_CONFIG',
      `fw_cfg ${what} ${String(value)} is not a ${bits}-bit unsigned integer`,
    );
  }
}

/** The fw_cfg device. */
export class FwCfg {
  /** Currently selected key. */
  private selector = 0;
  /** Read offset into the selected item. */
  private offset = 0;
  private current: Uint8Array | undefined;
  private readonly items = new Map<number, Uint8Array>();
  private readonly files: { name: string; data: Uint8Array }[] = [];
  private readonly dmaMemory: FwCfgDmaMemory | undefined;
  /** DMA address register (high dword written first, the low write starts the transfer). */
  private dmaAddress = 0n;
  /** DMA transfers run and those that ended with the error bit. */
  readonly dmaStats = { transfers: 0, errors: 0 };
  /**
   * The DMA address register as an 8-port device for 0x514–0x51b (`io.register(0x514, 8, fw.dmaPort)`),
   * big-endian like QEMU's: the guest writes `cpu_to_be32(addr >> 32)` to 0x514 and
   * `cpu_to_be32(addr)` to 0x518, which starts the transfer. Reads return "QEMU CFG".
   */
  readonly dmaPort: {
    read(o: number, size: number): number;
    write(o: number, size: number, v: number): void;
  };

  constructor(options: FwCfgOptions = {}) {
    const cpus = options.cpus ?? 1;
    checkUint(cpus, 16, 'cpus');
    const maxCpus = options.maxCpus ?? cpus;
    checkUint(maxCpus, 16, 'maxCpus');
    if (maxCpus < cpus) throw new DevicesError('INVALID_CONFIG', `fw_cfg maxCpus ${maxCpus} < cpus ${cpus}`);
    this.setItem(FW_CFG_SIGNATURE, new TextEncoder().encode('QEMU'));
    this.dmaMemory = options.dma;
    this.setItem(FW_CFG_ID, le(FW_CFG_VERSION | (options.dma ? FW_CFG_VERSION_DMA : 0), 4));
    this.dmaPort = {
      read: (o, size) => this.dmaRead(o, size),
      write: (o, size, v) => this.dmaWrite(o, size, v),
    };
    const uuid = options.uuid ?? new Uint8Array(16);
    if (uuid.length !== 16)
      throw new DevicesError('INVALID_CONFIG', `fw_cfg uuid has ${uuid.length} bytes, not 16`);
    this.setItem(FW_CFG_UUID, Uint8Array.from(uuid));
    const ram = options.ramSize ?? 0;
    checkUint(ram, 64, 'ramSize');
    this.setItem(FW_CFG_RAM_SIZE, le(ram, 8));
    this.setItem(FW_CFG_NOGRAPHIC, le(options.nographic ? 1 : 0, 2));
    this.setItem(FW_CFG_NB_CPUS, le(cpus, 2));
    this.setItem(FW_CFG_MAX_CPUS, le(maxCpus, 2));
    this.setItem(FW_CFG_BOOT_MENU, le(options.bootMenu ? 1 : 0, 2));
    this.setItem(FW_CFG_IRQ0_OVERRIDE, le(1, 4));
    if (options.machineId !== undefined) {
      checkUint(options.machineId, 32, 'machineId');
      this.setItem(FW_CFG_MACHINE_ID, le(options.machineId, 4));
    }
    const blob = (b: FwCfgBlob, what: string, addrKey: number, sizeKey: number, dataKey: number) => {
      checkUint(b.addr, 32, `${what}.addr`);
      this.setItem(addrKey, le(b.addr, 4));
      this.setItem(sizeKey, le(b.data.length, 4));
      this.setItem(dataKey, b.data);
    };
    if (options.kernel) {
      blob(options.kernel, 'kernel', FW_CFG_KERNEL_ADDR, FW_CFG_KERNEL_SIZE, FW_CFG_KERNEL_DATA);
      if (options.kernel.entry !== undefined) {
        checkUint(options.kernel.entry, 32, 'kernel.entry');
        this.setItem(FW_CFG_KERNEL_ENTRY, le(options.kernel.entry, 4));
      }
    }
    if (options.initrd)
      blob(options.initrd, 'initrd', FW_CFG_INITRD_ADDR, FW_CFG_INITRD_SIZE, FW_CFG_INITRD_DATA);
    if (options.setup) blob(options.setup, 'setup', FW_CFG_SETUP_ADDR, FW_CFG_SETUP_SIZE, FW_CFG_SETUP_DATA);
    if (options.cmdline) {
      const text = new TextEncoder().encode(options.cmdline.text);
      const data = new Uint8Array(text.length + 1);
      data.set(text);
      blob(
        { addr: options.cmdline.addr, data },
        'cmdline',
        FW_CFG_CMDLINE_ADDR,
        FW_CFG_CMDLINE_SIZE,
        FW_CFG_CMDLINE_DATA,
      );
    }
    this.rebuildDirectory();
    if (options.e820) this.addFile(FW_CFG_E820_FILE, encodeE820(options.e820));
    this.select(0);
  }

  /** Set (or replace) a legacy or arch-local item. File selectors are managed by `addFile`. */
  setItem(key: number, data: Uint8Array): void {
    checkUint(key, 16, 'key');
    const k = key & ~FW_CFG_WRITE_CHANNEL;
    if ((k & FW_CFG_ENTRY_MASK) >= FW_CFG_FILE_FIRST && (k & FW_CFG_ARCH_LOCAL) === 0) {
      throw new DevicesError('INVALID_ARGUMENT', `fw_cfg key ${hex(key)} is in the file range; use addFile`);
    }
    this.items.set(k, data);
    if (this.selector === k) this.current = data;
  }

  /** Add a named file (e.g. "etc/e820"); returns its selector. Files are kept sorted by name. */
  addFile(name: string, data: Uint8Array): number {
    const bytes = new TextEncoder().encode(name);
    if (bytes.length === 0 || bytes.length >= FW_CFG_MAX_FILE_PATH || bytes.includes(0)) {
      throw new DevicesError(
        'INVALID_ARGUMENT',
        `fw_cfg file name "${name}" must be 1..55 bytes without NUL`,
      );
    }
    if (this.files.some((f) => f.name === name)) {
      throw new DevicesError('OVERLAP', `fw_cfg file "${name}" already exists`);
    }
    if (FW_CFG_FILE_FIRST + this.files.length > FW_CFG_ENTRY_MASK) {
      throw new DevicesError('OUT_OF_RANGE', `fw_cfg has no selector left for "${name}"`);
    }
    this.files.push({ name, data });
    // strcmp order on the UTF-8 bytes, as QEMU's fw_cfg_add_file_callback sorts.
    const key = (s: string) => Array.from(new TextEncoder().encode(s));
    this.files.sort((a, b) => {
      const x = key(a.name);
      const y = key(b.name);
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
      return x.length - y.length;
    });
    this.rebuildDirectory();
    this.select(this.selector);
    return FW_CFG_FILE_FIRST + this.files.findIndex((f) => f.name === name);
  }

  /** The file directory as the guest sees it. */
  listFiles(): FwCfgFileInfo[] {
    return this.files.map((f, i) => ({ name: f.name, select: FW_CFG_FILE_FIRST + i, size: f.data.length }));
  }

  private rebuildDirectory(): void {
    const dir = new Uint8Array(4 + FW_CFG_FILE_ENTRY_SIZE * this.files.length);
    const dv = new DataView(dir.buffer);
    dv.setUint32(0, this.files.length); // big-endian, like every FILE_DIR field
    this.files.forEach((f, i) => {
      const o = 4 + FW_CFG_FILE_ENTRY_SIZE * i;
      dv.setUint32(o, f.data.length);
      dv.setUint16(o + 4, FW_CFG_FILE_FIRST + i);
      dir.set(new TextEncoder().encode(f.name), o + 8);
    });
    this.items.set(FW_CFG_FILE_DIR, dir);
  }

  private lookup(key: number): Uint8Array | undefined {
    const k = key & (FW_CFG_ARCH_LOCAL | FW_CFG_ENTRY_MASK);
    if ((k & FW_CFG_ARCH_LOCAL) === 0 && k >= FW_CFG_FILE_FIRST)
      return this.files[k - FW_CFG_FILE_FIRST]?.data;
    return this.items.get(k);
  }

  private select(key: number): void {
    this.selector = key & 0xffff;
    this.offset = 0;
    this.current = this.lookup(this.selector);
  }

  read(_offset: number, size: number): number {
    if (size !== 1) return size === 2 ? 0xffff : 0xffffffff;
    const d = this.current;
    if (!d || this.offset >= d.length) return 0;
    return d[this.offset++]!;
  }

  write(_offset: number, size: number, value: number): void {
    if (size === 2) this.select(value & 0xffff);
    // byte writes are data writes: ignored, as in QEMU since 2.4
  }

  private dmaRead(o: number, size: number): number {
    if (o < 0 || o + size > 8) return size === 4 ? 0xffffffff : (1 << (8 * size)) - 1;
    // Byte i of the register (big-endian) is the i-th byte in port order.
    let v = 0;
    for (let i = 0; i < size; i++)
      v |= Number((FW_CFG_DMA_SIGNATURE >> BigInt(8 * (7 - (o + i)))) & 0xffn) << (8 * i);
    return v >>> 0;
  }

  private dmaWrite(o: number, size: number, value: number): void {
    if (!this.dmaMemory || size !== 4 || (o !== 0 && o !== 4)) return;
    const be =
      BigInt(
        ((value & 0xff) << 24) |
          (((value >>> 8) & 0xff) << 16) |
          (((value >>> 16) & 0xff) << 8) |
          (value >>> 24),
      ) & 0xffffffffn;
    if (o === 0) {
      this.dmaAddress = (be << 32n) | (this.dmaAddress & 0xffffffffn);
    } else {
      const addr = (this.dmaAddress & ~0xffffffffn) | be;
      this.dmaAddress = 0n; // QEMU resets the address after each transfer
      this.dmaTransfer(addr);
    }
  }

  /** QEMU `fw_cfg_dma_transfer`: never throws; bad guest addresses set the error bit. */
  private dmaTransfer(descAddr: bigint): void {
    this.dmaStats.transfers++;
    const safe = (a: bigint) => a >= 0n && a <= BigInt(Number.MAX_SAFE_INTEGER);
    if (!safe(descAddr + BigInt(FW_CFG_DMA_ACCESS_SIZE))) {
      this.dmaStats.errors++;
      return; // cannot even report: the descriptor is unreachable
    }
    const desc = this.dmaLoad(Number(descAddr), FW_CFG_DMA_ACCESS_SIZE);
    if (!desc || desc.length !== FW_CFG_DMA_ACCESS_SIZE) {
      this.dmaStats.errors++;
      return;
    }
    const dv = new DataView(desc.buffer, desc.byteOffset, FW_CFG_DMA_ACCESS_SIZE);
    const control = dv.getUint32(0, false);
    let length = dv.getUint32(4, false);
    let address = dv.getBigUint64(8, false);
    if (control & FW_CFG_DMA_CTL_SELECT) this.select(control >>> 16);
    const read = (control & FW_CFG_DMA_CTL_READ) !== 0;
    const write = !read && (control & FW_CFG_DMA_CTL_WRITE) !== 0;
    if (!read && !write && !(control & FW_CFG_DMA_CTL_SKIP)) length = 0;
    let status = 0;
    while (length > 0 && !(status & FW_CFG_DMA_CTL_ERROR)) {
      const d = this.current;
      let len: number;
      if (!d || this.offset >= d.length) {
        // Past the end: reads fill zeros (in bounded chunks: the length is the guest's).
        len = Math.min(length, DMA_ZERO_CHUNK.length);
        if (read && !this.dmaStore(address, DMA_ZERO_CHUNK.subarray(0, len))) status |= FW_CFG_DMA_CTL_ERROR;
        if (write) status |= FW_CFG_DMA_CTL_ERROR;
      } else {
        len = Math.min(length, d.length - this.offset);
        if (read && !this.dmaStore(address, d.subarray(this.offset, this.offset + len))) {
          status |= FW_CFG_DMA_CTL_ERROR;
        }
        if (write) status |= FW_CFG_DMA_CTL_ERROR; // no item is guest-writable
        this.offset += len;
      }
      address += BigInt(len);
      length -= len;
    }
    if (status & FW_CFG_DMA_CTL_ERROR) this.dmaStats.errors++;
    const done = new Uint8Array(4);
    new DataView(done.buffer).setUint32(0, status, false);
    this.dmaStore(descAddr, done);
  }

  private dmaStore(address: bigint, bytes: Uint8Array): boolean {
    if (address < 0n || address + BigInt(bytes.length) > BigInt(Number.MAX_SAFE_INTEGER)) return false;
    try {
      return this.dmaMemory!.write(Number(address), bytes) === true;
    } catch {
      return false; // a host accessor that throws on a bad guest address counts as a DMA error
    }
  }

  private dmaLoad(address: number, length: number): Uint8Array | undefined {
    try {
      return this.dmaMemory!.read(address, length);
    } catch {
      return undefined;
    }
  }

  /** Guest-visible state (the contents are host configuration and are not part of it). */
  saveState(): { kind: 'fw-cfg'; version: 1; selector: number; offset: number; dmaHigh: number } {
    return {
      kind: 'fw-cfg',
      version: 1,
      selector: this.selector,
      offset: this.offset,
      dmaHigh: Number(this.dmaAddress >> 32n),
    };
  }

  /** Restore the selector and read offset from `saveState()`. */
  restoreState(state: unknown): void {
    const s = checkState(state, 'fw-cfg', 1);
    const selector = stateInt(s, 'fw-cfg', 'selector', 0, 0xffff);
    const offset = stateInt(s, 'fw-cfg', 'offset', 0, 0xffffffff);
    const dmaHigh = stateInt(s, 'fw-cfg', 'dmaHigh', 0, 0xffffffff);
    this.select(selector);
    this.offset = offset;
    this.dmaAddress = BigInt(dmaHigh) << 32n;
  }
}
