import { describe, expect, it } from 'vitest';
import { ACCESS_FETCH, ACCESS_USER, ACCESS_WRITE, EXIT_KINDS, EXIT_NAMES, TLB_KINDS } from '../src/index';

describe('bus contract constants', () => {
  it('access kinds index the TLB without collisions', () => {
    const kinds = new Set<number>();
    for (const user of [0, ACCESS_USER]) {
      for (const op of [0, ACCESS_WRITE, ACCESS_FETCH]) kinds.add(user | op);
    }
    expect(kinds.size).toBe(6);
    for (const k of kinds) expect(k).toBeLessThan(TLB_KINDS);
  });

  it('names every exit kind once', () => {
    expect(EXIT_NAMES.length).toBe(EXIT_KINDS);
    expect(new Set(EXIT_NAMES).size).toBe(EXIT_KINDS);
  });
});
