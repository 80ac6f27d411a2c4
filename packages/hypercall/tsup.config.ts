import { defineConfig } from 'tsup';

export default defineConfig([
  {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    // Both configs build concurrently into dist/: never delete the CLI the second one writes.
    clean: ['!cli.js', '!cli.js.map'],
    sourcemap: true,
    target: 'es2022',
  },
  {
    // The `pv-abi` CLI, run by bin/pv-abi.js (ESM only; not part of the library's exports).
    entry: { cli: 'src/cli.ts' },
    format: ['esm'],
    dts: false,
    clean: false,
    sourcemap: true,
    target: 'es2022',
    platform: 'node',
  },
]);
