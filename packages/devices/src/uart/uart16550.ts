/**
 * 8250/16550A UART (TI PC16550D datasheet), shaped after rust-vmm vm-superio's `Serial`: the
 * device is `read(offset)`, `write(offset, value)` and `enqueueInput(bytes)`, given an interrupt
 * line callback, a byte sink and optional event hooks. It knows no ports, bus, CPU or clock; the
 * composer registers it (`io.registerBytes(0x3f8, 8, uart)`) and routes `irq` to IRQ4.
 *
 * Transmission is instantaneous: a byte written to THR goes straight to `output` (or, in loopback,
 * into the receive FIFO), so LSR.THRE/TEMT always read 1 and the THRE interrupt re-arms at once.
 * Reception is paced by the guest: `enqueueInput` puts bytes in a host-side queue and the UART moves
 * them into its 16-byte receive FIFO (1-byte holding register with FIFOs off) as the guest reads
 * RBR, so no byte the host handed over is ever dropped. With zero character time, the FIFO
 * character-timeout condition (datasheet: no character in or out of the FIFO for 4 character
 * times) holds as soon as the FIFO is non-empty, below its trigger level and no more input is
 * queued.
 */

import { checkState, DevicesError, stateBool, stateBytes, stateInt } from '../errors';
import { ByteQueue } from './byte-queue';
import {
  UART_BASE_BAUD,
  UART_FCR_CLEAR_RCVR,
  UART_FCR_ENABLE_FIFO,
  UART_FCR_TRIGGER_MASK,
  UART_FCR_TRIGGER_SHIFT,
  UART_FIFO_SIZE,
  UART_FIFO_TRIGGER_LEVELS,
  UART_IER_MASK,
  UART_IER_MSI,
  UART_IER_RDI,
  UART_IER_RLSI,
  UART_IER_THRI,
  UART_IIR_FIFO_ENABLED,
  UART_IIR_MSI,
  UART_IIR_NO_INT,
  UART_IIR_RDI,
  UART_IIR_RLSI,
  UART_IIR_RX_TIMEOUT,
  UART_IIR_THRI,
  UART_LCR_DLAB,
  UART_LSR_BI,
  UART_LSR_BRK_ERROR_BITS,
  UART_LSR_DR,
  UART_LSR_FE,
  UART_LSR_FIFOE,
  UART_LSR_OE,
  UART_LSR_PE,
  UART_LSR_TEMT,
  UART_LSR_THRE,
  UART_MCR_DTR,
  UART_MCR_LOOP,
  UART_MCR_MASK,
  UART_MCR_OUT1,
  UART_MCR_OUT2,
  UART_MCR_RTS,
  UART_MSR_CTS,
  UART_MSR_DCD,
  UART_MSR_DCTS,
  UART_MSR_DDCD,
  UART_MSR_DDSR,
  UART_MSR_DELTA_MASK,
  UART_MSR_DSR,
  UART_MSR_RI,
  UART_MSR_TERI,
} from './registers';

/** Optional hooks; each defaults to doing nothing (vm-superio's `SerialEvents`). */
export interface UartEvents {
  /** The guest read a byte from RBR. */
  bufferRead?(): void;
  /** The host input queue became empty: everything enqueued has reached the guest's FIFO. */
  inputDrained?(): void;
  /** The guest read RBR while no data was available (a driver bug or a lost race). */
  missedRead?(): void;
}

/** Construction options of a UART. */
export interface UartOptions {
  /** The interrupt output; called with the new level on every change (route to IRQ4/IRQ3). */
  irq: (level: boolean) => void;
  /** Receives every byte the guest transmits (not called in loopback mode). */
  output: (byte: number) => void;
  events?: UartEvents;
  /** Bytes the host-side input queue holds (default 65536); `enqueueInput` accepts up to this. */
  inputCapacity?: number;
  /**
   * Gate the interrupt output with MCR.OUT2, as the PC's ISA wiring does. Default false, like QEMU
   * and vm-superio (some guests never set OUT2 and still expect interrupts).
   */
  gateIrqWithOut2?: boolean;
}

/** Misuse and traffic counters, for tests and statistics. */
export interface UartCounters {
  /** Bytes the guest transmitted. */
  txBytes: number;
  /** Bytes the guest received through RBR. */
  rxBytes: number;
  /** RBR reads with no data available. */
  missedReads: number;
  /** Loopback bytes lost because the receive FIFO was full (LSR.OE). */
  overruns: number;
  /** Received bytes discarded by a guest FIFO reset (FCR). */
  discarded: number;
}

/** Plain, versioned snapshot of a UART (host queue included). */
export interface UartState {
  kind: 'uart16550';
  version: 1;
  dll: number;
  dlm: number;
  ier: number;
  lcr: number;
  mcr: number;
  scr: number;
  fifoEnabled: boolean;
  triggerLevel: number;
  lsrErrors: number;
  msrDeltas: number;
  modemInputs: number;
  thrInterrupt: boolean;
  rxFifo: number[];
  /** Per received byte: its PE/FE/BI bits (LSR positions), parallel to `rxFifo`. */
  rxErrors: number[];
  input: number[];
  /** Per queued byte: its PE/FE/BI bits, parallel to `input`. */
  inputErrors: number[];
}

/** A receive error the host can attach to a byte (`enqueueWithError`). */
export type UartRxError = 'parity' | 'framing' | 'break';

const RX_CHAR_ERRORS = UART_LSR_PE | UART_LSR_FE | UART_LSR_BI;

const SNAPSHOT_KIND = 'uart16550';
const NOOP_EVENTS: UartEvents = {};

/** A 16550A UART. */
export class Uart16550 {
  readonly counters: UartCounters = { txBytes: 0, rxBytes: 0, missedReads: 0, overruns: 0, discarded: 0 };

  private readonly irqOut: (level: boolean) => void;
  private readonly output: (byte: number) => void;
  private readonly events: UartEvents;
  private readonly gateOut2: boolean;

  private dll = 0x0c; // 9600 baud, as a BIOS leaves it
  private dlm = 0;
  private ier = 0;
  private lcr = 0x03; // 8N1
  private mcr = UART_MCR_OUT2;
  private scr = 0;
  private fifoEnabled = false;
  private triggerLevel = 1;
  private lsrErrors = 0;
  private msrDeltas = 0;
  /** CTS/DSR/RI/DCD as the host presents them (MSR bits 7:4), used outside loopback. */
  private modemInputs = UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
  private thrInterrupt = false;
  private irqLevel = false;

  /** The receive FIFO; each byte tagged with its PE/FE/BI bits (errors travel with their character). */
  private readonly rx = new ByteQueue(UART_FIFO_SIZE);
  /** The host-side input queue, same tagging. */
  private readonly input: ByteQueue;

  constructor(options: UartOptions) {
    if (typeof options?.irq !== 'function' || typeof options.output !== 'function') {
      throw new DevicesError('INVALID_CONFIG', 'Uart16550 needs irq and output callbacks');
    }
    const capacity = options.inputCapacity ?? 65536;
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 28) {
      throw new DevicesError(
        'INVALID_CONFIG',
        `Uart16550 inputCapacity ${String(capacity)} is not in 1..2^28`,
      );
    }
    this.irqOut = options.irq;
    this.output = options.output;
    this.events = options.events ?? NOOP_EVENTS;
    this.gateOut2 = options.gateIrqWithOut2 ?? false;
    this.input = new ByteQueue(capacity);
  }

  /** Create a UART from a snapshot taken by `saveState`. */
  static fromState(state: UartState, options: UartOptions): Uart16550 {
    const uart = new Uart16550(options);
    uart.restore(state);
    return uart;
  }

  // ---- Host side ----

  /**
   * Queue bytes for the guest to receive. Returns how many were accepted (all of them unless the
   * host queue is full); the caller keeps the rest and retries later (backpressure).
   */
  enqueueInput(bytes: ArrayLike<number>): number {
    const n = Math.min(bytes.length, this.input.free);
    for (let i = 0; i < n; i++) this.input.push(bytes[i]! & 0xff, 0);
    this.pump();
    this.updateIrq();
    return n;
  }

  /**
   * Queue one byte received with a line error: a break (a NUL with LSR.BI, what a terminal's
   * "send break" and Linux's SysRq use), or a byte with a parity or framing error. The error shows
   * in LSR when the byte reaches the top of the FIFO and raises the line-status interrupt. Returns
   * false if the host queue is full.
   */
  enqueueWithError(byte: number, error: UartRxError): boolean {
    const bit =
      error === 'break'
        ? UART_LSR_BI
        : error === 'parity'
          ? UART_LSR_PE
          : error === 'framing'
            ? UART_LSR_FE
            : 0;
    if (bit === 0)
      throw new DevicesError(
        'INVALID_ARGUMENT',
        `UART receive error ${String(error)} is not parity, framing or break`,
      );
    if (this.input.free === 0) return false;
    this.input.push(error === 'break' ? 0 : byte & 0xff, bit);
    this.pump();
    this.updateIrq();
    return true;
  }

  /** Queue a break condition (shorthand for `enqueueWithError(0, 'break')`). */
  enqueueBreak(): boolean {
    return this.enqueueWithError(0, 'break');
  }

  /** Bytes queued by the host that the guest has not yet taken into its FIFO. */
  get pendingInput(): number {
    return this.input.count;
  }

  /** Free space in the host input queue. */
  get inputSpace(): number {
    return this.input.free;
  }

  /** Bytes waiting in the guest-visible receive FIFO. */
  get rxFifoLevel(): number {
    return this.rx.count;
  }

  /** Set the modem inputs the host presents (MSR CTS/DSR/RI/DCD); records deltas like hardware. */
  setModemInputs(inputs: { cts?: boolean; dsr?: boolean; ri?: boolean; dcd?: boolean }): void {
    const before = this.modemStatus();
    let m = this.modemInputs;
    const set = (bit: number, v: boolean | undefined) => {
      if (v !== undefined) m = v ? m | bit : m & ~bit;
    };
    set(UART_MSR_CTS, inputs.cts);
    set(UART_MSR_DSR, inputs.dsr);
    set(UART_MSR_RI, inputs.ri);
    set(UART_MSR_DCD, inputs.dcd);
    this.modemInputs = m;
    this.noteModemChange(before);
    this.updateIrq();
  }

  /** The interrupt output level. */
  get irqAsserted(): boolean {
    return this.irqLevel;
  }

  /** The programmed baud rate (115200 / divisor), or 0 for divisor 0. */
  get baudRate(): number {
    const divisor = this.dll | (this.dlm << 8);
    return divisor === 0 ? 0 : UART_BASE_BAUD / divisor;
  }

  // ---- Guest side ----

  /** Guest read of register `offset` (0..7). */
  read(offset: number): number {
    switch (offset & 7) {
      case 0:
        if (this.lcr & UART_LCR_DLAB) return this.dll;
        return this.readRbr();
      case 1:
        return this.lcr & UART_LCR_DLAB ? this.dlm : this.ier;
      case 2: {
        const cause = this.interruptId();
        // Datasheet: reading IIR while THRE is the indicated source clears that interrupt.
        if (cause === UART_IIR_THRI) {
          this.thrInterrupt = false;
          this.updateIrq();
        }
        return cause | (this.fifoEnabled ? UART_IIR_FIFO_ENABLED : 0);
      }
      case 3:
        return this.lcr;
      case 4:
        return this.mcr;
      case 5: {
        const lsr = this.lineStatus();
        if (this.lsrErrors !== 0) {
          this.lsrErrors = 0; // error bits clear on read
          this.updateIrq();
        }
        return lsr;
      }
      case 6: {
        const msr = this.modemStatus() | this.msrDeltas;
        if (this.msrDeltas !== 0) {
          this.msrDeltas = 0;
          this.updateIrq();
        }
        return msr;
      }
      default:
        return this.scr;
    }
  }

  /** Guest write of `value` to register `offset` (0..7). */
  write(offset: number, value: number): void {
    value &= 0xff;
    switch (offset & 7) {
      case 0:
        if (this.lcr & UART_LCR_DLAB) this.dll = value;
        else this.writeThr(value);
        return;
      case 1:
        if (this.lcr & UART_LCR_DLAB) {
          this.dlm = value;
          return;
        }
        this.writeIer(value);
        return;
      case 2:
        this.writeFcr(value);
        return;
      case 3:
        this.lcr = value;
        return;
      case 4: {
        const before = this.modemStatus();
        const wasLoop = (this.mcr & UART_MCR_LOOP) !== 0;
        this.mcr = value & UART_MCR_MASK;
        this.noteModemChange(before);
        if (wasLoop && !(this.mcr & UART_MCR_LOOP)) this.pump(); // SIN reconnected
        this.updateIrq();
        return;
      }
      case 5:
      case 6:
        return; // LSR/MSR writes are factory-test only; ignored
      default:
        this.scr = value;
    }
  }

  // ---- Snapshots ----

  saveState(): UartState {
    const rx = this.rx.toArrays();
    const input = this.input.toArrays();
    return {
      kind: SNAPSHOT_KIND,
      version: 1,
      dll: this.dll,
      dlm: this.dlm,
      ier: this.ier,
      lcr: this.lcr,
      mcr: this.mcr,
      scr: this.scr,
      fifoEnabled: this.fifoEnabled,
      triggerLevel: this.triggerLevel,
      lsrErrors: this.lsrErrors,
      msrDeltas: this.msrDeltas,
      modemInputs: this.modemInputs,
      thrInterrupt: this.thrInterrupt,
      rxFifo: rx.bytes,
      rxErrors: rx.tags,
      input: input.bytes,
      inputErrors: input.tags,
    };
  }

  private restore(state: UartState): void {
    const k = SNAPSHOT_KIND;
    const s = checkState(state, k, 1);
    const byte = (f: string) => stateInt(s, k, f, 0, 255);
    const rxFifo = s.rxFifo;
    const input = s.input;
    if (!Array.isArray(rxFifo) || rxFifo.length > UART_FIFO_SIZE) {
      throw new DevicesError('INVALID_STATE', `${k} snapshot field rxFifo is not an array of <= 16 bytes`);
    }
    if (!Array.isArray(input) || input.length > this.input.capacity) {
      throw new DevicesError('INVALID_STATE', `${k} snapshot field input does not fit the input queue`);
    }
    const rxBytes = stateBytes(s, k, 'rxFifo', rxFifo.length);
    const inBytes = stateBytes(s, k, 'input', input.length);
    const rxErrs = stateBytes(s, k, 'rxErrors', rxFifo.length).map((e) => e & RX_CHAR_ERRORS);
    const inErrs = stateBytes(s, k, 'inputErrors', input.length).map((e) => e & RX_CHAR_ERRORS);
    const trigger = stateInt(s, k, 'triggerLevel', 1, 14);
    if (!(UART_FIFO_TRIGGER_LEVELS as readonly number[]).includes(trigger)) {
      throw new DevicesError(
        'INVALID_STATE',
        `${k} snapshot field triggerLevel = ${trigger} is not 1, 4, 8 or 14`,
      );
    }
    this.dll = byte('dll');
    this.dlm = byte('dlm');
    this.ier = byte('ier') & UART_IER_MASK;
    this.lcr = byte('lcr');
    this.mcr = byte('mcr') & UART_MCR_MASK;
    this.scr = byte('scr');
    this.fifoEnabled = stateBool(s, k, 'fifoEnabled');
    this.triggerLevel = trigger;
    this.lsrErrors = byte('lsrErrors') & UART_LSR_BRK_ERROR_BITS;
    this.msrDeltas = byte('msrDeltas') & UART_MSR_DELTA_MASK;
    this.modemInputs = byte('modemInputs') & 0xf0;
    this.thrInterrupt = stateBool(s, k, 'thrInterrupt');
    if (!this.fifoEnabled && rxBytes.length > 1) {
      throw new DevicesError(
        'INVALID_STATE',
        `${k} snapshot holds ${rxBytes.length} received bytes with FIFOs off`,
      );
    }
    this.rx.load(rxBytes, rxErrs);
    this.input.load(inBytes, inErrs);
    this.irqLevel = false;
    this.updateIrq();
  }

  // ---- Internals ----

  private readRbr(): number {
    if (this.rx.count === 0) {
      this.counters.missedReads++;
      this.events.missedRead?.();
      return 0;
    }
    const byte = this.rx.shift();
    this.counters.rxBytes++;
    // Let the line fall before the next queued byte "arrives", so an edge-triggered PIC sees a new
    // request for it (with FIFOs off, each byte is its own RDA interrupt, as on a real line).
    this.revealTop();
    this.updateIrq();
    this.pump();
    this.updateIrq();
    this.events.bufferRead?.();
    return byte;
  }

  private writeThr(value: number): void {
    // Writing THR clears the THRE interrupt; the byte leaves at once and THR is empty again, so
    // the interrupt re-arms: the line pulses low then high, giving an edge-triggered PIC an edge.
    this.thrInterrupt = false;
    this.updateIrq();
    if (this.mcr & UART_MCR_LOOP) {
      if (this.rx.count >= this.rxCapacity()) {
        this.lsrErrors |= UART_LSR_OE; // datasheet: the shift register character is overwritten
        this.counters.overruns++;
      } else {
        this.pushRx(value, 0);
      }
    } else {
      this.counters.txBytes++;
      this.output(value);
    }
    this.thrInterrupt = true;
    this.updateIrq();
  }

  private writeIer(value: number): void {
    const changed = (this.ier ^ value) & UART_IER_THRI;
    this.ier = value & UART_IER_MASK;
    // Enabling ETBEI while THR is empty raises the THRE interrupt at once (16550 behaviour that
    // Linux's 8250 driver probes for); disabling it drops a pending one.
    if (changed) this.thrInterrupt = (this.ier & UART_IER_THRI) !== 0;
    this.updateIrq();
  }

  private writeFcr(value: number): void {
    const enable = (value & UART_FCR_ENABLE_FIFO) !== 0;
    if (enable !== this.fifoEnabled) {
      // Changing FCR0 resets both FIFOs (datasheet, FCR bit 0).
      this.discardRx();
      this.fifoEnabled = enable;
    }
    if (enable) {
      if (value & UART_FCR_CLEAR_RCVR) this.discardRx();
      // UART_FCR_CLEAR_XMIT: the transmit FIFO is always empty here.
      this.triggerLevel =
        UART_FIFO_TRIGGER_LEVELS[(value & UART_FCR_TRIGGER_MASK) >> UART_FCR_TRIGGER_SHIFT]!;
    } else {
      this.triggerLevel = 1;
    }
    this.pump();
    this.updateIrq();
  }

  private discardRx(): void {
    this.counters.discarded += this.rx.count;
    this.rx.clear();
    this.lsrErrors = 0;
  }

  private rxCapacity(): number {
    return this.fifoEnabled ? UART_FIFO_SIZE : 1;
  }

  /** Move host-queued bytes into the receive FIFO while it has room (not in loopback). */
  private pump(): void {
    if (this.input.count === 0 || this.mcr & UART_MCR_LOOP) return;
    const cap = this.rxCapacity();
    while (this.input.count > 0 && this.rx.count < cap) {
      const tag = this.input.headTag();
      this.pushRx(this.input.shift(), tag);
    }
    if (this.input.count === 0) this.events.inputDrained?.();
  }

  private lineStatus(): number {
    const fifoError = this.fifoEnabled && this.rx.anyTag() !== 0 ? UART_LSR_FIFOE : 0;
    return (this.rx.count > 0 ? UART_LSR_DR : 0) | this.lsrErrors | fifoError | UART_LSR_THRE | UART_LSR_TEMT;
  }

  /** A byte became the top of the FIFO: reveal its errors in LSR (datasheet, LSR2–LSR4). */
  private revealTop(): void {
    this.lsrErrors |= this.rx.headTag();
  }

  private pushRx(byte: number, errors: number): void {
    this.rx.push(byte, errors);
    if (this.rx.count === 1) this.revealTop();
  }

  /** MSR bits 7:4: the modem inputs, or in loopback the looped-back MCR outputs (datasheet). */
  private modemStatus(): number {
    if (!(this.mcr & UART_MCR_LOOP)) return this.modemInputs;
    const m = this.mcr;
    return (
      (m & UART_MCR_RTS ? UART_MSR_CTS : 0) |
      (m & UART_MCR_DTR ? UART_MSR_DSR : 0) |
      (m & UART_MCR_OUT1 ? UART_MSR_RI : 0) |
      (m & UART_MCR_OUT2 ? UART_MSR_DCD : 0)
    );
  }

  private noteModemChange(before: number): void {
    const after = this.modemStatus();
    const diff = before ^ after;
    if (diff & UART_MSR_CTS) this.msrDeltas |= UART_MSR_DCTS;
    if (diff & UART_MSR_DSR) this.msrDeltas |= UART_MSR_DDSR;
    if (diff & UART_MSR_DCD) this.msrDeltas |= UART_MSR_DDCD;
    if (before & UART_MSR_RI && !(after & UART_MSR_RI)) this.msrDeltas |= UART_MSR_TERI;
  }

  /** The highest-priority pending cause as IIR bits 3:0 (datasheet table "Interrupt Control Functions"). */
  private interruptId(): number {
    const ier = this.ier;
    if (ier & UART_IER_RLSI && this.lsrErrors & UART_LSR_BRK_ERROR_BITS) return UART_IIR_RLSI;
    if (ier & UART_IER_RDI && this.rx.count > 0) {
      if (!this.fifoEnabled || this.rx.count >= this.triggerLevel) return UART_IIR_RDI;
      return UART_IIR_RX_TIMEOUT;
    }
    if (ier & UART_IER_THRI && this.thrInterrupt) return UART_IIR_THRI;
    if (ier & UART_IER_MSI && this.msrDeltas) return UART_IIR_MSI;
    return UART_IIR_NO_INT;
  }

  private updateIrq(): void {
    let level = this.interruptId() !== UART_IIR_NO_INT;
    if (this.gateOut2 && !(this.mcr & UART_MCR_OUT2)) level = false;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irqOut(level);
    }
  }
}
