/**
 * The one error family of @pv/mmu (STYLE.md "Two kinds of error").
 *
 * Guest mistakes never throw: a page-table entry pointing at a hole reads all-ones, a bad access
 * becomes a #PF through `MemoryCpuHooks.raisePageFault`. Only misuse of the *host* API throws an
 * `MmuError`: a bad constructor option, an overlapping MMIO registration, a host helper
 * (`readPhys`, `writePhys`, `bytes`) asked for an address outside guest RAM, a malformed snapshot.
 * Each error carries a stable `code` and a message naming the offending input.
 *
 * Instances are branded with a `Symbol.for` key, so `MmuError.isInstance(e)` holds even when two
 * copies of the package are installed.
 */

const MARKER = Symbol.for('@pv/mmu.error');

/** Stable error codes. Append only; never rename or reuse one. */
export type MmuErrorCode =
  /** An argument is outside its documented domain (not an integer, misaligned, wrong size). */
  | 'INVALID_ARGUMENT'
  /** A constructor option is missing or inconsistent. */
  | 'INVALID_CONFIG'
  /** A guest-physical range given to a host helper is not (entirely) guest RAM. */
  | 'OUT_OF_RANGE'
  /** Two registrations (ROM, MMIO) claim the same guest-physical page. */
  | 'OVERLAP'
  /** A snapshot passed to `loadState` / `fromState` is malformed or has an unknown version. */
  | 'INVALID_STATE';

/** Every host-API misuse in @pv/mmu throws one of these. */
export class MmuError extends Error {
  readonly code: MmuErrorCode;
  constructor(code: MmuErrorCode, message: string, options?: { cause?: unknown }) {
    super(`@pv/mmu: ${message}`, options);
    this.name = 'MmuError';
    this.code = code;
    Object.defineProperty(this, MARKER, { value: true });
  }

  /** True for an `MmuError` from any copy of this package. */
  static isInstance(value: unknown): value is MmuError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }
}

/** Format a guest address for messages: `0xfee00000`. */
export function hex(value: number): string {
  return Number.isSafeInteger(value) && value >= 0 ? `0x${value.toString(16)}` : String(value);
}
