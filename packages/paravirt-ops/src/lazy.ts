/**
 * `withLazy`: Linux's lazy modes (paravirt_types.h `lazy_mode {enter, leave, flush}`) on the host
 * side. While a vCPU is in lazy MMU mode its PTE stores and TLB flushes are queued; while it is in
 * lazy CPU mode its xAPIC register writes and EOIs are queued. The queue is applied, in order, when
 * the mode is left or flushed, or before any op that could observe or depend on the queued effects
 * (every op other than the pure ones listed in NO_FLUSH): an APIC read after queued APIC writes, a
 * translation after queued PTE stores, a CR3 load, an MSR access, a halt…
 *
 * Results are never changed: an op is queued only when its result is known without running it —
 * a PTE store whose precondition (`mmu.checkPte`, which depends only on the physical map) holds,
 * an xAPIC-mode register write (always 0: an MMIO store completes; the APIC mode changes only
 * through IA32_APIC_BASE, which flushes first), a TLB flush or EOI (no result). Anything else runs
 * at once, after the queue.
 *
 * Applying the queue: runs of APIC writes of one vCPU become one `apic.writeBatch`, runs of PTE
 * stores one `mmu.updateBatch`.
 */
import type { ApicBatchEntry } from '@pv/apic';
import { ParavirtError } from './errors';
import type { PteWrite, PvOpName, PvOps } from './types';
import { mapOps } from './wrappers';

const Q_PTE = 0;
const Q_FLUSH_ONE = 1;
const Q_FLUSH_ALL = 2;
const Q_APIC = 3;
const Q_EOI = 4;

/** Ops that neither observe nor change what the queue holds: they never flush it. */
const NO_FLUSH: ReadonlySet<PvOpName> = new Set<PvOpName>([
  'cpu.lazyEnter',
  'mmu.lazyEnter',
  'mmu.checkPte',
  'apic.mode',
  'irq.saveFl',
  'irq.halted',
  'time.tsc',
  'time.systemTimeNs',
  'exit.record',
]);

/** The lazy state of `withLazy`. */
export interface PvLazy {
  /** Is the vCPU in lazy MMU / CPU mode? */
  mmuMode(vcpu: number): boolean;
  cpuMode(vcpu: number): boolean;
  /** Ops waiting in the queue (all vCPUs). */
  readonly queued: number;
  /** Queue applications so far (for tests and benchmarks). */
  readonly flushes: number;
}

export type LazyOps = PvOps & { readonly lazy: PvLazy };

/** Wrap `ops` with lazy MMU / CPU modes. */
export function withLazy(ops: PvOps, options: { maxQueue?: number } = {}): LazyOps {
  const maxQueue = options.maxQueue ?? 1024;
  if (!Number.isInteger(maxQueue) || maxQueue < 1) {
    throw new ParavirtError(
      'INVALID_CONFIG',
      `withLazy: maxQueue ${String(maxQueue)} is not a positive integer`,
    );
  }
  // The queue: parallel typed arrays (kind, vcpu, a, b, c, d), no allocation per op.
  const kind = new Uint8Array(maxQueue);
  const qv = new Int32Array(maxQueue);
  const qa = new Float64Array(maxQueue);
  const qb = new Float64Array(maxQueue);
  const qc = new Float64Array(maxQueue);
  const qd = new Float64Array(maxQueue);
  let n = 0;
  let flushes = 0;
  let flushing = false;
  const mmuLazy = new Set<number>();
  const cpuLazy = new Set<number>();
  const apicBatch: ApicBatchEntry[] = [];
  const pteBatch: PteWrite[] = [];
  const one = [0];

  const apply = (): void => {
    if (n === 0 || flushing) return;
    flushing = true;
    flushes++;
    try {
      let i = 0;
      while (i < n) {
        const k = kind[i]!;
        const v = qv[i]!;
        if (k === Q_APIC) {
          apicBatch.length = 0;
          while (i < n && kind[i] === Q_APIC && qv[i] === v) {
            apicBatch.push({ reg: qa[i]!, value: qb[i]!, high: qc[i]! });
            i++;
          }
          ops.apic.writeBatch(v, apicBatch);
          continue;
        }
        if (k === Q_PTE) {
          pteBatch.length = 0;
          while (i < n && kind[i] === Q_PTE && qv[i] === v) {
            pteBatch.push({ gpa: qa[i]!, lo: qb[i]!, hi: qc[i]!, width: qd[i] as 4 | 8 });
            i++;
          }
          ops.mmu.updateBatch(v, pteBatch);
          continue;
        }
        if (k === Q_FLUSH_ONE) {
          one[0] = qa[i]!;
          ops.mmu.flushTlbList(v, one);
        } else if (k === Q_FLUSH_ALL) ops.mmu.flushTlbAll(v, qa[i] === 1);
        else if (k === Q_EOI) ops.apic.eoi(v);
        i++;
      }
    } finally {
      n = 0;
      flushing = false;
    }
  };

  const push = (k: number, v: number, a = 0, b = 0, c = 0, d = 0): void => {
    if (n === maxQueue) apply();
    kind[n] = k;
    qv[n] = v;
    qa[n] = a;
    qb[n] = b;
    qc[n] = c;
    qd[n] = d;
    n++;
  };

  // Every op flushes first unless it is pure; the deferrable ones are replaced below.
  const base = mapOps(ops, (name, _i, fn) =>
    NO_FLUSH.has(name)
      ? fn
      : (((...args: never[]) => {
          apply();
          return fn(...args);
        }) as typeof fn),
  );
  const queueable = (v: number) => mmuLazy.has(v);
  const apicQueueable = (v: number) => cpuLazy.has(v) && ops.apic.mode(v) === 'xapic';

  const lazyOps: PvOps = {
    ...base,
    cpu: {
      ...base.cpu,
      lazyEnter(vcpu) {
        ops.cpu.lazyEnter(vcpu);
        cpuLazy.add(vcpu);
      },
      lazyLeave(vcpu) {
        cpuLazy.delete(vcpu);
        apply();
        ops.cpu.lazyLeave(vcpu);
      },
    },
    mmu: {
      ...base.mmu,
      setPte(vcpu, gpa, lo, hi, width) {
        if (!queueable(vcpu)) return base.mmu.setPte(vcpu, gpa, lo, hi, width);
        const bad = ops.mmu.checkPte(vcpu, gpa, hi, width);
        if (bad < 0) return bad;
        push(Q_PTE, vcpu, gpa, lo >>> 0, hi >>> 0, width);
        return 0;
      },
      updateBatch(vcpu, writes) {
        if (!queueable(vcpu)) return base.mmu.updateBatch(vcpu, writes);
        let i = 0;
        for (; i < writes.length; i++) {
          const w = writes[i]!;
          if (ops.mmu.checkPte(vcpu, w.gpa, w.hi, w.width) < 0) break;
          push(Q_PTE, vcpu, w.gpa, w.lo >>> 0, w.hi >>> 0, w.width);
        }
        return i;
      },
      flushTlbOne(vcpu, linear) {
        if (!queueable(vcpu)) return base.mmu.flushTlbOne(vcpu, linear);
        push(Q_FLUSH_ONE, vcpu, linear >>> 0);
      },
      flushTlbAll(vcpu, includeGlobal) {
        if (!queueable(vcpu)) return base.mmu.flushTlbAll(vcpu, includeGlobal);
        push(Q_FLUSH_ALL, vcpu, includeGlobal === true ? 1 : 0);
      },
      flushTlbList(vcpu, linear) {
        if (!queueable(vcpu)) return base.mmu.flushTlbList(vcpu, linear);
        for (let i = 0; i < linear.length; i++) push(Q_FLUSH_ONE, vcpu, linear[i]! >>> 0);
      },
      lazyEnter(vcpu) {
        ops.mmu.lazyEnter(vcpu);
        mmuLazy.add(vcpu);
      },
      lazyLeave(vcpu) {
        mmuLazy.delete(vcpu);
        apply();
        ops.mmu.lazyLeave(vcpu);
      },
      lazyFlush(vcpu) {
        apply();
        ops.mmu.lazyFlush(vcpu);
      },
    },
    apic: {
      ...base.apic,
      write(vcpu, reg, value, high = 0) {
        if (!apicQueueable(vcpu)) return base.apic.write(vcpu, reg, value, high);
        push(Q_APIC, vcpu, reg, value >>> 0, high >>> 0);
        return 0;
      },
      writeBatch(vcpu, entries) {
        if (!apicQueueable(vcpu)) return base.apic.writeBatch(vcpu, entries);
        for (const e of entries) push(Q_APIC, vcpu, e.reg, e.value >>> 0, (e.high ?? 0) >>> 0);
        return entries.length;
      },
      eoi(vcpu) {
        if (!cpuLazy.has(vcpu)) return base.apic.eoi(vcpu);
        push(Q_EOI, vcpu);
      },
    },
  };
  const lazy: PvLazy = {
    mmuMode: (v) => mmuLazy.has(v),
    cpuMode: (v) => cpuLazy.has(v),
    get queued() {
      return n;
    },
    get flushes() {
      return flushes;
    },
  };
  return Object.assign(lazyOps, { lazy });
}
