export type {
  CpuState,
  CpuTraps,
  ExitKindName,
  ExitReason,
  Hypervisor,
  InterruptLine,
  IoBus,
  Memory,
  MemoryCpuHooks,
  MsrBus,
  PagingState,
  SoftTlb,
  VirtualClock,
} from './bus';
export {
  ACCESS_FETCH,
  ACCESS_READ,
  ACCESS_USER,
  ACCESS_WRITE,
  EAX,
  EBP,
  EBX,
  ECX,
  EDI,
  EDX,
  ESI,
  ESP,
  EXIT_APIC,
  EXIT_CPUID,
  EXIT_CR,
  EXIT_HLT,
  EXIT_HYPERCALL,
  EXIT_INVLPG,
  EXIT_IO,
  EXIT_KINDS,
  EXIT_MMIO,
  EXIT_MSR,
  EXIT_NAMES,
  EXIT_PT_WRITE,
  TLB_KINDS,
} from './bus';
export { MachineClock } from './clock';
export {
  CR0_PE,
  CR0_PG,
  EXC_BP,
  EXC_DE,
  EXC_DF,
  EXC_GP,
  EXC_NP,
  EXC_PF,
  EXC_SS,
  EXC_UD,
  FLAG_CF,
  FLAG_DF,
  FLAG_IF,
  FLAG_OF,
  FLAG_SF,
  FLAG_ZF,
  SREG_CS,
  SREG_DS,
  SREG_ES,
  SREG_FS,
  SREG_GS,
  SREG_SS,
} from './constants';
export type { CpuOptions, Exit, SegmentState } from './cpu';
export { Cpu } from './cpu';
export type { CpuidConfig } from './cpuid';
export { CPUID_ECX_HYPERVISOR } from './cpuid';
export type { X86CoreErrorCode } from './errors';
export { X86CoreError } from './errors';
export { FlatMemory } from './flat-memory';
export { opcodeMnemonic, opcodeSpec } from './opcodes';
export type { CpuSnapshot } from './snapshot';
export { CPU_SNAPSHOT_VERSION } from './snapshot';
export { VERSION } from './version';
