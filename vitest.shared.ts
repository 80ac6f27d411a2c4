import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineProject } from 'vitest/config';

const root = dirname(fileURLToPath(import.meta.url));

/** Every workspace package name → its source entry, so tests run against source without a build. */
function sourceAliases(): Record<string, string> {
  const aliases: Record<string, string> = {};
  for (const group of ['packages', 'apps', 'tests']) {
    for (const dir of readdirSync(join(root, group))) {
      const pkgDir = join(root, group, dir);
      try {
        const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { name: string };
        aliases[pkg.name] = join(pkgDir, 'src/index.ts');
      } catch {
        // not a package
      }
    }
  }
  return aliases;
}

/** The project config every package uses: its name, its tests, workspace imports resolved to source. */
export function pvProject(name: string, extra: { testTimeout?: number } = {}) {
  return defineProject({
    resolve: { alias: sourceAliases() },
    test: {
      name,
      include: ['test/**/*.test.ts'],
      environment: 'node',
      testTimeout: extra.testTimeout ?? 30_000,
      hookTimeout: extra.testTimeout ?? 30_000,
    },
  });
}
