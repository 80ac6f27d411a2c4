/**
 * Snapshot helpers shared by the system devices: 64-bit values travel as decimal strings so a
 * snapshot survives `JSON.stringify`.
 *
 * @internal
 */
import { DevicesError } from '../errors';

/** Read a non-negative BigInt field stored as a decimal string, at most `maxBits` wide. */
export function stateBig(s: Record<string, unknown>, kind: string, field: string, maxBits: number): bigint {
  const v = s[field];
  if (typeof v !== 'string' || !/^(0|[1-9][0-9]*)$/.test(v) || BigInt(v) >= 1n << BigInt(maxBits)) {
    throw new DevicesError(
      'INVALID_STATE',
      `${kind} snapshot field ${field} = ${String(v)} is not a ${maxBits}-bit decimal string`,
    );
  }
  return BigInt(v);
}

/** Read an array of integers in [0, max] of length in [0, maxLength]. */
export function stateIntArray(
  s: Record<string, unknown>,
  kind: string,
  field: string,
  max: number,
  maxLength: number,
): number[] {
  const v = s[field];
  if (
    !Array.isArray(v) ||
    v.length > maxLength ||
    !v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= max)
  ) {
    throw new DevicesError(
      'INVALID_STATE',
      `${kind} snapshot field ${field} is not a list of at most ${maxLength} integers ≤ ${max}`,
    );
  }
  return v as number[];
}
