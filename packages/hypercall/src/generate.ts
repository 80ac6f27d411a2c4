/**
 * Generators for the checked-in artefacts: `include/pv_hypercall.h` (C guests) and `ABI.md` (the
 * human specification). Pure functions of the manifest; `pv-abi generate` writes them and a test
 * regenerates and compares byte for byte.
 */
import { SCALAR_SIZE } from './codec';
import { signatureWords } from './features';
import type { CallDef, Manifest, ScalarType, StructDef } from './manifest-types';

const C_TYPE: Record<ScalarType, string> = {
  u8: 'uint8_t',
  s8: 'int8_t',
  u16: 'uint16_t',
  s16: 'int16_t',
  u32: 'uint32_t',
  s32: 'int32_t',
  u64: 'uint64_t',
  s64: 'int64_t',
};

const hx = (v: number) => `0x${(v >>> 0).toString(16)}`;
const chex = (v: number) => `${hx(v)}u`;
const pad = (s: string, n: number) => (s.length >= n ? `${s} ` : s.padEnd(n));
/** Keep comments ASCII-only and free of comment terminators. */
const cText = (s: string) =>
  s
    .replace(/\*\//g, '* /')
    .replace(/⇒/g, '=>')
    .replace(/≤/g, '<=')
    .replace(/[’‘]/g, "'")
    .replace(/—/g, '-')
    .replace(/[^\x20-\x7e]/g, '?');

function cDefines(rows: [string, string, string][]): string {
  const w = Math.max(...rows.map(([n]) => n.length)) + 1;
  return rows.map(([n, v, doc]) => `#define ${pad(n, w)}${pad(v, 12)}/* ${cText(doc)} */`).join('\n');
}

function cStruct(s: StructDef): string {
  const lines = [`/* ${cText(s.doc)} */`, `struct ${s.name} {`];
  for (const f of s.fields) {
    const decl = `${C_TYPE[f.type]} ${f.name}${f.count === undefined ? '' : `[${f.count}]`};`;
    lines.push(`\t${pad(decl, 28)}/* @${f.offset}: ${cText(f.doc)} */`);
  }
  lines.push(`} __attribute__((packed, aligned(${s.align})));`);
  lines.push(`_Static_assert(sizeof(struct ${s.name}) == ${s.size}, "${s.name}: size");`);
  lines.push(`_Static_assert(_Alignof(struct ${s.name}) == ${s.align}, "${s.name}: alignment");`);
  for (const f of s.fields) {
    lines.push(
      `_Static_assert(offsetof(struct ${s.name}, ${f.name}) == ${f.offset}, "${s.name}.${f.name}: offset");`,
    );
    const size = SCALAR_SIZE[f.type] * (f.count ?? 1);
    lines.push(
      `_Static_assert(sizeof(((struct ${s.name} *)0)->${f.name}) == ${size}, "${s.name}.${f.name}: size");`,
    );
  }
  return lines.join('\n');
}

function wrapper(n: number): string {
  const regs = ['b', 'c', 'd', 'S'];
  const params = ['uint32_t nr', ...Array.from({ length: n }, (_, i) => `uint32_t a${i}`)].join(', ');
  const inputs = ['"a"(nr)', ...Array.from({ length: n }, (_, i) => `"${regs[i]}"(a${i})`)].join(', ');
  return [
    `static inline int32_t pv_hypercall${n}(${params})`,
    '{',
    '\tint32_t ret;',
    `\t__asm__ __volatile__("vmcall" : "=a"(ret) : ${inputs} : "memory");`,
    '\treturn ret;',
    '}',
  ].join('\n');
}

/** The C header for guests. */
export function generateHeader(m: Manifest): string {
  const [major, minor] = m.version.split('.').map(Number) as [number, number];
  const kvmSig = signatureWords('KVMKVMKVM\0\0\0');
  const pvSig = signatureWords(m.pvSignature);
  const out: string[] = [];
  out.push(`/* SPDX-License-Identifier: MIT */
/*
 * pv_hypercall.h - the @pv hypercall ABI ${m.version}, for guests written in C (IA-32).
 *
 * GENERATED from @pv/hypercall's src/manifest.ts by \`npm run generate -w @pv/hypercall\`.
 * Do not edit: a test regenerates this file and fails when it differs. See ABI.md.
 *
 * Calling convention: vmcall (0F 01 C1) or vmmcall (0F 01 D9) at CPL 0, EAX = number,
 * EBX, ECX, EDX, ESI = arguments a0..a3; the result comes back in EAX, a negative KVM_E*
 * errno on failure. No other register is changed. Compatibility: numbers, registers and
 * layouts below are never changed or reused; the ABI only grows.
 */
#ifndef PV_HYPERCALL_H
#define PV_HYPERCALL_H

#include <stddef.h>
#include <stdint.h>

#define PV_ABI_VERSION_MAJOR ${major}
#define PV_ABI_VERSION_MINOR ${minor}

/* CPUID leaves */`);
  out.push(cDefines(m.cpuidLeaves.map((l) => [l.name, chex(l.leaf), `EAX: ${l.eax}`])));
  out.push(
    cDefines([
      ['KVM_SIGNATURE_EBX', chex(kvmSig[0]), "'KVMK'"],
      ['KVM_SIGNATURE_ECX', chex(kvmSig[1]), "'VMKV'"],
      ['KVM_SIGNATURE_EDX', chex(kvmSig[2]), "'M'"],
      ['PV_SIGNATURE_EBX', chex(pvSig[0]), 'PV_CPUID_SIGNATURE.EBX'],
      ['PV_SIGNATURE_ECX', chex(pvSig[1]), 'PV_CPUID_SIGNATURE.ECX'],
      ['PV_SIGNATURE_EDX', chex(pvSig[2]), 'PV_CPUID_SIGNATURE.EDX'],
    ]),
  );
  out.push('\n/* KVM feature bit numbers (KVM_CPUID_FEATURES.EAX) */');
  out.push(cDefines(m.kvmFeatures.map((f) => [f.name, String(f.bit), f.doc])));
  out.push('\n/* @pv feature bit numbers (PV_CPUID_FEATURES.EBX) */');
  out.push(cDefines(m.pvFeatures.map((f) => [f.name, String(f.bit), f.doc])));
  out.push('\n/* Errno values: a failing call returns the negation */');
  out.push(cDefines(m.errnos.map((e) => [e.name, String(e.value), e.doc])));
  out.push('\n/* Constants: limits, flags and values */');
  out.push(cDefines(m.constants.map((c) => [c.name, chex(c.value), `${c.kind}: ${c.doc}`])));
  out.push('\n/* MSRs */');
  out.push(cDefines(m.msrs.map((r) => [r.name, chex(r.index), r.doc])));
  out.push('\n/* Hypercall numbers (EAX) */');
  out.push(
    cDefines(m.calls.map((c) => [c.name, chex(c.nr), `${argSummary(c)} -> ${c.result.split('.')[0]}`])),
  );
  out.push('\n/* Structures in guest memory (little-endian, no implicit padding) */');
  for (const s of m.structs) out.push(`\n${cStruct(s)}`);
  out.push('\n/* Hypercall wrappers (CPL 0 only) */');
  for (let n = 0; n <= 4; n++) out.push(`\n${wrapper(n)}`);
  out.push('\n#endif /* PV_HYPERCALL_H */\n');
  return out.join('\n');
}

function argSummary(c: CallDef): string {
  return c.args.map((a) => `${a.reg}=${a.name}`).join(' ') || 'no arguments';
}

// ---------------------------------------------------------------------------------------------

const mdCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** A table with padded columns (the layout biome's markdown formatter keeps unchanged). */
function mdTable(head: string[], rows: string[][]): string {
  const cells = [head, ...rows].map((r) => r.map(mdCell));
  const width = head.map((_, i) => Math.max(3, ...cells.map((r) => [...r[i]!].length)));
  const line = (r: string[]) =>
    `| ${r.map((c, i) => c + ' '.repeat(width[i]! - [...c].length)).join(' | ')} |`;
  return [
    line(cells[0]!),
    `| ${width.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...cells.slice(1).map(line),
  ].join('\n');
}

/** A sentence ending with exactly one period. */
const sentence = (s: string) => (s.endsWith('.') ? s : `${s}.`);

/** The human specification. */
export function generateAbiMarkdown(m: Manifest): string {
  const constOf = (n: string) => m.constants.find((c) => c.name === n);
  const o: string[] = [];
  o.push(`# The @pv hypercall ABI ${m.version}

<!-- GENERATED from src/manifest.ts by \`npm run generate -w @pv/hypercall\`; do not edit. -->

This is the one hypercall ABI of @pv (DESIGN.md §4): a KVM-compatible base, so an unmodified Linux
guest finds "KVMKVMKVM" and uses kvm-clock, PV EOI, PV IPIs and PV unhalt, plus the @pv extension
(batching) in a number range of its own. The C header \`include/pv_hypercall.h\` is generated from the
same manifest.

## Compatibility promise

- The ABI's version is \`@pv/hypercall\`'s version. Every released ABI is recorded in \`abi/<version>.json\`.
- Nothing below is ever removed, renumbered, reused or re-laid-out: call numbers, argument registers,
  feature bits, CPUID leaves, MSR indices, errno values, constants, structure sizes, alignments, field
  offsets and field types are permanent. A retired entry stays, marked deprecated.
- The ABI only grows: a new call, bit, leaf, MSR, constant or structure is a minor version bump; a
  maximum count may only grow. \`pv-abi check\` enforces all of this against every recorded snapshot.
- Guests discover features through CPUID and must not use a call whose feature bit is clear (such a
  call returns -KVM_ENOSYS). Reserved fields are written as 0 and ignored on read.

## Discovery

CPUID.1:ECX bit 31 (\`CPUID_1_ECX_HYPERVISOR\`) says a hypervisor is present. Leaves
0x40000000–0x400001ff are answered by the hypervisor; the ones not listed read as zero.
The @pv signature is \`${m.pvSignature.replace(/\0/g, '\\0')}\` (12 bytes in EBX, ECX, EDX).
`);
  o.push(
    mdTable(
      ['leaf', 'name', 'EAX', 'EBX', 'ECX', 'EDX'],
      m.cpuidLeaves.map((l) => [hx(l.leaf), l.name, l.eax, l.ebx, l.ecx, l.edx]),
    ),
  );
  o.push('\n### KVM feature bits (KVM_CPUID_FEATURES.EAX)\n');
  o.push('Every bit Linux defines is listed; a host may advertise only those @pv implements.\n');
  o.push(
    mdTable(
      ['bit', 'name', 'implemented by @pv', 'meaning'],
      m.kvmFeatures.map((f) => [String(f.bit), f.name, f.supported ? 'yes' : 'no', f.doc]),
    ),
  );
  o.push('\n### @pv feature bits (PV_CPUID_FEATURES.EBX)\n');
  o.push(
    mdTable(
      ['bit', 'name', 'meaning'],
      m.pvFeatures.map((f) => [String(f.bit), f.name, f.doc]),
    ),
  );
  o.push(`
## Calling convention

\`vmcall\` (0F 01 C1) or \`vmmcall\` (0F 01 D9). EAX = call number; arguments a0..a3 in EBX, ECX, EDX,
ESI (KVM's order); the result replaces EAX; no other register changes. Results ≥ 0 are success;
a failure returns a negative errno. The host checks, in this order:

1. CPL > 0 ⇒ -KVM_EPERM.
2. Unknown number, a call whose feature bit is not advertised ⇒ -KVM_ENOSYS.
3. Undefined flag bits or inconsistent flags ⇒ -KVM_EINVAL; a count above its maximum ⇒ -KVM_E2BIG.
4. Every guest-physical range a call names (a list of \`count\` records, a status record, a byte
   buffer) must be aligned to its structure's alignment, must not wrap past 4 GiB and must lie
   entirely in plain RAM (not MMIO, not ROM, not a hole) ⇒ -KVM_EFAULT. All ranges are checked
   before any entry is applied or any byte is written, and the host never writes outside them.

### Batches and partial failure

A batch call reads its whole list before applying the first entry, then applies entries in order
and **stops at the first entry that fails**. It returns the number of entries applied, _n_: when
_n_ < count, entry _n_ failed and entries after it were not applied. If the call has a status
argument that is not 0, the host then writes a \`pv_batch_status\` there: \`applied\` = _n_,
\`failed_index\` = _n_ or \`PV_BATCH_NO_FAILURE\` when all were applied, \`error\` = the failed entry's
negative errno or 0. A negative result means nothing was applied and nothing was written.
A multicall works the same way, with each executed entry's own result in its \`result\` field; a
batch call inside a multicall that returns ≥ 0 (even after a partial failure) counts as success.
A status record at guest-physical address 0 cannot be requested.

## Errors
`);
  o.push(
    mdTable(
      ['name', 'value', 'meaning'],
      m.errnos.map((e) => [e.name, `-${e.value}`, e.doc]),
    ),
  );
  o.push('\n## Calls\n');
  o.push(
    mdTable(
      ['nr', 'name', 'origin', 'feature'],
      m.calls.map((c) => [hx(c.nr), c.name, c.origin === 'kvm' ? 'KVM' : '@pv', c.feature.name]),
    ),
  );
  for (const c of m.calls) {
    o.push(`\n### ${c.name} (${hx(c.nr)})\n\n${c.doc} Requires \`${c.feature.name}\`.\n`);
    if (c.args.length) {
      o.push(
        mdTable(
          ['register', 'argument', 'kind', 'meaning'],
          c.args.map((a) => {
            let kind: string = a.kind;
            if (a.kind === 'gpa')
              kind = `gpa of ${a.struct ? `\`${a.struct}\`` : 'bytes'}${a.countArg ? ` × ${a.countArg}` : ''}${a.optional ? ' or 0' : ''}`;
            if (a.kind === 'count' && a.max) kind = `count ≤ ${a.max} (${constOf(a.max)?.value})`;
            if (a.kind === 'flags')
              kind = `flags: ${(a.flags ?? []).map((f) => `${f} (${hx(constOf(f)?.value ?? 0)})`).join(', ')}`;
            return [a.reg.toUpperCase(), a.name, kind, a.doc];
          }),
        ),
      );
    } else o.push('No arguments.');
    o.push(`\n**Result:** ${sentence(c.result)}\n\n**Errors:** ${c.errors.map((e) => `-${e}`).join(', ')}.`);
  }
  o.push('\n## MSRs\n');
  o.push(
    mdTable(
      ['index', 'name', 'feature', 'structure', 'meaning'],
      m.msrs.map((r) => [
        hx(r.index),
        r.name,
        r.feature?.name ?? '—',
        r.struct ? `\`${r.struct}\`` : '—',
        r.doc,
      ]),
    ),
  );
  o.push(
    '\n## Structures\n\nLittle-endian, no implicit padding; `align` is the required guest-physical alignment.',
  );
  for (const s of m.structs) {
    o.push(`\n### struct ${s.name} (${s.size} bytes, align ${s.align})\n\n${s.doc}\n`);
    o.push(
      mdTable(
        ['offset', 'size', 'type', 'field', 'meaning'],
        s.fields.map((f) => [
          String(f.offset),
          String(SCALAR_SIZE[f.type] * (f.count ?? 1)),
          f.count === undefined ? f.type : `${f.type}[${f.count}]`,
          f.name,
          f.doc,
        ]),
      ),
    );
  }
  o.push('\n## Constants\n');
  o.push(
    mdTable(
      ['name', 'value', 'kind', 'meaning'],
      m.constants.map((c) => [c.name, hx(c.value), c.kind, c.doc]),
    ),
  );
  o.push('');
  return o.join('\n');
}
