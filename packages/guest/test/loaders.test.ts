import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Mmu } from '@pv/mmu';
import { describe, expect, it } from 'vitest';
import {
  defaultMemoryMap,
  GuestError,
  loadFlat,
  loadMultiboot,
  MULTIBOOT_BOOTLOADER_MAGIC,
  romRegions,
} from '../src/index';
import { elf32, multibootHeader } from './images';

const MiB = 1 << 20;
const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

function code(): { mmu: Mmu; u32: (a: number) => number; str: (a: number) => string } {
  const mmu = new Mmu({ ramSize: 4 * MiB });
  const u32 = (a: number) => new DataView(mmu.readPhys(a, 4).buffer).getUint32(0, true);
  const str = (a: number) => {
    let s = '';
    for (let c = mmu.readPhys(a, 1)[0]!; c !== 0; c = mmu.readPhys(++a, 1)[0]!) s += String.fromCharCode(c);
    return s;
  };
  return { mmu, u32, str };
}

function expectGuestError(fn: () => unknown, code: string, text: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(GuestError.isInstance(e)).toBe(true);
    expect((e as GuestError).code).toBe(code);
    expect((e as Error).message).toMatch(text);
    return;
  }
  throw new Error('expected a GuestError');
}

describe('multiboot v1 ELF loading', () => {
  const text = bytes(300, 1);
  const data = bytes(100, 2);
  const image = elf32(0x100010, [
    { paddr: 0x100000, data: text },
    { paddr: 0x102000, data, memSize: 0x1800 },
  ]);

  it('places PT_LOAD segments at p_paddr, zero-fills .bss and returns the entry state of §3.2', () => {
    const { mmu } = code();
    mmu.writePhys(0x102000 + 100, new Uint8Array(0x1800 - 100).fill(0xcc)); // stale bytes under .bss
    const r = loadMultiboot(image, mmu, { name: 'k.elf', ramSize: 4 * MiB });
    expect(r.entry).toBe(0x100010);
    expect(r.eax).toBe(MULTIBOOT_BOOTLOADER_MAGIC);
    expect(mmu.readPhys(0x100000, 300)).toEqual(text);
    expect(mmu.readPhys(0x102000, 100)).toEqual(data);
    expect(mmu.readPhys(0x102000 + 100, 0x1800 - 100).every((b) => b === 0)).toBe(true);
    expect(r.segments).toEqual([
      { paddr: 0x100000, memSize: 300 },
      { paddr: 0x102000, memSize: 0x1800 },
    ]);
  });

  it('writes the boot information: memory, map, command line, modules and loader name', () => {
    const { mmu, u32, str } = code();
    const mod = bytes(5000, 9);
    const r = loadMultiboot(image, mmu, {
      name: 'k.elf',
      ramSize: 4 * MiB,
      cmdline: 'console=ttyS0 pv=on',
      modules: [{ name: 'initrd', data: mod, cmdline: 'initrd arg' }],
    });
    const info = r.ebx;
    expect(info % 4096).toBe(0);
    expect(info).toBeGreaterThanOrEqual(0x102000 + 0x1800);
    const flags = u32(info);
    expect(flags & 0b1001001101).toBe(0b1001001101); // MEMORY, CMDLINE, MODS, MEM_MAP, LOADER_NAME
    expect(u32(info + 4)).toBe(639); // mem_lower KiB
    expect(u32(info + 8)).toBe(3 * 1024); // mem_upper KiB: 1 MiB .. 4 MiB
    expect(str(u32(info + 16))).toBe('console=ttyS0 pv=on');
    expect(u32(info + 20)).toBe(1);
    const modEntry = u32(info + 24);
    const [start, end] = [u32(modEntry), u32(modEntry + 4)];
    expect(start % 4096).toBe(0);
    expect(end - start).toBe(5000);
    expect(mmu.readPhys(start, 5000)).toEqual(mod);
    expect(str(u32(modEntry + 8))).toBe('initrd arg');
    expect(str(u32(info + 64))).toBe('@pv/guest');
    const map = defaultMemoryMap(4 * MiB);
    expect(u32(info + 44)).toBe(map.length * 24);
    const mmap = u32(info + 48);
    map.forEach((m, i) => {
      const e = mmap + i * 24;
      expect(u32(e)).toBe(20);
      expect(u32(e + 4)).toBe(m.base);
      expect(u32(e + 12)).toBe(m.length);
      expect(u32(e + 20)).toBe(m.type);
    });
    expect(r.end).toBe(end);
  });

  it('translates a virtual entry point through its segment (p_vaddr ≠ p_paddr)', () => {
    const { mmu } = code();
    const img = elf32(0xc0100004, [{ paddr: 0x100000, vaddr: 0xc0100000, data: text }]);
    expect(loadMultiboot(img, mmu, { ramSize: 4 * MiB }).entry).toBe(0x100004);
  });

  it('honours the a.out kludge address fields (flag 16)', () => {
    const { mmu } = code();
    // The header sits at file offset 0 and says it is loaded at 0x200000; 64 bytes of text, 0x1000 of bss.
    const hdr = multibootHeader(1 << 16, [0x200000, 0x200000, 0x200040, 0x201040, 0x200020]);
    const img = new Uint8Array(0x40);
    img.set(hdr);
    img.set(bytes(0x20, 5), 0x20);
    const r = loadMultiboot(img, mmu, { ramSize: 4 * MiB });
    expect(r.entry).toBe(0x200020);
    expect(mmu.readPhys(0x200000, 0x40)).toEqual(img);
    expect(r.segments).toEqual([{ paddr: 0x200000, memSize: 0x1040 }]);
  });
});

describe('malformed multiboot images are refused with a GuestError naming file and problem', () => {
  const ram = () => code().mmu;
  const ok = { paddr: 0x100000, data: bytes(64, 3) };

  it('no multiboot header', () => {
    const img = elf32(0x100000, [ok]);
    img.fill(0, 52 + 32, 52 + 32 + 12);
    expectGuestError(
      () => loadMultiboot(img, ram(), { name: 'x.elf', ramSize: 4 * MiB }),
      'NO_MULTIBOOT_HEADER',
      /x\.elf/,
    );
  });

  it('bad checksum', () => {
    const img = elf32(0x100000, [ok]);
    img[52 + 32 + 8]! ^= 1;
    expectGuestError(
      () => loadMultiboot(img, ram(), { name: 'x.elf', ramSize: 4 * MiB }),
      'NO_MULTIBOOT_HEADER',
      /multiboot header/,
    );
  });

  it('unsupported required feature bits', () => {
    const img = elf32(0x100000, [ok], 1 << 5);
    expectGuestError(
      () => loadMultiboot(img, ram(), { name: 'x.elf', ramSize: 4 * MiB }),
      'UNSUPPORTED',
      /flags 0x20/,
    );
  });

  it('wrong ELF magic, class and machine', () => {
    const img = elf32(0x100000, [ok]);
    const badMagic = img.slice();
    badMagic[1] = 0;
    expectGuestError(
      () => loadMultiboot(badMagic, ram(), { name: 'm.elf', ramSize: 4 * MiB }),
      'BAD_IMAGE',
      /m\.elf: not an ELF/,
    );
    const class64 = img.slice();
    class64[4] = 2;
    expectGuestError(
      () => loadMultiboot(class64, ram(), { name: 'c.elf', ramSize: 4 * MiB }),
      'UNSUPPORTED',
      /32-bit/,
    );
    const arm = img.slice();
    arm[18] = 40;
    expectGuestError(
      () => loadMultiboot(arm, ram(), { name: 'a.elf', ramSize: 4 * MiB }),
      'UNSUPPORTED',
      /i386/,
    );
  });

  it('truncated file data', () => {
    const img = elf32(0x100000, [ok]);
    expectGuestError(
      () => loadMultiboot(img.subarray(0, img.length - 10), ram(), { name: 't.elf', ramSize: 4 * MiB }),
      'TRUNCATED',
      /t\.elf: segment 0 file data ends/,
    );
    expectGuestError(
      () => loadMultiboot(img.subarray(0, 40), ram(), { name: 't.elf', ramSize: 4 * MiB }),
      'NO_MULTIBOOT_HEADER',
      /t\.elf/,
    );
  });

  it('overlapping segments', () => {
    const img = elf32(0x100000, [ok, { paddr: 0x100020, data: bytes(64, 4) }]);
    expectGuestError(
      () => loadMultiboot(img, ram(), { name: 'o.elf', ramSize: 4 * MiB }),
      'OVERLAP',
      /segments 0 and 1 overlap at 0x100020/,
    );
  });

  it('a segment outside RAM', () => {
    const img = elf32(0x100000, [ok, { paddr: 0x9000000, data: bytes(16, 4) }]);
    expectGuestError(
      () => loadMultiboot(img, ram(), { name: 'big.elf', ramSize: 4 * MiB }),
      'OUT_OF_RAM',
      /big\.elf: segment 1 at 0x9000000.*4 MiB/,
    );
  });

  it('an entry point outside the image', () => {
    const img = elf32(0x300000, [ok]);
    expectGuestError(
      () => loadMultiboot(img, ram(), { name: 'e.elf', ramSize: 4 * MiB }),
      'BAD_IMAGE',
      /entry point 0x300000/,
    );
  });

  it('modules that do not fit', () => {
    const img = elf32(0x100000, [ok]);
    expectGuestError(
      () =>
        loadMultiboot(img, ram(), {
          name: 'k',
          ramSize: 4 * MiB,
          modules: [{ name: 'huge', data: new Uint8Array(4 * MiB) }],
        }),
      'OUT_OF_RAM',
      /modules need/,
    );
  });

  it('random corruption of a valid image never throws anything but a GuestError', () => {
    const base = elf32(0x100000, [ok, { paddr: 0x101000, data: bytes(200, 8), memSize: 0x2000 }]);
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed;
    };
    const mmu = ram();
    for (let i = 0; i < 2000; i++) {
      const img = base.slice(0, rnd() % 3 === 0 ? rnd() % base.length : base.length);
      for (let k = 0; k < 1 + (rnd() % 4); k++) img[rnd() % img.length] = rnd() & 0xff;
      try {
        loadMultiboot(img, mmu, { name: 'fuzz', ramSize: 4 * MiB });
      } catch (e) {
        if (!GuestError.isInstance(e)) throw e;
      }
    }
  });
});

describe('flat binaries and ROM images', () => {
  it('loads a flat binary at an address', () => {
    const { mmu } = code();
    const img = bytes(1000, 7);
    expect(loadFlat(img, mmu, { address: 0x7c00 })).toEqual({ entry: 0x7c00, end: 0x7c00 + 1000 });
    expect(mmu.readPhys(0x7c00, 1000)).toEqual(img);
    expectGuestError(
      () => loadFlat(img, mmu, { name: 'f.bin', address: 4 * MiB - 10 }),
      'OUT_OF_RAM',
      /f\.bin/,
    );
    expectGuestError(
      () => loadFlat(new Uint8Array(), mmu, { name: 'e.bin', address: 0 }),
      'BAD_IMAGE',
      /e\.bin: the image is empty/,
    );
  });

  it('maps a ROM at the top of 4 GiB and its last 128 KiB below 1 MiB', () => {
    const rom = bytes(256 * 1024, 11);
    const regions = romRegions(rom);
    expect(regions.map((r) => [r.base, r.data.length])).toEqual([
      [0xfffc0000, 256 * 1024],
      [0xe0000, 128 * 1024],
    ]);
    const mmu = new Mmu({ ramSize: 2 * MiB, rom: regions });
    // The reset vector's bytes and the legacy alias read the same image.
    expect(mmu.readPhys(0xfffffff0, 16)).toEqual(rom.subarray(rom.length - 16));
    expect(mmu.readPhys(0xffff0, 16)).toEqual(rom.subarray(rom.length - 16));
    expectGuestError(
      () => romRegions(new Uint8Array(1000), 'odd.rom'),
      'BAD_IMAGE',
      /odd\.rom: ROM size 1000/,
    );
  });
});

const CRC_SIEVE = resolve(__dirname, '../../../../shared/bench/crc-sieve/guest-r4.elf');
describe.skipIf(!existsSync(CRC_SIEVE))('a real multiboot kernel (../shared/bench/crc-sieve)', () => {
  it('loads guest-r4.elf and the CPU boots it to its first serial output', async () => {
    const { Cpu, EAX, EBX } = await import('@pv/x86-core');
    const mmu = new Mmu({ ramSize: 16 * MiB });
    const r = loadMultiboot(new Uint8Array(readFileSync(CRC_SIEVE)), mmu, {
      name: 'guest-r4.elf',
      ramSize: 16 * MiB,
    });
    let serial = '';
    const cpu = new Cpu({
      memory: mmu,
      io: {
        in: (port) => (port === 0x3fd ? 0x60 : 0xff), // LSR: transmitter empty
        out: (port, _size, value) => {
          if (port === 0x3f8) serial += String.fromCharCode(value & 0xff);
        },
      },
    });
    cpu.enterFlatProtectedMode(r.entry);
    cpu.regs[EAX] = r.eax;
    cpu.regs[EBX] = r.ebx;
    for (let i = 0; i < 50 && !serial.includes('START'); i++) cpu.run(100_000);
    expect(serial).toContain('START');
  });
});
