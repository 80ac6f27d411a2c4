/**
 * Intel 8042 keyboard controller, as much of it as a kernel uses: status/command and data ports,
 * the controller command byte, self-test, interface tests, the output port (A20 gate and the reset
 * line), the pulse-output commands (0xfe = reset), and a PS/2 keyboard that acknowledges the
 * commands drivers send during probe. Host scancodes are queued and delivered one byte at a time.
 *
 * References: IBM PC AT Technical Reference (8042 commands), QEMU `hw/input/pckbd.c` and
 * `hw/input/ps2.c`, Linux `drivers/input/serio/i8042.h`.
 *
 * Register offsets are relative to port 0x60: data at offset 0, status/command at offset 4
 * (the composer maps 0x60 → 0 and 0x64 → 4; port 0x61 belongs to the PIT/speaker).
 */
import { checkState, stateBool, stateInt } from '../errors';
import { type SystemEvents, sizeMask } from './events';
import { stateIntArray } from './snapshot';

/** Data register offset (port 0x60). */
export const I8042_DATA = 0;
/** Status (read) / command (write) register offset (port 0x64). */
export const I8042_STATUS = 4;

/** Status: output buffer full. */
export const I8042_STR_OBF = 0x01;
/** Status: input buffer full (never set: writes are consumed at once). */
export const I8042_STR_IBF = 0x02;
/** Status: system flag (set after a passed self-test). */
export const I8042_STR_SYSFLAG = 0x04;
/** Status: last write was to the command port. */
export const I8042_STR_CMDDAT = 0x08;
/** Status: keyboard not inhibited. */
export const I8042_STR_KEYLOCK = 0x10;
/** Status: the output buffer holds AUX (mouse) data. */
export const I8042_STR_AUXDATA = 0x20;

/** Command byte: keyboard interrupt (IRQ1) enable. */
export const I8042_CTR_KBDINT = 0x01;
/** Command byte: AUX interrupt (IRQ12) enable. */
export const I8042_CTR_AUXINT = 0x02;
/** Command byte: system flag. */
export const I8042_CTR_SYSFLAG = 0x04;
/** Command byte: keyboard clock disabled. */
export const I8042_CTR_KBDDIS = 0x10;
/** Command byte: AUX clock disabled. */
export const I8042_CTR_AUXDIS = 0x20;
/** Command byte: scancode set 2 → set 1 translation. */
export const I8042_CTR_XLATE = 0x40;

/** Controller commands (writes to port 0x64). */
export const I8042_CMD_CTL_RCTR = 0x20;
export const I8042_CMD_CTL_WCTR = 0x60;
export const I8042_CMD_AUX_DISABLE = 0xa7;
export const I8042_CMD_AUX_ENABLE = 0xa8;
export const I8042_CMD_AUX_TEST = 0xa9;
export const I8042_CMD_CTL_TEST = 0xaa;
export const I8042_CMD_KBD_TEST = 0xab;
export const I8042_CMD_KBD_DISABLE = 0xad;
export const I8042_CMD_KBD_ENABLE = 0xae;
export const I8042_CMD_READ_INPUT = 0xc0;
export const I8042_CMD_READ_OUTPUT = 0xd0;
export const I8042_CMD_WRITE_OUTPUT = 0xd1;
export const I8042_CMD_KBD_LOOP = 0xd2;
export const I8042_CMD_AUX_LOOP = 0xd3;
export const I8042_CMD_AUX_SEND = 0xd4;
export const I8042_CMD_DISABLE_A20 = 0xdd;
export const I8042_CMD_ENABLE_A20 = 0xdf;
export const I8042_CMD_READ_TEST_INPUTS = 0xe0;
/** 0xf0–0xff pulse the output-port bits whose mask bit is 0; 0xfe pulses bit 0 = reset. */
export const I8042_CMD_PULSE_BASE = 0xf0;
export const I8042_CMD_RESET = 0xfe;

/** Self-test passed. */
export const I8042_SELFTEST_OK = 0x55;

/** Output port: bit 0 is the system reset line (active low). */
export const I8042_OUT_RESET = 0x01;
/** Output port: bit 1 is the A20 gate. */
export const I8042_OUT_A20 = 0x02;
/** Output port: bit 4 = keyboard output buffer full (IRQ1), bit 5 = AUX output buffer full. */
export const I8042_OUT_OBF = 0x10;
export const I8042_OUT_AUXOBF = 0x20;

/** PS/2 device replies. */
export const PS2_ACK = 0xfa;
export const PS2_RESEND = 0xfe;
export const PS2_BAT_OK = 0xaa;
export const PS2_ECHO = 0xee;

/** PS/2 keyboard commands (writes to port 0x60). */
export const KBD_CMD_SET_LEDS = 0xed;
export const KBD_CMD_ECHO = 0xee;
export const KBD_CMD_SCANCODE = 0xf0;
export const KBD_CMD_GET_ID = 0xf2;
export const KBD_CMD_SET_RATE = 0xf3;
export const KBD_CMD_ENABLE = 0xf4;
export const KBD_CMD_RESET_DISABLE = 0xf5;
export const KBD_CMD_RESET_ENABLE = 0xf6;
export const KBD_CMD_RESET = 0xff;

/** PS/2 mouse commands the AUX port answers. */
export const AUX_CMD_GET_ID = 0xf2;
export const AUX_CMD_RESET = 0xff;

const QUEUE_SIZE = 64;
/** Host scancode queue capacity. */
export const I8042_INPUT_QUEUE_SIZE = 4096;
/** Byte sources in the output queue. */
const SRC_CTRL = 0;
const SRC_KBD = 1;
const SRC_AUX = 2;
/** AUX-side bytes the controller itself makes (command 0xd3): AUX data, never held back. */
const SRC_CTRL_AUX = 3;

export interface I8042Options {
  /** Interrupt output: `line` is 1 (keyboard) or 12 (AUX); called on every level change. */
  irq?: (line: 1 | 12, level: boolean) => void;
  /** Reset and A20 hooks (the composer's `SystemEvents`). */
  events?: SystemEvents;
}

/** Counters a test or a debugger can read; guest misuse never throws. */
export interface I8042Stats {
  /** Host scancodes refused because the input queue was full. */
  droppedInput: number;
  /** Device replies lost because the guest never read the output buffer. */
  droppedReplies: number;
  /** Unknown controller commands. */
  unknownCommands: number;
}

/** Plain, versioned snapshot of an `I8042`. */
export interface I8042State {
  kind: 'i8042';
  version: 1;
  ctr: number;
  outputPort: number;
  status: number;
  obf: boolean;
  obfData: number;
  obfSource: number;
  /** Pending replies, oldest first, each `byte | source << 8`. */
  queue: number[];
  /** Host scancodes not yet delivered, oldest first. */
  input: number[];
  pendingCommand: number;
  pendingKbd: number;
  scanning: boolean;
  scancodeSet: number;
}

const KIND = 'i8042';

/** The 8042 keyboard controller with a minimal PS/2 keyboard and mouse behind it. */
export class I8042 {
  /** Controller command byte. */
  ctr = I8042_CTR_KBDINT | I8042_CTR_SYSFLAG | I8042_CTR_XLATE;
  /** Output port (bit 0 reset line high = running, bit 1 A20). */
  outputPort = I8042_OUT_RESET | I8042_OUT_A20;
  /** Status bits other than OBF/AUXDATA (which come from the output buffer). */
  private status = I8042_STR_KEYLOCK;
  /** Output buffer contents and its source. */
  private obf = false;
  private obfData = 0;
  private obfSource = SRC_CTRL;
  /** Pending replies (controller, keyboard, AUX), a ring of `byte | source << 8`. */
  private readonly queue = new Uint16Array(QUEUE_SIZE);
  private qHead = 0;
  private qCount = 0;
  /** Host scancodes waiting for the keyboard to be enabled and the buffer to be free. */
  private readonly input = new Uint8Array(I8042_INPUT_QUEUE_SIZE);
  private inHead = 0;
  private inCount = 0;
  /** A controller command waiting for its data byte (0 = none). */
  private pendingCommand = 0;
  /** A keyboard command waiting for its parameter byte (0 = none). */
  private pendingKbd = 0;
  private kbdScanning = true;
  private scancodeSet = 2;
  private irq1 = false;
  private irq12 = false;
  readonly stats: I8042Stats = { droppedInput: 0, droppedReplies: 0, unknownCommands: 0 };
  private readonly irqOut: (line: 1 | 12, level: boolean) => void;
  private readonly events: SystemEvents;
  /** Port 0x60 as a one-port device: `io.register(0x60, 1, kbc.dataPort)`. */
  readonly dataPort: {
    read(o: number, size: number): number;
    write(o: number, size: number, v: number): void;
  };
  /** Port 0x64 as a one-port device: `io.register(0x64, 1, kbc.commandPort)`. */
  readonly commandPort: {
    read(o: number, size: number): number;
    write(o: number, size: number, v: number): void;
  };

  constructor(options: I8042Options = {}) {
    this.irqOut = options.irq ?? (() => {});
    this.events = options.events ?? {};
    this.dataPort = {
      read: (o, size) => (o === 0 ? this.read(I8042_DATA, size) : sizeMask(size)),
      write: (o, size, v) => {
        if (o === 0) this.write(I8042_DATA, size, v);
      },
    };
    this.commandPort = {
      read: (o, size) => (o === 0 ? this.read(I8042_STATUS, size) : sizeMask(size)),
      write: (o, size, v) => {
        if (o === 0) this.write(I8042_STATUS, size, v);
      },
    };
  }

  /**
   * Rebuild a controller from `saveState()` data. Interrupt lines that were asserted are raised
   * again through `options.irq` (QEMU re-raises them in `post_load` as well).
   */
  static fromState(state: I8042State, options: I8042Options = {}): I8042 {
    const k = new I8042(options);
    const s = checkState(state, KIND, 1);
    const byte = (f: string) => stateInt(s, KIND, f, 0, 255);
    k.ctr = byte('ctr');
    k.outputPort = byte('outputPort');
    k.status = byte('status');
    k.obf = stateBool(s, KIND, 'obf');
    k.obfData = byte('obfData');
    k.obfSource = stateInt(s, KIND, 'obfSource', SRC_CTRL, SRC_CTRL_AUX);
    const queue = stateIntArray(s, KIND, 'queue', (SRC_CTRL_AUX << 8) | 0xff, QUEUE_SIZE);
    const input = stateIntArray(s, KIND, 'input', 0xff, I8042_INPUT_QUEUE_SIZE);
    k.pendingCommand = byte('pendingCommand');
    k.pendingKbd = byte('pendingKbd');
    k.kbdScanning = stateBool(s, KIND, 'scanning');
    k.scancodeSet = stateInt(s, KIND, 'scancodeSet', 1, 3);
    k.queue.set(queue);
    k.qCount = queue.length;
    k.input.set(input);
    k.inCount = input.length;
    k.updateIrq();
    return k;
  }

  /** Plain data for a snapshot. */
  saveState(): I8042State {
    const queue: number[] = [];
    for (let i = 0; i < this.qCount; i++) queue.push(this.queue[(this.qHead + i) % QUEUE_SIZE]!);
    const input: number[] = [];
    for (let i = 0; i < this.inCount; i++)
      input.push(this.input[(this.inHead + i) % I8042_INPUT_QUEUE_SIZE]!);
    return {
      kind: KIND,
      version: 1,
      ctr: this.ctr,
      outputPort: this.outputPort,
      status: this.status,
      obf: this.obf,
      obfData: this.obfData,
      obfSource: this.obfSource,
      queue,
      input,
      pendingCommand: this.pendingCommand,
      pendingKbd: this.pendingKbd,
      scanning: this.kbdScanning,
      scancodeSet: this.scancodeSet,
    };
  }

  /** Is the A20 gate open according to the output port? */
  get a20(): boolean {
    return (this.outputPort & I8042_OUT_A20) !== 0;
  }

  /** Is the keyboard scanning (enabled with 0xf4, disabled with 0xf5)? */
  get scanning(): boolean {
    return this.kbdScanning;
  }

  /** Scancode set selected by the guest (command 0xf0). */
  get scancodeSetSelected(): number {
    return this.scancodeSet;
  }

  /**
   * Host side: queue keyboard bytes exactly as the guest should read them at port 0x60 (set 1
   * when the command byte's XLATE bit is on, as it is by default). Returns how many were accepted;
   * bytes beyond the queue's capacity are refused (never silently lost once accepted).
   */
  enqueueScancodes(bytes: ArrayLike<number>): number {
    let n = 0;
    for (; n < bytes.length; n++) {
      if (this.inCount === I8042_INPUT_QUEUE_SIZE) {
        this.stats.droppedInput += bytes.length - n;
        break;
      }
      this.input[(this.inHead + this.inCount) % I8042_INPUT_QUEUE_SIZE] = bytes[n]! & 0xff;
      this.inCount++;
    }
    this.refill();
    return n;
  }

  /** Host scancodes not yet delivered. */
  get pendingInput(): number {
    return this.inCount;
  }

  read(offset: number, size: number): number {
    if (offset === I8042_DATA) return this.readData();
    if (offset === I8042_STATUS) return this.readStatus();
    return sizeMask(size);
  }

  write(offset: number, _size: number, value: number): void {
    value &= 0xff;
    if (offset === I8042_DATA) this.writeData(value);
    else if (offset === I8042_STATUS) this.writeCommand(value);
  }

  private readStatus(): number {
    let s = this.status;
    if (this.obf) {
      s |= I8042_STR_OBF;
      if (this.obfIsAux()) s |= I8042_STR_AUXDATA;
    }
    return s;
  }

  private readData(): number {
    const v = this.obfData;
    if (this.obf) {
      this.obf = false;
      this.refill();
    }
    return v;
  }

  private writeCommand(cmd: number): void {
    this.status |= I8042_STR_CMDDAT;
    this.pendingCommand = 0;
    switch (cmd) {
      case I8042_CMD_CTL_RCTR:
        this.reply(this.ctr);
        return;
      case I8042_CMD_CTL_WCTR:
      case I8042_CMD_WRITE_OUTPUT:
      case I8042_CMD_KBD_LOOP:
      case I8042_CMD_AUX_LOOP:
      case I8042_CMD_AUX_SEND:
        this.pendingCommand = cmd;
        return;
      case I8042_CMD_AUX_DISABLE:
        this.setCtr(this.ctr | I8042_CTR_AUXDIS);
        return;
      case I8042_CMD_AUX_ENABLE:
        this.setCtr(this.ctr & ~I8042_CTR_AUXDIS);
        return;
      case I8042_CMD_AUX_TEST:
      case I8042_CMD_KBD_TEST:
        this.reply(0x00); // interface test: no error
        return;
      case I8042_CMD_CTL_TEST:
        this.status |= I8042_STR_SYSFLAG;
        this.reply(I8042_SELFTEST_OK);
        return;
      case I8042_CMD_KBD_DISABLE:
        this.setCtr(this.ctr | I8042_CTR_KBDDIS);
        return;
      case I8042_CMD_KBD_ENABLE:
        this.setCtr(this.ctr & ~I8042_CTR_KBDDIS);
        return;
      case I8042_CMD_READ_INPUT:
        this.reply(0x80); // keyboard not inhibited
        return;
      case I8042_CMD_READ_OUTPUT: {
        let v = this.outputPort & ~(I8042_OUT_OBF | I8042_OUT_AUXOBF);
        if (this.obf) v |= this.obfIsAux() ? I8042_OUT_AUXOBF : I8042_OUT_OBF;
        this.reply(v);
        return;
      }
      case I8042_CMD_DISABLE_A20:
        this.setOutputPort(this.outputPort & ~I8042_OUT_A20);
        return;
      case I8042_CMD_ENABLE_A20:
        this.setOutputPort(this.outputPort | I8042_OUT_A20);
        return;
      case I8042_CMD_READ_TEST_INPUTS:
        this.reply(0x00);
        return;
      default:
        if (cmd >= I8042_CMD_PULSE_BASE) {
          // Pulse the output-port bits whose mask bit is 0; only bit 0 (reset) has an effect.
          if ((cmd & I8042_OUT_RESET) === 0) this.events.onReset?.('i8042');
          return;
        }
        this.stats.unknownCommands++;
    }
  }

  private writeData(v: number): void {
    this.status &= ~I8042_STR_CMDDAT;
    const cmd = this.pendingCommand;
    this.pendingCommand = 0;
    switch (cmd) {
      case I8042_CMD_CTL_WCTR:
        // The system flag of the command byte is reflected in the status register.
        this.status = (this.status & ~I8042_STR_SYSFLAG) | (v & I8042_CTR_SYSFLAG);
        this.setCtr(v);
        return;
      case I8042_CMD_WRITE_OUTPUT:
        this.setOutputPort(v);
        return;
      case I8042_CMD_KBD_LOOP:
        this.push(v, SRC_CTRL); // made by the controller: not held back by a disabled port
        return;
      case I8042_CMD_AUX_LOOP:
        this.push(v, SRC_CTRL_AUX);
        return;
      case I8042_CMD_AUX_SEND:
        this.auxCommand(v);
        return;
      default:
        this.keyboardCommand(v);
    }
  }

  /** A byte sent to the PS/2 keyboard (QEMU `ps2_write_keyboard`). */
  private keyboardCommand(v: number): void {
    // Sending to the keyboard re-enables its clock (QEMU pckbd clears KBD_MODE_DISABLE_KBD).
    this.ctr &= ~I8042_CTR_KBDDIS;
    const param = this.pendingKbd;
    if (param !== 0) {
      this.pendingKbd = 0;
      this.push(PS2_ACK, SRC_KBD); // LED state, typematic rate or scancode set accepted
      if (param === KBD_CMD_SCANCODE) {
        if (v === 0) this.push(this.scancodeSet, SRC_KBD);
        else if (v >= 1 && v <= 3) this.scancodeSet = v;
      }
      return;
    }
    switch (v) {
      case KBD_CMD_SET_LEDS:
      case KBD_CMD_SET_RATE:
      case KBD_CMD_SCANCODE:
        this.pendingKbd = v;
        this.push(PS2_ACK, SRC_KBD);
        return;
      case KBD_CMD_ECHO:
        this.push(PS2_ECHO, SRC_KBD);
        return;
      case KBD_CMD_GET_ID:
        this.push(PS2_ACK, SRC_KBD);
        this.push(0xab, SRC_KBD);
        this.push(0x83, SRC_KBD); // MF2 keyboard
        return;
      case KBD_CMD_ENABLE:
        this.kbdScanning = true;
        this.push(PS2_ACK, SRC_KBD);
        return;
      case KBD_CMD_RESET_DISABLE:
        this.kbdScanning = false;
        this.push(PS2_ACK, SRC_KBD);
        return;
      case KBD_CMD_RESET_ENABLE:
        this.kbdScanning = true;
        this.push(PS2_ACK, SRC_KBD);
        return;
      case KBD_CMD_RESET:
        this.kbdScanning = true;
        this.scancodeSet = 2;
        this.push(PS2_ACK, SRC_KBD);
        this.push(PS2_BAT_OK, SRC_KBD);
        return;
      default:
        this.push(PS2_RESEND, SRC_KBD);
    }
  }

  /** A byte sent to the AUX (mouse) device through command 0xd4: acknowledged like a PS/2 mouse. */
  private auxCommand(v: number): void {
    this.ctr &= ~I8042_CTR_AUXDIS;
    this.push(PS2_ACK, SRC_AUX);
    if (v === AUX_CMD_RESET) {
      this.push(PS2_BAT_OK, SRC_AUX);
      this.push(0x00, SRC_AUX); // device ID: standard mouse
    } else if (v === AUX_CMD_GET_ID) {
      this.push(0x00, SRC_AUX);
    }
  }

  private setCtr(v: number): void {
    this.ctr = v;
    this.refill();
  }

  private setOutputPort(v: number): void {
    const old = this.outputPort;
    this.outputPort = (v & ~(I8042_OUT_OBF | I8042_OUT_AUXOBF)) | I8042_OUT_RESET;
    if ((old ^ v) & I8042_OUT_A20) this.events.onA20?.((v & I8042_OUT_A20) !== 0);
    // The reset line is active low: writing bit 0 = 0 resets the CPU; afterwards it reads high.
    if ((v & I8042_OUT_RESET) === 0) this.events.onReset?.('i8042');
  }

  /** A controller reply: goes ahead of queued device bytes (it is what the driver polls for). */
  private reply(v: number): void {
    if (this.obf) {
      this.pushFront(this.obfData, this.obfSource);
      this.obf = false;
    }
    this.pushFront(v, SRC_CTRL);
    this.refill();
  }

  private push(v: number, src: number): void {
    if (this.qCount === QUEUE_SIZE) {
      this.stats.droppedReplies++;
    } else {
      this.queue[(this.qHead + this.qCount) % QUEUE_SIZE] = v | (src << 8);
      this.qCount++;
    }
    this.refill();
  }

  private pushFront(v: number, src: number): void {
    if (this.qCount === QUEUE_SIZE) {
      this.qCount--; // drop the newest device byte
      this.stats.droppedReplies++;
    }
    this.qHead = (this.qHead + QUEUE_SIZE - 1) % QUEUE_SIZE;
    this.queue[this.qHead] = v | (src << 8);
    this.qCount++;
  }

  /** Load the output buffer when it is empty: replies first, then host scancodes. */
  private refill(): void {
    if (!this.obf) {
      if (this.qCount > 0) {
        const e = this.queue[this.qHead]!;
        const src = e >> 8;
        const blocked =
          (src === SRC_KBD && (this.ctr & I8042_CTR_KBDDIS) !== 0) ||
          (src === SRC_AUX && (this.ctr & I8042_CTR_AUXDIS) !== 0);
        if (!blocked) {
          this.qHead = (this.qHead + 1) % QUEUE_SIZE;
          this.qCount--;
          this.load(e & 0xff, src);
        }
      } else if (this.inCount > 0 && this.kbdScanning && (this.ctr & I8042_CTR_KBDDIS) === 0) {
        const v = this.input[this.inHead]!;
        this.inHead = (this.inHead + 1) % I8042_INPUT_QUEUE_SIZE;
        this.inCount--;
        this.load(v, SRC_KBD);
      }
    }
    this.updateIrq();
  }

  private load(v: number, src: number): void {
    this.obf = true;
    this.obfData = v;
    this.obfSource = src;
  }

  private obfIsAux(): boolean {
    return this.obfSource === SRC_AUX || this.obfSource === SRC_CTRL_AUX;
  }

  private updateIrq(): void {
    const aux = this.obf && this.obfIsAux();
    const kbd = this.obf && !aux && (this.ctr & I8042_CTR_KBDINT) !== 0;
    const mouse = aux && (this.ctr & I8042_CTR_AUXINT) !== 0;
    if (kbd !== this.irq1) {
      this.irq1 = kbd;
      this.irqOut(1, kbd);
    }
    if (mouse !== this.irq12) {
      this.irq12 = mouse;
      this.irqOut(12, mouse);
    }
  }
}
