/**
 * Helpers on the 256-bit vector registers (ISR, TMR, IRR), each a `Uint32Array(8)`: vector v is
 * bit (v & 31) of word (v >> 5), as in QEMU's apic_set_bit/apic_get_bit.
 */

export function setBit(reg: Uint32Array, vector: number): void {
  reg[vector >>> 5]! |= 1 << (vector & 31);
}

export function resetBit(reg: Uint32Array, vector: number): void {
  reg[vector >>> 5]! &= ~(1 << (vector & 31));
}

export function testBit(reg: Uint32Array, vector: number): boolean {
  return (reg[vector >>> 5]! & (1 << (vector & 31))) !== 0;
}

/** The highest set vector, or -1 (QEMU's get_highest_priority_int). */
export function highestBit(reg: Uint32Array): number {
  for (let i = 7; i >= 0; i--) {
    const w = reg[i]!;
    if (w !== 0) return (i << 5) | (31 - Math.clz32(w));
  }
  return -1;
}

/** Number of set bits (used for the PV EOI "exactly one in service" rule). */
export function countBits(reg: Uint32Array): number {
  let n = 0;
  for (let i = 0; i < 8; i++) {
    let w = reg[i]!;
    while (w !== 0) {
      w &= w - 1;
      n++;
    }
  }
  return n;
}

export function isEmpty(reg: Uint32Array): boolean {
  for (let i = 0; i < 8; i++) if (reg[i] !== 0) return false;
  return true;
}
