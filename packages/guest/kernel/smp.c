/*
 * Multiprocessor start-up: the processors come from the MP table (Intel MultiProcessor
 * Specification 1.4, chapter 4), the application processors are started with INIT and STARTUP
 * IPIs (SDM Vol. 3A 8.4.4.1, the "universal start-up algorithm"; Linux's do_boot_cpu and
 * wakeup_secondary_cpu_via_init) into the real-mode trampoline of boot.S, and each reports in
 * once it runs in protected mode with paging, on its own stack, with its local APIC enabled.
 * Without an MP table (or with a default configuration) the kernel runs on the BSP alone.
 */
#include "pv_ops.h"

#define MPF_SIGNATURE 0x5f504d5fu  /* "_MP_" (MP spec 4.1) */
#define MPC_SIGNATURE 0x504d4350u  /* "PCMP" (MP spec 4.2) */
#define MPC_ENTRY_PROCESSOR 0      /* 20 bytes (MP spec 4.3.1) */
#define MPC_CPU_ENABLED 0x01
#define MPC_CPU_BSP 0x02
#define BDA_EBDA_SEGMENT 0x40e     /* BIOS data area: EBDA segment (MP spec 4: where to scan) */

#define AP_START_TSC 20000000u     /* TSC ticks to wait for an AP after its STARTUP IPI (20 ms at 1 GHz) */

struct smp_info smp;

extern char trampoline_base[], trampoline_start[], trampoline_end[], trampoline_data[];

/* AP bookkeeping: the BSP writes the index the AP is started as; the AP reports in. */
static volatile u32 ap_online[MAX_CPUS];
static u8 mp_apic_ids[MAX_CPUS];
static u32 mp_cpus;
static const char *mp_note = "no MP table";

static u8 sum8(const u8 *p, u32 len)
{
	u8 s = 0;
	for (u32 i = 0; i < len; i++) s += p[i];
	return s;
}

static u32 rd32(const u8 *p) { return p[0] | p[1] << 8 | p[2] << 16 | (u32)p[3] << 24; }
static u16 rd16(const u8 *p) { return (u16)(p[0] | p[1] << 8); }

/* MP spec 4: the floating pointer is 16-byte aligned in the first KiB of the EBDA, the last KiB
 * of base memory, or the BIOS ROM 0xF0000-0xFFFFF; its 16 bytes sum to 0. */
static const u8 *find_mpf(u32 base, u32 len)
{
	for (u32 a = base; a + 16 <= base + len; a += 16) {
		const u8 *p = (const u8 *)a;
		if (rd32(p) == MPF_SIGNATURE && p[8] == 1 && sum8(p, 16) == 0) return p;
	}
	return 0;
}

void smp_probe(void)
{
	mp_cpus = 0;
	const volatile u16 *bda;
	/* An opaque copy of the address: gcc takes constant pointers below 4 KiB for null + offset. */
	__asm__("" : "=r"(bda) : "0"(BDA_EBDA_SEGMENT));
	u32 ebda = (u32)*bda << 4;
	const u8 *mpf = ebda >= 0x80000 && ebda < 0xa0000 ? find_mpf(ebda, 1024) : 0;
	if (!mpf) mpf = find_mpf(0x9fc00, 1024);
	if (!mpf) mpf = find_mpf(0xf0000, 0x10000);
	if (!mpf) return;
	if (mpf[11] != 0) {
		mp_note = "MP default configuration (not supported)";
		return;
	}
	const u8 *mpc = (const u8 *)rd32(mpf + 4);
	if ((u32)mpc < 0x1000 || (u32)mpc >= 0x100000 || rd32(mpc) != MPC_SIGNATURE) {
		mp_note = "MP floating pointer without a configuration table";
		return;
	}
	u16 length = rd16(mpc + 4);
	if (length < 44 || sum8(mpc, length) != 0) {
		mp_note = "MP configuration table checksum mismatch";
		return;
	}
	u16 count = rd16(mpc + 34);
	const u8 *e = mpc + 44, *end = mpc + length;
	u32 bsp_seen = 0;
	for (u16 i = 0; i < count && e < end; i++) {
		if (e[0] != MPC_ENTRY_PROCESSOR) {
			e += 8; /* bus, IO APIC, interrupt assignments: 8 bytes each (MP spec 4.3.2-4.3.5) */
			continue;
		}
		u8 id = e[1], flags = e[3];
		e += 20;
		if (!(flags & MPC_CPU_ENABLED) || id >= 32 || mp_cpus == MAX_CPUS) continue;
		if (flags & MPC_CPU_BSP) {
			/* The BSP is CPU 0: move whoever was first. */
			mp_apic_ids[mp_cpus] = mp_apic_ids[0];
			mp_apic_ids[0] = id;
			bsp_seen = 1;
		} else {
			mp_apic_ids[mp_cpus] = id;
		}
		mp_cpus++;
	}
	mp_note = bsp_seen ? "MP table" : "MP table without a BSP entry";
	if (!bsp_seen) mp_cpus = 0;
}

/* Runs on each AP after the trampoline: ESP is the top of its cpu_stacks slot. */
void __attribute__((noreturn)) ap_main(void)
{
	u32 c = cpu_index();
	arch_init_ap();
	apic_enable();
	pv_cpu_init();
	u32 id = pv_ops.apic.read(APIC_ID) >> 24;
	if (id != smp.apic_id[c]) panic("AP started with another APIC ID than the MP table's", id);
	__atomic_store_n(&ap_online[c], 1, __ATOMIC_RELEASE);
	/* Idle: every interrupt (the IPI workload's) is handled inside safe_halt's HLT. */
	for (;;) {
		__asm__ __volatile__("cli");
		pv_ops.apic.flush();
		pv_ops.irq.safe_halt();
	}
}

static void send_icr(u32 apic_id, u32 icr)
{
	pv_ops.apic.write(APIC_ICR2, apic_id << APIC_ICR2_DEST_SHIFT);
	pv_ops.apic.write(APIC_ICR, icr);
	pv_ops.apic.flush();
}

static int wait_online(u32 c)
{
	u64 deadline = rdtsc() + AP_START_TSC;
	while (rdtsc() < deadline) {
		if (__atomic_load_n(&ap_online[c], __ATOMIC_ACQUIRE)) return 1;
		pv_ops.cpu.wait_for_cpu(smp.apic_id[c]);
	}
	return __atomic_load_n(&ap_online[c], __ATOMIC_ACQUIRE) != 0;
}

void smp_boot(void)
{
	smp.cpus = 1;
	smp.apic_id[0] = (u8)(pv_ops.apic.read(APIC_ID) >> 24);
	if (mp_cpus == 0) {
		kputs("smp: ");
		kputs(mp_note);
		kputs(": 1 CPU\n");
		return;
	}
	if (mp_apic_ids[0] != smp.apic_id[0]) panic("the MP table's BSP is not this CPU: APIC ID", smp.apic_id[0]);
	kputs("smp: ");
	kput_dec(mp_cpus);
	kputs(mp_cpus == 1 ? " CPU in the MP table\n" : " CPUs in the MP table\n");

	u32 base = (u32)trampoline_base, size = (u32)(trampoline_end - trampoline_start);
	u8 *dst = (u8 *)base;
	for (u32 i = 0; i < size; i++) dst[i] = (u8)trampoline_start[i];
	u32 *data = (u32 *)(base + (u32)(trampoline_data - trampoline_start));

	for (u32 i = 1; i < mp_cpus; i++) {
		u32 c = smp.cpus;
		u32 id = mp_apic_ids[i];
		smp.apic_id[c] = (u8)id;
		data[0] = (u32)kernel_page_dir();
		data[1] = (u32)cpu_stacks + (c + 1) * STACK_SIZE;
		data[2] = (u32)ap_main;
		barrier();
		/* INIT (level, assert), then STARTUP with the trampoline's page; a second STARTUP only
		 * if the AP has not come up (a running CPU ignores it anyway, SDM 8.4.4.1). */
		send_icr(id, APIC_DM_INIT | APIC_INT_LEVELTRIG | APIC_INT_ASSERT);
		send_icr(id, APIC_DM_STARTUP | (base >> 12));
		int up = wait_online(c);
		if (!up) {
			send_icr(id, APIC_DM_STARTUP | (base >> 12));
			up = wait_online(c);
		}
		kputs("smp: cpu");
		kput_dec(c);
		kputs(" apic_id=");
		kput_dec(id);
		kputs(up ? " online\n" : " did not start\n");
		if (up)
			smp.cpus++;
		else
			send_icr(id, APIC_DM_INIT | APIC_INT_LEVELTRIG | APIC_INT_ASSERT); /* back to wait-for-SIPI */
	}
	kputs("smp: ");
	kput_dec(smp.cpus);
	kputs(" of ");
	kput_dec(mp_cpus);
	kputs(" CPUs online\n");
}
