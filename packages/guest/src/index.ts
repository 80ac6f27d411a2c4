export type { GuestErrorCode } from './errors';
export { GuestError } from './errors';
export { MINI_KERNEL_FILE, MINI_KERNEL_PATH, miniKernelImage } from './images';
export type { Elf32Image, ElfSegment } from './loaders/elf';
export { parseElf32 } from './loaders/elf';
export type { FlatOptions, RomRegion } from './loaders/flat';
export { loadFlat, romRegions } from './loaders/flat';
export type {
  LoadedSegment,
  MultibootHeader,
  MultibootModule,
  MultibootOptions,
  MultibootResult,
} from './loaders/multiboot';
export {
  findMultibootHeader,
  loadMultiboot,
  MULTIBOOT_BOOTLOADER_MAGIC,
  MULTIBOOT_HEADER_MAGIC,
  usableRanges,
} from './loaders/multiboot';
export type { GuestRam, MemoryRange } from './loaders/target';
export { defaultMemoryMap, E820_RAM, E820_RESERVED } from './loaders/target';
export { VERSION } from './version';
