/**
 * Firmware tables for a BIOS-less boot, written into guest memory by the host: ACPI (RSDP, RSDT,
 * optional XSDT, FADT, FACS, DSDT, MADT, HPET) and the Intel MultiProcessor Specification 1.4
 * tables (floating pointer + configuration table). Everything goes into one block in the BIOS
 * area (default 0xe0000), where Linux scans for the RSDP (`acpi_find_root_pointer`: 16-byte
 * boundaries in 0xe0000–0xfffff) and the MP floating pointer (`smp_scan_config` on 0xf0000–0xfffff
 * and 0xe0000 via the BIOS ROM scan). All numbers come from the resolved `PlatformConfig`, the
 * device register offsets from the device modules.
 *
 * References: ACPI 6.5 §5.2 (table layouts), IA-PC HPET spec 1.0a §3.2.4, Intel MP spec 1.4
 * chapter 4, QEMU `hw/i386/acpi-build.c` and `hw/acpi/aml-build.c`, SeaBIOS `src/fw/mptable.c`.
 */
import { DevicesError, hex } from '../errors';
import {
  ACPI_DISABLE_VALUE,
  ACPI_ENABLE_VALUE,
  ACPI_PM_TMR,
  ACPI_PM_TMR_LEN,
  ACPI_PM1_CNT,
  ACPI_PM1_CNT_LEN,
  ACPI_PM1_EVT_LEN,
  ACPI_PM1_STS,
  ACPI_SLP_TYP_S5,
} from '../system/acpi-pm';
import { hpetBlockId } from '../system/hpet';
import { RCR_RST_CPU, RCR_SYS_RST } from '../system/reset-control';
import { amlDevice, amlNameEisaId, amlNameInteger, amlNamePackage, amlRootScope } from './aml';
import { type PlatformConfig, type ResolvedPlatform, resolvePlatform } from './config';
import { buildE820Map, type E820Entry } from './e820';
import { checksum8, type GuestMemoryTarget, physWriter } from './guest-memory';
import { ACPI_SMI_CMD_PORT, BIOS_AREA_END, RESET_CONTROL_PORT } from './platform';

/** ACPI system description table header length (§5.2.6). */
export const ACPI_HEADER_SIZE = 36;
/** RSDP sizes: 20 bytes for revision 0, 36 for revision 2 (§5.2.5.3). */
export const RSDP_V1_SIZE = 20;
export const RSDP_V2_SIZE = 36;
/** FADT revision 3 (ACPI 2.0+) is 244 bytes (§5.2.9). */
export const FADT_REVISION = 3;
export const FADT_SIZE = 244;
/** FACS is 64 bytes and 64-byte aligned (§5.2.10). */
export const FACS_SIZE = 64;
/** HPET description table is 56 bytes. */
export const HPET_TABLE_SIZE = 56;
/** MADT revision (ACPI 1.0-compatible entries only). */
export const MADT_REVISION = 1;

/** FADT offsets used here (§5.2.9 Table 5.9). */
export const FADT_FIRMWARE_CTRL = 36;
export const FADT_DSDT = 40;
export const FADT_SCI_INT = 46;
export const FADT_SMI_CMD = 48;
export const FADT_ACPI_ENABLE = 52;
export const FADT_ACPI_DISABLE = 53;
export const FADT_PM1A_EVT_BLK = 56;
export const FADT_PM1A_CNT_BLK = 64;
export const FADT_PM_TMR_BLK = 76;
export const FADT_PM1_EVT_LEN = 88;
export const FADT_PM1_CNT_LEN = 89;
export const FADT_PM_TMR_LEN = 91;
export const FADT_P_LVL2_LAT = 96;
export const FADT_P_LVL3_LAT = 98;
export const FADT_CENTURY = 108;
export const FADT_IAPC_BOOT_ARCH = 109;
export const FADT_FLAGS = 112;
export const FADT_RESET_REG = 116;
export const FADT_RESET_VALUE = 128;
export const FADT_X_FIRMWARE_CTRL = 132;
export const FADT_X_DSDT = 140;
export const FADT_X_PM1A_EVT_BLK = 148;
export const FADT_X_PM1A_CNT_BLK = 172;
export const FADT_X_PM_TMR_BLK = 208;

/** FADT flags (§5.2.9 Table 5.10). */
export const FADT_F_WBINVD = 1 << 0;
export const FADT_F_PROC_C1 = 1 << 2;
export const FADT_F_SLP_BUTTON = 1 << 5;
export const FADT_F_RESET_REG_SUP = 1 << 10;
/** IA-PC boot architecture flags (§5.2.9.3). */
export const IAPC_BOOT_ARCH_LEGACY_DEVICES = 1 << 0;
export const IAPC_BOOT_ARCH_8042 = 1 << 1;
/** CMOS index of the century byte (as QEMU's FADT). */
export const RTC_CENTURY_INDEX = 0x32;

/** Generic Address Structure address space IDs and access sizes (§5.2.3.2). */
export const GAS_SYSTEM_MEMORY = 0;
export const GAS_SYSTEM_IO = 1;
export const GAS_ACCESS_BYTE = 1;
export const GAS_ACCESS_WORD = 2;
export const GAS_ACCESS_DWORD = 3;

/** MADT (§5.2.12). */
export const MADT_PCAT_COMPAT = 1;
export const MADT_TYPE_LOCAL_APIC = 0;
export const MADT_TYPE_IO_APIC = 1;
export const MADT_TYPE_INTERRUPT_OVERRIDE = 2;
export const MADT_TYPE_LOCAL_APIC_NMI = 4;
export const MADT_LOCAL_APIC_ENABLED = 1;
/** MPS INTI flags: polarity bits 1:0, trigger mode bits 3:2 (§5.2.12.5 Table 5.26). */
export const MPS_INTI_POLARITY_HIGH = 0x1;
export const MPS_INTI_POLARITY_LOW = 0x3;
export const MPS_INTI_TRIGGER_EDGE = 0x4;
export const MPS_INTI_TRIGGER_LEVEL = 0xc;

/** MP spec 1.4 entry types and sizes (§4.3). */
export const MP_SPEC_REV = 4;
export const MP_FLOATING_SIZE = 16;
export const MP_HEADER_SIZE = 44;
export const MP_ENTRY_PROCESSOR = 0;
export const MP_ENTRY_BUS = 1;
export const MP_ENTRY_IOAPIC = 2;
export const MP_ENTRY_IO_INTERRUPT = 3;
export const MP_ENTRY_LOCAL_INTERRUPT = 4;
export const MP_PROCESSOR_ENTRY_SIZE = 20;
export const MP_SMALL_ENTRY_SIZE = 8;
export const MP_CPU_ENABLED = 1;
export const MP_CPU_BSP = 2;
export const MP_INT_TYPE_INT = 0;
export const MP_INT_TYPE_NMI = 1;
export const MP_INT_TYPE_EXTINT = 3;
/** Local APIC version reported for processors (an integrated xAPIC). */
export const MP_LAPIC_VERSION = 0x14;
/** CPU signature (family 6) and feature flags (FPU, APIC) of MP processor entries. */
export const MP_CPU_SIGNATURE = 0x600;
export const MP_CPU_FEATURES = 0x201;

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

/** Little builder over one byte array with absolute guest addresses. */
class Block {
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  used = 0;
  constructor(
    readonly base: number,
    limit: number,
  ) {
    this.bytes = new Uint8Array(limit - base);
    this.dv = new DataView(this.bytes.buffer);
  }
  alloc(size: number, align: number, what: string): number {
    const off = Math.ceil((this.base + this.used) / align) * align - this.base;
    if (off + size > this.bytes.length) {
      throw new DevicesError(
        'OUT_OF_RANGE',
        `firmware table ${what} does not fit below ${hex(this.base + this.bytes.length)}`,
      );
    }
    this.used = off + size;
    return this.base + off;
  }
  u8(a: number, v: number): void {
    this.bytes[a - this.base] = v & 0xff;
  }
  u16(a: number, v: number): void {
    this.dv.setUint16(a - this.base, v, true);
  }
  u32(a: number, v: number): void {
    this.dv.setUint32(a - this.base, v >>> 0, true);
  }
  u64(a: number, v: number): void {
    this.u32(a, v % 2 ** 32);
    this.u32(a + 4, Math.floor(v / 2 ** 32));
  }
  str(a: number, s: string): void {
    for (let i = 0; i < s.length; i++) this.u8(a + i, s.charCodeAt(i));
  }
  raw(a: number, data: ArrayLike<number>): void {
    this.bytes.set(data, a - this.base);
  }
  /** Store at `at` the checksum of [start, start + len). */
  checksum(at: number, start: number, len: number): void {
    this.u8(at, 0);
    this.u8(at, checksum8(this.bytes, start - this.base, start - this.base + len));
  }
}

/** ACPI SDT header, checksum filled by `finishSdt`. */
function sdtHeader(b: Block, a: number, sig: string, len: number, rev: number, p: ResolvedPlatform): void {
  b.str(a, sig);
  b.u32(a + 4, len);
  b.u8(a + 8, rev);
  b.str(a + 10, p.oemId);
  b.str(a + 16, p.oemTableId);
  b.u32(a + 24, 1); // OEM revision
  b.str(a + 28, 'PVVM'); // creator ID
  b.u32(a + 32, 1); // creator revision
}

function finishSdt(b: Block, a: number, len: number): void {
  b.checksum(a + 9, a, len);
}

/** Generic Address Structure. */
function gas(b: Block, a: number, space: number, bitWidth: number, access: number, address: number): void {
  b.u8(a, space);
  b.u8(a + 1, bitWidth);
  b.u8(a + 2, 0);
  b.u8(a + 3, access);
  b.u64(a + 4, address);
}

/**
 * DSDT body: `\_S5` (the SLP_TYP the AcpiPm device powers off on) and, when the PCI host exists,
 * `\_SB.PCI0` (PNP0A03) so an ACPI OS enumerates bus 0 — Linux scans PCI only through an ACPI root
 * bridge once ACPI is enabled.
 */
function buildDsdtAml(p: ResolvedPlatform): number[] {
  const aml = amlNamePackage('_S5', [ACPI_SLP_TYP_S5, ACPI_SLP_TYP_S5, 0, 0]);
  if (p.pci) {
    aml.push(
      ...amlRootScope(
        '_SB',
        amlDevice('PCI0', [
          ...amlNameEisaId('_HID', 'PNP0A03'),
          ...amlNameInteger('_ADR', 0),
          ...amlNameInteger('_UID', 0),
          ...amlNameInteger('_BBN', 0),
        ]),
      ),
    );
  }
  return aml;
}

/** ISA IRQ → (GSI, MPS flags) as the MADT overrides and MP table describe them. */
export function isaIrqRouting(p: ResolvedPlatform): { irq: number; gsi: number; flags: number }[] {
  const out: { irq: number; gsi: number; flags: number }[] = [];
  for (let irq = 0; irq < 16; irq++) {
    if (irq === 2) continue; // the cascade; IRQ0 takes GSI 2
    const gsi = p.ioApic.gsiBase + (irq === 0 ? 2 : irq);
    const flags = irq === p.acpiPm.sciIrq ? MPS_INTI_POLARITY_HIGH | MPS_INTI_TRIGGER_LEVEL : 0;
    out.push({ irq, gsi, flags });
  }
  return out;
}

/**
 * Build every table for `config` and write them into `memory`. Returns the addresses. Throws
 * INVALID_CONFIG for a bad config and OUT_OF_RANGE when the tables do not fit in the BIOS area or
 * the memory target.
 */
export function writeFirmwareTables(config: PlatformConfig, memory: GuestMemoryTarget): FirmwareLayout {
  const p = resolvePlatform(config);
  const write = physWriter(memory);
  // The RSDP and the MP floating pointer go to a small block in the BIOS ROM segment (Linux's
  // `smp_scan_config` scans 0xf0000–0xfffff, not 0xe0000); the tables go to `tablesBase`.
  const ptr = new Block(p.pointersBase, p.pointersBase + POINTER_BLOCK_SIZE);
  const tablesEnd = p.tablesBase < p.pointersBase ? p.pointersBase : BIOS_AREA_END;
  const b = new Block(p.tablesBase, tablesEnd);
  const ncpu = p.apicIds.length;
  const dsdtAml = buildDsdtAml(p);
  const overrides = [
    { irq: 0, gsi: p.ioApic.gsiBase + 2, flags: 0 },
    {
      irq: p.acpiPm.sciIrq,
      gsi: p.ioApic.gsiBase + p.acpiPm.sciIrq,
      flags: MPS_INTI_POLARITY_HIGH | MPS_INTI_TRIGGER_LEVEL,
    },
  ];
  const madtLen = ACPI_HEADER_SIZE + 8 + 8 * ncpu + 12 + 10 * overrides.length + 6;
  const sdtCount = p.hpet ? 3 : 2; // FADT, MADT, [HPET]

  // Allocate first so every pointer is known, then fill.
  const rsdp = ptr.alloc(p.xsdt ? RSDP_V2_SIZE : RSDP_V1_SIZE, 16, 'RSDP');
  const mpFloating = ptr.alloc(MP_FLOATING_SIZE, 16, 'MP floating pointer');
  const facs = b.alloc(FACS_SIZE, 64, 'FACS');
  const dsdt = b.alloc(ACPI_HEADER_SIZE + dsdtAml.length, 16, 'DSDT');
  const fadt = b.alloc(FADT_SIZE, 16, 'FADT');
  const madt = b.alloc(madtLen, 16, 'MADT');
  const hpet = p.hpet ? b.alloc(HPET_TABLE_SIZE, 16, 'HPET') : null;
  const rsdtLen = ACPI_HEADER_SIZE + 4 * sdtCount;
  const rsdt = b.alloc(rsdtLen, 16, 'RSDT');
  const xsdtLen = ACPI_HEADER_SIZE + 8 * sdtCount;
  const xsdt = p.xsdt ? b.alloc(xsdtLen, 16, 'XSDT') : null;
  const ints = isaIrqRouting(p);
  const mpEntries = ncpu + 1 + 1 + ints.length + 2;
  const mpLen = MP_HEADER_SIZE + MP_PROCESSOR_ENTRY_SIZE * ncpu + MP_SMALL_ENTRY_SIZE * (mpEntries - ncpu);
  const mpConfig = b.alloc(mpLen, 16, 'MP configuration table');

  // FACS (§5.2.10): no checksum.
  b.str(facs, 'FACS');
  b.u32(facs + 4, FACS_SIZE);
  b.u8(facs + 32, 1); // version

  // DSDT: header + AML.
  sdtHeader(b, dsdt, 'DSDT', ACPI_HEADER_SIZE + dsdtAml.length, 1, p);
  b.raw(dsdt + ACPI_HEADER_SIZE, dsdtAml);
  finishSdt(b, dsdt, ACPI_HEADER_SIZE + dsdtAml.length);

  // FADT.
  const pm = p.acpiPm.base;
  sdtHeader(b, fadt, 'FACP', FADT_SIZE, FADT_REVISION, p);
  b.u32(fadt + FADT_FIRMWARE_CTRL, facs);
  b.u32(fadt + FADT_DSDT, dsdt);
  b.u16(fadt + FADT_SCI_INT, p.acpiPm.sciIrq);
  if (p.acpiPm.smiCommand) {
    b.u32(fadt + FADT_SMI_CMD, ACPI_SMI_CMD_PORT);
    b.u8(fadt + FADT_ACPI_ENABLE, ACPI_ENABLE_VALUE);
    b.u8(fadt + FADT_ACPI_DISABLE, ACPI_DISABLE_VALUE);
  } // else SMI_CMD = 0: an ACPI-only platform, SCI_EN is already set
  b.u32(fadt + FADT_PM1A_EVT_BLK, pm + ACPI_PM1_STS);
  b.u32(fadt + FADT_PM1A_CNT_BLK, pm + ACPI_PM1_CNT);
  b.u32(fadt + FADT_PM_TMR_BLK, pm + ACPI_PM_TMR);
  b.u8(fadt + FADT_PM1_EVT_LEN, ACPI_PM1_EVT_LEN);
  b.u8(fadt + FADT_PM1_CNT_LEN, ACPI_PM1_CNT_LEN);
  b.u8(fadt + FADT_PM_TMR_LEN, ACPI_PM_TMR_LEN);
  b.u16(fadt + FADT_P_LVL2_LAT, 101); // > 100: C2 not supported
  b.u16(fadt + FADT_P_LVL3_LAT, 1001); // > 1000: C3 not supported
  b.u8(fadt + FADT_CENTURY, RTC_CENTURY_INDEX);
  b.u16(
    fadt + FADT_IAPC_BOOT_ARCH,
    (p.pic ? IAPC_BOOT_ARCH_LEGACY_DEVICES : 0) | (p.i8042 ? IAPC_BOOT_ARCH_8042 : 0),
  );
  b.u32(
    fadt + FADT_FLAGS,
    FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_SLP_BUTTON | (p.resetRegister ? FADT_F_RESET_REG_SUP : 0),
  );
  if (p.resetRegister) {
    gas(b, fadt + FADT_RESET_REG, GAS_SYSTEM_IO, 8, GAS_ACCESS_BYTE, RESET_CONTROL_PORT);
    b.u8(fadt + FADT_RESET_VALUE, RCR_SYS_RST | RCR_RST_CPU);
  }
  b.u64(fadt + FADT_X_FIRMWARE_CTRL, facs);
  b.u64(fadt + FADT_X_DSDT, dsdt);
  gas(b, fadt + FADT_X_PM1A_EVT_BLK, GAS_SYSTEM_IO, 8 * ACPI_PM1_EVT_LEN, GAS_ACCESS_WORD, pm + ACPI_PM1_STS);
  gas(b, fadt + FADT_X_PM1A_CNT_BLK, GAS_SYSTEM_IO, 8 * ACPI_PM1_CNT_LEN, GAS_ACCESS_WORD, pm + ACPI_PM1_CNT);
  gas(b, fadt + FADT_X_PM_TMR_BLK, GAS_SYSTEM_IO, 8 * ACPI_PM_TMR_LEN, GAS_ACCESS_DWORD, pm + ACPI_PM_TMR);
  finishSdt(b, fadt, FADT_SIZE);

  // MADT.
  sdtHeader(b, madt, 'APIC', madtLen, MADT_REVISION, p);
  b.u32(madt + 36, p.lapicAddress);
  b.u32(madt + 40, p.pic ? MADT_PCAT_COMPAT : 0);
  let a = madt + 44;
  p.apicIds.forEach((id, uid) => {
    b.u8(a, MADT_TYPE_LOCAL_APIC);
    b.u8(a + 1, 8);
    b.u8(a + 2, uid);
    b.u8(a + 3, id);
    b.u32(a + 4, MADT_LOCAL_APIC_ENABLED);
    a += 8;
  });
  b.u8(a, MADT_TYPE_IO_APIC);
  b.u8(a + 1, 12);
  b.u8(a + 2, p.ioApic.id);
  b.u32(a + 4, p.ioApic.address);
  b.u32(a + 8, p.ioApic.gsiBase);
  a += 12;
  for (const o of overrides) {
    b.u8(a, MADT_TYPE_INTERRUPT_OVERRIDE);
    b.u8(a + 1, 10);
    b.u8(a + 2, 0); // bus: ISA
    b.u8(a + 3, o.irq);
    b.u32(a + 4, o.gsi);
    b.u16(a + 8, o.flags);
    a += 10;
  }
  b.u8(a, MADT_TYPE_LOCAL_APIC_NMI);
  b.u8(a + 1, 6);
  b.u8(a + 2, 0xff); // all processors
  b.u16(a + 3, 0);
  b.u8(a + 5, 1); // LINT1
  finishSdt(b, madt, madtLen);

  // HPET (HPET spec §3.2.4).
  if (hpet !== null && p.hpet) {
    sdtHeader(b, hpet, 'HPET', HPET_TABLE_SIZE, 1, p);
    b.u32(hpet + 36, hpetBlockId(p.hpet.timers));
    gas(b, hpet + 40, GAS_SYSTEM_MEMORY, 64, 0, p.hpet.address);
    b.u8(hpet + 52, 0); // HPET number
    b.u16(hpet + 53, 0); // minimum periodic tick
    b.u8(hpet + 55, 0); // no page protection
    finishSdt(b, hpet, HPET_TABLE_SIZE);
  }

  // RSDT / XSDT.
  const sdts = [fadt, madt, ...(hpet !== null ? [hpet] : [])];
  sdtHeader(b, rsdt, 'RSDT', rsdtLen, 1, p);
  for (const [i, t] of sdts.entries()) b.u32(rsdt + ACPI_HEADER_SIZE + 4 * i, t);
  finishSdt(b, rsdt, rsdtLen);
  if (xsdt !== null) {
    sdtHeader(b, xsdt, 'XSDT', xsdtLen, 1, p);
    for (const [i, t] of sdts.entries()) b.u64(xsdt + ACPI_HEADER_SIZE + 8 * i, t);
    finishSdt(b, xsdt, xsdtLen);
  }

  // RSDP (§5.2.5.3).
  ptr.str(rsdp, 'RSD PTR ');
  ptr.str(rsdp + 9, p.oemId);
  ptr.u8(rsdp + 15, p.xsdt ? 2 : 0);
  ptr.u32(rsdp + 16, rsdt);
  ptr.checksum(rsdp + 8, rsdp, RSDP_V1_SIZE);
  if (xsdt !== null) {
    ptr.u32(rsdp + 20, RSDP_V2_SIZE);
    ptr.u64(rsdp + 24, xsdt);
    ptr.checksum(rsdp + 32, rsdp, RSDP_V2_SIZE);
  }

  // MP configuration table (MP spec §4.2).
  b.str(mpConfig, 'PCMP');
  b.u16(mpConfig + 4, mpLen);
  b.u8(mpConfig + 6, MP_SPEC_REV);
  b.str(mpConfig + 8, p.oemId.padEnd(8, ' '));
  b.str(mpConfig + 16, p.oemTableId.padEnd(12, ' '));
  b.u16(mpConfig + 34, mpEntries);
  b.u32(mpConfig + 36, p.lapicAddress);
  a = mpConfig + MP_HEADER_SIZE;
  p.apicIds.forEach((id, i) => {
    b.u8(a, MP_ENTRY_PROCESSOR);
    b.u8(a + 1, id);
    b.u8(a + 2, MP_LAPIC_VERSION);
    b.u8(a + 3, MP_CPU_ENABLED | (i === 0 ? MP_CPU_BSP : 0));
    b.u32(a + 4, MP_CPU_SIGNATURE);
    b.u32(a + 8, MP_CPU_FEATURES);
    a += MP_PROCESSOR_ENTRY_SIZE;
  });
  const isaBus = 0;
  b.u8(a, MP_ENTRY_BUS);
  b.u8(a + 1, isaBus);
  b.str(a + 2, 'ISA   ');
  a += MP_SMALL_ENTRY_SIZE;
  b.u8(a, MP_ENTRY_IOAPIC);
  b.u8(a + 1, p.ioApic.id);
  b.u8(a + 2, p.ioApic.version);
  b.u8(a + 3, 1); // enabled
  b.u32(a + 4, p.ioApic.address);
  a += MP_SMALL_ENTRY_SIZE;
  for (const r of ints) {
    b.u8(a, MP_ENTRY_IO_INTERRUPT);
    b.u8(a + 1, MP_INT_TYPE_INT);
    b.u16(a + 2, r.flags);
    b.u8(a + 4, isaBus);
    b.u8(a + 5, r.irq);
    b.u8(a + 6, p.ioApic.id);
    b.u8(a + 7, r.gsi - p.ioApic.gsiBase);
    a += MP_SMALL_ENTRY_SIZE;
  }
  // Local interrupts: ExtINT (the 8259) to the BSP's LINT0, NMI to every LINT1 (SeaBIOS).
  for (const [type, dest, lint] of [
    [MP_INT_TYPE_EXTINT, p.apicIds[0]!, 0],
    [MP_INT_TYPE_NMI, 0xff, 1],
  ] as const) {
    b.u8(a, MP_ENTRY_LOCAL_INTERRUPT);
    b.u8(a + 1, type);
    b.u16(a + 2, 0);
    b.u8(a + 4, isaBus);
    b.u8(a + 5, 0);
    b.u8(a + 6, dest);
    b.u8(a + 7, lint);
    a += MP_SMALL_ENTRY_SIZE;
  }
  b.checksum(mpConfig + 7, mpConfig, mpLen);

  // MP floating pointer structure (§4.1): length in 16-byte units, feature bytes 0 = table present,
  // IMCRP clear (virtual wire mode).
  ptr.str(mpFloating, '_MP_');
  ptr.u32(mpFloating + 4, mpConfig);
  ptr.u8(mpFloating + 8, 1);
  ptr.u8(mpFloating + 9, MP_SPEC_REV);
  ptr.checksum(mpFloating + 10, mpFloating, MP_FLOATING_SIZE);

  write(b.base, b.bytes.subarray(0, b.used));
  write(ptr.base, ptr.bytes.subarray(0, ptr.used));
  return {
    rsdp,
    rsdt,
    xsdt,
    fadt,
    facs,
    dsdt,
    madt,
    hpet,
    mpFloating,
    mpConfig,
    end: b.base + b.used,
    platform: p,
    e820: platformE820(p),
  };
}
