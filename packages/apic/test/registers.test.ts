import { describe, expect, it } from 'vitest';
import {
  APIC_ERR_READ_ONLY,
  APIC_ERR_UNKNOWN,
  APIC_ESR_ILLEGAL_ADDRESS,
  APIC_ESR_RECV_ILLEGAL_VECTOR,
  APIC_ESR_SEND_ILLEGAL_VECTOR,
  APIC_OK,
  APIC_VERSION,
  LocalApic,
} from '../src/index';
import { enableX2apic, enableXapic, FakeClock, machine } from './helpers';

/** xAPIC page: offset, name, reset value, read-back mask of writable bits (null = read-only). */
const XAPIC_TABLE: { off: number; name: string; reset: number; mask: number | null; fixed?: number }[] = [
  { off: 0x20, name: 'ID', reset: 0x05000000, mask: 0xff000000 },
  { off: 0x30, name: 'VERSION', reset: APIC_VERSION, mask: null },
  { off: 0x80, name: 'TPR', reset: 0, mask: 0xff },
  { off: 0xd0, name: 'LDR', reset: 0, mask: 0xff000000 },
  { off: 0xe0, name: 'DFR', reset: 0xffffffff, mask: 0xf0000000, fixed: 0x0fffffff },
  { off: 0xf0, name: 'SVR', reset: 0xff, mask: 0x3ff },
  { off: 0x2f0, name: 'LVT_CMCI', reset: 0x10000, mask: 0x107ff },
  { off: 0x300, name: 'ICR', reset: 0, mask: 0xccfff },
  { off: 0x310, name: 'ICR_HIGH', reset: 0, mask: 0xff000000 },
  { off: 0x320, name: 'LVT_TIMER', reset: 0x10000, mask: 0x700ff },
  { off: 0x330, name: 'LVT_THERMAL', reset: 0x10000, mask: 0x107ff },
  { off: 0x340, name: 'LVT_PERF', reset: 0x10000, mask: 0x107ff },
  { off: 0x350, name: 'LVT_LINT0', reset: 0x10000, mask: 0x1a7ff },
  { off: 0x360, name: 'LVT_LINT1', reset: 0x10000, mask: 0x1a7ff },
  { off: 0x370, name: 'LVT_ERROR', reset: 0x10000, mask: 0x100ff },
  { off: 0x380, name: 'TIMER_INITIAL', reset: 0, mask: 0xffffffff },
  { off: 0x390, name: 'TIMER_CURRENT', reset: 0, mask: null },
  { off: 0x3e0, name: 'TIMER_DIVIDE', reset: 0, mask: 0x0b },
  ...[0x100, 0x180, 0x200].flatMap((b, k) =>
    [0, 1, 7].map((i) => ({
      off: b + i * 16,
      name: `${['ISR', 'TMR', 'IRR'][k]}${i}`,
      reset: 0,
      mask: null,
    })),
  ),
];

const RESERVED_XAPIC = [0x00, 0x10, 0x40, 0x50, 0x60, 0x70, 0x290, 0x2a0, 0x2e0, 0x3a0, 0x3d0, 0x3f0];

/** A fresh AP (not the BSP, so LINT0 resets masked) with id 5. */
function fresh() {
  const clock = new FakeClock();
  return new LocalApic({ id: 5, clock });
}

function readEsr(a: LocalApic): number {
  a.mmioWrite(0x280, 4, 0);
  return a.mmioRead(0x280, 4);
}

describe('xAPIC register table', () => {
  it.each(XAPIC_TABLE)('$name at $off resets, reads back through its mask, ignores reserved bits', (r) => {
    const a = fresh();
    expect(a.mmioRead(r.off, 4)).toBe(r.reset >>> 0);
    enableXapic(a);
    const patterns = [0xffffffff, 0, 0xa5a5a5a5, 0x5a5a5a5a, 0x12345678];
    for (const p of patterns) {
      if (r.off === 0xf0) {
        a.mmioWrite(0xf0, 4, p);
        expect(a.mmioRead(0xf0, 4)).toBe((p & 0x3ff) >>> 0);
        a.mmioWrite(0xf0, 4, 0x1ff);
        continue;
      }
      const before = a.mmioRead(r.off, 4);
      const status = a.mmioWrite(r.off, 4, p);
      const got = a.mmioRead(r.off, 4);
      if (r.mask === null) {
        expect(status).toBe(APIC_ERR_READ_ONLY);
        if (r.name !== 'TIMER_CURRENT') expect(got).toBe(before);
      } else {
        expect(status).toBe(APIC_OK);
        let want = ((p & r.mask) | (r.fixed ?? 0)) >>> 0;
        // LVT timer mode 3 is reserved: bit 18 is dropped.
        if (r.name === 'LVT_TIMER' && ((want >>> 17) & 3) === 3) want = (want & ~(1 << 18)) >>> 0;
        expect(got, `${r.name} ← ${p.toString(16)}`).toBe(want);
      }
    }
    // None of these accesses is an illegal-address error.
    expect(readEsr(a) & APIC_ESR_ILLEGAL_ADDRESS).toBe(0);
  });

  it.each(RESERVED_XAPIC)('reserved offset %#x reads 0 and sets ESR illegal register address', (off) => {
    const a = fresh();
    enableXapic(a);
    expect(a.mmioRead(off, 4)).toBe(0);
    expect(readEsr(a)).toBe(APIC_ESR_ILLEGAL_ADDRESS);
    expect(a.mmioWrite(off, 4, 0xffffffff)).toBe(APIC_ERR_UNKNOWN);
    expect(readEsr(a)).toBe(APIC_ESR_ILLEGAL_ADDRESS);
    expect(readEsr(a)).toBe(0); // nothing new since the last write
  });

  it('narrow reads extract bytes, narrow or unaligned writes are ignored', () => {
    const a = fresh();
    enableXapic(a);
    a.mmioWrite(0x80, 4, 0xab);
    expect(a.mmioRead(0x80, 1)).toBe(0xab);
    expect(a.mmioRead(0x81, 1)).toBe(0);
    expect(a.mmioRead(0x23, 1)).toBe(5); // ID byte 3
    expect(a.mmioRead(0x22, 2)).toBe(0x0500);
    expect(a.mmioRead(0x84, 4)).toBe(0); // bytes 4–15 of a slot
    expect(a.mmioWrite(0x80, 1, 0x12)).not.toBe(APIC_OK);
    expect(a.mmioWrite(0x82, 4, 0x12)).not.toBe(APIC_OK);
    expect(a.mmioRead(0x80, 4)).toBe(0xab);
    expect(a.stats.badMmio).toBe(2);
  });

  it('software-disabled: LVT mask bits are forced and cannot be cleared (SDM 10.4.7.2)', () => {
    const a = fresh();
    enableXapic(a);
    a.mmioWrite(0x350, 4, 0x30);
    expect(a.mmioRead(0x350, 4)).toBe(0x30);
    a.mmioWrite(0xf0, 4, 0xff); // disable
    expect(a.mmioRead(0x350, 4)).toBe(0x10030);
    a.mmioWrite(0x350, 4, 0x31);
    expect(a.mmioRead(0x350, 4)).toBe(0x10031);
  });
});

describe('ESR (SDM 10.5.3): write-then-read', () => {
  it('errors are latched by an ESR write and cleared by the next one', () => {
    const { apics } = machine(1);
    const a = apics[0]!;
    enableXapic(a);
    a.mmioWrite(0x300, 4, 0x4005); // fixed IPI, vector 5: send illegal vector
    expect(a.mmioRead(0x280, 4)).toBe(0); // not visible until the ESR is written
    a.mmioWrite(0x280, 4, 0);
    expect(a.mmioRead(0x280, 4)).toBe(APIC_ESR_SEND_ILLEGAL_VECTOR);
    a.mmioWrite(0x280, 4, 0);
    expect(a.mmioRead(0x280, 4)).toBe(0);
  });

  it('an LVT with an illegal vector sets receive-illegal-vector and raises the error LVT', () => {
    const { apics, clock } = machine(1);
    const a = apics[0]!;
    enableXapic(a);
    a.mmioWrite(0x370, 4, 0xe3); // error LVT unmasked, vector 0xe3
    a.mmioWrite(0x320, 4, 0x0a); // timer, vector 10 (illegal)
    a.mmioWrite(0x3e0, 4, 0xb); // divide by 1
    a.mmioWrite(0x380, 4, 10);
    clock.advance(10);
    a.tick();
    a.mmioWrite(0x280, 4, 0);
    expect(a.mmioRead(0x280, 4)).toBe(APIC_ESR_RECV_ILLEGAL_VECTOR);
    expect(a.acknowledge()).toBe(0xe3);
  });

  it('an illegal error-LVT vector does not recurse', () => {
    const { apics } = machine(1);
    const a = apics[0]!;
    enableXapic(a);
    a.mmioWrite(0x370, 4, 0x02);
    a.mmioRead(0x40, 4); // illegal address
    a.mmioWrite(0x280, 4, 0);
    expect(a.mmioRead(0x280, 4)).toBe(APIC_ESR_ILLEGAL_ADDRESS | APIC_ESR_RECV_ILLEGAL_VECTOR);
    expect(a.pending()).toBe(false);
  });

  it('x2APIC: ESR write of non-zero is #GP, zero latches', () => {
    const { apics } = machine(1);
    const a = apics[0]!;
    enableX2apic(a);
    expect(a.writeMsr(0x828, 1n)).toBe(false);
    expect(a.writeMsr(0x83f, 3n)).toBe(true); // self IPI, illegal vector
    expect(a.writeMsr(0x828, 0n)).toBe(true);
    expect(a.readMsr(0x828)).toBe(BigInt(APIC_ESR_SEND_ILLEGAL_VECTOR));
  });
});

/** x2APIC MSR rules (SDM 10.12.1.2 Table 10-6, 10.12.1.3). */
const X2_TABLE: { msr: number; name: string; read: boolean; write: number | null }[] = [
  { msr: 0x802, name: 'ID', read: true, write: null },
  { msr: 0x803, name: 'VERSION', read: true, write: null },
  { msr: 0x808, name: 'TPR', read: true, write: 0xff },
  { msr: 0x80a, name: 'PPR', read: true, write: null },
  { msr: 0x80b, name: 'EOI', read: false, write: 0 },
  { msr: 0x80d, name: 'LDR', read: true, write: null },
  { msr: 0x80f, name: 'SVR', read: true, write: 0x3ff },
  { msr: 0x810, name: 'ISR0', read: true, write: null },
  { msr: 0x818, name: 'TMR0', read: true, write: null },
  { msr: 0x827, name: 'IRR7', read: true, write: null },
  { msr: 0x828, name: 'ESR', read: true, write: 0 },
  { msr: 0x82f, name: 'LVT_CMCI', read: true, write: 0x107ff },
  { msr: 0x832, name: 'LVT_TIMER', read: true, write: 0x500ff },
  { msr: 0x835, name: 'LVT_LINT0', read: true, write: 0x1a7ff },
  { msr: 0x837, name: 'LVT_ERROR', read: true, write: 0x100ff },
  { msr: 0x838, name: 'TMICT', read: true, write: 0xffffffff },
  { msr: 0x839, name: 'TMCCT', read: true, write: null },
  { msr: 0x83e, name: 'TDCR', read: true, write: 0x0b },
  { msr: 0x83f, name: 'SELF_IPI', read: false, write: 0xff },
];
const X2_ABSENT = [
  0x800, 0x801, 0x804, 0x807, 0x809, 0x80c, 0x80e, 0x829, 0x82e, 0x831, 0x83a, 0x83d, 0x840, 0x8ff,
];

describe('x2APIC MSR table', () => {
  it.each(X2_TABLE)('$name ($msr): readable=$read, writable bits, #GP on reserved bits', (r) => {
    const { apics } = machine(1, { ids: [0x123] });
    const a = apics[0]!;
    enableX2apic(a);
    expect(a.readMsr(r.msr) !== undefined).toBe(r.read);
    if (r.write === null) {
      expect(a.writeMsr(r.msr, 0n)).toBe(false);
      return;
    }
    // Upper 32 bits are reserved for every register but the ICR.
    expect(a.writeMsr(r.msr, 1n << 32n)).toBe(false);
    const reserved = ~r.write >>> 0;
    if (reserved !== 0) {
      const bit = reserved & -reserved;
      if (r.name !== 'LVT_TIMER' || bit !== 0) expect(a.writeMsr(r.msr, BigInt(bit >>> 0))).toBe(false);
    }
    expect(a.writeMsr(r.msr, BigInt(r.write))).toBe(true);
    if (r.read && r.name !== 'ESR' && r.name !== 'SVR') expect(a.readMsr(r.msr)).toBe(BigInt(r.write));
  });

  it.each(X2_ABSENT)('absent register %#x: RDMSR and WRMSR #GP', (msr) => {
    const { apics } = machine(1);
    const a = apics[0]!;
    enableX2apic(a);
    expect(a.readMsr(msr)).toBeUndefined();
    expect(a.writeMsr(msr, 0n)).toBe(false);
  });

  it('x2APIC ID is the 32-bit ID and LDR is derived (SDM 10.12.10.2)', () => {
    const { apics } = machine(1, { ids: [0x123] });
    const a = apics[0]!;
    enableX2apic(a);
    expect(a.readMsr(0x802)).toBe(0x123n);
    expect(a.readMsr(0x80d)).toBe(BigInt((0x12 << 16) | (1 << 3)));
  });

  it('ICR is one 64-bit register with reserved bits #GP', () => {
    const { apics } = machine(1);
    const a = apics[0]!;
    enableX2apic(a);
    expect(a.writeMsr(0x830, (7n << 32n) | 0x4000n | 0x40n)).toBe(true);
    expect(a.readMsr(0x830)).toBe((7n << 32n) | 0x4040n);
    expect(a.writeMsr(0x830, 0x1040n)).toBe(false); // bit 12 (delivery status) is reserved in x2APIC
    expect(a.writeMsr(0x830, 0x100040n)).toBe(false);
  });

  it('xAPIC MMIO is off in x2APIC mode and x2APIC MSRs #GP in xAPIC mode', () => {
    const { apics } = machine(1);
    const a = apics[0]!;
    expect(a.readMsr(0x808)).toBeUndefined();
    expect(a.writeMsr(0x808, 0n)).toBe(false);
    enableX2apic(a);
    expect(a.mmioRead(0x80, 4)).toBe(0xffffffff);
    expect(a.mmioWrite(0x80, 4, 0x20)).not.toBe(APIC_OK);
    expect(a.readMsr(0x808)).toBe(0n);
  });
});
