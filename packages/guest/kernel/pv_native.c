/*
 * Native paravirt_ops: what the kernel does on bare hardware. Under a hypervisor without
 * paravirtualisation every one of these traps (DESIGN.md §3: APIC MMIO, port I/O, HLT and, under
 * the shadow model, CR3 loads, INVLPG and stores to live page tables).
 */
#include "pv_ops.h"

#define COM1 0x3f8
#define UART_THR 0 /* transmit holding register (DLAB = 0) */
#define UART_LSR 5 /* line status register */
#define UART_LSR_THRE 0x20 /* transmit holding register empty */
#define IO_DELAY_PORT 0xed /* Linux's alternative io_delay port (io_delay=0xed) */

struct guest_counters counters;
spinlock_t console_lock;

static void native_io_delay(void)
{
	COUNT(pio);
	outb(IO_DELAY_PORT, 0);
}

static void native_wait_for_cpu(u32 apic_id)
{
	(void)apic_id;
	cpu_relax();
}

static void native_safe_halt(void)
{
	COUNT(hlt);
	__asm__ __volatile__("sti; hlt" ::: "memory");
}

static void native_write_cr3(u32 cr3)
{
	COUNT(cr3_writes);
	__asm__ __volatile__("mov %0, %%cr3" ::"r"(cr3) : "memory");
}

static void native_set_pte(u32 *ptep, u32 pte)
{
	COUNT(pte_writes);
	*(volatile u32 *)ptep = pte;
}

static void native_flush_tlb_one(u32 linear)
{
	COUNT(invlpg);
	__asm__ __volatile__("invlpg (%0)" ::"r"(linear) : "memory");
}

/* SDM Vol. 3A 4.10.4.1: MOV to CR3 invalidates all non-global TLB entries. */
static void native_flush_tlb_all(void) { native_write_cr3(read_cr3()); }

static void native_lazy_nop(void) {}

static u32 native_apic_read(u32 reg)
{
	COUNT(apic_mmio);
	return *(volatile u32 *)(APIC_PHYS_BASE + reg);
}

static void native_apic_write(u32 reg, u32 value)
{
	COUNT(apic_mmio);
	*(volatile u32 *)(APIC_PHYS_BASE + reg) = value;
}

/* SDM Vol. 3A 11.8.5: write 0 to the EOI register. */
static void native_apic_eoi(void) { native_apic_write(APIC_EOI, 0); }

static void native_apic_flush(void) {}

u32 apic_send_ipi_mask_seq(u32 mask, u32 vector)
{
	u32 self = smp.apic_id[cpu_index()], n = 0;
	u32 flags = irq_save();
	for (u32 id = 0; id < 32; id++) {
		if (!((mask >> id) & 1) || id == self) continue;
		/* SDM Vol. 3A 11.6.1: the write to the low doubleword sends the IPI. */
		pv_ops.apic.write(APIC_ICR2, id << APIC_ICR2_DEST_SHIFT);
		pv_ops.apic.write(APIC_ICR, APIC_DM_FIXED | (vector & 0xff));
		n++;
	}
	pv_ops.apic.flush();
	irq_restore(flags);
	return n;
}

/* Polled 8250/16550 transmit: wait for THRE, then write THR (two port accesses per byte).
 * The caller holds console_lock. */
void uart_write(const char *buf, u32 len)
{
	for (u32 i = 0; i < len; i++) {
		for (;;) {
			COUNT(pio);
			if (inb(COM1 + UART_LSR) & UART_LSR_THRE) break;
		}
		COUNT(pio);
		outb(COM1 + UART_THR, (u8)buf[i]);
	}
}

static void native_console_write(const char *buf, u32 len)
{
	u32 flags = irq_save();
	spin_lock(&console_lock);
	uart_write(buf, len);
	spin_unlock(&console_lock);
	irq_restore(flags);
}

static void native_console_flush(void) {}

const struct pv_ops native_pv_ops = {
	.cpu = { .io_delay = native_io_delay, .wait_for_cpu = native_wait_for_cpu },
	.irq = { .safe_halt = native_safe_halt },
	.mmu = {
		.write_cr3 = native_write_cr3,
		.set_pte = native_set_pte,
		.flush_tlb_one = native_flush_tlb_one,
		.flush_tlb_all = native_flush_tlb_all,
		.lazy_mode = { .enter = native_lazy_nop, .leave = native_lazy_nop },
	},
	.apic = {
		.read = native_apic_read,
		.write = native_apic_write,
		.eoi = native_apic_eoi,
		.flush = native_apic_flush,
		.send_ipi_mask = apic_send_ipi_mask_seq,
	},
	.console = { .write = native_console_write, .flush = native_console_flush },
};

struct pv_ops pv_ops;
