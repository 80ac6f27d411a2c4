import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Mmu } from '@pv/mmu';
import { describe, expect, it } from 'vitest';
import {
  findMultibootHeader,
  loadMultiboot,
  MINI_KERNEL_FILE,
  MINI_KERNEL_PATH,
  MULTIBOOT_BOOTLOADER_MAGIC,
  miniKernelImage,
  parseElf32,
} from '../src/index';

const PKG = resolve(__dirname, '..');
const IMAGE = join(PKG, 'images/pv-kernel.elf');
const BUILD_INFO = JSON.parse(readFileSync(join(PKG, 'images/pv-kernel.build.json'), 'utf8')) as {
  bytes: number;
  sha256: string;
  gcc: string;
  ld: string;
};

function firstLine(cmd: string, args: string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n')[0]!.trim() : null;
}

/** gcc that can compile -m32 freestanding code, or null. */
function gcc32(): string | null {
  const version = firstLine('gcc', ['--version']);
  if (version === null) return null;
  const r = spawnSync('gcc', ['-m32', '-ffreestanding', '-x', 'c', '-c', '-o', '/dev/null', '-'], {
    input: 'int x;',
    encoding: 'utf8',
  });
  return r.status === 0 ? version : null;
}

describe('the shipped mini PV kernel image', () => {
  const image = new Uint8Array(readFileSync(IMAGE));

  it('is the image recorded in pv-kernel.build.json (size and SHA-256)', () => {
    expect(image.length).toBe(BUILD_INFO.bytes);
    expect(createHash('sha256').update(image).digest('hex')).toBe(BUILD_INFO.sha256);
    expect(image.length).toBeLessThan(64 * 1024);
  });

  it('is exported as a path and as bytes', () => {
    expect(MINI_KERNEL_FILE).toBe('images/pv-kernel.elf');
    expect(resolve(MINI_KERNEL_PATH)).toBe(IMAGE);
    expect(miniKernelImage()).toEqual(image);
    // A fresh copy each time: callers may patch it.
    const a = miniKernelImage();
    a[0] = 0;
    expect(miniKernelImage()[0]).toBe(0x7f);
  });

  it('parses with the package loader as a multiboot v1 ELF linked at 1 MiB', () => {
    const header = findMultibootHeader(image, 'pv-kernel.elf');
    expect(header.flags).toBe(0x3); // page-align modules, memory information
    const elf = parseElf32(image, 'pv-kernel.elf');
    expect(elf.entry).toBeGreaterThanOrEqual(0x100000);
    const mmu = new Mmu({ ramSize: 8 << 20 });
    const r = loadMultiboot(image, mmu, { name: 'pv-kernel.elf', ramSize: 8 << 20, cmdline: 'pv=off' });
    expect(r.eax).toBe(MULTIBOOT_BOOTLOADER_MAGIC);
    expect(r.entry).toBe(elf.entry);
    // text (R-X), rodata (R--), data+bss (RW-), all in the first 4 MiB the kernel identity-maps.
    expect(r.segments.length).toBe(3);
    expect(r.segments[0]!.paddr).toBe(0x100000);
    for (const s of r.segments) expect(s.paddr + s.memSize).toBeLessThanOrEqual(0x400000);
    // The entry point's first instruction is CLI (boot.S).
    expect(mmu.readPhys(r.entry, 1)[0]).toBe(0xfa);
  });
});

const gcc = gcc32();
const ld = firstLine('ld', ['--version']);
const sameToolchain = gcc === BUILD_INFO.gcc && ld === BUILD_INFO.ld;

describe('reproducible from its sources', () => {
  it.skipIf(gcc === null)('scripts/build-kernel.sh rebuilds it into a temp dir', (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), 'pv-kernel-'));
    try {
      const out = join(dir, 'pv-kernel.elf');
      execFileSync('sh', [join(PKG, 'scripts/build-kernel.sh'), out], { stdio: 'pipe' });
      expect(existsSync(out)).toBe(true);
      const rebuilt = new Uint8Array(readFileSync(out));
      // The build into another directory must not touch the committed image or its record.
      expect(createHash('sha256').update(readFileSync(IMAGE)).digest('hex')).toBe(BUILD_INFO.sha256);
      if (!sameToolchain) {
        ctx.skip(
          `byte comparison skipped: local toolchain (${gcc}; ${ld}) differs from the one that built the image (${BUILD_INFO.gcc}; ${BUILD_INFO.ld})`,
        );
      }
      expect(rebuilt.length).toBe(BUILD_INFO.bytes);
      expect(Buffer.from(rebuilt).equals(readFileSync(IMAGE))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(gcc !== null)(
    'needs gcc with -m32 support: the rebuild comparison is skipped on this machine',
    () => {},
  );
});
