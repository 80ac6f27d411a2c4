import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generatedFiles, main, readSnapshots } from '../src/cli';
import {
  type Bump,
  changesetBump,
  checkAbi,
  describeAbi,
  MANIFEST,
  type Manifest,
  parseSnapshot,
  snapshotJson,
} from '../src/index';

const pkg = join(import.meta.dirname, '..');
const recorded = readSnapshots(join(pkg, 'abi'));

type Mutable = {
  version: string;
  calls: { name: string; nr: number; args: { reg: string; name: string }[] }[];
  structs: {
    name: string;
    size: number;
    align: number;
    fields: { name: string; offset: number; type: string; count?: number }[];
  }[];
  kvmFeatures: { name: string; bit: number }[];
  errnos: { name: string; value: number }[];
  constants: { name: string; value: number }[];
  msrs: { name: string; index: number }[];
};

/** A copy of the current manifest changed by `f`. */
function changed(f: (m: Mutable) => void): Manifest {
  const m = structuredClone(MANIFEST) as unknown as Mutable;
  f(m);
  return m as unknown as Manifest;
}

const find = <T extends { name: string }>(list: T[], name: string) => list.find((e) => e.name === name)!;

function check(manifest: Manifest, pendingBump: Bump = 'none') {
  return checkAbi({ manifest, snapshots: recorded, pendingBump });
}

describe('the recorded ABI', () => {
  it('abi/0.1.0.json is the current manifest: the check passes with no pending changeset', () => {
    expect(recorded.map((s) => s.source.replace(/^.*[\\/]/, ''))).toContain('0.1.0.json');
    const r = check(MANIFEST);
    expect(r.report).toContain('no change');
    expect(r.ok).toBe(true);
  });

  it('snapshot files are in canonical form (what `pv-abi record` writes, and biome keeps)', () => {
    const text = readFileSync(join(pkg, 'abi/0.1.0.json'), 'utf8');
    expect(snapshotJson(parseSnapshot(JSON.parse(text), 'abi/0.1.0.json'))).toBe(text);
  });
});

/** Each breaking change is rejected outright — even with a major bump pending. */
const BREAKING: [string, (m: Mutable) => void, string][] = [
  [
    'renumber a call',
    (m) => {
      find(m.calls, 'PV_HC_TLB_FLUSH').nr = 0x10009;
    },
    'calls "PV_HC_TLB_FLUSH": renumbered: nr 0x10003 → 0x10009; numbers are permanent',
  ],
  [
    'remove a call',
    (m) => {
      m.calls = m.calls.filter((c) => c.name !== 'PV_HC_CONSOLE_WRITE');
    },
    'calls "PV_HC_CONSOLE_WRITE": removed (was nr 0x10004)',
  ],
  [
    'reuse a number',
    (m) => {
      const c = find(m.calls, 'PV_HC_CONSOLE_WRITE');
      c.name = 'PV_HC_LOG';
    },
    'calls "PV_HC_LOG": reuses nr 0x10004 of "PV_HC_CONSOLE_WRITE"; a number is never reused',
  ],
  [
    'change an argument register',
    (m) => {
      find(m.calls, 'PV_HC_TLB_FLUSH').args[2]!.reg = 'esi';
    },
    'calls "PV_HC_TLB_FLUSH": argument 2 "flags" moved from edx to esi; argument registers are permanent',
  ],
  [
    'add an argument to a released call',
    (m) => {
      find(m.calls, 'KVM_HC_SCHED_YIELD').args.push({
        reg: 'ecx',
        name: 'hint',
        kind: 'value',
        doc: '',
      } as never);
    },
    'calls "KVM_HC_SCHED_YIELD": argument "hint" added in ecx',
  ],
  [
    'change the limit of a count argument',
    (m) => {
      (find(m.calls, 'PV_HC_TLB_FLUSH').args[1] as { max?: string }).max = 'PV_APIC_WRITE_BATCH_MAX';
    },
    'calls "PV_HC_TLB_FLUSH": argument 1 "count": max changed from PV_TLB_FLUSH_MAX to PV_APIC_WRITE_BATCH_MAX',
  ],
  [
    'remove a defined flag',
    (m) => {
      (find(m.calls, 'PV_HC_TLB_FLUSH').args[2] as { flags?: string[] }).flags = ['PV_TLB_FLUSH_ALL'];
    },
    'calls "PV_HC_TLB_FLUSH": argument 2 "flags": flag PV_TLB_FLUSH_GLOBAL removed; defined flags are permanent',
  ],
  [
    'move a struct field',
    (m) => {
      const s = find(m.structs, 'pv_apic_write');
      s.fields[0]!.offset = 4;
      s.fields[1]!.offset = 0;
    },
    'structs "pv_apic_write" field "reg": moved from offset 0 to 4',
  ],
  [
    'resize a struct',
    (m) => {
      const s = find(m.structs, 'pv_tlb_flush_entry');
      s.size = 8;
      s.align = 8;
      s.fields[0]!.type = 'u64';
    },
    'structs "pv_tlb_flush_entry": resized from 4 to 8 bytes; layouts are permanent',
  ],
  [
    'resize a struct field (array length)',
    (m) => {
      const s = find(m.structs, 'pvclock_vcpu_time_info');
      s.fields[7]!.count = 1;
      s.fields.push({ name: 'pad2', offset: 31, type: 'u8', doc: '' } as never);
    },
    'structs "pvclock_vcpu_time_info" field "pad": resized from 2 to 1 elements',
  ],
  [
    'retype a struct field',
    (m) => {
      find(m.structs, 'pv_multicall_entry').fields[2]!.type = 'u32';
    },
    'structs "pv_multicall_entry" field "result": retyped from s32 to u32',
  ],
  [
    'renumber a feature bit',
    (m) => {
      find(m.kvmFeatures, 'KVM_FEATURE_PV_EOI').bit = 8;
    },
    'kvmFeatures "KVM_FEATURE_PV_EOI": renumbered: bit 6 → 8',
  ],
  [
    'change an errno value',
    (m) => {
      find(m.errnos, 'KVM_EFAULT').value = 15;
    },
    'errnos "KVM_EFAULT": renumbered: value 14 → 15',
  ],
  [
    'lower a limit',
    (m) => {
      find(m.constants, 'PV_MULTICALL_MAX').value = 64;
    },
    'constants "PV_MULTICALL_MAX": limit lowered from 128 to 64; limits may only grow',
  ],
  [
    'change a flag value',
    (m) => {
      find(m.constants, 'PV_TLB_FLUSH_GLOBAL').value = 4;
    },
    'constants "PV_TLB_FLUSH_GLOBAL": value changed from 0x2 to 0x4; constants are permanent',
  ],
  [
    'move an MSR',
    (m) => {
      find(m.msrs, 'MSR_KVM_PV_EOI_EN').index = 0x4b564d05;
    },
    'msrs "MSR_KVM_PV_EOI_EN": renumbered: index 0x4b564d04 → 0x4b564d05',
  ],
];

describe('breaking changes are rejected with a clear message', () => {
  for (const [what, mutation, message] of BREAKING) {
    it(what, () => {
      const r = check(changed(mutation), 'major');
      expect(r.ok).toBe(false);
      expect(r.report).toContain(message);
      expect(r.report).toContain('[vs 0.1.0]');
      expect(r.report).toContain('pv-abi check: FAILED');
    });
  }
});

describe('additions need a minor bump', () => {
  const added = changed((m) => {
    m.calls.push({
      name: 'PV_HC_YIELD_TO',
      nr: 0x10005,
      origin: 'pv',
      feature: { set: 'pv', name: 'PV_FEATURE_MULTICALL' },
      args: [{ reg: 'ebx', name: 'apic_id', kind: 'value', doc: 'target' }],
      result: '0',
      errors: ['KVM_EPERM', 'KVM_ENOSYS'],
      doc: 'test addition',
    } as never);
  });

  it('without a pending changeset, or with only a patch, the check fails', () => {
    for (const bump of ['none', 'patch'] as const) {
      const r = check(added, bump);
      expect(r.ok).toBe(false);
      expect(r.report).toContain('+ addition calls "PV_HC_YIELD_TO": added (nr 0x10005)');
      expect(r.report).toContain(
        `need a pending changeset bumping @pv/hypercall by at least a minor (found: ${bump})`,
      );
    }
  });

  it('with a minor (or major) bump it passes', () => {
    for (const bump of ['minor', 'major'] as const) {
      const r = check(added, bump);
      expect(r.report).toContain(
        `additions are allowed: the pending changesets bump @pv/hypercall by a ${bump}`,
      );
      expect(r.ok).toBe(true);
    }
  });

  it('a new flag bit of a call is an addition', () => {
    const more = changed((m) => {
      m.constants.push({ name: 'PV_PT_UPDATE_NOFLUSH', value: 2, kind: 'flag', doc: 'test' } as never);
      (find(m.calls, 'PV_HC_PT_UPDATE_BATCH').args[3] as { flags?: string[] }).flags!.push(
        'PV_PT_UPDATE_NOFLUSH',
      );
    });
    expect(check(more, 'patch').ok).toBe(false);
    const r = check(more, 'minor');
    expect(r.report).toContain('argument 3 "flags": flag PV_PT_UPDATE_NOFLUSH added');
    expect(r.ok).toBe(true);
  });

  it('raising a limit is an addition', () => {
    const raised = changed((m) => {
      find(m.constants, 'PV_MULTICALL_MAX').value = 256;
    });
    expect(check(raised, 'patch').ok).toBe(false);
    expect(check(raised, 'minor').ok).toBe(true);
    expect(check(raised, 'minor').report).toContain('limit raised from 128 to 256');
  });

  it('is compared with every snapshot: a later snapshot does not hide a break of an earlier one', () => {
    // Pretend 0.2.0 was released with PV_HC_CONSOLE_WRITE renumbered (which 0.1.0 forbids).
    const v2 = changed((m) => {
      m.version = '0.2.0';
      find(m.calls, 'PV_HC_CONSOLE_WRITE').nr = 0x10010;
    });
    const snapshots = [...recorded, { source: 'abi/0.2.0.json', data: describeAbi(v2) }];
    const r = checkAbi({ manifest: v2, snapshots, pendingBump: 'none' });
    expect(r.ok).toBe(false);
    expect(r.report).toContain('renumbered: nr 0x10004 → 0x10010; numbers are permanent [vs 0.1.0]');
  });
});

describe('malformed input fails naming the entry', () => {
  const snap = () => JSON.parse(snapshotJson(describeAbi(MANIFEST)));
  it('a snapshot entry with a missing or bad field', () => {
    const s = snap();
    delete s.calls[2].nr;
    let r = checkAbi({
      manifest: MANIFEST,
      snapshots: [{ source: 'abi/0.1.0.json', data: s }],
      pendingBump: 'none',
    });
    expect(r.ok).toBe(false);
    expect(r.report).toContain('abi/0.1.0.json: calls[2] "KVM_HC_SCHED_YIELD": missing "nr"');
    const t = snap();
    t.structs[0].fields[3].offset = -8;
    r = checkAbi({
      manifest: MANIFEST,
      snapshots: [{ source: 'abi/0.1.0.json', data: t }],
      pendingBump: 'none',
    });
    expect(r.report).toContain(
      'structs[0] "pvclock_vcpu_time_info".fields[3] "system_time": "offset" must be an integer',
    );
  });

  it('a snapshot whose layout is self-inconsistent, or misnamed, or not JSON', () => {
    const s = snap();
    s.structs[4].fields[1].offset = 2;
    let r = checkAbi({
      manifest: MANIFEST,
      snapshots: [{ source: 'abi/0.1.0.json', data: s }],
      pendingBump: 'none',
    });
    expect(r.report).toContain(
      'structs[4] "pv_apic_write" field 1 "value": offset 2 is not a multiple of its 4-byte type',
    );
    r = checkAbi({
      manifest: MANIFEST,
      snapshots: [{ source: 'abi/0.3.0.json', data: snap() }],
      pendingBump: 'none',
    });
    expect(r.report).toContain('abi/0.3.0.json: records version 0.1.0 but is not named 0.1.0.json');
    r = checkAbi({
      manifest: MANIFEST,
      snapshots: [{ source: 'abi/0.1.0.json', data: undefined, parseError: 'Unexpected token' }],
      pendingBump: 'none',
    });
    expect(r.ok).toBe(false);
    expect(r.report).toContain('abi/0.1.0.json: not valid JSON: Unexpected token');
  });

  it('a malformed manifest', () => {
    const bad = changed((m) => {
      find(m.calls, 'PV_HC_TLB_FLUSH').nr = 0x10002;
    });
    const r = check(bad, 'major');
    expect(r.ok).toBe(false);
    expect(r.report).toContain(
      '! invalid  manifest calls[6] "PV_HC_TLB_FLUSH": number 65538 already used by "PV_HC_PT_UPDATE_BATCH"',
    );
  });

  it('a released version without its snapshot, and no snapshot at all', () => {
    const v = changed((m) => {
      m.version = '0.2.0';
    });
    expect(check(v, 'minor').report).toContain(
      '@pv/hypercall 0.2.0 was released but abi/0.2.0.json is not recorded',
    );
    const r = checkAbi({ manifest: MANIFEST, snapshots: [], pendingBump: 'none' });
    expect(r.ok).toBe(false);
    expect(r.report).toContain('no snapshot recorded');
  });
});

describe('changesets', () => {
  it('reads the bump of @pv/hypercall in any quoting, ignoring other packages', () => {
    expect(changesetBump("---\n'@pv/hypercall': minor\n---\n\ntext")).toBe('minor');
    expect(changesetBump('---\n"@pv/hypercall": major\n"@pv/mmu": patch\n---\n')).toBe('major');
    expect(changesetBump('---\n@pv/hypercall: patch\n---\n')).toBe('patch');
    expect(changesetBump("---\n'@pv/hypercall-extra': major\n'@pv/mmu': minor\n---\n")).toBe('none');
    expect(changesetBump("'@pv/hypercall': minor\n")).toBe('none');
  });
});

describe('the pv-abi CLI', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'pv-abi-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const run = (args: string[], manifest: Manifest = MANIFEST) => {
    let out = '';
    let err = '';
    const code = main(args, { cwd: tmp, out: (t) => (out += t), err: (t) => (err += t) }, manifest);
    return { code, out, err };
  };

  it('record, then check, against directories on disk', () => {
    const abi = join(tmp, 'abi');
    const cs = join(tmp, '.changeset');
    mkdirSync(cs, { recursive: true });
    writeFileSync(join(cs, 'README.md'), '# Changesets\n');
    expect(run(['record', '--abi', abi]).code).toBe(0);
    // Same data as the checked-in snapshot (biome may have re-indented that file).
    expect(JSON.parse(readFileSync(join(abi, '0.1.0.json'), 'utf8'))).toEqual(
      JSON.parse(readFileSync(join(pkg, 'abi/0.1.0.json'), 'utf8')),
    );
    expect(run(['record', '--abi', abi]).code).toBe(0); // idempotent
    expect(run(['check', '--abi', abi, '--changesets', cs])).toMatchObject({ code: 0 });

    const added = changed((m) => {
      find(m.constants, 'PV_CONSOLE_WRITE_MAX').value = 8192;
    });
    let r = run(['check', '--abi', abi, '--changesets', cs], added);
    expect(r.code).toBe(1);
    expect(r.out).toContain('limit raised from 4096 to 8192');
    writeFileSync(
      join(cs, 'bigger-console.md'),
      "---\n'@pv/hypercall': minor\n---\n\nBigger console writes.\n",
    );
    r = run(['check', '--abi', abi, '--changesets', cs], added);
    expect(r.code).toBe(0);
    expect(r.out).toContain('pending changesets for @pv/hypercall: bigger-console.md');

    // A released snapshot is never overwritten with something different.
    r = run(['record', '--abi', abi], added);
    expect(r.code).toBe(1);
    expect(r.err).toContain('exists and differs');
  });

  it('generate writes the same files the freshness test expects', () => {
    expect(run(['generate', '--out', join(tmp, 'gen')]).code).toBe(0);
    for (const [rel, text] of Object.entries(generatedFiles())) {
      expect(readFileSync(join(tmp, 'gen', rel), 'utf8')).toBe(text);
    }
  });

  it('usage errors exit 2', () => {
    expect(run([]).code).toBe(2);
    expect(run(['frobnicate']).err).toContain('unknown command "frobnicate"');
    expect(run(['check', '--bogus', 'x']).err).toContain('unknown option --bogus');
    expect(run(['check', '--abi']).err).toContain('option --abi needs a value');
    expect(run(['check', '--changesets', join(tmp, 'nope')]).code).toBe(2);
    expect(run(['help']).code).toBe(0);
  });
});
