import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot, workspacePackages } from './workspace';

// The release flow, proved on a temporary copy of the repository: a changeset naming one package,
// then `changeset version`, bumps exactly that package and the packages that depend on it.
const copies: string[] = [];
afterAll(() => {
  for (const c of copies) rmSync(c, { recursive: true, force: true });
});

function copyRepo(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pv-changesets-'));
  copies.push(dir);
  cpSync(join(repoRoot, 'package.json'), join(dir, 'package.json'));
  cpSync(join(repoRoot, '.changeset/config.json'), join(dir, '.changeset/config.json'));
  for (const p of workspacePackages()) {
    const rel = relative(repoRoot, p.dir);
    cpSync(join(p.dir, 'package.json'), join(dir, rel, 'package.json'));
  }
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

/** Published packages that depend on `name`, directly or through another package. */
function dependentsOf(name: string): Set<string> {
  const pkgs = workspacePackages().filter((p) => !p.private);
  const out = new Set<string>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of pkgs) {
      if (out.has(p.name)) continue;
      if (Object.keys(p.dependencies).some((d) => d === name || out.has(d))) {
        out.add(p.name);
        grew = true;
      }
    }
  }
  return out;
}

function versionsIn(dir: string): Record<string, string> {
  return Object.fromEntries(
    workspacePackages().map((p) => {
      const pkg = JSON.parse(readFileSync(join(dir, relative(repoRoot, p.dir), 'package.json'), 'utf8'));
      return [p.name, pkg.version];
    }),
  );
}

function bump(version: string, level: 'patch' | 'minor'): string {
  const [major, minor, patch] = version.split('.').map(Number) as [number, number, number];
  return level === 'patch' ? `${major}.${minor}.${patch + 1}` : `${major}.${minor + 1}.0`;
}

describe('changesets flow', () => {
  for (const [target, level] of [
    ['@pv/x86-core', 'patch'],
    ['@pv/hypercall', 'minor'],
  ] as const) {
    it(`a ${level} changeset for ${target} bumps it and exactly its internal dependents`, () => {
      const dir = copyRepo();
      const before = versionsIn(dir);
      writeFileSync(
        join(dir, '.changeset/test-change.md'),
        `---\n'${target}': ${level}\n---\n\nA test change.\n`,
      );
      execFileSync(process.execPath, [join(repoRoot, 'node_modules/@changesets/cli/bin.js'), 'version'], {
        cwd: dir,
        stdio: 'pipe',
      });
      const after = versionsIn(dir);
      const dependents = dependentsOf(target);
      for (const p of workspacePackages()) {
        if (p.name === target) expect(after[p.name], p.name).toBe(bump(before[p.name]!, level));
        else if (dependents.has(p.name)) expect(after[p.name], p.name).toBe(bump(before[p.name]!, 'patch'));
        else expect(after[p.name], p.name).toBe(before[p.name]);
      }
      // A dependent's range on the bumped package follows it.
      for (const name of dependents) {
        const p = workspacePackages().find((q) => q.name === name)!;
        const pkg = JSON.parse(readFileSync(join(dir, relative(repoRoot, p.dir), 'package.json'), 'utf8'));
        if (pkg.dependencies?.[target]) expect(pkg.dependencies[target]).toBe(`^${after[target]}`);
      }
    });
  }
});
