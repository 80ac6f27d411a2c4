/**
 * Wrappers that compose around any `PvOps` without the callers knowing (DESIGN.md §5):
 * `withStats` (per-op counts, wall time, exits and virtual cycles per path) and `withTrace` (a
 * bounded ring of the last ops). A wrapper never changes an op's arguments or result.
 */
import { ParavirtError } from './errors';
import type { ExitKind, ExitPath, PvOpName, PvOps } from './types';
import { EXIT_KIND_NAMES as EXIT_NAMES, PV_GROUPS } from './types';

type AnyFn = (...args: never[]) => unknown;

/** Rebuild `ops` with every op passed through `wrap` (name "group.op"). */
export function mapOps(ops: PvOps, wrap: (name: PvOpName, index: number, fn: AnyFn) => AnyFn): PvOps {
  const out: Record<string, Record<string, unknown>> = {};
  let index = 0;
  for (const g of PV_GROUPS) {
    const group = ops[g] as unknown as Record<string, unknown>;
    const ng: Record<string, unknown> = {};
    for (const k of Object.keys(group)) {
      const fn = group[k];
      ng[k] =
        typeof fn === 'function' ? wrap(`${g}.${k}` as PvOpName, index++, (fn as AnyFn).bind(group)) : fn;
    }
    out[g] = ng;
  }
  return out as unknown as PvOps;
}

/** Every op name, in vtable order (the index `mapOps` passes). */
export function opNames(ops: PvOps): PvOpName[] {
  const names: PvOpName[] = [];
  mapOps(ops, (name, _i, fn) => {
    names.push(name);
    return fn;
  });
  return names;
}

/** Options of `withStats`. */
export interface StatsOptions {
  /** Virtual cycles charged per exit (DESIGN.md §3; default 1500, a VT-x round trip). */
  exitCost?: number;
  /** Host time source in milliseconds for wall-time accounting (default `performance.now`). */
  now?: () => number;
}

/** Per-path exit figures. */
export interface PathStats {
  /** Exits on this path. */
  exits: number;
  /** Virtual cycles those exits cost (exits × exitCost). */
  cycles: number;
  /** Exits per kind (only kinds that occurred). */
  byKind: Partial<Record<ExitKind, number>>;
}

/** A `withStats` snapshot. */
export interface PvStatsSnapshot {
  /** Calls and host wall time (ms) per op (only ops that were called). */
  ops: Partial<Record<PvOpName, { calls: number; wallMs: number }>>;
  trap: PathStats;
  hypercall: PathStats;
}

/** The counters of `withStats`. */
export interface PvStats {
  /** Calls of one op so far. */
  calls(op: PvOpName): number;
  /** Exits of a path (optionally of one kind). */
  exits(path: ExitPath, kind?: ExitKind): number;
  /** Virtual cycles the exits of a path cost. */
  cycles(path: ExitPath): number;
  snapshot(): PvStatsSnapshot;
  reset(): void;
}

/** `withStats` result: the wrapped vtable plus its counters. */
export type StatsOps = PvOps & { readonly stats: PvStats };

const KIND_INDEX = new Map<string, number>(EXIT_NAMES.map((n, i) => [n, i]));

/** Count every op call (and its host wall time) and every exit per path and kind. */
export function withStats(ops: PvOps, options: StatsOptions = {}): StatsOps {
  const exitCost = options.exitCost ?? 1500;
  if (!Number.isFinite(exitCost) || exitCost < 0) {
    throw new ParavirtError('INVALID_CONFIG', `withStats: exitCost ${String(exitCost)} is not a number ≥ 0`);
  }
  const now = options.now ?? (() => performance.now());
  if (typeof now !== 'function')
    throw new ParavirtError('INVALID_CONFIG', 'withStats: now is not a function');
  const names = opNames(ops);
  const calls = new Float64Array(names.length);
  const wall = new Float64Array(names.length);
  const kinds = EXIT_NAMES.length;
  /** [path 0 = trap, 1 = hypercall][kind] */
  const exits = new Float64Array(2 * kinds);

  const wrapped = mapOps(ops, (name, i, fn) => {
    if (name === 'exit.record') {
      return ((vcpu: number, path: ExitPath, kind: ExitKind) => {
        const k = KIND_INDEX.get(kind);
        if (k !== undefined) exits[(path === 'hypercall' ? kinds : 0) + k]!++;
        calls[i]!++;
        return (fn as (v: number, p: ExitPath, k: ExitKind) => void)(vcpu, path, kind);
      }) as AnyFn;
    }
    return ((...args: never[]) => {
      calls[i]!++;
      const t0 = now();
      try {
        return fn(...args);
      } finally {
        wall[i]! += now() - t0;
      }
    }) as AnyFn;
  });

  const pathExits = (path: ExitPath, kind?: ExitKind): number => {
    const base = path === 'hypercall' ? kinds : 0;
    if (kind !== undefined) return exits[base + (KIND_INDEX.get(kind) ?? 0)]!;
    let n = 0;
    for (let k = 0; k < kinds; k++) n += exits[base + k]!;
    return n;
  };
  const pathStats = (path: ExitPath): PathStats => {
    const byKind: Partial<Record<ExitKind, number>> = {};
    const base = path === 'hypercall' ? kinds : 0;
    EXIT_NAMES.forEach((n, k) => {
      if (exits[base + k]! > 0) byKind[n] = exits[base + k]!;
    });
    const e = pathExits(path);
    return { exits: e, cycles: e * exitCost, byKind };
  };
  const stats: PvStats = {
    calls: (op) => {
      const i = names.indexOf(op);
      return i < 0 ? 0 : calls[i]!;
    },
    exits: pathExits,
    cycles: (path) => pathExits(path) * exitCost,
    snapshot() {
      const o: PvStatsSnapshot['ops'] = {};
      names.forEach((n, i) => {
        if (calls[i]! > 0) o[n] = { calls: calls[i]!, wallMs: wall[i]! };
      });
      return { ops: o, trap: pathStats('trap'), hypercall: pathStats('hypercall') };
    },
    reset() {
      calls.fill(0);
      wall.fill(0);
      exits.fill(0);
    },
  };
  return Object.assign(wrapped, { stats });
}

/** One traced op call. */
export interface TraceEntry {
  /** Sequence number of the call (0-based, over the wrapper's life). */
  seq: number;
  op: PvOpName;
  /** The first four arguments as numbers (bigint converted, arrays/bytes as their length, else NaN). */
  args: [number, number, number, number];
  /** The result as a number (boolean 1/0, undefined NaN, a tuple its first element). */
  result: number;
}

/** The ring of `withTrace`. */
export interface PvTrace {
  readonly capacity: number;
  /** Calls traced so far (including those that fell out of the ring). */
  readonly total: number;
  /** The retained entries, oldest first (copies). */
  entries(): TraceEntry[];
  clear(): void;
}

export type TraceOps = PvOps & { readonly trace: PvTrace };

function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (Array.isArray(v)) return typeof v[0] === 'number' ? v[0] : v.length;
  if (ArrayBuffer.isView(v)) return (v as Uint8Array).length;
  return Number.NaN;
}

/** Record the last `capacity` op calls (default 256) in a preallocated ring. */
export function withTrace(ops: PvOps, options: { capacity?: number } = {}): TraceOps {
  const capacity = options.capacity ?? 256;
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 20) {
    throw new ParavirtError('INVALID_CONFIG', `withTrace: capacity ${String(capacity)} is not in 1..2^20`);
  }
  const ring: TraceEntry[] = Array.from({ length: capacity }, () => ({
    seq: -1,
    op: 'exit.record' as PvOpName,
    args: [0, 0, 0, 0] as [number, number, number, number],
    result: 0,
  }));
  let total = 0;
  const wrapped = mapOps(
    ops,
    (name, _i, fn) =>
      ((...args: never[]) => {
        const e = ring[total % capacity]!;
        e.seq = total++;
        e.op = name;
        for (let k = 0; k < 4; k++) e.args[k] = k < args.length ? num(args[k]) : Number.NaN;
        const r = fn(...args);
        e.result = num(r);
        return r;
      }) as AnyFn,
  );
  const trace: PvTrace = {
    capacity,
    get total() {
      return total;
    },
    entries() {
      const n = Math.min(total, capacity);
      const out: TraceEntry[] = [];
      for (let s = total - n; s < total; s++) {
        const e = ring[s % capacity]!;
        out.push({ seq: e.seq, op: e.op, args: [...e.args] as TraceEntry['args'], result: e.result });
      }
      return out;
    },
    clear() {
      total = 0;
    },
  };
  return Object.assign(wrapped, { trace });
}
