export type { MmuErrorCode } from './errors';
export { MmuError } from './errors';
export type { MmuExitCounts, MmuOptions, MmuState, PteBatchResult, PteUpdate, PteUpdateError } from './mmu';
export { Mmu } from './mmu';
export type { MmioHandler, RomImage } from './physical';
export { PhysicalMemory } from './physical';
export { VERSION } from './version';
