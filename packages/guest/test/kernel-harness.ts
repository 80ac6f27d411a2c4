/**
 * A minimal machine for booting the mini PV kernel in tests: x86-core's Cpu, an Mmu (shadow
 * model: page-table writes tracked), one LocalApic on its MMIO page, a port bus with COM1, the
 * POST port and debug-exit, and @pv/hypercall's dispatcher bound straight to the MMU and APIC.
 * The reference composition is apps/demo's vm.ts; this one exists so the package tests its own
 * image without depending on the app.
 */
import { APIC_OK, LocalApic } from '@pv/apic';
import {
  type AdvertisedFeatures,
  createDispatcher,
  type HypercallHandlers,
  hypervisorCpuid,
} from '@pv/hypercall';
import { Mmu } from '@pv/mmu';
import { Cpu, EAX, EBX, EXIT_APIC, EXIT_NAMES, MachineClock } from '@pv/x86-core';
import { loadMultiboot } from '../src/index';

export interface BootOptions {
  cmdline?: string;
  /** Advertise the hypervisor leaves (KVM + @pv); default true. */
  hypervisor?: boolean;
  features?: AdvertisedFeatures;
  /** Replace dispatcher handlers (fault injection). */
  handlers?: (h: HypercallHandlers) => HypercallHandlers;
  maxSlices?: number;
}

export interface WorkloadExits {
  /** Exit counts by kind between the workload's POST markers (ptwrite / mmio from the MMU). */
  exits: Record<string, number>;
  total: number;
}

export interface BootResult {
  console: string;
  /** The debug-exit value, or null if the guest never wrote port 0xF4. */
  exitCode: number | null;
  instructions: number;
  exits: Record<string, number>;
  /** Per workload index (POST 0x10 + i … 0x20 + i). */
  workloads: WorkloadExits[];
}

export const ALL_FEATURES: AdvertisedFeatures = {
  kvm: ['KVM_FEATURE_NOP_IO_DELAY'],
  pv: [
    'PV_FEATURE_MULTICALL',
    'PV_FEATURE_APIC_WRITE_BATCH',
    'PV_FEATURE_PT_UPDATE_BATCH',
    'PV_FEATURE_TLB_FLUSH',
    'PV_FEATURE_CONSOLE_WRITE',
  ],
};

const COM1 = 0x3f8;
const COM1_LSR = 0x3fd;
const POST = 0x80;
const DEBUG_EXIT = 0xf4;
const RAM = 16 << 20;

export function bootKernel(image: Uint8Array, options: BootOptions = {}): BootResult {
  const mmu = new Mmu({ ramSize: RAM });
  const boot = loadMultiboot(image, mmu, {
    name: 'pv-kernel.elf',
    ramSize: RAM,
    cmdline: options.cmdline ?? '',
  });
  const clock = new MachineClock();
  const apic = new LocalApic({ id: 0, clock, bsp: true });
  mmu.setPageTableTracking(true);
  const features = options.features ?? ALL_FEATURES;
  const hypervisor = options.hypervisor ?? true;
  const leaves: Record<number, [number, number, number, number]> = {};
  if (hypervisor) {
    for (const leaf of [0x40000000, 0x40000001, 0x40000100, 0x40000101]) {
      const v = hypervisorCpuid(features, leaf);
      if (v) leaves[leaf] = v;
    }
  }
  let out = '';
  const decoder = new TextDecoder();
  let handlers: HypercallHandlers = {
    apicWrite: (reg, value) => (apic.writeRegister(reg >>> 4, value) === APIC_OK ? 0 : -22),
    ptUpdate: (gpa, lo) => (mmu.applyPteUpdates([{ gpa, lo }]).failures.length ? -22 : 0),
    tlbFlushOne: (lin) => mmu.flushLinear([lin]),
    tlbFlushAll: () => mmu.flushAll(),
    consoleWrite: (bytes) => {
      out += decoder.decode(bytes);
      return bytes.length;
    },
  };
  if (options.handlers) handlers = options.handlers(handlers);
  const dispatcher = createDispatcher({
    memory: {
      isRam: (gpa, len) => mmu.isRam(gpa, len),
      read: (gpa, dst, off, len) => dst.set(mmu.bytes(gpa, len), off),
      write: (gpa, src, off, len) => mmu.writePhys(gpa, src.subarray(off, off + len)),
    },
    handlers,
    features,
  });

  let exitCode: number | null = null;
  const marks: { code: number; counts: number[] }[] = [];
  const snapshot = (): number[] => [...Array.from(cpu.exitCounts), mmu.exits.ptwrite];
  const cpu: Cpu = new Cpu({
    memory: mmu,
    clock,
    interrupts: apic,
    hypervisor: dispatcher,
    cpuid: { leaves, hypervisor, extraEdxFeatures: 1 << 9 /* APIC */ },
    io: {
      in: (port) => (port === COM1_LSR ? 0x60 : 0xff),
      out: (port, _size, v) => {
        if (port === COM1) out += String.fromCharCode(v & 0xff);
        else if (port === POST) marks.push({ code: v & 0xff, counts: snapshot() });
        else if (port === DEBUG_EXIT) {
          exitCode = v & 0xff;
          cpu.stop();
        }
      },
    },
  });
  mmu.mapMmio(apic.base, 4096, {
    read: (off, size) => {
      cpu.countExit(EXIT_APIC);
      return apic.mmioRead(off, size);
    },
    write: (off, size, v) => {
      cpu.countExit(EXIT_APIC);
      apic.mmioWrite(off, size, v);
    },
  });
  cpu.enterFlatProtectedMode(boot.entry);
  cpu.regs[EAX] = boot.eax;
  cpu.regs[EBX] = boot.ebx;

  let instructions = 0;
  for (let slice = 0; slice < (options.maxSlices ?? 20_000) && exitCode === null; slice++) {
    const deadline = apic.nextDeadline();
    const budget = Number.isFinite(deadline)
      ? Math.max(1, Math.min(1_000_000, deadline - clock.now()))
      : 1_000_000;
    const exit = cpu.run(budget);
    instructions += exit.instructions;
    if (apic.nextDeadline() <= clock.now()) apic.tick();
    if (exit.reason === 'shutdown') break;
    if (exit.reason === 'hlt') {
      const next = apic.nextDeadline();
      if (!Number.isFinite(next)) break; // halted for good
      if (next > clock.now()) clock.advance(next - clock.now());
      apic.tick();
    }
  }

  const names = [...EXIT_NAMES, 'ptwrite'];
  const toRecord = (counts: number[]): Record<string, number> => {
    const r: Record<string, number> = {};
    counts.forEach((n, i) => {
      if (n) r[names[i]!] = n;
    });
    return r;
  };
  const workloads: WorkloadExits[] = [];
  for (const begin of marks) {
    if (begin.code < 0x10 || begin.code >= 0x20) continue;
    const end = marks.find((m) => m.code === begin.code + 0x10);
    if (!end) continue;
    const delta = end.counts.map((n, i) => n - begin.counts[i]!);
    workloads[begin.code - 0x10] = { exits: toRecord(delta), total: delta.reduce((a, b) => a + b, 0) };
  }
  return { console: out, exitCode, instructions, exits: toRecord(snapshot()), workloads };
}

export interface ResultLine {
  workload: string;
  mode: string;
  ops: number;
  cycles: number;
  checksum: string;
  status: string;
  counters: Record<string, number>;
}

/** The kernel's `RESULT key=value …` lines. */
export function resultLines(console: string): ResultLine[] {
  return console
    .split('\n')
    .filter((l) => l.startsWith('RESULT '))
    .map((l) => {
      const f = Object.fromEntries(
        l
          .slice(7)
          .split(' ')
          .map((kv) => kv.split('=') as [string, string]),
      );
      const counters: Record<string, number> = {};
      for (const k of ['hypercalls', 'apic_mmio', 'pio', 'hlt', 'pte_writes', 'invlpg', 'cr3_writes']) {
        counters[k] = Number(f[k]);
      }
      return {
        workload: f.workload!,
        mode: f.mode!,
        ops: Number(f.ops),
        cycles: Number(f.cycles),
        checksum: f.checksum!,
        status: f.status!,
        counters,
      };
    });
}
