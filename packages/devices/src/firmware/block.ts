/**
 * A little builder over one byte array addressed with absolute guest-physical addresses, used to
 * lay out firmware tables before one write into guest memory.
 *
 * @internal
 */
import { DevicesError, hex } from '../errors';
import { checksum8 } from './guest-memory';

/** Little builder over one byte array with absolute guest addresses. */
export class Block {
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  used = 0;
  constructor(
    readonly base: number,
    limit: number,
  ) {
    this.bytes = new Uint8Array(limit - base);
    this.dv = new DataView(this.bytes.buffer);
  }
  alloc(size: number, align: number, what: string): number {
    const off = Math.ceil((this.base + this.used) / align) * align - this.base;
    if (off + size > this.bytes.length) {
      throw new DevicesError(
        'OUT_OF_RANGE',
        `firmware table ${what} does not fit below ${hex(this.base + this.bytes.length)}`,
      );
    }
    this.used = off + size;
    return this.base + off;
  }
  u8(a: number, v: number): void {
    this.bytes[a - this.base] = v & 0xff;
  }
  u16(a: number, v: number): void {
    this.dv.setUint16(a - this.base, v, true);
  }
  u32(a: number, v: number): void {
    this.dv.setUint32(a - this.base, v >>> 0, true);
  }
  u64(a: number, v: number): void {
    this.u32(a, v % 2 ** 32);
    this.u32(a + 4, Math.floor(v / 2 ** 32));
  }
  str(a: number, s: string): void {
    for (let i = 0; i < s.length; i++) this.u8(a + i, s.charCodeAt(i));
  }
  raw(a: number, data: ArrayLike<number>): void {
    this.bytes.set(data, a - this.base);
  }
  /** Store at `at` the checksum of [start, start + len). */
  checksum(at: number, start: number, len: number): void {
    this.u8(at, 0);
    this.u8(at, checksum8(this.bytes, start - this.base, start - this.base + len));
  }
}
