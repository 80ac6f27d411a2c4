import { describe, expect, it } from 'vitest';
import { CODECS, decodeAreaMsrWrite, MSR, writePvclockTimeInfo, writePvclockWallClock } from '../src/index';
import { MMIO_BASE, RAM_SIZE, testMemory } from './helpers';

describe('area MSR writes (KVM semantics)', () => {
  const mem = testMemory();
  it('MSR_KVM_SYSTEM_TIME_NEW: enable bit, inactive when not usable RAM', () => {
    expect(decodeAreaMsrWrite(mem, MSR.MSR_KVM_SYSTEM_TIME_NEW, 0x1000n)).toEqual({ kind: 'disable' });
    expect(decodeAreaMsrWrite(mem, MSR.MSR_KVM_SYSTEM_TIME_NEW, 0x1001n)).toEqual({
      kind: 'enable',
      gpa: 0x1000,
    });
    expect(decodeAreaMsrWrite(mem, MSR.MSR_KVM_SYSTEM_TIME_NEW, 0x1003n)).toEqual({
      kind: 'inactive',
      gpa: 0x1002,
    });
    expect(decodeAreaMsrWrite(mem, MSR.MSR_KVM_SYSTEM_TIME_NEW, BigInt(MMIO_BASE - 16) | 1n)?.kind).toBe(
      'inactive',
    );
    expect(decodeAreaMsrWrite(mem, MSR.MSR_KVM_SYSTEM_TIME_NEW, BigInt(RAM_SIZE - 16) | 1n)?.kind).toBe(
      'inactive',
    );
    expect(decodeAreaMsrWrite(mem, MSR.MSR_KVM_SYSTEM_TIME_NEW, (1n << 40n) | 1n)?.kind).toBe('inactive');
    expect(decodeAreaMsrWrite(mem, MSR.MSR_KVM_SYSTEM_TIME_NEW, -1n)?.kind).toBe('inactive');
  });
  it('MSR_KVM_WALL_CLOCK_NEW: every write is a request at the gpa', () => {
    expect(decodeAreaMsrWrite(mem, MSR.MSR_KVM_WALL_CLOCK_NEW, 0x2000n)).toEqual({
      kind: 'enable',
      gpa: 0x2000,
    });
    expect(decodeAreaMsrWrite(mem, MSR.MSR_KVM_WALL_CLOCK_NEW, 0x2002n)?.kind).toBe('inactive');
  });
  it('MSR_KVM_PV_EOI_EN: reserved bit 1 and unusable areas are #GP', () => {
    expect(decodeAreaMsrWrite(mem, MSR.MSR_KVM_PV_EOI_EN, 0n)).toEqual({ kind: 'disable' });
    expect(decodeAreaMsrWrite(mem, MSR.MSR_KVM_PV_EOI_EN, 0x3001n)).toEqual({ kind: 'enable', gpa: 0x3000 });
    expect(decodeAreaMsrWrite(mem, MSR.MSR_KVM_PV_EOI_EN, 0x3003n)).toEqual({ kind: 'gp' });
    expect(decodeAreaMsrWrite(mem, MSR.MSR_KVM_PV_EOI_EN, BigInt(MMIO_BASE) | 1n)).toEqual({ kind: 'gp' });
    expect(decodeAreaMsrWrite(mem, MSR.MSR_KVM_PV_EOI_EN, 0x3005n)).toEqual({ kind: 'enable', gpa: 0x3004 });
  });
  it('other MSRs are not its business', () => {
    expect(decodeAreaMsrWrite(mem, 0x10, 0n)).toBeUndefined();
  });
});

describe('pvclock version protocol', () => {
  it('writes the record with an even, increasing version, odd while updating', () => {
    const mem = testMemory();
    const versions: number[] = [];
    const write = mem.write;
    const spy = {
      ...mem,
      write: (gpa: number, src: Uint8Array, off: number, len: number) => {
        write(gpa, src, off, len);
        versions.push(mem.view.getUint32(0x100, true));
      },
    };
    const time = {
      tsc_timestamp: 1000n,
      system_time: 5000n,
      tsc_to_system_mul: 0x80000000,
      tsc_shift: -1,
      flags: 1,
    };
    writePvclockTimeInfo(spy, 0x100, time);
    expect(versions).toEqual([1, 1, 2]);
    expect(CODECS.pvclock_vcpu_time_info.decode(mem.view, 0x100)).toEqual({
      ...time,
      version: 2,
      pad0: 0,
      pad: [0, 0],
    });
    mem.view.setUint32(0x100, 7, true); // a guest scribbled an odd version: still ends even and larger
    writePvclockTimeInfo(mem, 0x100, time);
    expect(mem.view.getUint32(0x100, true)).toBe(10);
    writePvclockWallClock(mem, 0x200, 1_700_000_000, 123);
    expect(CODECS.pvclock_wall_clock.decode(mem.view, 0x200)).toEqual({
      version: 2,
      sec: 1_700_000_000,
      nsec: 123,
    });
  });
});
