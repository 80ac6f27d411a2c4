/*
 * The ACPI tables the machine's firmware left (ACPI 6.5 §5.2): the RSDP in 0xE0000-0xFFFFF, the
 * RSDT, the FADT's PM timer block and the HPET table; then the TSC measured against both timers,
 * as Linux's pit/pmtmr/hpet TSC calibration does, one line each:
 *
 *   acpi: RSDP 0x000f0000 OEM PVVM, RSDT 0x000e0000: FACP APIC HPET
 *   tsc: 1000000 kHz against the ACPI PM timer (port 0x0608)
 *   tsc: 1000000 kHz against the HPET (0xfed00000)
 *
 * Read with paging on: the tables are in the identity-mapped first 4 MiB, the HPET page is mapped
 * by paging.c. Without ACPI tables (a bare multiboot loader) it prints `acpi: no RSDP`.
 */
#include "pv_ops.h"

#define PM_TIMER_HZ 3579545u        /* ACPI §4.8.3.3 */
#define PM_TIMER_MASK 0xffffffu      /* 24-bit timer (FADT TMR_VAL_EXT = 0) */
#define FADT_PM_TMR_BLK 76           /* ACPI Table 5.9 */
#define HPET_TABLE_BASE 44           /* IA-PC HPET 1.0a §3.2.4: BASE_ADDRESS.Address */
#define HPET_CAP_PERIOD 0x004        /* General Capabilities bits 63:32: period in femtoseconds */
#define HPET_CONFIG 0x010
#define HPET_ENABLE_CNF 1u
#define HPET_COUNTER 0x0f0           /* main counter, low 32 bits */
#define CALIBRATION_NS 1000000u      /* measure over 1 ms */

static u8 sum8(const u8 *p, u32 len)
{
	u8 s = 0;
	for (u32 i = 0; i < len; i++) s += p[i];
	return s;
}

static u32 rd32(const u8 *p) { return p[0] | p[1] << 8 | p[2] << 16 | (u32)p[3] << 24; }

static int sig(const u8 *p, const char *s)
{
	for (u32 i = 0; s[i]; i++)
		if (p[i] != (u8)s[i]) return 0;
	return 1;
}

/* A table we can read: in the identity map, its checksum right. */
static const u8 *sdt(u32 addr)
{
	if (addr < 0x1000 || addr >= 0x400000 - 36) return 0;
	const u8 *t = (const u8 *)addr;
	u32 len = rd32(t + 4);
	if (len < 36 || addr + len > 0x400000 || sum8(t, len) != 0) return 0;
	return t;
}

/* n * mul / div without libgcc's 64-bit division: shift-subtract (n * mul < 2^64). */
static u32 muldiv(u32 n, u32 mul, u32 div)
{
	u64 num = (u64)n * mul, q = 0, rem = 0;
	for (int i = 63; i >= 0; i--) {
		rem = (rem << 1) | ((num >> i) & 1);
		if (rem >= div) {
			rem -= div;
			q |= 1ull << i;
		}
	}
	return (u32)q;
}

static void report(u32 cycles, const char *against, u32 where, int port)
{
	kputs("tsc: ");
	kput_dec(muldiv(cycles, 1000000u, CALIBRATION_NS)); /* cycles per ms = kHz */
	kputs(" kHz against the ");
	kputs(against);
	kputs(port ? " (port 0x" : " (0x");
	kput_hex(where);
	kputs(")\n");
}

static void calibrate_pm_timer(u16 port)
{
	u32 ticks = muldiv(CALIBRATION_NS, PM_TIMER_HZ, 1000000000u);
	COUNT(pio);
	u32 start = inl(port) & PM_TIMER_MASK, now;
	u64 t0 = rdtsc();
	do {
		COUNT(pio);
		now = inl(port) & PM_TIMER_MASK;
	} while (((now - start) & PM_TIMER_MASK) < ticks);
	u64 t1 = rdtsc();
	/* scale to exactly CALIBRATION_NS: the loop may overshoot by one read */
	report(muldiv((u32)(t1 - t0), ticks, (now - start) & PM_TIMER_MASK), "ACPI PM timer", port, 1);
}

static void calibrate_hpet(u32 base)
{
	volatile u32 *r = (volatile u32 *)base;
	u32 period_fs = r[HPET_CAP_PERIOD / 4];
	if (period_fs == 0 || period_fs > 100000000u) return; /* spec §2.3.4: at most 100 ns */
	r[HPET_CONFIG / 4] |= HPET_ENABLE_CNF;
	u32 ticks = muldiv(CALIBRATION_NS, 1000000u, period_fs);
	u32 start = r[HPET_COUNTER / 4], now;
	u64 t0 = rdtsc();
	do now = r[HPET_COUNTER / 4];
	while (now - start < ticks);
	u64 t1 = rdtsc();
	report(muldiv((u32)(t1 - t0), ticks, now - start), "HPET", base, 0);
}

void firmware_probe(void)
{
	const u8 *rsdp = 0;
	for (u32 a = 0xe0000; a < 0x100000 && !rsdp; a += 16)
		if (sig((const u8 *)a, "RSD PTR ") && sum8((const u8 *)a, 20) == 0) rsdp = (const u8 *)a;
	if (!rsdp) {
		kputs("acpi: no RSDP\n");
		return;
	}
	const u8 *rsdt = sdt(rd32(rsdp + 16));
	kputs("acpi: RSDP 0x");
	kput_hex((u32)rsdp);
	kputs(" OEM ");
	pv_ops.console.write((const char *)rsdp + 9, 6);
	if (!rsdt || !sig(rsdt, "RSDT")) {
		kputs(", no valid RSDT\n");
		return;
	}
	kputs(", RSDT 0x");
	kput_hex((u32)rsdt);
	kputc(':');
	const u8 *fadt = 0, *hpet = 0;
	for (u32 e = 36; e + 4 <= rd32(rsdt + 4); e += 4) {
		const u8 *t = sdt(rd32(rsdt + e));
		if (!t) continue;
		kputc(' ');
		pv_ops.console.write((const char *)t, 4);
		if (sig(t, "FACP")) fadt = t;
		if (sig(t, "HPET")) hpet = t;
	}
	kputc('\n');
	if (fadt && rd32(fadt + 4) > FADT_PM_TMR_BLK + 4 && rd32(fadt + FADT_PM_TMR_BLK))
		calibrate_pm_timer((u16)rd32(fadt + FADT_PM_TMR_BLK));
	if (hpet && rd32(hpet + 4) >= HPET_TABLE_BASE + 8 && rd32(hpet + HPET_TABLE_BASE) == HPET_PHYS_BASE)
		calibrate_hpet(HPET_PHYS_BASE);
}
