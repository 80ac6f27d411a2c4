/**
 * The APIC bus (SDM 10.6): carries IPIs between local APICs and interrupt messages from IO-APICs
 * (and MSIs) to them. Destination decoding follows SDM 10.6.2 (physical, logical flat/cluster)
 * and 10.12.10 (x2APIC); each receiving APIC decodes the destination in its own mode.
 *
 * Delivery is synchronous and deterministic: targets are visited in the order the APICs were
 * attached, and lowest-priority arbitration picks a focus processor first, then the lowest
 * arbitration priority, then the first attached APIC among equals.
 */

import { ApicError } from './errors';
import type { LocalApic } from './lapic';
import {
  APIC_DEST_ALLBUT,
  APIC_DEST_ALLINC,
  APIC_DEST_NOSHORT,
  APIC_DEST_SELF,
  APIC_DM_FIXED,
  APIC_DM_LOWPRI,
} from './regs';

/** Physical destination mode (message `destMode`). */
export const APIC_DESTMODE_PHYSICAL = 0;
/** Logical destination mode (message `destMode`). */
export const APIC_DESTMODE_LOGICAL_MODE = 1;
/** Edge trigger (message `trigger`). */
export const APIC_TRIGGER_EDGE = 0;
/** Level trigger (message `trigger`). */
export const APIC_TRIGGER_LEVEL = 1;

/**
 * An interrupt message as an IO-APIC redirection entry (or an MSI) produces it. Fields are the
 * raw encodings; out-of-range values are masked, never rejected (they are guest-programmed).
 */
export interface ApicMessage {
  /** Vector 0..255 (fixed / lowest priority; 16..255 are legal). */
  vector: number;
  /** APIC_DM_FIXED, _LOWPRI, _SMI, _NMI, _INIT, _STARTUP or _EXTINT. */
  deliveryMode: number;
  /** APIC_DESTMODE_PHYSICAL (0) or APIC_DESTMODE_LOGICAL_MODE (1). */
  destMode: number;
  /** Destination: an 8-bit xAPIC ID / logical mask, or a 32-bit x2APIC destination. */
  dest: number;
  /** APIC_TRIGGER_EDGE (0) or APIC_TRIGGER_LEVEL (1). */
  trigger: number;
  /**
   * Assert (1 / true). A level-triggered message with level 0 / false is a de-assert and is
   * ignored. (Booleans are accepted so an IO-APIC's messages can be passed through unchanged.)
   */
  level: number | boolean;
}

export interface ApicBusOptions {
  /**
   * The IO-APIC's EOI input: called with the vector when a local APIC retires a level-triggered
   * interrupt (SDM 10.8.5: EOI broadcast), so the IO-APIC can clear Remote IRR.
   */
  ioApicEoi?: (vector: number) => void;
}

export class ApicBus {
  /** @internal Attached APICs, in attach order. */
  readonly apics: LocalApic[] = [];
  /** The IO-APIC EOI sink (settable after construction, e.g. by the composer). */
  ioApicEoi: ((vector: number) => void) | undefined;
  /** @internal Nesting depth of batches; while > 0 interrupt re-evaluation is deferred. */
  batchDepth = 0;
  /** Messages delivered, and messages that found no target. */
  readonly stats = { messages: 0, unclaimed: 0 };

  constructor(options: ApicBusOptions = {}) {
    this.ioApicEoi = options.ioApicEoi;
  }

  /** @internal Called by the LocalApic constructor. */
  attach(apic: LocalApic): void {
    for (const other of this.apics) {
      if (other.id === apic.id) {
        throw new ApicError('APIC_DUPLICATE_ID', `apic bus: APIC ID ${apic.id} is already attached`);
      }
    }
    this.apics.push(apic);
  }

  /** Remove an APIC (hot-unplug, or before restoring a replacement from a snapshot). */
  detach(apic: LocalApic): void {
    const i = this.apics.indexOf(apic);
    if (i >= 0) this.apics.splice(i, 1);
  }

  /** The attached APIC with initial APIC ID `id`, if any. */
  get(id: number): LocalApic | undefined {
    for (const a of this.apics) if (a.id === id) return a;
    return undefined;
  }

  /**
   * Deliver a message from an IO-APIC or MSI. Returns the number of APICs that received it
   * (0 when no enabled APIC matched).
   */
  deliver(msg: ApicMessage): number {
    const level = msg.trigger & 1;
    const assert = msg.level === true || (typeof msg.level === 'number' && (msg.level & 1) !== 0);
    if (level === APIC_TRIGGER_LEVEL && !assert) return 0;
    return this.send(
      null,
      msg.deliveryMode & 7,
      msg.vector & 0xff,
      msg.destMode & 1,
      msg.dest >>> 0,
      level,
      APIC_DEST_NOSHORT,
    );
  }

  /** Start a batch: re-evaluation of every APIC's interrupt state is deferred until `endBatch`. */
  beginBatch(): void {
    this.batchDepth++;
  }

  /** End a batch: each APIC whose state changed is re-evaluated once. */
  endBatch(): void {
    if (--this.batchDepth > 0) return;
    this.batchDepth = 0;
    for (const a of this.apics) a.flushDeferred();
  }

  /** @internal A level-triggered interrupt was retired: tell the IO-APIC. */
  broadcastEoi(vector: number): void {
    this.ioApicEoi?.(vector);
  }

  /**
   * @internal Route one message. `source` is the sending APIC for IPIs (needed by the shorthands),
   * null for IO-APIC messages.
   */
  send(
    source: LocalApic | null,
    deliveryMode: number,
    vector: number,
    destMode: number,
    dest: number,
    trigger: number,
    shorthand: number,
  ): number {
    this.stats.messages++;
    const apics = this.apics;
    if (deliveryMode === APIC_DM_LOWPRI) {
      const target = this.arbitrate(source, vector, destMode, dest, shorthand);
      if (target === null) {
        this.stats.unclaimed++;
        return 0;
      }
      target.receive(APIC_DM_FIXED, vector, trigger);
      return 1;
    }
    let n = 0;
    for (let i = 0; i < apics.length; i++) {
      const a = apics[i]!;
      if (!this.isTarget(a, source, destMode, dest, shorthand)) continue;
      a.receive(deliveryMode, vector, trigger);
      n++;
    }
    if (n === 0) this.stats.unclaimed++;
    return n;
  }

  private isTarget(
    a: LocalApic,
    source: LocalApic | null,
    destMode: number,
    dest: number,
    sh: number,
  ): boolean {
    if (!a.hardwareEnabled) return false;
    switch (sh) {
      case APIC_DEST_SELF:
        return a === source;
      case APIC_DEST_ALLINC:
        return true;
      case APIC_DEST_ALLBUT:
        return a !== source;
      default:
        return destMode === APIC_DESTMODE_PHYSICAL ? a.matchPhysical(dest) : a.matchLogical(dest);
    }
  }

  /**
   * Lowest-priority arbitration (SDM 10.6.2.4): among the software-enabled targets, a focus
   * processor (focus checking enabled and the vector already in its IRR or ISR) wins; otherwise
   * the lowest arbitration priority (APR, SDM 10.8.3), ties going to the first attached.
   */
  private arbitrate(
    source: LocalApic | null,
    vector: number,
    destMode: number,
    dest: number,
    sh: number,
  ): LocalApic | null {
    let best: LocalApic | null = null;
    let bestApr = 256;
    for (const a of this.apics) {
      if (!this.isTarget(a, source, destMode, dest, sh) || !a.softwareEnabled) continue;
      if (a.isFocusFor(vector)) return a;
      const apr = a.arbitrationPriority();
      if (apr < bestApr) {
        best = a;
        bestApr = apr;
      }
    }
    return best;
  }
}
