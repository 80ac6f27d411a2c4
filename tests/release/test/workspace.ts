import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export interface WorkspacePackage {
  name: string;
  version: string;
  dir: string;
  private: boolean;
  dependencies: Record<string, string>;
}

/** Every package under packages/ and apps/, read from its package.json. */
export function workspacePackages(): WorkspacePackage[] {
  const out: WorkspacePackage[] = [];
  for (const group of ['packages', 'apps']) {
    for (const entry of readdirSync(join(repoRoot, group))) {
      const dir = join(repoRoot, group, entry);
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      out.push({
        name: pkg.name,
        version: pkg.version,
        dir,
        private: pkg.private === true,
        dependencies: pkg.dependencies ?? {},
      });
    }
  }
  return out;
}

/** The packages that are published to npm. */
export function publishedPackages(): WorkspacePackage[] {
  return workspacePackages().filter((p) => !p.private);
}
