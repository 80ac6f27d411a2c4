/**
 * THE @pv hypercall ABI — the single source of truth (DESIGN.md §4).
 *
 * Everything a guest can observe is declared here once: CPUID leaves and feature bits, hypercall
 * numbers with their argument registers and results, errno values, MSRs, constants and the byte
 * layout of every structure in guest memory. The TypeScript constants, the codecs, the dispatcher's
 * tables, `include/pv_hypercall.h`, `ABI.md` and the `abi/<version>.json` snapshots are derived from
 * it; `pv-abi check` rejects any change that is not a pure addition.
 *
 * Rules (like Linux's `kvm_para.h`): append only. Never remove, renumber or re-lay-out an entry;
 * a retired entry stays, marked deprecated in its doc. An addition is a minor bump of @pv/hypercall.
 *
 * KVM facts come from Linux `include/uapi/linux/kvm_para.h`, `arch/x86/include/uapi/asm/kvm_para.h`,
 * `arch/x86/include/asm/pvclock-abi.h` and `Documentation/virt/kvm/x86/{cpuid,hypercalls,msr}.rst`.
 */
import type {
  CallDef,
  ConstantDef,
  CpuidLeafDef,
  ErrnoDef,
  FeatureBitDef,
  Manifest,
  MsrDef,
  StructDef,
} from './manifest-types';
import { VERSION } from './version';

/** First number of the @pv extension calls; KVM's numbers are small and never reach it. */
export const PV_HC_BASE = 0x10000;

/** CPUID leaves (hypervisor range 0x40000000–0x4fffffff; SDM Vol. 2A CPUID, "reserved for hypervisors"). */
const cpuidLeaves = [
  {
    name: 'KVM_CPUID_SIGNATURE',
    leaf: 0x40000000,
    eax: 'highest KVM leaf (0x40000001)',
    ebx: "'KVMK' (0x4b4d564b)",
    ecx: "'VMKV' (0x564b4d56)",
    edx: "'M\\0\\0\\0' (0x4d)",
  },
  {
    name: 'KVM_CPUID_FEATURES',
    leaf: 0x40000001,
    eax: 'KVM feature bits (KVM_FEATURE_*) that the host advertises',
    ebx: '0',
    ecx: '0',
    edx: 'KVM hints (0: none advertised)',
  },
  {
    name: 'PV_CPUID_SIGNATURE',
    leaf: 0x40000100,
    eax: 'highest @pv leaf (0x40000101)',
    ebx: "signature bytes 0-3 ('@pv@')",
    ecx: "signature bytes 4-7 ('pv@p')",
    edx: "signature bytes 8-11 ('v\\0\\0\\0')",
  },
  {
    name: 'PV_CPUID_FEATURES',
    leaf: 0x40000101,
    eax: 'ABI version: major in bits 31-16, minor in bits 15-0',
    ebx: '@pv feature bits (PV_FEATURE_*) that the host advertises',
    ecx: 'first @pv hypercall number (PV_HC_BASE, 0x10000)',
    edx: '0 (reserved)',
  },
] as const satisfies readonly CpuidLeafDef[];

/**
 * KVM_CPUID_FEATURES.EAX bits — every bit Linux knows, with its number. `supported` marks the ones
 * @pv can implement; a host advertises a subset of those (DESIGN §4: "advertise only what works").
 */
const kvmFeatures = [
  {
    name: 'KVM_FEATURE_CLOCKSOURCE',
    bit: 0,
    supported: false,
    doc: 'kvmclock at the old MSRs 0x11/0x12 (deprecated)',
  },
  { name: 'KVM_FEATURE_NOP_IO_DELAY', bit: 1, supported: true, doc: 'no delays needed on port I/O' },
  {
    name: 'KVM_FEATURE_MMU_OP',
    bit: 2,
    supported: false,
    doc: 'KVM_HC_MMU_OP (deprecated, never implemented)',
  },
  {
    name: 'KVM_FEATURE_CLOCKSOURCE2',
    bit: 3,
    supported: true,
    doc: 'kvmclock at MSRs 0x4b564d00/0x4b564d01',
  },
  { name: 'KVM_FEATURE_ASYNC_PF', bit: 4, supported: false, doc: 'async page faults (MSR 0x4b564d02)' },
  { name: 'KVM_FEATURE_STEAL_TIME', bit: 5, supported: false, doc: 'steal time (MSR 0x4b564d03)' },
  { name: 'KVM_FEATURE_PV_EOI', bit: 6, supported: true, doc: 'PV end of interrupt (MSR 0x4b564d04)' },
  { name: 'KVM_FEATURE_PV_UNHALT', bit: 7, supported: true, doc: 'PV spinlocks: KVM_HC_KICK_CPU' },
  {
    name: 'KVM_FEATURE_PV_TLB_FLUSH',
    bit: 9,
    supported: false,
    doc: 'PV TLB flush via steal time (needs STEAL_TIME)',
  },
  { name: 'KVM_FEATURE_ASYNC_PF_VMEXIT', bit: 10, supported: false, doc: 'async PF delivered as VM exit' },
  { name: 'KVM_FEATURE_PV_SEND_IPI', bit: 11, supported: true, doc: 'KVM_HC_SEND_IPI' },
  {
    name: 'KVM_FEATURE_POLL_CONTROL',
    bit: 12,
    supported: false,
    doc: 'host halt polling control (MSR 0x4b564d05)',
  },
  { name: 'KVM_FEATURE_PV_SCHED_YIELD', bit: 13, supported: true, doc: 'KVM_HC_SCHED_YIELD' },
  {
    name: 'KVM_FEATURE_ASYNC_PF_INT',
    bit: 14,
    supported: false,
    doc: 'async PF via interrupt (MSRs 0x4b564d06/07)',
  },
  {
    name: 'KVM_FEATURE_MSI_EXT_DEST_ID',
    bit: 15,
    supported: false,
    doc: 'extended destination ID in MSI address',
  },
  { name: 'KVM_FEATURE_HC_MAP_GPA_RANGE', bit: 16, supported: false, doc: 'KVM_HC_MAP_GPA_RANGE (12)' },
  { name: 'KVM_FEATURE_MIGRATION_CONTROL', bit: 17, supported: false, doc: 'MSR_KVM_MIGRATION_CONTROL' },
  {
    name: 'KVM_FEATURE_CLOCKSOURCE_STABLE_BIT',
    bit: 24,
    supported: true,
    doc: 'pvclock flags are valid (PVCLOCK_TSC_STABLE_BIT may be set)',
  },
] as const satisfies readonly FeatureBitDef[];

/** PV_CPUID_FEATURES.EBX bits: the @pv extension calls. */
const pvFeatures = [
  { name: 'PV_FEATURE_MULTICALL', bit: 0, supported: true, doc: 'PV_HC_MULTICALL' },
  { name: 'PV_FEATURE_APIC_WRITE_BATCH', bit: 1, supported: true, doc: 'PV_HC_APIC_WRITE_BATCH' },
  { name: 'PV_FEATURE_PT_UPDATE_BATCH', bit: 2, supported: true, doc: 'PV_HC_PT_UPDATE_BATCH' },
  { name: 'PV_FEATURE_TLB_FLUSH', bit: 3, supported: true, doc: 'PV_HC_TLB_FLUSH' },
  { name: 'PV_FEATURE_CONSOLE_WRITE', bit: 4, supported: true, doc: 'PV_HC_CONSOLE_WRITE' },
] as const satisfies readonly FeatureBitDef[];

/** Return codes; a failing call returns the negated value in EAX (KVM values). */
const errnos = [
  { name: 'KVM_EPERM', value: 1, doc: 'the call was made with CPL > 0' },
  { name: 'KVM_E2BIG', value: 7, doc: 'a count exceeds the documented maximum' },
  {
    name: 'KVM_EFAULT',
    value: 14,
    doc: 'a guest pointer is not plain RAM, wraps past 4 GiB or is misaligned',
  },
  {
    name: 'KVM_EINVAL',
    value: 22,
    doc: 'an argument or entry is outside its domain (unknown flags, bad register …)',
  },
  { name: 'KVM_EOPNOTSUPP', value: 95, doc: 'the operation is valid but not supported by this host' },
  { name: 'KVM_ENOSYS', value: 1000, doc: 'unknown call number, or a call whose feature is not advertised' },
] as const satisfies readonly ErrnoDef[];

const constants = [
  { name: 'PV_HC_BASE', value: PV_HC_BASE, kind: 'value', doc: 'first @pv extension call number' },
  { name: 'KVM_MSR_ENABLED', value: 1, kind: 'flag', doc: 'bit 0 of the kvmclock system-time MSR: enable' },
  {
    name: 'KVM_PV_EOI_ENABLED',
    value: 1,
    kind: 'flag',
    doc: 'bit 0 of MSR_KVM_PV_EOI_EN and of the PV EOI word',
  },
  {
    name: 'PVCLOCK_TSC_STABLE_BIT',
    value: 1,
    kind: 'flag',
    doc: 'pvclock flags: TSC is stable across vCPUs',
  },
  {
    name: 'PVCLOCK_GUEST_STOPPED',
    value: 2,
    kind: 'flag',
    doc: 'pvclock flags: the guest was stopped by the host',
  },
  {
    name: 'CPUID_1_ECX_HYPERVISOR',
    value: 0x80000000,
    kind: 'flag',
    doc: 'CPUID.1:ECX bit 31: a hypervisor is present',
  },
  { name: 'PV_MULTICALL_MAX', value: 128, kind: 'limit', doc: 'maximum entries in one PV_HC_MULTICALL' },
  {
    name: 'PV_APIC_WRITE_BATCH_MAX',
    value: 256,
    kind: 'limit',
    doc: 'maximum entries in one APIC write batch',
  },
  {
    name: 'PV_PT_UPDATE_BATCH_MAX',
    value: 512,
    kind: 'limit',
    doc: 'maximum entries in one page-table update batch',
  },
  {
    name: 'PV_TLB_FLUSH_MAX',
    value: 256,
    kind: 'limit',
    doc: 'maximum linear addresses in one PV_HC_TLB_FLUSH',
  },
  {
    name: 'PV_CONSOLE_WRITE_MAX',
    value: 4096,
    kind: 'limit',
    doc: 'maximum bytes in one PV_HC_CONSOLE_WRITE',
  },
  {
    name: 'PV_TLB_FLUSH_ALL',
    value: 1,
    kind: 'flag',
    doc: 'PV_HC_TLB_FLUSH flags: flush everything (list unused)',
  },
  {
    name: 'PV_TLB_FLUSH_GLOBAL',
    value: 2,
    kind: 'flag',
    doc: 'PV_HC_TLB_FLUSH flags: with PV_TLB_FLUSH_ALL, global pages too',
  },
  {
    name: 'PV_PT_UPDATE_PAE',
    value: 1,
    kind: 'flag',
    doc: 'PV_HC_PT_UPDATE_BATCH flags: entries are 8-byte PAE PTEs (else 4-byte, value < 2^32)',
  },
  {
    name: 'PV_BATCH_NO_FAILURE',
    value: 0xffffffff,
    kind: 'value',
    doc: 'pv_batch_status.failed_index when every entry was applied',
  },
  {
    name: 'PV_APIC_REG_LIMIT',
    value: 0x400,
    kind: 'value',
    doc: 'APIC register offsets in a batch are below this',
  },
] as const satisfies readonly ConstantDef[];

/** Every structure in guest memory. Little-endian, no implicit padding. */
const structs = [
  {
    name: 'pvclock_vcpu_time_info',
    size: 32,
    align: 4,
    doc:
      'kvmclock per-vCPU time (MSR_KVM_SYSTEM_TIME_NEW). The host makes `version` odd before updating ' +
      'and even after; the guest retries while it is odd or changed. ' +
      'system_time_ns = system_time + (((tsc - tsc_timestamp) << tsc_shift or >> -tsc_shift) * tsc_to_system_mul) >> 32.',
    fields: [
      { name: 'version', offset: 0, type: 'u32', doc: 'odd while the host updates the record' },
      { name: 'pad0', offset: 4, type: 'u32', doc: 'reserved, 0' },
      { name: 'tsc_timestamp', offset: 8, type: 'u64', doc: 'guest TSC at the update' },
      { name: 'system_time', offset: 16, type: 'u64', doc: 'nanoseconds since VM start at the update' },
      {
        name: 'tsc_to_system_mul',
        offset: 24,
        type: 'u32',
        doc: '32.32 fixed-point ns per (shifted) TSC tick',
      },
      {
        name: 'tsc_shift',
        offset: 28,
        type: 's8',
        doc: 'shift applied to the TSC delta before the multiply',
      },
      { name: 'flags', offset: 29, type: 'u8', doc: 'PVCLOCK_TSC_STABLE_BIT, PVCLOCK_GUEST_STOPPED' },
      { name: 'pad', offset: 30, type: 'u8', count: 2, doc: 'reserved, 0' },
    ],
  },
  {
    name: 'pvclock_wall_clock',
    size: 12,
    align: 4,
    doc: 'kvmclock wall clock at system time 0 (MSR_KVM_WALL_CLOCK_NEW); same version protocol.',
    fields: [
      { name: 'version', offset: 0, type: 'u32', doc: 'odd while the host updates the record' },
      { name: 'sec', offset: 4, type: 'u32', doc: 'seconds since 1970-01-01 UTC' },
      { name: 'nsec', offset: 8, type: 'u32', doc: 'nanoseconds, < 10^9' },
    ],
  },
  {
    name: 'kvm_pv_eoi_word',
    size: 4,
    align: 4,
    doc:
      'PV EOI word (MSR_KVM_PV_EOI_EN). The host sets KVM_PV_EOI_ENABLED when injecting an interrupt ' +
      'whose EOI may be skipped; the guest clears it atomically instead of writing the EOI register.',
    fields: [{ name: 'flags', offset: 0, type: 'u32', doc: 'bit 0: KVM_PV_EOI_ENABLED' }],
  },
  {
    name: 'pv_multicall_entry',
    size: 24,
    align: 4,
    doc: 'One call of a PV_HC_MULTICALL list: `nr` and `args` as in EAX and EBX/ECX/EDX/ESI; the host writes `result`.',
    fields: [
      { name: 'nr', offset: 0, type: 'u32', doc: 'hypercall number (PV_HC_MULTICALL itself ⇒ -KVM_EINVAL)' },
      { name: 'args', offset: 4, type: 'u32', count: 4, doc: 'a0..a3 (EBX, ECX, EDX, ESI)' },
      { name: 'result', offset: 20, type: 's32', doc: 'written by the host: the call’s EAX' },
    ],
  },
  {
    name: 'pv_apic_write',
    size: 8,
    align: 4,
    doc: 'One entry of PV_HC_APIC_WRITE_BATCH: a local APIC register write, as a 32-bit xAPIC MMIO store.',
    fields: [
      {
        name: 'reg',
        offset: 0,
        type: 'u32',
        doc: 'xAPIC register offset: a multiple of 16 below PV_APIC_REG_LIMIT (else -KVM_EINVAL)',
      },
      { name: 'value', offset: 4, type: 'u32', doc: 'value written' },
    ],
  },
  {
    name: 'pv_pte_update',
    size: 16,
    align: 8,
    doc: 'One entry of PV_HC_PT_UPDATE_BATCH: store `value` into the page-table entry at `pte_gpa`.',
    fields: [
      {
        name: 'pte_gpa',
        offset: 0,
        type: 'u64',
        doc: 'guest-physical address of the PTE/PDE: plain RAM, aligned to the PTE width (else -KVM_EFAULT)',
      },
      {
        name: 'value',
        offset: 8,
        type: 'u64',
        doc: 'new entry; without PV_PT_UPDATE_PAE it must be < 2^32 (else -KVM_EINVAL)',
      },
    ],
  },
  {
    name: 'pv_tlb_flush_entry',
    size: 4,
    align: 4,
    doc: 'One linear address of a PV_HC_TLB_FLUSH list (INVLPG semantics: the page containing it).',
    fields: [{ name: 'linear', offset: 0, type: 'u32', doc: 'linear address' }],
  },
  {
    name: 'pv_batch_status',
    size: 16,
    align: 4,
    doc:
      'Optional outcome record of a batch call, written by the host after the batch when its ' +
      'address argument is not 0 (and not written when the call returns a negative errno).',
    fields: [
      { name: 'applied', offset: 0, type: 'u32', doc: 'entries applied (equals the call’s result)' },
      {
        name: 'failed_index',
        offset: 4,
        type: 'u32',
        doc: 'index of the entry that failed, or PV_BATCH_NO_FAILURE',
      },
      { name: 'error', offset: 8, type: 's32', doc: 'negative errno of the failed entry, or 0' },
      { name: 'reserved', offset: 12, type: 'u32', doc: 'written as 0' },
    ],
  },
] as const satisfies readonly StructDef[];

const msrs = [
  {
    name: 'MSR_KVM_WALL_CLOCK_NEW',
    index: 0x4b564d00,
    feature: { set: 'kvm', name: 'KVM_FEATURE_CLOCKSOURCE2' },
    struct: 'pvclock_wall_clock',
    doc: 'write: 4-byte aligned gpa of a pvclock_wall_clock in RAM; the host fills it once per write',
  },
  {
    name: 'MSR_KVM_SYSTEM_TIME_NEW',
    index: 0x4b564d01,
    feature: { set: 'kvm', name: 'KVM_FEATURE_CLOCKSOURCE2' },
    struct: 'pvclock_vcpu_time_info',
    doc: 'gpa of a 4-byte aligned pvclock_vcpu_time_info in RAM | KVM_MSR_ENABLED (bit 0)',
  },
  {
    name: 'MSR_KVM_PV_EOI_EN',
    index: 0x4b564d04,
    feature: { set: 'kvm', name: 'KVM_FEATURE_PV_EOI' },
    struct: 'kvm_pv_eoi_word',
    doc: 'gpa of a 4-byte aligned, zeroed kvm_pv_eoi_word in RAM | KVM_PV_EOI_ENABLED (bit 0); bit 1 reserved',
  },
  {
    name: 'MSR_IA32_TSC_DEADLINE',
    index: 0x6e0,
    doc: 'architectural TSC-deadline timer (SDM Vol. 3A 11.5.4.1)',
  },
  {
    name: 'MSR_X2APIC_BASE',
    index: 0x800,
    doc: 'architectural x2APIC registers: MSR 0x800 + (xAPIC MMIO offset >> 4) (SDM Vol. 3A 11.12.1.2)',
  },
] as const satisfies readonly MsrDef[];

const ERR_COMMON = ['KVM_EPERM', 'KVM_ENOSYS'] as const;

const calls = [
  {
    name: 'KVM_HC_KICK_CPU',
    nr: 5,
    origin: 'kvm',
    feature: { set: 'kvm', name: 'KVM_FEATURE_PV_UNHALT' },
    args: [
      { reg: 'ebx', name: 'flags', kind: 'value', doc: 'reserved by KVM for future use; ignored' },
      { reg: 'ecx', name: 'apic_id', kind: 'value', doc: 'APIC ID of the vCPU to wake from HLT' },
    ],
    result: '0',
    errors: [...ERR_COMMON],
    doc: 'Wake a vCPU halted in a PV spinlock slow path (KVM-compatible).',
  },
  {
    name: 'KVM_HC_SEND_IPI',
    nr: 10,
    origin: 'kvm',
    feature: { set: 'kvm', name: 'KVM_FEATURE_PV_SEND_IPI' },
    args: [
      { reg: 'ebx', name: 'bitmap_low', kind: 'value', doc: 'bit n: send to APIC ID min + n' },
      { reg: 'ecx', name: 'bitmap_high', kind: 'value', doc: 'bit n: send to APIC ID min + 32 + n' },
      { reg: 'edx', name: 'min', kind: 'value', doc: 'APIC ID of bit 0 of bitmap_low' },
      {
        reg: 'esi',
        name: 'icr',
        kind: 'value',
        doc: 'ICR low word: vector, delivery mode, level, trigger; logical destination (bit 11) or a shorthand (bits 19-18) ⇒ -KVM_EINVAL',
      },
    ],
    result: 'number of vCPUs the IPI was delivered to',
    errors: [...ERR_COMMON, 'KVM_EINVAL'],
    doc: 'Multicast IPI to up to 64 vCPUs in one exit (KVM-compatible, 32-bit mode: 32 bits per bitmap word).',
  },
  {
    name: 'KVM_HC_SCHED_YIELD',
    nr: 11,
    origin: 'kvm',
    feature: { set: 'kvm', name: 'KVM_FEATURE_PV_SCHED_YIELD' },
    args: [{ reg: 'ebx', name: 'apic_id', kind: 'value', doc: 'APIC ID of a preempted IPI target' }],
    result: '0',
    errors: [...ERR_COMMON],
    doc: 'Yield to the (preempted) target vCPU of an IPI (KVM-compatible).',
  },
  {
    name: 'PV_HC_MULTICALL',
    nr: PV_HC_BASE + 0,
    origin: 'pv',
    feature: { set: 'pv', name: 'PV_FEATURE_MULTICALL' },
    args: [
      {
        reg: 'ebx',
        name: 'list',
        kind: 'gpa',
        struct: 'pv_multicall_entry',
        countArg: 'count',
        doc: 'gpa of `count` pv_multicall_entry records',
      },
      { reg: 'ecx', name: 'count', kind: 'count', max: 'PV_MULTICALL_MAX', doc: 'number of entries' },
    ],
    result:
      'number of entries that succeeded before the first failure (= count when all did). The list is read in ' +
      'full before the first entry runs; entries run in order, each entry’s `result` is written after it runs; ' +
      'the first entry whose result is negative stops the list (later entries are neither run nor written).',
    errors: [...ERR_COMMON, 'KVM_EFAULT', 'KVM_E2BIG'],
    doc: 'Run a list of hypercalls in one exit. A nested PV_HC_MULTICALL entry fails with -KVM_EINVAL.',
  },
  {
    name: 'PV_HC_APIC_WRITE_BATCH',
    nr: PV_HC_BASE + 1,
    origin: 'pv',
    feature: { set: 'pv', name: 'PV_FEATURE_APIC_WRITE_BATCH' },
    args: [
      {
        reg: 'ebx',
        name: 'list',
        kind: 'gpa',
        struct: 'pv_apic_write',
        countArg: 'count',
        doc: 'gpa of `count` pv_apic_write records',
      },
      { reg: 'ecx', name: 'count', kind: 'count', max: 'PV_APIC_WRITE_BATCH_MAX', doc: 'number of entries' },
      {
        reg: 'edx',
        name: 'status',
        kind: 'gpa',
        struct: 'pv_batch_status',
        optional: true,
        doc: 'gpa of a pv_batch_status, or 0 for none',
      },
    ],
    result:
      'number of entries applied, in order; the first failing entry stops the batch (its index = the result, ' +
      'its errno in status.error)',
    errors: [...ERR_COMMON, 'KVM_EFAULT', 'KVM_E2BIG'],
    doc: 'Apply local APIC register writes of the calling vCPU in one exit (same semantics as the MMIO stores).',
  },
  {
    name: 'PV_HC_PT_UPDATE_BATCH',
    nr: PV_HC_BASE + 2,
    origin: 'pv',
    feature: { set: 'pv', name: 'PV_FEATURE_PT_UPDATE_BATCH' },
    args: [
      {
        reg: 'ebx',
        name: 'list',
        kind: 'gpa',
        struct: 'pv_pte_update',
        countArg: 'count',
        doc: 'gpa of `count` pv_pte_update records',
      },
      { reg: 'ecx', name: 'count', kind: 'count', max: 'PV_PT_UPDATE_BATCH_MAX', doc: 'number of entries' },
      {
        reg: 'edx',
        name: 'status',
        kind: 'gpa',
        struct: 'pv_batch_status',
        optional: true,
        doc: 'gpa of a pv_batch_status, or 0 for none',
      },
      { reg: 'esi', name: 'flags', kind: 'flags', flags: ['PV_PT_UPDATE_PAE'], doc: 'PV_PT_UPDATE_PAE' },
    ],
    result:
      'number of entries applied, in order; the first failing entry stops the batch (its index = the result, ' +
      'its errno in status.error). The TLB is not flushed: use PV_HC_TLB_FLUSH (e.g. in the same multicall).',
    errors: [...ERR_COMMON, 'KVM_EFAULT', 'KVM_E2BIG', 'KVM_EINVAL'],
    doc: 'Store page-table entries in one exit (like set_pte in Linux pv_ops, lazy MMU mode flushed at once).',
  },
  {
    name: 'PV_HC_TLB_FLUSH',
    nr: PV_HC_BASE + 3,
    origin: 'pv',
    feature: { set: 'pv', name: 'PV_FEATURE_TLB_FLUSH' },
    args: [
      {
        reg: 'ebx',
        name: 'list',
        kind: 'gpa',
        struct: 'pv_tlb_flush_entry',
        countArg: 'count',
        doc: 'gpa of `count` linear addresses; 0 with PV_TLB_FLUSH_ALL',
      },
      {
        reg: 'ecx',
        name: 'count',
        kind: 'count',
        max: 'PV_TLB_FLUSH_MAX',
        doc: 'number of entries; 0 with PV_TLB_FLUSH_ALL',
      },
      {
        reg: 'edx',
        name: 'flags',
        kind: 'flags',
        flags: ['PV_TLB_FLUSH_ALL', 'PV_TLB_FLUSH_GLOBAL'],
        doc: 'PV_TLB_FLUSH_ALL [| PV_TLB_FLUSH_GLOBAL]',
      },
    ],
    result:
      'number of addresses flushed (0 with PV_TLB_FLUSH_ALL). An entry cannot fail. PV_TLB_FLUSH_GLOBAL ' +
      'without PV_TLB_FLUSH_ALL, or PV_TLB_FLUSH_ALL with a non-zero list or count ⇒ -KVM_EINVAL',
    errors: [...ERR_COMMON, 'KVM_EFAULT', 'KVM_E2BIG', 'KVM_EINVAL'],
    doc: 'Invalidate the calling vCPU’s TLB entries for a list of pages (INVLPG each) or all of them (MOV CR3 / CR4.PGE toggle).',
  },
  {
    name: 'PV_HC_CONSOLE_WRITE',
    nr: PV_HC_BASE + 4,
    origin: 'pv',
    feature: { set: 'pv', name: 'PV_FEATURE_CONSOLE_WRITE' },
    args: [
      { reg: 'ebx', name: 'buf', kind: 'gpa', countArg: 'len', doc: 'gpa of `len` bytes' },
      { reg: 'ecx', name: 'len', kind: 'count', max: 'PV_CONSOLE_WRITE_MAX', doc: 'number of bytes' },
    ],
    result: 'number of bytes the host console accepted (≤ len)',
    errors: [...ERR_COMMON, 'KVM_EFAULT', 'KVM_E2BIG'],
    doc: 'Write a guest buffer to the host console in one exit.',
  },
] as const satisfies readonly CallDef[];

/** The ABI manifest. */
export const MANIFEST = {
  version: VERSION,
  pvSignature: '@pv@pv@pv\0\0\0',
  cpuidLeaves,
  kvmFeatures,
  pvFeatures,
  errnos,
  constants,
  structs,
  msrs,
  calls,
} as const satisfies Manifest;

/** The literal type of the manifest (for typed codecs). */
export type PvManifest = typeof MANIFEST;
