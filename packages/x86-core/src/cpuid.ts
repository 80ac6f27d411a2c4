/**
 * The CPUID model (SDM Vol. 2 "CPUID"): a GenuineIntel P6-family CPU advertising exactly what this
 * interpreter implements, the hypervisor-present bit (CPUID.1:ECX[31], DESIGN.md §4) and leaves
 * supplied by the host (the hypervisor range 0x40000000+, or overrides).
 */
import { requireOption } from './errors';

/** CPUID.1:EDX feature bits (SDM Vol. 2 Table 3-11). */
export const CPUID_EDX_FPU = 1 << 0;
export const CPUID_EDX_VME = 1 << 1;
export const CPUID_EDX_DE = 1 << 2;
export const CPUID_EDX_PSE = 1 << 3;
export const CPUID_EDX_TSC = 1 << 4;
export const CPUID_EDX_MSR = 1 << 5;
export const CPUID_EDX_PAE = 1 << 6;
export const CPUID_EDX_CX8 = 1 << 8;
export const CPUID_EDX_APIC = 1 << 9;
export const CPUID_EDX_SEP = 1 << 11;
export const CPUID_EDX_PGE = 1 << 13;
export const CPUID_EDX_CMOV = 1 << 15;
/** CPUID.1:ECX[31]: running under a hypervisor. */
export const CPUID_ECX_HYPERVISOR = 1 << 31;

/** Host configuration of the CPUID model. */
export interface CpuidConfig {
  /** Family/model/stepping signature (CPUID.1:EAX, also EDX at reset). Default 0x652 (Pentium II). */
  signature?: number;
  /** Extra CPUID.1:EDX bits the host implements elsewhere (e.g. PSE/PGE/PAE by the MMU, APIC). */
  extraEdxFeatures?: number;
  /** Set the hypervisor-present bit (default true). */
  hypervisor?: boolean;
  /**
   * Leaves supplied by the host, keyed by leaf number: four 32-bit values [eax, ebx, ecx, edx].
   * They take precedence over the built-in leaves (e.g. 0x40000000 "KVMKVMKVM").
   */
  leaves?: Readonly<Record<number, readonly [number, number, number, number]>>;
}

/**
 * Features this interpreter implements itself: DE (CR4.DE, I/O breakpoints, DR4/DR5 #UD), TSC, MSR,
 * CX8, SEP (SYSENTER/SYSEXIT), CMOV. No FPU (x87 is a later issue), no VME/PVI.
 */
const BUILTIN_EDX =
  CPUID_EDX_DE | CPUID_EDX_TSC | CPUID_EDX_MSR | CPUID_EDX_CX8 | CPUID_EDX_SEP | CPUID_EDX_CMOV;
/** Highest basic leaf (the Pentium II reports 2). */
const MAX_BASIC = 2;

export class CpuidModel {
  readonly signature: number;
  readonly edxFeatures: number;
  private readonly ecx: number;
  private readonly leaves = new Map<number, Int32Array>();

  constructor(config: CpuidConfig) {
    const sig = config.signature ?? 0x652;
    requireOption(Number.isInteger(sig) && sig >= 0 && sig <= 0xffffffff, 'cpuid.signature', `got ${sig}`);
    const extra = config.extraEdxFeatures ?? 0;
    requireOption(
      Number.isInteger(extra) && extra >= 0 && extra <= 0xffffffff,
      'cpuid.extraEdxFeatures',
      `got ${extra}`,
    );
    requireOption(
      (extra & CPUID_EDX_FPU) === 0,
      'cpuid.extraEdxFeatures',
      'may not advertise an FPU (x87 is not implemented)',
    );
    this.signature = sig;
    this.edxFeatures = BUILTIN_EDX | extra;
    this.ecx = config.hypervisor === false ? 0 : CPUID_ECX_HYPERVISOR;
    for (const [key, v] of Object.entries(config.leaves ?? {})) {
      const leaf = Number(key);
      requireOption(
        Number.isInteger(leaf) && leaf >= 0 && leaf <= 0xffffffff && Array.isArray(v) && v.length === 4,
        `cpuid.leaves[${key}]`,
        'must map a 32-bit leaf number to [eax, ebx, ecx, edx]',
      );
      this.leaves.set(
        leaf >>> 0,
        Int32Array.from(v, (x) => x | 0),
      );
    }
  }

  /** Fills out[0..3] = EAX, EBX, ECX, EDX for `leaf` (SDM: out-of-range basic leaves return the highest basic leaf). */
  query(leaf: number, out: Int32Array): void {
    const host = this.leaves.get(leaf >>> 0);
    if (host) {
      out.set(host);
      return;
    }
    let l = leaf >>> 0;
    if (l >= 0x40000000 && l <= 0x4fffffff) {
      out.fill(0);
      return;
    }
    if (l > MAX_BASIC) l = MAX_BASIC;
    switch (l) {
      case 0:
        out[0] = MAX_BASIC;
        out[1] = 0x756e6547; // "Genu"
        out[2] = 0x6c65746e; // "ntel"
        out[3] = 0x49656e69; // "ineI"
        break;
      case 1:
        out[0] = this.signature;
        out[1] = 0;
        out[2] = this.ecx;
        out[3] = this.edxFeatures;
        break;
      default:
        // Leaf 2: the Pentium II's cache and TLB descriptors.
        out[0] = 0x03020101;
        out[1] = 0;
        out[2] = 0;
        out[3] = 0x0c040843;
        break;
    }
  }
}
