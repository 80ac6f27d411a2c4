// Wire a PC by hand from the @pv packages and boot the mini PV kernel that ships with @pv/guest.
import { LocalApic } from '@pv/apic';
import { DebugExit, PortBus, Uart16550 } from '@pv/devices';
import { loadMultiboot, miniKernelImage } from '@pv/guest';
import { Mmu } from '@pv/mmu';
import { Cpu, EAX, EBX, MachineClock } from '@pv/x86-core';

const RAM = 64 << 20;
const clock = new MachineClock(1_000_000_000); // virtual time: 1 cycle per instruction
const mmu = new Mmu({ ramSize: RAM });
const apic = new LocalApic({ id: 0, clock, bsp: true });
mmu.mapMmio(apic.base, 4096, {
  read: (o, s) => apic.mmioRead(o, s),
  write: (o, s, v) => apic.mmioWrite(o, s, v),
});

const ports = new PortBus();
const uart = new Uart16550({ irq: () => {}, output: (b) => process.stdout.write(String.fromCharCode(b)) });
ports.registerBytes(0x3f8, 8, uart); // COM1
ports.register(0xf4, 4, new DebugExit({ events: { onExit: () => cpu.stop() } })); // isa-debug-exit

const msr = { read: (m) => apic.readMsr(m), write: (m, v) => apic.writeMsr(m, v) };
const cpu = new Cpu({ memory: mmu, io: ports, msr, interrupts: apic, clock });
const boot = loadMultiboot(miniKernelImage(), mmu, { ramSize: RAM, cmdline: 'pv=off' });
cpu.enterFlatProtectedMode(boot.entry);
cpu.regs[EAX] = boot.eax;
cpu.regs[EBX] = boot.ebx;

for (;;) {
  const exit = cpu.run(100_000);
  if (exit.reason === 'stop' || exit.reason === 'shutdown') break;
  // Halted: let virtual time jump to the APIC timer's deadline instead of spinning.
  if (exit.reason === 'hlt') clock.advance(Math.max(0, apic.nextDeadline() - clock.now()));
  if (apic.nextDeadline() <= clock.now()) apic.tick();
}
