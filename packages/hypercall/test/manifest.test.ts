import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ABI_CONST,
  ABI_VERSION,
  CODECS,
  ERRNO,
  errnoName,
  HC,
  HypercallError,
  hypervisorCpuid,
  KVM_FEATURE,
  MANIFEST,
  type Manifest,
  MSR,
  manifestProblems,
  PV_FEATURE,
  resolveFeatures,
  SCALAR_SIZE,
  structCodec,
  VERSION,
} from '../src/index';

describe('KVM-compatible base (values from Linux kvm_para.h / pvclock-abi.h)', () => {
  it('hypercall numbers', () => {
    expect([HC.KVM_HC_KICK_CPU, HC.KVM_HC_SEND_IPI, HC.KVM_HC_SCHED_YIELD]).toEqual([5, 10, 11]);
  });
  it('feature bits', () => {
    expect(KVM_FEATURE).toMatchObject({
      KVM_FEATURE_CLOCKSOURCE: 0,
      KVM_FEATURE_NOP_IO_DELAY: 1,
      KVM_FEATURE_CLOCKSOURCE2: 3,
      KVM_FEATURE_STEAL_TIME: 5,
      KVM_FEATURE_PV_EOI: 6,
      KVM_FEATURE_PV_UNHALT: 7,
      KVM_FEATURE_PV_TLB_FLUSH: 9,
      KVM_FEATURE_PV_SEND_IPI: 11,
      KVM_FEATURE_PV_SCHED_YIELD: 13,
      KVM_FEATURE_CLOCKSOURCE_STABLE_BIT: 24,
    });
  });
  it('MSRs and errnos', () => {
    expect(MSR).toMatchObject({
      MSR_KVM_WALL_CLOCK_NEW: 0x4b564d00,
      MSR_KVM_SYSTEM_TIME_NEW: 0x4b564d01,
      MSR_KVM_PV_EOI_EN: 0x4b564d04,
      MSR_IA32_TSC_DEADLINE: 0x6e0,
      MSR_X2APIC_BASE: 0x800,
    });
    expect(ERRNO).toEqual({
      KVM_EPERM: 1,
      KVM_E2BIG: 7,
      KVM_EFAULT: 14,
      KVM_EINVAL: 22,
      KVM_EOPNOTSUPP: 95,
      KVM_ENOSYS: 1000,
    });
  });
  it('pvclock_vcpu_time_info is the 32-byte Linux layout', () => {
    const c = CODECS.pvclock_vcpu_time_info;
    expect(c.size).toBe(32);
    const bytes = new Uint8Array(32);
    c.encode(new DataView(bytes.buffer), {
      version: 0x11223344,
      pad0: 0,
      tsc_timestamp: 0x0102030405060708n,
      system_time: 0x1112131415161718n,
      tsc_to_system_mul: 0xaabbccdd,
      tsc_shift: -2,
      flags: 1,
      pad: [0, 0],
    });
    // version u32 @0, pad0 u32 @4, tsc_timestamp u64 @8, system_time u64 @16, mul u32 @24, shift s8 @28, flags u8 @29
    expect(Array.from(bytes)).toEqual([
      0x44, 0x33, 0x22, 0x11, 0, 0, 0, 0, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x18, 0x17, 0x16,
      0x15, 0x14, 0x13, 0x12, 0x11, 0xdd, 0xcc, 0xbb, 0xaa, 0xfe, 0x01, 0, 0,
    ]);
  });
  it('pvclock_wall_clock is version/sec/nsec, 12 bytes', () => {
    const c = CODECS.pvclock_wall_clock;
    expect([c.size, c.offsets.version, c.offsets.sec, c.offsets.nsec]).toEqual([12, 0, 4, 8]);
  });
});

describe('the manifest', () => {
  it('is valid and keeps the two number ranges apart', () => {
    expect(manifestProblems(MANIFEST)).toEqual([]);
    for (const c of MANIFEST.calls) {
      if (c.origin === 'kvm') expect(c.nr).toBeLessThan(ABI_CONST.PV_HC_BASE);
      else expect(c.nr).toBeGreaterThanOrEqual(ABI_CONST.PV_HC_BASE);
    }
    expect(MANIFEST.version).toBe(VERSION);
  });

  it('errnoName names errno values and their negations', () => {
    expect([errnoName(14), errnoName(-1000), errnoName(3)]).toEqual(['KVM_EFAULT', 'KVM_ENOSYS', undefined]);
  });

  it('every batch call has a maximum count and the E2BIG / EFAULT errors', () => {
    for (const c of MANIFEST.calls.filter((c) => c.origin === 'pv')) {
      const count = (c.args as readonly { kind: string; max?: string }[]).find((a) => a.kind === 'count');
      expect(count?.max, c.name).toBeDefined();
      expect(c.errors).toEqual(
        expect.arrayContaining(['KVM_E2BIG', 'KVM_EFAULT', 'KVM_ENOSYS', 'KVM_EPERM']),
      );
    }
  });

  const mutate = (
    f: (m: { -readonly [K in keyof Manifest]: unknown[] | string } & Record<string, unknown>) => void,
  ) => {
    const m = structuredClone(MANIFEST) as never;
    f(m);
    return manifestProblems(m as Manifest);
  };

  it('reports broken invariants naming the entry', () => {
    expect(
      mutate((m) => {
        (m.calls as { nr: number }[])[4]!.nr = 5;
      }),
    ).toContain('calls[4] "PV_HC_APIC_WRITE_BATCH": number 5 already used by "KVM_HC_KICK_CPU"');
    expect(
      mutate((m) => {
        (m.structs as { fields: { offset: number }[] }[])[1]!.fields[2]!.offset = 6;
      }).join('\n'),
    ).toMatch(/structs\[1\] "pvclock_wall_clock" field 2 "nsec": offset 6 is not a multiple/);
    expect(
      mutate((m) => {
        (m.structs as { fields: unknown[] }[])[4]!.fields.pop();
      }),
    ).toContain('structs[4] "pv_apic_write": byte 4 is not covered by a field (declare padding)');
    expect(
      mutate((m) => {
        (m.calls as { args: { struct?: string }[] }[])[3]!.args[0]!.struct = 'nope';
      }),
    ).toContain('calls[3] "PV_HC_MULTICALL" arg 0 "list": unknown struct "nope"');
    expect(
      mutate((m) => {
        (m.calls as { args: { reg: string }[] }[])[1]!.args[1]!.reg = 'ebx';
      }),
    ).toContain('calls[1] "KVM_HC_SEND_IPI" arg 1 "bitmap_high": register ebx used twice');
    expect(
      mutate((m) => {
        (m.calls as { nr: number }[])[3]!.nr = 12;
      }).join('\n'),
    ).toMatch(/"PV_HC_MULTICALL": pv call number 12 is on the wrong side of PV_HC_BASE/);
  });
});

describe('codecs', () => {
  it('round-trip every structure with random values', () => {
    for (const s of MANIFEST.structs) {
      const codec = structCodec(s);
      const field = (type: keyof typeof SCALAR_SIZE): fc.Arbitrary<number | bigint> => {
        const bits = SCALAR_SIZE[type] * 8;
        const signed = type.startsWith('s');
        return bits === 64
          ? signed
            ? fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n })
            : fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })
          : signed
            ? fc.integer({ min: -(2 ** (bits - 1)), max: 2 ** (bits - 1) - 1 })
            : fc.integer({ min: 0, max: 2 ** bits - 1 });
      };
      const arb = fc.record(
        Object.fromEntries(
          s.fields.map((f) => [
            f.name,
            'count' in f
              ? fc.array(field(f.type), { minLength: f.count, maxLength: f.count })
              : field(f.type),
          ]),
        ),
      );
      fc.assert(
        fc.property(arb, fc.integer({ min: 0, max: 16 }), (v, at) => {
          const view = new DataView(new ArrayBuffer(s.size + 16));
          codec.encode(view, v as never, at);
          expect(codec.decode(view, at)).toEqual(v);
        }),
        { numRuns: 100 },
      );
    }
  });

  it('rejects values that do not fit and views that are too small (host errors)', () => {
    const c = CODECS.pv_apic_write;
    const view = new DataView(new ArrayBuffer(8));
    expect(() => c.encode(view, { reg: 2 ** 32, value: 0 })).toThrow(
      /pv_apic_write.reg: 4294967296 does not fit u32/,
    );
    expect(() => c.encode(view, { reg: 1.5, value: 0 })).toThrow(HypercallError);
    expect(() => c.decode(view, 4)).toThrow(/8 bytes at offset 4 do not fit a view of 8 bytes/);
    expect(() =>
      CODECS.pv_pte_update.encode(new DataView(new ArrayBuffer(16)), { pte_gpa: 1 as never, value: 0n }),
    ).toThrow(/expected a bigint/);
  });
});

describe('CPUID', () => {
  const features = {
    kvm: ['KVM_FEATURE_CLOCKSOURCE2', 'KVM_FEATURE_PV_EOI', 'KVM_FEATURE_CLOCKSOURCE_STABLE_BIT'],
    pv: ['PV_FEATURE_MULTICALL', 'PV_FEATURE_TLB_FLUSH'],
  } as const;
  it('answers the KVM leaves like KVM', () => {
    expect(hypervisorCpuid(features, 0x40000000)).toEqual([0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d]);
    expect(hypervisorCpuid(features, 0x40000001)).toEqual([(1 << 3) | (1 << 6) | (1 << 24), 0, 0, 0]);
  });
  it('answers the @pv leaves with signature, version and feature bits', () => {
    const [max, b, c, d] = hypervisorCpuid(features, 0x40000100)!;
    expect(max).toBe(0x40000101);
    const sig = String.fromCharCode(
      ...[b, c, d].flatMap((w) => [w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24]),
    );
    expect(sig).toBe(MANIFEST.pvSignature);
    expect(hypervisorCpuid(features, 0x40000101)).toEqual([
      (ABI_VERSION.major << 16) | ABI_VERSION.minor,
      (1 << PV_FEATURE.PV_FEATURE_MULTICALL) | (1 << PV_FEATURE.PV_FEATURE_TLB_FLUSH),
      0x10000,
      0,
    ]);
  });
  it('reserved leaves in the range read as zero, others are not the hypervisor’s', () => {
    expect(hypervisorCpuid(features, 0x40000002)).toEqual([0, 0, 0, 0]);
    expect(hypervisorCpuid(features, 0x400001ff)).toEqual([0, 0, 0, 0]);
    expect(hypervisorCpuid(features, 0x40000200)).toBeUndefined();
    expect(hypervisorCpuid(features, 0x3fffffff)).toBeUndefined();
    expect(hypervisorCpuid(resolveFeatures(features), 0x40000001)).toEqual(
      hypervisorCpuid(features, 0x40000001),
    );
  });
  it('refuses to advertise what @pv does not implement', () => {
    expect(() => hypervisorCpuid({ kvm: ['KVM_FEATURE_ASYNC_PF'] }, 0x40000001)).toThrow(
      /not implemented by @pv/,
    );
  });
});
