export type { StructCodec, StructOf, StructValue } from './codec';
export { CODECS, SCALAR_SIZE, structCodec } from './codec';
export type { Bump, CheckInput, CheckResult, Finding } from './compat';
export { changesetBump, checkAbi, diffSnapshots } from './compat';
export {
  ABI_CONST,
  ABI_VERSION,
  CPUID_LEAF,
  ERRNO,
  errnoName,
  HC,
  KVM_FEATURE,
  MSR,
  PV_FEATURE,
} from './constants';
export type {
  DispatcherOptions,
  HypercallCounters,
  HypercallDispatcher,
  HypercallHandlers,
  HypercallRegs,
} from './dispatcher';
export { createDispatcher } from './dispatcher';
export type { HypercallErrorCode } from './errors';
export { HypercallError } from './errors';
export type { AdvertisedFeatures, FeatureMasks, KvmFeatureName, PvFeatureName } from './features';
export {
  HYPERVISOR_LEAF_FIRST,
  HYPERVISOR_LEAF_LAST,
  hypervisorCpuid,
  resolveFeatures,
  signatureWords,
} from './features';
export { generateAbiMarkdown, generateHeader } from './generate';
export type { GuestPhysMemory } from './guest-memory';
export { flatGuestMemory } from './guest-memory';
export type { PvManifest } from './manifest';
export { MANIFEST, PV_HC_BASE } from './manifest';
export type {
  ArgRegister,
  CallArgDef,
  CallDef,
  ConstantDef,
  CpuidLeafDef,
  ErrnoDef,
  FeatureBitDef,
  FieldDef,
  Manifest,
  MsrDef,
  ScalarType,
  StructDef,
} from './manifest-types';
export { ARG_REGISTERS } from './manifest-types';
export type { AreaMsrWrite } from './msr';
export { decodeAreaMsrWrite, writePvclockTimeInfo, writePvclockWallClock } from './msr';
export type { AbiSnapshot } from './snapshot';
export { assertValidManifest, describeAbi, manifestProblems, parseSnapshot, snapshotJson } from './snapshot';
export { VERSION } from './version';
