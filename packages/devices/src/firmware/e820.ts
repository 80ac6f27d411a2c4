/**
 * The BIOS E820 memory map (ACPI 6.5 §15, "System Address Map Interfaces"): the RAM ranges and
 * reserved holes an OS may use, in the layout QEMU's `pc` machine reports. Encodings are provided
 * for Linux `boot_params.e820_table` / fw_cfg "etc/e820" (20-byte entries) and for the multiboot
 * information structure's `mmap` (24-byte entries with a leading size field).
 */
import { DevicesError, hex } from '../errors';
import {
  BIOS_AREA_END,
  BIOS_AREA_START,
  EBDA_START,
  EXTENDED_MEMORY_START,
  LEGACY_HOLE_START,
} from './platform';

/** Address range types (ACPI Table 15.312). */
export const E820_RAM = 1;
export const E820_RESERVED = 2;
export const E820_ACPI = 3;
export const E820_NVS = 4;
export const E820_UNUSABLE = 5;

/** One range. `addr` and `size` are byte counts below 2^53. */
export interface E820Entry {
  addr: number;
  size: number;
  type: number;
}

/** Bytes per entry of the packed `struct e820_entry { u64 addr; u64 size; u32 type; }`. */
export const E820_ENTRY_SIZE = 20;
/** Bytes per multiboot mmap entry (`size` field + 20). */
export const MULTIBOOT_MMAP_ENTRY_SIZE = 24;

/** RAM above this stays below 4 GiB only when the total is smaller (QEMU pc: 3.5 GiB). */
export const LOWMEM_LIMIT = 0xe0000000;
/** Where RAM below 4 GiB ends when the total does not fit under LOWMEM_LIMIT (QEMU, 1 GiB aligned). */
export const LOWMEM_SPLIT = 0xc0000000;
/** RAM above the 32-bit hole starts at 4 GiB. */
export const HIGHMEM_START = 0x100000000;

export interface E820Options {
  /** Total RAM in bytes, at least 2 MiB. */
  ramSize: number;
  /** Extra reserved ranges (MMIO windows the OS should not allocate over). */
  reserved?: { addr: number; size: number }[];
}

/** The map for `ramSize` bytes of RAM, sorted and validated. */
export function buildE820Map(options: E820Options): E820Entry[] {
  const ram = options.ramSize;
  if (!Number.isSafeInteger(ram) || ram < 2 * 1024 * 1024) {
    throw new DevicesError(
      'INVALID_CONFIG',
      `e820: ramSize ${String(ram)} is not an integer of at least 2 MiB`,
    );
  }
  const low = ram < LOWMEM_LIMIT ? ram : LOWMEM_SPLIT;
  const map: E820Entry[] = [
    { addr: 0, size: EBDA_START, type: E820_RAM },
    { addr: EBDA_START, size: LEGACY_HOLE_START - EBDA_START, type: E820_RESERVED },
    { addr: BIOS_AREA_START, size: BIOS_AREA_END - BIOS_AREA_START, type: E820_RESERVED },
    { addr: EXTENDED_MEMORY_START, size: low - EXTENDED_MEMORY_START, type: E820_RAM },
  ];
  for (const r of options.reserved ?? []) map.push({ addr: r.addr, size: r.size, type: E820_RESERVED });
  if (ram > low) map.push({ addr: HIGHMEM_START, size: ram - low, type: E820_RAM });
  map.sort((a, b) => a.addr - b.addr);
  validateE820(map);
  return map;
}

/** Throws unless entries are sorted, non-empty, non-overlapping and of known types. */
export function validateE820(map: readonly E820Entry[]): void {
  let end = 0;
  map.forEach((e, i) => {
    if (!Number.isSafeInteger(e.addr) || !Number.isSafeInteger(e.size) || e.addr < 0 || e.size <= 0) {
      throw new DevicesError(
        'INVALID_CONFIG',
        `e820 entry ${i} (${hex(e.addr)}+${hex(e.size)}) is not a valid range`,
      );
    }
    if (!Number.isInteger(e.type) || e.type < E820_RAM || e.type > E820_UNUSABLE) {
      throw new DevicesError('INVALID_CONFIG', `e820 entry ${i} has unknown type ${String(e.type)}`);
    }
    if (e.addr < end) {
      throw new DevicesError(
        'OVERLAP',
        `e820 entry ${i} at ${hex(e.addr)} overlaps or precedes the previous one`,
      );
    }
    end = e.addr + e.size;
  });
}

function put64(dv: DataView, off: number, v: number): void {
  dv.setUint32(off, v % 2 ** 32, true);
  dv.setUint32(off + 4, Math.floor(v / 2 ** 32), true);
}

/** Packed 20-byte entries (Linux `struct boot_e820_entry`, QEMU fw_cfg "etc/e820"). */
export function encodeE820(map: readonly E820Entry[]): Uint8Array {
  validateE820(map);
  const out = new Uint8Array(E820_ENTRY_SIZE * map.length);
  const dv = new DataView(out.buffer);
  map.forEach((e, i) => {
    const o = E820_ENTRY_SIZE * i;
    put64(dv, o, e.addr);
    put64(dv, o + 8, e.size);
    dv.setUint32(o + 16, e.type, true);
  });
  return out;
}

/** Multiboot (0.6.96 §3.3) `mmap` buffer: each entry is `size` (= 20) then base, length, type. */
export function encodeMultibootMmap(map: readonly E820Entry[]): Uint8Array {
  validateE820(map);
  const out = new Uint8Array(MULTIBOOT_MMAP_ENTRY_SIZE * map.length);
  const dv = new DataView(out.buffer);
  map.forEach((e, i) => {
    const o = MULTIBOOT_MMAP_ENTRY_SIZE * i;
    dv.setUint32(o, E820_ENTRY_SIZE, true);
    put64(dv, o + 4, e.addr);
    put64(dv, o + 12, e.size);
    dv.setUint32(o + 20, e.type, true);
  });
  return out;
}

/** Multiboot `mem_lower` / `mem_upper` in KiB: RAM at 0 and contiguous RAM from 1 MiB. */
export function multibootMemInfo(map: readonly E820Entry[]): { memLower: number; memUpper: number } {
  const lower = map.find((e) => e.type === E820_RAM && e.addr === 0);
  const upper = map.find((e) => e.type === E820_RAM && e.addr === EXTENDED_MEMORY_START);
  return {
    memLower: lower ? Math.floor(Math.min(lower.size, LEGACY_HOLE_START) / 1024) : 0,
    memUpper: upper ? Math.floor(Math.min(upper.size, 2 ** 32 - EXTENDED_MEMORY_START) / 1024) : 0,
  };
}
