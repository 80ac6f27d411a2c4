import { describe, expect, it } from 'vitest';
import { comparisonTable, runMiniKernel } from '../src/demo-command';

const total = (e: Record<string, number>) => Object.values(e).reduce((a, b) => a + b, 0);

describe('the mini PV kernel in both modes (shadow exit model)', () => {
  const native = runMiniKernel('native', 'shadow');
  const pv = runMiniKernel('pv', 'shadow');

  it('runs every workload to a checked result and exits through debug-exit with 0', () => {
    for (const run of [native, pv]) {
      expect(run.status).toBe(1);
      expect(run.workloads.map((w) => w.workload)).toEqual(['ptchurn', 'timer', 'ipi', 'console']);
      for (const w of run.workloads) expect(w.result.status, `${run.mode} ${w.workload}`).toBe('ok');
      expect(run.console).toContain('DONE');
    }
  });

  it('gets identical workload checksums natively and paravirtually', () => {
    for (const w of native.workloads) {
      expect(pv.workloads.find((p) => p.workload === w.workload)?.result.checksum).toBe(w.result.checksum);
    }
  });

  it('needs strictly and substantially fewer exits paravirtually for the batched workloads', () => {
    for (const name of ['ptchurn', 'console']) {
      const n = native.workloads.find((w) => w.workload === name)!;
      const p = pv.workloads.find((w) => w.workload === name)!;
      expect(total(p.exits), name).toBeLessThan(total(n.exits) / 10);
      expect(p.virtualCycles, name).toBeLessThan(n.virtualCycles);
    }
    for (const name of ['timer', 'ipi']) {
      const n = native.workloads.find((w) => w.workload === name)!;
      const p = pv.workloads.find((w) => w.workload === name)!;
      expect(total(p.exits), name).toBeLessThan(total(n.exits));
    }
    // The native page-table churn pays for page-table writes and INVLPGs; the PV one batches them.
    const churn = native.workloads.find((w) => w.workload === 'ptchurn')!;
    expect(churn.exits.ptwrite).toBeGreaterThan(0);
    expect(churn.exits.invlpg).toBeGreaterThan(0);
    expect(pv.workloads.find((w) => w.workload === 'ptchurn')!.exits.hypercall).toBeGreaterThan(0);
    expect(comparisonTable(native, pv)).toContain('ptchurn');
  });

  it('is deterministic: the same image and input give the same console, instructions and exits', () => {
    const again = runMiniKernel('pv', 'shadow');
    expect(again.console).toBe(pv.console);
    expect(again.workloads.map((w) => [w.exits, w.virtualCycles])).toEqual(
      pv.workloads.map((w) => [w.exits, w.virtualCycles]),
    );
  });
});

describe('the nested exit model', () => {
  it('drops page-table-write, CR3 and INVLPG exits, and their cost in virtual cycles', () => {
    const nested = runMiniKernel('native', 'nested').workloads.find((w) => w.workload === 'ptchurn')!;
    const shadow = runMiniKernel('native', 'shadow').workloads.find((w) => w.workload === 'ptchurn')!;
    expect(nested.exits.ptwrite).toBe(0);
    expect(nested.exits.invlpg).toBe(0);
    expect(nested.result.status).toBe('ok');
    const dropped = shadow.exits.ptwrite + shadow.exits.invlpg + shadow.exits.cr;
    // The saving is the dropped exits' cost (up to a few instructions of polling that shift with time).
    const saved = shadow.virtualCycles - nested.virtualCycles;
    expect(saved).toBeGreaterThan(dropped * 1500 * 0.99);
    expect(saved).toBeLessThan(dropped * 1500 * 1.01);
  });
});
