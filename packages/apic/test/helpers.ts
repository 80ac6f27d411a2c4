import type { VirtualClock } from '@pv/x86-core';
import { ApicBus, LocalApic, type LocalApicEvents, MSR_IA32_APICBASE, type PvEoiMemory } from '../src/index';

/** A virtual clock the test moves by hand. */
export class FakeClock implements VirtualClock {
  t = 0;
  readonly hz = 1_000_000_000;
  now(): number {
    return this.t;
  }
  advance(cycles: number): void {
    this.t += cycles;
  }
}

export type LogEntry = string;

/** N APICs on one bus with a shared event log ("accept 1 fixed 0x30", "init 2", …). */
export function machine(
  n: number,
  opts: { ids?: number[]; memory?: PvEoiMemory; extInt?: { acknowledge(): number } } = {},
) {
  const clock = new FakeClock();
  const log: LogEntry[] = [];
  const ioEoi: number[] = [];
  const bus = new ApicBus({ ioApicEoi: (v) => ioEoi.push(v) });
  const events: LocalApicEvents = {
    onAccept: (id, dm, v) => log.push(`accept ${id} dm${dm} ${v}`),
    onEoi: (id, v) => log.push(`eoi ${id} ${v}`),
    onInit: (id) => log.push(`init ${id}`),
    onStartup: (id, v) => log.push(`sipi ${id} ${v}`),
  };
  const apics: LocalApic[] = [];
  for (let i = 0; i < n; i++) {
    apics.push(
      new LocalApic({
        id: opts.ids?.[i] ?? i,
        clock,
        bus,
        bsp: i === 0,
        events,
        pvEoiMemory: opts.memory,
        extInt: opts.extInt,
      }),
    );
  }
  return { clock, bus, apics, log, ioEoi };
}

/** Software-enable an APIC in xAPIC mode with spurious vector 0xff. */
export function enableXapic(a: LocalApic): void {
  a.mmioWrite(0xf0, 4, 0x1ff);
}

/** Switch to x2APIC mode and software-enable. */
export function enableX2apic(a: LocalApic): void {
  const base = a.readMsr(MSR_IA32_APICBASE)!;
  if (!a.writeMsr(MSR_IA32_APICBASE, base | 0xc00n)) throw new Error('x2apic enable failed');
  if (!a.writeMsr(0x80f, 0x1ffn)) throw new Error('svr write failed');
}

/** Acknowledge everything deliverable, EOI-ing each; returns the vectors in order. */
export function drain(a: LocalApic, eoi = true): number[] {
  const out: number[] = [];
  for (let guard = 0; guard < 300 && a.pending(); guard++) {
    out.push(a.acknowledge());
    if (eoi) a.writeRegister(0x0b, 0);
  }
  return out;
}

/** Simple guest RAM for PV EOI. */
export function ram(size: number): PvEoiMemory & { bytes: Uint8Array } {
  const bytes = new Uint8Array(size);
  return {
    bytes,
    read8: (gpa) => (gpa >= 0 && gpa < size ? bytes[gpa] : undefined),
    write8: (gpa, v) => {
      if (gpa < 0 || gpa >= size) return false;
      bytes[gpa] = v;
      return true;
    },
  };
}
