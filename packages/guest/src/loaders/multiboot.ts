import { GuestError, hex } from '../errors';
import { type ElfSegment, parseElf32 } from './elf';
import { defaultMemoryMap, E820_RAM, type GuestRam, type MemoryRange } from './target';

/** Multiboot specification 0.6.96, §3.1.1: the OS image header. */
export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
/** §3.2: EAX at entry. */
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/** §3.1.1: the header must be within the first 8192 bytes, 32-bit aligned. */
const MULTIBOOT_SEARCH = 8192;
const MB_PAGE_ALIGN = 1 << 0;
const MB_MEMORY_INFO = 1 << 1;
const MB_VIDEO_MODE = 1 << 2;
const MB_AOUT_KLUDGE = 1 << 16;
/** Requirement bits (0–15) this loader honours; any other set requirement bit is refused (§3.1.2). */
const MB_SUPPORTED_REQUIREMENTS = MB_PAGE_ALIGN | MB_MEMORY_INFO | MB_VIDEO_MODE;

/** §3.3: boot information flags. */
const INFO_MEMORY = 1 << 0;
const INFO_CMDLINE = 1 << 2;
const INFO_MODS = 1 << 3;
const INFO_MEM_MAP = 1 << 6;
const INFO_BOOT_LOADER_NAME = 1 << 9;
/** Size of the boot information structure up to and including the framebuffer fields. */
const INFO_SIZE = 116;
const MODULE_ENTRY_SIZE = 16;
const MMAP_ENTRY_SIZE = 24;
const PAGE = 4096;
const LOADER_NAME = '@pv/guest';

export interface MultibootModule {
  /** Shown in error messages. */
  name: string;
  data: Uint8Array;
  /** The module's string (§3.3 `string`): by convention its command line. Default: `name`. */
  cmdline?: string;
}

export interface MultibootOptions {
  /** The image's name for error messages (e.g. its file name). */
  name?: string;
  /** Bytes of guest RAM starting at 0 (for mem_lower/mem_upper and the default memory map). */
  ramSize: number;
  /** The kernel command line. */
  cmdline?: string;
  modules?: readonly MultibootModule[];
  /** The physical memory map to report; default: `defaultMemoryMap(ramSize)`. */
  memoryMap?: readonly MemoryRange[];
}

export interface LoadedSegment {
  paddr: number;
  memSize: number;
}

/** Where the image went and the machine state multiboot requires at entry (§3.2). */
export interface MultibootResult {
  /** EIP at entry. */
  entry: number;
  /** EAX at entry: 0x2BADB002. */
  eax: number;
  /** EBX at entry: physical address of the boot information structure. */
  ebx: number;
  segments: LoadedSegment[];
  /** First byte after everything placed (kernel, boot information, modules). */
  end: number;
  /** Where each module was placed. */
  modules: { start: number; end: number }[];
}

export interface MultibootHeader {
  offset: number;
  flags: number;
  headerAddr: number;
  loadAddr: number;
  loadEndAddr: number;
  bssEndAddr: number;
  entryAddr: number;
}

/** Finds and validates the multiboot header (§3.1.1: magic + flags + checksum ≡ 0 mod 2^32). */
export function findMultibootHeader(image: Uint8Array, name = 'image'): MultibootHeader {
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const limit = Math.min(MULTIBOOT_SEARCH, image.length) - 12;
  for (let off = 0; off <= limit; off += 4) {
    if (v.getUint32(off, true) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = v.getUint32(off + 4, true);
    const checksum = v.getUint32(off + 8, true);
    if ((MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0 !== 0) continue;
    const required = flags & 0xffff;
    if ((required & ~MB_SUPPORTED_REQUIREMENTS) !== 0) {
      throw new GuestError(
        'UNSUPPORTED',
        `${name}: multiboot header requires unsupported features (flags ${hex(flags)})`,
      );
    }
    const kludge = (flags & MB_AOUT_KLUDGE) !== 0;
    if (kludge && off + 32 > image.length) {
      throw new GuestError(
        'TRUNCATED',
        `${name}: multiboot header at ${hex(off)} is cut off before its address fields`,
      );
    }
    return {
      offset: off,
      flags,
      headerAddr: kludge ? v.getUint32(off + 12, true) : 0,
      loadAddr: kludge ? v.getUint32(off + 16, true) : 0,
      loadEndAddr: kludge ? v.getUint32(off + 20, true) : 0,
      bssEndAddr: kludge ? v.getUint32(off + 24, true) : 0,
      entryAddr: kludge ? v.getUint32(off + 28, true) : 0,
    };
  }
  throw new GuestError(
    'NO_MULTIBOOT_HEADER',
    `${name}: no valid multiboot header in the first ${MULTIBOOT_SEARCH} bytes`,
  );
}

/** A segment to place: bytes from the file, then zero fill up to memSize. */
interface Placement {
  what: string;
  paddr: number;
  data: Uint8Array;
  memSize: number;
}

/** §3.1.3: the a.out kludge address fields describe the load instead of the executable's own header. */
function aoutPlacement(
  image: Uint8Array,
  h: MultibootHeader,
  name: string,
): { entry: number; parts: Placement[] } {
  if (h.headerAddr < h.loadAddr) {
    throw new GuestError(
      'BAD_IMAGE',
      `${name}: header_addr ${hex(h.headerAddr)} is below load_addr ${hex(h.loadAddr)}`,
    );
  }
  const fileStart = h.offset - (h.headerAddr - h.loadAddr);
  if (fileStart < 0)
    throw new GuestError(
      'BAD_IMAGE',
      `${name}: load_addr ${hex(h.loadAddr)} lies before the start of the file`,
    );
  const loadEnd = h.loadEndAddr === 0 ? h.loadAddr + (image.length - fileStart) : h.loadEndAddr;
  if (loadEnd < h.loadAddr)
    throw new GuestError(
      'BAD_IMAGE',
      `${name}: load_end_addr ${hex(loadEnd)} < load_addr ${hex(h.loadAddr)}`,
    );
  const fileSize = loadEnd - h.loadAddr;
  if (fileStart + fileSize > image.length) {
    throw new GuestError(
      'TRUNCATED',
      `${name}: load_end_addr ${hex(loadEnd)} needs ${hex(fileStart + fileSize)} bytes of file, it has ${hex(image.length)}`,
    );
  }
  const bssEnd = h.bssEndAddr === 0 ? loadEnd : h.bssEndAddr;
  if (bssEnd < loadEnd)
    throw new GuestError('BAD_IMAGE', `${name}: bss_end_addr ${hex(bssEnd)} < load_end_addr ${hex(loadEnd)}`);
  if (h.entryAddr < h.loadAddr || h.entryAddr >= bssEnd) {
    throw new GuestError('BAD_IMAGE', `${name}: entry_addr ${hex(h.entryAddr)} is outside the loaded image`);
  }
  return {
    entry: h.entryAddr,
    parts: [
      {
        what: 'a.out image',
        paddr: h.loadAddr,
        data: image.subarray(fileStart, fileStart + fileSize),
        memSize: bssEnd - h.loadAddr,
      },
    ],
  };
}

function elfPlacement(image: Uint8Array, name: string): { entry: number; parts: Placement[] } {
  const elf = parseElf32(image, name);
  // Multiboot loads by physical address; an entry given as a virtual address inside a segment whose
  // p_vaddr differs from p_paddr is translated the same way (as GRUB and QEMU do).
  let entry = elf.entry;
  const seg = elf.segments.find((s: ElfSegment) => entry >= s.vaddr && entry < s.vaddr + s.memSize);
  if (seg && seg.vaddr !== seg.paddr) entry = (entry - seg.vaddr + seg.paddr) >>> 0;
  return {
    entry,
    parts: elf.segments.map((s) => ({
      what: `segment ${s.index}`,
      paddr: s.paddr,
      data: image.subarray(s.fileOffset, s.fileOffset + s.fileSize),
      memSize: s.memSize,
    })),
  };
}

const align = (n: number, a: number) => Math.ceil(n / a) * a;

/**
 * Loads a multiboot v1 kernel (ELF32 by program headers, or the a.out kludge) into guest RAM and
 * writes the boot information (memory info and map, command line, modules, boot loader name) after
 * it. Place, then configure: the CPU state at entry is the caller's (EAX, EBX, flat protected mode).
 */
export function loadMultiboot(image: Uint8Array, ram: GuestRam, options: MultibootOptions): MultibootResult {
  const name = options.name ?? 'kernel';
  if (!(image instanceof Uint8Array))
    throw new GuestError('INVALID_OPTION', `${name}: image is not a Uint8Array`);
  const ramSize = options.ramSize;
  if (!Number.isInteger(ramSize) || ramSize <= 0)
    throw new GuestError('INVALID_OPTION', `${name}: ramSize ${ramSize} is not a positive integer`);
  const header = findMultibootHeader(image, name);
  const { entry, parts } =
    header.flags & MB_AOUT_KLUDGE ? aoutPlacement(image, header, name) : elfPlacement(image, name);

  let end = 0;
  for (const p of parts) {
    const last = p.paddr + p.memSize;
    if (!ram.isRam(p.paddr, p.memSize)) {
      throw new GuestError(
        'OUT_OF_RAM',
        `${name}: ${p.what} at ${hex(p.paddr)}..${hex(last)} is not inside guest RAM (${ramSize / 1048576} MiB)`,
      );
    }
    end = Math.max(end, last);
  }
  const inImage = parts.some((p) => entry >= p.paddr && entry < p.paddr + p.memSize);
  if (!inImage)
    throw new GuestError('BAD_IMAGE', `${name}: entry point ${hex(entry)} is outside every loaded segment`);
  for (const p of parts) {
    ram.writePhys(p.paddr, p.data);
    if (p.memSize > p.data.length)
      ram.writePhys(p.paddr + p.data.length, new Uint8Array(p.memSize - p.data.length));
  }

  // Boot information after the kernel: the info structure, the memory map, strings, the module
  // table, then each module on a page boundary.
  const map = options.memoryMap ?? defaultMemoryMap(ramSize);
  const modules = options.modules ?? [];
  const enc = new TextEncoder();
  const strings: Uint8Array[] = [];
  const cstr = (s: string) => {
    const b = new Uint8Array(enc.encode(s).length + 1);
    b.set(enc.encode(s));
    strings.push(b);
    return b;
  };
  const infoAddr = align(end, PAGE);
  const mmapAddr = infoAddr + INFO_SIZE;
  const modTableAddr = mmapAddr + map.length * MMAP_ENTRY_SIZE;
  let cursor = modTableAddr + modules.length * MODULE_ENTRY_SIZE;
  const strAddr = (b: Uint8Array) => {
    const at = cursor;
    cursor += b.length;
    return at;
  };
  const cmdlineAddr = strAddr(cstr(options.cmdline ?? ''));
  const loaderNameAddr = strAddr(cstr(LOADER_NAME));
  const modStringAddrs = modules.map((m) => strAddr(cstr(m.cmdline ?? m.name)));
  const infoEnd = cursor;
  const placed = modules.map((m) => {
    const start = align(cursor, PAGE);
    cursor = start + m.data.length;
    return { start, end: start + m.data.length };
  });
  const blockEnd = cursor;
  if (!ram.isRam(infoAddr, Math.max(1, blockEnd - infoAddr))) {
    throw new GuestError(
      'OUT_OF_RAM',
      `${name}: boot information and modules need ${hex(infoAddr)}..${hex(blockEnd)}, beyond guest RAM (${ramSize / 1048576} MiB)`,
    );
  }

  const block = new Uint8Array(infoEnd - infoAddr);
  const v = new DataView(block.buffer);
  const memLowerKb = Math.floor(Math.min(ramSize, 0x9fc00) / 1024);
  const memUpperKb =
    ramSize > 0x100000 ? Math.floor(Math.min(ramSize - 0x100000, 0xffffffff - 0x100000) / 1024) : 0;
  v.setUint32(0, INFO_MEMORY | INFO_CMDLINE | INFO_MODS | INFO_MEM_MAP | INFO_BOOT_LOADER_NAME, true);
  v.setUint32(4, memLowerKb, true);
  v.setUint32(8, memUpperKb, true);
  v.setUint32(16, cmdlineAddr, true);
  v.setUint32(20, modules.length, true);
  v.setUint32(24, modules.length ? modTableAddr : 0, true);
  v.setUint32(44, map.length * MMAP_ENTRY_SIZE, true);
  v.setUint32(48, mmapAddr, true);
  v.setUint32(64, loaderNameAddr, true);
  map.forEach((r, i) => {
    const o = mmapAddr - infoAddr + i * MMAP_ENTRY_SIZE;
    v.setUint32(o, MMAP_ENTRY_SIZE - 4, true); // `size` excludes itself (§3.3)
    v.setBigUint64(o + 4, BigInt(r.base), true);
    v.setBigUint64(o + 12, BigInt(r.length), true);
    v.setUint32(o + 20, r.type, true);
  });
  placed.forEach((p, i) => {
    const o = modTableAddr - infoAddr + i * MODULE_ENTRY_SIZE;
    v.setUint32(o, p.start, true);
    v.setUint32(o + 4, p.end, true);
    v.setUint32(o + 8, modStringAddrs[i]!, true);
  });
  let s = cmdlineAddr - infoAddr;
  for (const b of strings) {
    block.set(b, s);
    s += b.length;
  }
  ram.writePhys(infoAddr, block);
  for (let i = 0; i < modules.length; i++) ram.writePhys(placed[i]!.start, modules[i]!.data);

  return {
    entry,
    eax: MULTIBOOT_BOOTLOADER_MAGIC,
    ebx: infoAddr,
    segments: parts.map((p) => ({ paddr: p.paddr, memSize: p.memSize })),
    end: blockEnd,
    modules: placed,
  };
}

/** Usable RAM ranges of a memory map (type 1), for callers that want to check placement. */
export function usableRanges(map: readonly MemoryRange[]): MemoryRange[] {
  return map.filter((r) => r.type === E820_RAM);
}
