/**
 * `pv-abi`: the ABI tool of @pv/hypercall.
 *
 *   pv-abi check [--changesets DIR] [--abi DIR]   compare the manifest with every abi/*.json
 *   pv-abi record [--abi DIR]                      record abi/<version>.json (release step)
 *   pv-abi generate [--out DIR]                    write include/pv_hypercall.h and ABI.md
 *
 * Exit code 0 on success, 1 when the check fails, 2 on usage errors.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Bump, changesetBump, checkAbi, maxBump, PACKAGE_NAME } from './compat';
import { generateAbiMarkdown, generateHeader } from './generate';
import { MANIFEST } from './manifest';
import type { Manifest } from './manifest-types';
import { assertValidManifest, describeAbi, snapshotJson } from './snapshot';

/** Where output goes (tests capture it). */
export interface CliIo {
  readonly cwd: string;
  out(text: string): void;
  err(text: string): void;
}

/** Files generated from the manifest, relative to the package directory. */
export function generatedFiles(m: Manifest = MANIFEST): Record<string, string> {
  return { 'include/pv_hypercall.h': generateHeader(m), 'ABI.md': generateAbiMarkdown(m) };
}

/** The package directory (this module is src/cli.ts or dist/cli.js: one level below). */
export function packageDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..');
}

function findChangesetDir(from: string): string | undefined {
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, '.changeset'))) return join(dir, '.changeset');
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** Read the highest pending bump of @pv/hypercall from a `.changeset` directory. */
export function pendingBump(dir: string): { bump: Bump; files: string[] } {
  const files = readdirSync(dir).filter((f) => f.endsWith('.md') && f.toLowerCase() !== 'readme.md');
  const bumps = files.map((f) => ({ f, b: changesetBump(readFileSync(join(dir, f), 'utf8')) }));
  return { bump: maxBump(bumps.map((x) => x.b)), files: bumps.filter((x) => x.b !== 'none').map((x) => x.f) };
}

/** Read every abi/*.json (parse errors are passed on as data the checker reports). */
export function readSnapshots(dir: string): { source: string; data: unknown; parseError?: string }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const source = join(dir, f);
      const text = readFileSync(source, 'utf8');
      try {
        return { source, data: JSON.parse(text) as unknown };
      } catch (e) {
        return { source, data: undefined, parseError: (e as Error).message };
      }
    });
}

function parseArgs(argv: readonly string[]): {
  cmd: string | undefined;
  opts: Map<string, string>;
  bad?: string;
} {
  const [cmd, ...rest] = argv;
  const opts = new Map<string, string>();
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (!a.startsWith('--')) return { cmd, opts, bad: `unexpected argument "${a}"` };
    const eq = a.indexOf('=');
    if (eq > 0) opts.set(a.slice(2, eq), a.slice(eq + 1));
    else {
      const v = rest[i + 1];
      if (v === undefined || v.startsWith('--')) return { cmd, opts, bad: `option ${a} needs a value` };
      opts.set(a.slice(2), v);
      i++;
    }
  }
  return { cmd, opts };
}

const USAGE = `usage: pv-abi <command> [options]
  check [--changesets DIR] [--abi DIR]  compare the manifest with every recorded ABI snapshot
  record [--abi DIR]                    record abi/<version>.json for the current version
  generate [--out DIR]                  write include/pv_hypercall.h and ABI.md
`;

/** Run the CLI; returns the exit code. `manifest` is replaceable for tests. */
export function main(argv: readonly string[], io: CliIo, manifest: Manifest = MANIFEST): number {
  const { cmd, opts, bad } = parseArgs(argv);
  if (bad || !cmd || cmd === 'help' || cmd === '--help') {
    (bad ? io.err : io.out)(`${bad ? `pv-abi: ${bad}\n` : ''}${USAGE}`);
    return bad || !cmd ? 2 : 0;
  }
  const allowed: Record<string, string[]> = {
    check: ['changesets', 'abi'],
    record: ['abi'],
    generate: ['out'],
  };
  if (!allowed[cmd]) {
    io.err(`pv-abi: unknown command "${cmd}"\n${USAGE}`);
    return 2;
  }
  for (const k of opts.keys()) {
    if (!allowed[cmd].includes(k)) {
      io.err(`pv-abi ${cmd}: unknown option --${k}\n${USAGE}`);
      return 2;
    }
  }
  const pkg = packageDir();
  const abiDir = resolve(io.cwd, opts.get('abi') ?? join(pkg, 'abi'));

  if (cmd === 'check') {
    const csDir = opts.has('changesets')
      ? resolve(io.cwd, opts.get('changesets')!)
      : findChangesetDir(io.cwd);
    if (csDir !== undefined && !existsSync(csDir)) {
      io.err(`pv-abi check: changeset directory ${csDir} does not exist\n`);
      return 2;
    }
    const pending = csDir ? pendingBump(csDir) : { bump: 'none' as Bump, files: [] };
    const result = checkAbi({ manifest, snapshots: readSnapshots(abiDir), pendingBump: pending.bump });
    io.out(result.report);
    if (pending.files.length)
      io.out(`  (pending changesets for ${PACKAGE_NAME}: ${pending.files.join(', ')})\n`);
    return result.ok ? 0 : 1;
  }

  try {
    assertValidManifest(manifest);
  } catch (e) {
    io.err(`${(e as Error).message}\n`);
    return 1;
  }
  if (cmd === 'record') {
    const file = join(abiDir, `${manifest.version}.json`);
    const text = snapshotJson(describeAbi(manifest));
    if (existsSync(file)) {
      // Compare as data: a formatter may have re-indented the file.
      let same = false;
      try {
        same = JSON.stringify(JSON.parse(readFileSync(file, 'utf8'))) === JSON.stringify(JSON.parse(text));
      } catch {
        same = false;
      }
      if (!same) {
        io.err(`pv-abi record: ${file} exists and differs; a released ABI is never re-recorded\n`);
        return 1;
      }
      io.out(`pv-abi record: ${relative(io.cwd, file) || file} is already recorded\n`);
      return 0;
    }
    mkdirSync(abiDir, { recursive: true });
    writeFileSync(file, text);
    io.out(`pv-abi record: wrote ${relative(io.cwd, file) || file}\n`);
    return 0;
  }
  // generate
  const outDir = resolve(io.cwd, opts.get('out') ?? pkg);
  for (const [rel, text] of Object.entries(generatedFiles(manifest))) {
    const file = join(outDir, rel);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    io.out(`pv-abi generate: wrote ${relative(io.cwd, file) || file}\n`);
  }
  return 0;
}
