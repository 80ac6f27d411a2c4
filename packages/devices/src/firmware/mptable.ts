/**
 * Intel MultiProcessor Specification 1.4 tables (chapter 4): the floating pointer structure, where
 * Linux's `smp_scan_config` looks for it, and the configuration table with processors, the ISA bus,
 * the IO-APIC, one I/O interrupt entry per ISA IRQ (IRQ0 on pin 2, the SCI level/high) and the
 * ExtINT/NMI local interrupts, as SeaBIOS `src/fw/mptable.c` builds them for QEMU.
 */
import { MPS_INTI_POLARITY_HIGH, MPS_INTI_TRIGGER_LEVEL } from './acpi';
import type { Block } from './block';
import type { ResolvedPlatform } from './config';

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

/** Allocate and fill the MP floating pointer (in `ptr`) and the configuration table (in `b`). */
export function writeMpTables(
  b: Block,
  ptr: Block,
  p: ResolvedPlatform,
): { mpFloating: number; mpConfig: number } {
  const ncpu = p.apicIds.length;
  const ints = isaIrqRouting(p);
  const mpEntries = ncpu + 1 + 1 + ints.length + 2;
  const mpLen = MP_HEADER_SIZE + MP_PROCESSOR_ENTRY_SIZE * ncpu + MP_SMALL_ENTRY_SIZE * (mpEntries - ncpu);
  const mpFloating = ptr.alloc(MP_FLOATING_SIZE, 16, 'MP floating pointer');
  const mpConfig = b.alloc(mpLen, 16, 'MP configuration table');
  let a: number;

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

  return { mpFloating, mpConfig };
}
