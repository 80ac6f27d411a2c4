/**
 * Intel 82093AA I/O APIC (datasheet 290566) at MMIO 0xFEC00000: IOREGSEL/IOWIN, ID, version 0x11
 * with 24 redirection entries, arbitration ID, edge and level inputs with Remote IRR, masking.
 *
 * Interrupts leave as messages to an injected sink, which the composer connects to @pv/apic's
 * bus (devices never import @pv/apic). Level-triggered EOIs come back through `eoi(vector)`, as
 * the local APIC broadcasts them (the 82093AA has no EOI register; version 0x20 parts added one).
 * Pin levels are logical: `setIrq(pin, true)` means "asserted" whatever the polarity bit says, as
 * in QEMU; the polarity bit is stored for the guest and the firmware tables.
 */

import { checkState, DevicesError, stateInt } from '../errors';
import {
  IOAPIC_DELMODE_EXTINT,
  IOAPIC_DELMODE_FIXED,
  IOAPIC_DELMODE_LOWEST,
  IOAPIC_EOI,
  IOAPIC_ID_MASK,
  IOAPIC_IOREGSEL,
  IOAPIC_IOWIN,
  IOAPIC_NUM_PINS,
  IOAPIC_REG_ARB,
  IOAPIC_REG_ID,
  IOAPIC_REG_REDTBL,
  IOAPIC_REG_VER,
  IOAPIC_RTE_DELMODE_MASK,
  IOAPIC_RTE_DELMODE_SHIFT,
  IOAPIC_RTE_DEST_SHIFT,
  IOAPIC_RTE_DESTMODE,
  IOAPIC_RTE_MASKED,
  IOAPIC_RTE_REMOTE_IRR,
  IOAPIC_RTE_TRIGGER_LEVEL,
  IOAPIC_RTE_VECTOR_MASK,
  IOAPIC_RTE_WRITABLE_LO,
  IOAPIC_VER_MAX_REDIR_SHIFT,
  IOAPIC_VERSION,
  IOAPIC_VERSION_20,
} from './registers';

/** An interrupt message on the APIC bus. */
export interface IoApicMessage {
  /** Vector 0..255 (ignored by the receiver for NMI/INIT/ExtINT). */
  vector: number;
  /** Delivery mode, IOAPIC_DELMODE_* (0 fixed, 1 lowest priority, 2 SMI, 4 NMI, 5 INIT, 7 ExtINT). */
  deliveryMode: number;
  /** 0 = physical, 1 = logical destination. */
  destMode: 0 | 1;
  /** Destination APIC ID (physical) or logical destination set. */
  dest: number;
  /** 0 = edge, 1 = level. */
  trigger: 0 | 1;
  /** Assert (always true for messages the IO-APIC sends). */
  level: boolean;
  /** The input pin that sent it (for tracing). */
  pin: number;
}

/** Options of an IO-APIC. */
export interface IoApicOptions {
  /** Receives every interrupt message (connect to the local APICs' bus). */
  sink: (msg: IoApicMessage) => void;
  /** APIC ID at reset (the MADT's IOAPIC ID). Default 0. */
  id?: number;
  /**
   * 0x11 (default): the 82093AA. 0x20: an ICH-style IO-APIC (QEMU's default) that adds the EOI
   * register at offset 0x40, which Linux uses for level-triggered EOIs when it finds version >= 0x20.
   */
  version?: 0x11 | 0x20;
}

/** Plain, versioned snapshot. */
export interface IoApicState {
  kind: 'ioapic82093';
  version: 1;
  /** The chip's version register (0x11 or 0x20); `fromState` must be given the same option. */
  chipVersion: number;
  id: number;
  arb: number;
  ioregsel: number;
  /** 24 × (low, high) dwords. */
  redirection: number[];
  /** Asserted input pins as a bit mask. */
  pins: number;
}

/** Counters for tests and statistics. */
export interface IoApicCounters {
  /** Messages sent. */
  messages: number;
  /** Fixed/lowest-priority messages with a vector below 16 (the local APIC flags these). */
  illegalVectors: number;
  /** `eoi()` calls that matched no level entry with Remote IRR set. */
  strayEois: number;
}

const KIND = 'ioapic82093';

/** The I/O APIC. MMIO handlers take offsets into its 4 KiB window. */
export class IoApic {
  readonly counters: IoApicCounters = { messages: 0, illegalVectors: 0, strayEois: 0 };
  /** `mmioRead`/`mmioWrite` as a `{ read, write }` handler, the shape @pv/mmu maps (`MmioHandler`). */
  readonly mmio: {
    read(offset: number, size: 1 | 2 | 4): number;
    write(offset: number, size: 1 | 2 | 4, value: number): void;
  } = {
    read: (offset, size) => this.mmioRead(offset, size),
    write: (offset, size, value) => this.mmioWrite(offset, size, value),
  };

  private readonly sink: (msg: IoApicMessage) => void;
  private id: number;
  private readonly version: number;
  private arb: number;
  private ioregsel = 0;
  /** Redirection table: low dword at [2n], high dword at [2n+1]. */
  private readonly rte = new Uint32Array(IOAPIC_NUM_PINS * 2);
  /** Asserted inputs. */
  private pins = 0;

  constructor(options: IoApicOptions) {
    if (typeof options?.sink !== 'function')
      throw new DevicesError('INVALID_CONFIG', 'IoApic needs a sink callback');
    const id = options.id ?? 0;
    if (!Number.isInteger(id) || id < 0 || id > 15) {
      throw new DevicesError('INVALID_CONFIG', `IoApic id ${String(id)} is not in 0..15`);
    }
    const version = options.version ?? IOAPIC_VERSION;
    if (version !== IOAPIC_VERSION && version !== IOAPIC_VERSION_20) {
      throw new DevicesError('INVALID_CONFIG', `IoApic version ${String(version)} is not 0x11 or 0x20`);
    }
    this.version = version;
    this.sink = options.sink;
    this.id = id;
    this.arb = id;
    // Reset: every entry masked, all other bits 0 (datasheet §3.2.4).
    for (let i = 0; i < IOAPIC_NUM_PINS; i++) this.rte[2 * i] = IOAPIC_RTE_MASKED;
  }

  static fromState(state: IoApicState, options: IoApicOptions): IoApic {
    const io = new IoApic(options);
    io.restore(state);
    return io;
  }

  // ---- Inputs ----

  /** Drive input `pin` (0..23): true = asserted. */
  setIrq(pin: number, level: boolean): void {
    if (!Number.isInteger(pin) || pin < 0 || pin >= IOAPIC_NUM_PINS) {
      throw new DevicesError('INVALID_ARGUMENT', `IO-APIC pin ${String(pin)} is not in 0..23`);
    }
    const mask = 1 << pin;
    const was = (this.pins & mask) !== 0;
    if (level) this.pins |= mask;
    else this.pins &= ~mask;
    const lo = this.rte[2 * pin]!;
    if (lo & IOAPIC_RTE_TRIGGER_LEVEL) {
      if (level) this.service(pin);
    } else if (level && !was) {
      // Edge: a masked edge is ignored, not held (datasheet, "Interrupt Mask").
      this.service(pin);
    }
  }

  /**
   * EOI broadcast from a local APIC for `vector`: clears Remote IRR of every level entry with that
   * vector, and re-delivers if the pin is still asserted (datasheet §3.2.4, bit 14).
   */
  eoi(vector: number): void {
    vector &= 0xff;
    let matched = false;
    for (let pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
      const lo = this.rte[2 * pin]!;
      if ((lo & IOAPIC_RTE_VECTOR_MASK) !== vector || !(lo & IOAPIC_RTE_REMOTE_IRR)) continue;
      matched = true;
      this.rte[2 * pin] = lo & ~IOAPIC_RTE_REMOTE_IRR;
      if (this.pins & (1 << pin)) this.service(pin);
    }
    if (!matched) this.counters.strayEois++;
  }

  /** A redirection entry as a 64-bit value split in (low, high). */
  entry(pin: number): { low: number; high: number } {
    if (!Number.isInteger(pin) || pin < 0 || pin >= IOAPIC_NUM_PINS) {
      throw new DevicesError('INVALID_ARGUMENT', `IO-APIC pin ${String(pin)} is not in 0..23`);
    }
    return { low: this.rte[2 * pin]!, high: this.rte[2 * pin + 1]! };
  }

  // ---- MMIO ----

  /** Read `size` bytes at `offset` of the window. Undefined offsets read 0 (as QEMU). */
  mmioRead(offset: number, size: 1 | 2 | 4): number {
    const reg = offset & ~3;
    const shift = (offset & 3) * 8;
    let v: number;
    if (reg === IOAPIC_IOREGSEL) v = this.ioregsel;
    else if (reg === IOAPIC_IOWIN) v = this.readRegister(this.ioregsel);
    else return 0;
    v >>>= shift;
    return size === 4 ? v >>> 0 : v & (size === 2 ? 0xffff : 0xff);
  }

  /** Write `size` bytes at `offset` of the window. Partial IOWIN writes merge into the register. */
  mmioWrite(offset: number, size: 1 | 2 | 4, value: number): void {
    const reg = offset & ~3;
    const shift = (offset & 3) * 8;
    const width = size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
    if (reg === IOAPIC_IOREGSEL) {
      if (shift === 0) this.ioregsel = value & 0xff;
      return;
    }
    if (reg === IOAPIC_EOI) {
      if (this.version >= IOAPIC_VERSION_20 && shift === 0) this.eoi(value & 0xff);
      return;
    }
    if (reg !== IOAPIC_IOWIN) return;
    let v = value & width;
    if (size !== 4 || shift !== 0) {
      const mask = (width << shift) >>> 0;
      v = ((this.readRegister(this.ioregsel) & ~mask) | ((v << shift) & mask)) >>> 0;
    }
    this.writeRegister(this.ioregsel, v >>> 0);
  }

  // ---- Snapshots ----

  saveState(): IoApicState {
    return {
      kind: KIND,
      version: 1,
      chipVersion: this.version,
      id: this.id,
      arb: this.arb,
      ioregsel: this.ioregsel,
      redirection: Array.from(this.rte),
      pins: this.pins,
    };
  }

  private restore(state: IoApicState): void {
    const s = checkState(state, KIND, 1);
    const chipVersion = stateInt(s, KIND, 'chipVersion', 0, 255);
    if (chipVersion !== this.version) {
      throw new DevicesError(
        'INVALID_STATE',
        `${KIND} snapshot of a version 0x${chipVersion.toString(16)} IO-APIC restored as version 0x${this.version.toString(16)}`,
      );
    }
    this.id = stateInt(s, KIND, 'id', 0, 15);
    this.arb = stateInt(s, KIND, 'arb', 0, 15);
    this.ioregsel = stateInt(s, KIND, 'ioregsel', 0, 255);
    this.pins = stateInt(s, KIND, 'pins', 0, (1 << IOAPIC_NUM_PINS) - 1);
    const r = s.redirection;
    if (
      !Array.isArray(r) ||
      r.length !== IOAPIC_NUM_PINS * 2 ||
      !r.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffffffff)
    ) {
      throw new DevicesError('INVALID_STATE', `${KIND} snapshot field redirection is not 48 dwords`);
    }
    this.rte.set(r);
  }

  // ---- Internals ----

  private readRegister(index: number): number {
    switch (index) {
      case IOAPIC_REG_ID:
        return this.id << 24;
      case IOAPIC_REG_VER:
        return this.version | ((IOAPIC_NUM_PINS - 1) << IOAPIC_VER_MAX_REDIR_SHIFT);
      case IOAPIC_REG_ARB:
        return this.arb << 24;
      default: {
        const i = index - IOAPIC_REG_REDTBL;
        if (i >= 0 && i < IOAPIC_NUM_PINS * 2) return this.rte[i]!;
        return 0;
      }
    }
  }

  private writeRegister(index: number, value: number): void {
    if (index === IOAPIC_REG_ID) {
      this.id = (value & IOAPIC_ID_MASK) >>> 24;
      this.arb = this.id; // the arbitration ID is loaded from the APIC ID
      return;
    }
    const i = index - IOAPIC_REG_REDTBL;
    if (i < 0 || i >= IOAPIC_NUM_PINS * 2) return; // VER, ARB and reserved registers are read only
    const pin = i >> 1;
    if (i & 1) {
      this.rte[i] = value & 0xff000000; // only the destination field exists
      return;
    }
    const old = this.rte[i]!;
    // Delivery status and Remote IRR are read only; Remote IRR is meaningless for edge entries.
    let lo = (value & IOAPIC_RTE_WRITABLE_LO) | (old & IOAPIC_RTE_REMOTE_IRR);
    if (!(lo & IOAPIC_RTE_TRIGGER_LEVEL)) lo &= ~IOAPIC_RTE_REMOTE_IRR;
    this.rte[i] = lo >>> 0;
    // Unmasking a level entry whose pin is asserted delivers it now.
    if (lo & IOAPIC_RTE_TRIGGER_LEVEL && this.pins & (1 << pin)) this.service(pin);
  }

  /** Send pin's message if it is unmasked and (for level) not awaiting EOI. */
  private service(pin: number): void {
    const lo = this.rte[2 * pin]!;
    if (lo & IOAPIC_RTE_MASKED) return;
    const level = (lo & IOAPIC_RTE_TRIGGER_LEVEL) !== 0;
    if (level) {
      if (lo & IOAPIC_RTE_REMOTE_IRR) return;
      this.rte[2 * pin] = lo | IOAPIC_RTE_REMOTE_IRR;
    }
    const vector = lo & IOAPIC_RTE_VECTOR_MASK;
    const deliveryMode = (lo & IOAPIC_RTE_DELMODE_MASK) >> IOAPIC_RTE_DELMODE_SHIFT;
    if ((deliveryMode === IOAPIC_DELMODE_FIXED || deliveryMode === IOAPIC_DELMODE_LOWEST) && vector < 16) {
      this.counters.illegalVectors++;
    }
    this.counters.messages++;
    this.sink({
      vector,
      deliveryMode,
      destMode: lo & IOAPIC_RTE_DESTMODE ? 1 : 0,
      dest: this.rte[2 * pin + 1]! >>> IOAPIC_RTE_DEST_SHIFT,
      // ExtINT is always edge on the APIC bus.
      trigger: level && deliveryMode !== IOAPIC_DELMODE_EXTINT ? 1 : 0,
      level: true,
      pin,
    });
  }
}
