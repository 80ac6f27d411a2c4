/**
 * The system devices wired on the real PortBus at the shared platform addresses, driven with the
 * IN/OUT sequences guests use — the way apps/demo's composer will wire them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildE820Map, encodeE820 } from '../src/firmware/e820';
import { FW_CFG_FILE_DIR, FW_CFG_SIGNATURE, FwCfg } from '../src/firmware/fw-cfg';
import {
  ACPI_PM_BASE,
  DEBUG_EXIT_PORT,
  DEBUG_EXIT_SIZE,
  DEBUGCON_PORT,
  DELAY_PORT_ED,
  FW_CFG_DATA_PORT,
  FW_CFG_PORT,
  I8042_COMMAND_PORT,
  I8042_DATA_PORT,
  PCI_CONFIG_ADDRESS_PORT,
  PORT92,
  POST_PORT,
  POST_PORT_190,
  RESET_CONTROL_PORT,
} from '../src/firmware/platform';
import { PciBus, PciHost } from '../src/pci/host';
import { createI440fxHostBridge } from '../src/pci/i440fx';
import { PortBus } from '../src/portbus';
import { ACPI_PM_SIZE, ACPI_PM_TMR, ACPI_PM1_CNT, ACPI_SLP_EN, AcpiPm } from '../src/system/acpi-pm';
import { DebugConsole } from '../src/system/debug-console';
import { DebugExit } from '../src/system/debug-exit';
import type { ResetKind } from '../src/system/events';
import { I8042 } from '../src/system/i8042';
import { Port92 } from '../src/system/port92';
import { PostPort } from '../src/system/post';
import { ResetControl } from '../src/system/reset-control';

function platform() {
  const log: string[] = [];
  const console: number[] = [];
  const clock = {
    t: 0,
    hz: 1_000_000_000,
    now() {
      return this.t;
    },
  };
  const events = {
    onReset: (k: ResetKind) => log.push(`reset:${k}`),
    onA20: (e: boolean) => log.push(`a20:${e}`),
    onExit: (s: number) => log.push(`exit:${s}`),
    onPowerOff: () => log.push('poweroff'),
  };
  const io = new PortBus();
  const kbc = new I8042({ events });
  io.register(I8042_DATA_PORT, 1, kbc.dataPort, 'i8042 data');
  io.register(I8042_COMMAND_PORT, 1, kbc.commandPort, 'i8042 command');
  io.register(PORT92, 1, new Port92({ events }), 'port92');
  const post = new PostPort();
  io.register(POST_PORT, 1, post, 'post');
  io.register(DELAY_PORT_ED, 1, new PostPort(), 'delay');
  io.register(POST_PORT_190, 1, new PostPort(), 'post190');
  io.register(DEBUGCON_PORT, 1, new DebugConsole({ output: (b) => console.push(b) }), 'debugcon');
  io.register(DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE, new DebugExit({ events }), 'debug-exit');
  const bus = new PciBus();
  bus.register(0, 0, createI440fxHostBridge());
  io.register(
    PCI_CONFIG_ADDRESS_PORT,
    8,
    new PciHost({ bus, resetControl: new ResetControl({ events }) }),
    'pci',
  );
  const fw = new FwCfg({ ramSize: 64 << 20, cpus: 1 });
  fw.addFile('etc/e820', encodeE820(buildE820Map({ ramSize: 64 << 20 })));
  io.register(FW_CFG_PORT, 2, fw, 'fw_cfg');
  const pm = new AcpiPm({ clock, events });
  io.register(ACPI_PM_BASE, ACPI_PM_SIZE, pm, 'acpi-pm');
  return { io, log, console, clock, post, pm };
}

describe('system devices on the port bus', () => {
  it('answer guest port sequences at the platform addresses', () => {
    const { io, log, console, clock, post } = platform();
    // PCI mechanism #1 probe as Linux pci_check_type1 / pci_conf1_read do.
    io.out(PCI_CONFIG_ADDRESS_PORT, 4, 0x80000000);
    expect(io.in(0xcfc, 4)).toBe(0x12378086);
    expect(io.in(0xcfe, 2)).toBe(0x1237);
    io.out(PCI_CONFIG_ADDRESS_PORT, 4, 0x80000800); // 00:01.0 absent
    expect(io.in(0xcfc, 4)).toBe(0xffffffff);
    // fw_cfg signature and the file directory.
    io.out(FW_CFG_PORT, 2, FW_CFG_SIGNATURE);
    expect(String.fromCharCode(...[0, 1, 2, 3].map(() => io.in(FW_CFG_DATA_PORT, 1)))).toBe('QEMU');
    io.out(FW_CFG_PORT, 2, FW_CFG_FILE_DIR);
    expect([0, 1, 2, 3].map(() => io.in(FW_CFG_DATA_PORT, 1))).toEqual([0, 0, 0, 1]);
    // i8042 self-test and A20 through the output port; fast A20 through 0x92.
    io.out(I8042_COMMAND_PORT, 1, 0xaa);
    expect(io.in(I8042_COMMAND_PORT, 1) & 1).toBe(1);
    expect(io.in(I8042_DATA_PORT, 1)).toBe(0x55);
    io.out(I8042_COMMAND_PORT, 1, 0xd1);
    io.out(I8042_DATA_PORT, 1, 0xdd); // A20 off (bit 1 clear), reset line high
    io.out(PORT92, 1, 0x02);
    // POST codes, the debug console, and a delay write to 0xed.
    io.out(POST_PORT, 1, 0x42);
    io.out(DELAY_PORT_ED, 1, 0);
    for (const c of 'ok') io.out(DEBUGCON_PORT, 1, c.charCodeAt(0));
    expect(io.in(DEBUGCON_PORT, 1)).toBe(0xe9);
    expect(post.lastCode).toBe(0x42);
    expect(String.fromCharCode(...console)).toBe('ok');
    // ACPI PM timer, then S5.
    clock.t = 1_000_000_000;
    expect(io.in(ACPI_PM_BASE + ACPI_PM_TMR, 4)).toBe(3_579_545);
    io.out(ACPI_PM_BASE + ACPI_PM1_CNT, 2, ACPI_SLP_EN);
    // Reset through 0xcf9 and debug-exit with a dword.
    io.out(RESET_CONTROL_PORT, 1, 0x06);
    io.out(DEBUG_EXIT_PORT, 4, 0x10);
    io.out(DEBUG_EXIT_PORT + 2, 1, 0x01); // anywhere in the 4-byte window
    expect(log).toEqual(['a20:false', 'a20:true', 'poweroff', 'reset:cf9-hard', 'exit:33', 'exit:3']);
    // An unclaimed port reads as all-ones.
    expect(io.in(0x1234, 1)).toBe(0xff);
  });

  it('random port traffic over the whole platform never throws', () => {
    const ports = [
      0x60, 0x64, 0x80, 0x92, 0xe9, 0xed, 0xf4, 0xf5, 0xf7, 0x190, 0x510, 0x511, 0x600, 0x602, 0x604, 0x608,
      0x60a, 0xcf8, 0xcf9, 0xcfa, 0xcfc, 0xcfd, 0xcfe, 0xcff,
    ];
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            port: fc.oneof(fc.constantFrom(...ports), fc.integer({ min: 0, max: 0xffff })),
            size: fc.constantFrom(1, 2, 4),
            v: fc.integer({ min: 0, max: 0xffffffff }),
            w: fc.boolean(),
            dt: fc.integer({ min: 0, max: 1_000_000 }),
          }),
          { maxLength: 150 },
        ),
        (ops) => {
          const p = platform();
          for (const o of ops) {
            p.clock.t += o.dt;
            if (o.w) p.io.out(o.port & 0xffff, o.size as 1 | 2 | 4, o.v);
            else {
              const r = p.io.in(o.port & 0xffff, o.size as 1 | 2 | 4);
              expect(Number.isInteger(r) && r >= 0 && r <= 0xffffffff).toBe(true);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
