/**
 * The reference machine's firmware and timer devices: the ACPI and MP tables read back from guest
 * memory (checksums, the CPU count, the addresses of the devices the machine really has), the HPET
 * through its MMIO page, the ACPI PM timer and S5 power-off through their ports, and fw_cfg.
 */
import { romRegions } from '@pv/guest';
import { ACCESS_READ, ACCESS_WRITE } from '@pv/x86-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Vm } from '../src/vm';

const u8 = (vm: Vm, gpa: number) => vm.mmu.readPhys(gpa, 1)[0]!;
const u16 = (vm: Vm, gpa: number) => new DataView(vm.mmu.readPhys(gpa, 2).buffer).getUint16(0, true);
const u32 = (vm: Vm, gpa: number) => new DataView(vm.mmu.readPhys(gpa, 4).buffer).getUint32(0, true);
const ascii = (vm: Vm, gpa: number, len: number) => String.fromCharCode(...vm.mmu.readPhys(gpa, len));
const sum8 = (vm: Vm, gpa: number, len: number) =>
  vm.mmu.readPhys(gpa, len).reduce((a, b) => (a + b) & 0xff, 0);

/** The ACPI tables the RSDP leads to, by signature (as an OS finds them: RSDP → RSDT → each SDT). */
function acpiTables(vm: Vm): Map<string, number> {
  // ACPI 6.5 §5.2.5.1: the RSDP is on a 16-byte boundary in 0xE0000-0xFFFFF.
  let rsdp = -1;
  for (let a = 0xe0000; a < 0x100000; a += 16) {
    if (ascii(vm, a, 8) === 'RSD PTR ' && sum8(vm, a, 20) === 0) {
      rsdp = a;
      break;
    }
  }
  expect(rsdp).toBeGreaterThan(0);
  const rsdt = u32(vm, rsdp + 16);
  expect(ascii(vm, rsdt, 4)).toBe('RSDT');
  const tables = new Map<string, number>([['RSDT', rsdt]]);
  const len = u32(vm, rsdt + 4);
  for (let e = rsdt + 36; e < rsdt + len; e += 4) {
    const t = u32(vm, e);
    tables.set(ascii(vm, t, 4), t);
  }
  const fadt = tables.get('FACP')!;
  tables.set('DSDT', u32(vm, fadt + 40));
  return tables;
}

describe('firmware tables written by the reference machine', () => {
  for (const smp of [1, 3, 8]) {
    it(`describe ${smp} CPU(s), the IO-APIC, the HPET and the PM block, with valid checksums`, () => {
      const vm = new Vm({ memoryMiB: 32, smp, epochMs: 0 });
      expect(vm.firmware).toBeDefined();
      const tables = acpiTables(vm);
      for (const sig of ['RSDT', 'FACP', 'APIC', 'HPET', 'DSDT']) {
        const t = tables.get(sig);
        expect(t, sig).toBeDefined();
        expect(sum8(vm, t!, u32(vm, t! + 4)), `${sig} checksum`).toBe(0);
      }
      // MADT (§5.2.12): one enabled Processor Local APIC entry per vCPU, IDs 0..smp-1, one IO-APIC.
      const madt = tables.get('APIC')!;
      expect(u32(vm, madt + 36)).toBe(0xfee00000);
      const apicIds: number[] = [];
      const ioApics: number[] = [];
      for (let e = madt + 44; e < madt + u32(vm, madt + 4); e += u8(vm, e + 1)) {
        if (u8(vm, e) === 0 && u32(vm, e + 4) & 1) apicIds.push(u8(vm, e + 3));
        if (u8(vm, e) === 1) ioApics.push(u32(vm, e + 4));
      }
      expect(apicIds).toEqual(Array.from({ length: smp }, (_, i) => i));
      expect(ioApics).toEqual([0xfec00000]);
      // HPET table (IA-PC HPET 1.0a §3.2.4): the base address the machine maps the HPET at.
      const hpet = tables.get('HPET')!;
      expect(u32(vm, hpet + 44)).toBe(0xfed00000);
      expect(u32(vm, hpet + 36)).toBe(vm.hpet.blockId);
      // FADT: the PM1a event/control blocks and the PM timer of the AcpiPm device at 0x600.
      const fadt = tables.get('FACP')!;
      expect(u32(vm, fadt + 56)).toBe(0x600);
      expect(u32(vm, fadt + 64)).toBe(0x604);
      expect(u32(vm, fadt + 76)).toBe(0x608);
      expect(ascii(vm, tables.get('DSDT')!, 4)).toBe('DSDT');

      // MP 1.4: the floating pointer in 0xF0000-0xFFFFF, the configuration table's processor entries.
      let mpf = -1;
      for (let a = 0xf0000; a < 0x100000; a += 16) {
        if (ascii(vm, a, 4) === '_MP_' && sum8(vm, a, 16) === 0) {
          mpf = a;
          break;
        }
      }
      expect(mpf).toBeGreaterThan(0);
      const mpc = u32(vm, mpf + 4);
      expect(ascii(vm, mpc, 4)).toBe('PCMP');
      const mpcLen = u16(vm, mpc + 4);
      expect(sum8(vm, mpc, mpcLen)).toBe(0);
      let cpus = 0;
      let bsp = -1;
      for (let e = mpc + 44, i = 0; i < u16(vm, mpc + 34); i++) {
        if (u8(vm, e) === 0) {
          if (u8(vm, e + 3) & 1) cpus++;
          if (u8(vm, e + 3) & 2) bsp = u8(vm, e + 1);
          e += 20;
        } else e += 8;
      }
      expect(cpus).toBe(smp);
      expect(bsp).toBe(0);
      // The e820 map that goes with them reserves the MMIO pages.
      expect(vm.firmware!.e820.some((r) => r.addr === 0xfed00000)).toBe(true);
    });
  }

  it('are not written over a firmware ROM (it brings its own)', () => {
    const data = new Uint8Array(0x10000).fill(0xf4);
    const vm = new Vm({ memoryMiB: 16, epochMs: 0, bios: [{ base: 0xf0000, data }] });
    expect(vm.firmware).toBeUndefined();
  });
});

describe('timer and firmware devices on the machine buses', () => {
  it('the HPET answers on its MMIO page: capabilities, and a main counter that follows virtual time', () => {
    const vm = new Vm({ memoryMiB: 16, epochMs: 0 });
    const read = (off: number) => vm.mmu.read32(0xfed00000 + off, ACCESS_READ) >>> 0;
    const caps = read(0);
    expect(caps & 0xff).toBe(1); // REV_ID
    expect(caps >>> 16).toBe(0x8086); // vendor
    expect(read(4)).toBe(10_000_000); // COUNTER_CLK_PERIOD: 10 ns in femtoseconds
    expect(read(0x800)).toBe(0); // beyond the 1 KiB block
    // ENABLE_CNF, then 1 ms of virtual time is 100 000 counter ticks at 100 MHz.
    vm.mmu.write32(0xfed00010, 1, ACCESS_WRITE);
    const c0 = read(0xf0);
    vm.clock.advance(1_000_000); // 1 ms at 1 GHz
    // + 150 ticks: the read is itself an MMIO exit, whose 1500 cycles pass before the device answers
    expect(read(0xf0) - c0).toBe(100_000 + 150);
    expect(vm.exits().mmio).toBe(6);
  });

  it('the ACPI PM timer counts at 3.579545 MHz on port 0x608', () => {
    const vm = new Vm({ memoryMiB: 16, epochMs: 0 });
    const t0 = vm.ports.in(0x608, 4);
    vm.clock.advance(1_000_000_000); // one second
    const t1 = vm.ports.in(0x608, 4);
    expect((t1 - t0) & 0xffffff).toBe(3_579_545 & 0xffffff);
  });

  it('fw_cfg at 0x510/0x511 reports the signature, the CPU count and the RAM size', () => {
    const vm = new Vm({ memoryMiB: 48, smp: 5, epochMs: 0 });
    const item = (key: number, len: number) => {
      vm.ports.out(0x510, 2, key);
      return Array.from({ length: len }, () => vm.ports.in(0x511, 1));
    };
    expect(String.fromCharCode(...item(0, 4))).toBe('QEMU');
    const [lo, hi] = item(5, 2);
    expect(lo! | (hi! << 8)).toBe(5); // FW_CFG_NB_CPUS
    const ram = item(3, 8).reduce((a, b, i) => a + b * 2 ** (8 * i), 0);
    expect(ram).toBe(48 << 20);
  });

  it('SLP_EN with SLP_TYP S5 in PM1a_CNT powers the machine off', () => {
    // mov dx, 0x604; mov ax, 0x2000 (SLP_EN | SLP_TYP 0); out dx, ax; then spin if still running
    const data = new Uint8Array(0x10000).fill(0xf4);
    data.set([0xba, 0x04, 0x06, 0xb8, 0x00, 0x20, 0xef, 0xeb, 0xfe], 0xfff0);
    const vm = new Vm({ memoryMiB: 16, epochMs: 0, bios: romRegions(data, 's5.rom') });
    const r = vm.run(1_000_000);
    expect(r.reason).toBe('poweroff');
    expect(r.instructions).toBeLessThanOrEqual(4); // stopped at the OUT, never reached the spin
  });
});

describe('ISA interrupts on the IO-APIC', () => {
  it('COM1 (IRQ 4) reaches the IO-APIC pin the MADT names, and from there the local APIC', () => {
    const vm = new Vm({ memoryMiB: 16, smp: 2, epochMs: 0 });
    const ioapic = (reg: number, value: number) => {
      vm.mmu.write32(0xfec00000, reg, ACCESS_WRITE); // IOREGSEL
      vm.mmu.write32(0xfec00010, value, ACCESS_WRITE); // IOWIN
    };
    // APIC 1 software-enabled (SPIV, SDM 11.4.7); IOREDTBL[4]: fixed, vector 0x34, physical APIC ID 1.
    vm.ops.apic.write(1, 0xf0 >> 4, 0x1ff);
    ioapic(0x10 + 2 * 4 + 1, 1 << 24);
    ioapic(0x10 + 2 * 4, 0x34);
    const irr1 = () => vm.ops.apic.read(1, 0x210 >> 4)! >>> 0; // IRR bits 32-63
    expect(irr1() & (1 << (0x34 - 32))).toBe(0);
    vm.ports.out(0x3fc, 1, 0x08); // MCR: OUT2 gates the UART's interrupt onto the ISA line
    vm.ports.out(0x3f9, 1, 0x01); // IER: received data available
    vm.input(Uint8Array.of(0x41));
    expect(irr1() & (1 << (0x34 - 32))).not.toBe(0);
    expect(vm.ioapic.counters.messages).toBe(1);
  });
});

describe('guest programming of the HPET never throws on the host', () => {
  it('an HPET timer routed past the IO-APIC pins (Tn_INT_ROUTE_CNF 31) fires into nothing', () => {
    const vm = new Vm({ memoryMiB: 16, epochMs: 0 });
    const w = (off: number, v: number) => vm.mmu.write32(0xfed00000 + off, v, ACCESS_WRITE);
    // timer 0: interrupt enabled, route 31; comparator 1000 ticks; then the counter on
    w(0x100, (31 << 9) | 0x4);
    w(0x108, 1000);
    w(0x10c, 0);
    w(0x010, 1);
    vm.clock.advance(1_000_000);
    expect(() => vm.hpet.update()).not.toThrow();
    // and routed to pin 2 it does reach the IO-APIC (masked there: no message, but no error either)
    w(0x100, (2 << 9) | 0x4);
    w(0x108, 200_000);
    vm.clock.advance(2_000_000);
    expect(() => vm.hpet.update()).not.toThrow();
  });
});

describe('guest traffic to the firmware and timer devices', () => {
  it('random port and MMIO accesses with time passing never throw on the host (property)', () => {
    const vm = new Vm({ memoryMiB: 16, smp: 2, epochMs: 0 });
    const port = fc.oneof(fc.integer({ min: 0x600, max: 0x60b }), fc.integer({ min: 0x510, max: 0x51b }));
    const mmio = fc.oneof(
      fc.integer({ min: 0xfed00000, max: 0xfed00ffc }),
      fc.integer({ min: 0xfec00000, max: 0xfec0001c }),
    );
    const size = fc.constantFrom(1 as const, 2 as const, 4 as const);
    const op = fc.oneof(
      fc.record({ kind: fc.constant('out' as const), port, size, value: fc.nat({ max: 0xffffffff }) }),
      fc.record({ kind: fc.constant('in' as const), port, size }),
      fc.record({ kind: fc.constant('write' as const), addr: mmio, value: fc.nat({ max: 0xffffffff }) }),
      fc.record({ kind: fc.constant('read' as const), addr: mmio }),
      fc.record({ kind: fc.constant('time' as const), cycles: fc.integer({ min: 1, max: 50_000_000 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        for (const o of ops) {
          if (o.kind === 'out') vm.ports.out(o.port, o.size, o.value);
          else if (o.kind === 'in') vm.ports.in(o.port, o.size);
          else if (o.kind === 'write') vm.mmu.write32(o.addr & ~3, o.value, ACCESS_WRITE);
          else if (o.kind === 'read') vm.mmu.read32(o.addr & ~3, ACCESS_READ);
          else {
            vm.clock.advance(o.cycles);
            vm.hpet.update();
            vm.acpiPm.update();
            expect(vm.hpet.nextDeadline()).toBeGreaterThan(vm.clock.now() - 1);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
