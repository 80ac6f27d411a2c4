/**
 * End to end with the real CPU: a flat protected-mode guest (no BIOS) that finds everything the
 * host set up the way an OS does — reads the fw_cfg signature, probes PCI 00:00.0 through
 * mechanism #1, watches the ACPI PM timer advance, scans 0xe0000–0xfffff for the RSDP, follows the
 * RSDT to the FADT and its PM1a control block, reports the number of passed checks through
 * isa-debug-exit, and powers off with SLP_EN (S5).
 *
 * Source (GNU as, `as --32`, bytes from `objcopy -O binary`):
 *
 * .intel_syntax noprefix
 * .code32
 * start:
 *   mov esp, 0x9000
 *   xor ebx, ebx
 *   mov dx, 0x510
 *   xor eax, eax
 *   out dx, ax
 *   mov dx, 0x511
 *   mov ecx, 4
 *   mov edi, 0x600
 * 1:
 *   in al, dx
 *   mov [edi], al
 *   inc edi
 *   push edx
 *   mov dx, 0xe9
 *   out dx, al
 *   pop edx
 *   loop 1b
 *   cmp dword ptr [0x600], 0x554d4551
 *   jne 2f
 *   inc ebx
 * 2:
 *   mov dx, 0xcf8
 *   mov eax, 0x80000000
 *   out dx, eax
 *   mov dx, 0xcfc
 *   in eax, dx
 *   mov [0x604], eax
 *   cmp eax, 0x12378086
 *   jne 3f
 *   inc ebx
 * 3:
 *   mov dx, 0x608
 *   in eax, dx
 *   mov esi, eax
 *   mov ecx, 10000
 * 4:
 *   loop 4b
 *   in eax, dx
 *   sub eax, esi
 *   and eax, 0xffffff
 *   mov [0x608], eax
 *   jz 5f
 *   inc ebx
 * 5:
 *   mov esi, 0xe0000
 * 6:
 *   cmp dword ptr [esi], 0x20445352
 *   jne 7f
 *   cmp dword ptr [esi+4], 0x20525450
 *   jne 7f
 *   xor eax, eax
 *   xor ecx, ecx
 * 8:
 *   add al, [esi+ecx]
 *   inc ecx
 *   cmp ecx, 20
 *   jb 8b
 *   test al, al
 *   jz 9f
 * 7:
 *   add esi, 16
 *   cmp esi, 0x100000
 *   jb 6b
 *   jmp 10f
 * 9:
 *   mov [0x60c], esi
 *   inc ebx
 *   mov eax, [esi+16]
 *   mov eax, [eax+36]
 *   cmp dword ptr [eax], 0x50434146
 *   jne 10f
 *   mov ecx, [eax+64]
 *   mov [0x610], ecx
 *   inc ebx
 * 10:
 *   mov eax, ebx
 *   out 0xf4, eax
 *   mov edx, [0x610]
 *   mov ax, 0x2000
 *   out dx, ax
 *   cli
 *   hlt
 */
import { Cpu, FlatMemory, MachineClock } from '@pv/x86-core';
import { describe, expect, it } from 'vitest';
import { buildE820Map } from '../src/firmware/e820';
import { FwCfg } from '../src/firmware/fw-cfg';
import {
  ACPI_PM_BASE,
  DEBUG_EXIT_PORT,
  DEBUGCON_PORT,
  FW_CFG_DMA_PORT,
  FW_CFG_PORT,
  PCI_CONFIG_ADDRESS_PORT,
} from '../src/firmware/platform';
import { writeFirmwareTables } from '../src/firmware/tables';
import { PciBus, PciHost } from '../src/pci/host';
import { createI440fxHostBridge } from '../src/pci/i440fx';
import { PortBus } from '../src/portbus';
import { ACPI_PM_SIZE, AcpiPm } from '../src/system/acpi-pm';
import { DebugConsole } from '../src/system/debug-console';
import { DebugExit } from '../src/system/debug-exit';

const PROGRAM = [
  0xbc, 0x00, 0x90, 0x00, 0x00, 0x31, 0xdb, 0x66, 0xba, 0x10, 0x05, 0x31, 0xc0, 0x66, 0xef, 0x66, 0xba, 0x11,
  0x05, 0xb9, 0x04, 0x00, 0x00, 0x00, 0xbf, 0x00, 0x06, 0x00, 0x00, 0xec, 0x88, 0x07, 0x47, 0x52, 0x66, 0xba,
  0xe9, 0x00, 0xee, 0x5a, 0xe2, 0xf3, 0x81, 0x3d, 0x00, 0x06, 0x00, 0x00, 0x51, 0x45, 0x4d, 0x55, 0x75, 0x01,
  0x43, 0x66, 0xba, 0xf8, 0x0c, 0xb8, 0x00, 0x00, 0x00, 0x80, 0xef, 0x66, 0xba, 0xfc, 0x0c, 0xed, 0xa3, 0x04,
  0x06, 0x00, 0x00, 0x3d, 0x86, 0x80, 0x37, 0x12, 0x75, 0x01, 0x43, 0x66, 0xba, 0x08, 0x06, 0xed, 0x89, 0xc6,
  0xb9, 0x10, 0x27, 0x00, 0x00, 0xe2, 0xfe, 0xed, 0x29, 0xf0, 0x25, 0xff, 0xff, 0xff, 0x00, 0xa3, 0x08, 0x06,
  0x00, 0x00, 0x74, 0x01, 0x43, 0xbe, 0x00, 0x00, 0x0e, 0x00, 0x81, 0x3e, 0x52, 0x53, 0x44, 0x20, 0x75, 0x1a,
  0x81, 0x7e, 0x04, 0x50, 0x54, 0x52, 0x20, 0x75, 0x11, 0x31, 0xc0, 0x31, 0xc9, 0x02, 0x04, 0x0e, 0x41, 0x83,
  0xf9, 0x14, 0x72, 0xf7, 0x84, 0xc0, 0x74, 0x0d, 0x83, 0xc6, 0x10, 0x81, 0xfe, 0x00, 0x00, 0x10, 0x00, 0x72,
  0xd3, 0xeb, 0x1f, 0x89, 0x35, 0x0c, 0x06, 0x00, 0x00, 0x43, 0x8b, 0x46, 0x10, 0x8b, 0x40, 0x24, 0x81, 0x38,
  0x46, 0x41, 0x43, 0x50, 0x75, 0x0a, 0x8b, 0x48, 0x40, 0x89, 0x0d, 0x10, 0x06, 0x00, 0x00, 0x43, 0x89, 0xd8,
  0xe7, 0xf4, 0x8b, 0x15, 0x10, 0x06, 0x00, 0x00, 0x66, 0xb8, 0x00, 0x20, 0x66, 0xef, 0xfa, 0xf4,
];

/**
 * A guest reading FILE_DIR through the fw_cfg DMA interface (Linux `fw_cfg_dma_transfer`): it
 * builds a big-endian FWCfgDmaAccess at 0x700 (SELECT 0x19 | READ, 4 bytes to 0x720), writes the
 * descriptor address big-endian to 0x514/0x518, and exits with 1 if the control word came back 0
 * and the file count is 1 (big-endian), else 0xff.
 *
 * .intel_syntax noprefix
 * .code32
 *   mov dword ptr [0x700], 0x0a001900
 *   mov dword ptr [0x704], 0x04000000
 *   mov dword ptr [0x708], 0
 *   mov dword ptr [0x70c], 0x20070000
 *   mov dx, 0x514
 *   xor eax, eax
 *   out dx, eax
 *   mov dx, 0x518
 *   mov eax, 0x00070000
 *   out dx, eax
 *   mov eax, 0xff
 *   cmp dword ptr [0x700], 0
 *   jne 1f
 *   cmp dword ptr [0x720], 0x01000000
 *   jne 1f
 *   mov eax, 1
 * 1:
 *   out 0xf4, eax
 *   cli
 *   hlt
 */
const DMA_PROGRAM = [
  0xc7, 0x05, 0x00, 0x07, 0x00, 0x00, 0x00, 0x19, 0x00, 0x0a, 0xc7, 0x05, 0x04, 0x07, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x04, 0xc7, 0x05, 0x08, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc7, 0x05, 0x0c, 0x07, 0x00, 0x00,
  0x00, 0x00, 0x07, 0x20, 0x66, 0xba, 0x14, 0x05, 0x31, 0xc0, 0xef, 0x66, 0xba, 0x18, 0x05, 0xb8, 0x00, 0x00,
  0x07, 0x00, 0xef, 0xb8, 0xff, 0x00, 0x00, 0x00, 0x83, 0x3d, 0x00, 0x07, 0x00, 0x00, 0x00, 0x75, 0x11, 0x81,
  0x3d, 0x20, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x75, 0x05, 0xb8, 0x01, 0x00, 0x00, 0x00, 0xe7, 0xf4,
  0xfa, 0xf4,
];

describe('firmware + system devices + CPU end to end', () => {
  it('a guest reads the fw_cfg file directory by DMA', () => {
    const clock = new MachineClock(1_000_000_000);
    const memory = new FlatMemory(1 << 20);
    memory.load(0x10000, Uint8Array.from(DMA_PROGRAM));
    const ram = memory.bytes;
    const fw = new FwCfg({
      e820: buildE820Map({ ramSize: 64 << 20 }),
      dma: {
        read: (gpa, n) => (gpa + n <= ram.length ? ram.slice(gpa, gpa + n) : undefined),
        write: (gpa, bytes) => {
          if (gpa + bytes.length > ram.length) return false;
          ram.set(bytes, gpa);
          return true;
        },
      },
    });
    const log: number[] = [];
    const io = new PortBus();
    io.register(FW_CFG_PORT, 2, fw, 'fw_cfg');
    io.register(FW_CFG_DMA_PORT, 8, fw.dmaPort, 'fw_cfg dma');
    io.register(
      DEBUG_EXIT_PORT,
      4,
      new DebugExit({ events: { onExit: (st) => log.push(st) } }),
      'debug-exit',
    );
    const cpu = new Cpu({ memory, io, clock });
    cpu.enterFlatProtectedMode(0x10000);
    expect(cpu.run(100_000).reason).toBe('hlt');
    expect(log).toEqual([3]); // (1 << 1) | 1
    expect(fw.dmaStats).toEqual({ transfers: 1, errors: 0 });
    expect(io.unclaimed).toBe(0);
  });

  it('a BIOS-less guest finds fw_cfg, PCI, the PM timer and the ACPI tables, then exits and powers off', () => {
    const clock = new MachineClock(1_000_000_000);
    const memory = new FlatMemory(1 << 20);
    const layout = writeFirmwareTables({ ramSize: 64 << 20, cpus: 1 }, memory.bytes);
    memory.load(0x10000, Uint8Array.from(PROGRAM));
    const log: string[] = [];
    const out: number[] = [];
    const events = { onExit: (s: number) => log.push(`exit:${s}`), onPowerOff: () => log.push('poweroff') };
    const io = new PortBus();
    io.register(FW_CFG_PORT, 2, new FwCfg({ ramSize: 64 << 20 }), 'fw_cfg');
    const bus = new PciBus();
    bus.register(0, 0, createI440fxHostBridge());
    io.register(PCI_CONFIG_ADDRESS_PORT, 8, new PciHost({ bus }), 'pci');
    io.register(ACPI_PM_BASE, ACPI_PM_SIZE, new AcpiPm({ clock, events }), 'acpi-pm');
    io.register(DEBUGCON_PORT, 1, new DebugConsole({ output: (b) => out.push(b) }), 'debugcon');
    io.register(DEBUG_EXIT_PORT, 4, new DebugExit({ events }), 'debug-exit');
    const cpu = new Cpu({ memory, io, clock });
    cpu.enterFlatProtectedMode(0x10000);
    let exit = cpu.run(1_000_000);
    for (let i = 0; i < 20 && exit.reason === 'budget'; i++) exit = cpu.run(1_000_000);
    expect(exit.reason).toBe('hlt');
    expect(String.fromCharCode(...out)).toBe('QEMU');
    const ram = memory.bytes;
    const dv = new DataView(ram.buffer);
    expect(dv.getUint32(0x604, true)).toBe(0x12378086);
    expect(dv.getUint32(0x608, true)).toBeGreaterThan(0); // PM timer ticks seen by the guest
    expect(dv.getUint32(0x60c, true)).toBe(layout.rsdp);
    expect(dv.getUint32(0x610, true)).toBe(ACPI_PM_BASE + 4);
    // Five checks passed: status (5 << 1) | 1 = 11, then S5.
    expect(log).toEqual(['exit:11', 'poweroff']);
    expect(io.unclaimed).toBe(0);
  });
});
