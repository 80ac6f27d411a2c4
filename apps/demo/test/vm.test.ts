import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Vm } from '../src/vm';

const CRC_SIEVE = resolve(__dirname, '../../../../shared/bench/crc-sieve/guest-r4.elf');

describe.skipIf(!existsSync(CRC_SIEVE))('the reference machine boots a multiboot kernel', () => {
  it('runs crc-sieve to its first console output with every device wired', () => {
    let out = '';
    const vm = new Vm({
      memoryMiB: 16,
      epochMs: 0,
      console: (b) => (out += Buffer.from(b).toString('latin1')),
    });
    vm.bootMultiboot(new Uint8Array(readFileSync(CRC_SIEVE)), { name: 'guest-r4.elf' });
    const r = vm.run(2_000_000);
    expect(out).toContain('START');
    expect(r.reason).toBe('budget');
    expect(r.instructions).toBe(2_000_000);
    const exits = vm.exits();
    expect(exits.io).toBeGreaterThan(5); // polled COM1 output: LSR reads and THR writes
    expect(r.virtualCycles).toBeGreaterThanOrEqual(2_000_000 + exits.io * 1500);
  });
});

describe('both paths end in the paravirt-ops vtable', () => {
  it("the CPU's own INVLPG, CR3 loads and HLTs are carried out by the ops (native guest)", async () => {
    const { miniKernelImage } = await import('@pv/guest');
    const vm = new Vm({ memoryMiB: 32, epochMs: 0 });
    vm.bootMultiboot(miniKernelImage(), { cmdline: 'pv=off' });
    expect(vm.run(50_000_000).reason).toBe('debug-exit');
    const exits = vm.exits();
    expect(exits.invlpg).toBeGreaterThan(1000);
    expect(vm.opStats.calls('mmu.flushTlbOne')).toBe(exits.invlpg);
    expect(vm.opStats.calls('cpu.writeCr')).toBe(exits.cr);
    expect(vm.opStats.calls('irq.halt')).toBe(exits.hlt);
  });
});
