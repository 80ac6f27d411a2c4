/**
 * "Advertise only what works" (DESIGN.md §4): the KVM and @pv feature bits this package really
 * implements for a given machine, for CPUID leaf 0x40000001 / 0x40000101 and the dispatcher.
 */
import type { AdvertisedFeatures, KvmFeatureName, PvFeatureName } from '@pv/hypercall';
import type { PvMachine } from './machine';
import type { PvOps } from './types';

/** The feature set to advertise for `machine`. */
export function advertisedFeatures(machine: PvMachine): AdvertisedFeatures {
  // Always implemented by the ops: the I/O delay is a no-op, KICK_CPU, SEND_IPI and SCHED_YIELD
  // are sched/apic ops.
  const kvm: KvmFeatureName[] = [
    'KVM_FEATURE_NOP_IO_DELAY',
    'KVM_FEATURE_PV_UNHALT',
    'KVM_FEATURE_PV_SEND_IPI',
    'KVM_FEATURE_PV_SCHED_YIELD',
  ];
  // kvmclock needs the KvmClock; its records always carry PVCLOCK_TSC_STABLE_BIT.
  if (machine.kvmclock !== undefined)
    kvm.push('KVM_FEATURE_CLOCKSOURCE2', 'KVM_FEATURE_CLOCKSOURCE_STABLE_BIT');
  // PV EOI needs APICs built with guest memory for the EOI word.
  if (machine.pvEoi === true) kvm.push('KVM_FEATURE_PV_EOI');
  const pv: PvFeatureName[] = [
    'PV_FEATURE_MULTICALL',
    'PV_FEATURE_APIC_WRITE_BATCH',
    'PV_FEATURE_PT_UPDATE_BATCH',
    'PV_FEATURE_TLB_FLUSH',
  ];
  if (machine.console !== undefined) pv.push('PV_FEATURE_CONSOLE_WRITE');
  return { kvm, pv };
}

/**
 * The hypervisor CPUID leaves as the ops answer them, in the shape of x86-core's
 * `CpuidConfig.leaves` (for a CPU that answers CPUID itself instead of exiting).
 */
export function hypervisorLeaves(
  ops: PvOps,
  vcpu: number,
): Record<number, readonly [number, number, number, number]> {
  const out: Record<number, readonly [number, number, number, number]> = {};
  for (const leaf of [0x40000000, 0x40000001, 0x40000100, 0x40000101])
    out[leaf] = ops.cpu.cpuid(vcpu, leaf, 0);
  return out;
}
