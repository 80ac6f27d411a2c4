/*
 * `echo` on the command line: after the workloads the kernel stays up and echoes what arrives on
 * COM1 (carriage return as CR LF), interrupt-driven: the UART's received-data interrupt (IRQ 4)
 * goes through the master 8259A into LINT0 of the BSP's local APIC in ExtINT (virtual wire) mode,
 * and the CPU halts between bytes, so an idle echo costs no instructions.
 */
#include "pv_ops.h"

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1
#define PIC_VECTOR_BASE 0x20    /* IRQ n -> vector 0x20 + n (master), 0x28 + n (slave) */
#define PIC_EOI 0x20            /* OCW2: non-specific EOI */
#define IRQ_COM1 4
#define VECTOR_COM1 (PIC_VECTOR_BASE + IRQ_COM1)

#define COM1 0x3f8
#define UART_RBR 0               /* receiver buffer (DLAB = 0) */
#define UART_IER 1
#define UART_IER_RDA 0x01        /* received data available interrupt */
#define UART_LSR 5
#define UART_LSR_DR 0x01         /* data ready */

#define PIT_MODE 0x43
#define PIT_CH0 0x40

static u32 echoed;

static void out(u16 port, u8 v)
{
	COUNT(pio);
	outb(port, v);
}

static u8 in(u16 port)
{
	COUNT(pio);
	return inb(port);
}

/* 8259A initialisation (Intel 8259A datasheet, ICW1-ICW4), as Linux's init_8259A: edge
 * triggered, cascade on IRQ 2, 8086 mode; then only IRQ 4 unmasked. */
static void pic_init(void)
{
	static const u8 seq[][2] = {
		{ PIC1_CMD, 0x11 },  { PIC2_CMD, 0x11 },           /* ICW1: edge, cascade, ICW4 needed */
		{ PIC1_DATA, PIC_VECTOR_BASE }, { PIC2_DATA, PIC_VECTOR_BASE + 8 }, /* ICW2: vector base */
		{ PIC1_DATA, 1u << 2 }, { PIC2_DATA, 2 },           /* ICW3: slave on IRQ 2, its ID */
		{ PIC1_DATA, 0x01 }, { PIC2_DATA, 0x01 },           /* ICW4: 8086 mode */
		{ PIC1_DATA, (u8)~(1u << IRQ_COM1) }, { PIC2_DATA, 0xff }, /* OCW1: masks */
	};
	for (u32 i = 0; i < ARRAY_SIZE(seq); i++) out(seq[i][0], seq[i][1]);
}

static void com1_interrupt(struct frame *f)
{
	(void)f;
	char buf[32];
	u32 n = 0;
	while (in(COM1 + UART_LSR) & UART_LSR_DR) {
		char c = (char)in(COM1 + UART_RBR);
		if (c == '\r') {
			buf[n++] = '\r';
			c = '\n';
		}
		buf[n++] = c;
		echoed++;
		if (n >= sizeof(buf) - 2) {
			pv_ops.console.write(buf, n);
			n = 0;
		}
	}
	if (n) pv_ops.console.write(buf, n);
	console_flush();
	out(PIC1_CMD, PIC_EOI); /* ExtINT interrupts are acknowledged at the 8259A, not the local APIC */
}

void __attribute__((noreturn)) echo_forever(void)
{
	set_irq_handler(VECTOR_COM1, com1_interrupt);
	pic_init();
	/* Stop the PIT's periodic reset-state count (channel 0, mode 0, count 0: one terminal count,
	 * then nothing), as Linux's pit_shutdown does: the idle machine then has no timer at all. */
	out(PIT_MODE, 0x30);
	out(PIT_CH0, 0);
	out(PIT_CH0, 0);
	pv_ops.apic.write(APIC_LVT0, APIC_DM_EXTINT);
	pv_ops.apic.flush();
	out(COM1 + UART_IER, UART_IER_RDA);
	kputs("echo: COM1 input is echoed back\n");
	console_flush();
	for (;;) {
		__asm__ __volatile__("cli");
		pv_ops.apic.flush();
		pv_ops.irq.safe_halt();
	}
}
