/**
 * The default backend: each op performed directly on the composed machine (DESIGN.md §5).
 * No queueing, no accounting: wrappers add those (wrappers.ts, lazy.ts).
 */
import {
  APIC_EOI,
  APIC_LVT_TIMER_ONESHOT,
  APIC_LVTT,
  APIC_OK,
  APIC_TDCR,
  APIC_TMICT,
  type ApicBatchEntry,
  type LocalApic,
  MSR_IA32_TSC_DEADLINE,
} from '@pv/apic';
import { ERRNO, hypervisorCpuid } from '@pv/hypercall';
import { ParavirtError } from './errors';
import { advertisedFeatures } from './features';
import {
  CR0_CD,
  CR0_NW,
  CR0_PE,
  CR0_PG,
  CR0_VALID,
  CR4_PAE,
  CR4_VALID,
  type PvMachine,
  type PvVcpu,
} from './machine';
import type { ApicMode, PteWrite, PvOps } from './types';

const EFAULT = -ERRNO.KVM_EFAULT;
const EINVAL = -ERRNO.KVM_EINVAL;

/** CPUID.1:ECX bit 31: a hypervisor is present. */
const CPUID_1_ECX_HYPERVISOR = 0x8000_0000;

/** Create the direct backend over `machine`. */
export function createDirectOps(machine: PvMachine): PvOps {
  const vcpus = machine.vcpus;
  if (!Array.isArray(vcpus) || vcpus.length === 0) {
    throw new ParavirtError('INVALID_CONFIG', 'createDirectOps: machine.vcpus must be a non-empty array');
  }
  vcpus.forEach((v, i) => {
    if (typeof v?.cpu?.getCr !== 'function' || typeof v.apic?.readRegister !== 'function' || !v.mmu) {
      throw new ParavirtError(
        'INVALID_CONFIG',
        `createDirectOps: machine.vcpus[${i}] lacks cpu, apic or mmu`,
      );
    }
  });
  const features = advertisedFeatures(machine);
  const kvmclock = machine.kvmclock;
  const sched = machine.scheduler ?? {};
  /** PV unhalt: a kick that arrived before the HLT (KVM's pv_unhalted). */
  const kicked = new Uint8Array(vcpus.length);
  const pteBytes = new Uint8Array(8);
  const pteView = new DataView(pteBytes.buffer);
  const pteScratch = [{ gpa: 0, lo: 0, hi: 0 }];

  const at = (vcpu: number): PvVcpu => {
    const v = vcpus[vcpu];
    if (v === undefined) {
      throw new ParavirtError(
        'INVALID_ARGUMENT',
        `vCPU index ${String(vcpu)} is not in 0..${vcpus.length - 1}`,
      );
    }
    return v;
  };

  const apicMode = (a: LocalApic): ApicMode =>
    !a.hardwareEnabled ? 'disabled' : a.x2apicMode ? 'x2apic' : 'xapic';

  const pagingState = (v: PvVcpu, cr0: number, cr3: number, cr4: number) => ({
    cr0,
    cr3,
    cr4,
    efer: v.cpu.efer,
    cpl: v.cpu.cpl,
    ac: false,
  });

  /**
   * An NMI is pending at the APIC. @pv/apic only offers the consuming `nmi()`, so this reads the
   * snapshot; it is only asked for halted vCPUs.
   */
  const nmiPending = (a: LocalApic): boolean => a.saveState().nmiPending;

  /** Can the vCPU leave HLT now: a maskable interrupt with IF = 1, or an NMI (SDM 6.7.1)? */
  const canWake = (v: PvVcpu): boolean => (v.cpu.interruptsEnabled && v.apic.pending()) || nmiPending(v.apic);

  /** Wake a halted vCPU if it can take an interrupt now. */
  const wakeIfPending = (vcpu: number): void => {
    const v = vcpus[vcpu]!;
    if (v.cpu.halted && canWake(v)) {
      v.cpu.halted = false;
      sched.wake?.(vcpu);
    }
  };

  const wakeAll = (): void => {
    for (let n = 0; n < vcpus.length; n++) wakeIfPending(n);
  };

  const halt = (vcpu: number): boolean => {
    const v = at(vcpu);
    if (kicked[vcpu]) {
      kicked[vcpu] = 0;
      return false;
    }
    if (canWake(v)) return false;
    v.cpu.halted = true;
    return true;
  };

  const checkPte = (vcpu: number, gpa: number, hi: number, width: number): number => {
    const v = at(vcpu);
    if (width !== 4 && width !== 8) return EINVAL;
    if (width === 4 && hi !== 0) return EINVAL;
    if (!Number.isInteger(gpa) || gpa < 0 || gpa % width !== 0 || !v.mmu.isRam(gpa, width)) return EFAULT;
    return 0;
  };

  const setPte = (vcpu: number, gpa: number, lo: number, hi: number, width: 4 | 8): number => {
    const bad = checkPte(vcpu, gpa, hi, width);
    if (bad) return bad;
    const mmu = vcpus[vcpu]!.mmu;
    const pae = (vcpus[vcpu]!.cpu.getCr(4) & CR4_PAE) !== 0;
    const u = pteScratch[0]!;
    if (width === 8 && pae) {
      // The MMU's own PV store: one store, then exactly the dependent TLB slots are dropped.
      u.gpa = gpa;
      u.lo = lo >>> 0;
      u.hi = hi >>> 0;
      mmu.applyPteUpdates(pteScratch);
    } else if (width === 4 && !pae) {
      u.gpa = gpa;
      u.lo = lo >>> 0;
      u.hi = 0;
      mmu.applyPteUpdates(pteScratch);
    } else if (width === 8) {
      // An 8-byte store while the walker reads 4-byte entries: two entries as far as it is concerned.
      u.hi = 0;
      u.gpa = gpa;
      u.lo = lo >>> 0;
      mmu.applyPteUpdates(pteScratch);
      u.gpa = gpa + 4;
      u.lo = hi >>> 0;
      mmu.applyPteUpdates(pteScratch);
    } else {
      // A 4-byte store into half of an 8-byte PAE entry: store the whole entry with the other half kept.
      const base = gpa - (gpa % 8);
      const old = mmu.readPhys(base, 8);
      pteBytes.set(old);
      pteView.setUint32(gpa - base, lo >>> 0, true);
      u.gpa = base;
      u.lo = pteView.getUint32(0, true);
      u.hi = pteView.getUint32(4, true);
      mmu.applyPteUpdates(pteScratch);
    }
    return 0;
  };

  const apicWrite = (vcpu: number, reg: number, value: number, high = 0): number => {
    const a = at(vcpu).apic;
    if (!a.hardwareEnabled) return EINVAL;
    const status = a.writeRegister(reg, value >>> 0, high >>> 0);
    // xAPIC: an MMIO store always completes (errors are in ESR). x2APIC: WRMSR #GPs.
    return a.x2apicMode && status !== APIC_OK ? EINVAL : 0;
  };

  const ops: PvOps = {
    cpu: {
      cpuid(vcpu, leaf, subleaf) {
        const v = at(vcpu);
        const hv = hypervisorCpuid(features, leaf >>> 0);
        if (hv !== undefined) return hv;
        const base = v.cpu.cpuid?.(leaf >>> 0, subleaf >>> 0) ?? ([0, 0, 0, 0] as const);
        if (leaf >>> 0 === 1) return [base[0], base[1], (base[2] | CPUID_1_ECX_HYPERVISOR) >>> 0, base[3]];
        return [base[0] >>> 0, base[1] >>> 0, base[2] >>> 0, base[3] >>> 0];
      },
      readCr(vcpu, cr) {
        const v = at(vcpu);
        return cr === 0 || cr === 2 || cr === 3 || cr === 4 ? v.cpu.getCr(cr) >>> 0 : undefined;
      },
      writeCr(vcpu, cr, value) {
        const v = at(vcpu);
        const c = v.cpu;
        value >>>= 0;
        switch (cr) {
          case 0: {
            // SDM 2.5 / MOV CR0: reserved bits, PG without PE, NW without CD ⇒ #GP(0).
            if (value & ~CR0_VALID) return false;
            if (value & CR0_PG && !(value & CR0_PE)) return false;
            if (value & CR0_NW && !(value & CR0_CD)) return false;
            if (!v.mmu.setPagingState(pagingState(v, value, c.getCr(3), c.getCr(4)))) return false;
            c.setCr(0, value);
            return true;
          }
          case 2:
            c.setCr(2, value);
            return true;
          case 3:
            return ops.mmu.writeCr3(vcpu, value);
          case 4: {
            if (value & ~CR4_VALID) return false;
            if (!v.mmu.setPagingState(pagingState(v, c.getCr(0), c.getCr(3), value))) return false;
            c.setCr(4, value);
            return true;
          }
          default:
            return false;
        }
      },
      readMsr(vcpu, msr) {
        const v = at(vcpu);
        msr >>>= 0;
        if (v.apic.ownsMsr(msr)) return v.apic.readMsr(msr);
        if (kvmclock?.ownsMsr(msr)) return kvmclock.readMsr(vcpu, msr);
        return v.cpu.readMsr?.(msr);
      },
      writeMsr(vcpu, msr, value) {
        const v = at(vcpu);
        msr >>>= 0;
        if (typeof value !== 'bigint' || value < 0n || value > 0xffff_ffff_ffff_ffffn) return false;
        if (v.apic.ownsMsr(msr)) {
          // MSR_KVM_PV_EOI_EN is KVM_FEATURE_PV_EOI: #GP unless it is advertised.
          if (msr === 0x4b564d04 && !machine.pvEoi) return false;
          const ok = v.apic.writeMsr(msr, value);
          wakeAll();
          return ok;
        }
        if (kvmclock?.ownsMsr(msr)) return kvmclock.writeMsr(vcpu, msr, value);
        return v.cpu.writeMsr?.(msr, value) ?? false;
      },
      loadIdt(vcpu, base, limit) {
        at(vcpu).cpu.setDescriptorTable('idt', base >>> 0, limit & 0xffff);
      },
      loadGdt(vcpu, base, limit) {
        at(vcpu).cpu.setDescriptorTable('gdt', base >>> 0, limit & 0xffff);
      },
      ioDelay(vcpu) {
        at(vcpu);
        sched.ioDelay?.(vcpu);
      },
      lazyEnter(vcpu) {
        at(vcpu);
      },
      lazyLeave(vcpu) {
        at(vcpu);
      },
    },
    irq: {
      saveFl: (vcpu) => at(vcpu).cpu.interruptsEnabled,
      restoreFl(vcpu, enabled) {
        at(vcpu).cpu.interruptsEnabled = enabled === true;
      },
      disable(vcpu) {
        at(vcpu).cpu.interruptsEnabled = false;
      },
      enable(vcpu) {
        at(vcpu).cpu.interruptsEnabled = true;
      },
      halt,
      safeHalt(vcpu) {
        at(vcpu).cpu.interruptsEnabled = true;
        return halt(vcpu);
      },
      halted: (vcpu) => at(vcpu).cpu.halted,
    },
    mmu: {
      checkPte,
      setPte,
      updateBatch(vcpu, writes: readonly PteWrite[]) {
        at(vcpu);
        let i = 0;
        for (; i < writes.length; i++) {
          const w = writes[i]!;
          if (setPte(vcpu, w.gpa, w.lo, w.hi, w.width) < 0) break;
        }
        return i;
      },
      writeCr3(vcpu, cr3) {
        const v = at(vcpu);
        cr3 >>>= 0;
        if (!v.mmu.loadCr3(cr3)) return false;
        v.cpu.setCr(3, cr3);
        return true;
      },
      flushTlbOne(vcpu, linear) {
        at(vcpu).mmu.invlpg(linear >>> 0);
      },
      flushTlbAll(vcpu, includeGlobal) {
        at(vcpu).mmu.flushTlb(includeGlobal === true);
      },
      flushTlbList(vcpu, linear) {
        const mmu = at(vcpu).mmu;
        for (let i = 0; i < linear.length; i++) mmu.invlpg(linear[i]! >>> 0);
      },
      readLinear: (vcpu, linear) => at(vcpu).mmu.read32(linear >>> 0, 0),
      lazyEnter(vcpu) {
        at(vcpu);
      },
      lazyLeave(vcpu) {
        at(vcpu);
      },
      lazyFlush(vcpu) {
        at(vcpu);
      },
    },
    apic: {
      mode: (vcpu) => apicMode(at(vcpu).apic),
      read(vcpu, reg) {
        const a = at(vcpu).apic;
        if (!Number.isInteger(reg) || reg < 0 || reg > 0xff) return undefined;
        return a.readRegister(reg);
      },
      write: (vcpu, reg, value, high = 0) => {
        const r = apicWrite(vcpu, reg, value, high);
        wakeAll();
        return r;
      },
      writeBatch(vcpu, entries: readonly ApicBatchEntry[]) {
        const a = at(vcpu).apic;
        let i = 0;
        // One interrupt re-evaluation for the whole batch (the bus defers it), as LocalApic.writeBatch.
        a.bus.beginBatch();
        try {
          for (; i < entries.length; i++) {
            const e = entries[i]!;
            if (apicWrite(vcpu, e.reg, e.value, e.high ?? 0) < 0) break;
          }
        } finally {
          a.bus.endBatch();
        }
        wakeAll();
        return i;
      },
      eoi(vcpu) {
        const a = at(vcpu).apic;
        if (a.hardwareEnabled) a.writeRegister(APIC_EOI, 0);
        wakeAll();
      },
      sendIpi(vcpu, bitmapLow, bitmapHigh, minApicId, icr) {
        const a = at(vcpu).apic;
        const n = a.sendIpiMask(bitmapLow >>> 0, bitmapHigh >>> 0, minApicId >>> 0, icr >>> 0);
        wakeAll();
        return n < 0 ? EINVAL : n;
      },
      pending: (vcpu) => at(vcpu).apic.pending(),
      acknowledge: (vcpu) => at(vcpu).apic.acknowledge(),
    },
    time: {
      tsc: () => Math.floor(machine.clock.now()),
      systemTimeNs: () =>
        (BigInt(Math.floor(machine.clock.now())) * 1_000_000_000n) / BigInt(machine.clock.hz),
      setTimer(vcpu, vector, initialCount) {
        const a = at(vcpu).apic;
        if (!a.hardwareEnabled) return EINVAL;
        a.bus.beginBatch();
        try {
          a.writeRegister(APIC_TDCR, 0xb); // divide by 1
          a.writeRegister(APIC_LVTT, (APIC_LVT_TIMER_ONESHOT | (vector & 0xff)) >>> 0);
          a.writeRegister(APIC_TMICT, initialCount >>> 0);
        } finally {
          a.bus.endBatch();
        }
        return 0;
      },
      setDeadline: (vcpu, tsc) => ops.cpu.writeMsr(vcpu, MSR_IA32_TSC_DEADLINE, tsc),
      refreshClock(vcpu) {
        at(vcpu);
        kvmclock?.update(vcpu);
      },
    },
    sched: {
      yield(vcpu, targetApicId) {
        at(vcpu);
        const to = vcpus.findIndex((v) => v.apic.id === targetApicId >>> 0);
        sched.yieldTo?.(vcpu, to);
        return 0;
      },
      kick(vcpu, apicId) {
        at(vcpu);
        // KVM's kvm_pv_kick_cpu_op: an unknown APIC ID is ignored.
        const t = vcpus.findIndex((v) => v.apic.id === apicId >>> 0);
        if (t < 0) return 0;
        const cpu = vcpus[t]!.cpu;
        if (cpu.halted) {
          cpu.halted = false;
          sched.wake?.(t);
        } else kicked[t] = 1;
        return 0;
      },
    },
    console: {
      write(vcpu, bytes) {
        at(vcpu);
        const sink = machine.console;
        if (sink === undefined) return 0;
        const n = sink(bytes);
        return Number.isInteger(n) && n >= 0 && n <= bytes.length ? n : 0;
      },
    },
    exit: {
      record(vcpu) {
        at(vcpu);
      },
    },
  };
  return ops;
}
