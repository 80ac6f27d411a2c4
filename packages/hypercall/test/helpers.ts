import type { GuestPhysMemory, HypercallHandlers } from '../src/index';

/** 64 KiB of RAM at 0, with an MMIO window at [MMIO_BASE, MMIO_BASE + 0x1000) that is not RAM. */
export const RAM_SIZE = 0x10000;
export const MMIO_BASE = 0x8000;

export interface TestMemory extends GuestPhysMemory {
  readonly ram: Uint8Array;
  readonly view: DataView;
  /** Every write the dispatcher made: [gpa, len]. */
  readonly writes: [number, number][];
}

export function testMemory(size = RAM_SIZE, mmioBase = MMIO_BASE): TestMemory {
  const ram = new Uint8Array(size);
  const writes: [number, number][] = [];
  return {
    ram,
    view: new DataView(ram.buffer),
    writes,
    isRam: (gpa, len) => {
      if (gpa < 0 || len < 1 || gpa + len > size) return false;
      return gpa + len <= mmioBase || gpa >= mmioBase + 0x1000;
    },
    read: (gpa, dst, off, len) => {
      if (gpa < 0 || gpa + len > size) throw new Error(`test memory: read outside RAM at ${gpa}+${len}`);
      dst.set(ram.subarray(gpa, gpa + len), off);
    },
    write: (gpa, src, off, len) => {
      if (gpa < 0 || gpa + len > size) throw new Error(`test memory: write outside RAM at ${gpa}+${len}`);
      writes.push([gpa, len]);
      ram.set(src.subarray(off, off + len), gpa);
    },
  };
}

export interface Recorded {
  log: string[];
  handlers: Required<HypercallHandlers>;
  /** Make the next results of a handler something else. */
  results: Partial<Record<keyof HypercallHandlers, (...args: number[]) => number>>;
}

/** Handlers that record every invocation and succeed (overridable per handler). */
export function recordingHandlers(): Recorded {
  const log: string[] = [];
  const results: Recorded['results'] = {};
  const hex = (v: number) => `0x${(v >>> 0).toString(16)}`;
  const handlers: Required<HypercallHandlers> = {
    kickCpu: (id) => {
      log.push(`kick ${id}`);
      return results.kickCpu?.(id) ?? 0;
    },
    sendIpi: (lo, hi, min, icr) => {
      log.push(`ipi ${hex(lo)} ${hex(hi)} ${min} ${hex(icr)}`);
      let n = 0;
      for (let b = 0; b < 32; b++) n += ((lo >>> b) & 1) + ((hi >>> b) & 1);
      return results.sendIpi?.(lo, hi, min, icr) ?? n;
    },
    schedYield: (id) => {
      log.push(`yield ${id}`);
      return results.schedYield?.(id) ?? 0;
    },
    apicWrite: (reg, value) => {
      log.push(`apic ${hex(reg)}=${hex(value)}`);
      return results.apicWrite?.(reg, value) ?? 0;
    },
    ptUpdate: (gpa, lo, hi, width) => {
      log.push(`pte ${hex(gpa)}=${hex(hi)}:${hex(lo)}/${width}`);
      return results.ptUpdate?.(gpa, lo, hi, width) ?? 0;
    },
    tlbFlushOne: (lin) => {
      log.push(`invlpg ${hex(lin)}`);
    },
    tlbFlushAll: (global) => {
      log.push(`flush-all ${global}`);
    },
    consoleWrite: (bytes) => {
      log.push(`console ${new TextDecoder().decode(bytes)}`);
      return results.consoleWrite?.(bytes.length) ?? bytes.length;
    },
  };
  return { log, handlers, results };
}

export const ALL_FEATURES = {
  kvm: [
    'KVM_FEATURE_NOP_IO_DELAY',
    'KVM_FEATURE_CLOCKSOURCE2',
    'KVM_FEATURE_PV_EOI',
    'KVM_FEATURE_PV_UNHALT',
    'KVM_FEATURE_PV_SEND_IPI',
    'KVM_FEATURE_PV_SCHED_YIELD',
    'KVM_FEATURE_CLOCKSOURCE_STABLE_BIT',
  ],
  pv: [
    'PV_FEATURE_MULTICALL',
    'PV_FEATURE_APIC_WRITE_BATCH',
    'PV_FEATURE_PT_UPDATE_BATCH',
    'PV_FEATURE_TLB_FLUSH',
    'PV_FEATURE_CONSOLE_WRITE',
  ],
} as const;
