/**
 * POST-code / I/O-delay ports (0x80, 0xed, 0x190). Writes are swallowed (the delay the guest wanted
 * costs one exit) and recorded, like a POST-code card: the last code and a short history. Reads
 * return all-ones, as QEMU's `ioport80` does.
 */
import { sizeMask } from './events';

/** How many codes the history keeps. */
export const POST_HISTORY = 64;

export interface PostPortOptions {
  /** Called for every code written (the value masked to the access size). */
  onCode?: (code: number, size: number) => void;
}

export class PostPort {
  /** Last code written, or -1 if none yet. */
  lastCode = -1;
  /** Total writes seen (each one is an I/O delay the guest asked for). */
  writes = 0;
  private readonly ring = new Uint32Array(POST_HISTORY);
  private readonly onCode: ((code: number, size: number) => void) | undefined;

  constructor(options: PostPortOptions = {}) {
    this.onCode = options.onCode;
  }

  /** The most recent codes, oldest first (at most `POST_HISTORY`). */
  history(): number[] {
    const n = Math.min(this.writes, POST_HISTORY);
    const out: number[] = [];
    for (let i = this.writes - n; i < this.writes; i++) out.push(this.ring[i % POST_HISTORY]!);
    return out;
  }

  read(_offset: number, size: number): number {
    return sizeMask(size);
  }

  write(_offset: number, size: number, value: number): void {
    const code = (value & sizeMask(size)) >>> 0;
    this.ring[this.writes % POST_HISTORY] = code;
    this.writes++;
    this.lastCode = code;
    this.onCode?.(code, size);
  }
}
