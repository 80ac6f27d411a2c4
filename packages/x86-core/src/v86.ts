/**
 * Virtual-8086 mode (SDM Vol. 3 Chapter 20): entering it by IRET from CPL 0 (and, through
 * `loadV86Segments`, by a task switch), the real-mode style segment caches it runs with at CPL 3,
 * and the IOPL-sensitive IRET executed inside it. CLI/STI/PUSHF/POPF/INT n check IOPL where they are
 * executed (exec.ts, control.ts): with IOPL < 3 they raise #GP(0), which the ring-0 monitor
 * handles. Interrupts and exceptions leave v86 through the protected-mode IDT (interrupt.ts).
 * CR4.VME/PVI are not implemented and not advertised, so those rules never apply.
 */
import {
  EXC_GP,
  FLAG_1,
  FLAG_IOPL,
  FLAG_VIF,
  FLAG_VIP,
  FLAG_VM,
  FLAGS_WRITABLE,
  SREG_CS,
  SREG_DS,
  SREG_ES,
  SREG_FS,
  SREG_GS,
  SREG_SS,
} from './constants';
import type { Cpu } from './cpu';
import { flushFlags } from './flags';

/** v86 segment caches (SDM §20.1.1): base = selector × 16, limit 0xFFFF, DPL 3, present, accessed. */
const V86_DATA_ATTR = 0xf3;
const V86_CODE_ATTR = 0xfb;
/** Segment registers in the order of TSS fields and of `loadV86Segments`'s argument. */
const SREGS = [SREG_ES, SREG_CS, SREG_SS, SREG_DS, SREG_FS, SREG_GS] as const;

/**
 * Loads ES, CS, SS, DS, FS, GS (`sels` in that order) v86-style and sets CPL 3. EFLAGS.VM must
 * already be set. For IRET to v86 and for a task switch to a TSS whose EFLAGS image has VM = 1.
 */
export function loadV86Segments(cpu: Cpu, sels: ArrayLike<number>): void {
  for (let i = 0; i < 6; i++) {
    const sreg = SREGS[i]!;
    const sel = sels[i]! & 0xffff;
    cpu.setSegmentCache(sreg, sel, sel << 4, 0xffff, sreg === SREG_CS ? V86_CODE_ATTR : V86_DATA_ATTR);
  }
  if (cpu.cplValue !== 3) cpu.setCpl(3);
  cpu.pushPagingState();
}

const popped = new Int32Array(6);

/**
 * IRETD at CPL 0 whose EFLAGS image has VM = 1 (SDM "IRET", RETURN-TO-VIRTUAL-8086-MODE): `eip`,
 * `cs` and `eflags` were read from ESP+0/4/8; ESP, SS, ES, DS, FS, GS follow as dwords. Everything
 * is read before any register changes, so a #SS/#PF leaves the IRET restartable.
 */
export function iretToV86(cpu: Cpu, eip: number, cs: number, eflags: number): void {
  const esp = cpu.peek32(12);
  for (let i = 0; i < 5; i++) popped[i] = cpu.peek32(16 + 4 * i) & 0xffff; // SS, ES, DS, FS, GS
  if (eip >>> 0 > 0xffff) cpu.raise(EXC_GP, 0);
  cpu.flags = (eflags & FLAGS_WRITABLE) | (eflags & (FLAG_VIF | FLAG_VIP)) | FLAG_1 | FLAG_VM;
  cpu.ccOp = 0;
  v86Sels[0] = popped[1]!;
  v86Sels[1] = cs;
  v86Sels[2] = popped[0]!;
  v86Sels[3] = popped[2]!;
  v86Sels[4] = popped[3]!;
  v86Sels[5] = popped[4]!;
  loadV86Segments(cpu, v86Sels);
  cpu.regs[4] = esp;
  cpu.ip = eip & 0xffff;
  cpu.nmiBlocked = false;
}
const v86Sels = new Int32Array(6);

/**
 * IRET executed in v86 mode (SDM "IRET"): with IOPL = 3 a real-mode style return that cannot change
 * VM or IOPL (nor VIF/VIP); with IOPL < 3, #GP(0) to the monitor.
 */
export function iretInV86(cpu: Cpu): void {
  if ((cpu.flags & FLAG_IOPL) !== FLAG_IOPL) cpu.raise(EXC_GP, 0);
  const o32 = cpu.o32;
  const n = o32 ? 4 : 2;
  const ip = o32 ? cpu.peek32(0) : cpu.peek16(0);
  const sel = (o32 ? cpu.peek32(n) : cpu.peek16(n)) & 0xffff;
  const fl = o32 ? cpu.peek32(2 * n) : cpu.peek16(2 * n);
  if (ip >>> 0 > cpu.segRawLimit[SREG_CS]!) cpu.raise(EXC_GP, 0);
  cpu.setSegmentCache(SREG_CS, sel, sel << 4, 0xffff, V86_CODE_ATTR);
  cpu.addSp(3 * n);
  cpu.ip = ip;
  const mask = (o32 ? FLAGS_WRITABLE : 0xffff) & ~(FLAG_IOPL | FLAG_VM);
  flushFlags(cpu);
  cpu.flags = (cpu.flags & ~mask) | (fl & mask) | FLAG_1;
  cpu.nmiBlocked = false;
}

/** INT n (CD ib) in v86 mode is IOPL-sensitive: #GP(0) when IOPL < 3 (SDM §20.2.7; INT3, INTO and INT1 are not). */
export function v86IntCheck(cpu: Cpu): void {
  if ((cpu.flags & FLAG_VM) !== 0 && (cpu.flags & FLAG_IOPL) !== FLAG_IOPL) cpu.raise(EXC_GP, 0);
}
