/**
 * kvmclock (KVM_FEATURE_CLOCKSOURCE2, Documentation/virt/kvm/x86/msr.rst), bit-compatible:
 *
 * - MSR_KVM_SYSTEM_TIME_NEW (0x4b564d01) = gpa of a 32-byte `pvclock_vcpu_time_info` | enable bit;
 *   the host fills it with (tsc_timestamp, system_time, tsc_to_system_mul, tsc_shift, flags) under
 *   the version protocol: version odd while it writes, even after (arch/x86/kvm/x86.c
 *   kvm_setup_guest_pvclock). The guest computes
 *   `ns = system_time + (((tsc − tsc_timestamp) << shift or >> −shift) · mul) >> 32`
 *   (arch/x86/include/asm/pvclock.h pvclock_scale_delta), retrying while the version is odd or
 *   changed.
 * - MSR_KVM_WALL_CLOCK_NEW (0x4b564d00) = gpa of a 12-byte `pvclock_wall_clock`, filled once per
 *   write with the wall-clock time at system time 0 (the configured epoch).
 *
 * Our TSC is the virtual clock: it is the same for every vCPU and never jumps, so the records
 * carry PVCLOCK_TSC_STABLE_BIT and stay valid until the host rewrites them (`update`).
 * The multiplier and shift come from KVM's kvm_get_time_scale(NSEC_PER_SEC, hz).
 */
import { ABI_CONST, CODECS, type GuestPhysMemory, MSR } from '@pv/hypercall';
import type { VirtualClock } from '@pv/x86-core';
import { ParavirtError } from './errors';

const TIME = CODECS.pvclock_vcpu_time_info;
const WALL = CODECS.pvclock_wall_clock;
const NSEC_PER_SEC = 1_000_000_000n;
const U64 = 0xffff_ffff_ffff_ffffn;
const ENABLED = BigInt(ABI_CONST.KVM_MSR_ENABLED);

export const MSR_KVM_WALL_CLOCK_NEW: number = MSR.MSR_KVM_WALL_CLOCK_NEW;
export const MSR_KVM_SYSTEM_TIME_NEW: number = MSR.MSR_KVM_SYSTEM_TIME_NEW;

/** tsc_to_system_mul and tsc_shift for a TSC of `hz` (KVM's kvm_get_time_scale). */
export function pvclockScale(hz: number): { mul: number; shift: number } {
  if (!Number.isSafeInteger(hz) || hz < 1) {
    throw new ParavirtError('INVALID_CONFIG', `kvmclock: clock.hz ${String(hz)} is not a positive integer`);
  }
  let tps64 = BigInt(hz);
  let scaled64 = NSEC_PER_SEC;
  let shift = 0;
  while (tps64 > scaled64 * 2n || tps64 >> 32n !== 0n) {
    tps64 >>= 1n;
    shift--;
  }
  let tps32 = tps64;
  while (tps32 <= scaled64 || scaled64 >> 32n !== 0n) {
    if (scaled64 >> 32n !== 0n || (tps32 & 0x8000_0000n) !== 0n) scaled64 >>= 1n;
    else tps32 <<= 1n;
    shift++;
  }
  return { mul: Number((scaled64 << 32n) / tps32), shift };
}

/** pvclock_scale_delta: the guest's conversion of a TSC delta to nanoseconds (64-bit result). */
export function pvclockScaleDelta(delta: bigint, mul: number, shift: number): bigint {
  const d = shift < 0 ? delta >> BigInt(-shift) : (delta << BigInt(shift)) & U64;
  return ((d * BigInt(mul >>> 0)) >> 32n) & U64;
}

/** Steps of one record update, for tracing hooks. */
export type PvclockUpdatePhase = 'begin' | 'fields' | 'end';

export interface KvmClockOptions {
  /** Guest-physical memory the records are written to (see `guestMemoryOf`). */
  memory: GuestPhysMemory;
  /** The virtual clock (its `hz` must be an integer). */
  clock: VirtualClock;
  /** Number of vCPUs (one system-time MSR each). */
  vcpus: number;
  /** Wall-clock time at system time 0, in nanoseconds since 1970-01-01 UTC (tests fix it). */
  epochNs: bigint;
  /** Called after each step of a record update (version odd; fields written; version even). */
  onUpdate?(vcpu: number, phase: PvclockUpdatePhase): void;
}

/** The host side of kvmclock for every vCPU. */
export class KvmClock {
  readonly mul: number;
  readonly shift: number;
  readonly clock: VirtualClock;
  private readonly memory: GuestPhysMemory;
  private readonly epochNs: bigint;
  private readonly systemTime: bigint[];
  private wallClock = 0n;
  private readonly onUpdate: KvmClockOptions['onUpdate'];
  private readonly buf = new Uint8Array(TIME.size);
  private readonly view = new DataView(this.buf.buffer);
  /** Records written (updates), for tests and benchmarks. */
  updates = 0;

  constructor(options: KvmClockOptions) {
    const { memory, clock, vcpus, epochNs } = options;
    if (typeof memory?.isRam !== 'function' || typeof memory.write !== 'function') {
      throw new ParavirtError('INVALID_CONFIG', 'kvmclock: options.memory is not a GuestPhysMemory');
    }
    if (typeof clock?.now !== 'function') {
      throw new ParavirtError('INVALID_CONFIG', 'kvmclock: options.clock is not a VirtualClock');
    }
    if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > 4096) {
      throw new ParavirtError('INVALID_CONFIG', `kvmclock: vcpus ${String(vcpus)} is not in 1..4096`);
    }
    if (typeof epochNs !== 'bigint' || epochNs < 0n || epochNs / NSEC_PER_SEC > 0xffff_ffffn) {
      throw new ParavirtError(
        'INVALID_CONFIG',
        `kvmclock: epochNs ${String(epochNs)} is not a bigint between 0 and 2^32 seconds`,
      );
    }
    const { mul, shift } = pvclockScale(clock.hz);
    this.mul = mul;
    this.shift = shift;
    this.clock = clock;
    this.memory = memory;
    this.epochNs = epochNs;
    this.systemTime = new Array<bigint>(vcpus).fill(0n);
    this.onUpdate = options.onUpdate;
  }

  /** The virtual TSC as an integer. */
  tsc(): bigint {
    return BigInt(Math.floor(this.clock.now()));
  }

  /** Exact nanoseconds since VM start at TSC `tsc`: floor(tsc · 10^9 / hz). */
  nsAt(tsc: bigint): bigint {
    return (tsc * NSEC_PER_SEC) / BigInt(this.clock.hz);
  }

  /** True for the MSRs kvmclock answers. */
  ownsMsr(msr: number): boolean {
    return msr === MSR_KVM_SYSTEM_TIME_NEW || msr === MSR_KVM_WALL_CLOCK_NEW;
  }

  readMsr(vcpu: number, msr: number): bigint | undefined {
    if (msr === MSR_KVM_SYSTEM_TIME_NEW) return this.systemTime[vcpu];
    if (msr === MSR_KVM_WALL_CLOCK_NEW) return this.wallClock;
    return undefined;
  }

  /**
   * WRMSR. System time: with the enable bit, the gpa must be 4-byte aligned with 32 bytes of RAM
   * (else #GP); the record is written at once. Wall clock: the gpa must be 4-byte aligned with 12
   * bytes of RAM (else #GP); the record is written once.
   */
  writeMsr(vcpu: number, msr: number, value: bigint): boolean {
    if (value < 0n || value > U64 || this.systemTime[vcpu] === undefined) return false;
    if (msr === MSR_KVM_SYSTEM_TIME_NEW) {
      if ((value & ENABLED) !== 0n && !this.validGpa(value & ~ENABLED, TIME.size, TIME.align)) return false;
      this.systemTime[vcpu] = value;
      this.update(vcpu);
      return true;
    }
    if (msr === MSR_KVM_WALL_CLOCK_NEW) {
      if (!this.validGpa(value, WALL.size, WALL.align)) return false;
      this.wallClock = value;
      this.writeWallClock(Number(value));
      return true;
    }
    return false;
  }

  /** Is kvmclock enabled for this vCPU? */
  enabled(vcpu: number): boolean {
    return ((this.systemTime[vcpu] ?? 0n) & ENABLED) !== 0n;
  }

  /** Rewrite the vCPU's record from the current clock (no-op while disabled). */
  update(vcpu: number): void {
    const msr = this.systemTime[vcpu];
    if (msr === undefined || (msr & ENABLED) === 0n) return;
    const gpa = Number(msr & ~ENABLED);
    const tsc = this.tsc();
    const v = this.view;
    const o = TIME.offsets;
    // kvm_setup_guest_pvclock: make the guest's version odd, write the body, make it even.
    this.memory.read(gpa, this.buf, 0, 4);
    const odd = ((v.getUint32(o.version, true) + 1) | 1) >>> 0;
    this.writeVersion(gpa, odd);
    this.onUpdate?.(vcpu, 'begin');
    v.setUint32(o.version, odd, true);
    v.setUint32(o.pad0, 0, true);
    v.setBigUint64(o.tsc_timestamp, tsc, true);
    v.setBigUint64(o.system_time, this.nsAt(tsc) & U64, true);
    v.setUint32(o.tsc_to_system_mul, this.mul, true);
    v.setInt8(o.tsc_shift, this.shift);
    v.setUint8(o.flags, ABI_CONST.PVCLOCK_TSC_STABLE_BIT);
    v.setUint16(o.pad, 0, true);
    this.memory.write(gpa + 4, this.buf, 4, TIME.size - 4);
    this.onUpdate?.(vcpu, 'fields');
    this.writeVersion(gpa, (odd + 1) >>> 0);
    this.updates++;
    this.onUpdate?.(vcpu, 'end');
  }

  /** `update` for every vCPU. */
  updateAll(): void {
    for (let i = 0; i < this.systemTime.length; i++) this.update(i);
  }

  private validGpa(gpa: bigint, size: number, align: number): boolean {
    if (gpa % BigInt(align) !== 0n || gpa + BigInt(size) > 0x1_0000_0000n) return false;
    return this.memory.isRam(Number(gpa), size) === true;
  }

  private writeVersion(gpa: number, version: number): void {
    this.view.setUint32(0, version, true);
    this.memory.write(gpa, this.buf, 0, 4);
  }

  private writeWallClock(gpa: number): void {
    const v = this.view;
    const o = WALL.offsets;
    this.memory.read(gpa, this.buf, 0, 4);
    const odd = ((v.getUint32(o.version, true) + 1) | 1) >>> 0;
    this.writeVersion(gpa, odd);
    v.setUint32(o.sec, Number(this.epochNs / NSEC_PER_SEC), true);
    v.setUint32(o.nsec, Number(this.epochNs % NSEC_PER_SEC), true);
    this.memory.write(gpa + 4, this.buf, 4, WALL.size - 4);
    this.writeVersion(gpa, (odd + 1) >>> 0);
  }
}
