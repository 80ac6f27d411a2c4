/**
 * ABI snapshots: the compatibility-relevant projection of the manifest (numbers, registers, layouts;
 * no prose), recorded as `abi/<version>.json` for every released ABI, and the validators for both
 * manifests and snapshots (a malformed one is reported naming the entry).
 */
import { SCALAR_SIZE } from './codec';
import { HypercallError } from './errors';
import { ARG_REGISTERS, type Manifest, type ScalarType } from './manifest-types';

/** Snapshot schema version (the shape of the JSON file, not the ABI version). */
export const SNAPSHOT_SCHEMA = 1;

export interface SnapshotField {
  name: string;
  offset: number;
  type: ScalarType;
  count?: number;
}
export interface SnapshotStruct {
  name: string;
  size: number;
  align: number;
  fields: SnapshotField[];
}
export interface SnapshotArg {
  reg: string;
  name: string;
  kind: string;
  struct?: string;
  countArg?: string;
  optional?: boolean;
  /** For counts: the limit constant. */
  max?: string;
  /** For flags: the defined flag constants. */
  flags?: string[];
}
export interface SnapshotCall {
  name: string;
  nr: number;
  feature: string;
  args: SnapshotArg[];
}
export interface AbiSnapshot {
  schema: number;
  version: string;
  pvSignature: string;
  cpuidLeaves: { name: string; leaf: number }[];
  kvmFeatures: { name: string; bit: number }[];
  pvFeatures: { name: string; bit: number }[];
  errnos: { name: string; value: number }[];
  constants: { name: string; value: number; kind: string }[];
  structs: SnapshotStruct[];
  msrs: { name: string; index: number; struct?: string }[];
  calls: SnapshotCall[];
}

/** Project a manifest onto its snapshot (what `pv-abi record` writes). */
export function describeAbi(m: Manifest): AbiSnapshot {
  return {
    schema: SNAPSHOT_SCHEMA,
    version: m.version,
    pvSignature: m.pvSignature,
    cpuidLeaves: m.cpuidLeaves.map(({ name, leaf }) => ({ name, leaf })),
    kvmFeatures: m.kvmFeatures.map(({ name, bit }) => ({ name, bit })),
    pvFeatures: m.pvFeatures.map(({ name, bit }) => ({ name, bit })),
    errnos: m.errnos.map(({ name, value }) => ({ name, value })),
    constants: m.constants.map(({ name, value, kind }) => ({ name, value, kind })),
    structs: m.structs.map((s) => ({
      name: s.name,
      size: s.size,
      align: s.align,
      fields: s.fields.map((f) => ({
        name: f.name,
        offset: f.offset,
        type: f.type,
        ...(f.count === undefined ? {} : { count: f.count }),
      })),
    })),
    msrs: m.msrs.map((r) => ({ name: r.name, index: r.index, ...(r.struct ? { struct: r.struct } : {}) })),
    calls: m.calls.map((c) => ({
      name: c.name,
      nr: c.nr,
      feature: `${c.feature.set}:${c.feature.name}`,
      args: c.args.map((a) => ({
        reg: a.reg,
        name: a.name,
        kind: a.kind,
        ...(a.struct ? { struct: a.struct } : {}),
        ...(a.countArg ? { countArg: a.countArg } : {}),
        ...(a.optional ? { optional: true } : {}),
        ...(a.max ? { max: a.max } : {}),
        ...(a.flags ? { flags: [...a.flags] } : {}),
      })),
    })),
  };
}

/**
 * Canonical JSON text of a snapshot: 2-space indent, objects expanded, arrays of scalars on one line
 * when they fit in 110 columns — the layout biome's JSON formatter keeps unchanged.
 */
export function snapshotJson(s: AbiSnapshot): string {
  const fmt = (v: unknown, indent: string, lead: number): string => {
    if (Array.isArray(v)) {
      if (v.length === 0) return '[]';
      if (v.every((x) => typeof x !== 'object' || x === null)) {
        const one = `[${v.map((x) => JSON.stringify(x)).join(', ')}]`;
        if (lead + one.length <= 110) return one;
      }
      const inner = `${indent}  `;
      return `[\n${v.map((x) => inner + fmt(x, inner, inner.length)).join(',\n')}\n${indent}]`;
    }
    if (typeof v === 'object' && v !== null) {
      const entries = Object.entries(v).filter(([, x]) => x !== undefined);
      if (entries.length === 0) return '{}';
      const inner = `${indent}  `;
      const body = entries.map(([k, x]) => {
        const key = `${inner}${JSON.stringify(k)}: `;
        return key + fmt(x, inner, key.length + 1);
      });
      return `{\n${body.join(',\n')}\n${indent}}`;
    }
    return JSON.stringify(v);
  };
  return `${fmt(s, '', 0)}\n`;
}

// ---------------------------------------------------------------------------------------------
// Shared layout / numbering invariants (used on manifests and on parsed snapshots)

function isU32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

function checkUnique(
  problems: string[],
  where: string,
  list: readonly { name: string }[],
  key?: (e: never) => number,
): void {
  const names = new Map<string, number>();
  const nums = new Map<number, string>();
  list.forEach((e, i) => {
    if (names.has(e.name))
      problems.push(`${where}[${i}] "${e.name}": duplicate name (also ${where}[${names.get(e.name)}])`);
    names.set(e.name, i);
    if (key) {
      const n = key(e as never);
      const other = nums.get(n);
      if (other !== undefined)
        problems.push(`${where}[${i}] "${e.name}": number ${n} already used by "${other}"`);
      nums.set(n, e.name);
    }
  });
}

function checkStructs(problems: string[], structs: readonly SnapshotStruct[] | Manifest['structs']): void {
  structs.forEach((s, i) => {
    const at = `structs[${i}] "${s.name}"`;
    if (!isU32(s.size) || s.size === 0) problems.push(`${at}: size must be a positive integer`);
    if (!isU32(s.align) || s.align === 0 || (s.align & (s.align - 1)) !== 0) {
      problems.push(`${at}: align must be a power of two`);
    } else if (s.size % s.align !== 0)
      problems.push(`${at}: size ${s.size} is not a multiple of align ${s.align}`);
    const covered = new Uint8Array(isU32(s.size) ? Math.min(s.size, 1 << 16) : 0);
    const seen = new Set<string>();
    for (const [j, f] of s.fields.entries()) {
      const fat = `${at} field ${j} "${f.name}"`;
      if (seen.has(f.name)) problems.push(`${fat}: duplicate field name`);
      seen.add(f.name);
      const n = SCALAR_SIZE[f.type as ScalarType];
      if (n === undefined) {
        problems.push(`${fat}: unknown type "${String(f.type)}"`);
        continue;
      }
      if (f.count !== undefined && (!isU32(f.count) || f.count === 0)) {
        problems.push(`${fat}: count must be a positive integer`);
        continue;
      }
      const len = n * (f.count ?? 1);
      if (!isU32(f.offset) || f.offset + len > s.size) {
        problems.push(
          `${fat}: bytes ${f.offset}..${f.offset + len - 1} lie outside the ${s.size}-byte struct`,
        );
        continue;
      }
      if (f.offset % n !== 0)
        problems.push(`${fat}: offset ${f.offset} is not a multiple of its ${n}-byte type`);
      for (let b = f.offset; b < f.offset + len; b++) {
        if (covered[b]) {
          problems.push(`${fat}: overlaps another field at byte ${b}`);
          break;
        }
        covered[b] = 1;
      }
    }
    const gap = covered.indexOf(0);
    if (gap >= 0 && gap < s.size)
      problems.push(`${at}: byte ${gap} is not covered by a field (declare padding)`);
  });
}

/** Every invariant of a manifest; returns the problems, each naming the entry. */
export function manifestProblems(m: Manifest): string[] {
  const p: string[] = [];
  if (!/^\d+\.\d+\.\d+/.test(m.version)) p.push(`version "${m.version}" is not semver`);
  if (m.pvSignature.length !== 12) p.push(`pvSignature must be 12 characters, is ${m.pvSignature.length}`);
  checkUnique(p, 'cpuidLeaves', m.cpuidLeaves, (e: { leaf: number }) => e.leaf);
  checkUnique(p, 'kvmFeatures', m.kvmFeatures, (e: { bit: number }) => e.bit);
  checkUnique(p, 'pvFeatures', m.pvFeatures, (e: { bit: number }) => e.bit);
  checkUnique(p, 'errnos', m.errnos, (e: { value: number }) => e.value);
  checkUnique(p, 'constants', m.constants);
  checkUnique(p, 'structs', m.structs);
  checkUnique(p, 'msrs', m.msrs, (e: { index: number }) => e.index);
  checkUnique(p, 'calls', m.calls, (e: { nr: number }) => e.nr);
  for (const [set, list] of [
    ['kvmFeatures', m.kvmFeatures],
    ['pvFeatures', m.pvFeatures],
  ] as const) {
    list.forEach((f, i) => {
      if (!Number.isInteger(f.bit) || f.bit < 0 || f.bit > 31)
        p.push(`${set}[${i}] "${f.name}": bit must be 0..31`);
    });
  }
  // The C header puts all these names in one namespace.
  const global = new Map<string, string>();
  for (const [cat, list] of [
    ['cpuidLeaves', m.cpuidLeaves],
    ['kvmFeatures', m.kvmFeatures],
    ['pvFeatures', m.pvFeatures],
    ['errnos', m.errnos],
    ['constants', m.constants],
    ['msrs', m.msrs],
    ['calls', m.calls],
  ] as const) {
    for (const e of list as readonly { name: string }[]) {
      const other = global.get(e.name);
      if (other !== undefined && other !== cat) p.push(`${cat} "${e.name}": name already used in ${other}`);
      if (!/^[A-Z][A-Z0-9_]*$/.test(e.name)) p.push(`${cat} "${e.name}": not an UPPER_SNAKE C identifier`);
      global.set(e.name, cat);
    }
  }
  for (const s of m.structs) {
    if (!/^[a-z][a-z0-9_]*$/.test(s.name)) p.push(`structs "${s.name}": not a lower_snake C identifier`);
  }
  checkStructs(p, m.structs);
  const structNames = new Set(m.structs.map((s) => s.name));
  const constByName = new Map(m.constants.map((c) => [c.name, c]));
  const errnoNames = new Set(m.errnos.map((e) => e.name));
  const featureExists = (f: { set: string; name: string }) =>
    (f.set === 'kvm' ? m.kvmFeatures : m.pvFeatures).some((x) => x.name === f.name);
  const pvBase = constByName.get('PV_HC_BASE')?.value;
  if (pvBase === undefined) p.push('constants: PV_HC_BASE is missing');
  m.msrs.forEach((r, i) => {
    const at = `msrs[${i}] "${r.name}"`;
    if (!isU32(r.index)) p.push(`${at}: index must be a 32-bit number`);
    if (r.struct && !structNames.has(r.struct)) p.push(`${at}: unknown struct "${r.struct}"`);
    if (r.feature && !featureExists(r.feature))
      p.push(`${at}: unknown feature ${r.feature.set}:${r.feature.name}`);
  });
  m.calls.forEach((c, i) => {
    const at = `calls[${i}] "${c.name}"`;
    if (!isU32(c.nr)) p.push(`${at}: nr must be a 32-bit number`);
    if (pvBase !== undefined && (c.origin === 'pv') !== c.nr >= pvBase) {
      p.push(`${at}: ${c.origin} call number ${c.nr} is on the wrong side of PV_HC_BASE ${pvBase}`);
    }
    if (!featureExists(c.feature)) p.push(`${at}: unknown feature ${c.feature.set}:${c.feature.name}`);
    for (const e of c.errors) if (!errnoNames.has(e)) p.push(`${at}: unknown errno "${e}"`);
    const regs = new Set<string>();
    const argNames = new Map(c.args.map((a) => [a.name, a]));
    c.args.forEach((a, j) => {
      const aat = `${at} arg ${j} "${a.name}"`;
      if (!ARG_REGISTERS.includes(a.reg))
        p.push(`${aat}: register must be one of ${ARG_REGISTERS.join(', ')}`);
      if (regs.has(a.reg)) p.push(`${aat}: register ${a.reg} used twice`);
      regs.add(a.reg);
      if (a.struct && !structNames.has(a.struct)) p.push(`${aat}: unknown struct "${a.struct}"`);
      if (a.countArg && argNames.get(a.countArg)?.kind !== 'count') {
        p.push(`${aat}: countArg "${a.countArg}" is not a count argument of the call`);
      }
      if (a.max !== undefined && constByName.get(a.max)?.kind !== 'limit') {
        p.push(`${aat}: max "${a.max}" is not a limit constant`);
      }
      for (const f of a.flags ?? []) {
        if (constByName.get(f)?.kind !== 'flag') p.push(`${aat}: flag "${f}" is not a flag constant`);
      }
      if (a.kind === 'count' && a.max === undefined) p.push(`${aat}: a count argument needs a max`);
    });
  });
  return p;
}

/** Throw INVALID_MANIFEST listing every problem, if any. */
export function assertValidManifest(m: Manifest): void {
  const p = manifestProblems(m);
  if (p.length) throw new HypercallError('INVALID_MANIFEST', `invalid manifest:\n  ${p.join('\n  ')}`);
}

// ---------------------------------------------------------------------------------------------
// Snapshot parsing

function snapCallFlags(calls: Record<string, unknown>[], fail: (path: string, what: string) => never): void {
  calls.forEach((c, i) => {
    (c.args as Record<string, unknown>[]).forEach((a, j) => {
      const f = a.flags;
      if (f !== undefined && (!Array.isArray(f) || f.some((x) => typeof x !== 'string'))) {
        fail(
          `calls[${i}] "${String(c.name)}".args[${j}] "${String(a.name)}"`,
          '"flags" must be an array of strings',
        );
      }
    });
  });
}

/** Parse and validate a snapshot (from JSON); `source` names it in messages (a file path). */
export function parseSnapshot(data: unknown, source: string): AbiSnapshot {
  const fail = (path: string, what: string): never => {
    throw new HypercallError('INVALID_SNAPSHOT', `${source}: ${path}: ${what}`);
  };
  const obj = (v: unknown, path: string): Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : fail(path, 'expected an object');
  const field = (o: Record<string, unknown>, key: string, type: string, path: string): void => {
    const optional = type.endsWith('?');
    const t = optional ? type.slice(0, -1) : type;
    const v = o[key];
    if (v === undefined) {
      if (!optional) fail(path, `missing "${key}"`);
      return;
    }
    if (t === 'string' && typeof v !== 'string') fail(path, `"${key}" must be a string`);
    if (t === 'u32' && !isU32(v))
      fail(path, `"${key}" must be an integer 0..2^32-1, is ${JSON.stringify(v)}`);
    if (t === 'bool' && typeof v !== 'boolean') fail(path, `"${key}" must be a boolean`);
  };
  const list = (
    v: unknown,
    path: string,
    fields: Record<string, string>,
    nested?: (e: Record<string, unknown>, p: string) => void,
  ) => {
    if (!Array.isArray(v)) fail(path, 'expected an array');
    (v as unknown[]).forEach((e, i) => {
      const o = obj(e, `${path}[${i}]`);
      const label = typeof o.name === 'string' ? `${path}[${i}] "${o.name}"` : `${path}[${i}]`;
      for (const [k, t] of Object.entries(fields)) field(o, k, t, label);
      nested?.(o, label);
    });
  };
  const root = obj(data, '(root)');
  field(root, 'schema', 'u32', '(root)');
  if (root.schema !== SNAPSHOT_SCHEMA)
    fail('(root)', `unsupported schema ${String(root.schema)} (expected ${SNAPSHOT_SCHEMA})`);
  field(root, 'version', 'string', '(root)');
  if (!/^\d+\.\d+\.\d+$/.test(root.version as string))
    fail('(root)', `"version" ${String(root.version)} is not semver`);
  field(root, 'pvSignature', 'string', '(root)');
  list(root.cpuidLeaves, 'cpuidLeaves', { name: 'string', leaf: 'u32' });
  list(root.kvmFeatures, 'kvmFeatures', { name: 'string', bit: 'u32' });
  list(root.pvFeatures, 'pvFeatures', { name: 'string', bit: 'u32' });
  list(root.errnos, 'errnos', { name: 'string', value: 'u32' });
  list(root.constants, 'constants', { name: 'string', value: 'u32', kind: 'string' });
  list(root.structs, 'structs', { name: 'string', size: 'u32', align: 'u32' }, (s, p) =>
    list(s.fields, `${p}.fields`, { name: 'string', offset: 'u32', type: 'string', count: 'u32?' }),
  );
  list(root.msrs, 'msrs', { name: 'string', index: 'u32', struct: 'string?' });
  list(root.calls, 'calls', { name: 'string', nr: 'u32', feature: 'string' }, (c, p) =>
    list(c.args, `${p}.args`, {
      reg: 'string',
      name: 'string',
      kind: 'string',
      struct: 'string?',
      countArg: 'string?',
      optional: 'bool?',
      max: 'string?',
    }),
  );
  snapCallFlags(root.calls as Record<string, unknown>[], fail);
  const snap = root as unknown as AbiSnapshot;
  const problems: string[] = [];
  checkUnique(problems, 'cpuidLeaves', snap.cpuidLeaves, (e: { leaf: number }) => e.leaf);
  checkUnique(problems, 'kvmFeatures', snap.kvmFeatures, (e: { bit: number }) => e.bit);
  checkUnique(problems, 'pvFeatures', snap.pvFeatures, (e: { bit: number }) => e.bit);
  checkUnique(problems, 'errnos', snap.errnos, (e: { value: number }) => e.value);
  checkUnique(problems, 'constants', snap.constants);
  checkUnique(problems, 'structs', snap.structs);
  checkUnique(problems, 'msrs', snap.msrs, (e: { index: number }) => e.index);
  checkUnique(problems, 'calls', snap.calls, (e: { nr: number }) => e.nr);
  checkStructs(problems, snap.structs);
  if (problems.length) throw new HypercallError('INVALID_SNAPSHOT', `${source}: ${problems.join('; ')}`);
  return snap;
}
