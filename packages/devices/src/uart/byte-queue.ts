/**
 * A fixed-capacity FIFO of bytes, each with a small tag (the UART's PE/FE/BI error bits), in two
 * parallel typed arrays. Used for the 16-byte receive FIFO and the host-side input queue; no
 * allocation after construction.
 *
 * @internal
 */
export class ByteQueue {
  readonly capacity: number;
  private readonly data: Uint8Array;
  private readonly tags: Uint8Array;
  private head = 0;
  /** Bytes held. */
  count = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.data = new Uint8Array(capacity);
    this.tags = new Uint8Array(capacity);
  }

  get free(): number {
    return this.capacity - this.count;
  }

  /** Append a byte (the caller checks `free`). */
  push(byte: number, tag: number): void {
    const at = (this.head + this.count) % this.capacity;
    this.data[at] = byte;
    this.tags[at] = tag;
    this.count++;
  }

  /** Remove and return the oldest byte (the caller checks `count`). */
  shift(): number {
    const byte = this.data[this.head]!;
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return byte;
  }

  /** The oldest byte's tag (0 when empty). */
  headTag(): number {
    return this.count > 0 ? this.tags[this.head]! : 0;
  }

  /** OR of all held tags. */
  anyTag(): number {
    let t = 0;
    for (let i = 0; i < this.count; i++) t |= this.tags[(this.head + i) % this.capacity]!;
    return t;
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
  }

  /** Copy out as plain arrays (oldest first), for snapshots. */
  toArrays(): { bytes: number[]; tags: number[] } {
    const bytes: number[] = [];
    const tags: number[] = [];
    for (let i = 0; i < this.count; i++) {
      const at = (this.head + i) % this.capacity;
      bytes.push(this.data[at]!);
      tags.push(this.tags[at]!);
    }
    return { bytes, tags };
  }

  /** Replace the contents (the caller checks the length against `capacity`). */
  load(bytes: ArrayLike<number>, tags: ArrayLike<number>): void {
    this.clear();
    for (let i = 0; i < bytes.length; i++) this.push(bytes[i]! & 0xff, tags[i]! & 0xff);
  }
}
