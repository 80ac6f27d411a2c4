/*
 * kmain: multiboot hand-off, command line, pv_ops selection, paging, the APIC, the application
 * processors, the workloads.
 */
#include "pv_ops.h"

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002u /* Multiboot 0.6.96 §3.2: EAX at entry */
#define MB_INFO_CMDLINE (1u << 2)               /* §3.3: `cmdline` is valid */
#define CMDLINE_MAX 256

struct multiboot_info {
	u32 flags, mem_lower, mem_upper, boot_device, cmdline;
};

static char cmdline[CMDLINE_MAX];

/* Copied before paging is on: the loader may have placed it anywhere in RAM. */
static void copy_cmdline(const struct multiboot_info *mbi)
{
	if (!(mbi->flags & MB_INFO_CMDLINE) || !mbi->cmdline) return;
	const char *s = (const char *)mbi->cmdline;
	u32 i = 0;
	while (i < CMDLINE_MAX - 1 && s[i]) {
		cmdline[i] = s[i];
		i++;
	}
	cmdline[i] = 0;
}

/* Whether the space-separated word `word` appears on the command line. */
static int cmdline_has(const char *word)
{
	u32 n = 0;
	while (word[n]) n++;
	for (const char *p = cmdline; *p;) {
		while (*p == ' ') p++;
		const char *start = p;
		while (*p && *p != ' ') p++;
		if ((u32)(p - start) == n && str_eq_n(start, word, n)) return 1;
	}
	return 0;
}

/* SDM Vol. 3A 11.4.3, 11.9: software-enable the APIC, spurious vector 0xFF, accept all priorities. */
void apic_enable(void)
{
	pv_ops.apic.write(APIC_SPIV, APIC_SPIV_APIC_ENABLED | VECTOR_SPURIOUS);
	pv_ops.apic.write(APIC_TASKPRI, 0);
	pv_ops.apic.write(APIC_LVTT, APIC_LVT_MASKED | VECTOR_TIMER);
	/* LINT0 masked: the BSP's may come out of reset in virtual-wire mode (ExtINT) from an 8259A
	 * nobody initialised (vector base 0), whose PIT interrupt would arrive as vector 0. Only the
	 * `echo` mode programs the 8259A and unmasks it. */
	pv_ops.apic.write(APIC_LVT0, APIC_LVT_MASKED | APIC_DM_EXTINT);
	pv_ops.apic.flush();
	u32 spiv = pv_ops.apic.read(APIC_SPIV);
	if ((spiv & 0x1ff) != (APIC_SPIV_APIC_ENABLED | VECTOR_SPURIOUS)) panic("APIC SPIV did not take", spiv);
}

void kmain(u32 magic, const struct multiboot_info *mbi)
{
	pv_ops = native_pv_ops;
	arch_init();
	serial_init();
	if (magic != MULTIBOOT_BOOTLOADER_MAGIC) panic("not started by a multiboot loader: EAX", magic);
	copy_cmdline(mbi);
	kputs("pv-kernel: booting, cmdline \"");
	kputs(cmdline);
	kputs("\"\n");

	int pv = pv_init(cmdline_has("pv=off"));
	/* Mask every 8259A input (OCW1): interrupts come through the local APIC only. */
	COUNT(pio);
	outb(0x21, 0xff);
	COUNT(pio);
	outb(0xa1, 0xff);
	smp_probe(); /* reads the BIOS data area at page 0, which paging leaves unmapped */
	paging_init();
	apic_enable();
	pv_cpu_init();
	kputs("pv-kernel: paging on, APIC enabled, mode ");
	kputs(pv ? "pv\n" : "native\n");
	smp_boot();
	firmware_probe();
	console_flush();

	int failed = run_workloads(pv ? "pv" : "native");
	kputs(failed ? "FAILED\n" : "DONE\n");
	if (cmdline_has("echo")) echo_forever();
	debug_exit(failed ? EXIT_WORKLOAD_FAILED : EXIT_OK);
}
