import { Mmu, type MmuOptions } from '../src/index';

/** What the test hooks throw instead of delivering #PF. */
export class PageFault {
  constructor(
    readonly lin: number,
    readonly code: number,
  ) {}
}

/** An MMU whose CPU hooks throw a `PageFault` sentinel (the contract: raisePageFault never returns). */
export function makeMmu(options: Partial<MmuOptions> = {}, codeWritten?: (ppn: number) => void): Mmu {
  const mmu = new Mmu({ ramSize: 4 << 20, ...options });
  mmu.attachCpu({
    raisePageFault(lin: number, code: number): never {
      throw new PageFault(lin >>> 0, code);
    },
    ...(codeWritten ? { codeWritten } : {}),
  });
  return mmu;
}

/** Run `fn`; return the page fault it raised, or undefined. */
export function faultOf(fn: () => unknown): PageFault | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof PageFault) return e;
    throw e;
  }
  return undefined;
}

/** Little-endian dword helpers on guest RAM through the host view. */
export function poke32(mmu: Mmu, gpa: number, value: number): void {
  new DataView(mmu.bytes(gpa, 4).buffer, gpa, 4).setUint32(0, value >>> 0, true);
}
export function peek32(mmu: Mmu, gpa: number): number {
  return new DataView(mmu.bytes(gpa, 4).buffer, gpa, 4).getUint32(0, true);
}

export interface Cr {
  cr0?: number;
  cr3?: number;
  cr4?: number;
  efer?: number;
  cpl?: number;
  ac?: boolean;
}

export const CR0_PE = 1;
export const CR0_WP = 1 << 16;
export const CR0_PG = 1 << 31;
export const CR4_PSE = 1 << 4;
export const CR4_PAE = 1 << 5;
export const CR4_PGE = 1 << 7;
export const CR4_SMEP = 1 << 20;
export const CR4_SMAP = 1 << 21;
export const EFER_NXE = 1 << 11;

/** Push a paging state (defaults: paging on, everything else off, CPL 0). */
export function setCr(mmu: Mmu, cr: Cr): boolean {
  return mmu.setPagingState({
    cr0: cr.cr0 ?? CR0_PG | CR0_PE,
    cr3: cr.cr3 ?? 0,
    cr4: cr.cr4 ?? 0,
    efer: cr.efer ?? 0,
    cpl: cr.cpl ?? 0,
    ac: cr.ac ?? false,
  });
}

export const P = 1;
export const RW = 2;
export const US = 4;
export const A = 0x20;
export const D = 0x40;
export const PS = 0x80;
export const G = 0x100;

export const READ = 0;
export const WRITE = 1;
export const USER = 2;
export const FETCH = 4;
