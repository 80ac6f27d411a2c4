/**
 * Where a loader places an image: guest-physical RAM. `Mmu` from @pv/mmu satisfies this; loaders ask
 * for no more than they use.
 */
export interface GuestRam {
  /** Is [gpa, gpa+len) entirely plain RAM? */
  isRam(gpa: number, len: number): boolean;
  /** Copy bytes into RAM at `gpa`. */
  writePhys(gpa: number, data: Uint8Array): void;
}

/** One range of the physical memory map (multiboot `mmap`, e820 types: 1 usable, 2 reserved, …). */
export interface MemoryRange {
  base: number;
  length: number;
  type: number;
}

export const E820_RAM = 1;
export const E820_RESERVED = 2;

/** The classic PC map for `ramSize` bytes of RAM: 639 KiB low memory, the EBDA/VGA/BIOS hole, the rest. */
export function defaultMemoryMap(ramSize: number): MemoryRange[] {
  const map: MemoryRange[] = [
    { base: 0, length: 0x9fc00, type: E820_RAM },
    { base: 0x9fc00, length: 0x400, type: E820_RESERVED },
    { base: 0xf0000, length: 0x10000, type: E820_RESERVED },
  ];
  if (ramSize > 0x100000) map.push({ base: 0x100000, length: ramSize - 0x100000, type: E820_RAM });
  return map;
}
