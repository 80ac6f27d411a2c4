/*
 * 32-bit paging without PAE, 4 KiB pages (SDM Vol. 3A 4.3).
 *
 *   0x00001000-0x003FFFFF  identity: the kernel, its stack, its page tables and the churn pool
 *                          (page 0 stays unmapped to catch null pointers)
 *   0x40000000-0x403FFFFF  the churn window: PTEs written by the page-table workload
 *   0xFED00000             the HPET page, identity, uncached
 *   0xFEE00000             the local APIC page, identity, uncached (PCD | PWT, SDM 11.4.1)
 *
 * The tables are built with plain stores before CR3 is loaded (nothing can trap on them yet);
 * afterwards every change goes through pv_ops.mmu.
 */
#include "pv_ops.h"

#define PTE_P (1u << 0)   /* present */
#define PTE_RW (1u << 1)  /* writable */
#define PTE_PWT (1u << 3) /* write-through */
#define PTE_PCD (1u << 4) /* cache disable */
#define CR0_WP (1u << 16)
#define CR0_PG (1u << 31)

#define PDE_INDEX(lin) ((lin) >> 22)
#define PTE_INDEX(lin) (((lin) >> 12) & 0x3ff)
#define IDENTITY_LIMIT 0x400000u /* what identity_pt maps */

static u32 page_dir[1024] __attribute__((aligned(PAGE_SIZE)));
static u32 identity_pt[1024] __attribute__((aligned(PAGE_SIZE)));
static u32 apic_pt[1024] __attribute__((aligned(PAGE_SIZE)));
static u32 window_pt[1024] __attribute__((aligned(PAGE_SIZE)));
static u8 pool[CHURN_POOL_PAGES][PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

extern char __kernel_end[];

u32 *kernel_page_dir(void) { return page_dir; }
u32 *churn_pte(u32 page) { return &window_pt[page & 0x3ff]; }
u8 *churn_frame(u32 i) { return pool[i % CHURN_POOL_PAGES]; }
u32 churn_frame_phys(u32 i) { return (u32)pool[i % CHURN_POOL_PAGES]; }

void paging_init(void)
{
	if ((u32)__kernel_end > IDENTITY_LIMIT) panic("kernel does not fit the identity map", (u32)__kernel_end);
	for (u32 i = 1; i < 1024; i++) identity_pt[i] = (i * PAGE_SIZE) | PTE_P | PTE_RW;
	apic_pt[PTE_INDEX(APIC_PHYS_BASE)] = APIC_PHYS_BASE | PTE_P | PTE_RW | PTE_PWT | PTE_PCD;
	apic_pt[PTE_INDEX(HPET_PHYS_BASE)] = HPET_PHYS_BASE | PTE_P | PTE_RW | PTE_PWT | PTE_PCD; /* same 4 MiB */
	page_dir[0] = (u32)identity_pt | PTE_P | PTE_RW;
	page_dir[PDE_INDEX(CHURN_WINDOW)] = (u32)window_pt | PTE_P | PTE_RW;
	page_dir[PDE_INDEX(APIC_PHYS_BASE)] = (u32)apic_pt | PTE_P | PTE_RW;
	pv_ops.mmu.write_cr3((u32)page_dir);
	/* SDM Vol. 3A 4.1.1: CR0.PG = 1 with CR4.PAE = 0 selects 32-bit paging; WP protects
	 * read-only pages from ring 0 too. */
	write_cr0(read_cr0() | CR0_PG | CR0_WP);
}
