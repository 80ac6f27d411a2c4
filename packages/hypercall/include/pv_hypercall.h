/* SPDX-License-Identifier: MIT */
/*
 * pv_hypercall.h - the @pv hypercall ABI 0.1.0, for guests written in C (IA-32).
 *
 * GENERATED from @pv/hypercall's src/manifest.ts by `npm run generate -w @pv/hypercall`.
 * Do not edit: a test regenerates this file and fails when it differs. See ABI.md.
 *
 * Calling convention: vmcall (0F 01 C1) or vmmcall (0F 01 D9) at CPL 0, EAX = number,
 * EBX, ECX, EDX, ESI = arguments a0..a3; the result comes back in EAX, a negative KVM_E*
 * errno on failure. No other register is changed. Compatibility: numbers, registers and
 * layouts below are never changed or reused; the ABI only grows.
 */
#ifndef PV_HYPERCALL_H
#define PV_HYPERCALL_H

#include <stddef.h>
#include <stdint.h>

#define PV_ABI_VERSION_MAJOR 0
#define PV_ABI_VERSION_MINOR 1

/* CPUID leaves */
#define KVM_CPUID_SIGNATURE 0x40000000u /* EAX: highest KVM leaf (0x40000001) */
#define KVM_CPUID_FEATURES  0x40000001u /* EAX: KVM feature bits (KVM_FEATURE_*) that the host advertises */
#define PV_CPUID_SIGNATURE  0x40000100u /* EAX: highest @pv leaf (0x40000101) */
#define PV_CPUID_FEATURES   0x40000101u /* EAX: ABI version: major in bits 31-16, minor in bits 15-0 */
#define KVM_SIGNATURE_EBX 0x4b4d564bu /* 'KVMK' */
#define KVM_SIGNATURE_ECX 0x564b4d56u /* 'VMKV' */
#define KVM_SIGNATURE_EDX 0x4du       /* 'M' */
#define PV_SIGNATURE_EBX  0x40767040u /* PV_CPUID_SIGNATURE.EBX */
#define PV_SIGNATURE_ECX  0x70407670u /* PV_CPUID_SIGNATURE.ECX */
#define PV_SIGNATURE_EDX  0x76u       /* PV_CPUID_SIGNATURE.EDX */

/* KVM feature bit numbers (KVM_CPUID_FEATURES.EAX) */
#define KVM_FEATURE_CLOCKSOURCE            0           /* kvmclock at the old MSRs 0x11/0x12 (deprecated) */
#define KVM_FEATURE_NOP_IO_DELAY           1           /* no delays needed on port I/O */
#define KVM_FEATURE_MMU_OP                 2           /* KVM_HC_MMU_OP (deprecated, never implemented) */
#define KVM_FEATURE_CLOCKSOURCE2           3           /* kvmclock at MSRs 0x4b564d00/0x4b564d01 */
#define KVM_FEATURE_ASYNC_PF               4           /* async page faults (MSR 0x4b564d02) */
#define KVM_FEATURE_STEAL_TIME             5           /* steal time (MSR 0x4b564d03) */
#define KVM_FEATURE_PV_EOI                 6           /* PV end of interrupt (MSR 0x4b564d04) */
#define KVM_FEATURE_PV_UNHALT              7           /* PV spinlocks: KVM_HC_KICK_CPU */
#define KVM_FEATURE_PV_TLB_FLUSH           9           /* PV TLB flush via steal time (needs STEAL_TIME) */
#define KVM_FEATURE_ASYNC_PF_VMEXIT        10          /* async PF delivered as VM exit */
#define KVM_FEATURE_PV_SEND_IPI            11          /* KVM_HC_SEND_IPI */
#define KVM_FEATURE_POLL_CONTROL           12          /* host halt polling control (MSR 0x4b564d05) */
#define KVM_FEATURE_PV_SCHED_YIELD         13          /* KVM_HC_SCHED_YIELD */
#define KVM_FEATURE_ASYNC_PF_INT           14          /* async PF via interrupt (MSRs 0x4b564d06/07) */
#define KVM_FEATURE_MSI_EXT_DEST_ID        15          /* extended destination ID in MSI address */
#define KVM_FEATURE_HC_MAP_GPA_RANGE       16          /* KVM_HC_MAP_GPA_RANGE (12) */
#define KVM_FEATURE_MIGRATION_CONTROL      17          /* MSR_KVM_MIGRATION_CONTROL */
#define KVM_FEATURE_CLOCKSOURCE_STABLE_BIT 24          /* pvclock flags are valid (PVCLOCK_TSC_STABLE_BIT may be set) */

/* @pv feature bit numbers (PV_CPUID_FEATURES.EBX) */
#define PV_FEATURE_MULTICALL        0           /* PV_HC_MULTICALL */
#define PV_FEATURE_APIC_WRITE_BATCH 1           /* PV_HC_APIC_WRITE_BATCH */
#define PV_FEATURE_PT_UPDATE_BATCH  2           /* PV_HC_PT_UPDATE_BATCH */
#define PV_FEATURE_TLB_FLUSH        3           /* PV_HC_TLB_FLUSH */
#define PV_FEATURE_CONSOLE_WRITE    4           /* PV_HC_CONSOLE_WRITE */

/* Errno values: a failing call returns the negation */
#define KVM_EPERM      1           /* the call was made with CPL > 0 */
#define KVM_E2BIG      7           /* a count exceeds the documented maximum */
#define KVM_EFAULT     14          /* a guest pointer is not plain RAM, wraps past 4 GiB or is misaligned */
#define KVM_EINVAL     22          /* an argument or entry is outside its domain (unknown flags, bad register ?) */
#define KVM_EOPNOTSUPP 95          /* the operation is valid but not supported by this host */
#define KVM_ENOSYS     1000        /* unknown call number, or a call whose feature is not advertised */

/* Constants: limits, flags and values */
#define PV_HC_BASE              0x10000u    /* value: first @pv extension call number */
#define KVM_MSR_ENABLED         0x1u        /* flag: bit 0 of the kvmclock system-time MSR: enable */
#define KVM_PV_EOI_ENABLED      0x1u        /* flag: bit 0 of MSR_KVM_PV_EOI_EN and of the PV EOI word */
#define PVCLOCK_TSC_STABLE_BIT  0x1u        /* flag: pvclock flags: TSC is stable across vCPUs */
#define PVCLOCK_GUEST_STOPPED   0x2u        /* flag: pvclock flags: the guest was stopped by the host */
#define CPUID_1_ECX_HYPERVISOR  0x80000000u /* flag: CPUID.1:ECX bit 31: a hypervisor is present */
#define PV_MULTICALL_MAX        0x80u       /* limit: maximum entries in one PV_HC_MULTICALL */
#define PV_APIC_WRITE_BATCH_MAX 0x100u      /* limit: maximum entries in one APIC write batch */
#define PV_PT_UPDATE_BATCH_MAX  0x200u      /* limit: maximum entries in one page-table update batch */
#define PV_TLB_FLUSH_MAX        0x100u      /* limit: maximum linear addresses in one PV_HC_TLB_FLUSH */
#define PV_CONSOLE_WRITE_MAX    0x1000u     /* limit: maximum bytes in one PV_HC_CONSOLE_WRITE */
#define PV_TLB_FLUSH_ALL        0x1u        /* flag: PV_HC_TLB_FLUSH flags: flush everything (list unused) */
#define PV_TLB_FLUSH_GLOBAL     0x2u        /* flag: PV_HC_TLB_FLUSH flags: with PV_TLB_FLUSH_ALL, global pages too */
#define PV_PT_UPDATE_PAE        0x1u        /* flag: PV_HC_PT_UPDATE_BATCH flags: entries are 8-byte PAE PTEs (else 4-byte, value < 2^32) */
#define PV_BATCH_NO_FAILURE     0xffffffffu /* value: pv_batch_status.failed_index when every entry was applied */
#define PV_APIC_REG_LIMIT       0x400u      /* value: APIC register offsets in a batch are below this */

/* MSRs */
#define MSR_KVM_WALL_CLOCK_NEW  0x4b564d00u /* write: 4-byte aligned gpa of a pvclock_wall_clock in RAM; the host fills it once per write */
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01u /* gpa of a 4-byte aligned pvclock_vcpu_time_info in RAM | KVM_MSR_ENABLED (bit 0) */
#define MSR_KVM_PV_EOI_EN       0x4b564d04u /* gpa of a 4-byte aligned, zeroed kvm_pv_eoi_word in RAM | KVM_PV_EOI_ENABLED (bit 0); bit 1 reserved */
#define MSR_IA32_TSC_DEADLINE   0x6e0u      /* architectural TSC-deadline timer (SDM Vol. 3A 11.5.4.1) */
#define MSR_X2APIC_BASE         0x800u      /* architectural x2APIC registers: MSR 0x800 + (xAPIC MMIO offset >> 4) (SDM Vol. 3A 11.12.1.2) */

/* Hypercall numbers (EAX) */
#define KVM_HC_KICK_CPU        0x5u        /* ebx=flags ecx=apic_id -> 0 */
#define KVM_HC_SEND_IPI        0xau        /* ebx=bitmap_low ecx=bitmap_high edx=min esi=icr -> number of vCPUs the IPI was delivered to */
#define KVM_HC_SCHED_YIELD     0xbu        /* ebx=apic_id -> 0 */
#define PV_HC_MULTICALL        0x10000u    /* ebx=list ecx=count -> number of entries that succeeded before the first failure (= count when all did) */
#define PV_HC_APIC_WRITE_BATCH 0x10001u    /* ebx=list ecx=count edx=status -> number of entries applied, in order; the first failing entry stops the batch (its index = the result, its errno in status */
#define PV_HC_PT_UPDATE_BATCH  0x10002u    /* ebx=list ecx=count edx=status esi=flags -> number of entries applied, in order; the first failing entry stops the batch (its index = the result, its errno in status */
#define PV_HC_TLB_FLUSH        0x10003u    /* ebx=list ecx=count edx=flags -> number of addresses flushed (0 with PV_TLB_FLUSH_ALL) */
#define PV_HC_CONSOLE_WRITE    0x10004u    /* ebx=buf ecx=len -> number of bytes the host console accepted (<= len) */

/* Structures in guest memory (little-endian, no implicit padding) */

/* kvmclock per-vCPU time (MSR_KVM_SYSTEM_TIME_NEW). The host makes `version` odd before updating and even after; the guest retries while it is odd or changed. system_time_ns = system_time + (((tsc - tsc_timestamp) << tsc_shift or >> -tsc_shift) * tsc_to_system_mul) >> 32. */
struct pvclock_vcpu_time_info {
	uint32_t version;           /* @0: odd while the host updates the record */
	uint32_t pad0;              /* @4: reserved, 0 */
	uint64_t tsc_timestamp;     /* @8: guest TSC at the update */
	uint64_t system_time;       /* @16: nanoseconds since VM start at the update */
	uint32_t tsc_to_system_mul; /* @24: 32.32 fixed-point ns per (shifted) TSC tick */
	int8_t tsc_shift;           /* @28: shift applied to the TSC delta before the multiply */
	uint8_t flags;              /* @29: PVCLOCK_TSC_STABLE_BIT, PVCLOCK_GUEST_STOPPED */
	uint8_t pad[2];             /* @30: reserved, 0 */
} __attribute__((packed, aligned(4)));
_Static_assert(sizeof(struct pvclock_vcpu_time_info) == 32, "pvclock_vcpu_time_info: size");
_Static_assert(_Alignof(struct pvclock_vcpu_time_info) == 4, "pvclock_vcpu_time_info: alignment");
_Static_assert(offsetof(struct pvclock_vcpu_time_info, version) == 0, "pvclock_vcpu_time_info.version: offset");
_Static_assert(sizeof(((struct pvclock_vcpu_time_info *)0)->version) == 4, "pvclock_vcpu_time_info.version: size");
_Static_assert(offsetof(struct pvclock_vcpu_time_info, pad0) == 4, "pvclock_vcpu_time_info.pad0: offset");
_Static_assert(sizeof(((struct pvclock_vcpu_time_info *)0)->pad0) == 4, "pvclock_vcpu_time_info.pad0: size");
_Static_assert(offsetof(struct pvclock_vcpu_time_info, tsc_timestamp) == 8, "pvclock_vcpu_time_info.tsc_timestamp: offset");
_Static_assert(sizeof(((struct pvclock_vcpu_time_info *)0)->tsc_timestamp) == 8, "pvclock_vcpu_time_info.tsc_timestamp: size");
_Static_assert(offsetof(struct pvclock_vcpu_time_info, system_time) == 16, "pvclock_vcpu_time_info.system_time: offset");
_Static_assert(sizeof(((struct pvclock_vcpu_time_info *)0)->system_time) == 8, "pvclock_vcpu_time_info.system_time: size");
_Static_assert(offsetof(struct pvclock_vcpu_time_info, tsc_to_system_mul) == 24, "pvclock_vcpu_time_info.tsc_to_system_mul: offset");
_Static_assert(sizeof(((struct pvclock_vcpu_time_info *)0)->tsc_to_system_mul) == 4, "pvclock_vcpu_time_info.tsc_to_system_mul: size");
_Static_assert(offsetof(struct pvclock_vcpu_time_info, tsc_shift) == 28, "pvclock_vcpu_time_info.tsc_shift: offset");
_Static_assert(sizeof(((struct pvclock_vcpu_time_info *)0)->tsc_shift) == 1, "pvclock_vcpu_time_info.tsc_shift: size");
_Static_assert(offsetof(struct pvclock_vcpu_time_info, flags) == 29, "pvclock_vcpu_time_info.flags: offset");
_Static_assert(sizeof(((struct pvclock_vcpu_time_info *)0)->flags) == 1, "pvclock_vcpu_time_info.flags: size");
_Static_assert(offsetof(struct pvclock_vcpu_time_info, pad) == 30, "pvclock_vcpu_time_info.pad: offset");
_Static_assert(sizeof(((struct pvclock_vcpu_time_info *)0)->pad) == 2, "pvclock_vcpu_time_info.pad: size");

/* kvmclock wall clock at system time 0 (MSR_KVM_WALL_CLOCK_NEW); same version protocol. */
struct pvclock_wall_clock {
	uint32_t version;           /* @0: odd while the host updates the record */
	uint32_t sec;               /* @4: seconds since 1970-01-01 UTC */
	uint32_t nsec;              /* @8: nanoseconds, < 10^9 */
} __attribute__((packed, aligned(4)));
_Static_assert(sizeof(struct pvclock_wall_clock) == 12, "pvclock_wall_clock: size");
_Static_assert(_Alignof(struct pvclock_wall_clock) == 4, "pvclock_wall_clock: alignment");
_Static_assert(offsetof(struct pvclock_wall_clock, version) == 0, "pvclock_wall_clock.version: offset");
_Static_assert(sizeof(((struct pvclock_wall_clock *)0)->version) == 4, "pvclock_wall_clock.version: size");
_Static_assert(offsetof(struct pvclock_wall_clock, sec) == 4, "pvclock_wall_clock.sec: offset");
_Static_assert(sizeof(((struct pvclock_wall_clock *)0)->sec) == 4, "pvclock_wall_clock.sec: size");
_Static_assert(offsetof(struct pvclock_wall_clock, nsec) == 8, "pvclock_wall_clock.nsec: offset");
_Static_assert(sizeof(((struct pvclock_wall_clock *)0)->nsec) == 4, "pvclock_wall_clock.nsec: size");

/* PV EOI word (MSR_KVM_PV_EOI_EN). The host sets KVM_PV_EOI_ENABLED when injecting an interrupt whose EOI may be skipped; the guest clears it atomically instead of writing the EOI register. */
struct kvm_pv_eoi_word {
	uint32_t flags;             /* @0: bit 0: KVM_PV_EOI_ENABLED */
} __attribute__((packed, aligned(4)));
_Static_assert(sizeof(struct kvm_pv_eoi_word) == 4, "kvm_pv_eoi_word: size");
_Static_assert(_Alignof(struct kvm_pv_eoi_word) == 4, "kvm_pv_eoi_word: alignment");
_Static_assert(offsetof(struct kvm_pv_eoi_word, flags) == 0, "kvm_pv_eoi_word.flags: offset");
_Static_assert(sizeof(((struct kvm_pv_eoi_word *)0)->flags) == 4, "kvm_pv_eoi_word.flags: size");

/* One call of a PV_HC_MULTICALL list: `nr` and `args` as in EAX and EBX/ECX/EDX/ESI; the host writes `result`. */
struct pv_multicall_entry {
	uint32_t nr;                /* @0: hypercall number (PV_HC_MULTICALL itself => -KVM_EINVAL) */
	uint32_t args[4];           /* @4: a0..a3 (EBX, ECX, EDX, ESI) */
	int32_t result;             /* @20: written by the host: the call's EAX */
} __attribute__((packed, aligned(4)));
_Static_assert(sizeof(struct pv_multicall_entry) == 24, "pv_multicall_entry: size");
_Static_assert(_Alignof(struct pv_multicall_entry) == 4, "pv_multicall_entry: alignment");
_Static_assert(offsetof(struct pv_multicall_entry, nr) == 0, "pv_multicall_entry.nr: offset");
_Static_assert(sizeof(((struct pv_multicall_entry *)0)->nr) == 4, "pv_multicall_entry.nr: size");
_Static_assert(offsetof(struct pv_multicall_entry, args) == 4, "pv_multicall_entry.args: offset");
_Static_assert(sizeof(((struct pv_multicall_entry *)0)->args) == 16, "pv_multicall_entry.args: size");
_Static_assert(offsetof(struct pv_multicall_entry, result) == 20, "pv_multicall_entry.result: offset");
_Static_assert(sizeof(((struct pv_multicall_entry *)0)->result) == 4, "pv_multicall_entry.result: size");

/* One entry of PV_HC_APIC_WRITE_BATCH: a local APIC register write, as a 32-bit xAPIC MMIO store. */
struct pv_apic_write {
	uint32_t reg;               /* @0: xAPIC register offset: a multiple of 16 below PV_APIC_REG_LIMIT (else -KVM_EINVAL) */
	uint32_t value;             /* @4: value written */
} __attribute__((packed, aligned(4)));
_Static_assert(sizeof(struct pv_apic_write) == 8, "pv_apic_write: size");
_Static_assert(_Alignof(struct pv_apic_write) == 4, "pv_apic_write: alignment");
_Static_assert(offsetof(struct pv_apic_write, reg) == 0, "pv_apic_write.reg: offset");
_Static_assert(sizeof(((struct pv_apic_write *)0)->reg) == 4, "pv_apic_write.reg: size");
_Static_assert(offsetof(struct pv_apic_write, value) == 4, "pv_apic_write.value: offset");
_Static_assert(sizeof(((struct pv_apic_write *)0)->value) == 4, "pv_apic_write.value: size");

/* One entry of PV_HC_PT_UPDATE_BATCH: store `value` into the page-table entry at `pte_gpa`. */
struct pv_pte_update {
	uint64_t pte_gpa;           /* @0: guest-physical address of the PTE/PDE: plain RAM, aligned to the PTE width (else -KVM_EFAULT) */
	uint64_t value;             /* @8: new entry; without PV_PT_UPDATE_PAE it must be < 2^32 (else -KVM_EINVAL) */
} __attribute__((packed, aligned(8)));
_Static_assert(sizeof(struct pv_pte_update) == 16, "pv_pte_update: size");
_Static_assert(_Alignof(struct pv_pte_update) == 8, "pv_pte_update: alignment");
_Static_assert(offsetof(struct pv_pte_update, pte_gpa) == 0, "pv_pte_update.pte_gpa: offset");
_Static_assert(sizeof(((struct pv_pte_update *)0)->pte_gpa) == 8, "pv_pte_update.pte_gpa: size");
_Static_assert(offsetof(struct pv_pte_update, value) == 8, "pv_pte_update.value: offset");
_Static_assert(sizeof(((struct pv_pte_update *)0)->value) == 8, "pv_pte_update.value: size");

/* One linear address of a PV_HC_TLB_FLUSH list (INVLPG semantics: the page containing it). */
struct pv_tlb_flush_entry {
	uint32_t linear;            /* @0: linear address */
} __attribute__((packed, aligned(4)));
_Static_assert(sizeof(struct pv_tlb_flush_entry) == 4, "pv_tlb_flush_entry: size");
_Static_assert(_Alignof(struct pv_tlb_flush_entry) == 4, "pv_tlb_flush_entry: alignment");
_Static_assert(offsetof(struct pv_tlb_flush_entry, linear) == 0, "pv_tlb_flush_entry.linear: offset");
_Static_assert(sizeof(((struct pv_tlb_flush_entry *)0)->linear) == 4, "pv_tlb_flush_entry.linear: size");

/* Optional outcome record of a batch call, written by the host after the batch when its address argument is not 0 (and not written when the call returns a negative errno). */
struct pv_batch_status {
	uint32_t applied;           /* @0: entries applied (equals the call's result) */
	uint32_t failed_index;      /* @4: index of the entry that failed, or PV_BATCH_NO_FAILURE */
	int32_t error;              /* @8: negative errno of the failed entry, or 0 */
	uint32_t reserved;          /* @12: written as 0 */
} __attribute__((packed, aligned(4)));
_Static_assert(sizeof(struct pv_batch_status) == 16, "pv_batch_status: size");
_Static_assert(_Alignof(struct pv_batch_status) == 4, "pv_batch_status: alignment");
_Static_assert(offsetof(struct pv_batch_status, applied) == 0, "pv_batch_status.applied: offset");
_Static_assert(sizeof(((struct pv_batch_status *)0)->applied) == 4, "pv_batch_status.applied: size");
_Static_assert(offsetof(struct pv_batch_status, failed_index) == 4, "pv_batch_status.failed_index: offset");
_Static_assert(sizeof(((struct pv_batch_status *)0)->failed_index) == 4, "pv_batch_status.failed_index: size");
_Static_assert(offsetof(struct pv_batch_status, error) == 8, "pv_batch_status.error: offset");
_Static_assert(sizeof(((struct pv_batch_status *)0)->error) == 4, "pv_batch_status.error: size");
_Static_assert(offsetof(struct pv_batch_status, reserved) == 12, "pv_batch_status.reserved: offset");
_Static_assert(sizeof(((struct pv_batch_status *)0)->reserved) == 4, "pv_batch_status.reserved: size");

/* Hypercall wrappers (CPL 0 only) */

static inline int32_t pv_hypercall0(uint32_t nr)
{
	int32_t ret;
	__asm__ __volatile__("vmcall" : "=a"(ret) : "a"(nr) : "memory");
	return ret;
}

static inline int32_t pv_hypercall1(uint32_t nr, uint32_t a0)
{
	int32_t ret;
	__asm__ __volatile__("vmcall" : "=a"(ret) : "a"(nr), "b"(a0) : "memory");
	return ret;
}

static inline int32_t pv_hypercall2(uint32_t nr, uint32_t a0, uint32_t a1)
{
	int32_t ret;
	__asm__ __volatile__("vmcall" : "=a"(ret) : "a"(nr), "b"(a0), "c"(a1) : "memory");
	return ret;
}

static inline int32_t pv_hypercall3(uint32_t nr, uint32_t a0, uint32_t a1, uint32_t a2)
{
	int32_t ret;
	__asm__ __volatile__("vmcall" : "=a"(ret) : "a"(nr), "b"(a0), "c"(a1), "d"(a2) : "memory");
	return ret;
}

static inline int32_t pv_hypercall4(uint32_t nr, uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3)
{
	int32_t ret;
	__asm__ __volatile__("vmcall" : "=a"(ret) : "a"(nr), "b"(a0), "c"(a1), "d"(a2), "S"(a3) : "memory");
	return ret;
}

#endif /* PV_HYPERCALL_H */
