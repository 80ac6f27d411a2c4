/**
 * What the dispatcher and the codecs need from guest-physical memory. The composer adapts
 * @pv/mmu's physical memory to it; tests use a plain byte array.
 */
export interface GuestPhysMemory {
  /**
   * True iff every byte of [gpa, gpa + len) is plain guest RAM: not MMIO, not ROM, not a hole.
   * Called with 0 ≤ gpa, len ≥ 1 and gpa + len ≤ 2^32 (the dispatcher checks wrap-around first).
   */
  isRam(gpa: number, len: number): boolean;
  /** Copy `len` bytes at `gpa` into `dst[dstOffset…]`. Only called on ranges `isRam` accepted. */
  read(gpa: number, dst: Uint8Array, dstOffset: number, len: number): void;
  /** Copy `len` bytes from `src[srcOffset…]` to `gpa`. Only called on ranges `isRam` accepted. */
  write(gpa: number, src: Uint8Array, srcOffset: number, len: number): void;
}

/** A `GuestPhysMemory` over one byte array mapped at guest-physical 0 (tests, simple hosts). */
export function flatGuestMemory(ram: Uint8Array): GuestPhysMemory {
  return {
    isRam: (gpa, len) => gpa >= 0 && len >= 0 && gpa + len <= ram.length,
    // Short copies loop (no subarray allocation); long ones use the native copy.
    read: (gpa, dst, off, len) => {
      if (len > 64) dst.set(ram.subarray(gpa, gpa + len), off);
      else for (let i = 0; i < len; i++) dst[off + i] = ram[gpa + i]!;
    },
    write: (gpa, src, off, len) => {
      if (len > 64) ram.set(src.subarray(off, off + len), gpa);
      else for (let i = 0; i < len; i++) ram[gpa + i] = src[off + i]!;
    },
  };
}
