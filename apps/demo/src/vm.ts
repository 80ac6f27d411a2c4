/**
 * The reference wiring of a PC from the @pv packages: the example the README points to.
 *
 *   x86-core Cpu ──Memory──▶ mmu Mmu ──MMIO──▶ xAPIC page (trap path → paravirt-ops → apic)
 *        │                                 └─▶ IO-APIC
 *        │                                 └─▶ HPET
 *        ├──IoBus──▶ devices PortBus: COM1, PIC pair, PIT (+port 0x61), RTC, i8042, 0x92, PCI + 0xCF9,
 *        │                           ACPI PM (PM1 + PM timer, S5), fw_cfg, POST 0x80/0x190,
 *        │                           debugcon 0xE9, debug-exit 0xF4
 *        ├──MsrBus──▶ paravirt-ops trap path (x2APIC, kvmclock, PV EOI) → apic / kvmclock
 *        ├──CpuTraps──▶ paravirt-ops trap path (MOV CR3, INVLPG, HLT) → mmu / irq ops
 *        ├──InterruptLine──▶ apic LocalApic (LINT0 = PIC virtual wire)
 *        └──Hypervisor──▶ hypercall dispatcher → paravirt-ops vtable (the same ops as the traps)
 *
 * Firmware tables (ACPI: RSDP, RSDT, FADT, FACS, DSDT, MADT, HPET; MP 1.4) describing exactly this
 * machine are written into the BIOS area for a multiboot boot (a ROM given with `bios` brings its own).
 * ISA interrupts go to the PIC pair and to the IO-APIC pin the MADT names (IRQ0 → pin 2).
 *
 * One thread runs every vCPU in turn, a fixed slice each, so a run is deterministic. Virtual time
 * is the one MachineClock: it advances with retired instructions and exit costs, and when every
 * vCPU is halted it skips to the next timer deadline instead of spinning.
 */
import { APIC_DEFAULT_ADDRESS, ApicBus, LocalApic } from '@pv/apic';
import {
  ACPI_PM_BASE,
  ACPI_PM_SIZE,
  ACPI_SCI_IRQ,
  AcpiPm,
  createI440fxHostBridge,
  DebugConsole,
  DebugExit,
  type FirmwareLayout,
  FW_CFG_DMA_PORT,
  FW_CFG_PORT,
  FwCfg,
  HPET_BASE,
  HPET_SIZE,
  Hpet,
  I8042,
  IOAPIC_DEFAULT_BASE,
  IOAPIC_MMIO_SIZE,
  IOAPIC_NUM_PINS,
  IoApic,
  PciHost,
  Pic8259Pair,
  Pit8254,
  Port92,
  PortBus,
  PostPort,
  ResetControl,
  Rtc,
  type SystemEvents,
  Uart16550,
  writeFirmwareTables,
} from '@pv/devices';
import { loadMultiboot, type MultibootModule } from '@pv/guest';
import { type MmioHandler, Mmu } from '@pv/mmu';
import {
  advertisedFeatures,
  bindHypercalls,
  type CpuControl,
  createDirectOps,
  guestMemoryOf,
  hypervisorLeaves,
  KvmClock,
  type PvMachine,
  type PvOps,
  type PvStats,
  type PvTrace,
  pvEoiMemoryOf,
  TrapPath,
  withStats,
  withTrace,
} from '@pv/paravirt-ops';
import {
  Cpu,
  EAX,
  EBX,
  EXIT_APIC,
  EXIT_CR,
  EXIT_INVLPG,
  EXIT_KINDS,
  EXIT_MMIO,
  EXIT_NAMES,
  EXIT_PT_WRITE,
  type ExitKindName,
  MachineClock,
  type MemoryCpuHooks,
  SREG_CS,
} from '@pv/x86-core';

/** Virtual TSC frequency: 1 GHz, one cycle per retired instruction. */
export const VM_HZ = 1_000_000_000;
/** Instructions a vCPU runs before the next one gets its turn. */
const SLICE = 20_000;
const IRQ_COM1 = 4;
const IRQ_PIT = 0;
const IRQ_RTC = 8;

export type ExitModel = 'shadow' | 'nested';

/** The exit kinds of the `nested` model: everything but CR3 loads, INVLPG and page-table writes. */
const NESTED_EXIT_KINDS = Array.from({ length: EXIT_KINDS }, (_, k) => k).filter(
  (k) => k !== EXIT_CR && k !== EXIT_INVLPG && k !== EXIT_PT_WRITE,
);

export interface VmOptions {
  /** RAM in MiB (default 128). */
  memoryMiB?: number;
  /** Number of vCPUs (default 1); application processors wait for INIT/SIPI. */
  smp?: number;
  /** Advertise the KVM-compatible and @pv hypervisor leaves (default true). */
  pv?: boolean;
  /** Which events exit (DESIGN.md §3); default 'shadow'. */
  exitModel?: ExitModel;
  /** Guest wall-clock epoch in Unix ms (RTC, kvmclock); default: the host's time now. */
  epochMs?: number;
  /** Virtual cycles per exit (default 1500). */
  exitCost?: number;
  /** Bytes the guest writes to COM1 and the PV console. */
  console?: (bytes: Uint8Array) => void;
  /** A firmware ROM (booted from the reset vector instead of a multiboot kernel). */
  bios?: readonly { base: number; data: Uint8Array }[];
  /** Keep a bounded ring of the last N paravirt-ops calls (`vm.trace`); 0 or absent: no trace. */
  traceCapacity?: number;
  /**
   * Interpose on the paravirt-ops vtable that the trap path and the hypercalls both end in (after
   * the statistics and the trace): e.g. to inject host faults in tests, or to change CPUID answers.
   */
  ops?: (ops: PvOps) => PvOps;
  /** Called with every POST code the guest writes to port 0x80 (or 0x190). */
  onPost?: (code: number) => void;
}

export type StopReason = 'debug-exit' | 'halted' | 'poweroff' | 'reset' | 'shutdown' | 'budget';

export interface RunResult {
  reason: StopReason;
  /** The debug-exit status ((v << 1) | 1) when reason is 'debug-exit'. */
  status?: number;
  /**
   * With 'halted': some vCPU halted with interrupts enabled and no timer is pending, so only an
   * external event (COM1 input through `input()`) can wake the machine; `run()` again after it.
   */
  waiting?: boolean;
  instructions: number;
  virtualCycles: number;
}

/** One vCPU and its per-CPU components. */
interface Vcpu {
  cpu: Cpu;
  apic: LocalApic;
  trap: TrapPath;
  /** Waiting for INIT/SIPI (application processors before start-up). */
  waitingForSipi: boolean;
}

export class Vm {
  readonly clock = new MachineClock(VM_HZ);
  readonly mmu: Mmu;
  readonly apicBus = new ApicBus();
  readonly ports = new PortBus();
  readonly uart: Uart16550;
  readonly pic: Pic8259Pair;
  readonly pit: Pit8254;
  readonly rtc: Rtc;
  readonly ioapic: IoApic;
  readonly hpet: Hpet;
  /** ACPI PM1 event/control blocks and PM timer at ACPI_PM_BASE: SLP_EN with S5 powers off. */
  readonly acpiPm: AcpiPm;
  readonly fwCfg: FwCfg;
  /** Where the ACPI and MP tables went (undefined when a ROM was given: it brings its own). */
  readonly firmware: FirmwareLayout | undefined;
  readonly post: PostPort;
  readonly kvmclock: KvmClock;
  /** The paravirt-ops vtable (wrapped with per-op statistics) both paths end in. */
  readonly ops: PvOps;
  readonly opStats: PvStats;
  /** The op trace ring (with `traceCapacity`). */
  readonly trace: PvTrace | undefined;
  readonly exitModel: ExitModel;
  private readonly vcpus: Vcpu[] = [];
  private stopReason: StopReason | undefined;
  private exitStatus: number | undefined;
  private readonly ramSize: number;
  /** Index of the vCPU whose slice is running (MMIO to the xAPIC page goes to its APIC). */
  private current = 0;

  constructor(options: VmOptions = {}) {
    const memoryMiB = options.memoryMiB ?? 128;
    const smp = options.smp ?? 1;
    if (!Number.isInteger(memoryMiB) || memoryMiB < 2 || memoryMiB > 3072) {
      throw new RangeError(`vm: memoryMiB ${memoryMiB} is not an integer from 2 to 3072`);
    }
    if (!Number.isInteger(smp) || smp < 1 || smp > 32)
      throw new RangeError(`vm: smp ${smp} is not from 1 to 32`);
    this.exitModel = options.exitModel ?? 'shadow';
    this.ramSize = memoryMiB << 20;
    this.mmu = new Mmu({ ramSize: this.ramSize, rom: options.bios ?? [] });
    const memory = guestMemoryOf(this.mmu);
    const console = options.console ?? (() => {});
    const epochMs = options.epochMs ?? Date.now();
    this.kvmclock = new KvmClock({
      memory,
      clock: this.clock,
      vcpus: smp,
      epochNs: BigInt(epochMs) * 1_000_000n,
    });

    const onPost = options.onPost;
    this.post = new PostPort(onPost ? { onCode: (code) => onPost(code) } : {});

    // ---- platform devices on the port bus ----
    const events: SystemEvents = {
      onExit: (status) => this.stop('debug-exit', status),
      onReset: () => this.stop('reset'),
      onPowerOff: () => this.stop('poweroff'),
      onA20: (enabled) => this.mmu.setA20(enabled),
    };
    this.pic = new Pic8259Pair({ onIntr: (level) => this.vcpus[0]?.apic.setLint0(level) });
    this.ioapic = new IoApic({ sink: (msg) => this.apicBus.deliver(msg) });
    // An ISA interrupt drives the PIC input and the IO-APIC pin of the MADT (IRQ0 → GSI 2).
    const isaIrq = (irq: number, level: boolean) => {
      this.pic.setIrq(irq, level);
      this.ioapic.setIrq(irq === 0 ? 2 : irq, level);
    };
    // With the HPET's legacy replacement on, the PIT and RTC outputs are disconnected (HPET 1.0a §2.3.9.2.2).
    let legacyReplacement = false;
    const out1 = new Uint8Array(1);
    this.uart = new Uart16550({
      irq: (level) => isaIrq(IRQ_COM1, level),
      output: (byte) => {
        out1[0] = byte;
        console(out1);
      },
    });
    this.pit = new Pit8254({
      clock: this.clock,
      irq: (level) => {
        if (!legacyReplacement) isaIrq(IRQ_PIT, level);
      },
    });
    this.rtc = new Rtc({
      clock: this.clock,
      irq: (level) => {
        if (!legacyReplacement) isaIrq(IRQ_RTC, level);
      },
      epochMs,
      memory: { belowFourG: this.ramSize },
      cpus: smp,
    });
    this.hpet = new Hpet({
      clock: this.clock,
      // Legacy replacement: timer 0 is ISA IRQ 0, timer 1 ISA IRQ 8; else `line` is an IO-APIC pin
      // (Tn_INT_ROUTE_CNF is 5 bits: a route past the IO-APIC's pins goes nowhere).
      irq: (line, level) => {
        if (this.hpet.legacyReplacement) isaIrq(line, level);
        else if (line < IOAPIC_NUM_PINS) this.ioapic.setIrq(line, level);
      },
      onLegacyReplacement: (on) => {
        legacyReplacement = on;
      },
    });
    this.acpiPm = new AcpiPm({ clock: this.clock, sci: (level) => isaIrq(ACPI_SCI_IRQ, level), events });
    // The firmware tables describe this machine: its CPUs, IO-APIC, HPET, PM block and reset register.
    const platform = { ramSize: this.ramSize, cpus: smp };
    this.firmware = options.bios
      ? undefined
      : writeFirmwareTables(platform, { writePhys: (gpa, bytes) => this.mmu.writePhys(gpa, bytes) });
    this.fwCfg = new FwCfg({
      ramSize: this.ramSize,
      cpus: smp,
      e820: this.firmware?.e820,
      dma: {
        read: (gpa, length) => (this.mmu.isRam(gpa, length) ? this.mmu.readPhys(gpa, length) : undefined),
        write: (gpa, bytes) => {
          if (!this.mmu.isRam(gpa, bytes.length)) return false;
          this.mmu.writePhys(gpa, bytes);
          return true;
        },
      },
    });
    this.ports.registerBytes(0x3f8, 8, this.uart, 'com1');
    this.ports.registerBytes(0x20, 2, this.pic.master, 'pic-master');
    this.ports.registerBytes(0xa0, 2, this.pic.slave, 'pic-slave');
    this.ports.registerBytes(0x4d0, 2, this.pic.elcr, 'elcr');
    this.ports.registerBytes(0x40, 4, this.pit, 'pit');
    this.ports.registerBytes(0x61, 1, this.pit.portB, 'port61');
    this.ports.registerBytes(0x70, 2, this.rtc, 'rtc');
    const kbc = new I8042({ events });
    this.ports.register(0x60, 1, kbc.dataPort, 'i8042-data');
    this.ports.register(0x64, 1, kbc.commandPort, 'i8042-command');
    this.ports.register(0x92, 1, new Port92({ events }), 'port92');
    // PCI configuration mechanism #1 with an i440FX host bridge; the reset control register 0xCF9
    // shares the 0xCF8 dword.
    const pci = new PciHost({ resetControl: new ResetControl({ events }) });
    pci.bus.register(0, 0, createI440fxHostBridge());
    this.ports.register(0xcf8, 8, pci, 'pci-config');
    this.ports.register(ACPI_PM_BASE, ACPI_PM_SIZE, this.acpiPm, 'acpi-pm');
    this.ports.register(FW_CFG_PORT, 2, this.fwCfg, 'fw-cfg');
    this.ports.register(FW_CFG_DMA_PORT, 8, this.fwCfg.dmaPort, 'fw-cfg-dma');
    this.ports.register(0x80, 1, this.post, 'post');
    this.ports.register(0x190, 1, this.post, 'post-190');
    this.ports.register(0xe9, 1, new DebugConsole({ output: (b) => console(Uint8Array.of(b)) }), 'debugcon');
    this.ports.register(0xf4, 4, new DebugExit({ events }), 'debug-exit');
    // Device MMIO traps: one 'mmio' exit (and its cost) on the vCPU that made the access.
    const trapped = (h: MmioHandler): MmioHandler => ({
      read: (offset, size) => {
        this.vcpus[this.current]!.cpu.countExit(EXIT_MMIO);
        return h.read(offset, size);
      },
      write: (offset, size, value) => {
        this.vcpus[this.current]!.cpu.countExit(EXIT_MMIO);
        h.write(offset, size, value);
      },
    });
    this.mmu.mapMmio(IOAPIC_DEFAULT_BASE, IOAPIC_MMIO_SIZE, trapped(this.ioapic.mmio));
    // The HPET's 1 KiB block in a whole page (the MMU maps pages); the rest reads 0, as unassigned.
    this.mmu.mapMmio(
      HPET_BASE,
      0x1000,
      trapped({
        read: (offset, size) => (offset < HPET_SIZE ? this.hpet.read(offset, size) : 0),
        write: (offset, size, value) => {
          if (offset < HPET_SIZE) this.hpet.write(offset, size, value);
        },
      }),
    );

    // ---- vCPUs: CPU + local APIC, the trap path and the hypercall path into one vtable ----
    const pvMachine: PvMachine = {
      vcpus: [],
      bus: this.apicBus,
      clock: this.clock,
      kvmclock: this.kvmclock,
      console: (bytes) => {
        console(bytes);
        return bytes.length;
      },
      pvEoi: true,
      // KVM_HC_SCHED_YIELD: the yielding vCPU's slice ends here, so the others (the one it waits
      // for among them) run before it spins again.
      scheduler: { wake: (i) => this.wake(i), yieldTo: (from) => this.vcpus[from]?.cpu.stop() },
    };
    const pvVcpus = pvMachine.vcpus as PvMachine['vcpus'][number][];
    const cpus: Cpu[] = [];
    for (let i = 0; i < smp; i++) {
      const apic = new LocalApic({
        id: i,
        clock: this.clock,
        bus: this.apicBus,
        bsp: i === 0,
        extInt: this.pic,
        pvEoiMemory: pvEoiMemoryOf(this.mmu),
        events: {
          onInterrupt: () => this.wake(i),
          onInit: () => this.initVcpu(i),
          onStartup: (_id, vector) => this.startVcpu(i, vector),
        },
      });
      pvVcpus.push({ cpu: cpuControl(() => cpus[i]!), apic, mmu: this.mmu });
    }
    const stats = withStats(createDirectOps(pvMachine), { exitCost: options.exitCost ?? 1500 });
    this.opStats = stats.stats;
    let ops: PvOps = stats;
    if (options.traceCapacity) {
      const traced = withTrace(stats, { capacity: options.traceCapacity });
      this.trace = traced.trace;
      ops = traced;
    }
    this.ops = options.ops ? options.ops(ops) : ops;
    const features = options.pv === false ? {} : advertisedFeatures(pvMachine);
    // Every Cpu attaches its page-fault entry to the MMU it is given; the vCPUs share one MMU, so
    // the hooks are collected here and the MMU gets one set that raises #PF on the running vCPU.
    const cpuHooks: MemoryCpuHooks[] = [];
    const attachCpu = this.mmu.attachCpu;
    this.mmu.attachCpu = (hooks) => {
      cpuHooks.push(hooks);
    };
    for (let i = 0; i < smp; i++) {
      const apic = pvVcpus[i]!.apic;
      const trap = new TrapPath(this.ops, i);
      const cpu = new Cpu({
        memory: this.mmu,
        io: this.ports,
        msr: trap.msr,
        interrupts: apic,
        hypervisor:
          options.pv === false ? undefined : bindHypercalls(this.ops, { vcpu: i, memory, features }),
        clock: this.clock,
        // The hypervisor leaves are the vtable's CPUID answers (the features that really work).
        cpuid: {
          leaves: options.pv === false ? {} : hypervisorLeaves(this.ops, i),
          hypervisor: options.pv !== false,
        },
        exitCost: options.exitCost,
        // Nested paging (EPT-like): CR3 loads, INVLPG and page-table writes stay in the guest.
        exitKinds: this.exitModel === 'nested' ? NESTED_EXIT_KINDS : undefined,
        // CR3 loads, INVLPG and HLT end in the same ops as their hypercall counterparts.
        traps: {
          writeCr3: (v) => trap.writeCr(3, v),
          invlpg: (lin) => trap.invlpg(lin),
          hlt: () => trap.hlt(),
        },
      });
      cpus.push(cpu);
      this.vcpus.push({ cpu, apic, trap, waitingForSipi: i !== 0 });
    }
    this.mmu.attachCpu = attachCpu;
    this.mmu.attachCpu({
      raisePageFault: (lin, errorCode) => cpuHooks[this.current]!.raisePageFault(lin, errorCode),
      codeWritten: (page) => {
        for (const h of cpuHooks) h.codeWritten?.(page);
      },
    });
    this.apicBus.ioApicEoi = (vector) => this.ioapic.eoi(vector);
    // The xAPIC page traps into the ops (one exit per access). All vCPUs share the MMU, so the
    // page is routed to the APIC of the vCPU that is running.
    this.mmu.mapMmio(APIC_DEFAULT_ADDRESS, 0x1000, {
      read: (offset, size) => {
        const v = this.vcpus[this.current]!;
        v.cpu.countExit(EXIT_APIC);
        return v.trap.apicMmio.read(offset, size);
      },
      write: (offset, size, value) => {
        const v = this.vcpus[this.current]!;
        v.cpu.countExit(EXIT_APIC);
        v.trap.apicMmio.write(offset, size, value);
      },
    });
    // Shadow model: a guest write to a live page table exits, as with write-protected shadow tables.
    this.mmu.setPageTableTracking(this.exitModel === 'shadow');
    this.mmu.onPageTableWrite = () => this.vcpus[this.current]!.cpu.countExit(EXIT_PT_WRITE);
  }

  /** Loads a multiboot kernel and puts the BSP at its entry (multiboot §3.2 machine state). */
  bootMultiboot(
    image: Uint8Array,
    options: { name?: string; cmdline?: string; modules?: MultibootModule[] } = {},
  ) {
    const r = loadMultiboot(image, this.mmu, { ...options, ramSize: this.ramSize });
    const bsp = this.vcpus[0]!.cpu;
    bsp.enterFlatProtectedMode(r.entry);
    bsp.regs[EAX] = r.eax;
    bsp.regs[EBX] = r.ebx;
    return r;
  }

  /** Queue bytes for COM1 (the guest reads them; nothing is dropped). */
  input(bytes: Uint8Array): number {
    return this.uart.enqueueInput(bytes);
  }

  /**
   * Runs until the guest stops the machine, every vCPU halts for good, or `maxInstructions` retire
   * (virtual cycles skipped while all vCPUs were halted count toward that budget as well).
   */
  run(maxInstructions = Number.POSITIVE_INFINITY): RunResult {
    this.stopReason = undefined;
    let executed = 0;
    // Virtual time skipped while every vCPU was halted counts against the budget too, so that a
    // machine idling on a timer whose interrupt nobody takes (e.g. a masked PIT) still returns.
    let idle = 0;
    while (this.stopReason === undefined) {
      if (executed + idle >= maxInstructions) return this.result('budget', executed);
      this.deliverTimers();
      let progressed = false;
      for (let i = 0; i < this.vcpus.length; i++) {
        const v = this.vcpus[i]!;
        if (v.waitingForSipi) continue;
        if (this.current !== i) {
          // The vCPUs share one MMU: its walker takes the paging state (CR0, CR3, CR4, CPL) of the
          // vCPU that runs now (an AP starts in real mode while the BSP pages). Same state: no flush.
          this.current = i;
          v.cpu.pushPagingState();
        }
        // A halted vCPU polls its interrupt line itself (run() returns at once if nothing is
        // deliverable); probing nmi() here would consume the NMI.
        const budget = Math.max(1, Math.min(SLICE, maxInstructions - executed, this.cyclesToDeadline()));
        const exit = v.cpu.run(budget);
        executed += exit.instructions;
        progressed ||= exit.instructions > 0;
        v.apic.exit();
        if (exit.reason === 'shutdown') return this.result('shutdown', executed);
        if (this.stopReason !== undefined) break;
      }
      if (this.stopReason !== undefined) break;
      if (!progressed) {
        // Every vCPU is halted: skip virtual time to the next timer event, or stop for good.
        const deadline = this.nextDeadline();
        const interruptible = this.vcpus.some((v) => !v.waitingForSipi && (v.cpu.eflags & 0x200) !== 0);
        if (!interruptible || deadline === Number.POSITIVE_INFINITY) {
          const r = this.result('halted', executed);
          r.waiting = interruptible;
          return r;
        }
        if (deadline > this.clock.now()) {
          idle += deadline - this.clock.now();
          this.clock.advance(deadline - this.clock.now());
        }
      }
    }
    return this.result(this.stopReason, executed);
  }

  /** Exits by kind summed over vCPUs (each trap above is counted on the vCPU that took it). */
  exits(): Record<ExitKindName, number> {
    const counts = new Float64Array(EXIT_KINDS);
    for (const v of this.vcpus) for (let k = 0; k < EXIT_KINDS; k++) counts[k]! += v.cpu.exitCounts[k]!;
    return Object.fromEntries(EXIT_NAMES.map((n, k) => [n, counts[k]!])) as Record<ExitKindName, number>;
  }

  get instructions(): number {
    return this.vcpus.reduce((n, v) => n + v.cpu.instructions, 0);
  }

  private stop(reason: StopReason, status?: number): void {
    this.stopReason ??= reason;
    if (reason === 'debug-exit') this.exitStatus = status;
    for (const v of this.vcpus) v.cpu.stop();
  }

  private result(reason: StopReason, executed: number): RunResult {
    const r: RunResult = { reason, instructions: executed, virtualCycles: this.clock.now() };
    if (reason === 'debug-exit') r.status = this.exitStatus;
    return r;
  }

  /** INIT (SDM 8.4.3): the vCPU resets and, unless it is the BSP, waits for a STARTUP IPI. */
  private initVcpu(i: number): void {
    const v = this.vcpus[i];
    if (!v) return;
    v.cpu.reset();
    v.waitingForSipi = i !== 0;
    v.cpu.stop();
    this.restorePagingState(i);
  }

  /** A reset of vCPU `i` pushed its paging state into the shared MMU: give it back to the running one. */
  private restorePagingState(i: number): void {
    if (i !== this.current) this.vcpus[this.current]?.cpu.pushPagingState();
  }

  /** STARTUP IPI: real mode at CS = vector << 8, IP = 0 (SDM 8.4.4.1). */
  private startVcpu(i: number, vector: number): void {
    const v = this.vcpus[i];
    if (!v?.waitingForSipi) return;
    v.waitingForSipi = false;
    v.cpu.reset();
    v.cpu.loadSegmentReal(SREG_CS, vector << 8);
    v.cpu.eip = 0;
    this.restorePagingState(i);
  }

  private wake(i: number): void {
    const v = this.vcpus[i];
    if (v) v.cpu.halted = false;
  }

  private nextDeadline(): number {
    let d = Math.min(
      this.pit.nextDeadline(),
      this.rtc.nextDeadline(),
      this.hpet.nextDeadline(),
      this.acpiPm.nextDeadline(),
    );
    for (const v of this.vcpus) d = Math.min(d, v.apic.nextDeadline());
    return d;
  }

  private cyclesToDeadline(): number {
    const d = this.nextDeadline();
    return d === Number.POSITIVE_INFINITY ? SLICE : Math.ceil(d - this.clock.now());
  }

  private deliverTimers(): void {
    const now = this.clock.now();
    if (this.pit.nextDeadline() <= now) this.pit.update();
    if (this.rtc.nextDeadline() <= now) this.rtc.update();
    if (this.hpet.nextDeadline() <= now) this.hpet.update(now);
    if (this.acpiPm.nextDeadline() <= now) this.acpiPm.update(now);
    for (const v of this.vcpus) if (v.apic.nextDeadline() <= now) v.apic.tick();
  }
}

/** paravirt-ops' view of an x86-core vCPU (created before the Cpu, so it looks it up lazily). */
function cpuControl(get: () => Cpu): CpuControl {
  return {
    getCr: (cr) => (cr === 0 ? get().cr0 : cr === 2 ? get().cr2 : cr === 3 ? get().cr3 : get().cr4) >>> 0,
    setCr(cr, value) {
      const cpu = get();
      cpu.cr[cr] = value | 0;
      cpu.pushPagingState();
    },
    get efer() {
      return 0;
    },
    get cpl() {
      return get().cpl;
    },
    get interruptsEnabled() {
      return (get().eflags & 0x200) !== 0;
    },
    set interruptsEnabled(on: boolean) {
      const cpu = get();
      cpu.eflags = on ? cpu.eflags | 0x200 : cpu.eflags & ~0x200;
    },
    get halted() {
      return get().halted;
    },
    set halted(h: boolean) {
      get().halted = h;
    },
    setDescriptorTable(table, base, limit) {
      const cpu = get();
      const i = table === 'gdt' ? 0 : 2;
      cpu.dtr[i] = base >>> 0;
      cpu.dtr[i + 1] = limit & 0xffff;
    },
  };
}
