/**
 * 8254 programmable interval timer (Intel 8254 datasheet, "Programming the 8254") and the AT's
 * System Control Port B (port 0x61).
 */

/** Input clock of the PC's 8254: 14.31818 MHz / 12. */
export const PIT_HZ = 1193182;

// ---- Offsets from 0x40 ----
export const PIT_CH0 = 0;
export const PIT_CH1 = 1;
export const PIT_CH2 = 2;
/** Control word register (write only; reads of it are undefined on the 8254 and return 0xff here). */
export const PIT_MODE = 3;

// ---- Control word ----
/** SC1:SC0 (bits 7:6): counter select; 11 = read-back command. */
export const PIT_SC_SHIFT = 6;
export const PIT_SC_READBACK = 3;
/** RW1:RW0 (bits 5:4): 00 = counter latch command, 01 = LSB, 10 = MSB, 11 = LSB then MSB. */
export const PIT_RW_SHIFT = 4;
export const PIT_RW_MASK = 0x30;
export const PIT_RW_LATCH = 0;
export const PIT_RW_LSB = 1;
export const PIT_RW_MSB = 2;
export const PIT_RW_WORD = 3;
/** M2:M0 (bits 3:1): mode; 6 and 7 alias modes 2 and 3. */
export const PIT_MODE_SHIFT = 1;
export const PIT_MODE_MASK = 0x0e;
/** BCD (bit 0): count in four BCD decades. */
export const PIT_BCD = 0x01;

/** Mode 0: interrupt on terminal count. */
export const PIT_MODE_INTERRUPT_ON_TC = 0;
/** Mode 1: hardware retriggerable one-shot. */
export const PIT_MODE_ONESHOT = 1;
/** Mode 2: rate generator. */
export const PIT_MODE_RATE = 2;
/** Mode 3: square wave. */
export const PIT_MODE_SQUARE = 3;
/** Mode 4: software triggered strobe. */
export const PIT_MODE_SW_STROBE = 4;
/** Mode 5: hardware triggered strobe. */
export const PIT_MODE_HW_STROBE = 5;

// ---- Read-back command (SC = 11) ----
/** Bit 5 = 0: latch the count of the selected counters. */
export const PIT_RB_NO_COUNT = 0x20;
/** Bit 4 = 0: latch the status of the selected counters. */
export const PIT_RB_NO_STATUS = 0x10;
/** Bits 3:1 select counters 2, 1, 0. */
export const PIT_RB_CH0 = 0x02;

// ---- Status byte ----
export const PIT_STATUS_OUT = 0x80;
export const PIT_STATUS_NULL_COUNT = 0x40;

// ---- Port 0x61, System Control Port B (PIIX datasheet "NMI Status and Control Register") ----
/** Timer counter 2 gate (R/W). */
export const PORTB_TIMER2_GATE = 0x01;
/** Speaker data enable: OUT2 AND this bit drives the speaker (R/W). */
export const PORTB_SPEAKER_ENABLE = 0x02;
/** PCI SERR# / parity check enable, active low (R/W). */
export const PORTB_PARITY_CHECK_DISABLE = 0x04;
/** IOCHK# NMI enable, active low (R/W). */
export const PORTB_IOCHK_DISABLE = 0x08;
/** The writable bits. */
export const PORTB_WRITABLE = 0x0f;
/** Refresh cycle toggle (R): flips every 15.085 µs (18 PIT clocks). */
export const PORTB_REFRESH = 0x10;
/** Timer counter 2 OUT (R). */
export const PORTB_TIMER2_OUT = 0x20;
/** PIT clocks per refresh toggle. */
export const PORTB_REFRESH_TICKS = 18;
