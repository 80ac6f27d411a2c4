/**
 * The Bochs/QEMU debug console at port 0xe9: every byte written goes to the host. Reading returns
 * 0xe9, which guests use to detect the port (QEMU `hw/char/debugcon.c`, `readback` = 0xe9).
 * Wider writes are split into bytes, low byte first, as QEMU's 1-byte-only region does.
 */
import { sizeMask } from './events';

/** The value a read returns: the port number, so a guest can probe for it. */
export const DEBUGCON_READBACK = 0xe9;

export class DebugConsole {
  /** Bytes written so far. */
  bytesWritten = 0;
  private readonly output: (byte: number) => void;

  /** `output` receives each byte; it defaults to discarding. */
  constructor(options: { output?: (byte: number) => void } = {}) {
    this.output = options.output ?? (() => {});
  }

  read(offset: number, size: number): number {
    if (offset !== 0) return sizeMask(size);
    return ((sizeMask(size) & ~0xff) | DEBUGCON_READBACK) >>> 0;
  }

  write(_offset: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) {
      this.bytesWritten++;
      this.output((value >>> (8 * i)) & 0xff);
    }
  }
}
