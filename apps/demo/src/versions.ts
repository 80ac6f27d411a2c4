import { VERSION as apic } from '@pv/apic';
import { VERSION as devices } from '@pv/devices';
import { VERSION as guest } from '@pv/guest';
import { VERSION as hypercall } from '@pv/hypercall';
import { VERSION as mmu } from '@pv/mmu';
import { VERSION as paravirtOps } from '@pv/paravirt-ops';
import { VERSION as x86Core } from '@pv/x86-core';
import { VERSION as demo } from './version';

/** The versions of every package composed into this machine. */
export function composedVersions(): Record<string, string> {
  return {
    '@pv/x86-core': x86Core,
    '@pv/mmu': mmu,
    '@pv/apic': apic,
    '@pv/devices': devices,
    '@pv/hypercall': hypercall,
    '@pv/paravirt-ops': paravirtOps,
    '@pv/guest': guest,
    '@pv/demo': demo,
  };
}
