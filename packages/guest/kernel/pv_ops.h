/*
 * paravirt_ops of the mini kernel, grouped like Linux's arch/x86/include/asm/paravirt_types.h.
 *
 * Every slot starts native (pv_native.c). pv_init() probes CPUID once and replaces single slots
 * with hypercall implementations (pv_hyper.c), printing one line per slot with the reason it is
 * native or pv — the scheme of Linux's arch/x86/kernel/kvm.c.
 *
 * Lazy batching: between mmu.lazy_mode.enter and .leave, set_pte and flush_tlb_one may be
 * deferred (pv: queued in guest memory) and take effect by .leave at the latest. APIC writes
 * may be deferred until apic.flush, which the kernel calls at its synchronisation points (before
 * HLT, before reading the APIC, after queueing an IPI). Native slots never defer anything.
 *
 * SMP: the APIC slots act on the calling CPU's local APIC, so their queues are per CPU; the MMU
 * slots are used by the BSP only (the workloads that change mappings run there); the console
 * slots take a lock.
 */
#ifndef PV_OPS_H
#define PV_OPS_H

#include "kernel.h"

/* xAPIC register offsets (SDM Vol. 3A Table 11-1). */
#define APIC_ID 0x020
#define APIC_TASKPRI 0x080 /* TPR */
#define APIC_EOI 0x0b0
#define APIC_SPIV 0x0f0
#define APIC_ESR 0x280
#define APIC_ICR 0x300
#define APIC_ICR2 0x310
#define APIC_LVTT 0x320
#define APIC_LVT0 0x350  /* LINT0 */
#define APIC_TMICT 0x380 /* initial count */
#define APIC_TMCCT 0x390 /* current count */
#define APIC_TDCR 0x3e0  /* divide configuration */

#define APIC_SPIV_APIC_ENABLED (1u << 8)  /* SDM 11.9: APIC software enable */
#define APIC_LVT_MASKED (1u << 16)
#define APIC_DM_EXTINT (7u << 8)           /* SDM 11.5.1: LVT delivery mode 111 */
#define APIC_LVT_TIMER_ONESHOT (0u << 17) /* SDM 11.5.4: timer mode bits 18:17 = 00 */
#define APIC_DM_FIXED (0u << 8)
#define APIC_DM_INIT (5u << 8)             /* SDM 11.6.1: delivery mode 101 */
#define APIC_DM_STARTUP (6u << 8)          /* delivery mode 110, vector = start page */
#define APIC_INT_ASSERT (1u << 14)
#define APIC_INT_LEVELTRIG (1u << 15)
#define APIC_ICR2_DEST_SHIFT 24            /* physical destination: APIC ID in ICR bits 63:56 */
#define APIC_ICR_DELIVERY_PENDING (1u << 12)
#define APIC_DEST_SELF (1u << 18)          /* SDM 11.6.1: destination shorthand 01 = self */
#define APIC_TDCR_DIV_1 0xb                /* SDM Figure 11-10: divide by 1 */

struct pv_cpu_ops {
	/* A delay after a slow port access (Linux's io_delay): native OUT to port 0xED. */
	void (*io_delay)(void);
	/* One turn of a loop that waits for the CPU with APIC ID `apic_id` to do something: native
	 * PAUSE; pv KVM_HC_SCHED_YIELD, so an overcommitted host runs that vCPU instead of the spinner
	 * (as Linux's kvm_smp_send_call_func_ipi does for preempted destinations). */
	void (*wait_for_cpu)(u32 apic_id);
};

struct pv_irq_ops {
	/* STI; HLT with the STI shadow covering HLT (SDM Vol. 2 STI), so no wake-up is lost. */
	void (*safe_halt)(void);
};

struct pv_lazy_ops {
	void (*enter)(void);
	void (*leave)(void);
};

struct pv_mmu_ops {
	void (*write_cr3)(u32 cr3);
	void (*set_pte)(u32 *ptep, u32 pte);  /* ptep: a live page-table entry (identity-mapped) */
	void (*flush_tlb_one)(u32 linear);    /* INVLPG semantics */
	void (*flush_tlb_all)(void);          /* MOV CR3 semantics (non-global entries) */
	struct pv_lazy_ops lazy_mode;
};

struct pv_apic_ops {
	u32 (*read)(u32 reg);
	void (*write)(u32 reg, u32 value);
	void (*eoi)(void);
	void (*flush)(void);
	/* A fixed IPI with `vector` to every APIC ID set in `mask` (bit n = APIC ID n), this CPU
	 * excluded; returns how many were sent. Native: ICR2 + ICR per destination (xAPIC physical
	 * mode, Linux's default_send_IPI_mask_sequence_phys). */
	u32 (*send_ipi_mask)(u32 mask, u32 vector);
};

struct pv_console_ops {
	void (*write)(const char *buf, u32 len);
	void (*flush)(void);
};

struct pv_ops {
	struct pv_cpu_ops cpu;
	struct pv_irq_ops irq;
	struct pv_mmu_ops mmu;
	struct pv_apic_ops apic;
	struct pv_console_ops console;
};

extern struct pv_ops pv_ops;

/* Native implementations (pv_native.c); pv_ops starts as a copy of these. */
extern const struct pv_ops native_pv_ops;

/* The native IPI sequence through whichever apic.write is installed (batched in pv mode). */
u32 apic_send_ipi_mask_seq(u32 mask, u32 vector);

/* The console slots' lock (pv_native.c): every CPU may print. */
extern spinlock_t console_lock;
void uart_write(const char *buf, u32 len); /* polled COM1 output; the caller holds console_lock */

/* Set up this CPU's paravirtual state (the PV EOI word) once its APIC is enabled. */
void pv_cpu_init(void);

/*
 * Probe CPUID once and patch slots. `forced_native` is set by `pv=off` on the command line.
 * Returns 1 when at least one slot uses hypercalls ("pv" mode), 0 otherwise.
 */
int pv_init(int forced_native);

#endif /* PV_OPS_H */
