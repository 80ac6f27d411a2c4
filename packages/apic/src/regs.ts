/**
 * Register offsets, bit fields and MSR numbers of the local APIC, named after QEMU's
 * `include/hw/i386/apic_internal.h` and Linux's `arch/x86/include/asm/apicdef.h`.
 * Citations are to the Intel SDM Vol. 3A chapter 10 ("Advanced Programmable Interrupt
 * Controller"; chapter 11 in newer editions) and the x2APIC specification.
 */

// ---------------------------------------------------------------------------------------------
// Register indices. A register index is the xAPIC MMIO offset >> 4, which is also the x2APIC MSR
// number − 0x800 (SDM 10.12.1.2, Table 10-6). Batch entries name registers by this index.
// ---------------------------------------------------------------------------------------------

/** Local APIC ID (xAPIC: bits 31:24; x2APIC: the 32-bit x2APIC ID, read-only). */
export const APIC_ID = 0x02;
/** Version: bits 7:0 version, 23:16 max LVT entry, bit 24 EOI-broadcast suppression (RO). */
export const APIC_LVR = 0x03;
/** Task priority register. */
export const APIC_TASKPRI = 0x08;
/** Arbitration priority register (xAPIC only, RO). */
export const APIC_ARBPRI = 0x09;
/** Processor priority register (RO). */
export const APIC_PROCPRI = 0x0a;
/** End of interrupt (WO). */
export const APIC_EOI = 0x0b;
/** Remote read register (xAPIC only, RO; remote read is not supported on P4 and later). */
export const APIC_RRR = 0x0c;
/** Logical destination register (RO in x2APIC mode). */
export const APIC_LDR = 0x0d;
/** Destination format register (xAPIC only). */
export const APIC_DFR = 0x0e;
/** Spurious-interrupt vector register. */
export const APIC_SPIV = 0x0f;
/** In-service register, 8 × 32 bits (RO). */
export const APIC_ISR = 0x10;
/** Trigger mode register, 8 × 32 bits (RO). */
export const APIC_TMR = 0x18;
/** Interrupt request register, 8 × 32 bits (RO). */
export const APIC_IRR = 0x20;
/** Error status register (SDM 10.5.3). */
export const APIC_ESR = 0x28;
/** LVT corrected machine-check interrupt. */
export const APIC_LVTCMCI = 0x2f;
/** Interrupt command register, low half (x2APIC: the whole 64-bit ICR). */
export const APIC_ICR = 0x30;
/** Interrupt command register, high half (xAPIC only). */
export const APIC_ICR2 = 0x31;
/** LVT timer. */
export const APIC_LVTT = 0x32;
/** LVT thermal sensor. */
export const APIC_LVTTHMR = 0x33;
/** LVT performance monitoring counters. */
export const APIC_LVTPC = 0x34;
/** LVT LINT0. */
export const APIC_LVT0 = 0x35;
/** LVT LINT1. */
export const APIC_LVT1 = 0x36;
/** LVT error. */
export const APIC_LVTERR = 0x37;
/** Timer initial count. */
export const APIC_TMICT = 0x38;
/** Timer current count (RO). */
export const APIC_TMCCT = 0x39;
/** Timer divide configuration. */
export const APIC_TDCR = 0x3e;
/** SELF IPI (x2APIC only, WO; SDM 10.12.11). */
export const APIC_SELF_IPI = 0x3f;

/** Number of register indices (0x00..0xff covers the whole x2APIC MSR range 0x800–0x8ff). */
export const APIC_REG_COUNT = 0x100;

// ---------------------------------------------------------------------------------------------
// LVT entries, indexed like QEMU's APIC_LVT_* (the order of their MMIO offsets, CMCI last).
// ---------------------------------------------------------------------------------------------

export const APIC_LVT_TIMER = 0;
export const APIC_LVT_THERMAL = 1;
export const APIC_LVT_PERFORM = 2;
export const APIC_LVT_LINT0 = 3;
export const APIC_LVT_LINT1 = 4;
export const APIC_LVT_ERROR = 5;
export const APIC_LVT_CMCI = 6;
/** Number of LVT entries; the version register reports NB − 1 as "max LVT entry". */
export const APIC_LVT_NB = 7;

/** LVT/ICR vector field, bits 7:0. */
export const APIC_VECTOR_MASK = 0xff;
/** LVT/ICR delivery mode, bits 10:8. */
export const APIC_DM_SHIFT = 8;
export const APIC_DM_MASK = 0x700;
/** LVT/ICR delivery status (send pending), bit 12. Always 0 here: delivery is instantaneous. */
export const APIC_SEND_PENDING = 1 << 12;
/** LVT LINT interrupt input pin polarity, bit 13 (1 = active low). */
export const APIC_INPUT_POLARITY = 1 << 13;
/** LVT LINT remote IRR, bit 14 (RO): a level interrupt was accepted and awaits EOI. */
export const APIC_LVT_REMOTE_IRR = 1 << 14;
/** LVT LINT / ICR trigger mode, bit 15 (1 = level). */
export const APIC_LVT_LEVEL_TRIGGER = 1 << 15;
/** LVT mask, bit 16. */
export const APIC_LVT_MASKED = 1 << 16;
/** LVT timer mode, bits 18:17 (SDM 10.5.4). */
export const APIC_LVT_TIMER_SHIFT = 17;
export const APIC_LVT_TIMER_MASK = 3 << 17;
export const APIC_LVT_TIMER_ONESHOT = 0;
export const APIC_LVT_TIMER_PERIODIC = 1;
export const APIC_LVT_TIMER_TSCDEADLINE = 2;

/** Writable bits of each LVT entry (SDM Figure 10-8), indexed by APIC_LVT_*. */
export const APIC_LVT_VALID: readonly number[] = [
  /* timer   */ APIC_VECTOR_MASK | APIC_LVT_MASKED | APIC_LVT_TIMER_MASK,
  /* thermal */ APIC_VECTOR_MASK | APIC_DM_MASK | APIC_LVT_MASKED,
  /* perf    */ APIC_VECTOR_MASK | APIC_DM_MASK | APIC_LVT_MASKED,
  /* LINT0   */ APIC_VECTOR_MASK |
    APIC_DM_MASK |
    APIC_INPUT_POLARITY |
    APIC_LVT_LEVEL_TRIGGER |
    APIC_LVT_MASKED,
  /* LINT1   */ APIC_VECTOR_MASK |
    APIC_DM_MASK |
    APIC_INPUT_POLARITY |
    APIC_LVT_LEVEL_TRIGGER |
    APIC_LVT_MASKED,
  /* error   */ APIC_VECTOR_MASK | APIC_LVT_MASKED,
  /* CMCI    */ APIC_VECTOR_MASK | APIC_DM_MASK | APIC_LVT_MASKED,
];
/** Bits of an LVT entry that read back (writable bits plus the read-only status bits). */
export const APIC_LVT_READABLE: readonly number[] = APIC_LVT_VALID.map(
  (m, i) => m | APIC_SEND_PENDING | (i === APIC_LVT_LINT0 || i === APIC_LVT_LINT1 ? APIC_LVT_REMOTE_IRR : 0),
);

// Delivery modes (LVT, ICR and IO-APIC messages; SDM 10.6.1, Table 10-2).
export const APIC_DM_FIXED = 0;
export const APIC_DM_LOWPRI = 1;
export const APIC_DM_SMI = 2;
/** Remote read (ICR only, not supported on P4 and later: ignored). */
export const APIC_DM_REMRD = 3;
export const APIC_DM_NMI = 4;
export const APIC_DM_INIT = 5;
export const APIC_DM_STARTUP = 6;
export const APIC_DM_EXTINT = 7;

// ICR low half (SDM 10.6.1, Figure 10-12).
/** Destination mode, bit 11 (1 = logical). */
export const APIC_DESTMODE_LOGICAL = 1 << 11;
/** Level, bit 14 (0 = de-assert; only meaningful for INIT level de-assert). */
export const APIC_INT_ASSERT = 1 << 14;
/** Trigger mode, bit 15 (1 = level). */
export const APIC_INT_LEVELTRIG = 1 << 15;
/** Destination shorthand, bits 19:18. */
export const APIC_SHORTHAND_SHIFT = 18;
export const APIC_SHORTHAND_MASK = 3 << 18;
export const APIC_DEST_NOSHORT = 0;
export const APIC_DEST_SELF = 1;
export const APIC_DEST_ALLINC = 2;
export const APIC_DEST_ALLBUT = 3;
/** Writable bits of ICR low (xAPIC). Delivery status is read-only and always 0 here. */
export const APIC_ICR_LO_VALID =
  APIC_VECTOR_MASK |
  APIC_DM_MASK |
  APIC_DESTMODE_LOGICAL |
  APIC_INT_ASSERT |
  APIC_INT_LEVELTRIG |
  APIC_SHORTHAND_MASK;
/** Writable bits of ICR high (xAPIC): the destination field, bits 31:24 (56:63 of the ICR). */
export const APIC_ICR_HI_VALID = 0xff000000;

// Spurious-interrupt vector register (SDM 10.9, Figure 10-23).
export const APIC_SPIV_VECTOR = 0xff;
/** APIC software enable, bit 8. */
export const APIC_SPIV_APIC_ENABLED = 1 << 8;
/** Focus processor checking, bit 9 (1 = disabled). */
export const APIC_SPIV_FOCUS_DISABLED = 1 << 9;
/** Writable bits (EOI-broadcast suppression, bit 12, is not offered: version bit 24 is 0). */
export const APIC_SPIV_VALID = APIC_SPIV_VECTOR | APIC_SPIV_APIC_ENABLED | APIC_SPIV_FOCUS_DISABLED;

// Error status register bits (SDM 10.5.3, Figure 10-9; bits 0–3 exist only on P6/Pentium).
/** A lowest-priority IPI was sent but that mode is not supported (never set here). */
export const APIC_ESR_REDIRECTABLE_IPI = 1 << 4;
/** The APIC tried to send a message with an illegal vector (0–15). */
export const APIC_ESR_SEND_ILLEGAL_VECTOR = 1 << 5;
/** The APIC received (or generated locally) an interrupt with an illegal vector (0–15). */
export const APIC_ESR_RECV_ILLEGAL_VECTOR = 1 << 6;
/** Software accessed a reserved register of the xAPIC page. */
export const APIC_ESR_ILLEGAL_ADDRESS = 1 << 7;
export const APIC_ESR_VALID = 0xf0;

/** Version register value: integrated APIC version 0x14, max LVT entry in bits 23:16. */
export const APIC_VERSION = 0x14 | ((APIC_LVT_NB - 1) << 16);

/** DFR model field, bits 31:28: 0xF = flat, 0x0 = cluster (SDM 10.6.2.2). */
export const APIC_DFR_FLAT = 0xf;
export const APIC_DFR_CLUSTER = 0x0;
export const APIC_DFR_VALID = 0xf0000000;
/** DFR bits 27:0 are reserved and read as 1. */
export const APIC_DFR_RESERVED_ONES = 0x0fffffff;
/** Writable bits of the xAPIC LDR: logical APIC ID, bits 31:24. */
export const APIC_LDR_VALID = 0xff000000;
/** Writable bits of TDCR (bits 0, 1 and 3; SDM 10.5.4, Figure 10-10). */
export const APIC_TDCR_VALID = 0x0b;
/** Writable bits of TPR. */
export const APIC_TPR_VALID = 0xff;

/** Broadcast destinations (SDM 10.6.2.1; 10.12.9). */
export const APIC_BROADCAST = 0xff;
export const X2APIC_BROADCAST = 0xffffffff;

// ---------------------------------------------------------------------------------------------
// MSRs.
// ---------------------------------------------------------------------------------------------

/** IA32_APIC_BASE (SDM 10.4.4, Figure 10-5). */
export const MSR_IA32_APICBASE = 0x1b;
/** BSP flag, bit 8 (read-only here). */
export const MSR_IA32_APICBASE_BSP = 1 << 8;
/** x2APIC enable (EXTD), bit 10. */
export const MSR_IA32_APICBASE_EXTD = 1 << 10;
/** APIC global enable (EN), bit 11. */
export const MSR_IA32_APICBASE_ENABLE = 1 << 11;
/** Default base address of the xAPIC page. */
export const APIC_DEFAULT_ADDRESS = 0xfee00000;
/** Size of the xAPIC MMIO page. */
export const APIC_SPACE_SIZE = 0x1000;
/** IA32_TSC_DEADLINE (SDM 10.5.4.1). */
export const MSR_IA32_TSC_DEADLINE = 0x6e0;
/** First and last x2APIC MSR (SDM 10.12.1.2). */
export const MSR_X2APIC_BASE = 0x800;
export const MSR_X2APIC_LAST = 0x8ff;
/** KVM PV EOI (Documentation/virt/kvm/x86/msr.rst): bit 0 enable, bits 63:2 guest address. */
export const MSR_KVM_PV_EOI_EN = 0x4b564d04;
export const KVM_MSR_ENABLED = 1;
/** Bit 0 of the guest's PV EOI byte: "EOI pending, the guest may skip the EOI write". */
export const KVM_PV_EOI_ENABLED = 1;

/** Human-readable names of register indices, for batch error messages. */
export const APIC_REG_NAMES: Readonly<Record<number, string>> = {
  [APIC_ID]: 'ID',
  [APIC_LVR]: 'VERSION',
  [APIC_TASKPRI]: 'TPR',
  [APIC_ARBPRI]: 'APR',
  [APIC_PROCPRI]: 'PPR',
  [APIC_EOI]: 'EOI',
  [APIC_RRR]: 'RRD',
  [APIC_LDR]: 'LDR',
  [APIC_DFR]: 'DFR',
  [APIC_SPIV]: 'SVR',
  [APIC_ESR]: 'ESR',
  [APIC_LVTCMCI]: 'LVT_CMCI',
  [APIC_ICR]: 'ICR',
  [APIC_ICR2]: 'ICR_HIGH',
  [APIC_LVTT]: 'LVT_TIMER',
  [APIC_LVTTHMR]: 'LVT_THERMAL',
  [APIC_LVTPC]: 'LVT_PERF',
  [APIC_LVT0]: 'LVT_LINT0',
  [APIC_LVT1]: 'LVT_LINT1',
  [APIC_LVTERR]: 'LVT_ERROR',
  [APIC_TMICT]: 'TIMER_INITIAL_COUNT',
  [APIC_TMCCT]: 'TIMER_CURRENT_COUNT',
  [APIC_TDCR]: 'TIMER_DIVIDE',
  [APIC_SELF_IPI]: 'SELF_IPI',
};

/** Name of a register index for messages: `TPR (0x08)`, or `reserved 0x05`. */
export function apicRegName(reg: number): string {
  const hex = `0x${(reg >>> 0).toString(16).padStart(2, '0')}`;
  if (reg >= APIC_ISR && reg < APIC_ISR + 8) return `ISR${reg - APIC_ISR} (${hex})`;
  if (reg >= APIC_TMR && reg < APIC_TMR + 8) return `TMR${reg - APIC_TMR} (${hex})`;
  if (reg >= APIC_IRR && reg < APIC_IRR + 8) return `IRR${reg - APIC_IRR} (${hex})`;
  const name = APIC_REG_NAMES[reg];
  return name === undefined ? `reserved register ${hex}` : `${name} (${hex})`;
}

// Access status codes: results of register accesses and batch entries.
/** The access was performed. */
export const APIC_OK = 0;
/** No register at that index (xAPIC: also sets ESR "illegal register address"). */
export const APIC_ERR_UNKNOWN = 1;
/** The register is read-only (x2APIC: #GP; xAPIC: the write is ignored). */
export const APIC_ERR_READ_ONLY = 2;
/** The register is write-only (x2APIC RDMSR of EOI or SELF IPI: #GP). */
export const APIC_ERR_WRITE_ONLY = 3;
/** x2APIC WRMSR with reserved bits set: #GP (SDM 10.12.1.3). */
export const APIC_ERR_RESERVED_BITS = 4;
/** The register does not exist in the current mode (APIC disabled, or the other interface). */
export const APIC_ERR_MODE = 5;
/** The access has a size or alignment the xAPIC page does not support (ignored). */
export const APIC_ERR_ACCESS_SIZE = 6;
/** Status code names, indexed by status. */
export const APIC_STATUS_NAMES = [
  'ok',
  'unknown-register',
  'read-only',
  'write-only',
  'reserved-bits',
  'wrong-mode',
  'access-size',
] as const;
export type ApicStatusName = (typeof APIC_STATUS_NAMES)[number];
