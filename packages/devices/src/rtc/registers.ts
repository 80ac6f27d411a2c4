/**
 * Motorola MC146818 real-time clock and CMOS RAM (MC146818A datasheet; names as in Linux
 * `include/linux/mc146818rtc.h`) and the CMOS bytes a PC BIOS reads (QEMU `hw/i386/pc.c`
 * `pc_cmos_init`, SeaBIOS `src/hw/rtc.h`).
 */

/** Port offsets from 0x70. */
export const RTC_PORT_INDEX = 0;
export const RTC_PORT_DATA = 1;
/** Port 0x70 bit 7: NMI disable (the rest selects the CMOS byte). */
export const RTC_NMI_DISABLE = 0x80;
export const RTC_INDEX_MASK = 0x7f;
/** Bytes of CMOS RAM (clock registers included). */
export const CMOS_SIZE = 128;

// ---- Clock registers ----
export const RTC_SECONDS = 0x00;
export const RTC_SECONDS_ALARM = 0x01;
export const RTC_MINUTES = 0x02;
export const RTC_MINUTES_ALARM = 0x03;
export const RTC_HOURS = 0x04;
export const RTC_HOURS_ALARM = 0x05;
export const RTC_DAY_OF_WEEK = 0x06;
export const RTC_DAY_OF_MONTH = 0x07;
export const RTC_MONTH = 0x08;
export const RTC_YEAR = 0x09;
export const RTC_REG_A = 0x0a;
export const RTC_REG_B = 0x0b;
export const RTC_REG_C = 0x0c;
export const RTC_REG_D = 0x0d;
/** Century, where the ACPI FADT's CENTURY field points (QEMU and SeaBIOS use 0x32). */
export const RTC_CENTURY = 0x32;

/** An alarm byte of the form 11xxxxxx matches every value ("don't care"). */
export const RTC_ALARM_DONT_CARE = 0xc0;
/** Hours register bit 7 in 12-hour mode: PM. */
export const RTC_HOURS_PM = 0x80;

// ---- Register A ----
/** Update in progress (read only). */
export const RTC_UIP = 0x80;
/** DV2:DV0 (bits 6:4), the divider: 010 = 32.768 kHz time base running; 11x = divider reset. */
export const RTC_DIV_SHIFT = 4;
export const RTC_DIV_MASK = 0x70;
export const RTC_REF_CLCK_32KHZ = 0x20;
/** RS3:RS0 (bits 3:0): periodic interrupt rate select. */
export const RTC_RATE_SELECT = 0x0f;

// ---- Register B ----
/** Inhibit updates (the guest is setting the time); also clears UIE. */
export const RTC_SET = 0x80;
/** Periodic interrupt enable. */
export const RTC_PIE = 0x40;
/** Alarm interrupt enable. */
export const RTC_AIE = 0x20;
/** Update-ended interrupt enable. */
export const RTC_UIE = 0x10;
/** Square wave enable (no SQW pin on a PC). */
export const RTC_SQWE = 0x08;
/** Data mode: 1 = binary, 0 = BCD. */
export const RTC_DM_BINARY = 0x04;
/** 1 = 24-hour mode, 0 = 12-hour mode. */
export const RTC_24H = 0x02;
/** Daylight saving enable (not modelled, like QEMU). */
export const RTC_DST_EN = 0x01;

// ---- Register C (read only, cleared by reading) ----
export const RTC_IRQF = 0x80;
export const RTC_PF = 0x40;
export const RTC_AF = 0x20;
export const RTC_UF = 0x10;

// ---- Register D ----
/** Valid RAM and time. */
export const RTC_VRT = 0x80;

/** The divider chain's input: 32.768 kHz. */
export const RTC_TICK_HZ = 32768;
/** UIP rises 244 µs (8 divider ticks) before each update. */
export const RTC_UIP_TICKS = 8;

// ---- BIOS CMOS bytes ----
/** Equipment byte (bit 1: FPU, bit 2: PS/2 mouse). */
export const CMOS_EQUIPMENT = 0x14;
/** Base memory in KiB (low, high). */
export const CMOS_BASE_MEM_LO = 0x15;
export const CMOS_BASE_MEM_HI = 0x16;
/** Extended memory above 1 MiB in KiB, capped at 65535 (low, high). */
export const CMOS_EXT_MEM_LO = 0x17;
export const CMOS_EXT_MEM_HI = 0x18;
/** Checksum of bytes 0x10..0x2D (high, low). */
export const CMOS_CHECKSUM_HI = 0x2e;
export const CMOS_CHECKSUM_LO = 0x2f;
/** Same as 0x17/0x18 (the POST's actual count). */
export const CMOS_EXT_MEM_ACTUAL_LO = 0x30;
export const CMOS_EXT_MEM_ACTUAL_HI = 0x31;
/** Memory between 16 MiB and 4 GiB in 64 KiB units (low, high). */
export const CMOS_MEM_16M_LO = 0x34;
export const CMOS_MEM_16M_HI = 0x35;
/** Memory above 4 GiB in 64 KiB units (3 bytes). */
export const CMOS_MEM_4G_LO = 0x5b;
export const CMOS_MEM_4G_MID = 0x5c;
export const CMOS_MEM_4G_HI = 0x5d;
/** Number of CPUs minus one (QEMU / SeaBIOS). */
export const CMOS_CPU_COUNT_MINUS_1 = 0x5f;
