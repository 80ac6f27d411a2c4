import { describe, expect, it } from 'vitest';
import { loadTest386, runTest386, TEST386_DIR, test386Available } from '../src/test386';

// test386.asm (GPL test data, read from ../shared, never copied into the repository): booted from the
// reset vector on x86-core + mmu. Issue 5's bar is POST 0xFF with the EE output byte-identical to the
// reference. Until the protected-mode system architecture (issue 5) is complete, this file ratchets
// progress: the ROM must get at least as far as PASSED_THROUGH, and everything it printed must be a
// prefix of the reference output.
const PASSED_THROUGH = 0x09;

describe.skipIf(!test386Available)('test386.asm', () => {
  const { rom, reference } = test386Available ? loadTest386() : { rom: new Uint8Array(), reference: '' };
  const result = test386Available ? runTest386(rom) : undefined;

  it(`reaches at least POST ${PASSED_THROUGH.toString(16)} and never throws on the host`, () => {
    const r = result!;
    const last = r.posts.at(-1) ?? -1;
    console.log(
      `test386: exit ${r.exit.reason} after ${r.instructions} instructions at ${r.cs.toString(16)}:${r.eip.toString(16)}; ` +
        `POST codes ${r.posts.map((p) => p.toString(16).padStart(2, '0')).join(' ')}; ` +
        `${r.output.length} of ${reference.length} output bytes`,
    );
    expect(r.posts).toContain(PASSED_THROUGH);
    expect(last === 0xff || r.posts.indexOf(last) >= r.posts.indexOf(PASSED_THROUGH)).toBe(true);
  });

  it('prints only a prefix of the reference output of test 0xEE', () => {
    const out = result!.output;
    expect(out).toBe(reference.slice(0, out.length));
  });

  it.todo('reaches POST 0xFF with the EE output byte-identical to the reference (issue 5)');
});

describe.skipIf(test386Available)('test386.asm (skipped)', () => {
  it.skip(`needs ${TEST386_DIR} (read-only shared conformance data)`, () => {});
});
