import { Cpu, FlatMemory, MachineClock, SREG_CS } from '@pv/x86-core';
import { describe, expect, it } from 'vitest';
import { Pic8259Pair } from '../src/pic/pic-pair';
import { Pit8254 } from '../src/pit/pit8254';
import { PortBus } from '../src/portbus';
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
  const io = new PortBus();
  io.registerBytes(0x20, 2, pic.master, 'pic-master');
  io.registerBytes(0xa0, 2, pic.slave, 'pic-slave');
  io.registerBytes(0x4d0, 2, pic.elcr, 'elcr');
  io.registerBytes(0x40, 4, pit, 'pit');
  io.registerBytes(0x61, 1, pit.portB, 'port-b');
  io.registerBytes(0x3f8, 8, uart, 'com1');
  const cpu = new Cpu({ memory, io, interrupts: pic, clock });
  cpu.loadSegmentReal(SREG_CS, 0);
  cpu.eip = ORIGIN;
  return { clock, memory, pic, pit, uart, io, cpu, output };
}

describe('UART + PIC + PIT + CPU end to end', () => {
  it('takes timer and serial interrupts in a real-mode program', () => {
    const { clock, memory, pic, pit, uart, io, cpu, output } = machine();
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
  });
});
