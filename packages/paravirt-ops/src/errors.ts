/**
 * The one error family of @pv/paravirt-ops (STYLE.md "Two kinds of error").
 *
 * Guest mistakes never throw: every op answers a bad guest request with a negative errno, a #GP
 * verdict (`false` / `undefined`) or defined device state. Only misuse of the *host* API throws a
 * `ParavirtError`: a machine without vCPUs, a vCPU index out of range, a bad wrapper option.
 * Each error carries a stable `code` and a message naming the offending input.
 *
 * Instances are branded with a `Symbol.for` key, so `ParavirtError.isInstance(e)` holds even when
 * two copies of the package are installed.
 */

const MARKER = Symbol.for('@pv/paravirt-ops.error');

/** Stable error codes. Append only; never rename or reuse one. */
export type ParavirtErrorCode =
  /** A machine / wrapper / binding option is missing or inconsistent. */
  | 'INVALID_CONFIG'
  /** A host caller passed an argument outside its documented domain (e.g. a vCPU index). */
  | 'INVALID_ARGUMENT';

/** Every host-API misuse in @pv/paravirt-ops throws one of these. */
export class ParavirtError extends Error {
  readonly code: ParavirtErrorCode;
  constructor(code: ParavirtErrorCode, message: string, options?: { cause?: unknown }) {
    super(`@pv/paravirt-ops: ${message}`, options);
    this.name = 'ParavirtError';
    this.code = code;
    Object.defineProperty(this, MARKER, { value: true });
  }

  /** True for a `ParavirtError` from any copy of this package. */
  static isInstance(value: unknown): value is ParavirtError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }
}

/** Format a number for messages: `0x4b564d01`. */
export function hex(value: number | bigint): string {
  return typeof value === 'bigint' ? `0x${value.toString(16)}` : `0x${(value >>> 0).toString(16)}`;
}
