/**
 * End to end with x86-core's interpreter: guest code executes CPUID, VMCALL and WRMSR; the Cpu hands
 * them to the bound dispatcher / the trap adapters, and they end in the ops.
 */
import { Cpu, EXIT_HYPERCALL, EXIT_MSR } from '@pv/x86-core';
import { describe, expect, it } from 'vitest';
import { hypervisorLeaves } from '../src/index';
import { buildMachine, encodeList, HC, Scratch } from './helpers';

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

describe('with the x86-core Cpu', () => {
  it('a guest discovers KVM in CPUID, batches APIC writes with VMCALL and enables kvmclock with WRMSR', () => {
    const m = buildMachine({ vcpus: 1, setup: false });
    const leaves = hypervisorLeaves(m.top, 0);
    const cpu = new Cpu({
      memory: m.mmu,
      hypervisor: m.hc[0],
      msr: m.traps[0]!.msr,
      clock: undefined,
      cpuid: { leaves },
    });

    const N = 3;
    const list = new Scratch(m.mmu).put(
      encodeList('pv_apic_write', [
        { reg: 0x80, value: 0x40 }, // TPR
        { reg: 0x320, value: 0x10030 }, // LVTT masked
        { reg: 0x3e0, value: 0xb }, // TDCR
      ]),
    );
    const code = [
      ...[0xb8, ...le32(0x40000001)], // mov eax, KVM_CPUID_FEATURES
      ...[0x0f, 0xa2], // cpuid
      ...[0x89, 0xc7], // mov edi, eax
      ...[0xb8, ...le32(HC.PV_HC_APIC_WRITE_BATCH)], // mov eax, nr
      ...[0xbb, ...le32(list)], // mov ebx, list
      ...[0xb9, ...le32(N)], // mov ecx, count
      ...[0x31, 0xd2], // xor edx, edx (no status record)
      ...[0x0f, 0x01, 0xc1], // vmcall
      ...[0x89, 0xc6], // mov esi, eax
      ...[0xb9, ...le32(0x4b564d01)], // mov ecx, MSR_KVM_SYSTEM_TIME_NEW
      ...[0xb8, ...le32(0x5001)], // mov eax, 0x5000 | enable
      ...[0x31, 0xd2], // xor edx, edx
      ...[0x0f, 0x30], // wrmsr
      0xf4, // hlt
    ];
    m.mmu.writePhys(0x8000, Uint8Array.from(code));
    cpu.enterFlatProtectedMode(0x8000);
    const exit = cpu.run(100);
    expect(exit.reason).toBe('hlt');
    expect(cpu.regs[7]! >>> 0).toBe(m.top.cpu.cpuid(0, 0x40000001, 0)[0]); // KVM feature bits
    expect(cpu.regs[6]).toBe(N);
    expect(m.apics[0]!.priorities().tpr).toBe(0x40);
    expect(m.apics[0]!.saveState().lvt[0]).toBe(0x10030);
    expect(m.mmu.bytes(0x5000, 4)[0]).toBe(2); // pvclock record written, version even
    expect(cpu.exitCounts[EXIT_HYPERCALL]).toBe(1);
    expect(cpu.exitCounts[EXIT_MSR]).toBeGreaterThanOrEqual(1);
    expect(m.ops.stats.exits('hypercall')).toBe(1);
    expect(m.ops.stats.exits('trap', 'msr')).toBe(1);
    expect(m.ops.stats.calls('apic.write')).toBe(N);
  });
});
