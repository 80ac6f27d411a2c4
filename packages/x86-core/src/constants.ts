/**
 * Architectural constants: register indices, EFLAGS/CR bits and exception vectors, named as in
 * the Intel SDM (Vol. 1 §3.4, Vol. 3 §2.5, §6.3).
 */

/** Segment register indices in the SDM's encoding order (ModRM.reg of MOV Sw), then LDTR and TR. */
export const SREG_ES = 0;
export const SREG_CS = 1;
export const SREG_SS = 2;
export const SREG_DS = 3;
export const SREG_FS = 4;
export const SREG_GS = 5;
/** The LDTR and TR caches live in the same arrays as the segment registers (part 2). */
export const SREG_LDTR = 6;
export const SREG_TR = 7;
/** "No segment override" marker in the decoder. */
export const SREG_NONE = -1;

/** EFLAGS bits (SDM Vol. 1 §3.4.3). */
export const FLAG_CF = 1 << 0;
export const FLAG_1 = 1 << 1;
export const FLAG_PF = 1 << 2;
export const FLAG_AF = 1 << 4;
export const FLAG_ZF = 1 << 6;
export const FLAG_SF = 1 << 7;
export const FLAG_TF = 1 << 8;
export const FLAG_IF = 1 << 9;
export const FLAG_DF = 1 << 10;
export const FLAG_OF = 1 << 11;
export const FLAG_IOPL = 3 << 12;
export const FLAG_NT = 1 << 14;
export const FLAG_RF = 1 << 16;
export const FLAG_VM = 1 << 17;
export const FLAG_AC = 1 << 18;
export const FLAG_VIF = 1 << 19;
export const FLAG_VIP = 1 << 20;
export const FLAG_ID = 1 << 21;
/** The six arithmetic status flags (computed lazily). */
export const FLAGS_ARITH = FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_OF;
/** Bits software can change on a P6 (no VIF/VIP without VME; ID toggles because CPUID exists). */
export const FLAGS_WRITABLE =
  FLAGS_ARITH | FLAG_TF | FLAG_IF | FLAG_DF | FLAG_IOPL | FLAG_NT | FLAG_RF | FLAG_VM | FLAG_AC | FLAG_ID;

/** CR0 bits (SDM Vol. 3 §2.5). */
export const CR0_PE = 1 << 0;
export const CR0_MP = 1 << 1;
export const CR0_EM = 1 << 2;
export const CR0_TS = 1 << 3;
export const CR0_ET = 1 << 4;
export const CR0_NE = 1 << 5;
export const CR0_WP = 1 << 16;
export const CR0_AM = 1 << 18;
export const CR0_NW = 1 << 29;
export const CR0_CD = 1 << 30;
export const CR0_PG = 1 << 31;

/** CR4 bits implemented by this model (SDM Vol. 3 §2.5). */
export const CR4_VME = 1 << 0;
export const CR4_PVI = 1 << 1;
export const CR4_TSD = 1 << 2;
export const CR4_DE = 1 << 3;
export const CR4_PSE = 1 << 4;
export const CR4_PAE = 1 << 5;
export const CR4_MCE = 1 << 6;
export const CR4_PGE = 1 << 7;
export const CR4_PCE = 1 << 8;

/** Exception vectors (SDM Vol. 3 §6.3.1). */
export const EXC_DE = 0;
export const EXC_DB = 1;
export const EXC_NMI = 2;
export const EXC_BP = 3;
export const EXC_OF = 4;
export const EXC_BR = 5;
export const EXC_UD = 6;
export const EXC_NM = 7;
export const EXC_DF = 8;
export const EXC_TS = 10;
export const EXC_NP = 11;
export const EXC_SS = 12;
export const EXC_GP = 13;
export const EXC_PF = 14;
export const EXC_MF = 16;
export const EXC_AC = 17;
export const EXC_MC = 18;

/** No error code is pushed. */
export const NO_ERROR_CODE = -1;

/** Model-specific registers the CPU owns (SDM Vol. 4 Table 2-2). */
export const MSR_TSC = 0x10;
export const MSR_APIC_BASE = 0x1b;

/** Descriptor attribute bits as kept in the segment caches (descriptor bytes 5 and 6, SDM §3.4.5). */
export const ATTR_TYPE_MASK = 0x0f;
export const ATTR_ACCESSED = 0x01;
/** Data: writable; code: readable. */
export const ATTR_RW = 0x02;
/** Data: expand-down; code: conforming. */
export const ATTR_DC = 0x04;
export const ATTR_CODE = 0x08;
/** S: code/data (1) or system (0). */
export const ATTR_S = 0x10;
export const ATTR_DPL_SHIFT = 5;
export const ATTR_P = 0x80;
export const ATTR_AVL = 0x1000;
/** D/B: 32-bit default operand size / stack size / expand-down upper bound. */
export const ATTR_DB = 0x4000;
export const ATTR_G = 0x8000;

/** Operand size codes used by the decoder and the semantic functions. */
export const SZ8 = 0;
export const SZ16 = 1;
export const SZ32 = 2;
