/**
 * Firmware tables for a BIOS-less boot, written into guest memory by the host: ACPI (`acpi.ts`) and
 * MP 1.4 (`mptable.ts`) from one resolved `PlatformConfig`, plus the matching e820 map. The tables
 * go into one block in the BIOS area (default 0xe0000); the RSDP and the MP floating pointer go
 * into a small block in the BIOS ROM segment (default 0xf0000), where Linux scans for both
 * (`acpi_find_root_pointer`: 16-byte boundaries in 0xe0000–0xfffff; `smp_scan_config`:
 * 0xf0000–0xfffff, the first KiB and the last KiB below 640 KiB).
 */
import { writeAcpiTables } from './acpi';
import { Block } from './block';
import { type PlatformConfig, type ResolvedPlatform, resolvePlatform } from './config';
import { buildE820Map, type E820Entry } from './e820';
import { type GuestMemoryTarget, physWriter } from './guest-memory';
import { writeMpTables } from './mptable';
import { BIOS_AREA_END } from './platform';

/** Bytes reserved for the RSDP (36) and the MP floating pointer (16), each 16-byte aligned. */
export const POINTER_BLOCK_SIZE = 64;

/** Where each table went. */
export interface FirmwareLayout {
  rsdp: number;
  rsdt: number;
  xsdt: number | null;
  fadt: number;
  facs: number;
  dsdt: number;
  madt: number;
  hpet: number | null;
  mpFloating: number;
  mpConfig: number;
  /** First byte after the table block (the pointers are in their own 64-byte block). */
  end: number;
  /** The resolved config the tables describe (configure the devices from the same object). */
  platform: ResolvedPlatform;
  /** The memory map that goes with the tables (see `platformE820`). */
  e820: E820Entry[];
}

/** MMIO pages the e820 map reports as reserved: IO-APIC, HPET (its 4 KiB page), local APIC. */
export function platformE820(config: PlatformConfig | ResolvedPlatform): E820Entry[] {
  const p = 'apicIds' in config && 'lapicAddress' in config ? config : resolvePlatform(config);
  const reserved = [{ addr: p.ioApic.address, size: 0x1000 }];
  if (p.hpet) reserved.push({ addr: p.hpet.address - (p.hpet.address % 0x1000), size: 0x1000 });
  reserved.push({ addr: p.lapicAddress, size: 0x1000 });
  return buildE820Map({ ramSize: p.ramSize, reserved });
}

/**
 * Build every table for `config` and write them into `memory`. Returns the addresses. Throws
 * INVALID_CONFIG for a bad config and OUT_OF_RANGE when the tables do not fit in the BIOS area or
 * the memory target.
 */
export function writeFirmwareTables(config: PlatformConfig, memory: GuestMemoryTarget): FirmwareLayout {
  const p = resolvePlatform(config);
  const write = physWriter(memory);
  const ptr = new Block(p.pointersBase, p.pointersBase + POINTER_BLOCK_SIZE);
  const tablesEnd = p.tablesBase < p.pointersBase ? p.pointersBase : BIOS_AREA_END;
  const b = new Block(p.tablesBase, tablesEnd);
  const acpi = writeAcpiTables(b, ptr, p);
  const mp = writeMpTables(b, ptr, p);
  write(b.base, b.bytes.subarray(0, b.used));
  write(ptr.base, ptr.bytes.subarray(0, ptr.used));
  return { ...acpi, ...mp, end: b.base + b.used, platform: p, e820: platformE820(p) };
}
