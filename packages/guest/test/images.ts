/** Builders of tiny multiboot images for loader tests (valid ones, and each way to break them). */

export interface SegmentSpec {
  paddr: number;
  vaddr?: number;
  data: Uint8Array;
  memSize?: number;
}

export const MB_MAGIC = 0x1badb002;

/** A multiboot header (§3.1.1) with the given flags and, with bit 16, the a.out address fields. */
export function multibootHeader(flags: number, aout?: number[]): Uint8Array {
  const h = new Uint8Array(aout ? 32 : 12);
  const v = new DataView(h.buffer);
  v.setUint32(0, MB_MAGIC, true);
  v.setUint32(4, flags, true);
  v.setUint32(8, -(MB_MAGIC + flags) >>> 0, true);
  for (const [i, x] of (aout ?? []).entries()) v.setUint32(12 + i * 4, x, true);
  return h;
}

/** An ELF32 i386 executable: header, program headers, then each segment's bytes, multiboot header first. */
export function elf32(entry: number, segments: SegmentSpec[], mbFlags = 0): Uint8Array {
  const ehdr = 52;
  const phdrs = segments.length * 32;
  const mb = multibootHeader(mbFlags);
  const dataStart = ehdr + phdrs + mb.length;
  const total = dataStart + segments.reduce((n, s) => n + s.data.length, 0);
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 3, true); // EM_386
  v.setUint32(20, 1, true);
  v.setUint32(24, entry, true);
  v.setUint32(28, ehdr, true);
  v.setUint16(40, ehdr, true);
  v.setUint16(42, 32, true);
  v.setUint16(44, segments.length, true);
  out.set(mb, ehdr + phdrs);
  let off = dataStart;
  segments.forEach((s, i) => {
    const p = ehdr + i * 32;
    v.setUint32(p, 1, true); // PT_LOAD
    v.setUint32(p + 4, off, true);
    v.setUint32(p + 8, s.vaddr ?? s.paddr, true);
    v.setUint32(p + 12, s.paddr, true);
    v.setUint32(p + 16, s.data.length, true);
    v.setUint32(p + 20, s.memSize ?? s.data.length, true);
    v.setUint32(p + 24, 7, true);
    out.set(s.data, off);
    off += s.data.length;
  });
  return out;
}
