/*
 * Hypercall paravirt_ops and the one feature probe that installs them.
 *
 * The ABI is @pv/hypercall's generated header (ABI.md): vmcall, EAX = number, EBX/ECX/EDX/ESI
 * = arguments, negative KVM errno on failure. Batches are fixed-size little-endian records in
 * this kernel's memory; the kernel is identity-mapped, so a record's linear address is its
 * guest-physical address. A batch applies its entries in order and stops at the first failure;
 * the kernel treats any short batch as fatal and reports the failed index and errno.
 */
#include "pv_hypercall.h"
#include "pv_ops.h"

/* ---- the probe (cached: CPUID runs once, at boot) ---- */
static struct {
	int hypervisor;   /* CPUID.1:ECX[31] */
	int kvm;          /* "KVMKVMKVM" at 0x40000000 */
	u32 kvm_features; /* 0x40000001.EAX */
	int pv;           /* "@pv@pv@pv" at 0x40000100 with a known ABI major */
	u32 pv_abi;       /* 0x40000101.EAX */
	u32 pv_features;  /* 0x40000101.EBX */
} probe;

static int has_pv(u32 bit) { return probe.pv && (probe.pv_features >> bit) & 1; }

/* ---- hypercalls ---- */
static int32_t hypercall(u32 nr, u32 a0, u32 a1, u32 a2, u32 a3)
{
	COUNT(hypercalls);
	return pv_hypercall4(nr, a0, a1, a2, a3);
}

static struct pv_batch_status batch_status[MAX_CPUS]; /* per CPU: where a short batch reports */

static void __attribute__((noreturn)) batch_failed(const char *call, int32_t result, u32 count)
{
	kputs("pv: ");
	kputs(call);
	kputs(" applied ");
	kput_dec(result < 0 ? 0 : (u32)result);
	kputs(" of ");
	kput_dec(count);
	kputs(", error ");
	kput_dec(result < 0 ? (u32)-result : (u32)-batch_status[cpu_index()].error);
	kputs("\n");
	panic("hypercall batch failed", (u32)result);
}

/* ---- APIC: writes queued per CPU (each CPU's batch goes to its own APIC), flushed by one
 * PV_HC_APIC_WRITE_BATCH ---- */
static struct pv_apic_write apic_queue[MAX_CPUS][PV_APIC_WRITE_BATCH_MAX];
static u32 apic_queued[MAX_CPUS];

static void pv_apic_flush(void)
{
	u32 flags = irq_save();
	u32 c = cpu_index();
	u32 n = apic_queued[c];
	if (n) {
		int32_t r = hypercall(PV_HC_APIC_WRITE_BATCH, (u32)apic_queue[c], n, (u32)&batch_status[c], 0);
		if (r != (int32_t)n) batch_failed("PV_HC_APIC_WRITE_BATCH", r, n);
		apic_queued[c] = 0;
	}
	irq_restore(flags);
}

static void pv_apic_write(u32 reg, u32 value)
{
	u32 flags = irq_save();
	u32 c = cpu_index();
	if (apic_queued[c] == PV_APIC_WRITE_BATCH_MAX) pv_apic_flush();
	apic_queue[c][apic_queued[c]].reg = reg;
	apic_queue[c][apic_queued[c]].value = value;
	apic_queued[c]++;
	irq_restore(flags);
}

static void pv_apic_eoi(void) { pv_apic_write(APIC_EOI, 0); }

/* No APIC read call exists: queued writes take effect first, then the MMIO read. */
static u32 pv_apic_read(u32 reg)
{
	pv_apic_flush();
	return native_pv_ops.apic.read(reg);
}

/* KVM_HC_SEND_IPI (Linux's kvm_send_ipi_mask): one call for any set of destinations, the
 * bitmap relative to APIC ID 0. Queued APIC writes go first (they were issued first). */
static u32 kvm_send_ipi_mask(u32 mask, u32 vector)
{
	u32 flags = irq_save();
	mask &= ~(1u << smp.apic_id[cpu_index()]);
	u32 want = popcount32(mask);
	if (want) {
		pv_ops.apic.flush();
		int32_t r = hypercall(KVM_HC_SEND_IPI, mask, 0, 0, APIC_DM_FIXED | (vector & 0xff));
		if (r != (int32_t)want) {
			kputs("pv: KVM_HC_SEND_IPI delivered ");
			kput_dec(r < 0 ? 0 : (u32)r);
			kputs(" of ");
			kput_dec(want);
			if (r < 0) {
				kputs(", error ");
				kput_dec((u32)-r);
			}
			kputs("\n");
			panic("KVM_HC_SEND_IPI failed", (u32)r);
		}
	}
	irq_restore(flags);
	return want;
}

/* PV EOI (KVM_FEATURE_PV_EOI, Linux's kvm_guest_apic_eoi_write): when the host delivered the
 * interrupt with bit 0 of this CPU's word set, clearing the bit is the EOI; else a real EOI. */
static u32 pv_eoi_word[MAX_CPUS];
static int use_pv_eoi;
static void (*eoi_fallback)(void);

static void kvm_eoi(void)
{
	if (__atomic_fetch_and(&pv_eoi_word[cpu_index()], ~KVM_PV_EOI_ENABLED, __ATOMIC_ACQ_REL) & KVM_PV_EOI_ENABLED)
		return;
	eoi_fallback();
}

void pv_cpu_init(void)
{
	if (!use_pv_eoi) return;
	u32 c = cpu_index();
	pv_eoi_word[c] = 0;
	wrmsr(MSR_KVM_PV_EOI_EN, (u32)&pv_eoi_word[c] | KVM_PV_EOI_ENABLED);
}

/* ---- MMU: PTE stores and TLB flushes queued in lazy mode ---- */
static struct pv_pte_update pte_queue[PV_PT_UPDATE_BATCH_MAX];
static u32 pte_queued;
static struct pv_tlb_flush_entry tlb_queue[PV_TLB_FLUSH_MAX];
static u32 tlb_queued;
static int tlb_flush_all; /* a full flush is pending (supersedes the list) */
static int lazy_mmu;
static int use_multicall;
static struct pv_multicall_entry multicall[2];

static void tlb_call_args(u32 *a)
{
	if (tlb_flush_all) {
		a[0] = 0;
		a[1] = 0;
		a[2] = PV_TLB_FLUSH_ALL;
	} else {
		a[0] = (u32)tlb_queue;
		a[1] = tlb_queued;
		a[2] = 0;
	}
	a[3] = 0;
}

/* Apply queued PTE updates, then queued TLB flushes (in this order: SDM Vol. 3A 4.10.4.1). */
static void mmu_flush(void)
{
	u32 flags = irq_save();
	u32 n = pte_queued;
	int flush = tlb_queued || tlb_flush_all;
	if (n && flush && use_multicall) {
		/* Both in one exit: a multicall of the PT batch and the TLB flush. */
		multicall[0].nr = PV_HC_PT_UPDATE_BATCH;
		multicall[0].args[0] = (u32)pte_queue;
		multicall[0].args[1] = n;
		multicall[0].args[2] = (u32)&batch_status[cpu_index()];
		multicall[0].args[3] = 0;
		multicall[1].nr = PV_HC_TLB_FLUSH;
		tlb_call_args(multicall[1].args);
		int32_t r = hypercall(PV_HC_MULTICALL, (u32)multicall, 2, 0, 0);
		if (r < 0) batch_failed("PV_HC_MULTICALL", r, 2);
		if (r != 2 || multicall[0].result != (int32_t)n)
			batch_failed("PV_HC_MULTICALL(PT_UPDATE_BATCH, TLB_FLUSH)", multicall[0].result, n);
	} else {
		if (n) {
			int32_t r = hypercall(PV_HC_PT_UPDATE_BATCH, (u32)pte_queue, n, (u32)&batch_status[cpu_index()], 0);
			if (r != (int32_t)n) batch_failed("PV_HC_PT_UPDATE_BATCH", r, n);
		}
		if (flush) {
			u32 a[4];
			tlb_call_args(a);
			int32_t r = hypercall(PV_HC_TLB_FLUSH, a[0], a[1], a[2], a[3]);
			if (r < 0) batch_failed("PV_HC_TLB_FLUSH", r, tlb_queued);
		}
	}
	pte_queued = 0;
	tlb_queued = 0;
	tlb_flush_all = 0;
	irq_restore(flags);
}

static void pv_set_pte(u32 *ptep, u32 pte)
{
	u32 flags = irq_save();
	if (pte_queued == PV_PT_UPDATE_BATCH_MAX) mmu_flush();
	pte_queue[pte_queued].pte_gpa = (u32)ptep;
	pte_queue[pte_queued].value = pte;
	pte_queued++;
	if (!lazy_mmu) mmu_flush();
	irq_restore(flags);
}

static void pv_flush_tlb_one(u32 linear)
{
	u32 flags = irq_save();
	if (!tlb_flush_all) {
		if (tlb_queued == PV_TLB_FLUSH_MAX) mmu_flush();
		tlb_queue[tlb_queued++].linear = linear;
	}
	if (!lazy_mmu) mmu_flush();
	irq_restore(flags);
}

static void pv_flush_tlb_all(void)
{
	u32 flags = irq_save();
	tlb_flush_all = 1;
	tlb_queued = 0;
	if (!lazy_mmu) mmu_flush();
	irq_restore(flags);
}

static void pv_lazy_enter(void) { lazy_mmu = 1; }

static void pv_lazy_leave(void)
{
	mmu_flush();
	lazy_mmu = 0;
}

/* ---- console: buffered, flushed by PV_HC_CONSOLE_WRITE ---- */
static char console_buf[PV_CONSOLE_WRITE_MAX];
static u32 console_len;

/* The caller holds console_lock. */
static void console_flush_locked(void)
{
	u32 done = 0;
	while (done < console_len) {
		int32_t r = hypercall(PV_HC_CONSOLE_WRITE, (u32)console_buf + done, console_len - done, 0, 0);
		if (r <= 0) {
			/* The host console refused: deliver the rest through the UART instead. */
			uart_write(console_buf + done, console_len - done);
			break;
		}
		done += (u32)r;
	}
	console_len = 0;
}

static void pv_console_flush(void)
{
	u32 flags = irq_save();
	spin_lock(&console_lock);
	console_flush_locked();
	spin_unlock(&console_lock);
	irq_restore(flags);
}

static void pv_console_write(const char *buf, u32 len)
{
	u32 flags = irq_save();
	spin_lock(&console_lock);
	for (u32 i = 0; i < len; i++) {
		if (console_len == PV_CONSOLE_WRITE_MAX) console_flush_locked();
		console_buf[console_len++] = buf[i];
	}
	spin_unlock(&console_lock);
	irq_restore(flags);
}

static void nop_io_delay(void) {}

static void kvm_wait_for_cpu(u32 apic_id)
{
	int32_t r = hypercall(KVM_HC_SCHED_YIELD, apic_id, 0, 0, 0);
	if (r < 0) cpu_relax(); /* a refused yield is only a missed optimisation */
}

/* ---- the probe and the slot table ---- */
static void do_probe(void)
{
	u32 a, b, c, d;
	cpuid(1, &a, &b, &c, &d);
	probe.hypervisor = (c & CPUID_1_ECX_HYPERVISOR) != 0;
	if (!probe.hypervisor) return; /* leaves 0x40000000+ are undefined on bare metal */
	cpuid(KVM_CPUID_SIGNATURE, &a, &b, &c, &d);
	if (b == KVM_SIGNATURE_EBX && c == KVM_SIGNATURE_ECX && d == KVM_SIGNATURE_EDX &&
	    a >= KVM_CPUID_FEATURES) {
		probe.kvm = 1;
		cpuid(KVM_CPUID_FEATURES, &a, &b, &c, &d);
		probe.kvm_features = a;
	}
	cpuid(PV_CPUID_SIGNATURE, &a, &b, &c, &d);
	if (b == PV_SIGNATURE_EBX && c == PV_SIGNATURE_ECX && d == PV_SIGNATURE_EDX &&
	    a >= PV_CPUID_FEATURES) {
		cpuid(PV_CPUID_FEATURES, &a, &b, &c, &d);
		probe.pv_abi = a;
		/* A different major version is a different ABI: use none of it. */
		if ((a >> 16) == PV_ABI_VERSION_MAJOR) {
			probe.pv = 1;
			probe.pv_features = b;
		}
	}
}

static int pv_slots; /* slots switched to hypercalls */

/* One line per slot: "pv_ops: <slot> = native|pv (<why>)". */
static void slot(const char *name, int pv, const char *why)
{
	pv_slots += pv;
	kputs("pv_ops: ");
	kputs(name);
	kputs(pv ? " = pv (" : " = native (");
	kputs(why);
	kputs(")\n");
}

int pv_init(int forced_native)
{
	pv_ops = native_pv_ops;
	do_probe();
	kputs("pv_ops: probe: hypervisor=");
	kputs(probe.hypervisor ? "yes" : "no");
	kputs(" kvm=");
	kputs(probe.kvm ? "yes" : "no");
	kputs(" kvm_features=0x");
	kput_hex(probe.kvm_features);
	kputs(" pv_abi=0x");
	kput_hex(probe.pv_abi);
	kputs(" pv_features=0x");
	kput_hex(probe.pv_features);
	kputs(forced_native ? " cmdline=pv=off\n" : "\n");

	const char *none = forced_native      ? "pv=off on the command line"
			   : !probe.hypervisor ? "CPUID.1:ECX[31] clear: no hypervisor"
			   : !probe.pv         ? "no @pv signature with ABI major 0 at CPUID 0x40000100"
					       : 0;
	int pt = !none && has_pv(PV_FEATURE_PT_UPDATE_BATCH) && has_pv(PV_FEATURE_TLB_FLUSH);
	int tlb = !none && has_pv(PV_FEATURE_TLB_FLUSH);
	int apic = !none && has_pv(PV_FEATURE_APIC_WRITE_BATCH);
	int con = !none && has_pv(PV_FEATURE_CONSOLE_WRITE);
	int send_ipi = !none && probe.kvm && (probe.kvm_features >> KVM_FEATURE_PV_SEND_IPI) & 1;
	int pv_eoi = !none && probe.kvm && (probe.kvm_features >> KVM_FEATURE_PV_EOI) & 1;
	int sched_yield = !none && probe.kvm && (probe.kvm_features >> KVM_FEATURE_PV_SCHED_YIELD) & 1;
	int nop_delay = !forced_native && probe.kvm && (probe.kvm_features >> KVM_FEATURE_NOP_IO_DELAY) & 1;
	use_multicall = pt && has_pv(PV_FEATURE_MULTICALL);

	/* Console first, so the slot lines below already go through the selected path. */
	if (con) {
		pv_ops.console.write = pv_console_write;
		pv_ops.console.flush = pv_console_flush;
	}
	slot("console.write", con, none ? none : con ? "PV_HC_CONSOLE_WRITE, buffered" : "PV_FEATURE_CONSOLE_WRITE not advertised");
	slot("console.flush", con, none ? none : con ? "one PV_HC_CONSOLE_WRITE per buffer" : "UART output is unbuffered");

	if (nop_delay) pv_ops.cpu.io_delay = nop_io_delay;
	slot("cpu.io_delay", nop_delay, forced_native ? "pv=off on the command line" : nop_delay ? "KVM_FEATURE_NOP_IO_DELAY: no delay needed" : "KVM_FEATURE_NOP_IO_DELAY not advertised");

	if (sched_yield) pv_ops.cpu.wait_for_cpu = kvm_wait_for_cpu;
	slot("cpu.wait_for_cpu", sched_yield, sched_yield ? "KVM_HC_SCHED_YIELD to the CPU waited for" : none ? none : "KVM_FEATURE_PV_SCHED_YIELD not advertised: PAUSE");
	slot("irq.safe_halt", 0, "the ABI has no halt call: STI;HLT is one exit either way");

	slot("mmu.write_cr3", 0, "the ABI has no CR3-load call");
	if (pt) {
		pv_ops.mmu.set_pte = pv_set_pte;
		pv_ops.mmu.lazy_mode.enter = pv_lazy_enter;
		pv_ops.mmu.lazy_mode.leave = pv_lazy_leave;
	}
	slot("mmu.set_pte", pt, none ? none : pt ? "PV_HC_PT_UPDATE_BATCH, queued in lazy MMU mode" : "needs PV_FEATURE_PT_UPDATE_BATCH and PV_FEATURE_TLB_FLUSH");
	slot("mmu.lazy_mode", pt, none ? none : pt ? (use_multicall ? "leave flushes PTEs + TLB in one PV_HC_MULTICALL" : "leave flushes PTEs, then the TLB") : "nothing to batch");
	if (tlb) {
		pv_ops.mmu.flush_tlb_one = pv_flush_tlb_one;
		pv_ops.mmu.flush_tlb_all = pv_flush_tlb_all;
	}
	slot("mmu.flush_tlb_one", tlb, none ? none : tlb ? "PV_HC_TLB_FLUSH list, queued in lazy MMU mode" : "PV_FEATURE_TLB_FLUSH not advertised");
	slot("mmu.flush_tlb_all", tlb, none ? none : tlb ? "PV_HC_TLB_FLUSH with PV_TLB_FLUSH_ALL" : "PV_FEATURE_TLB_FLUSH not advertised");

	if (apic) {
		pv_ops.apic.write = pv_apic_write;
		pv_ops.apic.eoi = pv_apic_eoi;
		pv_ops.apic.flush = pv_apic_flush;
		pv_ops.apic.read = pv_apic_read;
	}
	slot("apic.write", apic, none ? none : apic ? "PV_HC_APIC_WRITE_BATCH, queued until apic.flush" : "PV_FEATURE_APIC_WRITE_BATCH not advertised");
	slot("apic.eoi", apic, none ? none : apic ? "queued like apic.write" : "PV_FEATURE_APIC_WRITE_BATCH not advertised");
	if (send_ipi) pv_ops.apic.send_ipi_mask = kvm_send_ipi_mask;
	slot("apic.send_ipi_mask", send_ipi || apic, send_ipi ? "KVM_HC_SEND_IPI: one call for any destination set" : apic ? "ICR2 + ICR per destination, queued like apic.write" : none ? none : "KVM_FEATURE_PV_SEND_IPI not advertised");
	eoi_fallback = pv_ops.apic.eoi;
	use_pv_eoi = pv_eoi;
	if (pv_eoi) pv_ops.apic.eoi = kvm_eoi;
	slot("apic.eoi (pv_eoi)", pv_eoi, pv_eoi ? "KVM_FEATURE_PV_EOI: clearing the per-CPU word is the EOI when the host set it" : none ? none : "KVM_FEATURE_PV_EOI not advertised");
	slot("apic.read", 0, apic ? "the ABI has no APIC read call: MMIO after flushing queued writes" : none ? none : "xAPIC MMIO");
	pv_ops.console.flush();
	return pv_slots > 0;
}
