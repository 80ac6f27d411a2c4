import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generatedFiles } from '../src/cli';
import { CODECS, MANIFEST, SCALAR_SIZE } from '../src/index';

const pkg = join(import.meta.dirname, '..');

describe('generated files are fresh', () => {
  for (const [rel, text] of Object.entries(generatedFiles())) {
    it(`${rel} equals what the manifest generates (run \`npm run generate -w @pv/hypercall\` if not)`, () => {
      expect(readFileSync(join(pkg, rel), 'utf8')).toBe(text);
    });
  }

  it('ABI.md documents every call, register, structure, errno and leaf', () => {
    const md = readFileSync(join(pkg, 'ABI.md'), 'utf8').replace(/ +/g, ' ');
    for (const c of MANIFEST.calls) {
      expect(md).toContain(`### ${c.name} (0x${c.nr.toString(16)})`);
      for (const a of c.args) expect(md).toContain(`| ${a.reg.toUpperCase()} | ${a.name} |`);
    }
    for (const s of MANIFEST.structs)
      expect(md).toContain(`### struct ${s.name} (${s.size} bytes, align ${s.align})`);
    for (const e of MANIFEST.errnos) expect(md).toContain(`| ${e.name} | -${e.value} |`);
    for (const l of MANIFEST.cpuidLeaves) expect(md).toContain(`| 0x${l.leaf.toString(16)} | ${l.name} |`);
    expect(md).toContain('## Compatibility promise');
  });
});

const gcc = spawnSync('gcc', ['--version']).status === 0;
const tmp = mkdtempSync(join(tmpdir(), 'pv-hypercall-c-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Compile only (this machine cannot run 32-bit binaries): gcc -m32 -ffreestanding -Wall -Wextra -Werror. */
function compile(source: string, extra: string[] = []): { ok: boolean; stderr: string } {
  const file = join(tmp, `t${Math.random().toString(36).slice(2)}.c`);
  writeFileSync(file, source);
  const r = spawnSync(
    'gcc',
    [
      '-m32',
      '-ffreestanding',
      ...extra,
      '-Wall',
      '-Wextra',
      '-Werror',
      '-I',
      join(pkg, 'include'),
      '-c',
      file,
      '-o',
      `${file}.o`,
    ],
    { encoding: 'utf8' },
  );
  return { ok: r.status === 0, stderr: r.stderr };
}

/** _Static_asserts computed from the codecs (not from the header generator). */
function layoutAsserts(tweak?: (s: string, f: string, off: number) => number): string {
  const lines = ['#include "pv_hypercall.h"'];
  for (const s of MANIFEST.structs) {
    const codec = CODECS[s.name as keyof typeof CODECS];
    lines.push(`_Static_assert(sizeof(struct ${s.name}) == ${codec.size}, "${s.name} size");`);
    lines.push(`_Static_assert(_Alignof(struct ${s.name}) == ${codec.align}, "${s.name} align");`);
    for (const f of s.fields) {
      const off = (codec.offsets as Record<string, number>)[f.name]!;
      const bytes = SCALAR_SIZE[f.type] * ('count' in f ? f.count : 1);
      const member = `((struct ${s.name} *)0)->${f.name}${'count' in f ? '[0]' : ''}`;
      lines.push(
        `_Static_assert(offsetof(struct ${s.name}, ${f.name}) == ${tweak ? tweak(s.name, f.name, off) : off}, "${s.name}.${f.name}");`,
      );
      lines.push(
        `_Static_assert(sizeof(((struct ${s.name} *)0)->${f.name}) == ${bytes}, "${s.name}.${f.name} size");`,
      );
      const ctype = `${f.type.startsWith('s') ? '' : 'u'}int${SCALAR_SIZE[f.type] * 8}_t`;
      lines.push(
        `_Static_assert(__builtin_types_compatible_p(__typeof__(${member}), ${ctype}), "${s.name}.${f.name} type");`,
      );
    }
  }
  for (const c of MANIFEST.calls) lines.push(`_Static_assert(${c.name} == ${c.nr}u, "${c.name}");`);
  for (const e of MANIFEST.errnos) lines.push(`_Static_assert(${e.name} == ${e.value}, "${e.name}");`);
  for (const f of MANIFEST.kvmFeatures) lines.push(`_Static_assert(${f.name} == ${f.bit}, "${f.name}");`);
  for (const r of MANIFEST.msrs) lines.push(`_Static_assert(${r.name} == ${r.index}u, "${r.name}");`);
  return `${lines.join('\n')}\n`;
}

describe.skipIf(!gcc)('the C header (gcc -m32 -ffreestanding -Wall -Wextra -Werror, compile only)', () => {
  it('compiles on its own (GNU C default, and strict ISO C11 with -pedantic)', () => {
    for (const extra of [[], ['-std=c11', '-pedantic']]) {
      const r = compile('#include "pv_hypercall.h"\n', extra);
      expect(r.stderr).toBe('');
      expect(r.ok).toBe(true);
    }
  });

  it('its layouts, numbers and field types match the manifest codecs', () => {
    const r = compile(layoutAsserts());
    expect(r.stderr).toBe('');
    expect(r.ok).toBe(true);
  });

  it('the layout check can fail: a wrong offset is rejected by gcc', () => {
    const r = compile(
      layoutAsserts((s, f, off) => (s === 'pvclock_vcpu_time_info' && f === 'tsc_shift' ? off + 1 : off)),
    );
    expect(r.ok).toBe(false);
    expect(r.stderr).toContain('pvclock_vcpu_time_info.tsc_shift');
  });

  it('a guest can use the wrappers, structures and constants', () => {
    const r = compile(readFileSync(join(pkg, 'test/c/use_header.c'), 'utf8'));
    expect(r.stderr).toBe('');
    expect(r.ok).toBe(true);
  });
});

it.runIf(!gcc)('C header compile tests skipped: gcc not found', () => {
  console.warn('@pv/hypercall: gcc not found — skipping the C header compile tests');
});
