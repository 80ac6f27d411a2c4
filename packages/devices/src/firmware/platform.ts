/**
 * The one table of platform addresses and ports. Devices are registered at these addresses by the
 * composer and the firmware tables (ACPI, MP, e820, fw_cfg) advertise the same numbers, so the two
 * can never disagree. Values follow QEMU's `pc` (i440FX + PIIX4 PM) machine, which is what guests
 * and tools expect of a PC:
 * - LAPIC / IO-APIC / HPET MMIO: Intel SDM Vol. 3 §10.4.1, 82093AA datasheet, IA-PC HPET spec 1.0a.
 * - ACPI PM block at 0x600 (QEMU `hw/acpi/piix4.c`, PIIX4 PMBA as set by SeaBIOS).
 * - fw_cfg 0x510/0x511 (QEMU `hw/nvram/fw_cfg.c`, `FW_CFG_IO_BASE`), debug exit 0xf4 and
 *   debugcon 0xe9 (QEMU `hw/misc/debugexit.c`, `hw/char/debugcon.c`).
 */

/** Local APIC MMIO base (SDM Vol. 3 §10.4.1, IA32_APIC_BASE reset value). */
export const LAPIC_BASE = 0xfee00000;
/** IO-APIC MMIO base (82093AA default). */
export const IOAPIC_BASE = 0xfec00000;
/** Size of the IO-APIC MMIO window. */
export const IOAPIC_SIZE = 0x1000;
/** HPET MMIO base (QEMU `HPET_BASE`). */
export const HPET_BASE = 0xfed00000;
/** Size of the HPET register block (IA-PC HPET spec 1.0a §2.3: 1 KiB). */
export const HPET_SIZE = 0x400;

/** i8042 data port. */
export const I8042_DATA_PORT = 0x60;
/** i8042 status (read) / command (write) port. */
export const I8042_COMMAND_PORT = 0x64;
/** System control port A (fast A20 and fast reset). */
export const PORT92 = 0x92;
/** POST code / I/O delay port. */
export const POST_PORT = 0x80;
/** Alternate I/O delay port (Linux `io_delay=0xed`). */
export const DELAY_PORT_ED = 0xed;
/** Secondary POST code port. */
export const POST_PORT_190 = 0x190;
/** Bochs/QEMU debug console. */
export const DEBUGCON_PORT = 0xe9;
/** QEMU isa-debug-exit, as commonly configured (`iobase=0xf4,iosize=0x04`). */
export const DEBUG_EXIT_PORT = 0xf4;
/** Width of the debug-exit window. */
export const DEBUG_EXIT_SIZE = 4;
/** PCI configuration address register (mechanism #1). */
export const PCI_CONFIG_ADDRESS_PORT = 0xcf8;
/** Reset control register (PIIX3/4, ICH). Shares the 0xcf8 dword; byte access only. */
export const RESET_CONTROL_PORT = 0xcf9;
/** PCI configuration data window (0xcfc–0xcff). */
export const PCI_CONFIG_DATA_PORT = 0xcfc;
/** fw_cfg selector (16-bit write); the data port follows at +1. */
export const FW_CFG_PORT = 0x510;
/** fw_cfg data port. */
export const FW_CFG_DATA_PORT = 0x511;
/** fw_cfg DMA address register (8 ports, big-endian), when DMA is enabled. */
export const FW_CFG_DMA_PORT = 0x514;

/** ACPI PM I/O base (PIIX4 PMBA as QEMU/SeaBIOS program it). */
export const ACPI_PM_BASE = 0x600;
/** SMI command (APM control) port, when the ACPI PM block models one. */
export const ACPI_SMI_CMD_PORT = 0xb2;
/** ISA IRQ of the ACPI SCI (PIIX4 routes SCI to IRQ 9, level, active high). */
export const ACPI_SCI_IRQ = 9;

/** Where the BIOS area starts: OSes scan 0xe0000–0xfffff for the RSDP (ACPI 6.5 §5.2.5.1). */
export const BIOS_AREA_START = 0xe0000;
/** The BIOS ROM segment, where Linux also scans for the MP floating pointer (MP spec §4). */
export const BIOS_ROM_START = 0xf0000;
/** One past the end of the BIOS area. */
export const BIOS_AREA_END = 0x100000;
/** Top of conventional memory handed to the OS (639 KiB, the last KiB is the EBDA). */
export const EBDA_START = 0x9fc00;
/** Start of the legacy VGA / option ROM hole. */
export const LEGACY_HOLE_START = 0xa0000;
/** Start of extended memory. */
export const EXTENDED_MEMORY_START = 0x100000;
