/**
 * The hypercall path: @pv/hypercall's dispatcher (ABI validation, decoding, partial-failure
 * semantics) bound to the vtable. Every ABI call ends in an op; one VMCALL is one exit.
 */
import type { PvEoiMemory } from '@pv/apic';
import {
  type AdvertisedFeatures,
  createDispatcher,
  type GuestPhysMemory,
  type HypercallDispatcher,
  type HypercallHandlers,
} from '@pv/hypercall';
import type { Mmu } from '@pv/mmu';
import { ParavirtError } from './errors';
import type { PvOps } from './types';

/** `GuestPhysMemory` over an @pv/mmu `Mmu` (stores go through `writePhys`, so code tracking sees them). */
export function guestMemoryOf(mmu: Mmu): GuestPhysMemory {
  return {
    isRam: (gpa, len) => mmu.isRam(gpa, len),
    read: (gpa, dst, off, len) => dst.set(mmu.bytes(gpa, len), off),
    write: (gpa, src, off, len) => mmu.writePhys(gpa, src.subarray(off, off + len)),
  };
}

/** The PV EOI byte access @pv/apic needs (`LocalApicOptions.pvEoiMemory`), over an `Mmu`. */
export function pvEoiMemoryOf(mmu: Mmu): PvEoiMemory {
  const one = new Uint8Array(1);
  return {
    read8: (gpa) => (Number.isInteger(gpa) && mmu.isRam(gpa, 1) ? mmu.bytes(gpa, 1)[0] : undefined),
    write8(gpa, value) {
      if (!Number.isInteger(gpa) || !mmu.isRam(gpa, 1)) return false;
      one[0] = value;
      mmu.writePhys(gpa, one);
      return true;
    },
  };
}

/** Options of `bindHypercalls`. */
export interface BindHypercallsOptions {
  /** The calling vCPU's index (one dispatcher per vCPU: the ABI's calls act on "the calling vCPU"). */
  vcpu: number;
  /** Guest-physical memory for the lists, status records and buffers. */
  memory: GuestPhysMemory;
  /** What CPUID advertises (`advertisedFeatures(machine)`). */
  features: AdvertisedFeatures;
}

/** The handler table: each ABI call mapped to ops of the calling vCPU. */
export function hypercallHandlers(ops: PvOps, vcpu: number, hasConsole: boolean): HypercallHandlers {
  const h: HypercallHandlers = {
    kickCpu: (apicId) => ops.sched.kick(vcpu, apicId),
    sendIpi: (lo, hi, min, icr) => ops.apic.sendIpi(vcpu, lo, hi, min, icr),
    schedYield: (apicId) => ops.sched.yield(vcpu, apicId),
    // pv_apic_write.reg is the xAPIC MMIO offset (a multiple of 16, checked by the dispatcher).
    apicWrite: (reg, value) => ops.apic.write(vcpu, reg >>> 4, value),
    ptUpdate: (gpa, lo, hi, width) => ops.mmu.setPte(vcpu, gpa, lo, hi, width),
    tlbFlushOne: (linear) => ops.mmu.flushTlbOne(vcpu, linear),
    tlbFlushAll: (includeGlobal) => ops.mmu.flushTlbAll(vcpu, includeGlobal),
  };
  if (hasConsole) h.consoleWrite = (bytes) => ops.console.write(vcpu, bytes);
  return h;
}

/**
 * A dispatcher for one vCPU whose every call ends in `ops`; `hypercall` / `invoke` also report
 * one 'hypercall' exit through `ops.exit.record`.
 */
export function bindHypercalls(ops: PvOps, options: BindHypercallsOptions): HypercallDispatcher {
  if (
    typeof options !== 'object' ||
    options === null ||
    !Number.isInteger(options.vcpu) ||
    options.vcpu < 0
  ) {
    throw new ParavirtError('INVALID_CONFIG', 'bindHypercalls: options.vcpu must be a vCPU index');
  }
  const { vcpu } = options;
  const hasConsole = (options.features.pv ?? []).includes('PV_FEATURE_CONSOLE_WRITE');
  const inner = createDispatcher({
    memory: options.memory,
    handlers: hypercallHandlers(ops, vcpu, hasConsole),
    features: options.features,
  });
  return {
    hypercall(cpu) {
      ops.exit.record(vcpu, 'hypercall', 'hypercall');
      inner.hypercall(cpu);
    },
    invoke(nr, a0, a1, a2, a3, cpl) {
      ops.exit.record(vcpu, 'hypercall', 'hypercall');
      return inner.invoke(nr, a0, a1, a2, a3, cpl);
    },
    counters: inner.counters,
    features: inner.features,
  };
}
