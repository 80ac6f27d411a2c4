/*
 * The mini PV kernel: shared types, privileged-instruction helpers and the interfaces between
 * its files. Freestanding IA-32, 32-bit non-PAE paging, up to MAX_CPUS processors (smp.c).
 */
#ifndef KERNEL_H
#define KERNEL_H

#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

#define PAGE_SIZE 4096u
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- debug-exit (QEMU isa-debug-exit at port 0xF4: the host exits with (value << 1) | 1) ---- */
#define DEBUG_EXIT_PORT 0xf4
#define EXIT_OK 0x00
#define EXIT_WORKLOAD_FAILED 0x01 /* a workload's self-check failed (status=FAIL printed) */
#define EXIT_EXCEPTION 0x02       /* an unexpected CPU exception or interrupt */
#define EXIT_BOOT_FAILED 0x03     /* not started by a multiboot loader, or a hypercall failed */

/* POST port markers around each workload so a host can attribute exits to it exactly. */
#define POST_PORT 0x80
#define POST_WORKLOAD_BEGIN 0x10 /* + workload index */
#define POST_WORKLOAD_END 0x20   /* + workload index */

/* ---- instructions (SDM Vol. 2) ---- */
static inline void outb(u16 port, u8 v) { __asm__ __volatile__("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline u8 inb(u16 port)
{
	u8 v;
	__asm__ __volatile__("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline u32 inl(u16 port)
{
	u32 v;
	__asm__ __volatile__("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline void cpuid(u32 leaf, u32 *a, u32 *b, u32 *c, u32 *d)
{
	__asm__ __volatile__("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}
static inline u64 rdtsc(void)
{
	u32 lo, hi;
	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((u64)hi << 32) | lo;
}
static inline u32 read_cr0(void)
{
	u32 v;
	__asm__ __volatile__("mov %%cr0, %0" : "=r"(v));
	return v;
}
static inline void write_cr0(u32 v) { __asm__ __volatile__("mov %0, %%cr0" ::"r"(v) : "memory"); }
static inline u32 read_cr2(void)
{
	u32 v;
	__asm__ __volatile__("mov %%cr2, %0" : "=r"(v));
	return v;
}
static inline u32 read_cr3(void)
{
	u32 v;
	__asm__ __volatile__("mov %%cr3, %0" : "=r"(v));
	return v;
}
static inline u32 irq_save(void)
{
	u32 flags;
	__asm__ __volatile__("pushf; pop %0; cli" : "=r"(flags)::"memory");
	return flags;
}
static inline void irq_restore(u32 flags) { __asm__ __volatile__("push %0; popf" ::"r"(flags) : "memory", "cc"); }
static inline void cpu_relax(void) { __asm__ __volatile__("pause" ::: "memory"); }
static inline void barrier(void) { __asm__ __volatile__("" ::: "memory"); }
static inline void wrmsr(u32 msr, u64 v)
{
	__asm__ __volatile__("wrmsr" ::"c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "memory");
}

/* ---- processors (smp.c): every CPU runs on its own STACK_SIZE-aligned stack in cpu_stacks,
 * so a CPU finds its index from ESP (as 32-bit Linux once found current_thread_info) ---- */
#define MAX_CPUS 32          /* APIC IDs 0..31: one KVM_HC_SEND_IPI bitmap word */
#define STACK_SIZE 16384u
extern u8 cpu_stacks[];
static inline u32 cpu_index(void)
{
	u32 esp;
	__asm__("mov %%esp, %0" : "=r"(esp));
	return (esp - (u32)cpu_stacks) / STACK_SIZE;
}

/* A test-and-set spinlock (LOCK XCHG, SDM Vol. 3A 8.1.2.1) for state the CPUs share. */
typedef struct {
	volatile u32 locked;
} spinlock_t;
static inline void spin_lock(spinlock_t *l)
{
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)) cpu_relax();
}
static inline void spin_unlock(spinlock_t *l) { __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE); }

/* ---- what the guest itself issued that a hypervisor may trap (the host counts real exits) ---- */
struct guest_counters {
	u32 hypercalls; /* vmcall */
	u32 apic_mmio;  /* loads and stores to the xAPIC page */
	u32 pio;        /* IN/OUT */
	u32 hlt;        /* HLT */
	u32 pte_writes; /* direct stores to live page-table entries */
	u32 invlpg;     /* INVLPG */
	u32 cr3_writes; /* MOV CR3 */
};
extern struct guest_counters counters;
/* Every CPU counts into the same record: a locked add, so no increment is lost. */
#define COUNT(field) __atomic_fetch_add(&counters.field, 1, __ATOMIC_RELAXED)

/* ---- interrupt frame built by boot.S (isr_common: pusha after vector and error code) ---- */
struct frame {
	u32 edi, esi, ebp, esp_at_pusha, ebx, edx, ecx, eax;
	u32 vector, error;
	u32 eip, cs, eflags;
};

/* arch.c */
#define VECTOR_TIMER 0x40    /* APIC timer (one-shot) */
#define VECTOR_IPI 0x50      /* the IPI workload (self-IPI or to other CPUs) */
#define VECTOR_SPURIOUS 0xff /* SDM Vol. 3A 11.9: low 4 bits must be 1 on P6 */
typedef void (*irq_handler_t)(struct frame *f);
void arch_init(void);
void arch_init_ap(void); /* an application processor loads the BSP's GDT and IDT */
void set_irq_handler(u8 vector, irq_handler_t h);
u32 spurious_count(void);
void __attribute__((noreturn)) debug_exit(u8 code);
void __attribute__((noreturn)) panic(const char *why, u32 value);

/* console.c: formatted output through pv_ops.console */
void serial_init(void);
void kputs(const char *s);
void kputc(char c);
void kput_hex(u32 v);
void kput_dec(u32 v);
void kput_dec64(u64 v);
void console_flush(void);
u32 crc32_update(u32 crc, const void *buf, u32 len);

/* paging.c */
#define APIC_PHYS_BASE 0xfee00000u
#define HPET_PHYS_BASE 0xfed00000u /* where paging.c maps the HPET page (the ACPI HPET table must agree) */
#define CHURN_WINDOW 0x40000000u /* linear window the page-table churn maps and unmaps */
#define CHURN_WINDOW_PAGES 1024u /* one page table's worth */
#define CHURN_POOL_PAGES 256u    /* physical frames the window pages are backed by */
void paging_init(void);
u32 *kernel_page_dir(void);
u32 *churn_pte(u32 page);  /* the window PTE of page `page` (0..CHURN_WINDOW_PAGES-1) */
u8 *churn_frame(u32 i);    /* pool frame i, through its identity mapping */
u32 churn_frame_phys(u32 i);

/* firmware.c: the ACPI tables, and the TSC measured against the PM timer and the HPET */
void firmware_probe(void);

/* smp.c */
struct smp_info {
	u32 cpus;              /* processors online, the BSP included */
	u8 apic_id[MAX_CPUS];  /* by CPU index (0 = the BSP) */
};
extern struct smp_info smp;
void smp_probe(void); /* before paging: count the processors in the MP table */
void smp_boot(void);  /* after paging and the BSP's APIC: start the APs by INIT/SIPI */
void apic_enable(void); /* main.c: software-enable this CPU's local APIC */

/* echo.c: `echo` on the command line keeps the kernel up after the workloads, echoing COM1 */
void __attribute__((noreturn)) echo_forever(void);

/* workloads.c */
int run_workloads(const char *mode);

/* Set bits (no libgcc in a freestanding kernel: __builtin_popcount would call __popcountsi2). */
static inline u32 popcount32(u32 v)
{
	u32 n = 0;
	for (; v; v &= v - 1) n++;
	return n;
}

/* small string helpers */
static inline int str_eq_n(const char *a, const char *b, u32 n)
{
	for (u32 i = 0; i < n; i++)
		if (a[i] != b[i]) return 0;
	return 1;
}

#endif /* KERNEL_H */
