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

describe('idle machines', () => {
  it('return at the budget when halted on a timer whose interrupt nobody takes (PIT with LINT0 masked)', async () => {
    const { romRegions } = await import('@pv/guest');
    // sti; hlt; jmp back to hlt: the PIT's reset-state count keeps producing deadlines, but LINT0
    // is masked after reset, so nothing wakes the CPU; virtual time still advances.
    const data = new Uint8Array(0x10000).fill(0xf4);
    data.set([0xfb, 0xf4, 0xeb, 0xfd], 0xfff0);
    const vm = new Vm({ memoryMiB: 16, epochMs: 0, bios: romRegions(data, 'idle.rom') });
    const r = vm.run(10_000_000);
    expect(r.reason).toBe('budget');
    expect(r.instructions).toBeLessThan(10);
    expect(r.virtualCycles).toBeGreaterThanOrEqual(10_000_000);
  });

  it('the mini kernel with echo halts waiting for input, and input resumes it', async () => {
    const { miniKernelImage } = await import('@pv/guest');
    let out = '';
    const vm = new Vm({
      memoryMiB: 32,
      smp: 2,
      epochMs: 0,
      console: (b) => (out += Buffer.from(b).toString('latin1')),
    });
    vm.bootMultiboot(miniKernelImage(), { cmdline: 'echo' });
    const first = vm.run(100_000_000);
    expect(first).toMatchObject({ reason: 'halted', waiting: true });
    expect(out).toMatch(/DONE\necho: COM1 input is echoed back\n$/);
    vm.input(new TextEncoder().encode('ls\r'));
    const second = vm.run(100_000_000);
    expect(second).toMatchObject({ reason: 'halted', waiting: true });
    expect(second.instructions).toBeGreaterThan(0);
    expect(out).toMatch(/back\nls\r\n$/);
    // nothing new: it stays halted without executing anything
    expect(vm.run(1000).instructions).toBe(0);
  });
});
