import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DevicesError } from '../src/errors';
import { buildE820Map, E820_RAM, encodeE820 } from '../src/firmware/e820';
import {
  FW_CFG_CMDLINE_DATA,
  FW_CFG_CMDLINE_SIZE,
  FW_CFG_FILE_DIR,
  FW_CFG_ID,
  FW_CFG_IRQ0_OVERRIDE,
  FW_CFG_KERNEL_ADDR,
  FW_CFG_KERNEL_DATA,
  FW_CFG_KERNEL_SIZE,
  FW_CFG_MAX_CPUS,
  FW_CFG_NB_CPUS,
  FW_CFG_RAM_SIZE,
  FW_CFG_SIGNATURE,
  FW_CFG_UUID,
  FwCfg,
} from '../src/firmware/fw-cfg';

/** What a guest driver does: outw(key, 0x510); inb(0x511) × n. */
function readItem(fw: FwCfg, key: number, n: number): Uint8Array {
  fw.write(0, 2, key);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = fw.read(1, 1);
  return out;
}

const le = (b: Uint8Array) => b.reduceRight((acc, x) => acc * 256 + x, 0);

/** An independent FILE_DIR parser (big-endian, 64-byte entries, as Linux's qemu_fw_cfg driver). */
function readDirectory(fw: FwCfg): { size: number; select: number; name: string }[] {
  const head = new DataView(readItem(fw, FW_CFG_FILE_DIR, 4).buffer);
  const count = head.getUint32(0, false);
  const all = readItem(fw, FW_CFG_FILE_DIR, 4 + 64 * count);
  const dv = new DataView(all.buffer);
  const out = [];
  for (let i = 0; i < count; i++) {
    const o = 4 + 64 * i;
    const nameBytes = all.subarray(o + 8, o + 64);
    const nul = nameBytes.indexOf(0);
    out.push({
      size: dv.getUint32(o, false),
      select: dv.getUint16(o + 4, false),
      name: new TextDecoder().decode(nameBytes.subarray(0, nul)),
    });
  }
  return out;
}

describe('fw_cfg', () => {
  it('answers the legacy keys like QEMU', () => {
    const uuid = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
    const fw = new FwCfg({ ramSize: 0x1_2000_0000, cpus: 2, maxCpus: 8, uuid });
    expect(new TextDecoder().decode(readItem(fw, FW_CFG_SIGNATURE, 4))).toBe('QEMU');
    expect(Array.from(readItem(fw, FW_CFG_ID, 4))).toEqual([1, 0, 0, 0]); // traditional interface, no DMA
    expect(le(readItem(fw, FW_CFG_RAM_SIZE, 8))).toBe(0x1_2000_0000);
    expect(le(readItem(fw, FW_CFG_NB_CPUS, 2))).toBe(2);
    expect(le(readItem(fw, FW_CFG_MAX_CPUS, 2))).toBe(8);
    expect(readItem(fw, FW_CFG_UUID, 16)).toEqual(uuid);
    expect(le(readItem(fw, FW_CFG_IRQ0_OVERRIDE, 4))).toBe(1);
  });

  it('reads past the end and of unknown keys return 0; reselecting rewinds', () => {
    const fw = new FwCfg();
    expect(Array.from(readItem(fw, FW_CFG_SIGNATURE, 6))).toEqual([0x51, 0x45, 0x4d, 0x55, 0, 0]);
    expect(Array.from(readItem(fw, 0x1234, 3))).toEqual([0, 0, 0]);
    expect(Array.from(readItem(fw, 0x4000 | FW_CFG_SIGNATURE, 1))).toEqual([0x51]); // write-channel bit ignored
    fw.write(0, 1, 0x55); // data writes are ignored
    expect(fw.read(1, 1)).toBe(0x45);
    expect(fw.read(1, 2)).toBe(0xffff); // only byte reads are valid on the I/O data port
    expect(fw.read(0, 1)).toBe(0x4d); // combined region: a byte read at 0x510 reads data too
  });

  it('carries kernel, command line and files; FILE_DIR is sorted and big-endian', () => {
    const kernel = Uint8Array.from([1, 2, 3, 4, 5]);
    const fw = new FwCfg({
      kernel: { addr: 0x100000, data: kernel },
      cmdline: { addr: 0x20000, text: 'console=ttyS0' },
    });
    expect(le(readItem(fw, FW_CFG_KERNEL_ADDR, 4))).toBe(0x100000);
    expect(le(readItem(fw, FW_CFG_KERNEL_SIZE, 4))).toBe(5);
    expect(readItem(fw, FW_CFG_KERNEL_DATA, 5)).toEqual(kernel);
    expect(le(readItem(fw, FW_CFG_CMDLINE_SIZE, 4))).toBe(14);
    expect(new TextDecoder().decode(readItem(fw, FW_CFG_CMDLINE_DATA, 14))).toBe('console=ttyS0\0');

    const e820 = buildE820Map({ ramSize: 64 << 20 });
    fw.addFile('opt/zzz', Uint8Array.of(9));
    fw.addFile('etc/e820', encodeE820(e820));
    fw.addFile('etc/acpi/tables', new Uint8Array(100));
    const dir = readDirectory(fw);
    expect(dir.map((f) => f.name)).toEqual(['etc/acpi/tables', 'etc/e820', 'opt/zzz']);
    expect(dir.map((f) => f.select)).toEqual([0x20, 0x21, 0x22]);
    expect(fw.listFiles()).toEqual(dir);
    const f = dir.find((d) => d.name === 'etc/e820')!;
    expect(f.size).toBe(20 * e820.length);
    // Parse etc/e820 back the way SeaBIOS does: packed { u64 addr, u64 size, u32 type }.
    const raw = readItem(fw, f.select, f.size);
    const dv = new DataView(raw.buffer);
    const parsed = Array.from({ length: f.size / 20 }, (_, i) => ({
      addr: Number(dv.getBigUint64(20 * i, true)),
      size: Number(dv.getBigUint64(20 * i + 8, true)),
      type: dv.getUint32(20 * i + 16, true),
    }));
    expect(parsed).toEqual(e820);
    expect(parsed.filter((e) => e.type === E820_RAM).reduce((s, e) => s + e.size, 0)).toBe(
      (64 << 20) - 0x400 - 0x60000,
    ); // minus EBDA and the 0xa0000–0xfffff hole
  });

  it('publishes the e820 map given in the options as etc/e820', () => {
    const map = buildE820Map({ ramSize: 256 << 20 });
    const fw = new FwCfg({ e820: map });
    const [f] = readDirectory(fw);
    expect(f).toEqual({ name: 'etc/e820', select: 0x20, size: 20 * map.length });
    expect(readItem(fw, 0x20, f!.size)).toEqual(encodeE820(map));
  });

  describe('DMA interface', () => {
    const bswap = (v: number) =>
      (((v & 0xff) << 24) | (((v >>> 8) & 0xff) << 16) | (((v >>> 16) & 0xff) << 8) | (v >>> 24)) >>> 0;
    function rig() {
      const ram = new Uint8Array(1 << 20);
      const dma = {
        read: (gpa: number, n: number) => (gpa + n <= ram.length ? ram.slice(gpa, gpa + n) : undefined),
        write: (gpa: number, b: Uint8Array) => {
          if (gpa + b.length > ram.length) return false;
          ram.set(b, gpa);
          return true;
        },
      };
      const fw = new FwCfg({ dma, ramSize: 0x12345678 });
      const dv = new DataView(ram.buffer);
      /** Linux fw_cfg_dma_transfer: fill the descriptor, write the address big-endian. */
      const transfer = (desc: number, control: number, length: number, address: number) => {
        dv.setUint32(desc, control, false);
        dv.setUint32(desc + 4, length, false);
        dv.setBigUint64(desc + 8, BigInt(address), false);
        fw.dmaPort.write(0, 4, bswap(0));
        fw.dmaPort.write(4, 4, bswap(desc));
        return dv.getUint32(desc, false); // control after completion
      };
      return { ram, fw, transfer };
    }

    it('advertises DMA in FW_CFG_ID and reads "QEMU CFG" at the address register', () => {
      const { fw } = rig();
      expect(Array.from(readItem(fw, FW_CFG_ID, 4))).toEqual([3, 0, 0, 0]);
      expect(fw.dmaPort.read(0, 4)).toBe(0x554d4551); // bytes 'Q','E','M','U' in port order
      expect(fw.dmaPort.read(4, 4)).toBe(0x47464320); // ' CFG'
      expect(Array.from(readItem(new FwCfg(), FW_CFG_ID, 4))).toEqual([1, 0, 0, 0]);
    });

    it('select + read, skip, reads past the end (zeros), and write errors follow QEMU', () => {
      const { ram, fw, transfer } = rig();
      const SEL = 0x08;
      const READ = 0x02;
      const SKIP = 0x04;
      const WRITE = 0x10;
      expect(transfer(0x1000, (FW_CFG_SIGNATURE << 16) | SEL | READ, 4, 0x2000)).toBe(0);
      expect(new TextDecoder().decode(ram.subarray(0x2000, 0x2004))).toBe('QEMU');
      expect(transfer(0x1000, (FW_CFG_RAM_SIZE << 16) | SEL | SKIP, 2, 0)).toBe(0);
      expect(transfer(0x1000, READ, 2, 0x2010)).toBe(0); // continues at offset 2
      expect(Array.from(ram.subarray(0x2010, 0x2012))).toEqual([0x34, 0x12]);
      ram.fill(0xaa, 0x3000, 0x3010);
      expect(transfer(0x1000, (FW_CFG_SIGNATURE << 16) | SEL | READ, 16, 0x3000)).toBe(0);
      expect(Array.from(ram.subarray(0x3000, 0x3008))).toEqual([0x51, 0x45, 0x4d, 0x55, 0, 0, 0, 0]);
      expect(transfer(0x1000, (FW_CFG_SIGNATURE << 16) | SEL | WRITE, 4, 0x3000)).toBe(1); // not writable
      expect(transfer(0x1000, (FW_CFG_SIGNATURE << 16) | SEL | READ, 4, 0xffffe)).toBe(1); // beyond RAM
      // The data port continues where DMA left the offset.
      transfer(0x1000, (FW_CFG_SIGNATURE << 16) | SEL | READ, 1, 0x4000);
      expect(fw.read(1, 1)).toBe(0x45);
      expect(fw.dmaStats).toEqual({ transfers: 7, errors: 2 });
    });

    it('a descriptor outside guest memory is dropped; random DMA traffic never throws', () => {
      const { fw, transfer } = rig();
      transfer(0, 0, 0, 0);
      fw.dmaPort.write(0, 4, 0x01000000); // high dword 1: address >= 4 GiB
      fw.dmaPort.write(4, 4, 0);
      expect(fw.dmaStats.errors).toBe(1);
      fc.assert(
        fc.property(
          fc.array(
            fc.record({
              control: fc.oneof(
                fc.integer({ min: 0, max: 0xffffffff }),
                fc.constantFrom(0x0a, 0x190a, 0x0c, 0x10, 0x200a),
              ),
              length: fc.oneof(fc.integer({ min: 0, max: 0x2000 }), fc.constant(0xffffffff)),
              address: fc.oneof(fc.integer({ min: 0, max: 0x100000 }), fc.constant(2 ** 52)),
              desc: fc.oneof(fc.integer({ min: 0, max: 0xffff0 }), fc.constant(0xffffffff)),
              raw: fc.tuple(
                fc.integer({ min: 0, max: 7 }),
                fc.constantFrom(1, 2, 4),
                fc.integer({ min: 0, max: 0xffffffff }),
              ),
            }),
            { maxLength: 20 },
          ),
          (ops) => {
            const r = rig();
            for (const o of ops) {
              r.transfer(Math.min(o.desc, (1 << 20) - 16), o.control, o.length, o.address);
              r.fw.dmaPort.write(o.raw[0], o.raw[1], o.raw[2]);
              expect(r.fw.dmaPort.read(o.raw[0] & 4, 4) >= 0).toBe(true);
            }
          },
        ),
        { numRuns: 100 },
      );
    });
  });

  it('host misuse throws typed errors', () => {
    const fw = new FwCfg();
    fw.addFile('a', new Uint8Array(1));
    expect(() => fw.addFile('a', new Uint8Array(1))).toThrow(DevicesError);
    expect(() => fw.addFile('x'.repeat(56), new Uint8Array(1))).toThrow(/1\.\.55/);
    expect(() => fw.setItem(0x20, new Uint8Array(1))).toThrow(/addFile/);
    expect(() => new FwCfg({ cpus: 4, maxCpus: 2 })).toThrow(DevicesError);
    expect(() => new FwCfg({ uuid: new Uint8Array(3) })).toThrow(/16/);
    expect(() => new FwCfg({ ramSize: -1 })).toThrow(/ramSize/);
  });

  it('selector and offset survive saveState/restoreState', () => {
    const fw = new FwCfg();
    fw.write(0, 2, FW_CFG_SIGNATURE);
    fw.read(1, 1);
    const s = JSON.parse(JSON.stringify(fw.saveState()));
    const fw2 = new FwCfg();
    fw2.restoreState(s);
    expect(fw2.read(1, 1)).toBe(0x45);
    expect(() => fw2.restoreState({ kind: 'fw-cfg', version: 9 })).toThrow(DevicesError);
  });

  it('random traffic never throws and reads stay bytes', () => {
    const fw = new FwCfg({ ramSize: 1 << 24 });
    fw.addFile('etc/e820', encodeE820(buildE820Map({ ramSize: 1 << 24 })));
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            off: fc.integer({ min: 0, max: 1 }),
            size: fc.constantFrom(1, 2, 4),
            v: fc.integer({ min: 0, max: 0xffffffff }),
            w: fc.boolean(),
          }),
          { maxLength: 200 },
        ),
        (ops) => {
          for (const op of ops) {
            if (op.w) fw.write(op.off, op.size, op.v);
            else {
              const r = fw.read(op.off, op.size);
              expect(r >= 0 && (op.size !== 1 || r <= 0xff)).toBe(true);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
