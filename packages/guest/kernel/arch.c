/*
 * GDT, IDT, exception reporting and interrupt dispatch.
 */
#include "pv_ops.h"

struct dtr {
	u16 limit;
	u32 base;
} __attribute__((packed));

/*
 * SDM Vol. 3A 3.4.5: flat 4 GiB ring-0 code (selector 0x08) and data (0x10) descriptors:
 * base 0, limit 0xFFFFF with G = 1, D/B = 1, P = 1, DPL = 0, S = 1; type 0xA (execute/read)
 * and 0x2 (read/write). boot.S's gdt_load uses these selectors.
 */
static const u64 gdt[] __attribute__((aligned(8))) = {
	0,
	0x00cf9a000000ffffull,
	0x00cf92000000ffffull,
};
#define KERNEL_CS 0x08

/* SDM Vol. 3A 6.14.1, Figure 6-2: 32-bit interrupt gate, P = 1, DPL = 0, type 0xE. */
struct idt_gate {
	u16 offset_lo;
	u16 selector;
	u8 zero;
	u8 type_attr;
	u16 offset_hi;
} __attribute__((packed));
#define GATE_INTERRUPT_32 0x8e

static struct idt_gate idt[256] __attribute__((aligned(8)));
static irq_handler_t handlers[256];
static u32 spurious;

extern const u32 isr_table[256];
void gdt_load(const struct dtr *gdtr);

static const char *const exception_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "res",
	"#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "res", "res", "res", "res", "res", "res", "#HV", "#VC", "#SX", "res",
};

void debug_exit(u8 code)
{
	console_flush();
	COUNT(pio);
	outb(DEBUG_EXIT_PORT, code);
	for (;;) __asm__ __volatile__("cli; hlt");
}

void panic(const char *why, u32 value)
{
	__asm__ __volatile__("cli");
	if (cpu_index() != 0) {
		kputs("cpu");
		kput_dec(cpu_index());
		kputs(": ");
	}
	kputs("PANIC ");
	kputs(why);
	kputs(" value=0x");
	kput_hex(value);
	kputs("\n");
	debug_exit(EXIT_BOOT_FAILED);
}

static void spurious_handler(struct frame *f)
{
	(void)f;
	spurious++; /* SDM Vol. 3A 11.9: a spurious interrupt is not acknowledged with an EOI */
}

u32 spurious_count(void) { return spurious; }

void set_irq_handler(u8 vector, irq_handler_t h) { handlers[vector] = h; }

/* Called by isr_common (boot.S) with interrupts off (interrupt gates clear IF). */
void isr_dispatch(struct frame *f)
{
	irq_handler_t h = handlers[f->vector & 0xff];
	if (h) {
		h(f);
		return;
	}
	/* Unexpected exception or interrupt: report it and fail the run. */
	if (cpu_index() != 0) {
		kputs("cpu");
		kput_dec(cpu_index());
		kputs(": ");
	}
	kputs("EXCEPTION vector=");
	kput_dec(f->vector);
	if (f->vector < 32) {
		kputs(" (");
		kputs(exception_names[f->vector]);
		kputs(")");
	}
	kputs(" error=0x");
	kput_hex(f->error);
	kputs(" eip=0x");
	kput_hex(f->eip);
	kputs(" cr2=0x");
	kput_hex(read_cr2());
	kputs(" eflags=0x");
	kput_hex(f->eflags);
	kputs("\n");
	debug_exit(EXIT_EXCEPTION);
}

static struct dtr gdtr, idtr;

/* An application processor shares the BSP's GDT, IDT and handler table. */
void arch_init_ap(void)
{
	gdt_load(&gdtr);
	__asm__ __volatile__("lidt %0" ::"m"(idtr));
}

void arch_init(void)
{
	gdtr.limit = sizeof(gdt) - 1;
	gdtr.base = (u32)gdt;
	gdt_load(&gdtr);
	for (u32 v = 0; v < 256; v++) {
		idt[v].offset_lo = isr_table[v] & 0xffff;
		idt[v].offset_hi = isr_table[v] >> 16;
		idt[v].selector = KERNEL_CS;
		idt[v].zero = 0;
		idt[v].type_attr = GATE_INTERRUPT_32;
	}
	idtr.limit = sizeof(idt) - 1;
	idtr.base = (u32)idt;
	__asm__ __volatile__("lidt %0" ::"m"(idtr));
	set_irq_handler(VECTOR_SPURIOUS, spurious_handler);
}
