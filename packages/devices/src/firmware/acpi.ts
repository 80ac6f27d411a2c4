/**
 * ACPI tables (ACPI 6.5 §5.2): RSDP, RSDT, optional XSDT, FADT (revision 3), FACS, a DSDT with
 * `\_S5` and `\_SB.PCI0`, MADT and the HPET table (IA-PC HPET spec 1.0a §3.2.4), laid out the way
 * QEMU's `hw/i386/acpi-build.c` describes a `pc` machine. Register blocks come from the device
 * modules so the FADT advertises exactly what AcpiPm and ResetControl decode.
 */
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
import type { Block } from './block';
import type { ResolvedPlatform } from './config';
import { ACPI_SMI_CMD_PORT, RESET_CONTROL_PORT } from './platform';

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

/** Where the ACPI tables went. */
export interface AcpiLayout {
  rsdp: number;
  rsdt: number;
  xsdt: number | null;
  fadt: number;
  facs: number;
  dsdt: number;
  madt: number;
  hpet: number | null;
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

/**
 * Allocate and fill the ACPI tables: the RSDP in `ptr` (scanned by the OS), the rest in `b`.
 */
export function writeAcpiTables(b: Block, ptr: Block, p: ResolvedPlatform): AcpiLayout {
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
  const facs = b.alloc(FACS_SIZE, 64, 'FACS');
  const dsdt = b.alloc(ACPI_HEADER_SIZE + dsdtAml.length, 16, 'DSDT');
  const fadt = b.alloc(FADT_SIZE, 16, 'FADT');
  const madt = b.alloc(madtLen, 16, 'MADT');
  const hpet = p.hpet ? b.alloc(HPET_TABLE_SIZE, 16, 'HPET') : null;
  const rsdtLen = ACPI_HEADER_SIZE + 4 * sdtCount;
  const rsdt = b.alloc(rsdtLen, 16, 'RSDT');
  const xsdtLen = ACPI_HEADER_SIZE + 8 * sdtCount;
  const xsdt = p.xsdt ? b.alloc(xsdtLen, 16, 'XSDT') : null;

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

  return { rsdp, rsdt, xsdt, fadt, facs, dsdt, madt, hpet };
}
