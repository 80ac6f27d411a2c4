/**
 * The browser demo (web/): `npm run web` serves it, `npm run web:build` writes web/dist.
 * Workspace packages resolve to their TypeScript sources (like the vitest projects), so the page
 * needs no prior build of the @pv packages; `@pv/guest/images/*` still resolves through the
 * package's `exports` to the shipped kernel image, which the worker fetches as an asset URL.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '../..');

/** `@pv/<name>` (exactly, not its subpaths) → `packages/<dir>/src/index.ts`. */
function sourceAliases(): { find: RegExp; replacement: string }[] {
  const aliases: { find: RegExp; replacement: string }[] = [];
  for (const dir of readdirSync(join(repo, 'packages'))) {
    try {
      const pkg = JSON.parse(readFileSync(join(repo, 'packages', dir, 'package.json'), 'utf8')) as {
        name: string;
      };
      const escaped = pkg.name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      aliases.push({
        find: new RegExp(`^${escaped}$`),
        replacement: join(repo, 'packages', dir, 'src/index.ts'),
      });
    } catch {
      // not a package
    }
  }
  return aliases;
}

export default defineConfig({
  root: join(here, 'web'),
  // Relative asset URLs: the built page works from any directory of a static server.
  base: './',
  resolve: { alias: sourceAliases() },
  worker: { format: 'es' },
  build: {
    outDir: join(here, 'web/dist'),
    emptyOutDir: true,
    target: 'es2022',
    // The kernel image is fetched by URL, never inlined as a data: URL.
    assetsInlineLimit: 0,
  },
  server: { host: '127.0.0.1', fs: { allow: [repo] } },
  preview: { host: '127.0.0.1' },
});
