import { describe, expect, it } from 'vitest';
import { LocalApic, MSR_IA32_APICBASE } from '../src/index';
import { FakeClock } from './helpers';

const EN = 0x800n;
const EXTD = 0x400n;
const BASE = 0xfee00000n;

function apic(opts: { bsp?: boolean; x2apic?: boolean } = {}) {
  const changes: [number, boolean][] = [];
  const a = new LocalApic({
    id: 3,
    clock: new FakeClock(),
    bsp: opts.bsp,
    x2apic: opts.x2apic,
    events: { onBaseChange: (b, m) => changes.push([b, m]) },
  });
  return { a, changes };
}

describe('IA32_APIC_BASE and mode transitions (SDM 10.12.5, Figure 10-27)', () => {
  it('resets to xAPIC mode at 0xFEE00000 with BSP set only on the BSP', () => {
    expect(apic({ bsp: true }).a.readMsr(MSR_IA32_APICBASE)).toBe(BASE | EN | 0x100n);
    const { a } = apic();
    expect(a.readMsr(MSR_IA32_APICBASE)).toBe(BASE | EN);
    expect(a.mmioEnabled).toBe(true);
    expect(a.base).toBe(0xfee00000);
  });

  // [from, to, legal]
  const states = { disabled: BASE, xapic: BASE | EN, x2apic: BASE | EN | EXTD, invalid: BASE | EXTD };
  type S = keyof typeof states;
  const matrix: [S, S, boolean][] = [
    ['xapic', 'xapic', true],
    ['xapic', 'x2apic', true],
    ['xapic', 'disabled', true],
    ['xapic', 'invalid', false],
    ['x2apic', 'x2apic', true],
    ['x2apic', 'xapic', false],
    ['x2apic', 'disabled', true],
    ['x2apic', 'invalid', false],
    ['disabled', 'disabled', true],
    ['disabled', 'xapic', true],
    ['disabled', 'x2apic', false],
    ['disabled', 'invalid', false],
  ];
  it.each(matrix)('%s → %s legal=%s', (from, to, legal) => {
    const { a } = apic();
    if (from === 'x2apic') expect(a.writeMsr(MSR_IA32_APICBASE, states.x2apic)).toBe(true);
    if (from === 'disabled') expect(a.writeMsr(MSR_IA32_APICBASE, states.disabled)).toBe(true);
    const before = a.readMsr(MSR_IA32_APICBASE);
    expect(a.writeMsr(MSR_IA32_APICBASE, states[to])).toBe(legal);
    expect(a.readMsr(MSR_IA32_APICBASE)).toBe(legal ? states[to] : before);
  });

  it('reserved bits, address bits beyond MAXPHYADDR and EXTD without x2APIC support are #GP', () => {
    const { a } = apic();
    for (const bad of [BASE | EN | 1n, BASE | EN | 0x200n, (1n << 36n) | EN, -1n, 1n << 64n]) {
      expect(a.writeMsr(MSR_IA32_APICBASE, bad), bad.toString(16)).toBe(false);
    }
    expect(apic({ x2apic: false }).a.writeMsr(MSR_IA32_APICBASE, BASE | EN | EXTD)).toBe(false);
  });

  it('BSP is read-only', () => {
    const { a } = apic();
    expect(a.writeMsr(MSR_IA32_APICBASE, BASE | EN | 0x100n)).toBe(true);
    expect(a.readMsr(MSR_IA32_APICBASE)).toBe(BASE | EN);
  });

  it('relocation moves the page and notifies the composer; x2APIC and disable switch the page off', () => {
    const { a, changes } = apic();
    a.mmioWrite(0x80, 4, 0x20);
    expect(a.writeMsr(MSR_IA32_APICBASE, 0xfed00000n | EN)).toBe(true);
    expect(a.base).toBe(0xfed00000);
    expect(a.mmioRead(0x80, 4)).toBe(0x20); // registers survive a relocation
    expect(a.writeMsr(MSR_IA32_APICBASE, 0x8_fed0_0000n | EN)).toBe(true); // above 4 GiB (36-bit)
    expect(a.writeMsr(MSR_IA32_APICBASE, 0x8_fed0_0000n | EN | EXTD)).toBe(true);
    expect(a.writeMsr(MSR_IA32_APICBASE, 0x8_fed0_0000n)).toBe(true);
    expect(changes).toEqual([
      [0xfed00000, true],
      [0x8_fed0_0000, true],
      [0x8_fed0_0000, false], // x2APIC: page off; x2APIC → disabled changes nothing visible
    ]);
  });

  it('xAPIC → x2APIC keeps programmed registers; ID becomes the x2APIC ID, LDR is derived', () => {
    const { a } = apic();
    a.mmioWrite(0xf0, 4, 0x1ff);
    a.mmioWrite(0x80, 4, 0x30);
    a.mmioWrite(0x320, 4, 0x20041);
    a.mmioWrite(0xd0, 4, 0x01000000);
    expect(a.writeMsr(MSR_IA32_APICBASE, BASE | EN | EXTD)).toBe(true);
    expect(a.readMsr(0x808)).toBe(0x30n);
    expect(a.readMsr(0x832)).toBe(0x20041n);
    expect(a.readMsr(0x802)).toBe(3n);
    expect(a.readMsr(0x80d)).toBe(1n << 3n);
  });

  it('x2APIC → disabled → xAPIC loses register state (SDM 10.12.5.1) and keeps the ID', () => {
    const { a } = apic();
    expect(a.writeMsr(MSR_IA32_APICBASE, BASE | EN | EXTD)).toBe(true);
    a.writeMsr(0x80f, 0x1ffn);
    a.writeMsr(0x808, 0x40n);
    expect(a.writeMsr(MSR_IA32_APICBASE, BASE)).toBe(true);
    expect(a.readMsr(0x808)).toBeUndefined(); // no x2APIC MSRs while disabled
    expect(a.mmioRead(0x80, 4)).toBe(0xffffffff); // nor the page
    expect(a.writeMsr(MSR_IA32_APICBASE, BASE | EN)).toBe(true);
    expect(a.mmioRead(0x80, 4)).toBe(0);
    expect(a.mmioRead(0xf0, 4)).toBe(0xff);
    expect(a.mmioRead(0x20, 4)).toBe(0x03000000);
  });

  it('writeRegister / readRegister follow the current mode', () => {
    const { a } = apic();
    expect(a.writeRegister(0x08, 0x20)).toBe(0);
    expect(a.readRegister(0x08)).toBe(0x20);
    expect(a.writeRegister(0x08, 0x20, 1)).not.toBe(0); // high bits only exist in x2APIC
    a.writeMsr(MSR_IA32_APICBASE, BASE | EN | EXTD);
    expect(a.readRegister(0x0e)).toBeUndefined(); // DFR does not exist in x2APIC
    expect(a.writeRegister(0x08, 0x120)).not.toBe(0); // reserved bits
    a.writeMsr(MSR_IA32_APICBASE, BASE);
    expect(a.writeRegister(0x08, 0)).not.toBe(0);
  });
});
