/**
 * The shape of the ABI manifest (src/manifest.ts). Everything a guest can observe is described by
 * one value of type `Manifest`; constants, codecs, the dispatcher's tables, the C header, ABI.md
 * and the compatibility snapshots are all derived from it.
 */

/** Little-endian scalar types of structure fields (C: uint8_t … int64_t). */
export type ScalarType = 'u8' | 's8' | 'u16' | 's16' | 'u32' | 's32' | 'u64' | 's64';

/** The argument registers of a hypercall, in KVM order (a0..a3 = EBX, ECX, EDX, ESI). */
export type ArgRegister = 'ebx' | 'ecx' | 'edx' | 'esi';

/** Argument registers in a0..a3 order. */
export const ARG_REGISTERS: readonly ArgRegister[] = ['ebx', 'ecx', 'edx', 'esi'];

/** One field of a guest-memory structure. `count` makes it an array of `count` scalars. */
export interface FieldDef {
  readonly name: string;
  readonly offset: number;
  readonly type: ScalarType;
  readonly count?: number;
  readonly doc: string;
}

/** A fixed-size little-endian record in guest memory. `align` is the required guest alignment. */
export interface StructDef {
  readonly name: string;
  readonly size: number;
  readonly align: number;
  readonly doc: string;
  readonly fields: readonly FieldDef[];
}

/** A hypercall return code (the call returns its negation). */
export interface ErrnoDef {
  readonly name: string;
  readonly value: number;
  readonly doc: string;
}

/** A feature bit in a CPUID register. `supported` = @pv can implement it (hosts may advertise it). */
export interface FeatureBitDef {
  readonly name: string;
  readonly bit: number;
  readonly supported: boolean;
  readonly doc: string;
}

/**
 * How an argument is interpreted:
 * - `value`: a plain 32-bit value;
 * - `gpa`: a guest-physical address of `struct` records (`countArg` names the count argument; without
 *   it, one record; with `optional`, 0 means "none");
 * - `count`: a number of records / bytes;
 * - `flags`: a bit set; bits not listed in `flags` ⇒ -EINVAL.
 */
export interface CallArgDef {
  readonly reg: ArgRegister;
  readonly name: string;
  readonly kind: 'value' | 'gpa' | 'count' | 'flags';
  readonly doc: string;
  readonly struct?: string;
  readonly countArg?: string;
  readonly optional?: boolean;
  /** For `count`: the name of the constant holding the maximum (-E2BIG beyond it). */
  readonly max?: string;
  /** For `flags`: the names of the constants that are the defined bits. */
  readonly flags?: readonly string[];
}

/** A hypercall. `origin` tells the KVM-compatible base from the @pv extension. */
export interface CallDef {
  readonly name: string;
  readonly nr: number;
  readonly origin: 'kvm' | 'pv';
  /** The feature bit that announces the call (KVM 0x40000001.EAX or @pv 0x40000101.EBX). */
  readonly feature: { readonly set: 'kvm' | 'pv'; readonly name: string };
  readonly args: readonly CallArgDef[];
  /** What a non-negative result means. */
  readonly result: string;
  /** Errno names the call can return (negated). */
  readonly errors: readonly string[];
  readonly doc: string;
}

/** A model-specific register of the ABI. */
export interface MsrDef {
  readonly name: string;
  readonly index: number;
  /** The feature that announces the MSR, if any. */
  readonly feature?: { readonly set: 'kvm' | 'pv'; readonly name: string };
  /** The structure the MSR points at (value = gpa | enable bit), if any. */
  readonly struct?: string;
  readonly doc: string;
}

/** A CPUID leaf and what each output register holds. */
export interface CpuidLeafDef {
  readonly name: string;
  readonly leaf: number;
  readonly eax: string;
  readonly ebx: string;
  readonly ecx: string;
  readonly edx: string;
}

/**
 * A named number of the ABI. `limit`s are maximum counts (may only grow); `flag`s and `value`s
 * never change once released.
 */
export interface ConstantDef {
  readonly name: string;
  readonly value: number;
  readonly kind: 'limit' | 'flag' | 'value';
  readonly doc: string;
}

/** The whole ABI. */
export interface Manifest {
  /** ABI version = @pv/hypercall's package version. */
  readonly version: string;
  /** The 12-byte signature of the @pv leaf 0x40000100 (EBX, ECX, EDX). */
  readonly pvSignature: string;
  readonly cpuidLeaves: readonly CpuidLeafDef[];
  readonly kvmFeatures: readonly FeatureBitDef[];
  readonly pvFeatures: readonly FeatureBitDef[];
  readonly errnos: readonly ErrnoDef[];
  readonly constants: readonly ConstantDef[];
  readonly structs: readonly StructDef[];
  readonly msrs: readonly MsrDef[];
  readonly calls: readonly CallDef[];
}
