/**
 * The host-misuse error family of @pv/apic. Guest mistakes never throw: they become ESR bits,
 * #GP results or ignored writes. These errors are for the embedding code (bad options, a
 * malformed snapshot, two APICs with one ID on a bus).
 */

const MARKER = Symbol.for('@pv/apic/ApicError');

export type ApicErrorCode =
  | 'APIC_BAD_OPTION'
  | 'APIC_DUPLICATE_ID'
  | 'APIC_BAD_STATE'
  | 'APIC_BAD_BATCH'
  | 'APIC_BAD_MESSAGE';

export class ApicError extends Error {
  readonly code: ApicErrorCode;
  readonly [MARKER] = true;

  constructor(code: ApicErrorCode, message: string) {
    super(message);
    this.name = 'ApicError';
    this.code = code;
  }

  /** True for any ApicError, even from another copy of this package. */
  static isInstance(value: unknown): value is ApicError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }
}
