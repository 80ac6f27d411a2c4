/**
 * Segment-register loads and descriptor-table access (SDM Vol. 3 §3.4, §5.4–5.6). Real mode:
 * base = selector × 16 with the cached limit and attributes kept. Protected mode: the descriptor
 * is read from the GDT/LDT and checked (type, DPL/RPL/CPL, present); the accessed bit is set.
 * Far transfers through gates and privilege levels are in transfer.ts, task switches in task.ts,
 * virtual-8086 segment loads in v86.ts.
 */
import { ACCESS_READ, ACCESS_WRITE } from './bus';
import {
  ATTR_CODE,
  ATTR_DC,
  ATTR_P,
  ATTR_RW,
  ATTR_S,
  CR0_PE,
  EXC_GP,
  EXC_NP,
  EXC_SS,
  FLAG_VM,
  SREG_CS,
  SREG_LDTR,
  SREG_SS,
} from './constants';
import type { Cpu } from './cpu';

/** The last descriptor read by readDescriptor (low and high dwords). */
export const desc = new Int32Array(2);

/** Protected mode (CR0.PE = 1) and not virtual-8086. */
export function isProtected(cpu: Cpu): boolean {
  return (cpu.cr[0]! & CR0_PE) !== 0 && (cpu.flags & FLAG_VM) === 0;
}

/** Supervisor (implicit) linear reads and writes for system structures. */
export function sysRead32(cpu: Cpu, lin: number): number {
  cpu.syncClock();
  return cpu.memory.read32(lin >>> 0, ACCESS_READ) | 0;
}
export function sysRead16(cpu: Cpu, lin: number): number {
  cpu.syncClock();
  return cpu.memory.read16(lin >>> 0, ACCESS_READ) & 0xffff;
}
export function sysWrite32(cpu: Cpu, lin: number, v: number): void {
  cpu.syncClock();
  cpu.memory.write32(lin >>> 0, v >>> 0, ACCESS_WRITE);
}

export function sysWrite16(cpu: Cpu, lin: number, v: number): void {
  cpu.syncClock();
  cpu.memory.write16(lin >>> 0, v & 0xffff, ACCESS_WRITE);
}

/**
 * Reads the descriptor for `sel` into `desc` and returns its linear address.
 * A selector beyond the table limit (or an unusable LDT) raises `vector` (default #GP) with the
 * error code (selector & ~3) | `ext` (SDM §6.13).
 */
export function readDescriptor(cpu: Cpu, sel: number, vector = EXC_GP, ext = 0): number {
  let base: number;
  let limit: number;
  if (sel & 4) {
    base = cpu.segBase[SREG_LDTR]!;
    limit = cpu.segAttr[SREG_LDTR] === 0 ? -1 : cpu.segRawLimit[SREG_LDTR]!;
  } else {
    base = cpu.dtr[0]!;
    limit = cpu.dtr[1]!;
  }
  if ((sel & ~7) + 7 > limit) cpu.raise(vector, (sel & 0xfffc) | ext);
  const lin = (base + (sel & ~7)) | 0;
  desc[0] = sysRead32(cpu, lin);
  desc[1] = sysRead32(cpu, lin + 4);
  return lin;
}

/** Base, limit (byte-granular) and attribute word of the descriptor in `desc`. */
export function descBase(): number {
  return (desc[0]! >>> 16) | ((desc[1]! & 0xff) << 16) | (desc[1]! & 0xff000000) | 0;
}
export function descLimit(): number {
  const raw = (desc[0]! & 0xffff) | (desc[1]! & 0xf0000);
  return desc[1]! & 0x800000 ? ((raw << 12) | 0xfff) >>> 0 : raw;
}
export function descAttr(): number {
  return (desc[1]! >>> 8) & 0xf0ff;
}

/** The same fields of a descriptor given as its two dwords (for callers that read several). */
export function baseOf(lo: number, hi: number): number {
  return (lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000) | 0;
}
export function limitOf(lo: number, hi: number): number {
  const raw = (lo & 0xffff) | (hi & 0xf0000);
  return hi & 0x800000 ? ((raw << 12) | 0xfff) >>> 0 : raw;
}
export function attrOf(hi: number): number {
  return (hi >>> 8) & 0xf0ff;
}
/** Sets the accessed bit in the descriptor at `lin` whose high dword is `hi`, if it is clear. */
export function markAccessed(cpu: Cpu, lin: number, hi: number): void {
  if ((hi & 0x100) === 0) sysWrite32(cpu, lin + 4, hi | 0x100);
}

/** Sets the accessed bit of the descriptor at `lin` if it is clear (SDM §3.4.5.1). */
export function setAccessed(cpu: Cpu, lin: number): void {
  if ((desc[1]! & 0x100) === 0) {
    desc[1] = desc[1]! | 0x100;
    sysWrite32(cpu, lin + 4, desc[1]!);
  }
}

/** Loads data/stack segment register `sreg` (not CS) with `sel`, per the current mode. */
export function loadSegment(cpu: Cpu, sreg: number, sel: number): void {
  sel &= 0xffff;
  if (!isProtected(cpu)) {
    const vm = (cpu.flags & FLAG_VM) !== 0;
    // Real mode keeps the cached limit and attributes; v86 forces 64 KiB, DPL 3, writable data.
    cpu.setSegmentCache(
      sreg,
      sel,
      sel << 4,
      vm || cpu.segAttr[sreg] === 0 ? 0xffff : cpu.segRawLimit[sreg]!,
      vm ? 0xf3 : cpu.segAttr[sreg]! || 0x93,
    );
    return;
  }
  const cpl = cpu.cplValue;
  const rpl = sel & 3;
  if ((sel & 0xfffc) === 0) {
    if (sreg === SREG_SS) cpu.raise(EXC_GP, 0);
    cpu.setSegmentNull(sreg, sel);
    return;
  }
  const lin = readDescriptor(cpu, sel);
  const attr = descAttr();
  const dpl = (attr >> 5) & 3;
  const err = sel & 0xfffc;
  if (sreg === SREG_SS) {
    // SS: writable data, RPL = DPL = CPL (SDM §5.10.4.1).
    if ((attr & (ATTR_S | ATTR_CODE | ATTR_RW)) !== (ATTR_S | ATTR_RW) || rpl !== cpl || dpl !== cpl) {
      cpu.raise(EXC_GP, err);
    }
    if ((attr & ATTR_P) === 0) cpu.raise(EXC_SS, err);
  } else {
    // DS/ES/FS/GS: data or readable code; DPL ≥ max(CPL, RPL) unless conforming code (§5.6).
    if ((attr & ATTR_S) === 0 || (attr & (ATTR_CODE | ATTR_RW)) === ATTR_CODE) cpu.raise(EXC_GP, err);
    const conforming = (attr & (ATTR_CODE | ATTR_DC)) === (ATTR_CODE | ATTR_DC);
    if (!conforming && (rpl > dpl || cpl > dpl)) cpu.raise(EXC_GP, err);
    if ((attr & ATTR_P) === 0) cpu.raise(EXC_NP, err);
  }
  setAccessed(cpu, lin);
  cpu.setSegmentCache(sreg, sel, descBase(), descLimit(), attr | 1);
}

/** Real-mode (or v86) CS load for far transfers: base = selector × 16. */
export function loadCsReal(cpu: Cpu, sel: number): void {
  const vm = (cpu.flags & FLAG_VM) !== 0;
  cpu.setSegmentCache(
    SREG_CS,
    sel & 0xffff,
    (sel & 0xffff) << 4,
    vm ? 0xffff : cpu.segRawLimit[SREG_CS]!,
    vm ? 0xfb : cpu.segAttr[SREG_CS]!,
  );
}
