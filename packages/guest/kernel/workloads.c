/*
 * The four workloads. Each runs through pv_ops (so in whichever mode pv_init selected), checks
 * its own results and prints one machine-readable line:
 *
 *   RESULT workload=<name> mode=<native|pv> ops=<n> cycles=<rdtsc delta> checksum=<8 hex>
 *          hypercalls=<n> apic_mmio=<n> pio=<n> hlt=<n> pte_writes=<n> invlpg=<n>
 *          cr3_writes=<n> cpus=<n> status=<ok|FAIL>
 *
 * The counters are the trappable operations the guest itself issued during the workload (the
 * host counts the exits it really took). A workload's checksum depends only on what it computed,
 * never on the mode, so both modes must print the same value. Each workload is bracketed by
 * POST codes (port 0x80: 0x10 + index before, 0x20 + index after) and the console is flushed
 * before and after it, so a host can attribute exits to the workload exactly.
 */
#include "pv_ops.h"

#define CHURN_ROUNDS 16    /* x CHURN_BATCH pages mapped, touched, unmapped */
#define CHURN_BATCH 256    /* pages per round: one PV_HC_TLB_FLUSH list (PV_TLB_FLUSH_MAX) */
#define CHURN_WORDS 4      /* words written and read back per page */
#define TIMER_SHOTS 256    /* one-shot timer programmings */
#define TIMER_COUNT 2000   /* initial count (divide by 1) */
#define IPI_COUNT 256      /* self-IPIs, or rounds of IPIs to other CPUs */
#define CONSOLE_LINES 64   /* lines printed */
#define MAX_HALTS 64       /* HLT wake-ups tolerated per expected interrupt */
#define IPI_SPINS 64       /* PAUSE loops tolerated per expected self-IPI */
#define IPI_ACK_TSC 10000000u /* TSC ticks to wait for another CPU's acknowledgement (10 ms at 1 GHz) */

static const char *mode_name;
static const char *fail_reason;
static u32 fail_value;

static void fail(const char *why, u32 value)
{
	if (!fail_reason) {
		fail_reason = why;
		fail_value = value;
	}
}

static u32 mix(u32 h, u32 v)
{
	h ^= v;
	h *= 0x01000193u; /* FNV-1a prime */
	return h ^ (h >> 15);
}

/* Flush queued APIC writes, then STI;HLT. Called with interrupts off. */
static void idle(void)
{
	pv_ops.apic.flush();
	pv_ops.irq.safe_halt();
}

/* ---- 1. page-table churn: map, touch, unmap, as fork/exec does ---- */

static volatile u32 pf_expected; /* linear address the next #PF must be at (0: none) */
static volatile u32 pf_taken;

/* #PF: only the armed probe address is legal; it is mapped on demand (to pool frame 0). */
static void page_fault(struct frame *f)
{
	u32 cr2 = read_cr2();
	if (!pf_expected || (cr2 & ~0xfffu) != pf_expected || (f->error & 1)) {
		kputs("EXCEPTION vector=14 (#PF) error=0x");
		kput_hex(f->error);
		kputs(" eip=0x");
		kput_hex(f->eip);
		kputs(" cr2=0x");
		kput_hex(cr2);
		kputs("\n");
		debug_exit(EXIT_EXCEPTION);
	}
	pf_taken++;
	pf_expected = 0;
	pv_ops.mmu.set_pte(churn_pte((cr2 - CHURN_WINDOW) >> 12), churn_frame_phys(0) | 3);
}

static u32 churn_pattern(u32 round, u32 i, u32 k) { return mix(mix(round * 0x9e3779b9u, i), k) | 1; }

static u32 churn(u32 *ops)
{
	static const u32 offsets[CHURN_WORDS] = { 0, 341, 682, 1023 };
	u32 sum = 0;
	set_irq_handler(14, page_fault);
	for (u32 r = 0; r < CHURN_ROUNDS; r++) {
		/* The same linear pages come back every 4 rounds, backed by other frames: a missed
		 * TLB flush would send the writes to the old frame and fail the alias check. */
		u32 base = (r % (CHURN_WINDOW_PAGES / CHURN_BATCH)) * CHURN_BATCH;
		pv_ops.mmu.lazy_mode.enter();
		for (u32 i = 0; i < CHURN_BATCH; i++) {
			u32 frame = (i * 97 + r * 31) % CHURN_POOL_PAGES; /* a bijection per round */
			pv_ops.mmu.set_pte(churn_pte(base + i), churn_frame_phys(frame) | 3);
		}
		pv_ops.mmu.lazy_mode.leave();

		for (u32 i = 0; i < CHURN_BATCH; i++) {
			u32 frame = (i * 97 + r * 31) % CHURN_POOL_PAGES;
			volatile u32 *page = (volatile u32 *)(CHURN_WINDOW + (base + i) * PAGE_SIZE);
			volatile u32 *alias = (volatile u32 *)churn_frame(frame);
			for (u32 k = 0; k < CHURN_WORDS; k++) page[offsets[k]] = churn_pattern(r, i, k);
			for (u32 k = 0; k < CHURN_WORDS; k++) {
				u32 v = churn_pattern(r, i, k);
				if (page[offsets[k]] != v) fail("ptchurn: read back through the window differs", base + i);
				if (alias[offsets[k]] != v) fail("ptchurn: write did not reach the mapped frame", base + i);
				sum = mix(sum, v ^ frame);
			}
		}

		pv_ops.mmu.lazy_mode.enter();
		for (u32 i = 0; i < CHURN_BATCH; i++) {
			pv_ops.mmu.set_pte(churn_pte(base + i), 0);
			pv_ops.mmu.flush_tlb_one(CHURN_WINDOW + (base + i) * PAGE_SIZE);
		}
		pv_ops.mmu.lazy_mode.leave();
		*ops += CHURN_BATCH;

		/* The unmap must have taken effect: touching an unmapped page faults (and is mapped
		 * on demand by page_fault), then it is unmapped again. */
		u32 probe = CHURN_WINDOW + (base + (r * 37) % CHURN_BATCH) * PAGE_SIZE;
		u32 taken = pf_taken;
		pf_expected = probe;
		(void)*(volatile u32 *)probe;
		pf_expected = 0;
		if (pf_taken != taken + 1) fail("ptchurn: unmapped page did not fault", probe);
		pv_ops.mmu.set_pte(churn_pte((probe - CHURN_WINDOW) >> 12), 0);
		pv_ops.mmu.flush_tlb_one(probe);
	}
	/* exec: retarget a live page to another frame without INVLPG, then flush the whole TLB
	 * (MOV CR3, SDM Vol. 3A 4.10.4.1, or PV_TLB_FLUSH_ALL); the next write must reach the new frame. */
	volatile u32 *page = (volatile u32 *)CHURN_WINDOW;
	pv_ops.mmu.set_pte(churn_pte(0), churn_frame_phys(1) | 3);
	page[0] = 0x0e8ec0de;
	pv_ops.mmu.lazy_mode.enter();
	pv_ops.mmu.set_pte(churn_pte(0), churn_frame_phys(2) | 3);
	pv_ops.mmu.flush_tlb_all();
	pv_ops.mmu.lazy_mode.leave();
	page[0] = 0x0e8ec0df;
	if (((volatile u32 *)churn_frame(1))[0] != 0x0e8ec0de || ((volatile u32 *)churn_frame(2))[0] != 0x0e8ec0df)
		fail("ptchurn: write after a full TLB flush did not reach the new frame", ((volatile u32 *)churn_frame(2))[0]);
	pv_ops.mmu.lazy_mode.enter();
	pv_ops.mmu.set_pte(churn_pte(0), 0);
	pv_ops.mmu.flush_tlb_one(CHURN_WINDOW);
	pv_ops.mmu.lazy_mode.leave();

	/* Final frame contents: every frame's words after the last round and the exec step. */
	for (u32 f = 0; f < CHURN_POOL_PAGES; f++)
		for (u32 k = 0; k < CHURN_WORDS; k++) sum = mix(sum, ((volatile u32 *)churn_frame(f))[offsets[k]]);
	set_irq_handler(14, 0);
	return sum;
}

/* ---- 2. one-shot APIC timer reprogramming and EOIs, as a tickless kernel does ---- */

static volatile u32 timer_ticks;

static void timer_interrupt(struct frame *f)
{
	(void)f;
	timer_ticks++;
	pv_ops.apic.eoi();
}

static u32 timer(u32 *ops)
{
	u32 sum = 0;
	set_irq_handler(VECTOR_TIMER, timer_interrupt);
	for (u32 i = 0; i < TIMER_SHOTS; i++) {
		__asm__ __volatile__("cli");
		/* SDM Vol. 3A 11.5.4: divide configuration, LVT timer (one-shot, unmasked), then
		 * the initial count, whose write starts the count-down. */
		pv_ops.apic.write(APIC_TASKPRI, 0);
		pv_ops.apic.write(APIC_TDCR, APIC_TDCR_DIV_1);
		pv_ops.apic.write(APIC_LVTT, APIC_LVT_TIMER_ONESHOT | VECTOR_TIMER);
		pv_ops.apic.write(APIC_TMICT, TIMER_COUNT + (i & 15) * 64);
		u32 halts = 0;
		while (timer_ticks == i && halts++ < MAX_HALTS) {
			idle();
			__asm__ __volatile__("cli");
		}
		__asm__ __volatile__("sti");
		if (timer_ticks != i + 1) fail("timer: expected exactly one interrupt per shot", timer_ticks);
		sum = mix(sum, timer_ticks);
		(*ops)++;
	}
	pv_ops.apic.flush(); /* the last EOI */
	u32 lvt = pv_ops.apic.read(APIC_LVTT);
	u32 tdcr = pv_ops.apic.read(APIC_TDCR);
	if ((lvt & (APIC_LVT_MASKED | 0x600ff)) != (APIC_LVT_TIMER_ONESHOT | VECTOR_TIMER))
		fail("timer: LVT timer register does not hold what was written", lvt);
	if ((tdcr & 0xb) != APIC_TDCR_DIV_1) fail("timer: divide configuration does not hold what was written", tdcr);
	set_irq_handler(VECTOR_TIMER, 0);
	return mix(mix(sum, lvt & 0x600ff), tdcr & 0xb);
}

/* ---- 3. IPIs: to the other CPUs when there are any (each round a different subset, as TLB
 * shootdowns and reschedule IPIs do), else self-IPIs through the ICR shorthand ---- */

static volatile u32 ipi_received;

static void ipi_interrupt(struct frame *f)
{
	ipi_received = mix(ipi_received, f->vector) + 1;
	pv_ops.apic.eoi();
}

static u32 self_ipi(u32 *ops)
{
	u32 expect = 0;
	set_irq_handler(VECTOR_IPI, ipi_interrupt);
	__asm__ __volatile__("sti");
	for (u32 i = 0; i < IPI_COUNT; i++) {
		/* SDM Vol. 3A 11.6.1: destination shorthand "self", fixed delivery. */
		pv_ops.apic.write(APIC_ICR, APIC_DEST_SELF | APIC_DM_FIXED | VECTOR_IPI);
		pv_ops.apic.flush();
		expect = mix(expect, VECTOR_IPI) + 1;
		for (u32 spins = 0; ipi_received != expect && spins < IPI_SPINS; spins++) cpu_relax();
		if (ipi_received != expect) fail("ipi: self-IPI not received exactly once", i);
		(*ops)++;
	}
	pv_ops.apic.flush(); /* the last EOI */
	set_irq_handler(VECTOR_IPI, 0);
	return ipi_received;
}

/* The round the BSP is sending; each receiver folds it into its own checksum and counts it. */
static volatile u32 ipi_round;
static volatile u32 ipi_acks[MAX_CPUS];
static u32 ipi_sums[MAX_CPUS]; /* written only by its own CPU */

static void ipi_remote_interrupt(struct frame *f)
{
	u32 c = cpu_index();
	ipi_sums[c] = mix(ipi_sums[c], ipi_round ^ (f->vector << 24));
	__atomic_store_n(&ipi_acks[c], ipi_acks[c] + 1, __ATOMIC_RELEASE);
	pv_ops.apic.eoi();
}

static u32 remote_ipi(u32 *ops)
{
	u32 others = 0, expect[MAX_CPUS];
	for (u32 c = 1; c < smp.cpus; c++) {
		others |= 1u << smp.apic_id[c];
		ipi_acks[c] = 0;
		ipi_sums[c] = 0;
	}
	set_irq_handler(VECTOR_IPI, ipi_remote_interrupt);
	u32 sum = 0;
	for (u32 r = 0; r < IPI_COUNT; r++) {
		u32 mask = mix(0x9e3779b9u, r) & others; /* a different subset each round */
		if (!mask) mask = others;
		for (u32 c = 1; c < smp.cpus; c++)
			expect[c] = ipi_acks[c] + ((mask >> smp.apic_id[c]) & 1);
		ipi_round = r + 1;
		u32 sent = pv_ops.apic.send_ipi_mask(mask, VECTOR_IPI);
		if (sent != popcount32(mask)) fail("ipi: send_ipi_mask sent a different number of IPIs", sent);
		/* Every destination acknowledges before the next round (its handler ran exactly once). */
		u64 deadline = rdtsc() + IPI_ACK_TSC;
		for (u32 c = 1; c < smp.cpus; c++) {
			while (__atomic_load_n(&ipi_acks[c], __ATOMIC_ACQUIRE) != expect[c] && rdtsc() < deadline)
				pv_ops.cpu.wait_for_cpu(smp.apic_id[c]);
			if (ipi_acks[c] != expect[c]) fail("ipi: a destination CPU did not acknowledge exactly once", c);
		}
		sum = mix(sum, mask);
		*ops += sent;
		if (fail_reason) break; /* one lost IPI is enough: do not wait out every round */
	}
	set_irq_handler(VECTOR_IPI, 0);
	for (u32 c = 1; c < smp.cpus; c++) sum = mix(mix(sum, ipi_acks[c]), ipi_sums[c]);
	return sum;
}

static u32 ipi(u32 *ops) { return smp.cpus > 1 ? remote_ipi(ops) : self_ipi(ops); }

/* ---- 4. console output ---- */

static u32 console(u32 *ops)
{
	static const char text[] = ": the quick brown fox jumps over the lazy dog, 0123456789\n";
	char line[96];
	u32 crc = 0;
	for (u32 i = 0; i < CONSOLE_LINES; i++) {
		u32 n = 0;
		const char *prefix = "console line ";
		while (*prefix) line[n++] = *prefix++;
		line[n++] = (char)('0' + i / 10 % 10);
		line[n++] = (char)('0' + i % 10);
		for (u32 k = 0; text[k]; k++) line[n++] = text[k];
		crc = crc32_update(crc, line, n);
		pv_ops.console.write(line, n);
		(*ops)++;
	}
	console_flush();
	return crc; /* CRC-32 of the lines exactly as printed: a host can check what it received */
}

/* ---- the runner ---- */

struct workload {
	const char *name;
	u32 (*run)(u32 *ops);
};

static const struct workload workloads[] = {
	{ "ptchurn", churn },
	{ "timer", timer },
	{ "ipi", ipi },
	{ "console", console },
};

static void field(const char *name, u32 v)
{
	kputc(' ');
	kputs(name);
	kputc('=');
	kput_dec(v);
}

static int run_one(u32 index, const struct workload *w)
{
	kputs("BEGIN workload=");
	kputs(w->name);
	kputc('\n');
	console_flush();
	fail_reason = 0;
	struct guest_counters before = counters;
	outb(POST_PORT, POST_WORKLOAD_BEGIN + index);
	u64 t0 = rdtsc();
	u32 ops = 0;
	u32 checksum = w->run(&ops);
	u64 t1 = rdtsc();
	outb(POST_PORT, POST_WORKLOAD_END + index);
	struct guest_counters after = counters;

	if (fail_reason) {
		kputs("FAIL workload=");
		kputs(w->name);
		kputs(": ");
		kputs(fail_reason);
		kputs(" (0x");
		kput_hex(fail_value);
		kputs(")\n");
	}
	kputs("RESULT workload=");
	kputs(w->name);
	kputs(" mode=");
	kputs(mode_name);
	field("ops", ops);
	kputs(" cycles=");
	kput_dec64(t1 - t0);
	kputs(" checksum=");
	kput_hex(checksum);
	field("hypercalls", after.hypercalls - before.hypercalls);
	field("apic_mmio", after.apic_mmio - before.apic_mmio);
	field("pio", after.pio - before.pio);
	field("hlt", after.hlt - before.hlt);
	field("pte_writes", after.pte_writes - before.pte_writes);
	field("invlpg", after.invlpg - before.invlpg);
	field("cr3_writes", after.cr3_writes - before.cr3_writes);
	field("cpus", smp.cpus);
	kputs(fail_reason ? " status=FAIL\n" : " status=ok\n");
	console_flush();
	return fail_reason != 0;
}

int run_workloads(const char *mode)
{
	int failed = 0;
	mode_name = mode;
	for (u32 i = 0; i < ARRAY_SIZE(workloads); i++) failed |= run_one(i, &workloads[i]);
	return failed;
}
