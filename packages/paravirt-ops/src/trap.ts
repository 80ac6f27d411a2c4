/**
 * The trap path: what a guest touching "hardware" exits with, routed through the same ops as the
 * hypercall path (DESIGN.md §1, §3). Every entry point here is one exit and reports it once
 * through `ops.exit.record(vcpu, 'trap', kind)`.
 *
 * The composer plugs these in: `apicMmio` at the xAPIC page (`mmu.mapMmio(apic.base, 4096, …)`),
 * `msr` into the CPU's MsrBus, `invlpg` / `writeCr` / `hlt` / `cpuid` into the matching exits,
 * `pageTableWrite` for 'ptwrite' exits of the shadow model, and the ports on the IoBus.
 */
import type { MmioHandler } from '@pv/mmu';
import type { IoBus, MsrBus } from '@pv/x86-core';
import type { PvOps } from './types';

const X2APIC_FIRST = 0x800;
const X2APIC_LAST = 0x8ff;

/** Counters of accesses the trap path ignored, as hardware does (not architectural state). */
export interface TrapStats {
  /** xAPIC MMIO writes that are not aligned 32-bit stores, or hit the page while it is off. */
  ignoredMmio: number;
}

/** The trap-path adapters of one vCPU. */
export class TrapPath {
  readonly stats: TrapStats = { ignoredMmio: 0 };
  /** MmioHandler for the xAPIC page (offsets relative to the APIC base). */
  readonly apicMmio: MmioHandler;
  /** MsrBus: x2APIC registers through the apic ops, every other MSR through cpu.readMsr/writeMsr. */
  readonly msr: MsrBus;
  /** Port 0x80 (POST / I/O delay): each OUT is an io_delay. */
  readonly delayPort: IoBus;
  /** A byte-wide debug console port (0xe9 style): each OUT writes one byte. */
  readonly consolePort: IoBus;
  private readonly byte = new Uint8Array(1);

  constructor(
    private readonly ops: PvOps,
    readonly vcpu: number,
  ) {
    const exit = ops.exit;
    this.apicMmio = {
      read: (offset, size) => {
        exit.record(vcpu, 'trap', 'apic');
        const mask = size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
        if (ops.apic.mode(vcpu) !== 'xapic') return mask >>> 0;
        const byte = offset & 0xf;
        // SDM 10.4.1: registers are 32 bits at 16-byte strides; unknown ones read 0 (and set ESR).
        const v = ops.apic.read(vcpu, (offset >>> 4) & 0xff) ?? 0;
        if (byte >= 4) return 0;
        return ((v >>> (byte * 8)) & mask) >>> 0;
      },
      write: (offset, size, value) => {
        exit.record(vcpu, 'trap', 'apic');
        // Only aligned 32-bit stores reach a register (others are dropped, as KVM does).
        if (size !== 4 || (offset & 0xf) !== 0 || ops.apic.mode(vcpu) !== 'xapic') {
          this.stats.ignoredMmio++;
          return;
        }
        ops.apic.write(vcpu, (offset >>> 4) & 0xff, value >>> 0);
      },
    };
    this.msr = {
      read: (msr) => {
        exit.record(vcpu, 'trap', 'msr');
        msr >>>= 0;
        if (msr >= X2APIC_FIRST && msr <= X2APIC_LAST && ops.apic.mode(vcpu) !== 'x2apic') return undefined;
        return ops.cpu.readMsr(vcpu, msr);
      },
      write: (msr, value) => {
        exit.record(vcpu, 'trap', 'msr');
        msr >>>= 0;
        if (msr >= X2APIC_FIRST && msr <= X2APIC_LAST) {
          if (ops.apic.mode(vcpu) !== 'x2apic' || value < 0n || value > 0xffff_ffff_ffff_ffffn) return false;
          return (
            ops.apic.write(vcpu, msr - X2APIC_FIRST, Number(value & 0xffff_ffffn), Number(value >> 32n)) === 0
          );
        }
        return ops.cpu.writeMsr(vcpu, msr, value);
      },
    };
    this.delayPort = {
      in: (_port, size) => {
        exit.record(vcpu, 'trap', 'io');
        return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
      },
      out: () => {
        exit.record(vcpu, 'trap', 'io');
        ops.cpu.ioDelay(vcpu);
      },
    };
    this.consolePort = {
      in: (_port, size) => {
        exit.record(vcpu, 'trap', 'io');
        return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
      },
      out: (_port, _size, value) => {
        exit.record(vcpu, 'trap', 'io');
        this.byte[0] = value;
        ops.console.write(vcpu, this.byte);
      },
    };
  }

  /** INVLPG exit. */
  invlpg(linear: number): void {
    this.ops.exit.record(this.vcpu, 'trap', 'invlpg');
    this.ops.mmu.flushTlbOne(this.vcpu, linear);
  }

  /** MOV to CRn exit; false means #GP(0). */
  writeCr(cr: number, value: number): boolean {
    this.ops.exit.record(this.vcpu, 'trap', 'cr');
    return this.ops.cpu.writeCr(this.vcpu, cr, value);
  }

  /** MOV from CRn exit; undefined means #UD. */
  readCr(cr: number): number | undefined {
    this.ops.exit.record(this.vcpu, 'trap', 'cr');
    return this.ops.cpu.readCr(this.vcpu, cr);
  }

  /** HLT exit; true when the vCPU is now halted. */
  hlt(): boolean {
    this.ops.exit.record(this.vcpu, 'trap', 'hlt');
    return this.ops.irq.halt(this.vcpu);
  }

  /** CPUID exit. */
  cpuid(leaf: number, subleaf: number): readonly [number, number, number, number] {
    this.ops.exit.record(this.vcpu, 'trap', 'cpuid');
    return this.ops.cpu.cpuid(this.vcpu, leaf, subleaf);
  }

  /**
   * @pv/mmu's `onPageTableWrite` hook: the Mmu has already stored to a tracked page-table frame
   * (shadow model); this records the 'ptwrite' exit. The store did not go through `set_pte`, so,
   * as on hardware, the guest must flush stale translations itself (wire
   * `mmu.onPageTableWrite = (ppn) => trap.pageTableWritten(ppn)`).
   */
  pageTableWritten(_ppn: number): void {
    this.ops.exit.record(this.vcpu, 'trap', 'ptwrite');
  }

  /**
   * A guest store to a frame tracked as a page table (shadow model 'ptwrite' exit), emulated as
   * set_pte: an aligned 4-byte (or 8-byte PAE) entry. 0 or -errno (the store is then dropped).
   */
  pageTableWrite(gpa: number, lo: number, hi: number, width: 4 | 8): number {
    this.ops.exit.record(this.vcpu, 'trap', 'ptwrite');
    return this.ops.mmu.setPte(this.vcpu, gpa, lo, hi, width);
  }
}
