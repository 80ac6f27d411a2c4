/**
 * Name → number maps derived from the manifest, for hosts and tests written in TypeScript
 * (`HC.KVM_HC_SEND_IPI`, `ERRNO.KVM_EFAULT`, `KVM_FEATURE.KVM_FEATURE_PV_EOI`, `MSR.MSR_KVM_PV_EOI_EN` …).
 */
import { MANIFEST } from './manifest';

type NameMap<T extends readonly { name: string }[], K extends keyof T[number]> = {
  readonly [E in T[number] as E['name']]: E[K];
};

function nameMap<T extends readonly { name: string }[], K extends keyof T[number]>(
  list: T,
  key: K,
): NameMap<T, K> {
  const out: Record<string, unknown> = {};
  for (const e of list) out[e.name] = (e as T[number])[key];
  return Object.freeze(out) as NameMap<T, K>;
}

/** Hypercall numbers by name. */
export const HC = nameMap(MANIFEST.calls, 'nr');
/** Errno values (positive; calls return the negation) by name. */
export const ERRNO = nameMap(MANIFEST.errnos, 'value');
/** KVM_CPUID_FEATURES.EAX bit numbers by name. */
export const KVM_FEATURE = nameMap(MANIFEST.kvmFeatures, 'bit');
/** PV_CPUID_FEATURES.EBX bit numbers by name. */
export const PV_FEATURE = nameMap(MANIFEST.pvFeatures, 'bit');
/** MSR indices by name. */
export const MSR = nameMap(MANIFEST.msrs, 'index');
/** CPUID leaf numbers by name. */
export const CPUID_LEAF = nameMap(MANIFEST.cpuidLeaves, 'leaf');
/** Other ABI constants (limits, flags, values) by name. */
export const ABI_CONST = nameMap(MANIFEST.constants, 'value');

/** ABI major/minor version (= @pv/hypercall's package major/minor). */
export const ABI_VERSION: { readonly major: number; readonly minor: number } = (() => {
  const m = /^(\d+)\.(\d+)\.\d+/.exec(MANIFEST.version);
  return Object.freeze({ major: m ? Number(m[1]) : 0, minor: m ? Number(m[2]) : 0 });
})();

/** Name of an errno by value, for messages ('KVM_EFAULT'), or undefined. */
export function errnoName(value: number): string | undefined {
  const v = Math.abs(value);
  return MANIFEST.errnos.find((e) => e.value === v)?.name;
}
