/**
 * Where firmware tables go: either a `Uint8Array` that is guest-physical memory from address 0 (a
 * view of the RAM buffer the composer owns) or a `writePhys(gpa, bytes)` callback (e.g. backed by
 * @pv/mmu's physical map). Devices never import the MMU.
 */
import { DevicesError, hex } from '../errors';

/** A physical-memory sink for firmware tables. */
export type GuestMemoryTarget = Uint8Array | { writePhys(gpa: number, bytes: Uint8Array): void };

/** Normalise a target to a write function; writes outside a `Uint8Array` window throw OUT_OF_RANGE. */
export function physWriter(target: GuestMemoryTarget): (gpa: number, bytes: Uint8Array) => void {
  if (target instanceof Uint8Array) {
    return (gpa, bytes) => {
      if (gpa < 0 || gpa + bytes.length > target.length) {
        throw new DevicesError(
          'OUT_OF_RANGE',
          `firmware write ${hex(gpa)}..${hex(gpa + bytes.length)} is outside guest memory of ${hex(target.length)} bytes`,
        );
      }
      target.set(bytes, gpa);
    };
  }
  if (!target || typeof target.writePhys !== 'function') {
    throw new DevicesError('INVALID_ARGUMENT', 'firmware target is neither a Uint8Array nor { writePhys }');
  }
  return (gpa, bytes) => target.writePhys(gpa, bytes);
}

/** The byte that makes `bytes[start, end)` sum to 0 modulo 256 when stored in it. */
export function checksum8(bytes: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum = (sum + bytes[i]!) & 0xff;
  return (0x100 - sum) & 0xff;
}
