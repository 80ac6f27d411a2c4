/**
 * 16550A register offsets and bits (TI/National PC16550D datasheet, "Register Description";
 * names as in Linux `include/uapi/linux/serial_reg.h`).
 */

// ---- Register offsets from the base port (COM1 0x3F8, COM2 0x2F8) ----
/** Receiver Buffer (read, DLAB=0). */
export const UART_RX = 0;
/** Transmitter Holding (write, DLAB=0). */
export const UART_TX = 0;
/** Divisor Latch LSB (DLAB=1). */
export const UART_DLL = 0;
/** Interrupt Enable (DLAB=0). */
export const UART_IER = 1;
/** Divisor Latch MSB (DLAB=1). */
export const UART_DLM = 1;
/** Interrupt Identification (read). */
export const UART_IIR = 2;
/** FIFO Control (write). */
export const UART_FCR = 2;
/** Line Control. */
export const UART_LCR = 3;
/** Modem Control. */
export const UART_MCR = 4;
/** Line Status. */
export const UART_LSR = 5;
/** Modem Status. */
export const UART_MSR = 6;
/** Scratch. */
export const UART_SCR = 7;

// ---- IER ----
/** Enable Received Data Available interrupt (and the FIFO character timeout). */
export const UART_IER_RDI = 0x01;
/** Enable Transmitter Holding Register Empty interrupt. */
export const UART_IER_THRI = 0x02;
/** Enable Receiver Line Status interrupt. */
export const UART_IER_RLSI = 0x04;
/** Enable Modem Status interrupt. */
export const UART_IER_MSI = 0x08;
/** Bits that exist in a 16550A IER (the upper nibble reads 0). */
export const UART_IER_MASK = 0x0f;

// ---- IIR: bit 0 = no interrupt pending, bits 3:1 = highest-priority cause ----
export const UART_IIR_NO_INT = 0x01;
/** Priority 1 (highest): overrun, parity, framing error or break. Cleared by reading LSR. */
export const UART_IIR_RLSI = 0x06;
/** Priority 2: received data at or above the FIFO trigger level. Cleared by reading RBR. */
export const UART_IIR_RDI = 0x04;
/** Priority 2: character timeout (FIFO mode, data below trigger level, no more arriving). */
export const UART_IIR_RX_TIMEOUT = 0x0c;
/** Priority 3: THR empty. Cleared by reading IIR (when it is the cause shown) or writing THR. */
export const UART_IIR_THRI = 0x02;
/** Priority 4 (lowest): modem status change. Cleared by reading MSR. */
export const UART_IIR_MSI = 0x00;
/** Bits 7:6 of IIR read 11 when the FIFOs are enabled. */
export const UART_IIR_FIFO_ENABLED = 0xc0;

// ---- FCR ----
export const UART_FCR_ENABLE_FIFO = 0x01;
export const UART_FCR_CLEAR_RCVR = 0x02;
export const UART_FCR_CLEAR_XMIT = 0x04;
export const UART_FCR_DMA_SELECT = 0x08;
/** Receiver trigger level field (bits 7:6): 1, 4, 8, 14 bytes. */
export const UART_FCR_TRIGGER_MASK = 0xc0;
export const UART_FCR_TRIGGER_SHIFT = 6;
export const UART_FIFO_TRIGGER_LEVELS = [1, 4, 8, 14] as const;
/** Depth of the 16550A's receive and transmit FIFOs. */
export const UART_FIFO_SIZE = 16;

// ---- LCR ----
/** Word length select (bits 1:0 = 5..8 data bits). */
export const UART_LCR_WLEN_MASK = 0x03;
export const UART_LCR_STOP = 0x04;
export const UART_LCR_PARITY = 0x08;
export const UART_LCR_EPAR = 0x10;
export const UART_LCR_SPAR = 0x20;
export const UART_LCR_SBC = 0x40;
/** Divisor Latch Access Bit. */
export const UART_LCR_DLAB = 0x80;

// ---- MCR ----
export const UART_MCR_DTR = 0x01;
export const UART_MCR_RTS = 0x02;
export const UART_MCR_OUT1 = 0x04;
/** On a PC, OUT2 enables the UART's IRQ driver onto the ISA bus. */
export const UART_MCR_OUT2 = 0x08;
export const UART_MCR_LOOP = 0x10;
/** Bits that exist in a 16550A MCR. */
export const UART_MCR_MASK = 0x1f;

// ---- LSR ----
export const UART_LSR_DR = 0x01;
export const UART_LSR_OE = 0x02;
export const UART_LSR_PE = 0x04;
export const UART_LSR_FE = 0x08;
export const UART_LSR_BI = 0x10;
export const UART_LSR_THRE = 0x20;
export const UART_LSR_TEMT = 0x40;
/** Error in the receive FIFO (at least one PE/FE/BI character in it). */
export const UART_LSR_FIFOE = 0x80;
/** The error bits that raise a Receiver Line Status interrupt. */
export const UART_LSR_BRK_ERROR_BITS = UART_LSR_OE | UART_LSR_PE | UART_LSR_FE | UART_LSR_BI;

// ---- MSR ----
export const UART_MSR_DCTS = 0x01;
export const UART_MSR_DDSR = 0x02;
/** Trailing edge of RI (it went from on to off). */
export const UART_MSR_TERI = 0x04;
export const UART_MSR_DDCD = 0x08;
export const UART_MSR_CTS = 0x10;
export const UART_MSR_DSR = 0x20;
export const UART_MSR_RI = 0x40;
export const UART_MSR_DCD = 0x80;
export const UART_MSR_DELTA_MASK = 0x0f;

/** The 1.8432 MHz crystal / 16: the baud rate for divisor 1. */
export const UART_BASE_BAUD = 115200;
