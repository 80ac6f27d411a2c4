/**
 * The host side of the hypercall ABI: VMCALL/VMMCALL → validate → decode → host handler → EAX.
 *
 * Order of checks for every call (ABI.md "Calling convention"):
 *   1. CPL > 0 ⇒ -KVM_EPERM (before the number is looked at, as KVM does);
 *   2. unknown number, feature not advertised, or no handler ⇒ -KVM_ENOSYS;
 *   3. undefined flag bits ⇒ -KVM_EINVAL; a count above its maximum ⇒ -KVM_E2BIG;
 *   4. every guest range (list, status record, buffer) must be aligned, must not wrap past 4 GiB and
 *      must be plain RAM ⇒ -KVM_EFAULT — all before any entry is applied or any byte is written;
 *   5. the call runs; batches apply entries in order and stop at the first failing entry.
 *
 * Guest input never throws: everything above becomes a negative errno. A host handler that throws
 * is a host bug and its exception propagates unchanged (the vCPU's registers are then untouched);
 * a handler that returns something that is not a valid ABI result throws HANDLER_RESULT.
 * Nothing allocates on the hot path except the byte view handed to `consoleWrite`.
 */
import { CODECS } from './codec';
import { ABI_CONST, ERRNO, HC } from './constants';
import { HypercallError } from './errors';
import { type AdvertisedFeatures, type FeatureMasks, resolveFeatures } from './features';
import type { GuestPhysMemory } from './guest-memory';
import { MANIFEST } from './manifest';

/** General-register indices (SDM encoding order, as x86-core's `CpuState.regs`). */
const EAX = 0;
const ECX = 1;
const EDX = 2;
const EBX = 3;
const ESI = 6;

/** The view of a vCPU the dispatcher needs; x86-core's `CpuState` satisfies it. */
export interface HypercallRegs {
  /** The eight general registers as int32, indexed EAX=0, ECX=1, EDX=2, EBX=3, ESP, EBP, ESI=6, EDI. */
  readonly regs: Int32Array;
  /** Current privilege level 0..3. */
  readonly cpl: number;
}

/**
 * The host's implementation of each call (implemented by @pv/paravirt-ops). Each is called only
 * after the dispatcher has validated everything it can; `number` results are 0/positive on success
 * or a negative ABI errno (e.g. `-ERRNO.KVM_EINVAL`). A missing handler makes its call -KVM_ENOSYS.
 */
export interface HypercallHandlers {
  /** KVM_HC_KICK_CPU: wake the vCPU with this APIC ID from HLT. Returns 0. */
  kickCpu?(apicId: number): number;
  /**
   * KVM_HC_SEND_IPI: bit n of `bitmapLow` (`bitmapHigh`) targets APIC ID min + n (min + 32 + n); `icr`
   * has physical destination mode and no shorthand (checked). Returns the number delivered.
   */
  sendIpi?(bitmapLow: number, bitmapHigh: number, minApicId: number, icr: number): number;
  /** KVM_HC_SCHED_YIELD: yield towards the vCPU with this APIC ID. Returns 0. */
  schedYield?(apicId: number): number;
  /** One entry of PV_HC_APIC_WRITE_BATCH: `reg` is a multiple of 16 below 0x400. 0 or -errno. */
  apicWrite?(reg: number, value: number): number;
  /**
   * One entry of PV_HC_PT_UPDATE_BATCH: store the `width`-byte entry (valueHi is 0 when width is 4)
   * at `pteGpa`, which is plain RAM and aligned to `width`. 0 or -errno. No TLB flush is implied.
   */
  ptUpdate?(pteGpa: number, valueLo: number, valueHi: number, width: 4 | 8): number;
  /** One address of PV_HC_TLB_FLUSH: INVLPG semantics. */
  tlbFlushOne?(linear: number): void;
  /** PV_HC_TLB_FLUSH with PV_TLB_FLUSH_ALL: flush non-global entries, or everything when `includeGlobal`. */
  tlbFlushAll?(includeGlobal: boolean): void;
  /** PV_HC_CONSOLE_WRITE: `bytes` is valid only during the call. Returns bytes accepted (≤ length). */
  consoleWrite?(bytes: Uint8Array): number;
}

/** Options of `createDispatcher`. */
export interface DispatcherOptions {
  /** Guest-physical memory (the composer adapts @pv/mmu). */
  readonly memory: GuestPhysMemory;
  readonly handlers: HypercallHandlers;
  /** What the host advertises in CPUID; calls of other features are -KVM_ENOSYS. */
  readonly features: AdvertisedFeatures;
}

/** Per-number counters. `calls` counts every invocation, top-level or inside a multicall. */
export interface HypercallCounters {
  /** Top-level hypercalls (VM exits) handled. */
  readonly exits: number;
  /** Top-level or multicall entries with a number the ABI does not define. */
  readonly unknown: number;
  /** Invocations of call `nr` (0 for unknown numbers). */
  calls(nr: number): number;
  /** Invocations of call `nr` that returned a negative errno. */
  failures(nr: number): number;
  /** Every call by name: { nr, calls, failures }. */
  snapshot(): Record<string, { nr: number; calls: number; failures: number }>;
  reset(): void;
}

/** The dispatcher: plug `hypercall` into the CPU's `Hypervisor` slot. */
export interface HypercallDispatcher {
  /** Handle a VMCALL/VMMCALL: read EAX/EBX/ECX/EDX/ESI and the CPL, write the result to EAX. */
  hypercall(cpu: HypercallRegs): void;
  /** The same without registers: run call `nr` at `cpl` (default 0) and return EAX (int32). */
  invoke(nr: number, a0?: number, a1?: number, a2?: number, a3?: number, cpl?: number): number;
  readonly counters: HypercallCounters;
  /** The advertised features as CPUID masks (feed them to `hypervisorCpuid`). */
  readonly features: FeatureMasks;
}

const FEATURE_HANDLERS: Readonly<Record<string, readonly (keyof HypercallHandlers)[]>> = {
  KVM_FEATURE_PV_UNHALT: ['kickCpu'],
  KVM_FEATURE_PV_SEND_IPI: ['sendIpi'],
  KVM_FEATURE_PV_SCHED_YIELD: ['schedYield'],
  PV_FEATURE_MULTICALL: [],
  PV_FEATURE_APIC_WRITE_BATCH: ['apicWrite'],
  PV_FEATURE_PT_UPDATE_BATCH: ['ptUpdate'],
  PV_FEATURE_TLB_FLUSH: ['tlbFlushOne', 'tlbFlushAll'],
  PV_FEATURE_CONSOLE_WRITE: ['consoleWrite'],
};

const MC = CODECS.pv_multicall_entry;
const APIC = CODECS.pv_apic_write;
const PTE = CODECS.pv_pte_update;
const TLB = CODECS.pv_tlb_flush_entry;
const STATUS = CODECS.pv_batch_status;

const EPERM = -ERRNO.KVM_EPERM;
const ENOSYS = -ERRNO.KVM_ENOSYS;
const EFAULT = -ERRNO.KVM_EFAULT;
const EINVAL = -ERRNO.KVM_EINVAL;
const E2BIG = -ERRNO.KVM_E2BIG;
const FOUR_GIB = 0x1_0000_0000;

/** ICR bits KVM rejects in KVM_HC_SEND_IPI: logical destination mode, destination shorthand. */
const ICR_DEST_LOGICAL = 1 << 11;
const ICR_SHORTHAND_MASK = 3 << 18;

/** Every ABI errno, negated: what a batch entry's handler may report. */
const ERRNO_VALUES: ReadonlySet<number> = new Set<number>(MANIFEST.errnos.map((e) => -e.value));

/**
 * What a call-level handler may return besides success: the call's documented errors minus the
 * ones only the dispatcher produces (EPERM, ENOSYS, EFAULT, E2BIG).
 */
function handlerErrnos(call: string): ReadonlySet<number> {
  const def = MANIFEST.calls.find((c) => c.name === call)!;
  const own = new Set(['KVM_EPERM', 'KVM_ENOSYS', 'KVM_EFAULT', 'KVM_E2BIG']);
  return new Set(
    (def.errors as readonly string[])
      .filter((e) => !own.has(e))
      .map((e) => -MANIFEST.errnos.find((x) => x.name === e)!.value),
  );
}
const HANDLER_ERRNOS = {
  kickCpu: handlerErrnos('KVM_HC_KICK_CPU'),
  sendIpi: handlerErrnos('KVM_HC_SEND_IPI'),
  schedYield: handlerErrnos('KVM_HC_SCHED_YIELD'),
  consoleWrite: handlerErrnos('PV_HC_CONSOLE_WRITE'),
};

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/**
 * Create the host dispatcher. Handlers act on the calling vCPU, so an SMP host creates one
 * dispatcher per vCPU (they are cheap: a few scratch buffers). Throws INVALID_CONFIG for unknown or
 * unsupported features, and for an advertised feature whose handlers are missing.
 */
export function createDispatcher(options: DispatcherOptions): HypercallDispatcher {
  if (typeof options !== 'object' || options === null) {
    throw new HypercallError('INVALID_CONFIG', 'createDispatcher: options must be an object');
  }
  const { memory, handlers } = options;
  if (
    typeof memory !== 'object' ||
    memory === null ||
    typeof memory.isRam !== 'function' ||
    typeof memory.read !== 'function' ||
    typeof memory.write !== 'function'
  ) {
    throw new HypercallError(
      'INVALID_CONFIG',
      'createDispatcher: memory must implement isRam, read and write',
    );
  }
  if (typeof handlers !== 'object' || handlers === null) {
    throw new HypercallError('INVALID_CONFIG', 'createDispatcher: handlers must be an object');
  }
  const masks = resolveFeatures(options.features);
  // "Advertise only what works": an advertised call needs its handlers.
  for (const [set, list, mask] of [
    ['kvm', MANIFEST.kvmFeatures, masks.kvm],
    ['pv', MANIFEST.pvFeatures, masks.pv],
  ] as const) {
    for (const f of list) {
      if (!(mask & (1 << f.bit))) continue;
      for (const h of FEATURE_HANDLERS[f.name] ?? []) {
        if (typeof handlers[h] !== 'function') {
          throw new HypercallError(
            'INVALID_CONFIG',
            `createDispatcher: feature ${set}:${f.name} is advertised but handlers.${h} is missing`,
          );
        }
      }
    }
  }

  // Enabled = number known, feature advertised, handlers present.
  const index = new Map<number, number>();
  const enabled: boolean[] = [];
  MANIFEST.calls.forEach((c, i) => {
    index.set(c.nr, i);
    const fdef = (c.feature.set === 'kvm' ? MANIFEST.kvmFeatures : MANIFEST.pvFeatures).find(
      (f) => f.name === c.feature.name,
    )!;
    const advertised = ((c.feature.set === 'kvm' ? masks.kvm : masks.pv) & (1 << fdef.bit)) !== 0;
    const hs = FEATURE_HANDLERS[c.feature.name] ?? [];
    enabled[i] = advertised && hs.every((h) => typeof handlers[h] === 'function');
  });
  const callCount = new Float64Array(MANIFEST.calls.length);
  const failCount = new Float64Array(MANIFEST.calls.length);
  let exits = 0;
  let unknown = 0;

  const limit = {
    multicall: ABI_CONST.PV_MULTICALL_MAX,
    apic: ABI_CONST.PV_APIC_WRITE_BATCH_MAX,
    pt: ABI_CONST.PV_PT_UPDATE_BATCH_MAX,
    tlb: ABI_CONST.PV_TLB_FLUSH_MAX,
    console: ABI_CONST.PV_CONSOLE_WRITE_MAX,
  };
  // Scratch buffers, allocated once: the multicall list, one batch list, the console buffer, a record.
  const mcBytes = new Uint8Array(limit.multicall * MC.size);
  const mcView = new DataView(mcBytes.buffer);
  const batchBytes = new Uint8Array(
    Math.max(limit.apic * APIC.size, limit.pt * PTE.size, limit.tlb * TLB.size),
  );
  const batchView = new DataView(batchBytes.buffer);
  const consoleBytes = new Uint8Array(limit.console);
  const recBytes = new Uint8Array(STATUS.size);
  const recView = new DataView(recBytes.buffer);

  /** Is [gpa, gpa+len) aligned, below 4 GiB and plain RAM? (len ≥ 1) */
  const ramRange = (gpa: number, len: number, align: number): boolean =>
    gpa % align === 0 && gpa + len <= FOUR_GIB && memory.isRam(gpa, len) === true;

  /**
   * Validate a handler's result: an integer in min..max, or a negative errno the ABI allows there
   * (`errnos`: the call's documented errors for call-level handlers, any ABI errno for batch entries).
   */
  const checked = (
    name: string,
    r: unknown,
    min: number,
    max: number,
    errnos: ReadonlySet<number>,
  ): number => {
    if (typeof r === 'number' && Number.isInteger(r) && ((r >= min && r <= max) || errnos.has(r))) return r;
    throw new HypercallError(
      'HANDLER_RESULT',
      `handlers.${name} returned ${String(r)}; expected an integer ${min}..${max} or one of the errnos ${[...errnos].join(', ') || '(none)'}`,
    );
  };

  /** Write a pv_batch_status record (its range was validated). */
  const writeStatus = (gpa: number, applied: number, failedIndex: number, error: number) => {
    recView.setUint32(STATUS.offsets.applied, applied, true);
    recView.setUint32(STATUS.offsets.failed_index, failedIndex >>> 0, true);
    recView.setInt32(STATUS.offsets.error, error, true);
    recView.setUint32(STATUS.offsets.reserved, 0, true);
    memory.write(gpa, recBytes, 0, STATUS.size);
  };

  /** Validate list + optional status of a batch; returns 0 or a negative errno. */
  const checkBatch = (
    list: number,
    count: number,
    max: number,
    size: number,
    align: number,
    status: number,
  ) => {
    if (count > max) return E2BIG;
    if (count > 0 && !ramRange(list, count * size, align)) return EFAULT;
    if (status !== 0 && !ramRange(status, STATUS.size, STATUS.align)) return EFAULT;
    return 0;
  };

  const finishBatch = (status: number, applied: number, count: number, error: number): number => {
    if (status !== 0)
      writeStatus(status, applied, applied < count ? applied : ABI_CONST.PV_BATCH_NO_FAILURE, error);
    return applied;
  };

  function apicBatch(list: number, count: number, status: number): number {
    const bad = checkBatch(list, count, limit.apic, APIC.size, APIC.align, status);
    if (bad) return bad;
    if (count > 0) memory.read(list, batchBytes, 0, count * APIC.size);
    let i = 0;
    let error = 0;
    for (; i < count; i++) {
      const at = i * APIC.size;
      const reg = batchView.getUint32(at + APIC.offsets.reg, true);
      const value = batchView.getUint32(at + APIC.offsets.value, true);
      if ((reg & 0xf) !== 0 || reg >= ABI_CONST.PV_APIC_REG_LIMIT) error = EINVAL;
      else {
        const r = checked('apicWrite', handlers.apicWrite!(reg, value), 0, 0x7fffffff, ERRNO_VALUES);
        if (r < 0) error = r;
      }
      if (error) break;
    }
    return finishBatch(status, i, count, error);
  }

  function ptBatch(list: number, count: number, status: number, flags: number): number {
    if (flags & ~ABI_CONST.PV_PT_UPDATE_PAE) return EINVAL;
    const bad = checkBatch(list, count, limit.pt, PTE.size, PTE.align, status);
    if (bad) return bad;
    const width = flags & ABI_CONST.PV_PT_UPDATE_PAE ? 8 : 4;
    if (count > 0) memory.read(list, batchBytes, 0, count * PTE.size);
    let i = 0;
    let error = 0;
    for (; i < count; i++) {
      const at = i * PTE.size;
      const gpaLo = batchView.getUint32(at + PTE.offsets.pte_gpa, true);
      const gpaHi = batchView.getUint32(at + PTE.offsets.pte_gpa + 4, true);
      const lo = batchView.getUint32(at + PTE.offsets.value, true);
      const hi = batchView.getUint32(at + PTE.offsets.value + 4, true);
      if (gpaHi !== 0 || !ramRange(gpaLo, width, width)) error = EFAULT;
      else if (width === 4 && hi !== 0) error = EINVAL;
      else {
        const r = checked('ptUpdate', handlers.ptUpdate!(gpaLo, lo, hi, width), 0, 0x7fffffff, ERRNO_VALUES);
        if (r < 0) error = r;
      }
      if (error) break;
    }
    return finishBatch(status, i, count, error);
  }

  function tlbFlush(list: number, count: number, flags: number): number {
    const ALL = ABI_CONST.PV_TLB_FLUSH_ALL;
    const GLOBAL = ABI_CONST.PV_TLB_FLUSH_GLOBAL;
    if (flags & ~(ALL | GLOBAL)) return EINVAL;
    if (flags & ALL) {
      if (list !== 0 || count !== 0) return EINVAL;
      handlers.tlbFlushAll!((flags & GLOBAL) !== 0);
      return 0;
    }
    if (flags & GLOBAL) return EINVAL;
    const bad = checkBatch(list, count, limit.tlb, TLB.size, TLB.align, 0);
    if (bad) return bad;
    if (count > 0) memory.read(list, batchBytes, 0, count * TLB.size);
    for (let i = 0; i < count; i++)
      handlers.tlbFlushOne!(batchView.getUint32(i * TLB.size + TLB.offsets.linear, true));
    return count;
  }

  function consoleWrite(buf: number, len: number): number {
    if (len > limit.console) return E2BIG;
    if (len === 0) return 0;
    if (!ramRange(buf, len, 1)) return EFAULT;
    memory.read(buf, consoleBytes, 0, len);
    return checked(
      'consoleWrite',
      handlers.consoleWrite!(consoleBytes.subarray(0, len)),
      0,
      len,
      HANDLER_ERRNOS.consoleWrite,
    );
  }

  function sendIpi(low: number, high: number, min: number, icr: number): number {
    if (icr & (ICR_DEST_LOGICAL | ICR_SHORTHAND_MASK)) return EINVAL;
    return checked(
      'sendIpi',
      handlers.sendIpi!(low, high, min, icr),
      0,
      popcount(low) + popcount(high),
      HANDLER_ERRNOS.sendIpi,
    );
  }

  function multicall(list: number, count: number): number {
    if (count > limit.multicall) return E2BIG;
    if (count === 0) return 0;
    if (!ramRange(list, count * MC.size, MC.align)) return EFAULT;
    // The whole list is read before the first entry runs (entries cannot rewrite later entries).
    memory.read(list, mcBytes, 0, count * MC.size);
    for (let i = 0; i < count; i++) {
      const at = i * MC.size;
      const nr = mcView.getUint32(at + MC.offsets.nr, true);
      const a = at + MC.offsets.args;
      const r =
        nr === HC.PV_HC_MULTICALL
          ? count1(nr, EINVAL)
          : call(
              nr,
              mcView.getUint32(a, true),
              mcView.getUint32(a + 4, true),
              mcView.getUint32(a + 8, true),
              mcView.getUint32(a + 12, true),
            );
      recView.setInt32(0, r, true);
      memory.write(list + at + MC.offsets.result, recBytes, 0, 4);
      if (r < 0) return i;
    }
    return count;
  }

  /** Count an invocation of `nr` with result `r` and return `r`. */
  function count1(nr: number, r: number): number {
    const i = index.get(nr);
    if (i === undefined) unknown++;
    else {
      callCount[i]!++;
      if (r < 0) failCount[i]!++;
    }
    return r;
  }

  /** Run one call at CPL 0 (arguments as unsigned 32-bit numbers); returns its result. */
  function call(nr: number, a0: number, a1: number, a2: number, a3: number): number {
    const i = index.get(nr);
    if (i === undefined || !enabled[i]) return count1(nr, ENOSYS);
    let r: number;
    switch (nr) {
      case HC.KVM_HC_KICK_CPU:
        r = checked('kickCpu', handlers.kickCpu!(a1), 0, 0, HANDLER_ERRNOS.kickCpu);
        break;
      case HC.KVM_HC_SEND_IPI:
        r = sendIpi(a0, a1, a2, a3);
        break;
      case HC.KVM_HC_SCHED_YIELD:
        r = checked('schedYield', handlers.schedYield!(a0), 0, 0, HANDLER_ERRNOS.schedYield);
        break;
      case HC.PV_HC_MULTICALL:
        r = multicall(a0, a1);
        break;
      case HC.PV_HC_APIC_WRITE_BATCH:
        r = apicBatch(a0, a1, a2);
        break;
      case HC.PV_HC_PT_UPDATE_BATCH:
        r = ptBatch(a0, a1, a2, a3);
        break;
      case HC.PV_HC_TLB_FLUSH:
        r = tlbFlush(a0, a1, a2);
        break;
      case HC.PV_HC_CONSOLE_WRITE:
        r = consoleWrite(a0, a1);
        break;
      default:
        r = ENOSYS;
    }
    return count1(nr, r);
  }

  function invoke(nr: number, a0 = 0, a1 = 0, a2 = 0, a3 = 0, cpl = 0): number {
    exits++;
    nr >>>= 0;
    if (cpl !== 0) return count1(nr, EPERM);
    return call(nr, a0 >>> 0, a1 >>> 0, a2 >>> 0, a3 >>> 0) | 0;
  }

  const counters: HypercallCounters = {
    get exits() {
      return exits;
    },
    get unknown() {
      return unknown;
    },
    calls: (nr) => {
      const i = index.get(nr >>> 0);
      return i === undefined ? 0 : callCount[i]!;
    },
    failures: (nr) => {
      const i = index.get(nr >>> 0);
      return i === undefined ? 0 : failCount[i]!;
    },
    snapshot: () =>
      Object.fromEntries(
        MANIFEST.calls.map((c, i) => [c.name, { nr: c.nr, calls: callCount[i]!, failures: failCount[i]! }]),
      ),
    reset: () => {
      callCount.fill(0);
      failCount.fill(0);
      exits = 0;
      unknown = 0;
    },
  };

  return {
    hypercall(cpu) {
      const g = cpu.regs;
      g[EAX] = invoke(g[EAX]!, g[EBX]!, g[ECX]!, g[EDX]!, g[ESI]!, cpu.cpl);
    },
    invoke,
    counters,
    features: masks,
  };
}
