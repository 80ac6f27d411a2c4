import { describe, expect, it } from 'vitest';
import { checkState, DevicesError, stateBytes, stateInt } from '../src/errors';

describe('DevicesError', () => {
  it('carries a stable code, a prefixed message and a cross-copy brand', () => {
    const e = new DevicesError('OVERLAP', 'ports 0x3f8..0x3ff overlap');
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe('OVERLAP');
    expect(e.name).toBe('DevicesError');
    expect(e.message).toBe('@pv/devices: ports 0x3f8..0x3ff overlap');
    expect(DevicesError.isInstance(e)).toBe(true);
    // A look-alike from "another copy" of the package carries the same Symbol.for brand.
    const foreign = Object.assign(new Error('x'), { [Symbol.for('@pv/devices.error')]: true });
    expect(DevicesError.isInstance(foreign)).toBe(true);
    expect(DevicesError.isInstance(new Error('x'))).toBe(false);
    expect(DevicesError.isInstance(null)).toBe(false);
  });

  it('validates snapshots by kind, version and field, naming what is wrong', () => {
    expect(() => checkState(null, 'uart', 1)).toThrow(/uart snapshot is null/);
    expect(() => checkState({ kind: 'pic', version: 1 }, 'uart', 1)).toThrow(
      /expected a uart snapshot, got kind pic/,
    );
    expect(() => checkState({ kind: 'uart', version: 2 }, 'uart', 1)).toThrow(/version 2 is not supported/);
    const s = checkState({ kind: 'uart', version: 1, lcr: 300, b: [1, 2, 300] }, 'uart', 1);
    expect(() => stateInt(s, 'uart', 'lcr', 0, 255)).toThrow(/field lcr = 300/);
    expect(() => stateBytes(s, 'uart', 'b', 3)).toThrow(/field b is not 3 bytes/);
    try {
      stateInt(s, 'uart', 'lcr', 0, 255);
    } catch (e) {
      expect(DevicesError.isInstance(e) && e.code).toBe('INVALID_STATE');
    }
  });
});
