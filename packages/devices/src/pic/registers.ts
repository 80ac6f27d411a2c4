/**
 * 8259A command words (Intel 8259A datasheet, "Programming the 8259A") and the PIIX/ICH Edge/Level
 * Control Registers. Offsets are from each chip's base (master 0x20, slave 0xA0).
 */

/** A0 = 0: ICW1, OCW2, OCW3 on write; IRR/ISR (or poll word) on read. */
export const PIC_CMD = 0;
/** A0 = 1: ICW2–ICW4 during initialisation, OCW1 (IMR) otherwise; IMR on read. */
export const PIC_DATA = 1;

// ---- ICW1 (A0 = 0, D4 = 1) ----
/** D4: this is ICW1. */
export const ICW1_INIT = 0x10;
/** D0 (IC4): ICW4 follows. */
export const ICW1_IC4 = 0x01;
/** D1 (SNGL): single 8259A, no ICW3. */
export const ICW1_SNGL = 0x02;
/** D2 (ADI): call address interval (8080 mode only; ignored on x86). */
export const ICW1_ADI = 0x04;
/** D3 (LTIM): level-triggered inputs for the whole chip. */
export const ICW1_LTIM = 0x08;

// ---- ICW4 ----
/** D0 (µPM): 8086/8088 mode. 0 = MCS-80/85 mode, which an x86 cannot use. */
export const ICW4_8086 = 0x01;
/** D1: automatic EOI at the end of the second INTA pulse. */
export const ICW4_AEOI = 0x02;
/** D4: special fully nested mode (master only). */
export const ICW4_SFNM = 0x10;

// ---- OCW2 (A0 = 0, D4:D3 = 00): R SL EOI in D7:D5, level in D2:D0 ----
export const OCW2_SELECT_MASK = 0x18;
export const OCW2_LEVEL_MASK = 0x07;
/** D7:D5 = 000: rotate in automatic EOI mode (clear). */
export const OCW2_ROTATE_AEOI_CLEAR = 0;
/** 001: non-specific EOI. */
export const OCW2_EOI = 1;
/** 010: no operation. */
export const OCW2_NOP = 2;
/** 011: specific EOI for level L2:L0. */
export const OCW2_SPECIFIC_EOI = 3;
/** 100: rotate in automatic EOI mode (set). */
export const OCW2_ROTATE_AEOI_SET = 4;
/** 101: rotate on non-specific EOI. */
export const OCW2_ROTATE_EOI = 5;
/** 110: set priority (L2:L0 becomes the lowest). */
export const OCW2_SET_PRIORITY = 6;
/** 111: rotate on specific EOI. */
export const OCW2_ROTATE_SPECIFIC_EOI = 7;

// ---- OCW3 (A0 = 0, D4:D3 = 01) ----
export const OCW3_SELECT = 0x08;
/** D1 (RR) with D0 (RIS): read IRR (RIS = 0) or ISR (RIS = 1) on the next A0=0 read. */
export const OCW3_RR = 0x02;
export const OCW3_RIS = 0x01;
/** D2 (P): poll command. */
export const OCW3_POLL = 0x04;
/** D6 (ESMM) with D5 (SMM): set or reset special mask mode. */
export const OCW3_ESMM = 0x40;
export const OCW3_SMM = 0x20;

/** The master's input the slave's INT is wired to on a PC. */
export const PIC_CASCADE_IR = 2;

/** ELCR ports (PIIX datasheet, "ELCR1/ELCR2"): 0x4D0 master, 0x4D1 slave. */
export const ELCR_MASTER_PORT = 0x4d0;
export const ELCR_SLAVE_PORT = 0x4d1;
/** IRQ0, 1 and 2 are always edge; bits 0–2 of ELCR1 are reserved. */
export const ELCR_MASTER_MASK = 0xf8;
/** IRQ8 (RTC) and IRQ13 (FPU) are always edge; bits 0 and 5 of ELCR2 are reserved. */
export const ELCR_SLAVE_MASK = 0xde;
