/**
 * Snapshot data of a LocalApic: plain, versioned (QEMU's vmstate_apic_common in spirit), and its
 * validation. Typed arrays hold the vector registers and LVTs; 64-bit MSRs are decimal strings.
 */

import { ApicError } from './errors';
import { APIC_LVT_NB } from './regs';

export const STATE_VERSION = 1;
const TWO32 = 0x1_0000_0000;

/** Plain, versioned snapshot data (QEMU's vmstate_apic_common in spirit). */
export interface LocalApicState {
  version: 1;
  id: number;
  bsp: boolean;
  x2apicSupported: boolean;
  physAddrBits: number;
  cyclesPerTick: number;
  /** IA32_APIC_BASE low bits (address | EXTD | EN | BSP) as a number (< 2^52). */
  apicBase: number;
  xapicId: number;
  tpr: number;
  svr: number;
  ldr: number;
  dfr: number;
  esr: number;
  esrPending: number;
  icrLo: number;
  icrHi: number;
  isr: Uint32Array;
  tmr: Uint32Array;
  irr: Uint32Array;
  lvt: Uint32Array;
  timerInitial: number;
  timerDivide: number;
  /** Next timer expiry in TSC cycles, or -1. */
  timerExpiry: number;
  /** IA32_TSC_DEADLINE as a decimal string. */
  tscDeadline: string;
  lint0: boolean;
  lint1: boolean;
  extIntPending: boolean;
  nmiPending: boolean;
  waitForSipi: boolean;
  /** MSR_KVM_PV_EOI_EN as a decimal string. */
  pvEoiMsr: string;
  pvEoiPending: boolean;
}

/** Throws APIC_BAD_STATE naming the first malformed field. */
export function validateState(s: LocalApicState): void {
  const fail = (what: string): never => {
    throw new ApicError('APIC_BAD_STATE', `LocalApic.fromState: ${what}`);
  };
  if (s === null || typeof s !== 'object') fail('state is not an object');
  if (s.version !== STATE_VERSION) fail(`unsupported state version ${String(s.version)} (expected 1)`);
  const u32 = (name: keyof LocalApicState) => {
    const v = s[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= TWO32)
      fail(`${name} = ${String(v)} is not a u32`);
  };
  for (const n of [
    'id',
    'xapicId',
    'tpr',
    'svr',
    'ldr',
    'dfr',
    'esr',
    'esrPending',
    'icrLo',
    'icrHi',
  ] as const)
    u32(n);
  for (const n of ['timerInitial', 'timerDivide', 'cyclesPerTick', 'physAddrBits'] as const) u32(n);
  if (!Number.isInteger(s.apicBase) || s.apicBase < 0 || s.apicBase > Number.MAX_SAFE_INTEGER)
    fail('apicBase');
  for (const n of ['isr', 'tmr', 'irr'] as const) {
    if (!(s[n] instanceof Uint32Array) || s[n].length !== 8) fail(`${n} is not a Uint32Array(8)`);
  }
  if (!(s.lvt instanceof Uint32Array) || s.lvt.length !== APIC_LVT_NB)
    fail(`lvt is not a Uint32Array(${APIC_LVT_NB})`);
  if (typeof s.timerExpiry !== 'number' || Number.isNaN(s.timerExpiry)) fail('timerExpiry is not a number');
  for (const n of ['tscDeadline', 'pvEoiMsr'] as const) {
    if (typeof s[n] !== 'string' || !/^\d+$/.test(s[n])) fail(`${n} is not a decimal string`);
  }
  for (const n of [
    'bsp',
    'x2apicSupported',
    'lint0',
    'lint1',
    'extIntPending',
    'nmiPending',
    'waitForSipi',
    'pvEoiPending',
  ] as const) {
    if (typeof s[n] !== 'boolean') fail(`${n} is not a boolean`);
  }
}
