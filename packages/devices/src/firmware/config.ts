/**
 * `PlatformConfig`: what the machine actually contains, from which every firmware table is built.
 * Addresses and ports default to the shared constants in `platform.ts`, the same numbers the
 * composer registers the devices at, so tables and devices cannot disagree.
 */
import { DevicesError, hex } from '../errors';
import { IOAPIC_VERSION } from '../ioapic/registers';
import {
  ACPI_PM_BASE,
  ACPI_SCI_IRQ,
  BIOS_AREA_END,
  BIOS_AREA_START,
  BIOS_ROM_START,
  HPET_BASE,
  IOAPIC_BASE,
  LAPIC_BASE,
} from './platform';

export interface PlatformConfig {
  /** RAM in bytes (at least 2 MiB). */
  ramSize: number;
  /** Number of vCPUs (APIC IDs 0..cpus−1, the first is the bootstrap processor); default 1. */
  cpus?: number;
  /** Explicit local APIC IDs instead of 0..cpus−1 (the first is the BSP). */
  apicIds?: number[];
  /**
   * The IO-APIC (always present): default at IOAPIC_BASE, GSI base 0, version 0x11 (82093AA), and
   * ID one above the highest APIC ID when that fits the 4-bit field, else 0 (as QEMU).
   */
  ioApic?: { id?: number; address?: number; gsiBase?: number; version?: number };
  /** A PCI host bridge answers at 0xcf8 (DSDT `\_SB.PCI0`); default true. */
  pci?: boolean;
  /** Dual 8259 PICs present (MADT PCAT_COMPAT); default true. */
  pic?: boolean;
  /** An i8042 is present (FADT IAPC_BOOT_ARCH 8042 flag); default true. */
  i8042?: boolean;
  /** HPET: `false` for none; default present at HPET_BASE with 3 timers. */
  hpet?: false | { address?: number; timers?: number };
  /**
   * ACPI PM block base and SCI IRQ (default 0x600 and IRQ 9), and whether the AcpiPm device was
   * created with `smiCommand` (the FADT then advertises SMI_CMD 0xb2 with ACPI_ENABLE/DISABLE).
   */
  acpiPm?: { base?: number; sciIrq?: number; smiCommand?: boolean };
  /** The 0xcf9 reset register is present (FADT RESET_REG); default true. */
  resetRegister?: boolean;
  /** ACPI OEM ID (≤ 6 ASCII chars) and OEM table ID (≤ 8). */
  oemId?: string;
  oemTableId?: string;
  /** Also build an XSDT and an ACPI 2.0 RSDP (revision 2); default false (RSDP rev 0 + RSDT). */
  xsdt?: boolean;
  /** Where the tables start in the BIOS area (16-byte aligned); default 0xe0000. */
  tablesBase?: number;
  /** Where the RSDP and MP floating pointer go: 16-byte aligned in 0xf0000–0xfffc0; default 0xf0000. */
  pointersBase?: number;
}

/** The config with every default filled in. */
export interface ResolvedPlatform {
  ramSize: number;
  apicIds: number[];
  ioApic: { id: number; address: number; gsiBase: number; version: number };
  pci: boolean;
  pic: boolean;
  i8042: boolean;
  hpet: { address: number; timers: number } | null;
  acpiPm: { base: number; sciIrq: number; smiCommand: boolean };
  resetRegister: boolean;
  oemId: string;
  oemTableId: string;
  xsdt: boolean;
  tablesBase: number;
  pointersBase: number;
  lapicAddress: number;
}

/** The IO-APIC model's version register (bits 7:0): the MP table's IO APIC version. */
export const IOAPIC_DEFAULT_VERSION = IOAPIC_VERSION;

/** Small numbers in decimal, addresses in hex. */
function fmt(v: number): string {
  return v <= 0xffff ? String(v) : v <= 0xffffffff ? hex(v) : String(v);
}

function int(v: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new DevicesError(
      'INVALID_CONFIG',
      `platform ${what} ${String(v)} is not an integer in [${fmt(min)}, ${fmt(max)}]`,
    );
  }
  return v;
}

function ascii(s: string, max: number, what: string): string {
  if (s.length > max || !/^[\x20-\x7e]*$/.test(s)) {
    throw new DevicesError(
      'INVALID_CONFIG',
      `platform ${what} "${s}" is not up to ${max} printable ASCII chars`,
    );
  }
  return s.padEnd(max, ' ');
}

/** Fill defaults and validate; throws INVALID_CONFIG naming the bad field. */
export function resolvePlatform(config: PlatformConfig): ResolvedPlatform {
  if (!config || typeof config !== 'object')
    throw new DevicesError('INVALID_CONFIG', 'platform config is missing');
  int(config.ramSize, 2 * 1024 * 1024, Number.MAX_SAFE_INTEGER, 'ramSize');
  let apicIds: number[];
  if (config.apicIds) {
    apicIds = config.apicIds.map((id, i) => int(id, 0, 254, `apicIds[${i}]`));
    if (apicIds.length === 0) throw new DevicesError('INVALID_CONFIG', 'platform apicIds is empty');
    if (new Set(apicIds).size !== apicIds.length)
      throw new DevicesError('INVALID_CONFIG', 'platform apicIds has duplicates');
    if (config.cpus !== undefined && config.cpus !== apicIds.length) {
      throw new DevicesError(
        'INVALID_CONFIG',
        `platform cpus ${config.cpus} != apicIds.length ${apicIds.length}`,
      );
    }
  } else {
    const n = int(config.cpus ?? 1, 1, 255, 'cpus');
    apicIds = Array.from({ length: n }, (_, i) => i);
  }
  const io = config.ioApic ?? {};
  const defaultIoId = Math.max(...apicIds) + 1;
  const ioApic = {
    id: int(io.id ?? (defaultIoId > 15 ? 0 : defaultIoId), 0, 15, 'ioApic.id'),
    address: int(io.address ?? IOAPIC_BASE, 0, 0xfffff000, 'ioApic.address'),
    gsiBase: int(io.gsiBase ?? 0, 0, 0xffff, 'ioApic.gsiBase'),
    version: int(io.version ?? IOAPIC_DEFAULT_VERSION, 0, 0xff, 'ioApic.version'),
  };
  const hpet =
    config.hpet === false
      ? null
      : {
          address: int(config.hpet?.address ?? HPET_BASE, 0, 0xfffffc00, 'hpet.address'),
          timers: int(config.hpet?.timers ?? 3, 3, 32, 'hpet.timers'),
        };
  const pm = config.acpiPm ?? {};
  const acpiPm = {
    base: int(pm.base ?? ACPI_PM_BASE, 0, 0xfff0, 'acpiPm.base'),
    sciIrq: int(pm.sciIrq ?? ACPI_SCI_IRQ, 1, 15, 'acpiPm.sciIrq'),
    smiCommand: pm.smiCommand ?? false,
  };
  const tablesBase = int(
    config.tablesBase ?? BIOS_AREA_START,
    BIOS_AREA_START,
    BIOS_AREA_END - 16,
    'tablesBase',
  );
  if (tablesBase % 16 !== 0)
    throw new DevicesError('INVALID_CONFIG', `platform tablesBase ${hex(tablesBase)} is not 16-byte aligned`);
  const pointersBase = int(
    config.pointersBase ?? BIOS_ROM_START,
    BIOS_ROM_START,
    BIOS_AREA_END - 64,
    'pointersBase',
  );
  if (pointersBase % 16 !== 0) {
    throw new DevicesError(
      'INVALID_CONFIG',
      `platform pointersBase ${hex(pointersBase)} is not 16-byte aligned`,
    );
  }
  if (tablesBase >= pointersBase && tablesBase < pointersBase + 64) {
    throw new DevicesError(
      'INVALID_CONFIG',
      `platform tablesBase ${hex(tablesBase)} overlaps the pointer block at ${hex(pointersBase)}`,
    );
  }
  return {
    ramSize: config.ramSize,
    apicIds,
    ioApic,
    pci: config.pci ?? true,
    pic: config.pic ?? true,
    i8042: config.i8042 ?? true,
    hpet,
    acpiPm,
    resetRegister: config.resetRegister ?? true,
    oemId: ascii(config.oemId ?? 'PVVM', 6, 'oemId'),
    oemTableId: ascii(config.oemTableId ?? 'PVPC', 8, 'oemTableId'),
    xsdt: config.xsdt ?? false,
    tablesBase,
    pointersBase,
    lapicAddress: LAPIC_BASE,
  };
}
