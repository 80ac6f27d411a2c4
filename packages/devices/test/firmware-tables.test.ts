import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DevicesError } from '../src/errors';
import type { PlatformConfig } from '../src/firmware/config';
import {
  buildE820Map,
  E820_RAM,
  E820_RESERVED,
  encodeMultibootMmap,
  multibootMemInfo,
  validateE820,
} from '../src/firmware/e820';
import { platformE820, writeFirmwareTables } from '../src/firmware/tables';
import { IoApic } from '../src/ioapic/ioapic';
import { PciHost } from '../src/pci/host';
import { AcpiPm } from '../src/system/acpi-pm';
import { Hpet } from '../src/system/hpet';
import { ResetControl } from '../src/system/reset-control';

// ---- An independent little parser, written from the ACPI / MP specs, not from the builder. ----

const MEM = 1 << 20;
const sum8 = (m: Uint8Array, a: number, n: number) => {
  let s = 0;
  for (let i = 0; i < n; i++) s = (s + m[a + i]!) & 0xff;
  return s;
};
const str = (m: Uint8Array, a: number, n: number) => String.fromCharCode(...m.subarray(a, a + n));
const dv = (m: Uint8Array) => new DataView(m.buffer, m.byteOffset, m.byteLength);
const u8 = (m: Uint8Array, a: number) => m[a]!;
const u16 = (m: Uint8Array, a: number) => dv(m).getUint16(a, true);
const u32 = (m: Uint8Array, a: number) => dv(m).getUint32(a, true);
const u64 = (m: Uint8Array, a: number) => Number(dv(m).getBigUint64(a, true));

/** Linux acpi_find_root_pointer: 16-byte steps over 0xe0000–0xfffff, signature + v1 checksum. */
function scanRsdp(m: Uint8Array): number[] {
  const hits: number[] = [];
  for (let a = 0xe0000; a < 0x100000; a += 16) {
    if (str(m, a, 8) === 'RSD PTR ' && sum8(m, a, 20) === 0) {
      if (u8(m, a + 15) >= 2 && sum8(m, a, u32(m, a + 20)) !== 0) continue;
      hits.push(a);
    }
  }
  return hits;
}

/** Linux smp_scan_config over its three windows. */
function scanMp(m: Uint8Array): number[] {
  const hits: number[] = [];
  for (const [base, len] of [
    [0, 0x400],
    [639 * 0x400, 0x400],
    [0xf0000, 0x10000],
  ] as const) {
    for (let a = base; a < base + len; a += 16) {
      if (str(m, a, 4) === '_MP_' && u8(m, a + 8) === 1 && sum8(m, a, 16) === 0) hits.push(a);
    }
  }
  return hits;
}

interface Sdt {
  sig: string;
  addr: number;
  length: number;
  revision: number;
}

function sdt(m: Uint8Array, a: number): Sdt {
  const length = u32(m, a + 4);
  expect(length).toBeGreaterThanOrEqual(36);
  expect(sum8(m, a, length)).toBe(0);
  return { sig: str(m, a, 4), addr: a, length, revision: u8(m, a + 8) };
}

function parseAcpi(m: Uint8Array) {
  const rsdps = scanRsdp(m);
  expect(rsdps.length).toBe(1);
  const rsdp = rsdps[0]!;
  const rev = u8(m, rsdp + 15);
  const rsdt = sdt(m, u32(m, rsdp + 16));
  expect(rsdt.sig).toBe('RSDT');
  const tables = new Map<string, Sdt>();
  for (let a = rsdt.addr + 36; a < rsdt.addr + rsdt.length; a += 4) {
    const t = sdt(m, u32(m, a));
    tables.set(t.sig, t);
  }
  let xsdtTables: number[] | null = null;
  if (rev >= 2) {
    expect(u32(m, rsdp + 20)).toBe(36);
    const x = sdt(m, u64(m, rsdp + 24));
    expect(x.sig).toBe('XSDT');
    xsdtTables = [];
    for (let a = x.addr + 36; a < x.addr + x.length; a += 8) xsdtTables.push(u64(m, a));
  }
  return { rsdp, rev, rsdt, tables, xsdtTables };
}

interface Madt {
  lapicAddr: number;
  flags: number;
  lapics: { uid: number; id: number; flags: number }[];
  ioapics: { id: number; addr: number; gsiBase: number }[];
  overrides: { bus: number; irq: number; gsi: number; flags: number }[];
  nmis: { uid: number; flags: number; lint: number }[];
}

function parseMadt(m: Uint8Array, t: Sdt): Madt {
  const out: Madt = {
    lapicAddr: u32(m, t.addr + 36),
    flags: u32(m, t.addr + 40),
    lapics: [],
    ioapics: [],
    overrides: [],
    nmis: [],
  };
  let a = t.addr + 44;
  while (a < t.addr + t.length) {
    const type = u8(m, a);
    const len = u8(m, a + 1);
    expect(len).toBeGreaterThan(1);
    if (type === 0) out.lapics.push({ uid: u8(m, a + 2), id: u8(m, a + 3), flags: u32(m, a + 4) });
    else if (type === 1) out.ioapics.push({ id: u8(m, a + 2), addr: u32(m, a + 4), gsiBase: u32(m, a + 8) });
    else if (type === 2)
      out.overrides.push({ bus: u8(m, a + 2), irq: u8(m, a + 3), gsi: u32(m, a + 4), flags: u16(m, a + 8) });
    else if (type === 4) out.nmis.push({ uid: u8(m, a + 2), flags: u16(m, a + 3), lint: u8(m, a + 5) });
    a += len;
  }
  expect(a).toBe(t.addr + t.length);
  return out;
}

/** Find `Name(\_S5_, Package(){ a, … })` in AML and return the first element's value. */
function amlS5(m: Uint8Array, dsdt: Sdt): number {
  const body = m.subarray(dsdt.addr + 36, dsdt.addr + dsdt.length);
  for (let i = 0; i + 8 < body.length; i++) {
    if (body[i] === 0x08 && body[i + 1] === 0x5c && str(body, i + 2, 4) === '_S5_' && body[i + 6] === 0x12) {
      const lead = body[i + 7]!;
      const pkgBytes = (lead >> 6) + 1;
      const p = i + 7 + pkgBytes + 1; // skip PkgLength and NumElements
      const op = body[p]!;
      if (op === 0x00) return 0;
      if (op === 0x01) return 1;
      if (op === 0x0a) return body[p + 1]!;
    }
  }
  throw new Error('no \\_S5 in DSDT');
}

function build(config: PlatformConfig) {
  const mem = new Uint8Array(MEM);
  const layout = writeFirmwareTables(config, mem);
  return { mem, layout };
}

describe('firmware tables: ACPI', () => {
  it('RSDP is found by a Linux-style scan, and RSDT lists FADT, MADT and HPET, all checksummed', () => {
    const { mem, layout } = build({ ramSize: 128 << 20, cpus: 4 });
    const acpi = parseAcpi(mem);
    expect(acpi.rsdp).toBe(layout.rsdp);
    expect(acpi.rsdp % 16).toBe(0);
    expect(acpi.rev).toBe(0);
    expect([...acpi.tables.keys()].sort()).toEqual(['APIC', 'FACP', 'HPET']);
  });

  it('FADT points at the PM blocks the AcpiPm device decodes, at FACS and at a DSDT with \\_S5', () => {
    const { mem } = build({ ramSize: 64 << 20 });
    const { tables } = parseAcpi(mem);
    const f = tables.get('FACP')!;
    expect(f.revision).toBe(3);
    expect(f.length).toBe(244);
    const a = f.addr;
    const facs = u32(mem, a + 36);
    expect(str(mem, facs, 4)).toBe('FACS');
    expect(u32(mem, facs + 4)).toBe(64);
    expect(facs % 64).toBe(0);
    const dsdt = sdt(mem, u32(mem, a + 40));
    expect(dsdt.sig).toBe('DSDT');
    expect(u64(mem, a + 132)).toBe(facs); // X_FIRMWARE_CTRL
    expect(u64(mem, a + 140)).toBe(dsdt.addr); // X_DSDT
    const sci = u16(mem, a + 46);
    const evt = u32(mem, a + 56);
    const cnt = u32(mem, a + 64);
    const tmr = u32(mem, a + 76);
    expect([sci, evt, cnt, tmr]).toEqual([9, 0x600, 0x604, 0x608]);
    expect([u8(mem, a + 88), u8(mem, a + 89), u8(mem, a + 91)]).toEqual([4, 2, 4]);
    expect(u32(mem, a + 48)).toBe(0); // no SMI command port
    // X_ blocks: System I/O GAS with the same addresses.
    expect([u8(mem, a + 148), u64(mem, a + 152)]).toEqual([1, evt]);
    expect([u8(mem, a + 172), u64(mem, a + 176)]).toEqual([1, cnt]);
    expect([u8(mem, a + 208), u64(mem, a + 212)]).toEqual([1, tmr]);
    expect(u16(mem, a + 109) & 2).toBe(2); // IAPC_BOOT_ARCH: 8042 present

    // Drive the real device through the advertised port: SLP_TYP from \_S5 | SLP_EN powers off.
    const log: string[] = [];
    const clock = { hz: 1e9, now: () => 0 };
    const pm = new AcpiPm({ clock, events: { onPowerOff: () => log.push('off') } });
    const base = 0x600;
    const slpTyp = amlS5(mem, dsdt);
    pm.write(cnt - base, 2, (pm.read(cnt - base, 2) & ~0x1c00) | (slpTyp << 10) | (1 << 13));
    expect(log).toEqual(['off']);
    expect(pm.read(tmr - base, 4)).toBe(0);

    // RESET_REG / RESET_VALUE reset the machine through the 0xcf9 register.
    expect(u32(mem, a + 112) & (1 << 10)).toBe(1 << 10);
    expect([u8(mem, a + 116), u8(mem, a + 117), u64(mem, a + 120)]).toEqual([1, 8, 0xcf9]);
    const resets: string[] = [];
    const host = new PciHost({
      resetControl: new ResetControl({ events: { onReset: (k) => resets.push(k) } }),
    });
    host.write(u64(mem, a + 120) - 0xcf8, 1, u8(mem, a + 128));
    expect(resets).toEqual(['cf9-hard']);
  });

  it('DSDT declares \\_SB.PCI0 as a PNP0A03 root bridge (and omits it without PCI)', () => {
    const find = (m: Uint8Array, d: Sdt, needle: number[]) => {
      const body = Array.from(m.subarray(d.addr + 36, d.addr + d.length));
      return body.findIndex((_, i) => needle.every((b, j) => body[i + j] === b));
    };
    const { mem } = build({ ramSize: 64 << 20 });
    const dsdt = sdt(mem, u32(mem, parseAcpi(mem).tables.get('FACP')!.addr + 40));
    const scope = find(mem, dsdt, [0x10]);
    expect(scope).toBeGreaterThan(0);
    expect(find(mem, dsdt, [0x5c, 0x5f, 0x53, 0x42, 0x5f])).toBeGreaterThan(0); // \_SB_
    expect(find(mem, dsdt, [0x5b, 0x82])).toBeGreaterThan(0); // DeviceOp
    // Name (_HID, EisaId ("PNP0A03")) = 08 '_HID' 0C 41 D0 0A 03
    expect(find(mem, dsdt, [0x08, 0x5f, 0x48, 0x49, 0x44, 0x0c, 0x41, 0xd0, 0x0a, 0x03])).toBeGreaterThan(0);
    expect(amlS5(mem, dsdt)).toBe(0);
    const noPci = build({ ramSize: 64 << 20, pci: false });
    const d2 = sdt(noPci.mem, u32(noPci.mem, parseAcpi(noPci.mem).tables.get('FACP')!.addr + 40));
    expect(find(noPci.mem, d2, [0x5b, 0x82])).toBe(-1);
    expect(amlS5(noPci.mem, d2)).toBe(0);
  });

  it('MADT lists every vCPU, the IO-APIC, IRQ0→GSI2 and a level/high SCI override, and LINT1 NMI', () => {
    const { mem, layout } = build({ ramSize: 64 << 20, apicIds: [0, 2, 4, 6] });
    const madt = parseMadt(mem, parseAcpi(mem).tables.get('APIC')!);
    expect(madt.lapicAddr).toBe(0xfee00000);
    expect(madt.flags & 1).toBe(1);
    expect(madt.lapics).toEqual([0, 2, 4, 6].map((id, uid) => ({ uid, id, flags: 1 })));
    expect(madt.ioapics).toEqual([{ id: 7, addr: 0xfec00000, gsiBase: 0 }]);
    expect(layout.platform.ioApic.id).toBe(7);
    expect(madt.overrides).toEqual([
      { bus: 0, irq: 0, gsi: 2, flags: 0 },
      { bus: 0, irq: 9, gsi: 9, flags: 0x0d },
    ]);
    expect(madt.nmis).toEqual([{ uid: 0xff, flags: 0, lint: 1 }]);
  });

  it('MADT and MP IO-APIC entries agree with the IoApic device configured from the same platform', () => {
    const { mem, layout } = build({ ramSize: 64 << 20, cpus: 3 });
    const ioapic = new IoApic({ sink: () => {}, id: layout.platform.ioApic.id });
    const reg = (r: number) => {
      ioapic.mmioWrite(0, 4, r);
      return ioapic.mmioRead(0x10, 4);
    };
    const madt = parseMadt(mem, parseAcpi(mem).tables.get('APIC')!);
    expect(madt.ioapics[0]!.id).toBe((reg(0) >>> 24) & 0xf);
    // MP IO APIC entry (after 3 processor entries and the bus entry): id and version.
    const t = u32(mem, layout.mpFloating + 4);
    const e = t + 44 + 20 * 3 + 8;
    expect(u8(mem, e)).toBe(2);
    expect(u8(mem, e + 1)).toBe((reg(0) >>> 24) & 0xf);
    expect(u8(mem, e + 2)).toBe(reg(1) & 0xff);
    // Every ISA IRQ the MP table routes lands on a pin the IO-APIC has.
    expect(((reg(1) >>> 16) & 0xff) + 1).toBeGreaterThanOrEqual(16);
  });

  it('HPET table carries the block ID and address of the HPET device', () => {
    const { mem } = build({ ramSize: 64 << 20, hpet: { timers: 4 } });
    const t = parseAcpi(mem).tables.get('HPET')!;
    expect(t.length).toBe(56);
    const dev = new Hpet({ clock: { hz: 1e9, now: () => 0 }, timers: 4 });
    expect(u32(mem, t.addr + 36)).toBe(dev.read(0, 4));
    expect(u8(mem, t.addr + 40)).toBe(0); // system memory
    expect(u64(mem, t.addr + 44)).toBe(0xfed00000);
    const none = build({ ramSize: 64 << 20, hpet: false });
    expect(parseAcpi(none.mem).tables.has('HPET')).toBe(false);
  });

  it('an SMI command port in the config is advertised in the FADT and completes Linux acpi_enable()', () => {
    const { mem } = build({ ramSize: 64 << 20, acpiPm: { smiCommand: true } });
    const f = parseAcpi(mem).tables.get('FACP')!.addr;
    const smiCmd = u32(mem, f + 48);
    expect([smiCmd, u8(mem, f + 52), u8(mem, f + 53)]).toEqual([0xb2, 0xf1, 0xf0]);
    const pm = new AcpiPm({ clock: { hz: 1e9, now: () => 0 }, smiCommand: true });
    const cnt = u32(mem, f + 64) - 0x600;
    expect(pm.read(cnt, 2) & 1).toBe(0);
    pm.smiPort.write(smiCmd - 0xb2, 1, u8(mem, f + 52)); // outb(acpi_enable, smi_cmd)
    expect(pm.read(cnt, 2) & 1).toBe(1); // then it polls SCI_EN
  });

  it('optional XSDT: RSDP revision 2 with extended checksum, same tables as the RSDT', () => {
    const { mem, layout } = build({ ramSize: 64 << 20, xsdt: true });
    const acpi = parseAcpi(mem);
    expect(acpi.rev).toBe(2);
    expect(sum8(mem, acpi.rsdp, 36)).toBe(0);
    expect(acpi.xsdtTables).toEqual([...acpi.tables.values()].map((t) => t.addr));
    expect(layout.xsdt).not.toBeNull();
  });

  it('writes through a writePhys callback as well', () => {
    const writes: [number, number][] = [];
    const mem = new Uint8Array(MEM);
    writeFirmwareTables(
      { ramSize: 64 << 20 },
      {
        writePhys: (gpa, b) => {
          writes.push([gpa, b.length]);
          mem.set(b, gpa);
        },
      },
    );
    expect(writes.every(([g, n]) => g >= 0xe0000 && g + n <= 0x100000)).toBe(true);
    expect(scanRsdp(mem).length).toBe(1);
  });

  it('host misuse throws typed errors', () => {
    expect(() => build({ ramSize: 1000 })).toThrow(DevicesError);
    expect(() => build({ ramSize: 64 << 20, cpus: 0 })).toThrow(/cpus/);
    expect(() => build({ ramSize: 64 << 20, apicIds: [1, 1] })).toThrow(/duplicates/);
    expect(() => build({ ramSize: 64 << 20, ioApic: { id: 16 } })).toThrow(/ioApic.id/);
    expect(() => build({ ramSize: 64 << 20, oemId: 'TOOLONGID' })).toThrow(/oemId/);
    expect(() => build({ ramSize: 64 << 20, tablesBase: 0xe0008 })).toThrow(/aligned/);
    expect(() => build({ ramSize: 64 << 20, tablesBase: 0xfffc0, pointersBase: 0xf0000 })).toThrow(
      /does not fit/,
    );
    expect(() => writeFirmwareTables({ ramSize: 64 << 20 }, new Uint8Array(0x80000))).toThrow(
      /outside guest memory/,
    );
  });
});

describe('firmware tables: MP spec 1.4', () => {
  it('floating pointer is found where Linux scans and the config table describes CPUs, ISA bus, IO-APIC, interrupts', () => {
    const { mem, layout } = build({ ramSize: 64 << 20, cpus: 2 });
    const hits = scanMp(mem);
    expect(hits).toEqual([layout.mpFloating]);
    const fp = hits[0]!;
    expect(u8(mem, fp + 9)).toBe(4); // spec rev 1.4
    expect(u8(mem, fp + 11)).toBe(0); // feature 1: config table present
    const t = u32(mem, fp + 4);
    expect(str(mem, t, 4)).toBe('PCMP');
    const len = u16(mem, t + 4);
    expect(sum8(mem, t, len)).toBe(0);
    expect(u32(mem, t + 36)).toBe(0xfee00000);
    const count = u16(mem, t + 34);
    let a = t + 44;
    const cpus: { id: number; flags: number }[] = [];
    const buses: string[] = [];
    const ioapics: { id: number; addr: number; flags: number }[] = [];
    const ints: { type: number; flags: number; irq: number; apic: number; pin: number }[] = [];
    const locals: { type: number; apic: number; lint: number }[] = [];
    for (let i = 0; i < count; i++) {
      const type = u8(mem, a);
      if (type === 0) {
        cpus.push({ id: u8(mem, a + 1), flags: u8(mem, a + 3) });
        a += 20;
        continue;
      }
      if (type === 1) buses.push(str(mem, a + 2, 6));
      if (type === 2) ioapics.push({ id: u8(mem, a + 1), addr: u32(mem, a + 4), flags: u8(mem, a + 3) });
      if (type === 3)
        ints.push({
          type: u8(mem, a + 1),
          flags: u16(mem, a + 2),
          irq: u8(mem, a + 5),
          apic: u8(mem, a + 6),
          pin: u8(mem, a + 7),
        });
      if (type === 4) locals.push({ type: u8(mem, a + 1), apic: u8(mem, a + 6), lint: u8(mem, a + 7) });
      a += 8;
    }
    expect(a).toBe(t + len);
    expect(cpus).toEqual([
      { id: 0, flags: 3 },
      { id: 1, flags: 1 },
    ]);
    expect(buses).toEqual(['ISA   ']);
    expect(ioapics).toEqual([{ id: 2, addr: 0xfec00000, flags: 1 }]);
    expect(ints.length).toBe(15);
    expect(ints.every((i) => i.type === 0 && i.apic === 2)).toBe(true);
    expect(ints.find((i) => i.irq === 0)!.pin).toBe(2);
    expect(ints.find((i) => i.irq === 2)).toBeUndefined();
    expect(ints.find((i) => i.irq === 9)!.flags).toBe(0x0d);
    expect(ints.find((i) => i.irq === 4)).toEqual({ type: 0, flags: 0, irq: 4, apic: 2, pin: 4 });
    expect(locals).toEqual([
      { type: 3, apic: 0, lint: 0 },
      { type: 1, apic: 0xff, lint: 1 },
    ]);
  });
});

describe('e820', () => {
  const check = (ram: number) => {
    const map = buildE820Map({ ramSize: ram, reserved: [{ addr: 0xfec00000, size: 0x1000 }] });
    for (let i = 1; i < map.length; i++)
      expect(map[i]!.addr).toBeGreaterThanOrEqual(map[i - 1]!.addr + map[i - 1]!.size);
    const ramTotal = map.filter((e) => e.type === E820_RAM).reduce((s, e) => s + e.size, 0);
    expect(ramTotal).toBe(ram - 0x400 - 0x60000);
    return map;
  };

  it('is sorted, non-overlapping, reserves the EBDA, BIOS area and MMIO, and splits RAM above 3.5 GiB', () => {
    const small = check(256 << 20);
    expect(small[0]).toEqual({ addr: 0, size: 0x9fc00, type: E820_RAM });
    expect(small.find((e) => e.addr === 0xe0000)!.type).toBe(E820_RESERVED);
    expect(small.find((e) => e.addr === 0xfec00000)!.type).toBe(E820_RESERVED);
    const big = check(6 * 2 ** 30);
    expect(big.at(-1)).toEqual({ addr: 2 ** 32, size: 6 * 2 ** 30 - 0xc0000000, type: E820_RAM });
  });

  it('the layout carries a map that reserves the IO-APIC, HPET and local APIC pages', () => {
    const { layout } = build({ ramSize: 512 << 20 });
    validateE820(layout.e820);
    const reserved = layout.e820.filter((e) => e.type === E820_RESERVED).map((e) => e.addr);
    expect(reserved).toEqual([0x9fc00, 0xe0000, 0xfec00000, 0xfed00000, 0xfee00000]);
    expect(layout.e820).toEqual(platformE820({ ramSize: 512 << 20 }));
    // Tables and pointers lie in a reserved range, never in usable RAM.
    const inReserved = (a: number) =>
      layout.e820.some((e) => e.type === E820_RESERVED && a >= e.addr && a < e.addr + e.size);
    expect(
      [layout.rsdp, layout.fadt, layout.madt, layout.mpFloating, layout.mpConfig, layout.end - 1].every(
        inReserved,
      ),
    ).toBe(true);
  });

  it('encodes a multiboot mmap and mem_lower/mem_upper', () => {
    const map = buildE820Map({ ramSize: 32 << 20 });
    const mm = encodeMultibootMmap(map);
    const d = dv(mm);
    expect(mm.length).toBe(24 * map.length);
    for (let i = 0; i < map.length; i++) {
      expect(d.getUint32(24 * i, true)).toBe(20);
      expect(Number(d.getBigUint64(24 * i + 4, true))).toBe(map[i]!.addr);
      expect(Number(d.getBigUint64(24 * i + 12, true))).toBe(map[i]!.size);
      expect(d.getUint32(24 * i + 20, true)).toBe(map[i]!.type);
    }
    expect(multibootMemInfo(map)).toEqual({ memLower: 639, memUpper: (32 << 10) - 1024 });
  });

  it('rejects overlapping or unsorted maps', () => {
    expect(() =>
      validateE820([
        { addr: 0, size: 0x2000, type: 1 },
        { addr: 0x1000, size: 0x1000, type: 2 },
      ]),
    ).toThrow(DevicesError);
    expect(() => validateE820([{ addr: 0, size: 0, type: 1 }])).toThrow(DevicesError);
    expect(() => buildE820Map({ ramSize: 64 << 20, reserved: [{ addr: 0x200000, size: 0x1000 }] })).toThrow(
      /overlaps/,
    );
  });
});

describe('firmware tables: property', () => {
  it('every config yields findable, checksummed tables that match it', () => {
    fc.assert(
      fc.property(
        fc.record({
          cpus: fc.integer({ min: 1, max: 64 }),
          hpet: fc.boolean(),
          xsdt: fc.boolean(),
          pic: fc.boolean(),
          ramMiB: fc.integer({ min: 2, max: 8192 }),
          sciIrq: fc.constantFrom(9, 10, 11),
        }),
        (c) => {
          const { mem } = build({
            ramSize: c.ramMiB * 2 ** 20,
            cpus: c.cpus,
            hpet: c.hpet ? {} : false,
            xsdt: c.xsdt,
            pic: c.pic,
            acpiPm: { sciIrq: c.sciIrq },
          });
          const acpi = parseAcpi(mem);
          expect(acpi.tables.has('HPET')).toBe(c.hpet);
          const madt = parseMadt(mem, acpi.tables.get('APIC')!);
          expect(madt.lapics.map((l) => l.id)).toEqual(Array.from({ length: c.cpus }, (_, i) => i));
          expect(madt.flags & 1).toBe(c.pic ? 1 : 0);
          expect(madt.overrides.find((o) => o.irq === c.sciIrq)!.flags).toBe(0x0d);
          expect(u16(mem, acpi.tables.get('FACP')!.addr + 46)).toBe(c.sciIrq);
          expect(scanMp(mem).length).toBe(1);
        },
      ),
      { numRuns: 60 },
    );
  });
});
