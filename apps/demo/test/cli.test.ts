import { describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli';
import { composedVersions } from '../src/index';

describe('pv CLI', () => {
  it('lists every @pv package with a semver version', () => {
    const versions = composedVersions();
    expect(Object.keys(versions)).toEqual([
      '@pv/x86-core',
      '@pv/mmu',
      '@pv/apic',
      '@pv/devices',
      '@pv/hypercall',
      '@pv/paravirt-ops',
      '@pv/guest',
      '@pv/demo',
    ]);
    for (const v of Object.values(versions)) expect(v).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('exits 64 and names the argument on bad usage', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['frobnicate'])).toBe(64);
      expect(String(err.mock.calls[0]?.[0])).toContain("'frobnicate'");
    } finally {
      err.mockRestore();
    }
  });
});
