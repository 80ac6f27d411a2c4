/**
 * ACPI fixed-hardware power management registers (ACPI 6.5 §4.8.3): the PM1 event block (PM1_STS /
 * PM1_EN), the PM1 control block (SCI_EN, SLP_TYPx, SLP_EN) and the 24-bit power management timer
 * at 3.579545 MHz, laid out as on the PIIX4 that QEMU's `pc` machine uses (`hw/acpi/core.c`,
 * `hw/acpi/piix4.c`): PM1a_EVT_BLK at base+0, PM1a_CNT_BLK at base+4, PM_TMR_BLK at base+8.
 *
 * The timer is computed from the virtual clock on every read. TMR_STS is set each time bit 23 of
 * the timer changes; with TMR_EN it raises the SCI. Writing SLP_EN with the S5 sleep type asks the
 * host to power off (`onPowerOff`), the clean stop an OS performs at shutdown. The platform has
 * no SMM, so SCI_EN starts set and the FADT advertises no SMI command port (ACPI §4.8.2.1).
 */
import type { VirtualClock } from '@pv/x86-core';
import { checkState, stateBool, stateInt } from '../errors';
import type { SystemEvents } from './events';
import { sizeMask } from './events';
import { stateBig } from './snapshot';
import { clockHz, cyclesToTicks, ticksToCycles } from './ticks';

/** Offsets inside the 12-byte block. */
export const ACPI_PM1_STS = 0x00;
export const ACPI_PM1_EN = 0x02;
export const ACPI_PM1_CNT = 0x04;
export const ACPI_PM_TMR = 0x08;
/** Size of the block. */
export const ACPI_PM_SIZE = 0x0c;
/** FADT lengths of the blocks. */
export const ACPI_PM1_EVT_LEN = 4;
export const ACPI_PM1_CNT_LEN = 2;
export const ACPI_PM_TMR_LEN = 4;

/** PM timer frequency (ACPI §4.8.3.3). */
export const ACPI_PM_TIMER_FREQUENCY = 3_579_545;
/** The timer is 24 bits wide (FADT TMR_VAL_EXT = 0). */
export const ACPI_PM_TIMER_MASK = 0xffffff;

/** PM1 status / enable bits (ACPI Table 4.16 / 4.17). */
export const ACPI_TMR_STS = 1 << 0;
export const ACPI_BM_STS = 1 << 4;
export const ACPI_GBL_STS = 1 << 5;
export const ACPI_PWRBTN_STS = 1 << 8;
export const ACPI_SLPBTN_STS = 1 << 9;
export const ACPI_RTC_STS = 1 << 10;
export const ACPI_WAK_STS = 1 << 15;
export const ACPI_TMR_EN = ACPI_TMR_STS;
export const ACPI_GBL_EN = ACPI_GBL_STS;
export const ACPI_PWRBTN_EN = ACPI_PWRBTN_STS;
export const ACPI_SLPBTN_EN = ACPI_SLPBTN_STS;
export const ACPI_RTC_EN = ACPI_RTC_STS;
/** Enable bits that exist (the others read as 0). */
export const ACPI_PM1_EN_MASK = ACPI_TMR_EN | ACPI_GBL_EN | ACPI_PWRBTN_EN | ACPI_SLPBTN_EN | ACPI_RTC_EN;

/** PM1 control bits (ACPI Table 4.18). */
export const ACPI_SCI_EN = 1 << 0;
export const ACPI_BM_RLD = 1 << 1;
export const ACPI_GBL_RLS = 1 << 2;
export const ACPI_SLP_TYP_SHIFT = 10;
export const ACPI_SLP_TYP_MASK = 7 << ACPI_SLP_TYP_SHIFT;
export const ACPI_SLP_EN = 1 << 13;

/** Values written to the SMI command port to hand the SCI to the OS and back (QEMU PIIX4). */
export const ACPI_ENABLE_VALUE = 0xf1;
export const ACPI_DISABLE_VALUE = 0xf0;

/** SLP_TYP value of S5 (soft off); the DSDT's `\_S5` package carries the same number (QEMU: 0). */
export const ACPI_SLP_TYP_S5 = 0;

export interface AcpiPmOptions {
  clock: VirtualClock;
  /** The SCI line (ISA IRQ 9, level, active high): called on every level change. */
  sci?: (level: boolean) => void;
  /** `onPowerOff` is called for S5. */
  events?: SystemEvents;
  /** Called for a sleep state other than S5 (no resume is modelled). */
  onSleep?: (slpTyp: number) => void;
  /**
   * Model an SMI command port (APM control, 0xb2 on PIIX4): SCI_EN then starts clear and the OS
   * sets it by writing ACPI_ENABLE there (ACPI §4.8.2.1, §16.3.1). Without it (the default) the
   * platform is ACPI-only: SCI_EN is set from reset and the FADT's SMI_CMD is 0.
   */
  smiCommand?: boolean;
}

/** Plain, versioned snapshot of an `AcpiPm`. */
export interface AcpiPmState {
  kind: 'acpi-pm';
  version: 1;
  sts: number;
  en: number;
  cnt: number;
  /** 2^23-tick period of the last TMR_STS clear (decimal string). */
  tmrEpoch: string;
  sci: boolean;
  /** Last value written to the SMI command port. */
  smi: number;
}

const KIND = 'acpi-pm';
/** TMR_STS is set whenever bit 23 of the timer changes: every 2^23 ticks. */
const TMR_STS_PERIOD = 2 ** 23;

/** PIIX4-style ACPI PM1a event/control blocks and PM timer. */
export class AcpiPm {
  private sts = 0;
  private en = 0;
  private cnt = ACPI_SCI_EN;
  /** Index of the 2^23-tick period in which TMR_STS was last cleared. */
  private tmrEpoch = 0;
  /** hz·rate fits in 2^53: ticks can be computed exactly with numbers (see `ticks`). */
  private readonly fast: boolean;
  private readonly hzNum: number;
  private sciLevel = false;
  private readonly clock: VirtualClock;
  private readonly hz: bigint;
  private readonly rate = BigInt(ACPI_PM_TIMER_FREQUENCY);
  private readonly sciOut: (level: boolean) => void;
  private readonly events: SystemEvents;
  private readonly onSleep: ((slpTyp: number) => void) | undefined;
  private smiValue = 0;
  /**
   * The SMI command port as a one-port device (`io.register(0xb2, 1, pm.smiPort)`), present when
   * `smiCommand` was set. Writes of ACPI_ENABLE / ACPI_DISABLE set / clear SCI_EN; reads return the
   * last value written (as QEMU's APM port does).
   */
  readonly smiPort: {
    read(o: number, size: number): number;
    write(o: number, size: number, v: number): void;
  };

  constructor(options: AcpiPmOptions) {
    this.clock = options.clock;
    this.hz = clockHz(options.clock, 'ACPI PM');
    this.hzNum = Number(this.hz);
    this.fast = this.hzNum * ACPI_PM_TIMER_FREQUENCY <= 2 ** 53;
    this.sciOut = options.sci ?? (() => {});
    this.events = options.events ?? {};
    this.onSleep = options.onSleep;
    if (options.smiCommand) this.cnt = 0;
    this.smiPort = {
      read: (o, size) => (o === 0 && size === 1 ? this.smiValue : sizeMask(size)),
      write: (o, size, v) => {
        if (o !== 0 || size !== 1) return;
        this.smiValue = v & 0xff;
        if (this.smiValue === ACPI_ENABLE_VALUE) this.cnt |= ACPI_SCI_EN;
        else if (this.smiValue === ACPI_DISABLE_VALUE) this.cnt &= ~ACPI_SCI_EN;
        this.updateSci();
      },
    };
    this.tmrEpoch = Math.floor(this.ticks(this.clock.now()) / TMR_STS_PERIOD);
  }

  /** Plain data for a snapshot (the timer itself is the clock, which the composer restores). */
  saveState(): AcpiPmState {
    return {
      kind: KIND,
      version: 1,
      sts: this.status(),
      en: this.en,
      cnt: this.cnt,
      tmrEpoch: String(this.tmrEpoch),
      sci: this.sciLevel,
      smi: this.smiValue,
    };
  }

  /** Rebuild from `saveState()` data; an asserted SCI is raised again through `options.sci`. */
  static fromState(state: AcpiPmState, options: AcpiPmOptions): AcpiPm {
    const s = checkState(state, KIND, 1);
    const pm = new AcpiPm(options);
    pm.sts = stateInt(s, KIND, 'sts', 0, 0xffff);
    pm.en = stateInt(s, KIND, 'en', 0, 0xffff) & ACPI_PM1_EN_MASK;
    pm.cnt = stateInt(s, KIND, 'cnt', 0, 0xffff) & ~ACPI_SLP_EN & ~ACPI_GBL_RLS;
    pm.tmrEpoch = Number(stateBig(s, KIND, 'tmrEpoch', 53));
    stateBool(s, KIND, 'sci');
    pm.smiValue = stateInt(s, KIND, 'smi', 0, 255);
    pm.updateSci();
    return pm;
  }

  /**
   * Whole PM-timer ticks at cycle `now`: floor(now·rate/hz). With now = q·hz + r, only r·rate
   * (< hz·rate ≤ 2^53) is multiplied, and floor of an exact quotient of integers below 2^53 is exact
   * in doubles; otherwise BigInt. Tick counts stay below 2^53 for 80 years of virtual time.
   */
  private ticks(now: number): number {
    if (this.fast && now >= 0) {
      const hz = this.hzNum;
      const q = Math.floor(now / hz);
      const r = Math.floor(now) - q * hz;
      return q * ACPI_PM_TIMER_FREQUENCY + Math.floor((r * ACPI_PM_TIMER_FREQUENCY) / hz);
    }
    return Number(cyclesToTicks(now, this.hz, this.rate));
  }

  /** The PM timer value now (24 bits). */
  timer(): number {
    return this.ticks(this.clock.now()) % (ACPI_PM_TIMER_MASK + 1);
  }

  /** PM1_STS including a TMR_STS that became due since it was last cleared. */
  status(now: number = this.clock.now()): number {
    if (Math.floor(this.ticks(now) / TMR_STS_PERIOD) > this.tmrEpoch) this.sts |= ACPI_TMR_STS;
    return this.sts;
  }

  /** Is the SCI asserted? */
  get sci(): boolean {
    return this.sciLevel;
  }

  /** Host: the power button was pressed (sets PWRBTN_STS, raises the SCI if enabled). */
  pressPowerButton(): void {
    this.sts |= ACPI_PWRBTN_STS;
    this.updateSci();
  }

  read(offset: number, size: number): number {
    if (offset === ACPI_PM_TMR && size === 4) return this.timer(); // the common inl
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.readByte(offset + i) << (8 * i);
    return (v & sizeMask(size)) >>> 0;
  }

  private readByte(off: number): number {
    switch (off & ~1) {
      case ACPI_PM1_STS:
        return (this.status() >> (8 * (off & 1))) & 0xff;
      case ACPI_PM1_EN:
        return (this.en >> (8 * (off & 1))) & 0xff;
      case ACPI_PM1_CNT:
        return (this.cnt >> (8 * (off & 1))) & 0xff;
      case ACPI_PM_TMR:
      case ACPI_PM_TMR + 2:
        return (this.timer() >>> (8 * (off - ACPI_PM_TMR))) & 0xff;
      default:
        return 0xff; // 0x06–0x07 and beyond: not decoded
    }
  }

  write(offset: number, size: number, value: number): void {
    // Split into the 16-bit registers the access touches; each gets its bytes and a byte mask.
    for (let reg = offset & ~1; reg < offset + size; reg += 2) {
      let v = 0;
      let m = 0;
      for (let b = 0; b < 2; b++) {
        const a = reg + b;
        if (a >= offset && a < offset + size) {
          v |= ((value >>> (8 * (a - offset))) & 0xff) << (8 * b);
          m |= 0xff << (8 * b);
        }
      }
      this.writeReg(reg, v, m);
    }
  }

  private writeReg(reg: number, v: number, m: number): void {
    switch (reg) {
      case ACPI_PM1_STS: {
        const now = this.clock.now();
        const clear = v & m;
        this.status(now);
        this.sts &= ~clear;
        if (clear & ACPI_TMR_STS) this.tmrEpoch = Math.floor(this.ticks(now) / TMR_STS_PERIOD);
        this.updateSci();
        return;
      }
      case ACPI_PM1_EN:
        this.en = ((this.en & ~m) | (v & m)) & ACPI_PM1_EN_MASK;
        this.updateSci();
        return;
      case ACPI_PM1_CNT: {
        const nv = (this.cnt & ~m) | (v & m);
        this.cnt = nv & ~ACPI_SLP_EN & ~ACPI_GBL_RLS;
        if (nv & ACPI_GBL_RLS) this.sts |= ACPI_GBL_STS; // firmware lock release event
        if (nv & ACPI_SLP_EN) {
          const typ = (nv & ACPI_SLP_TYP_MASK) >> ACPI_SLP_TYP_SHIFT;
          if (typ === ACPI_SLP_TYP_S5) this.events.onPowerOff?.();
          else this.onSleep?.(typ);
        }
        this.updateSci();
        return;
      }
      default:
      // the timer is read-only; other offsets are not decoded
    }
  }

  private updateSci(now: number = this.clock.now()): void {
    const level =
      (this.cnt & ACPI_SCI_EN) !== 0 &&
      (this.status(now) &
        this.en &
        (ACPI_TMR_EN | ACPI_GBL_EN | ACPI_PWRBTN_EN | ACPI_SLPBTN_EN | ACPI_RTC_EN)) !==
        0;
    if (level !== this.sciLevel) {
      this.sciLevel = level;
      this.sciOut(level);
    }
  }

  /** Cycle at which TMR_STS will next be set (when it matters: TMR_EN set, not yet pending). */
  nextDeadline(): number {
    if (!(this.en & ACPI_TMR_EN) || this.sts & ACPI_TMR_STS) return Number.POSITIVE_INFINITY;
    return ticksToCycles(BigInt(this.tmrEpoch + 1) * BigInt(TMR_STS_PERIOD), this.hz, this.rate);
  }

  /** Latch a due TMR_STS and update the SCI. */
  update(now: number = this.clock.now()): void {
    this.updateSci(now);
  }
}
