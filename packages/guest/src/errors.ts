/** Stable codes of the errors @pv/guest throws for host-side misuse (bad images, bad options). */
export type GuestErrorCode =
  | 'BAD_IMAGE'
  | 'TRUNCATED'
  | 'NO_MULTIBOOT_HEADER'
  | 'UNSUPPORTED'
  | 'OVERLAP'
  | 'OUT_OF_RAM'
  | 'INVALID_OPTION';

const BRAND = Symbol.for('@pv/guest.GuestError');

/** The one error family of @pv/guest. The message names the image and the problem. */
export class GuestError extends Error {
  readonly code: GuestErrorCode;
  readonly [BRAND] = true;

  constructor(code: GuestErrorCode, message: string) {
    super(message);
    this.name = 'GuestError';
    this.code = code;
  }

  /** True for a GuestError from any copy of this package (survives duplicate installs). */
  static isInstance(e: unknown): e is GuestError {
    return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
  }
}

export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}
