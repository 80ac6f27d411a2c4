/*
 * Console formatting over pv_ops.console, the UART set-up, and CRC-32 for the self-checks.
 */
#include "pv_ops.h"

#define COM1 0x3f8

/* 8250/16550 at 115200 8N1, FIFOs on, interrupts off (National PC16550D datasheet, Table 2). */
void serial_init(void)
{
	static const u8 init[][2] = {
		{ 1, 0x00 }, /* IER: no interrupts */
		{ 3, 0x80 }, /* LCR: DLAB = 1 */
		{ 0, 0x01 }, /* DLL: divisor 1 (115200 baud) */
		{ 1, 0x00 }, /* DLM */
		{ 3, 0x03 }, /* LCR: 8N1, DLAB = 0 */
		{ 2, 0xc7 }, /* FCR: enable and clear FIFOs, 14-byte trigger */
		{ 4, 0x0b }, /* MCR: DTR, RTS, OUT2 */
	};
	for (u32 i = 0; i < ARRAY_SIZE(init); i++) {
		COUNT(pio);
		outb(COM1 + init[i][0], init[i][1]);
		pv_ops.cpu.io_delay();
	}
}

void kputc(char c) { pv_ops.console.write(&c, 1); }

void kputs(const char *s)
{
	u32 n = 0;
	while (s[n]) n++;
	pv_ops.console.write(s, n);
}

void kput_hex(u32 v)
{
	char buf[8];
	for (int i = 0; i < 8; i++) buf[i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 15];
	pv_ops.console.write(buf, 8);
}

void kput_dec64(u64 v)
{
	/* Long division by 10 on 16-bit digits: no libgcc (__udivdi3) in a freestanding kernel. */
	char buf[20];
	int n = 0;
	u32 part[4] = { (u32)(v >> 48) & 0xffff, (u32)(v >> 32) & 0xffff, (u32)(v >> 16) & 0xffff, (u32)v & 0xffff };
	do {
		u32 rem = 0;
		int zero = 1;
		for (int i = 0; i < 4; i++) {
			u32 cur = (rem << 16) | part[i];
			part[i] = cur / 10;
			rem = cur % 10;
			if (part[i]) zero = 0;
		}
		buf[n++] = (char)('0' + rem);
		if (zero) break;
	} while (n < 20);
	char out[20];
	for (int i = 0; i < n; i++) out[i] = buf[n - 1 - i];
	pv_ops.console.write(out, (u32)n);
}

void kput_dec(u32 v) { kput_dec64(v); }

void console_flush(void) { pv_ops.console.flush(); }

/* CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), bitwise: small and table-free. */
u32 crc32_update(u32 crc, const void *buf, u32 len)
{
	const u8 *p = buf;
	crc = ~crc;
	for (u32 i = 0; i < len; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
	}
	return ~crc;
}
