/**
 * A small composed machine for the tests: one @pv/mmu Mmu (RAM, paging, TLB), N @pv/apic LocalApics
 * on one ApicBus with their xAPIC pages mapped in the Mmu, SimpleCpuState per vCPU, kvmclock, a
 * console, the direct ops wrapped in withStats, a TrapPath and a hypercall dispatcher per vCPU.
 */
import { ApicBus, LocalApic } from '@pv/apic';
import { CODECS, type GuestPhysMemory, HC } from '@pv/hypercall';
import { Mmu } from '@pv/mmu';
import type { VirtualClock } from '@pv/x86-core';
import {
  advertisedFeatures,
  bindHypercalls,
  createDirectOps,
  guestMemoryOf,
  KvmClock,
  type PvMachine,
  type PvOps,
  pvEoiMemoryOf,
  SimpleCpuState,
  type StatsOps,
  TrapPath,
  withStats,
} from '../src/index';

export class TestClock implements VirtualClock {
  t = 0;
  constructor(readonly hz = 1_000_000_000) {}
  now(): number {
    return this.t;
  }
  advance(cycles: number): void {
    this.t += cycles;
  }
}

/** A #PF raised through the Mmu's CPU hooks. */
export class PageFault {
  constructor(
    readonly lin: number,
    readonly code: number,
  ) {}
}

export const RAM_SIZE = 256 * 1024;
/** Page directory, and two page tables. */
export const PD = 0x1000;
export const PT_A = 0x2000;
export const PT_B = 0x3000;
/** Guest lists for the hypercall path live here; excluded from RAM comparisons. */
export const SCRATCH = 0x30000;
export const SCRATCH_END = 0x40000;
/** xAPIC page of vCPU i, relocated above RAM so that each vCPU has its own page in the shared Mmu. */
export const apicPage = (i: number) => 0x100000 + i * 0x1000;

export const CR0_PE = 1;
export const CR0_WP = 1 << 16;
export const CR0_PG = 1 << 31;
export const CR4_PSE = 1 << 4;
export const CR4_PGE = 1 << 7;
export const PTE_P = 1;
export const PTE_RW = 2;
export const PTE_PS = 0x80;
export const PTE_G = 0x100;

export interface TestMachine {
  machine: PvMachine;
  mmu: Mmu;
  clock: TestClock;
  cpus: SimpleCpuState[];
  apics: LocalApic[];
  ops: StatsOps;
  /** The ops every adapter uses (the stats ops, or a further wrapper around them). */
  top: PvOps;
  traps: TrapPath[];
  hc: ReturnType<typeof bindHypercalls>[];
  memory: GuestPhysMemory;
  console: number[];
  kvmclock: KvmClock;
}

export interface MachineOptions {
  vcpus?: number;
  hz?: number;
  epochNs?: bigint;
  /** Wrap the stats ops further (e.g. withLazy) before the adapters are bound. */
  wrap?: (ops: StatsOps) => PvOps;
  /** Set up paging and software-enable the APICs (default true). */
  setup?: boolean;
}

export function buildMachine(opts: MachineOptions = {}): TestMachine {
  const n = opts.vcpus ?? 3;
  const mmu = new Mmu({ ramSize: RAM_SIZE, tlbBits: 6 });
  mmu.attachCpu({
    raisePageFault(lin: number, code: number): never {
      throw new PageFault(lin, code);
    },
  });
  const clock = new TestClock(opts.hz);
  const bus = new ApicBus();
  const pvEoiMemory = pvEoiMemoryOf(mmu);
  const memory = guestMemoryOf(mmu);
  const cpus: SimpleCpuState[] = [];
  const apics: LocalApic[] = [];
  for (let i = 0; i < n; i++) {
    cpus.push(new SimpleCpuState());
    apics.push(new LocalApic({ id: i, clock, bus, bsp: i === 0, pvEoiMemory }));
  }
  const kvmclock = new KvmClock({
    memory,
    clock,
    vcpus: n,
    epochNs: opts.epochNs ?? 1_700_000_000_123_456_789n,
  });
  const console: number[] = [];
  const machine: PvMachine = {
    vcpus: cpus.map((cpu, i) => ({ cpu, apic: apics[i]!, mmu })),
    bus,
    clock,
    kvmclock,
    pvEoi: true,
    console: (b) => {
      for (const x of b) console.push(x);
      return b.length;
    },
  };
  const ops = withStats(createDirectOps(machine));
  const top = opts.wrap ? opts.wrap(ops) : ops;
  const features = advertisedFeatures(machine);
  const traps = cpus.map((_, i) => new TrapPath(top, i));
  const hc = cpus.map((_, i) => bindHypercalls(top, { vcpu: i, memory, features }));
  const t: TestMachine = { machine, mmu, clock, cpus, apics, ops, top, traps, hc, memory, console, kvmclock };
  if (opts.setup !== false) setup(t);
  ops.stats.reset();
  return t;
}

/** Paging (32-bit, PSE + PGE), data frames with recognisable contents, APIC pages mapped. */
function setup(t: TestMachine): void {
  const { mmu, apics, ops } = t;
  const w32 = (gpa: number, v: number) => mmu.writePhys(gpa, u32le(v));
  // PDE[1] → PT_A, PDE[2] → PT_B, PDE[3] → a 4-MiB page at 0 (large, global).
  w32(PD + 4, PT_A | PTE_P | PTE_RW);
  w32(PD + 8, PT_B | PTE_P | PTE_RW);
  w32(PD + 12, 0 | PTE_P | PTE_RW | PTE_PS | PTE_G);
  for (let i = 0; i < 16; i++) {
    w32(PT_A + 4 * i, ((0x10 + i) << 12) | PTE_P | PTE_RW | (i & 1 ? PTE_G : 0));
    w32(PT_B + 4 * i, ((0x20 + i) << 12) | PTE_P | PTE_RW);
  }
  for (let f = 0x10; f < 0x30; f++) w32(f << 12, (0xf0000000 | f) >>> 0);
  for (let i = 0; i < apics.length; i++) {
    if (!ops.cpu.writeCr(i, 4, CR4_PSE | CR4_PGE)) fail('cr4');
    if (!ops.cpu.writeCr(i, 3, PD)) fail('cr3');
    if (!ops.cpu.writeCr(i, 0, (CR0_PE | CR0_PG | CR0_WP) >>> 0)) fail('cr0');
    // Relocate the xAPIC page (IA32_APIC_BASE, EN) and map it: the trap path is the Mmu's MMIO path.
    if (!ops.cpu.writeMsr(i, 0x1b, BigInt(apicPage(i)) | 0x800n)) fail('apic base');
    mmu.mapMmio(apicPage(i), 0x1000, t.traps[i]!.apicMmio);
    // Software-enable, spurious vector 0xff.
    ops.apic.write(i, 0x0f, 0x1ff);
  }
}

function fail(what: string): never {
  throw new Error(`test machine setup failed: ${what}`);
}

export function u32le(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

/** Machine state that both paths must leave identical. */
export function machineState(t: TestMachine) {
  const ram = t.mmu.bytes(0, SCRATCH);
  return {
    ram: digest(ram),
    tlbTag: Array.from(t.mmu.tlb.tag).join(','),
    tlbOffset: Array.from(t.mmu.tlb.offset).join(','),
    apics: t.apics.map((a) => {
      // ICR is a command register: the PV send-IPI hypercall does not latch it (as in KVM).
      const { icrLo: _l, icrHi: _h, ...rest } = a.saveState();
      return { ...rest, pending: a.pending() };
    }),
    cpus: t.cpus.map((c) => c.saveState()),
    clock: t.clock.now(),
    console: [...t.console],
  };
}

/** RAM as a short comparable summary: a hash plus the non-zero words of the first 64 KiB (page tables). */
function digest(ram: Uint8Array): string {
  const w = new Uint32Array(ram.buffer, ram.byteOffset, ram.length >>> 2);
  let h = 0x811c9dc5;
  for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w[i]!, 0x01000193) >>> 0;
  const parts: string[] = [h.toString(16)];
  for (let i = 0; i < 0x10000 >>> 2; i++)
    if (w[i] !== 0) parts.push(`${(i * 4).toString(16)}:${w[i]!.toString(16)}`);
  return parts.join(' ');
}

/** A bump allocator for guest lists in the scratch area. */
export class Scratch {
  private next = SCRATCH;
  constructor(private readonly mmu: Mmu) {}
  reset(): void {
    this.next = SCRATCH;
  }
  put(bytes: Uint8Array, align = 8): number {
    this.next = Math.ceil(this.next / align) * align;
    const gpa = this.next;
    if (gpa + bytes.length > SCRATCH_END) throw new Error('scratch area exhausted');
    this.mmu.writePhys(gpa, bytes);
    this.next += bytes.length;
    return gpa;
  }
}

/** Encode records with a manifest codec. */
export function encodeList<K extends keyof typeof CODECS>(
  name: K,
  values: Parameters<(typeof CODECS)[K]['encode']>[1][],
): Uint8Array {
  const c = CODECS[name];
  const bytes = new Uint8Array(Math.max(c.size * values.length, 1));
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => {
    (c.encode as (view: DataView, value: unknown, at: number) => void)(view, v, i * c.size);
  });
  return bytes.subarray(0, c.size * values.length);
}

export { HC };
