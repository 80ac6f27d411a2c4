/**
 * Architectural constants, named as in the Intel SDM Vol. 3 ch. 2 and ch. 4.
 *
 * The ACCESS_* values mirror `@pv/x86-core`'s bus.ts (this package may import only types from
 * x86-core; a test asserts the values are identical).
 */

/** Access kind: read (bus.ts ACCESS_READ). */
export const ACCESS_READ = 0;
/** Access kind bit: the access writes. */
export const ACCESS_WRITE = 1;
/** Access kind bit: user-mode access (CPL 3 and not an implicit supervisor access). */
export const ACCESS_USER = 2;
/** Access kind bit: instruction fetch. */
export const ACCESS_FETCH = 4;
/** Number of TLB kinds (the kind index is the OR of the ACCESS_* bits). */
export const TLB_KINDS = 8;

/** Page size and shift. */
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
export const PAGE_MASK = PAGE_SIZE - 1;

/** CR0.WP (bit 16): supervisor writes honour R/W (SDM 2.5). */
export const CR0_WP = 1 << 16;
/** CR0.NW (bit 29). */
export const CR0_NW = 1 << 29;
/** CR0.CD (bit 30). */
export const CR0_CD = 1 << 30;
/** CR0.PG (bit 31): paging enabled. */
export const CR0_PG = 1 << 31;

/** CR3 bits 31:12: page-directory base for 32-bit paging. */
export const CR3_PD_MASK = 0xfffff000;
/** CR3 bits 31:5: PDPT base for PAE paging (SDM 4.4.1, table 4-7). */
export const CR3_PDPT_MASK = 0xffffffe0;

/** CR4.PSE (bit 4): 4-MiB pages with 32-bit paging. */
export const CR4_PSE = 1 << 4;
/** CR4.PAE (bit 5). */
export const CR4_PAE = 1 << 5;
/** CR4.PGE (bit 7): global pages. */
export const CR4_PGE = 1 << 7;
/** CR4.SMEP (bit 20). */
export const CR4_SMEP = 1 << 20;
/** CR4.SMAP (bit 21). */
export const CR4_SMAP = 1 << 21;

/** IA32_EFER.NXE (bit 11). */
export const EFER_NXE = 1 << 11;

/** Paging-structure entry bits (SDM 4.3 tables 4-5/4-6, 4.4.2 tables 4-8..4-11). */
export const PTE_P = 1 << 0;
export const PTE_RW = 1 << 1;
export const PTE_US = 1 << 2;
export const PTE_PWT = 1 << 3;
export const PTE_PCD = 1 << 4;
export const PTE_A = 1 << 5;
export const PTE_D = 1 << 6;
/** PS in a PDE (bit 7). */
export const PTE_PS = 1 << 7;
/** G in a leaf entry (bit 8). */
export const PTE_G = 1 << 8;
/** XD: bit 63 of a PAE entry, i.e. bit 31 of its high dword. */
export const PTE_HI_XD = 1 << 31;

/** #PF error code bits (SDM 4.7, figure 4-12). */
export const PF_P = 1 << 0;
export const PF_W = 1 << 1;
export const PF_U = 1 << 2;
export const PF_RSVD = 1 << 3;
export const PF_ID = 1 << 4;

/** Exit kind indices, mirroring bus.ts EXIT_MMIO / EXIT_PT_WRITE. */
export const EXIT_MMIO = 1;
export const EXIT_PT_WRITE = 9;
