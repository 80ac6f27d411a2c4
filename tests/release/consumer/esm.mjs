// What a user writes after `npm install @pv/...`, as an ES module. Extended by every issue that adds
// public API, until it wires a whole machine and boots the shipped guest (issue 11).
import assert from 'node:assert/strict';
import * as apic from '@pv/apic';
import * as devices from '@pv/devices';
import * as guest from '@pv/guest';
import * as hypercall from '@pv/hypercall';
import * as mmu from '@pv/mmu';
import * as paravirtOps from '@pv/paravirt-ops';
import * as x86 from '@pv/x86-core';

const expected = JSON.parse(process.env.PV_EXPECTED_VERSIONS);
const loaded = {
  '@pv/x86-core': x86,
  '@pv/mmu': mmu,
  '@pv/apic': apic,
  '@pv/devices': devices,
  '@pv/hypercall': hypercall,
  '@pv/paravirt-ops': paravirtOps,
  '@pv/guest': guest,
};
for (const [name, mod] of Object.entries(loaded)) assert.equal(mod.VERSION, expected[name], name);
assert.equal(x86.EXIT_NAMES.length, x86.EXIT_KINDS);
console.log('esm ok');
