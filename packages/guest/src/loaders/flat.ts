import { GuestError, hex } from '../errors';
import type { GuestRam } from './target';

export interface FlatOptions {
  name?: string;
  /** Guest-physical load address; execution starts here. */
  address: number;
}

/** Loads a flat binary at `address`; its first byte is the entry point. */
export function loadFlat(
  image: Uint8Array,
  ram: GuestRam,
  options: FlatOptions,
): { entry: number; end: number } {
  const name = options.name ?? 'image';
  if (!(image instanceof Uint8Array))
    throw new GuestError('INVALID_OPTION', `${name}: image is not a Uint8Array`);
  const { address } = options;
  if (!Number.isInteger(address) || address < 0 || address > 0xffffffff) {
    throw new GuestError(
      'INVALID_OPTION',
      `${name}: load address ${address} is not a 32-bit physical address`,
    );
  }
  if (image.length === 0) throw new GuestError('BAD_IMAGE', `${name}: the image is empty`);
  if (!ram.isRam(address, image.length)) {
    throw new GuestError(
      'OUT_OF_RAM',
      `${name}: ${image.length} bytes at ${hex(address)} do not fit in guest RAM`,
    );
  }
  ram.writePhys(address, image);
  return { entry: address, end: address + image.length };
}

/** A read-only region for the MMU (`new Mmu({ rom })`). */
export interface RomRegion {
  base: number;
  data: Uint8Array;
}

const KIB = 1024;
/** The legacy BIOS window below 1 MiB is at most 128 KiB (0xE0000–0xFFFFF). */
const ISA_BIOS_WINDOW = 128 * KIB;
const MAX_ROM = 16 * 1024 * KIB;

/**
 * A firmware image as the PC maps it: at the top of the 4 GiB space (where the reset vector
 * 0xFFFFFFF0 fetches) and its last ≤128 KiB aliased at the top of the first MiB. The size must be
 * a multiple of 64 KiB (like QEMU's -bios), at most 16 MiB.
 */
export function romRegions(image: Uint8Array, name = 'bios'): RomRegion[] {
  if (!(image instanceof Uint8Array))
    throw new GuestError('INVALID_OPTION', `${name}: image is not a Uint8Array`);
  if (image.length === 0 || image.length % (64 * KIB) !== 0 || image.length > MAX_ROM) {
    throw new GuestError(
      'BAD_IMAGE',
      `${name}: ROM size ${image.length} is not a non-zero multiple of 64 KiB up to 16 MiB`,
    );
  }
  const low = image.subarray(image.length - Math.min(image.length, ISA_BIOS_WINDOW));
  return [
    { base: 0x1_0000_0000 - image.length, data: image },
    { base: 0x100000 - low.length, data: low },
  ];
}
