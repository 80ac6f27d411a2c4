/**
 * The one error family of @pv/hypercall (STYLE.md "Two kinds of error").
 *
 * Guest mistakes never throw: every bad register, pointer or count the guest passes becomes a
 * negative errno in EAX. Only misuse of the *host* API throws a `HypercallError`: a dispatcher
 * created with an unknown or unimplementable feature, a handler that returns something that is not
 * an ABI result, a value that does not fit a structure field, a malformed manifest or snapshot.
 * Each error carries a stable `code` and a message naming the offending input.
 *
 * Instances are branded with a `Symbol.for` key, so `HypercallError.isInstance(e)` holds even when
 * two copies of the package are installed.
 */

const MARKER = Symbol.for('@pv/hypercall.error');

/** Stable error codes. Append only; never rename or reuse one. */
export type HypercallErrorCode =
  /** A dispatcher / CPUID option is missing, unknown or inconsistent. */
  | 'INVALID_CONFIG'
  /** A host handler returned a value that is not an int32 result or not an ABI errno. */
  | 'HANDLER_RESULT'
  /** A value passed to a codec does not fit the field (range, type, array length). */
  | 'INVALID_VALUE'
  /** A buffer / view is too small for the structure being encoded or decoded. */
  | 'OUT_OF_RANGE'
  /** The manifest violates one of its own invariants (duplicate number, overlapping fields …). */
  | 'INVALID_MANIFEST'
  /** An ABI snapshot file is not valid JSON or does not have the snapshot shape. */
  | 'INVALID_SNAPSHOT';

/** Every host-API misuse in @pv/hypercall throws one of these. */
export class HypercallError extends Error {
  readonly code: HypercallErrorCode;
  constructor(code: HypercallErrorCode, message: string, options?: { cause?: unknown }) {
    super(`@pv/hypercall: ${message}`, options);
    this.name = 'HypercallError';
    this.code = code;
    Object.defineProperty(this, MARKER, { value: true });
  }

  /** True for a `HypercallError` from any copy of this package. */
  static isInstance(value: unknown): value is HypercallError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }
}

/** Format a number for messages: `0x4b564d01`. */
export function hex(value: number): string {
  return `0x${(value >>> 0).toString(16)}`;
}
