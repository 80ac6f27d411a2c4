/**
 * The one error family of @pv/x86-core: host-API misuse (bad options, a bad snapshot). Guest
 * mistakes never throw; they become guest exceptions or a `shutdown` exit.
 */

const MARK = Symbol.for('@pv/x86-core.X86CoreError');

/** Stable error codes. */
export type X86CoreErrorCode = 'INVALID_OPTION' | 'INVALID_STATE' | 'INVALID_ARGUMENT';

export class X86CoreError extends Error {
  readonly code: X86CoreErrorCode;
  readonly [MARK] = true;

  constructor(code: X86CoreErrorCode, message: string) {
    super(message);
    this.name = 'X86CoreError';
    this.code = code;
  }

  /** True for an X86CoreError from any copy of this package. */
  static isInstance(e: unknown): e is X86CoreError {
    return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[MARK] === true;
  }
}

/** Throws INVALID_OPTION naming the field when `ok` is false. */
export function requireOption(ok: boolean, field: string, detail: string): void {
  if (!ok) throw new X86CoreError('INVALID_OPTION', `x86-core: option ${field} ${detail}`);
}
