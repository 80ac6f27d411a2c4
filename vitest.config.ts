import { defineConfig } from 'vitest/config';

// One vitest run over every workspace. Each package has its own vitest.config.ts (built from
// vitest.shared.ts), so `npm test -w @pv/mmu` works alone too. The JSON report feeds .ci/run's
// closing "N passed, N failed" line.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'tests/*'],
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest/results.json' },
  },
});
