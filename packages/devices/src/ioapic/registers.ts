/**
 * Intel 82093AA I/O APIC (datasheet order number 290566, §3 "Register Description").
 */

/** Default physical base of the IO-APIC. */
export const IOAPIC_DEFAULT_BASE = 0xfec00000;
/** Size of its MMIO window. */
export const IOAPIC_MMIO_SIZE = 0x1000;

// ---- MMIO offsets ----
/** I/O Register Select (8 bits, R/W). */
export const IOAPIC_IOREGSEL = 0x00;
/** I/O Window (32 bits): the register IOREGSEL selects. */
export const IOAPIC_IOWIN = 0x10;
/** EOI register (write only, version 0x20 and later; ICH datasheet "IOAPIC EOI"): bits 7:0 = vector. */
export const IOAPIC_EOI = 0x40;

// ---- Indirect registers ----
/** IOAPICID: bits 27:24 = APIC ID. */
export const IOAPIC_REG_ID = 0x00;
/** IOAPICVER: bits 7:0 version (0x11), bits 23:16 maximum redirection entry. */
export const IOAPIC_REG_VER = 0x01;
/** IOAPICARB: bits 27:24 arbitration ID. */
export const IOAPIC_REG_ARB = 0x02;
/** IOREDTBL[n]: low dword at 0x10 + 2n, high dword at 0x11 + 2n. */
export const IOAPIC_REG_REDTBL = 0x10;

export const IOAPIC_ID_SHIFT = 24;
export const IOAPIC_ID_MASK = 0x0f000000;
/** The 82093AA's version number. */
export const IOAPIC_VERSION = 0x11;
/** The version of the ICH-integrated IO-APICs (and QEMU's default), which adds the EOI register. */
export const IOAPIC_VERSION_20 = 0x20;
export const IOAPIC_VER_MAX_REDIR_SHIFT = 16;
/** Number of redirection entries (interrupt input pins). */
export const IOAPIC_NUM_PINS = 24;

// ---- Redirection entry, low dword ----
export const IOAPIC_RTE_VECTOR_MASK = 0xff;
/** Delivery mode, bits 10:8. */
export const IOAPIC_RTE_DELMODE_SHIFT = 8;
export const IOAPIC_RTE_DELMODE_MASK = 0x700;
/** Destination mode, bit 11: 0 physical, 1 logical. */
export const IOAPIC_RTE_DESTMODE = 0x800;
/** Delivery status, bit 12 (read only): a message is pending. */
export const IOAPIC_RTE_DELIVS = 0x1000;
/** Interrupt input pin polarity, bit 13: 1 = active low. */
export const IOAPIC_RTE_POLARITY = 0x2000;
/** Remote IRR, bit 14 (read only): a level interrupt was accepted and awaits EOI. */
export const IOAPIC_RTE_REMOTE_IRR = 0x4000;
/** Trigger mode, bit 15: 1 = level. */
export const IOAPIC_RTE_TRIGGER_LEVEL = 0x8000;
/** Interrupt mask, bit 16. */
export const IOAPIC_RTE_MASKED = 0x10000;
/** Bits the guest can write in the low dword. */
export const IOAPIC_RTE_WRITABLE_LO = 0x1afff;
/** Destination field, bits 63:56 (high dword bits 31:24). */
export const IOAPIC_RTE_DEST_SHIFT = 24;

// ---- Delivery modes (bits 10:8) ----
export const IOAPIC_DELMODE_FIXED = 0;
export const IOAPIC_DELMODE_LOWEST = 1;
export const IOAPIC_DELMODE_SMI = 2;
export const IOAPIC_DELMODE_NMI = 4;
export const IOAPIC_DELMODE_INIT = 5;
export const IOAPIC_DELMODE_EXTINT = 7;
