export { createDirectOps } from './backend';
export type { ParavirtErrorCode } from './errors';
export { ParavirtError } from './errors';
export { advertisedFeatures, hypervisorLeaves } from './features';
export type { BindHypercallsOptions } from './hypercalls';
export { bindHypercalls, guestMemoryOf, hypercallHandlers, pvEoiMemoryOf } from './hypercalls';
export type { KvmClockOptions, PvclockUpdatePhase } from './kvmclock';
export {
  KvmClock,
  MSR_KVM_SYSTEM_TIME_NEW,
  MSR_KVM_WALL_CLOCK_NEW,
  pvclockScale,
  pvclockScaleDelta,
} from './kvmclock';
export type { LazyOps, PvLazy } from './lazy';
export { withLazy } from './lazy';
export type { CpuControl, PvMachine, PvSchedulerHooks, PvVcpu } from './machine';
export { SimpleCpuState } from './machine';
export type { TrapStats } from './trap';
export { TrapPath } from './trap';
export type {
  ApicMode,
  ControlRegister,
  ExitKind,
  ExitPath,
  PteWrite,
  PvApicOps,
  PvConsoleOps,
  PvCpuOps,
  PvExitOps,
  PvGroupName,
  PvIrqOps,
  PvMmuOps,
  PvOpName,
  PvOps,
  PvSchedOps,
  PvTimeOps,
} from './types';
export { EXIT_KIND_NAMES, PV_GROUPS } from './types';
export { VERSION } from './version';
export type {
  PathStats,
  PvStats,
  PvStatsSnapshot,
  PvTrace,
  StatsOps,
  StatsOptions,
  TraceEntry,
  TraceOps,
} from './wrappers';
export { mapOps, opNames, withStats, withTrace } from './wrappers';
