#!/usr/bin/env node
// Launcher for the `pv` CLI. The CLI itself is built TypeScript in ../dist.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(
    'pv: the CLI is not built yet; run `npm run build` (or `npm run demo`) from the repository root\n',
  );
  process.exit(64);
}
const { main } = await import(cli.href);
process.exitCode = await main(process.argv.slice(2));
