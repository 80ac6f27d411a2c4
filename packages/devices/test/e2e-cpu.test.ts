import { Cpu, EXIT_IO, FlatMemory, MachineClock, SREG_CS } from '@pv/x86-core';
import { describe, expect, it } from 'vitest';
import { Pic8259Pair } from '../src/pic/pic-pair';
import { Pit8254 } from '../src/pit/pit8254';
import { PortBus } from '../src/portbus';
import { Rtc } from '../src/rtc/rtc';
import { Uart16550 } from '../src/uart/uart16550';

/**
 * A real-mode program (assembled with GNU as, `.code16`, bytes checked with objdump) that does
 * what a kernel does at boot: installs IVT entries, runs Linux's 8259A init sequence with vectors
 * 0x20/0x28, programs PIT channel 0 in mode 2 at ~1 kHz (count 1193), sets COM1 to 115200 8N1 with
 * the RDA interrupt and OUT2, then idles in HLT taking interrupts until it has seen 20 timer ticks
 * and 5 received bytes, and ends with CLI; HLT.
 */
const PROGRAM = [
  // start (loaded at 0000:7C00)
  0xfa, // cli
  0x31,
  0xc0, // xor    ax,ax
  0x8e,
  0xd8, // mov    ds,ax
  0x8e,
  0xd0, // mov    ss,ax
  0xbc,
  0x00,
  0x70, // mov    sp,0x7000
  0xc7,
  0x06,
  0x00,
  0x05,
  0x00,
  0x00, // mov    WORD PTR ds:0x500,0x0
  0xc7,
  0x06,
  0x02,
  0x05,
  0x00,
  0x00, // mov    WORD PTR ds:0x502,0x0
  0xc7,
  0x06,
  0x80,
  0x00,
  0x9c,
  0x7c, // mov    WORD PTR ds:0x80,0x7c9c
  0xc7,
  0x06,
  0x82,
  0x00,
  0x00,
  0x00, // mov    WORD PTR ds:0x82,0x0
  0xc7,
  0x06,
  0x90,
  0x00,
  0xa7,
  0x7c, // mov    WORD PTR ds:0x90,0x7ca7
  0xc7,
  0x06,
  0x92,
  0x00,
  0x00,
  0x00, // mov    WORD PTR ds:0x92,0x0
  0xb0,
  0x11, // mov    al,0x11
  0xe6,
  0x20, // out    0x20,al
  0xb0,
  0x20, // mov    al,0x20
  0xe6,
  0x21, // out    0x21,al
  0xb0,
  0x04, // mov    al,0x4
  0xe6,
  0x21, // out    0x21,al
  0xb0,
  0x01, // mov    al,0x1
  0xe6,
  0x21, // out    0x21,al
  0xb0,
  0x11, // mov    al,0x11
  0xe6,
  0xa0, // out    0xa0,al
  0xb0,
  0x28, // mov    al,0x28
  0xe6,
  0xa1, // out    0xa1,al
  0xb0,
  0x02, // mov    al,0x2
  0xe6,
  0xa1, // out    0xa1,al
  0xb0,
  0x01, // mov    al,0x1
  0xe6,
  0xa1, // out    0xa1,al
  0xb0,
  0xee, // mov    al,0xee
  0xe6,
  0x21, // out    0x21,al
  0xb0,
  0xff, // mov    al,0xff
  0xe6,
  0xa1, // out    0xa1,al
  0xb0,
  0x34, // mov    al,0x34
  0xe6,
  0x43, // out    0x43,al
  0xb0,
  0xa9, // mov    al,0xa9
  0xe6,
  0x40, // out    0x40,al
  0xb0,
  0x04, // mov    al,0x4
  0xe6,
  0x40, // out    0x40,al
  0xba,
  0xfb,
  0x03, // mov    dx,0x3fb
  0xb0,
  0x80, // mov    al,0x80
  0xee, // out    dx,al
  0xba,
  0xf8,
  0x03, // mov    dx,0x3f8
  0xb0,
  0x01, // mov    al,0x1
  0xee, // out    dx,al
  0x42, // inc    dx
  0x30,
  0xc0, // xor    al,al
  0xee, // out    dx,al
  0xba,
  0xfb,
  0x03, // mov    dx,0x3fb
  0xb0,
  0x03, // mov    al,0x3
  0xee, // out    dx,al
  0xba,
  0xfa,
  0x03, // mov    dx,0x3fa
  0x30,
  0xc0, // xor    al,al
  0xee, // out    dx,al
  0xba,
  0xfc,
  0x03, // mov    dx,0x3fc
  0xb0,
  0x0b, // mov    al,0xb
  0xee, // out    dx,al
  0xba,
  0xf9,
  0x03, // mov    dx,0x3f9
  0xb0,
  0x01, // mov    al,0x1
  0xee, // out    dx,al
  0xfb, // sti
  // idle: wait for 20 timer ticks and 5 serial bytes
  0xf4, // hlt
  0x83,
  0x3e,
  0x00,
  0x05,
  0x14, // cmp    WORD PTR ds:0x500,0x14
  0x72,
  0xf8, // jb     8b <idle>
  0x80,
  0x3e,
  0x02,
  0x05,
  0x05, // cmp    BYTE PTR ds:0x502,0x5
  0x72,
  0xf1, // jb     8b <idle>
  0xfa, // cli
  0xf4, // hlt
  // timer (IVT 0x20 -> 0000:7C9C): count, non-specific EOI
  0xff,
  0x06,
  0x00,
  0x05, // inc    WORD PTR ds:0x500
  0x50, // push   ax
  0xb0,
  0x20, // mov    al,0x20
  0xe6,
  0x20, // out    0x20,al
  0x58, // pop    ax
  0xcf, // iret
  // serial (IVT 0x24 -> 0000:7CA7): read RBR, flip case, echo to THR, specific EOI
  0x50, // push   ax
  0x52, // push   dx
  0xba,
  0xf8,
  0x03, // mov    dx,0x3f8
  0xec, // in     al,dx
  0x34,
  0x20, // xor    al,0x20
  0xee, // out    dx,al
  0xfe,
  0x06,
  0x02,
  0x05, // inc    BYTE PTR ds:0x502
  0xb0,
  0x64, // mov    al,0x64
  0xe6,
  0x20, // out    0x20,al
  0x5a, // pop    dx
  0x58, // pop    ax
  0xcf, // iret
];

/**
 * A flat protected-mode program loaded at 0x10000 (GNU as, `.code32`, checked with objdump): loads
 * its GDT, builds three 32-bit interrupt gates in an IDT at 0x7000, initialises the PICs (vectors
 * 0x20/0x28, IRQ0/2/4 and IRQ8 unmasked), runs PIT channel 0 at 100 Hz (count 11932), enables the
 * RTC periodic interrupt at 64 Hz (register A = 0x2A, PIE set by read-modify-write of register B,
 * register C acknowledged in the handler, EOI to slave and master), and transmits "pv!\n" from the
 * UART's THRE interrupt, one byte per interrupt, switching THRI off at the end of the string. It
 * idles in HLT until 10 timer ticks, 5 RTC interrupts and the transmission are done, then CLI; HLT.
 * Counters live at 0x8000 (timer), 0x8004 (RTC), 0x8008 (transmit position), 0x800c (done).
 */
const PROGRAM_PM = [
  // start (0x10000)
  0x0f,
  0x01,
  0x15,
  0x80,
  0x01,
  0x01,
  0x00, // lgdtd ds:0x10180
  0x0f,
  0x01,
  0x1d,
  0x88,
  0x01,
  0x01,
  0x00, // lidtd ds:0x10188
  0xbc,
  0x00,
  0x90,
  0x00,
  0x00, // mov esp,0x9000
  0xb8,
  0xff,
  0x00,
  0x01,
  0x00, // mov eax,0x100ff
  0x66,
  0xa3,
  0x00,
  0x71,
  0x00,
  0x00, // mov ds:0x7100,ax
  0x66,
  0xc7,
  0x05,
  0x02,
  0x71,
  0x00,
  0x00,
  0x08,
  0x00, // mov WORD PTR ds:0x7102,0x8
  0x66,
  0xc7,
  0x05,
  0x04,
  0x71,
  0x00,
  0x00,
  0x00,
  0x8e, // mov WORD PTR ds:0x7104,0x8e00
  0xc1,
  0xe8,
  0x10, // shr eax,0x10
  0x66,
  0xa3,
  0x06,
  0x71,
  0x00,
  0x00, // mov ds:0x7106,ax
  0xb8,
  0x21,
  0x01,
  0x01,
  0x00, // mov eax,0x10121
  0x66,
  0xa3,
  0x20,
  0x71,
  0x00,
  0x00, // mov ds:0x7120,ax
  0x66,
  0xc7,
  0x05,
  0x22,
  0x71,
  0x00,
  0x00,
  0x08,
  0x00, // mov WORD PTR ds:0x7122,0x8
  0x66,
  0xc7,
  0x05,
  0x24,
  0x71,
  0x00,
  0x00,
  0x00,
  0x8e, // mov WORD PTR ds:0x7124,0x8e00
  0xc1,
  0xe8,
  0x10, // shr eax,0x10
  0x66,
  0xa3,
  0x26,
  0x71,
  0x00,
  0x00, // mov ds:0x7126,ax
  0xb8,
  0x0c,
  0x01,
  0x01,
  0x00, // mov eax,0x1010c
  0x66,
  0xa3,
  0x40,
  0x71,
  0x00,
  0x00, // mov ds:0x7140,ax
  0x66,
  0xc7,
  0x05,
  0x42,
  0x71,
  0x00,
  0x00,
  0x08,
  0x00, // mov WORD PTR ds:0x7142,0x8
  0x66,
  0xc7,
  0x05,
  0x44,
  0x71,
  0x00,
  0x00,
  0x00,
  0x8e, // mov WORD PTR ds:0x7144,0x8e00
  0xc1,
  0xe8,
  0x10, // shr eax,0x10
  0x66,
  0xa3,
  0x46,
  0x71,
  0x00,
  0x00, // mov ds:0x7146,ax
  0xb0,
  0x11, // mov al,0x11
  0xe6,
  0x20, // out 0x20,al
  0xb0,
  0x20, // mov al,0x20
  0xe6,
  0x21, // out 0x21,al
  0xb0,
  0x04, // mov al,0x4
  0xe6,
  0x21, // out 0x21,al
  0xb0,
  0x01, // mov al,0x1
  0xe6,
  0x21, // out 0x21,al
  0xb0,
  0x11, // mov al,0x11
  0xe6,
  0xa0, // out 0xa0,al
  0xb0,
  0x28, // mov al,0x28
  0xe6,
  0xa1, // out 0xa1,al
  0xb0,
  0x02, // mov al,0x2
  0xe6,
  0xa1, // out 0xa1,al
  0xb0,
  0x01, // mov al,0x1
  0xe6,
  0xa1, // out 0xa1,al
  0xb0,
  0xea, // mov al,0xea
  0xe6,
  0x21, // out 0x21,al
  0xb0,
  0xfe, // mov al,0xfe
  0xe6,
  0xa1, // out 0xa1,al
  0xb0,
  0x34, // mov al,0x34
  0xe6,
  0x43, // out 0x43,al
  0xb0,
  0x9c, // mov al,0x9c
  0xe6,
  0x40, // out 0x40,al
  0xb0,
  0x2e, // mov al,0x2e
  0xe6,
  0x40, // out 0x40,al
  0xb0,
  0x8a, // mov al,0x8a
  0xe6,
  0x70, // out 0x70,al
  0xb0,
  0x2a, // mov al,0x2a
  0xe6,
  0x71, // out 0x71,al
  0xb0,
  0x8b, // mov al,0x8b
  0xe6,
  0x70, // out 0x70,al
  0xe4,
  0x71, // in al,0x71
  0x0c,
  0x40, // or al,0x40
  0x88,
  0xc4, // mov ah,al
  0xb0,
  0x8b, // mov al,0x8b
  0xe6,
  0x70, // out 0x70,al
  0x88,
  0xe0, // mov al,ah
  0xe6,
  0x71, // out 0x71,al
  0xb0,
  0x0c, // mov al,0xc
  0xe6,
  0x70, // out 0x70,al
  0xe4,
  0x71, // in al,0x71
  0x66,
  0xba,
  0xf9,
  0x03, // mov dx,0x3f9
  0xb0,
  0x02, // mov al,0x2
  0xee, // out dx,al
  0xfb, // sti
  // idle (0x100e1)
  0xf4, // hlt
  0x83,
  0x3d,
  0x00,
  0x80,
  0x00,
  0x00,
  0x0a, // cmp DWORD PTR ds:0x8000,0xa
  0x72,
  0xf6, // jb e1 <idle>
  0x83,
  0x3d,
  0x04,
  0x80,
  0x00,
  0x00,
  0x05, // cmp DWORD PTR ds:0x8004,0x5
  0x72,
  0xed, // jb e1 <idle>
  0x83,
  0x3d,
  0x0c,
  0x80,
  0x00,
  0x00,
  0x01, // cmp DWORD PTR ds:0x800c,0x1
  0x75,
  0xe4, // jne e1 <idle>
  0xfa, // cli
  0xf4, // hlt
  // timer (0x100ff)
  0xff,
  0x05,
  0x00,
  0x80,
  0x00,
  0x00, // inc DWORD PTR ds:0x8000
  0x50, // push eax
  0xb0,
  0x20, // mov al,0x20
  0xe6,
  0x20, // out 0x20,al
  0x58, // pop eax
  0xcf, // iret
  // rtc (0x1010c)
  0x50, // push eax
  0xb0,
  0x0c, // mov al,0xc
  0xe6,
  0x70, // out 0x70,al
  0xe4,
  0x71, // in al,0x71
  0xff,
  0x05,
  0x04,
  0x80,
  0x00,
  0x00, // inc DWORD PTR ds:0x8004
  0xb0,
  0x20, // mov al,0x20
  0xe6,
  0xa0, // out 0xa0,al
  0xe6,
  0x20, // out 0x20,al
  0x58, // pop eax
  0xcf, // iret
  // serial (0x10121)
  0x50, // push eax
  0x52, // push edx
  0x56, // push esi
  0x66,
  0xba,
  0xfa,
  0x03, // mov dx,0x3fa
  0xec, // in al,dx
  0x8b,
  0x35,
  0x08,
  0x80,
  0x00,
  0x00, // mov esi,DWORD PTR ds:0x8008
  0x8a,
  0x86,
  0x5f,
  0x01,
  0x01,
  0x00, // mov al,BYTE PTR [esi+0x1015f]
  0x84,
  0xc0, // test al,al
  0x74,
  0x0d, // je 146 <serial+0x25>
  0x66,
  0xba,
  0xf8,
  0x03, // mov dx,0x3f8
  0xee, // out dx,al
  0xff,
  0x05,
  0x08,
  0x80,
  0x00,
  0x00, // inc DWORD PTR ds:0x8008
  0xeb,
  0x11, // jmp 157 <serial+0x36>
  0x66,
  0xba,
  0xf9,
  0x03, // mov dx,0x3f9
  0x30,
  0xc0, // xor al,al
  0xee, // out dx,al
  0xc7,
  0x05,
  0x0c,
  0x80,
  0x00,
  0x00,
  0x01,
  0x00,
  0x00,
  0x00, // mov DWORD PTR ds:0x800c,0x1
  0xb0,
  0x20, // mov al,0x20
  0xe6,
  0x20, // out 0x20,al
  0x5e, // pop esi
  0x5a, // pop edx
  0x58, // pop eax
  0xcf, // iret
  // msg (0x1015f): "pv!\n", 0 and padding to 8
  0x70,
  0x76,
  0x21,
  0x0a,
  0x00,
  0x8d,
  0x74,
  0x26,
  0x00,
  // gdt (0x10168): null, flat 4 GiB code 0x08, flat 4 GiB data 0x10
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0xff,
  0xff,
  0x00,
  0x00,
  0x00,
  0x9b,
  0xcf,
  0x00,
  0xff,
  0xff,
  0x00,
  0x00,
  0x00,
  0x93,
  0xcf,
  0x00,
  // gdtr (0x10180): limit 23, base of gdt, padding
  0x17,
  0x00,
  0x68,
  0x01,
  0x01,
  0x00,
  0x66,
  0x90,
  // idtr (0x10188): limit 0x17f (vectors 0..0x2f), base 0x7000
  0x7f,
  0x01,
  0x00,
  0x70,
  0x00,
  0x00,
];

/**
 * Real mode at 0000:7C00: Linux's `mach_get_cmos_time` pattern — spin while register A's UIP bit
 * is set (counting the spins at 0x610), then read seconds, minutes, hours, day, month, year and
 * century through ports 0x70/0x71 into 0x600..0x606.
 */
const PROGRAM_RTC = [
  0xfa, //                                  cli
  0x31,
  0xc0, //                            xor ax,ax
  0x8e,
  0xd8, //                            mov ds,ax
  0x8e,
  0xc0, //                            mov es,ax
  0xfc, //                                  cld
  // wait (0x7C08)
  0xff,
  0x06,
  0x10,
  0x06, //                inc word [0x610]
  0xb0,
  0x0a, //                            mov al,0x0a
  0xe6,
  0x70, //                            out 0x70,al
  0xe4,
  0x71, //                            in al,0x71
  0xa8,
  0x80, //                            test al,0x80 (UIP)
  0x75,
  0xf2, //                            jne wait
  0xbe,
  0x28,
  0x7c, //                      mov si,regs
  0xbf,
  0x00,
  0x06, //                      mov di,0x600
  0xb9,
  0x07,
  0x00, //                      mov cx,7
  // next (0x7C1F)
  0xac, //                                  lodsb
  0xe6,
  0x70, //                            out 0x70,al
  0xe4,
  0x71, //                            in al,0x71
  0xaa, //                                  stosb
  0xe2,
  0xf8, //                            loop next
  0xf4, //                                  hlt
  // regs (0x7C28)
  0x00,
  0x02,
  0x04,
  0x07,
  0x08,
  0x09,
  0x32,
];

const ORIGIN = 0x7c00;
const TICKS = 0x500;
const RX_COUNT = 0x502;

function machine() {
  const clock = new MachineClock(1_000_000_000);
  const memory = new FlatMemory(1 << 20);
  memory.load(ORIGIN, Uint8Array.from(PROGRAM));
  const pic = new Pic8259Pair();
  const pit = new Pit8254({ clock, irq: (level) => pic.setIrq(0, level) });
  const output: number[] = [];
  const uart = new Uart16550({ irq: (level) => pic.setIrq(4, level), output: (b) => output.push(b) });
  const portCounts = new Map<number, number>();
  const io = new PortBus({ onAccess: (port) => portCounts.set(port, (portCounts.get(port) ?? 0) + 1) });
  io.registerBytes(0x20, 2, pic.master, 'pic-master');
  io.registerBytes(0xa0, 2, pic.slave, 'pic-slave');
  io.registerBytes(0x4d0, 2, pic.elcr, 'elcr');
  io.registerBytes(0x40, 4, pit, 'pit');
  io.registerBytes(0x61, 1, pit.portB, 'port-b');
  io.registerBytes(0x3f8, 8, uart, 'com1');
  const cpu = new Cpu({ memory, io, interrupts: pic, clock });
  cpu.loadSegmentReal(SREG_CS, 0);
  cpu.eip = ORIGIN;
  return { clock, memory, pic, pit, uart, io, cpu, output, portCounts };
}

describe('UART + PIC + PIT + CPU end to end', () => {
  it('takes timer and serial interrupts in a real-mode program', () => {
    const { clock, memory, pic, pit, uart, io, cpu, output, portCounts } = machine();
    const ram = memory.bytes;
    const INPUT_AT = 5_000_000; // the host types "hello" 5 ms into the run
    let sent = false;
    let finished = false;
    let hltExits = 0;
    for (let iter = 0; iter < 100_000 && !finished; iter++) {
      if (!sent && clock.now() >= INPUT_AT) {
        expect(uart.enqueueInput(Array.from('hello', (c) => c.charCodeAt(0)))).toBe(5);
        sent = true;
      }
      const nextEvent = Math.min(pit.nextDeadline(), sent ? Number.POSITIVE_INFINITY : INPUT_AT);
      const exit = cpu.run(Math.max(1, Math.min(50_000, nextEvent - clock.now())));
      pit.update();
      if (exit.reason === 'hlt') {
        hltExits++;
        if ((cpu.eflags & 0x200) === 0)
          finished = true; // the final CLI; HLT
        else if (!pic.pending()) {
          // Idle: jump virtual time to the next event, as a run loop does on HLT.
          const target = Math.min(pit.nextDeadline(), sent ? Number.POSITIVE_INFINITY : INPUT_AT);
          clock.advance(target - clock.now());
          pit.update();
        }
      } else {
        expect(exit.reason).toBe('budget');
      }
    }
    expect(finished).toBe(true);
    const ticks = ram[TICKS]! | (ram[TICKS + 1]! << 8);
    expect(ticks).toBeGreaterThanOrEqual(20);
    expect(ram[RX_COUNT]).toBe(5);
    expect(String.fromCharCode(...output)).toBe('HELLO');
    // The guest programmed the devices the way the test claims.
    expect(pic.vectorBases).toEqual([0x20, 0x28]);
    expect(pic.imr).toBe(0xffee);
    expect(pit.reloadValue(0)).toBe(1193);
    expect(uart.baudRate).toBe(115200);
    // Every interrupt was acknowledged and EOIed: ticks + 5 serial, nothing spurious or left in service.
    expect(pic.counters.acknowledges).toBe(ticks + 5);
    expect(pic.counters.spuriousMaster + pic.counters.spuriousSlave).toBe(0);
    expect(pic.isr).toBe(0);
    expect(pit.counters.irq0Edges).toBeGreaterThanOrEqual(ticks);
    // Virtual time matches the timer: 20 ticks of 1193 PIT clocks (~1 ms each) at 1 GHz.
    const elapsedMs = clock.now() / 1e6;
    expect(elapsedMs).toBeGreaterThan(ticks * 0.99);
    expect(elapsedMs).toBeLessThan((ticks + 1) * 1.01);
    expect(hltExits).toBeGreaterThan(20);
    expect(io.unclaimed).toBe(0);
    // The bus's access hook sees exactly the CPU's port-I/O exits.
    expect(io.reads + io.writes).toBe(cpu.exitCounts[EXIT_IO]);
    expect([...portCounts.values()].reduce((a, b) => a + b, 0)).toBe(cpu.exitCounts[EXIT_IO]);
    expect(portCounts.get(0x3f8)).toBe(11); // DLL at init, then 5 RBR reads + 5 THR writes in the handler
    expect(portCounts.get(0x20)).toBe(1 + ticks + 5); // ICW1 + one EOI per interrupt
  });

  it('takes PIT, RTC (through the slave PIC) and UART transmit interrupts in protected mode', () => {
    const clock = new MachineClock(1_000_000_000);
    const memory = new FlatMemory(1 << 20);
    memory.load(0x10000, Uint8Array.from(PROGRAM_PM));
    const pic = new Pic8259Pair();
    const pit = new Pit8254({ clock, irq: (level) => pic.setIrq(0, level) });
    const rtc = new Rtc({ clock, irq: (level) => pic.setIrq(8, level), epochMs: Date.UTC(2026, 10, 25, 12) });
    const output: number[] = [];
    const uart = new Uart16550({ irq: (level) => pic.setIrq(4, level), output: (b) => output.push(b) });
    const io = new PortBus();
    io.registerBytes(0x20, 2, pic.master, 'pic-master');
    io.registerBytes(0xa0, 2, pic.slave, 'pic-slave');
    io.registerBytes(0x40, 4, pit, 'pit');
    io.registerBytes(0x70, 2, rtc, 'rtc');
    io.registerBytes(0x3f8, 8, uart, 'com1');
    const cpu = new Cpu({ memory, io, interrupts: pic, clock });
    cpu.enterFlatProtectedMode(0x10000);
    const next = () => Math.min(pit.nextDeadline(), rtc.nextDeadline());
    let finished = false;
    for (let iter = 0; iter < 100_000 && !finished; iter++) {
      const exit = cpu.run(Math.max(1, Math.min(50_000, next() - clock.now())));
      pit.update();
      rtc.update();
      if (exit.reason === 'hlt') {
        if ((cpu.eflags & 0x200) === 0) finished = true;
        else if (!pic.pending()) {
          clock.advance(next() - clock.now());
          pit.update();
          rtc.update();
        }
      } else {
        expect(exit.reason).toBe('budget');
      }
    }
    expect(finished).toBe(true);
    expect(cpu.cr0 & 1).toBe(1);
    const dword = (a: number) => new DataView(memory.bytes.buffer).getUint32(a, true);
    const timers = dword(0x8000);
    const rtcs = dword(0x8004);
    expect(String.fromCharCode(...output)).toBe('pv!\n');
    expect(dword(0x800c)).toBe(1);
    expect(timers).toBeGreaterThanOrEqual(10);
    expect(rtcs).toBeGreaterThanOrEqual(5);
    // Interrupt counts agree with virtual time: 100 Hz and 64 Hz.
    const ms = clock.now() / 1e6;
    expect(Math.abs(timers - Math.floor(ms / 10.00015))).toBeLessThanOrEqual(1);
    expect(Math.abs(rtcs - Math.floor(ms / 15.625))).toBeLessThanOrEqual(1);
    // 5 THRE interrupts: one per byte and one that finds the end of the string.
    expect(pic.counters.acknowledges).toBe(timers + rtcs + 5);
    expect(pic.counters.spuriousMaster + pic.counters.spuriousSlave).toBe(0);
    expect(pic.isr).toBe(0);
    expect(rtc.nmiMasked).toBe(false);
    expect(io.unclaimed).toBe(0);
  });

  it('reads the RTC like Linux mach_get_cmos_time: waits out UIP, then sees the epoch roll over', () => {
    const clock = new MachineClock(1_000_000_000);
    const memory = new FlatMemory(1 << 20);
    memory.load(ORIGIN, Uint8Array.from(PROGRAM_RTC));
    // 100 us before midnight of New Year 2027: inside the 244 us UIP window.
    const rtc = new Rtc({ clock, irq: () => {}, epochMs: Date.UTC(2027, 0, 1) - 0.1 });
    const io = new PortBus();
    io.registerBytes(0x70, 2, rtc, 'rtc');
    const cpu = new Cpu({ memory, io, clock });
    cpu.loadSegmentReal(SREG_CS, 0);
    cpu.eip = ORIGIN;
    expect(cpu.run(1_000_000).reason).toBe('hlt');
    const ram = memory.bytes;
    expect(Array.from(ram.subarray(0x600, 0x607))).toEqual([0x00, 0x00, 0x00, 0x01, 0x01, 0x27, 0x20]);
    const spins = ram[0x610]! | (ram[0x611]! << 8);
    // Each spin is two port exits (3,000+ cycles = 3 us): about 100 us / 3 us of waiting.
    expect(spins).toBeGreaterThan(20);
    expect(spins).toBeLessThan(40);
    expect(clock.now()).toBeGreaterThan(100_000);
  });
});
