/**
 * Host helpers for the ABI's MSR-published structures (kvmclock, PV EOI): decoding an MSR write
 * with KVM's semantics, and updating the shared records with the version protocol. The MSRs
 * themselves are owned by the composer's MsrBus; these helpers keep the rules in one place.
 */
import { CODECS, type StructOf } from './codec';
import { ABI_CONST, MSR } from './constants';
import type { GuestPhysMemory } from './guest-memory';

/** What a write to an area MSR means. */
export type AreaMsrWrite =
  /** The area is off (enable bit clear). */
  | { readonly kind: 'disable' }
  /** The area at `gpa` is on; the host writes its structure there. */
  | { readonly kind: 'enable'; readonly gpa: number }
  /** The write is accepted but names no usable RAM (KVM leaves the feature inactive). */
  | { readonly kind: 'inactive'; readonly gpa: number }
  /** The write is invalid: raise #GP(0) (misaligned PV EOI area, reserved bit set). */
  | { readonly kind: 'gp' };

const FOUR_GIB = 0x1_0000_0000n;

function usable(memory: GuestPhysMemory, gpa: bigint, size: number): boolean {
  return gpa % 4n === 0n && gpa + BigInt(size) <= FOUR_GIB && memory.isRam(Number(gpa), size) === true;
}

/**
 * Decode a write of `value` to MSR_KVM_SYSTEM_TIME_NEW, MSR_KVM_WALL_CLOCK_NEW or MSR_KVM_PV_EOI_EN
 * (KVM semantics, Documentation/virt/kvm/x86/msr.rst). Returns undefined for other MSRs.
 * - SYSTEM_TIME_NEW: bit 0 enables; a misaligned / non-RAM area is accepted but inactive.
 * - WALL_CLOCK_NEW: every write asks for one update at the gpa (no enable bit); non-RAM: inactive.
 * - PV_EOI_EN: bit 0 enables, bit 1 is reserved (#GP), the area must be 4-byte aligned (#GP).
 */
export function decodeAreaMsrWrite(
  memory: GuestPhysMemory,
  msr: number,
  value: bigint,
): AreaMsrWrite | undefined {
  const v = BigInt.asUintN(64, value);
  switch (msr >>> 0) {
    case MSR.MSR_KVM_SYSTEM_TIME_NEW: {
      if ((v & BigInt(ABI_CONST.KVM_MSR_ENABLED)) === 0n) return { kind: 'disable' };
      const gpa = v & ~1n;
      return usable(memory, gpa, CODECS.pvclock_vcpu_time_info.size)
        ? { kind: 'enable', gpa: Number(gpa) }
        : { kind: 'inactive', gpa: Number(BigInt.asUintN(53, gpa)) };
    }
    case MSR.MSR_KVM_WALL_CLOCK_NEW:
      return usable(memory, v, CODECS.pvclock_wall_clock.size)
        ? { kind: 'enable', gpa: Number(v) }
        : { kind: 'inactive', gpa: Number(BigInt.asUintN(53, v)) };
    case MSR.MSR_KVM_PV_EOI_EN: {
      if (v & 2n) return { kind: 'gp' };
      if ((v & BigInt(ABI_CONST.KVM_PV_EOI_ENABLED)) === 0n) return { kind: 'disable' };
      const gpa = v & ~3n;
      if (gpa % 4n !== 0n) return { kind: 'gp' };
      return usable(memory, gpa, CODECS.kvm_pv_eoi_word.size)
        ? { kind: 'enable', gpa: Number(gpa) }
        : { kind: 'gp' };
    }
    default:
      return undefined;
  }
}

/**
 * Update a pvclock_vcpu_time_info at `gpa` (validated by `decodeAreaMsrWrite`) with the version
 * protocol of pvclock-abi.h: version becomes odd, the fields are written, version becomes even
 * (and larger). `time.version` is ignored.
 */
export function writePvclockTimeInfo(
  memory: GuestPhysMemory,
  gpa: number,
  time: Omit<StructOf<'pvclock_vcpu_time_info'>, 'version' | 'pad0' | 'pad'>,
): void {
  const c = CODECS.pvclock_vcpu_time_info;
  const version = bumpVersion(memory, gpa);
  c.write(memory, gpa, { ...time, version: (version + 1) >>> 0, pad0: 0, pad: [0, 0] });
  writeVersion(memory, gpa, (version + 2) >>> 0);
}

/** Update a pvclock_wall_clock at `gpa` with the same version protocol. */
export function writePvclockWallClock(memory: GuestPhysMemory, gpa: number, sec: number, nsec: number): void {
  const version = bumpVersion(memory, gpa);
  CODECS.pvclock_wall_clock.write(memory, gpa, { version: (version + 1) >>> 0, sec, nsec });
  writeVersion(memory, gpa, (version + 2) >>> 0);
}

const word = new Uint8Array(4);
const wordView = new DataView(word.buffer);

/** Read the current version, round it up to even, write it + 1 (odd); returns the even base. */
function bumpVersion(memory: GuestPhysMemory, gpa: number): number {
  memory.read(gpa, word, 0, 4);
  const even = (wordView.getUint32(0, true) + 1) & ~1;
  writeVersion(memory, gpa, (even + 1) >>> 0);
  return even >>> 0;
}

function writeVersion(memory: GuestPhysMemory, gpa: number, version: number): void {
  wordView.setUint32(0, version, true);
  memory.write(gpa, word, 0, 4);
}
