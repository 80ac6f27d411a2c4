/**
 * The one error family of @pv/devices (STYLE.md "Two kinds of error").
 *
 * Guest mistakes never throw: a device answers every port/MMIO access with a defined state (and
 * bumps a misuse counter where that helps). Only misuse of the *host* API throws a
 * `DevicesError`: a bad constructor option, overlapping port registrations, a malformed or
 * wrong-version snapshot, firmware tables that do not fit. Each error carries a stable `code` and a
 * message naming the offending input.
 *
 * Like vercel/ai's `AISDKError`, instances are branded with a `Symbol.for` key, so
 * `DevicesError.isInstance(e)` holds even when two copies of the package are installed.
 */

const MARKER = Symbol.for('@pv/devices.error');

/** Stable error codes. Append only; never rename or reuse one. */
export type DevicesErrorCode =
  /** An argument is outside its documented domain (a port number, an IRQ line, a size). */
  | 'INVALID_ARGUMENT'
  /** A constructor / composer option is missing or inconsistent. */
  | 'INVALID_CONFIG'
  /** A snapshot passed to `fromState` is malformed or has an unknown version. */
  | 'INVALID_STATE'
  /** Two registrations (ports, MMIO ranges, fw_cfg keys or files) claim the same address or name. */
  | 'OVERLAP'
  /** A value does not fit where it must go (a firmware table outside its area, a full directory). */
  | 'OUT_OF_RANGE'
  /** A feature that exists on real hardware but is deliberately not modelled. */
  | 'UNSUPPORTED';

/** Every host-API misuse in @pv/devices throws one of these. */
export class DevicesError extends Error {
  readonly code: DevicesErrorCode;
  constructor(code: DevicesErrorCode, message: string, options?: { cause?: unknown }) {
    super(`@pv/devices: ${message}`, options);
    this.name = 'DevicesError';
    this.code = code;
    Object.defineProperty(this, MARKER, { value: true });
  }

  /** True for a `DevicesError` from any copy of this package. */
  static isInstance(value: unknown): value is DevicesError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }
}

/** Format a port / address for messages: `0x3f8`. */
export function hex(value: number): string {
  return `0x${(value >>> 0).toString(16)}`;
}

/**
 * Check that a snapshot is an object of the expected `kind` and `version`; throws INVALID_STATE
 * naming the device otherwise. Devices call it first thing in `fromState`.
 */
export function checkState(state: unknown, kind: string, version: number): Record<string, unknown> {
  if (typeof state !== 'object' || state === null) {
    throw new DevicesError('INVALID_STATE', `${kind} snapshot is ${state === null ? 'null' : typeof state}`);
  }
  const s = state as Record<string, unknown>;
  if (s.kind !== kind) {
    throw new DevicesError('INVALID_STATE', `expected a ${kind} snapshot, got kind ${String(s.kind)}`);
  }
  if (s.version !== version) {
    throw new DevicesError(
      'INVALID_STATE',
      `${kind} snapshot version ${String(s.version)} is not supported (expected ${version})`,
    );
  }
  return s;
}

/** Read an integer field of a snapshot in [min, max]; throws INVALID_STATE naming the field. */
export function stateInt(
  s: Record<string, unknown>,
  kind: string,
  field: string,
  min: number,
  max: number,
): number {
  const v = s[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new DevicesError(
      'INVALID_STATE',
      `${kind} snapshot field ${field} = ${String(v)} is not an integer in [${min}, ${max}]`,
    );
  }
  return v;
}

/** Read a finite number field of a snapshot; throws INVALID_STATE naming the field. */
export function stateNumber(s: Record<string, unknown>, kind: string, field: string): number {
  const v = s[field];
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new DevicesError(
      'INVALID_STATE',
      `${kind} snapshot field ${field} = ${String(v)} is not a finite number`,
    );
  }
  return v;
}

/** Read a boolean field of a snapshot; throws INVALID_STATE naming the field. */
export function stateBool(s: Record<string, unknown>, kind: string, field: string): boolean {
  const v = s[field];
  if (typeof v !== 'boolean') {
    throw new DevicesError(
      'INVALID_STATE',
      `${kind} snapshot field ${field} = ${String(v)} is not a boolean`,
    );
  }
  return v;
}

/**
 * Read a byte-array field (a `Uint8Array` or a plain array of bytes, as after JSON) of exactly
 * `length` entries; throws INVALID_STATE naming the field. Returns a fresh copy.
 */
export function stateBytes(
  s: Record<string, unknown>,
  kind: string,
  field: string,
  length: number,
): Uint8Array {
  const v = s[field];
  const ok =
    (v instanceof Uint8Array || Array.isArray(v)) &&
    v.length === length &&
    Array.prototype.every.call(
      v,
      (b: unknown) => typeof b === 'number' && Number.isInteger(b) && b >= 0 && b <= 255,
    );
  if (!ok) {
    throw new DevicesError('INVALID_STATE', `${kind} snapshot field ${field} is not ${length} bytes`);
  }
  return Uint8Array.from(v as ArrayLike<number>);
}
