/**
 * The ABI compatibility checker behind `pv-abi check`. Compares the manifest with every recorded
 * snapshot: removals, renumbering, reuse of a number, argument-register changes and re-layouts are
 * rejected outright; additions (relative to the latest snapshot) need a pending changeset that
 * bumps @pv/hypercall by at least a minor. Malformed input is reported naming the entry, never thrown.
 */
import { HypercallError } from './errors';
import type { Manifest } from './manifest-types';
import { type AbiSnapshot, describeAbi, manifestProblems, parseSnapshot } from './snapshot';

export const PACKAGE_NAME = '@pv/hypercall';

/** A version bump requested by pending changesets. */
export type Bump = 'none' | 'patch' | 'minor' | 'major';
const BUMP_RANK: Record<Bump, number> = { none: 0, patch: 1, minor: 2, major: 3 };

/** One finding: `breaking` and `invalid` fail the check; `addition` fails it without a minor bump. */
export interface Finding {
  readonly level: 'invalid' | 'breaking' | 'addition' | 'note';
  /** The entry concerned, e.g. `calls "PV_HC_TLB_FLUSH"`. */
  readonly entry: string;
  readonly message: string;
  /** The snapshot version the manifest was compared with. */
  readonly against?: string;
}

export interface CheckInput {
  readonly manifest: Manifest;
  /** Recorded snapshots as parsed JSON, with the file they came from. */
  readonly snapshots: readonly {
    readonly source: string;
    readonly data: unknown;
    /** Set when the file is not valid JSON. */
    readonly parseError?: string;
  }[];
  /** The highest bump of @pv/hypercall in the pending changesets. */
  readonly pendingBump: Bump;
}

export interface CheckResult {
  readonly ok: boolean;
  readonly findings: readonly Finding[];
  /** Human-readable report (what changed and why it is or isn't allowed). */
  readonly report: string;
}

function cmpVersion(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10));
  const pb = b.split('.').map((x) => Number.parseInt(x, 10));
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

const hx = (v: number) => `0x${(v >>> 0).toString(16)}`;

type Keyed = { name: string } & Record<string, unknown>;

/** Diff one snapshot (old) against the current description. */
export function diffSnapshots(old: AbiSnapshot, cur: AbiSnapshot): Finding[] {
  const out: Finding[] = [];
  const against = old.version;
  const push = (level: Finding['level'], entry: string, message: string) =>
    out.push({ level, entry, message, against });

  if (old.pvSignature !== cur.pvSignature) {
    push(
      'breaking',
      'pvSignature',
      `changed from ${JSON.stringify(old.pvSignature)} to ${JSON.stringify(cur.pvSignature)}; guests find @pv by it`,
    );
  }

  const numbered = (cat: string, key: string, label: string, fmt: (v: number) => string = hx) => {
    const o = (old as unknown as Record<string, Keyed[]>)[cat]!;
    const c = (cur as unknown as Record<string, Keyed[]>)[cat]!;
    const curByName = new Map(c.map((e) => [e.name, e]));
    const oldByName = new Map(o.map((e) => [e.name, e]));
    const oldByNum = new Map(o.map((e) => [e[key] as number, e]));
    for (const e of o) {
      const n = curByName.get(e.name);
      const entry = `${cat} "${e.name}"`;
      if (!n)
        push(
          'breaking',
          entry,
          `removed (was ${label} ${fmt(e[key] as number)}); entries are never removed — keep it and mark it deprecated`,
        );
      else if (n[key] !== e[key]) {
        push(
          'breaking',
          entry,
          `renumbered: ${label} ${fmt(e[key] as number)} → ${fmt(n[key] as number)}; numbers are permanent`,
        );
      }
    }
    for (const n of c) {
      if (oldByName.has(n.name)) continue;
      const prev = oldByNum.get(n[key] as number);
      const entry = `${cat} "${n.name}"`;
      if (prev)
        push(
          'breaking',
          entry,
          `reuses ${label} ${fmt(n[key] as number)} of "${prev.name}"; a number is never reused`,
        );
      else push('addition', entry, `added (${label} ${fmt(n[key] as number)})`);
    }
    return { curByName, oldByName };
  };

  numbered('cpuidLeaves', 'leaf', 'leaf');
  numbered('kvmFeatures', 'bit', 'bit', String);
  numbered('pvFeatures', 'bit', 'bit', String);
  numbered('errnos', 'value', 'value', String);
  const msrs = numbered('msrs', 'index', 'index');
  for (const e of old.msrs) {
    const n = msrs.curByName.get(e.name);
    if (n && n.struct !== e.struct) {
      push(
        'breaking',
        `msrs "${e.name}"`,
        `structure changed from ${e.struct ?? 'none'} to ${String(n.struct ?? 'none')}`,
      );
    }
  }
  const calls = numbered('calls', 'nr', 'nr');
  for (const e of old.calls) {
    const n = calls.curByName.get(e.name) as unknown as AbiSnapshot['calls'][number] | undefined;
    if (!n) continue;
    const entry = `calls "${e.name}"`;
    if (n.feature !== e.feature) push('breaking', entry, `feature changed from ${e.feature} to ${n.feature}`);
    e.args.forEach((a, i) => {
      const b = n.args[i];
      const what = `argument ${i} "${a.name}"`;
      if (!b) {
        push('breaking', entry, `${what} (${a.reg}) removed; argument registers are permanent`);
        return;
      }
      if (b.reg !== a.reg)
        push('breaking', entry, `${what} moved from ${a.reg} to ${b.reg}; argument registers are permanent`);
      for (const k of ['kind', 'struct', 'countArg', 'optional', 'max'] as const) {
        if ((a[k] ?? null) !== (b[k] ?? null)) {
          push(
            'breaking',
            entry,
            `${what}: ${k} changed from ${String(a[k] ?? 'none')} to ${String(b[k] ?? 'none')}`,
          );
        }
      }
      const newFlags = new Set(b.flags ?? []);
      for (const f of a.flags ?? []) {
        if (!newFlags.has(f))
          push('breaking', entry, `${what}: flag ${f} removed; defined flags are permanent`);
      }
      const oldFlags = new Set(a.flags ?? []);
      for (const f of b.flags ?? [])
        if (!oldFlags.has(f)) push('addition', entry, `${what}: flag ${f} added`);
      if (b.name !== a.name)
        push('note', entry, `${what} renamed to "${b.name}" (names are documentation; allowed)`);
    });
    for (const b of n.args.slice(e.args.length)) {
      push(
        'breaking',
        entry,
        `argument "${b.name}" added in ${b.reg}; guests built for ${against} leave ${b.reg} undefined`,
      );
    }
  }
  // Constants are keyed by name only: two names may share a value.
  const curConsts = new Map(cur.constants.map((c) => [c.name, c]));
  const oldConsts = new Set(old.constants.map((c) => c.name));
  for (const c of cur.constants) {
    if (!oldConsts.has(c.name)) push('addition', `constants "${c.name}"`, `added (${c.kind} ${hx(c.value)})`);
  }
  for (const e of old.constants) {
    const n = curConsts.get(e.name);
    const entry = `constants "${e.name}"`;
    if (!n) {
      push('breaking', entry, `removed (was ${hx(e.value)}); constants are never removed`);
      continue;
    }
    if (n.kind !== e.kind) push('breaking', entry, `kind changed from ${e.kind} to ${n.kind}`);
    else if (n.value !== e.value) {
      if (e.kind === 'limit' && n.value > e.value)
        push('addition', entry, `limit raised from ${e.value} to ${n.value}`);
      else if (e.kind === 'limit')
        push('breaking', entry, `limit lowered from ${e.value} to ${n.value}; limits may only grow`);
      else
        push(
          'breaking',
          entry,
          `value changed from ${hx(e.value)} to ${hx(n.value)}; constants are permanent`,
        );
    }
  }

  const curStructs = new Map(cur.structs.map((s) => [s.name, s]));
  const oldStructs = new Set(old.structs.map((s) => s.name));
  for (const s of old.structs) {
    const n = curStructs.get(s.name);
    const entry = `structs "${s.name}"`;
    if (!n) {
      push('breaking', entry, 'removed; structures are never removed');
      continue;
    }
    if (n.size !== s.size)
      push('breaking', entry, `resized from ${s.size} to ${n.size} bytes; layouts are permanent`);
    if (n.align !== s.align) push('breaking', entry, `alignment changed from ${s.align} to ${n.align}`);
    const nf = new Map(n.fields.map((f) => [f.name, f]));
    for (const f of s.fields) {
      const g = nf.get(f.name);
      const fe = `${entry} field "${f.name}"`;
      if (!g) push('breaking', fe, `removed (was at offset ${f.offset}); layouts are permanent`);
      else {
        if (g.offset !== f.offset) push('breaking', fe, `moved from offset ${f.offset} to ${g.offset}`);
        if (g.type !== f.type) push('breaking', fe, `retyped from ${f.type} to ${g.type}`);
        if ((g.count ?? 1) !== (f.count ?? 1))
          push('breaking', fe, `resized from ${f.count ?? 1} to ${g.count ?? 1} elements`);
      }
    }
    const of = new Set(s.fields.map((f) => f.name));
    for (const g of n.fields) {
      if (!of.has(g.name))
        push('breaking', `${entry} field "${g.name}"`, `added at offset ${g.offset}; layouts are permanent`);
    }
  }
  for (const s of cur.structs)
    if (!oldStructs.has(s.name)) push('addition', `structs "${s.name}"`, `added (${s.size} bytes)`);
  return out;
}

/** The highest bump of @pv/hypercall in the text of one changeset file. */
export function changesetBump(text: string): Bump {
  const fm = /^---\r?\n([\s\S]*?)\r?\n---/.exec(text);
  if (!fm) return 'none';
  let best: Bump = 'none';
  for (const line of fm[1]!.split(/\r?\n/)) {
    const m = /^\s*(["']?)(@[^"':\s]+\/[^"':\s]+)\1\s*:\s*(major|minor|patch)\s*$/.exec(line);
    if (m && m[2] === PACKAGE_NAME && BUMP_RANK[m[3] as Bump] > BUMP_RANK[best]) best = m[3] as Bump;
  }
  return best;
}

/** Highest bump over several changeset files. */
export function maxBump(bumps: readonly Bump[]): Bump {
  return bumps.reduce<Bump>((a, b) => (BUMP_RANK[b] > BUMP_RANK[a] ? b : a), 'none');
}

/** Run the whole check. Never throws on malformed manifests or snapshots: they become findings. */
export function checkAbi(input: CheckInput): CheckResult {
  const findings: Finding[] = [];
  for (const p of manifestProblems(input.manifest)) {
    findings.push({
      level: 'invalid',
      entry: `manifest ${p.split(':')[0]}`,
      message: p.slice(p.indexOf(':') + 1).trim(),
    });
  }
  const version = input.manifest.version;
  const snaps: { source: string; snap: AbiSnapshot }[] = [];
  for (const { source, data, parseError } of input.snapshots) {
    if (parseError !== undefined) {
      findings.push({ level: 'invalid', entry: source, message: `not valid JSON: ${parseError}` });
      continue;
    }
    try {
      const snap = parseSnapshot(data, source);
      const base = source.replace(/^.*[\\/]/, '');
      if (base !== `${snap.version}.json`) {
        findings.push({
          level: 'invalid',
          entry: source,
          message: `records version ${snap.version} but is not named ${snap.version}.json`,
        });
      }
      snaps.push({ source, snap });
    } catch (e) {
      if (!HypercallError.isInstance(e)) throw e;
      const message = e.message.replace(/^@pv\/hypercall: /, '');
      findings.push({
        level: 'invalid',
        entry: source,
        message: message.slice(message.startsWith(`${source}: `) ? source.length + 2 : 0),
      });
    }
  }
  snaps.sort((a, b) => cmpVersion(a.snap.version, b.snap.version));
  const latest = snaps[snaps.length - 1];
  let additions: Finding[] = [];
  if (!findings.some((f) => f.level === 'invalid')) {
    if (snaps.length === 0) {
      findings.push({
        level: 'invalid',
        entry: 'abi/',
        message: 'no snapshot recorded; run `pv-abi record` for the first release',
      });
    }
    const cur = describeAbi(input.manifest);
    for (const { snap } of snaps) {
      const diff = diffSnapshots(snap, cur);
      findings.push(...diff.filter((f) => f.level === 'breaking' || f.level === 'note'));
      if (snap === latest?.snap) additions = diff.filter((f) => f.level === 'addition');
    }
    if (latest && cmpVersion(version, latest.snap.version) < 0) {
      findings.push({
        level: 'invalid',
        entry: 'version',
        message: `package version ${version} is older than the recorded ${latest.snap.version}`,
      });
    } else if (latest && cmpVersion(version, latest.snap.version) > 0) {
      findings.push({
        level: 'invalid',
        entry: 'version',
        message: `@pv/hypercall ${version} was released but abi/${version}.json is not recorded; run \`npm run abi:record -w @pv/hypercall\``,
      });
    }
    findings.push(...additions);
  }
  const bumpOk = BUMP_RANK[input.pendingBump] >= BUMP_RANK.minor;
  const blocking = findings.filter((f) => f.level === 'invalid' || f.level === 'breaking');
  const ok = blocking.length === 0 && (additions.length === 0 || bumpOk);

  const lines: string[] = [];
  lines.push(
    `pv-abi check: manifest ${version} against ${snaps.length} snapshot(s)${snaps.length ? ` (${snaps.map((s) => s.snap.version).join(', ')})` : ''}`,
  );
  const mark = { invalid: '!', breaking: '✗', addition: '+', note: '·' } as const;
  for (const f of findings) {
    lines.push(
      `  ${mark[f.level]} ${f.level.padEnd(8)} ${f.entry}: ${f.message}${f.against ? ` [vs ${f.against}]` : ''}`,
    );
  }
  if (additions.length) {
    lines.push(
      bumpOk
        ? `  additions are allowed: the pending changesets bump ${PACKAGE_NAME} by a ${input.pendingBump}`
        : `  ✗ ${additions.length} addition(s) need a pending changeset bumping ${PACKAGE_NAME} by at least a minor (found: ${input.pendingBump})`,
    );
  }
  if (!findings.length) lines.push('  no change: the manifest equals the latest snapshot');
  lines.push(
    ok
      ? 'pv-abi check: OK'
      : `pv-abi check: FAILED (${blocking.length} breaking/invalid${additions.length && !bumpOk ? ', additions without a minor bump' : ''})`,
  );
  return { ok, findings, report: `${lines.join('\n')}\n` };
}
