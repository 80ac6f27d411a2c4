import { GuestError, hex } from '../errors';

/** A loadable segment of an ELF32 image (PT_LOAD), with checked bounds. */
export interface ElfSegment {
  /** Index in the program header table. */
  index: number;
  /** Physical load address (p_paddr), where multiboot places it. */
  paddr: number;
  vaddr: number;
  /** Bytes taken from the file. */
  fileOffset: number;
  fileSize: number;
  /** Bytes in memory (fileSize..memSize is zero-filled: .bss). */
  memSize: number;
}

export interface Elf32Image {
  entry: number;
  segments: ElfSegment[];
}

const ELF_MAGIC = 0x464c457f; // "\x7fELF" little-endian
const ELFCLASS32 = 1;
const ELFDATA2LSB = 1;
const ET_EXEC = 2;
const EM_386 = 3;
const PT_LOAD = 1;
const EHDR_SIZE = 52;
const PHDR_SIZE = 32;

/**
 * Parses the ELF32 header and PT_LOAD program headers of `image` (System V ABI, i386 supplement).
 * Every offset and size read from the file is checked against the file and the 32-bit space.
 */
export function parseElf32(image: Uint8Array, name: string): Elf32Image {
  if (image.length < EHDR_SIZE)
    throw new GuestError('TRUNCATED', `${name}: ${image.length} bytes is too short for an ELF header`);
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (v.getUint32(0, true) !== ELF_MAGIC)
    throw new GuestError('BAD_IMAGE', `${name}: not an ELF file (bad magic)`);
  if (image[4] !== ELFCLASS32)
    throw new GuestError('UNSUPPORTED', `${name}: not a 32-bit ELF (EI_CLASS ${image[4]})`);
  if (image[5] !== ELFDATA2LSB)
    throw new GuestError('UNSUPPORTED', `${name}: not little-endian (EI_DATA ${image[5]})`);
  const type = v.getUint16(16, true);
  const machine = v.getUint16(18, true);
  if (type !== ET_EXEC)
    throw new GuestError('UNSUPPORTED', `${name}: ELF type ${type} is not an executable (ET_EXEC)`);
  if (machine !== EM_386)
    throw new GuestError('UNSUPPORTED', `${name}: ELF machine ${machine} is not i386 (EM_386)`);
  const entry = v.getUint32(24, true);
  const phoff = v.getUint32(28, true);
  const phentsize = v.getUint16(42, true);
  const phnum = v.getUint16(44, true);
  if (phnum === 0) throw new GuestError('BAD_IMAGE', `${name}: no program headers`);
  if (phentsize < PHDR_SIZE)
    throw new GuestError('BAD_IMAGE', `${name}: program header size ${phentsize} < ${PHDR_SIZE}`);
  if (phoff + phnum * phentsize > image.length) {
    throw new GuestError(
      'TRUNCATED',
      `${name}: program headers end at ${hex(phoff + phnum * phentsize)}, beyond the file (${hex(image.length)} bytes)`,
    );
  }
  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (v.getUint32(o, true) !== PT_LOAD) continue;
    const seg: ElfSegment = {
      index: i,
      fileOffset: v.getUint32(o + 4, true),
      vaddr: v.getUint32(o + 8, true),
      paddr: v.getUint32(o + 12, true),
      fileSize: v.getUint32(o + 16, true),
      memSize: v.getUint32(o + 20, true),
    };
    if (seg.memSize === 0) continue;
    if (seg.fileSize > seg.memSize) {
      throw new GuestError(
        'BAD_IMAGE',
        `${name}: segment ${i} has p_filesz ${hex(seg.fileSize)} > p_memsz ${hex(seg.memSize)}`,
      );
    }
    if (seg.fileOffset + seg.fileSize > image.length) {
      throw new GuestError(
        'TRUNCATED',
        `${name}: segment ${i} file data ends at ${hex(seg.fileOffset + seg.fileSize)}, beyond the file (${hex(image.length)} bytes)`,
      );
    }
    if (seg.paddr + seg.memSize > 0x1_0000_0000) {
      throw new GuestError('BAD_IMAGE', `${name}: segment ${i} at ${hex(seg.paddr)} wraps past 4 GiB`);
    }
    segments.push(seg);
  }
  if (segments.length === 0) throw new GuestError('BAD_IMAGE', `${name}: no loadable (PT_LOAD) segment`);
  const sorted = [...segments].sort((a, b) => a.paddr - b.paddr);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (prev.paddr + prev.memSize > cur.paddr) {
      throw new GuestError(
        'OVERLAP',
        `${name}: segments ${prev.index} and ${cur.index} overlap at ${hex(cur.paddr)}`,
      );
    }
  }
  return { entry, segments };
}
