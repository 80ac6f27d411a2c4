import { describe, expect, it } from 'vitest';
import { ABI_CONST, CODECS, createDispatcher, ERRNO, HC, HypercallError } from '../src/index';
import { ALL_FEATURES, MMIO_BASE, RAM_SIZE, recordingHandlers, testMemory } from './helpers';

const { KVM_EPERM, KVM_ENOSYS, KVM_EFAULT, KVM_EINVAL, KVM_E2BIG } = ERRNO;

function setup(features: Parameters<typeof createDispatcher>[0]['features'] = ALL_FEATURES) {
  const memory = testMemory();
  const rec = recordingHandlers();
  const d = createDispatcher({ memory, handlers: rec.handlers, features });
  return { memory, rec, d };
}

/** A vCPU register file: EAX=0 ECX=1 EDX=2 EBX=3 ESI=6. */
function cpu(nr: number, a0 = 0, a1 = 0, a2 = 0, a3 = 0, cpl = 0) {
  const regs = new Int32Array(8);
  regs[0] = nr;
  regs[3] = a0;
  regs[1] = a1;
  regs[2] = a2;
  regs[6] = a3;
  regs[4] = 0x1234; // ESP, must stay
  regs[7] = 0x5678; // EDI, must stay
  return { regs, cpl };
}

function putApic(mem: ReturnType<typeof testMemory>, at: number, entries: [number, number][]) {
  entries.forEach(([reg, value], i) => {
    CODECS.pv_apic_write.encode(mem.view, { reg, value }, at + i * 8);
  });
}

function status(mem: ReturnType<typeof testMemory>, at: number) {
  return CODECS.pv_batch_status.decode(mem.view, at);
}

describe('calling convention', () => {
  it('reads EAX/EBX/ECX/EDX/ESI, writes only EAX', () => {
    const { d, rec } = setup();
    const c = cpu(HC.KVM_HC_SEND_IPI, 0b101, 0x1, 4, 0x40f1);
    d.hypercall(c);
    expect(rec.log).toEqual(['ipi 0x5 0x1 4 0x40f1']);
    expect(c.regs[0]).toBe(3);
    expect([c.regs[1], c.regs[2], c.regs[3], c.regs[4], c.regs[6], c.regs[7]]).toEqual([
      1, 4, 0b101, 0x1234, 0x40f1, 0x5678,
    ]);
  });

  it('CPL > 0 is -EPERM, before the number is looked at, and nothing runs', () => {
    const { d, rec } = setup();
    for (const cpl of [1, 2, 3]) {
      const c = cpu(HC.KVM_HC_KICK_CPU, 0, 1, 0, 0, cpl);
      d.hypercall(c);
      expect(c.regs[0]).toBe(-KVM_EPERM);
      const u = cpu(0x7777, 0, 0, 0, 0, cpl);
      d.hypercall(u);
      expect(u.regs[0]).toBe(-KVM_EPERM);
    }
    expect(rec.log).toEqual([]);
  });

  it('unknown numbers are -ENOSYS (KVM numbers we do not implement included)', () => {
    const { d } = setup();
    for (const nr of [0, 1, 2, 3, 4, 9, 12, 0xffff, HC.PV_HC_CONSOLE_WRITE + 100, 0xffffffff]) {
      expect(d.invoke(nr)).toBe(-KVM_ENOSYS);
    }
    expect(d.counters.unknown).toBe(10);
  });

  it('a call whose feature is not advertised is -ENOSYS even with a handler', () => {
    const { d, rec } = setup({ kvm: ['KVM_FEATURE_PV_UNHALT'], pv: [] });
    expect(d.invoke(HC.KVM_HC_KICK_CPU, 0, 2)).toBe(0);
    expect(d.invoke(HC.KVM_HC_SEND_IPI, 1, 0, 0, 0x30)).toBe(-KVM_ENOSYS);
    expect(d.invoke(HC.PV_HC_CONSOLE_WRITE, 0, 1)).toBe(-KVM_ENOSYS);
    expect(rec.log).toEqual(['kick 2']);
  });

  it('a missing handler makes its call -ENOSYS', () => {
    const memory = testMemory();
    const d = createDispatcher({ memory, handlers: {}, features: {} });
    for (const c of [HC.KVM_HC_KICK_CPU, HC.KVM_HC_SEND_IPI, HC.PV_HC_APIC_WRITE_BATCH, HC.PV_HC_TLB_FLUSH]) {
      expect(d.invoke(c)).toBe(-KVM_ENOSYS);
    }
  });

  it('counts per number: calls and failures, top-level and inside multicalls', () => {
    const { d, memory } = setup();
    d.invoke(HC.KVM_HC_SCHED_YIELD, 1);
    d.invoke(HC.KVM_HC_SCHED_YIELD, 2, 0, 0, 0, 3);
    CODECS.pv_multicall_entry.encode(
      memory.view,
      { nr: HC.KVM_HC_SCHED_YIELD, args: [3, 0, 0, 0], result: 0 },
      0x100,
    );
    d.invoke(HC.PV_HC_MULTICALL, 0x100, 1);
    expect(d.counters.exits).toBe(3);
    expect(d.counters.calls(HC.KVM_HC_SCHED_YIELD)).toBe(3);
    expect(d.counters.failures(HC.KVM_HC_SCHED_YIELD)).toBe(1);
    expect(d.counters.calls(HC.PV_HC_MULTICALL)).toBe(1);
    expect(d.counters.snapshot().KVM_HC_SCHED_YIELD).toEqual({ nr: 11, calls: 3, failures: 1 });
    d.counters.reset();
    expect(d.counters.calls(HC.KVM_HC_SCHED_YIELD)).toBe(0);
    expect(d.counters.exits).toBe(0);
  });
});

describe('KVM calls', () => {
  it('KVM_HC_KICK_CPU passes a1 (the APIC ID) and ignores a0', () => {
    const { d, rec } = setup();
    expect(d.invoke(HC.KVM_HC_KICK_CPU, 0xdead, 3)).toBe(0);
    expect(rec.log).toEqual(['kick 3']);
  });

  it('KVM_HC_SCHED_YIELD passes a0', () => {
    const { d, rec } = setup();
    expect(d.invoke(HC.KVM_HC_SCHED_YIELD, 7)).toBe(0);
    expect(rec.log).toEqual(['yield 7']);
  });

  it('KVM_HC_SEND_IPI returns the delivered count; logical mode or a shorthand is -EINVAL', () => {
    const { d, rec } = setup();
    expect(d.invoke(HC.KVM_HC_SEND_IPI, 0xffffffff, 0xffffffff, 0, 0xfd)).toBe(64);
    expect(d.invoke(HC.KVM_HC_SEND_IPI, 1, 0, 0, 0xfd | (1 << 11))).toBe(-KVM_EINVAL);
    expect(d.invoke(HC.KVM_HC_SEND_IPI, 1, 0, 0, 0xfd | (1 << 18))).toBe(-KVM_EINVAL);
    expect(d.invoke(HC.KVM_HC_SEND_IPI, 1, 0, 0, 0xfd | (3 << 18))).toBe(-KVM_EINVAL);
    expect(rec.log).toHaveLength(1);
    rec.results.sendIpi = () => 1;
    expect(d.invoke(HC.KVM_HC_SEND_IPI, 0b11, 0, 0, 0x30)).toBe(1);
  });
});

describe('host errors', () => {
  it('a handler returning a non-ABI result is a host bug: HANDLER_RESULT', () => {
    const { d, rec } = setup();
    rec.results.sendIpi = () => 5; // more than the 1 destination
    expect(() => d.invoke(HC.KVM_HC_SEND_IPI, 1, 0, 0, 0x30)).toThrow(/handlers.sendIpi returned 5/);
    rec.results.kickCpu = () => -12345;
    try {
      d.invoke(HC.KVM_HC_KICK_CPU, 0, 1);
      expect.unreachable();
    } catch (e) {
      expect(HypercallError.isInstance(e) && e.code).toBe('HANDLER_RESULT');
    }
    rec.results.schedYield = () => Number.NaN;
    expect(() => d.invoke(HC.KVM_HC_SCHED_YIELD, 1)).toThrow(HypercallError);
  });

  it('call-level handlers may return only the errnos documented for their call', () => {
    const { d, rec } = setup();
    rec.results.sendIpi = () => -ERRNO.KVM_EINVAL; // documented for KVM_HC_SEND_IPI
    expect(d.invoke(HC.KVM_HC_SEND_IPI, 1, 0, 0, 0x30)).toBe(-KVM_EINVAL);
    rec.results.consoleWrite = () => -ERRNO.KVM_EINVAL; // not documented for PV_HC_CONSOLE_WRITE
    expect(() => d.invoke(HC.PV_HC_CONSOLE_WRITE, 0x900, 1)).toThrow(/handlers.consoleWrite returned -22/);
    rec.results.apicWrite = () => -ERRNO.KVM_EOPNOTSUPP; // batch entries may report any ABI errno
    expect(d.invoke(HC.PV_HC_APIC_WRITE_BATCH, 0x400, 1, 0)).toBe(0);
  });

  it('a handler that throws propagates unchanged and leaves EAX untouched', () => {
    const memory = testMemory();
    const boom = new Error('host bug');
    const d = createDispatcher({
      memory,
      handlers: {
        kickCpu: () => {
          throw boom;
        },
      },
      features: { kvm: ['KVM_FEATURE_PV_UNHALT'] },
    });
    const c = cpu(HC.KVM_HC_KICK_CPU, 0, 1);
    expect(() => d.hypercall(c)).toThrow(boom);
    expect(c.regs[0]).toBe(HC.KVM_HC_KICK_CPU);
  });

  it('rejects bad configuration with INVALID_CONFIG naming the input', () => {
    const memory = testMemory();
    expect(() =>
      createDispatcher({ memory, handlers: {}, features: { kvm: ['KVM_FEATURE_NOPE' as never] } }),
    ).toThrow(/unknown feature "KVM_FEATURE_NOPE"/);
    expect(() =>
      createDispatcher({ memory, handlers: {}, features: { kvm: ['KVM_FEATURE_STEAL_TIME'] } }),
    ).toThrow(/KVM_FEATURE_STEAL_TIME" is not implemented/);
    expect(() =>
      createDispatcher({ memory, handlers: {}, features: { pv: ['PV_FEATURE_TLB_FLUSH'] } }),
    ).toThrow(/PV_FEATURE_TLB_FLUSH is advertised but handlers.tlbFlushOne is missing/);
    expect(() => createDispatcher({ memory: {} as never, handlers: {}, features: {} })).toThrow(
      /memory must implement/,
    );
  });
});

describe('PV_HC_MULTICALL', () => {
  const MC = CODECS.pv_multicall_entry;
  it('runs every entry in one exit and writes each result', () => {
    const { d, memory, rec } = setup();
    const list = 0x200;
    const entries = [
      { nr: HC.KVM_HC_SEND_IPI, args: [0b11, 0, 1, 0x31], result: 0 },
      { nr: HC.KVM_HC_KICK_CPU, args: [0, 5, 0, 0], result: 0 },
      { nr: HC.PV_HC_CONSOLE_WRITE, args: [0x1000, 2, 0, 0], result: 0 },
    ];
    memory.ram.set(new TextEncoder().encode('hi'), 0x1000);
    for (const [i, e] of entries.entries()) MC.encode(memory.view, e, list + i * MC.size);
    expect(d.invoke(HC.PV_HC_MULTICALL, list, 3)).toBe(3);
    expect([0, 1, 2].map((i) => MC.decode(memory.view, list + i * MC.size).result)).toEqual([2, 0, 2]);
    expect(rec.log).toEqual(['ipi 0x3 0x0 1 0x31', 'kick 5', 'console hi']);
    expect(d.counters.exits).toBe(1);
  });

  it('stops at the first failing entry: returns its index, later entries neither run nor get a result', () => {
    const { d, memory, rec } = setup();
    const list = 0x200;
    MC.encode(memory.view, { nr: HC.KVM_HC_SCHED_YIELD, args: [1, 0, 0, 0], result: 77 }, list);
    MC.encode(memory.view, { nr: 0x4242, args: [0, 0, 0, 0], result: 77 }, list + 24);
    MC.encode(memory.view, { nr: HC.KVM_HC_SCHED_YIELD, args: [2, 0, 0, 0], result: 77 }, list + 48);
    expect(d.invoke(HC.PV_HC_MULTICALL, list, 3)).toBe(1);
    expect([0, 1, 2].map((i) => MC.decode(memory.view, list + i * 24).result)).toEqual([0, -KVM_ENOSYS, 77]);
    expect(rec.log).toEqual(['yield 1']);
  });

  it('rejects a nested multicall entry with -EINVAL', () => {
    const { d, memory } = setup();
    MC.encode(memory.view, { nr: HC.PV_HC_MULTICALL, args: [0x200, 1, 0, 0], result: 0 }, 0x200);
    expect(d.invoke(HC.PV_HC_MULTICALL, 0x200, 1)).toBe(0);
    expect(MC.decode(memory.view, 0x200).result).toBe(-KVM_EINVAL);
  });

  it('reads the list once: an entry that rewrites a later entry does not change what runs', () => {
    const { d, memory, rec } = setup();
    const list = 0x300;
    // entry 0: an APIC batch whose status record overwrites entry 1's nr and args.
    putApic(memory, 0x1000, [[0x80, 1]]);
    MC.encode(
      memory.view,
      { nr: HC.PV_HC_APIC_WRITE_BATCH, args: [0x1000, 1, list + 24, 0], result: 0 },
      list,
    );
    MC.encode(memory.view, { nr: HC.KVM_HC_SCHED_YIELD, args: [9, 0, 0, 0], result: 0 }, list + 24);
    expect(d.invoke(HC.PV_HC_MULTICALL, list, 2)).toBe(2);
    expect(rec.log).toEqual(['apic 0x80=0x1', 'yield 9']);
  });

  it('errno paths: count > max is -E2BIG, bad list is -EFAULT, count 0 is 0', () => {
    const { d } = setup();
    expect(d.invoke(HC.PV_HC_MULTICALL, 0x200, ABI_CONST.PV_MULTICALL_MAX + 1)).toBe(-KVM_E2BIG);
    expect(d.invoke(HC.PV_HC_MULTICALL, 0x202, 1)).toBe(-KVM_EFAULT); // misaligned
    expect(d.invoke(HC.PV_HC_MULTICALL, MMIO_BASE - 24, 2)).toBe(-KVM_EFAULT); // runs into MMIO
    expect(d.invoke(HC.PV_HC_MULTICALL, RAM_SIZE - 24, 2)).toBe(-KVM_EFAULT); // past RAM
    expect(d.invoke(HC.PV_HC_MULTICALL, 0xfffffff0, 1)).toBe(-KVM_EFAULT); // wraps past 4 GiB
    expect(d.invoke(HC.PV_HC_MULTICALL, 0, 0)).toBe(0);
  });
});

describe('PV_HC_APIC_WRITE_BATCH', () => {
  it('applies every write and records the status', () => {
    const { d, memory, rec } = setup();
    putApic(memory, 0x400, [
      [0x80, 0x10],
      [0x300, 0xc4500],
      [0x310, 0x1000000],
    ]);
    expect(d.invoke(HC.PV_HC_APIC_WRITE_BATCH, 0x400, 3, 0x500)).toBe(3);
    expect(rec.log).toEqual(['apic 0x80=0x10', 'apic 0x300=0xc4500', 'apic 0x310=0x1000000']);
    expect(status(memory, 0x500)).toEqual({ applied: 3, failed_index: 0xffffffff, error: 0, reserved: 0 });
  });

  it('stops at an invalid register (-EINVAL recorded) or a handler error', () => {
    const { d, memory, rec } = setup();
    putApic(memory, 0x400, [
      [0x80, 1],
      [0x84, 2],
      [0xb0, 0],
    ]);
    expect(d.invoke(HC.PV_HC_APIC_WRITE_BATCH, 0x400, 3, 0x500)).toBe(1);
    expect(status(memory, 0x500)).toEqual({ applied: 1, failed_index: 1, error: -KVM_EINVAL, reserved: 0 });
    putApic(memory, 0x400, [
      [0x80, 1],
      [0x400, 2],
    ]);
    expect(d.invoke(HC.PV_HC_APIC_WRITE_BATCH, 0x400, 2, 0x500)).toBe(1);
    rec.results.apicWrite = (reg) => (reg === 0x20 ? -ERRNO.KVM_EINVAL : 0);
    putApic(memory, 0x400, [
      [0xb0, 0],
      [0x20, 5],
      [0x80, 0],
    ]);
    expect(d.invoke(HC.PV_HC_APIC_WRITE_BATCH, 0x400, 3, 0x500)).toBe(1);
    expect(status(memory, 0x500)).toEqual({ applied: 1, failed_index: 1, error: -KVM_EINVAL, reserved: 0 });
    expect(rec.log.slice(-2)).toEqual(['apic 0xb0=0x0', 'apic 0x20=0x5']);
  });

  it('errno paths: -E2BIG, -EFAULT for list or status, and then nothing is applied or written', () => {
    const { d, memory, rec } = setup();
    putApic(memory, 0x400, [[0x80, 1]]);
    const before = memory.ram.slice();
    expect(d.invoke(HC.PV_HC_APIC_WRITE_BATCH, 0x400, ABI_CONST.PV_APIC_WRITE_BATCH_MAX + 1, 0)).toBe(
      -KVM_E2BIG,
    );
    expect(d.invoke(HC.PV_HC_APIC_WRITE_BATCH, 0x402, 1, 0)).toBe(-KVM_EFAULT);
    expect(d.invoke(HC.PV_HC_APIC_WRITE_BATCH, 0x400, 1, 0x502)).toBe(-KVM_EFAULT);
    expect(d.invoke(HC.PV_HC_APIC_WRITE_BATCH, 0x400, 1, MMIO_BASE)).toBe(-KVM_EFAULT);
    expect(d.invoke(HC.PV_HC_APIC_WRITE_BATCH, 0x400, 1, 0xfffffff8)).toBe(-KVM_EFAULT);
    expect(rec.log).toEqual([]);
    expect(memory.ram).toEqual(before);
    expect(d.invoke(HC.PV_HC_APIC_WRITE_BATCH, 0x400, 1, 0)).toBe(1); // no status record
    expect(memory.writes).toEqual([]);
  });
});

describe('PV_HC_PT_UPDATE_BATCH', () => {
  const PTE = CODECS.pv_pte_update;
  it('stores 4-byte PTEs; values ≥ 2^32 without PAE are -EINVAL', () => {
    const { d, memory, rec } = setup();
    PTE.encode(memory.view, { pte_gpa: 0x2000n, value: 0x1003n }, 0x600);
    PTE.encode(memory.view, { pte_gpa: 0x2004n, value: 0x1_0000_0003n }, 0x610);
    expect(d.invoke(HC.PV_HC_PT_UPDATE_BATCH, 0x600, 2, 0x700, 0)).toBe(1);
    expect(rec.log).toEqual(['pte 0x2000=0x0:0x1003/4']);
    expect(status(memory, 0x700)).toEqual({ applied: 1, failed_index: 1, error: -KVM_EINVAL, reserved: 0 });
  });

  it('stores 8-byte PAE PTEs with PV_PT_UPDATE_PAE', () => {
    const { d, memory, rec } = setup();
    PTE.encode(memory.view, { pte_gpa: 0x2008n, value: 0x8000_0000_0000_1003n }, 0x600);
    expect(d.invoke(HC.PV_HC_PT_UPDATE_BATCH, 0x600, 1, 0, ABI_CONST.PV_PT_UPDATE_PAE)).toBe(1);
    expect(rec.log).toEqual(['pte 0x2008=0x80000000:0x1003/8']);
  });

  it('an entry pointing outside RAM, into MMIO, above 4 GiB or misaligned is -EFAULT for that entry', () => {
    for (const [gpa, flags] of [
      [BigInt(MMIO_BASE), 0],
      [BigInt(RAM_SIZE), 0],
      [0x1_0000_2000n, 0],
      [0x2002n, 0],
      [0x2004n, ABI_CONST.PV_PT_UPDATE_PAE],
      [0xfffffffcn, 0],
    ] as const) {
      const { d, memory, rec } = setup();
      PTE.encode(memory.view, { pte_gpa: gpa, value: 1n }, 0x600);
      expect(d.invoke(HC.PV_HC_PT_UPDATE_BATCH, 0x600, 1, 0x700, flags)).toBe(0);
      expect(status(memory, 0x700)).toEqual({ applied: 0, failed_index: 0, error: -KVM_EFAULT, reserved: 0 });
      expect(rec.log).toEqual([]);
    }
  });

  it('errno paths: unknown flags -EINVAL, -E2BIG, list alignment 8', () => {
    const { d } = setup();
    expect(d.invoke(HC.PV_HC_PT_UPDATE_BATCH, 0x600, 1, 0, 2)).toBe(-KVM_EINVAL);
    expect(d.invoke(HC.PV_HC_PT_UPDATE_BATCH, 0x600, ABI_CONST.PV_PT_UPDATE_BATCH_MAX + 1, 0, 0)).toBe(
      -KVM_E2BIG,
    );
    expect(d.invoke(HC.PV_HC_PT_UPDATE_BATCH, 0x604, 1, 0, 0)).toBe(-KVM_EFAULT);
  });
});

describe('PV_HC_TLB_FLUSH', () => {
  it('flushes a list of linear addresses', () => {
    const { d, memory, rec } = setup();
    memory.view.setUint32(0x800, 0xc0001000, true);
    memory.view.setUint32(0x804, 0x00400abc, true);
    expect(d.invoke(HC.PV_HC_TLB_FLUSH, 0x800, 2, 0)).toBe(2);
    expect(rec.log).toEqual(['invlpg 0xc0001000', 'invlpg 0x400abc']);
  });

  it('flushes everything, with or without global pages', () => {
    const { d, rec } = setup();
    expect(d.invoke(HC.PV_HC_TLB_FLUSH, 0, 0, ABI_CONST.PV_TLB_FLUSH_ALL)).toBe(0);
    expect(
      d.invoke(HC.PV_HC_TLB_FLUSH, 0, 0, ABI_CONST.PV_TLB_FLUSH_ALL | ABI_CONST.PV_TLB_FLUSH_GLOBAL),
    ).toBe(0);
    expect(rec.log).toEqual(['flush-all false', 'flush-all true']);
  });

  it('errno paths', () => {
    const { d, rec } = setup();
    expect(d.invoke(HC.PV_HC_TLB_FLUSH, 0, 0, 4)).toBe(-KVM_EINVAL);
    expect(d.invoke(HC.PV_HC_TLB_FLUSH, 0x800, 1, ABI_CONST.PV_TLB_FLUSH_GLOBAL)).toBe(-KVM_EINVAL);
    expect(d.invoke(HC.PV_HC_TLB_FLUSH, 0x800, 1, ABI_CONST.PV_TLB_FLUSH_ALL)).toBe(-KVM_EINVAL);
    expect(d.invoke(HC.PV_HC_TLB_FLUSH, 0x800, ABI_CONST.PV_TLB_FLUSH_MAX + 1, 0)).toBe(-KVM_E2BIG);
    expect(d.invoke(HC.PV_HC_TLB_FLUSH, 0x801, 1, 0)).toBe(-KVM_EFAULT);
    expect(d.invoke(HC.PV_HC_TLB_FLUSH, MMIO_BASE + 0xffc, 2, 0)).toBe(-KVM_EFAULT);
    expect(rec.log).toEqual([]);
  });
});

describe('PV_HC_CONSOLE_WRITE', () => {
  it('hands the bytes to the host console and returns what it accepted', () => {
    const { d, memory, rec } = setup();
    memory.ram.set(new TextEncoder().encode('hello, world'), 0x901);
    expect(d.invoke(HC.PV_HC_CONSOLE_WRITE, 0x901, 12)).toBe(12);
    rec.results.consoleWrite = () => 5;
    expect(d.invoke(HC.PV_HC_CONSOLE_WRITE, 0x901, 12)).toBe(5);
    expect(rec.log).toEqual(['console hello, world', 'console hello, world']);
    expect(d.invoke(HC.PV_HC_CONSOLE_WRITE, 0x901, 0)).toBe(0);
  });

  it('errno paths', () => {
    const { d, rec } = setup();
    expect(d.invoke(HC.PV_HC_CONSOLE_WRITE, 0x900, ABI_CONST.PV_CONSOLE_WRITE_MAX + 1)).toBe(-KVM_E2BIG);
    expect(d.invoke(HC.PV_HC_CONSOLE_WRITE, MMIO_BASE - 1, 2)).toBe(-KVM_EFAULT);
    expect(d.invoke(HC.PV_HC_CONSOLE_WRITE, RAM_SIZE - 1, 2)).toBe(-KVM_EFAULT);
    expect(d.invoke(HC.PV_HC_CONSOLE_WRITE, 0xffffffff, 2)).toBe(-KVM_EFAULT);
    expect(rec.log).toEqual([]);
    rec.results.consoleWrite = () => 13;
    expect(() => d.invoke(HC.PV_HC_CONSOLE_WRITE, 0x900, 12)).toThrow(/consoleWrite returned 13/);
  });
});
