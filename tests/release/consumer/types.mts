// Type-checked with `tsc --module node16` in the consumer project: the published .d.ts files must
// resolve and describe the API.
import { VERSION as apicVersion } from '@pv/apic';
import { VERSION as devicesVersion } from '@pv/devices';
import { VERSION as guestVersion } from '@pv/guest';
import { VERSION as hypercallVersion } from '@pv/hypercall';
import { VERSION as mmuVersion } from '@pv/mmu';
import { VERSION as paravirtOpsVersion } from '@pv/paravirt-ops';
import { type Memory, type SoftTlb, TLB_KINDS, VERSION as x86Version } from '@pv/x86-core';

const versions: string[] = [
  apicVersion,
  devicesVersion,
  guestVersion,
  hypercallVersion,
  mmuVersion,
  paravirtOpsVersion,
  x86Version,
];
const kinds: number = TLB_KINDS;
type Tlb = Memory['tlb'] extends SoftTlb ? true : never;
const ok: Tlb = true;

export { kinds, ok, versions };
