/**
 * Advertised features: the host picks which manifest feature bits to announce; this resolves the
 * names to CPUID bit masks and answers the hypervisor CPUID leaves (DESIGN §4 discovery).
 */
import { ABI_CONST, ABI_VERSION, CPUID_LEAF } from './constants';
import { HypercallError } from './errors';
import { MANIFEST } from './manifest';
import type { FeatureBitDef } from './manifest-types';

/** Names of the KVM feature bits (KVM_CPUID_FEATURES.EAX). */
export type KvmFeatureName = (typeof MANIFEST.kvmFeatures)[number]['name'];
/** Names of the @pv feature bits (PV_CPUID_FEATURES.EBX). */
export type PvFeatureName = (typeof MANIFEST.pvFeatures)[number]['name'];

/** What the host advertises. Only `supported` bits of the manifest may be listed. */
export interface AdvertisedFeatures {
  readonly kvm?: readonly KvmFeatureName[];
  readonly pv?: readonly PvFeatureName[];
}

/** Advertised features as CPUID bit masks. */
export interface FeatureMasks {
  /** KVM_CPUID_FEATURES.EAX. */
  readonly kvm: number;
  /** PV_CPUID_FEATURES.EBX. */
  readonly pv: number;
}

function mask(set: string, defs: readonly FeatureBitDef[], names: readonly string[] | undefined): number {
  let m = 0;
  if (names !== undefined && !Array.isArray(names)) {
    throw new HypercallError('INVALID_CONFIG', `features.${set} must be an array of feature names`);
  }
  for (const name of names ?? []) {
    const def = defs.find((d) => d.name === name);
    if (!def) {
      throw new HypercallError(
        'INVALID_CONFIG',
        `features.${set}: unknown feature "${String(name)}" (known: ${defs.map((d) => d.name).join(', ')})`,
      );
    }
    if (!def.supported) {
      throw new HypercallError(
        'INVALID_CONFIG',
        `features.${set}: "${name}" is not implemented by @pv; do not advertise it`,
      );
    }
    m |= 1 << def.bit;
  }
  return m >>> 0;
}

/** Resolve feature names to masks; throws INVALID_CONFIG naming an unknown or unsupported feature. */
export function resolveFeatures(features: AdvertisedFeatures | undefined): FeatureMasks {
  if (features !== undefined && (typeof features !== 'object' || features === null)) {
    throw new HypercallError('INVALID_CONFIG', 'features must be an object { kvm?: [...], pv?: [...] }');
  }
  return {
    kvm: mask('kvm', MANIFEST.kvmFeatures, features?.kvm),
    pv: mask('pv', MANIFEST.pvFeatures, features?.pv),
  };
}

/** A 12-character signature as the EBX, ECX, EDX words of a CPUID leaf. */
export function signatureWords(sig: string): [number, number, number] {
  const w = [0, 0, 0] as [number, number, number];
  for (let i = 0; i < 12; i++) w[i >> 2]! |= (sig.charCodeAt(i) & 0xff) << ((i & 3) * 8);
  return [w[0] >>> 0, w[1] >>> 0, w[2] >>> 0];
}

/** First and last leaf of the range the hypervisor answers (KVM base leaves + @pv leaves). */
export const HYPERVISOR_LEAF_FIRST = 0x40000000;
export const HYPERVISOR_LEAF_LAST = 0x400001ff;

/**
 * The value of a hypervisor CPUID leaf as [EAX, EBX, ECX, EDX] (unsigned), for the advertised
 * features. Leaves 0x40000000–0x400001ff that the ABI does not define read as zeros; leaves outside
 * that range are not the hypervisor's and return undefined (the CPU answers them).
 */
export function hypervisorCpuid(
  features: AdvertisedFeatures | FeatureMasks,
  leaf: number,
): [number, number, number, number] | undefined {
  const m =
    typeof (features as FeatureMasks).kvm === 'number'
      ? (features as FeatureMasks)
      : resolveFeatures(features as AdvertisedFeatures);
  leaf >>>= 0;
  if (leaf < HYPERVISOR_LEAF_FIRST || leaf > HYPERVISOR_LEAF_LAST) return undefined;
  switch (leaf) {
    case CPUID_LEAF.KVM_CPUID_SIGNATURE:
      return [CPUID_LEAF.KVM_CPUID_FEATURES, ...signatureWords('KVMKVMKVM\0\0\0')];
    case CPUID_LEAF.KVM_CPUID_FEATURES:
      return [m.kvm >>> 0, 0, 0, 0];
    case CPUID_LEAF.PV_CPUID_SIGNATURE:
      return [CPUID_LEAF.PV_CPUID_FEATURES, ...signatureWords(MANIFEST.pvSignature)];
    case CPUID_LEAF.PV_CPUID_FEATURES:
      return [((ABI_VERSION.major << 16) | ABI_VERSION.minor) >>> 0, m.pv >>> 0, ABI_CONST.PV_HC_BASE, 0];
    default:
      return [0, 0, 0, 0];
  }
}
