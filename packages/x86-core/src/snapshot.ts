/**
 * CPU snapshots (STYLE.md "Snapshots are plain, versioned data"): copies of the typed-array state
 * plus the scalar registers, restorable into a CPU with the same buses.
 */
import type { Cpu } from './cpu';
import { refreshDebug } from './debug';
import { X86CoreError } from './errors';
import { getEflags } from './flags';

/** Version of the snapshot layout (2 added the SYSENTER MSRs; version 1 snapshots still restore). */
export const CPU_SNAPSHOT_VERSION = 2;

export interface CpuSnapshot {
  version: number;
  regs: Int32Array;
  segSel: Uint16Array;
  segBase: Int32Array;
  segRawLimit: Float64Array;
  segAttr: Uint16Array;
  dtr: Float64Array;
  cr: Int32Array;
  dr: Int32Array;
  exitCounts: Float64Array;
  /**
   * eip, eflags, cpl, instructions, halted, shutdown, nmiBlocked, tscOffset, apicBase, shadow
   * pending, IA32_SYSENTER_CS/ESP/EIP (the last three from version 2).
   */
  scalars: Float64Array;
}

export function saveCpu(cpu: Cpu): CpuSnapshot {
  return {
    version: CPU_SNAPSHOT_VERSION,
    regs: cpu.regs.slice(),
    segSel: cpu.segSel.slice(),
    segBase: cpu.segBase.slice(),
    segRawLimit: cpu.segRawLimit.slice(),
    segAttr: cpu.segAttr.slice(),
    dtr: cpu.dtr.slice(),
    cr: cpu.cr.slice(),
    dr: cpu.dr.slice(),
    exitCounts: cpu.exitCounts.slice(),
    scalars: Float64Array.of(
      cpu.ip,
      getEflags(cpu),
      cpu.cplValue,
      cpu.icount,
      cpu.halted ? 1 : 0,
      cpu.shutdown ? 1 : 0,
      cpu.nmiBlocked ? 1 : 0,
      cpu.tscOffset,
      cpu.apicBase,
      cpu.shadowAt === cpu.icount ? 1 : 0,
      cpu.sysenterCs,
      cpu.sysenterEsp,
      cpu.sysenterEip,
    ),
  };
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new X86CoreError('INVALID_STATE', `x86-core: snapshot ${what}`);
}

export function restoreCpu(cpu: Cpu, s: CpuSnapshot): void {
  check(
    typeof s === 'object' && s !== null && (s.version === 1 || s.version === CPU_SNAPSHOT_VERSION),
    `version must be 1 or ${CPU_SNAPSHOT_VERSION}`,
  );
  check(s.regs instanceof Int32Array && s.regs.length === 8, 'regs must be an Int32Array(8)');
  for (const k of ['segSel', 'segBase', 'segRawLimit', 'segAttr', 'cr', 'dr'] as const) {
    check(s[k] !== undefined && s[k].length === 8, `${k} must have 8 entries`);
  }
  check(
    s.dtr?.length === 4 &&
      s.scalars?.length === (s.version === 1 ? 10 : 13) &&
      s.exitCounts?.length === cpu.exitCounts.length,
    'is truncated',
  );
  cpu.regs.set(s.regs);
  cpu.cr.set(s.cr);
  cpu.dr.set(s.dr);
  cpu.dtr.set(s.dtr);
  cpu.exitCounts.set(s.exitCounts);
  const sc = s.scalars;
  cpu.ip = sc[0]! | 0;
  cpu.flags = (sc[1]! & 0x3f7fd5) | 2;
  cpu.ccOp = 0;
  for (let i = 0; i < 8; i++)
    cpu.setSegmentCache(i, s.segSel[i]!, s.segBase[i]!, s.segRawLimit[i]!, s.segAttr[i]!);
  cpu.icount = sc[3]!;
  cpu.syncedAt = cpu.icount;
  cpu.halted = sc[4] === 1;
  cpu.shutdown = sc[5] === 1;
  cpu.nmiBlocked = sc[6] === 1;
  cpu.tscOffset = sc[7]!;
  cpu.apicBase = sc[8]!;
  cpu.shadowAt = sc[9] === 1 ? cpu.icount : -1;
  cpu.sysenterCs = (sc[10] ?? 0) & 0xffff;
  cpu.sysenterEsp = (sc[11] ?? 0) | 0;
  cpu.sysenterEip = (sc[12] ?? 0) | 0;
  cpu.dbgArm = 0;
  cpu.dbgHits = 0;
  cpu.dbgCarry = 0;
  cpu.dbgNow = 0;
  refreshDebug(cpu);
  cpu.setCpl(sc[2]! & 3);
  cpu.pushPagingState();
}
