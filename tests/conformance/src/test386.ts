import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Mmu } from '@pv/mmu';
import { Cpu, type Exit, type IoBus } from '@pv/x86-core';

/** Where ../shared/conformance/test386 is, relative to the repository. */
export const TEST386_DIR = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../../../shared/conformance/test386',
);
export const TEST386_ROM = join(TEST386_DIR, 'test386.bin');
export const TEST386_REFERENCE = join(TEST386_DIR, 'test386-EE-reference.txt');
export const test386Available = existsSync(TEST386_ROM) && existsSync(TEST386_REFERENCE);

/** test386's ports (see its README): POST codes on 0x190, the EE test's text on 0xE9. */
const POST_PORT = 0x190;
const OUT_PORT = 0xe9;

export interface Test386Result {
  exit: Exit;
  /** Every POST code written, in order. */
  posts: number[];
  /** Bytes written to port 0xE9. */
  output: string;
  instructions: number;
  /** EIP and CS at the end, for locating a failure in test386.map. */
  eip: number;
  cs: number;
}

/**
 * Boots test386.bin from the reset vector on a CPU composed with the MMU: 1 MiB of RAM, the 64 KiB
 * ROM at 0xF0000 and aliased at 0xFFFF0000, POST and text ports captured; runs until the ROM halts,
 * the CPU shuts down, or `maxInstructions` retire.
 */
export function runTest386(rom: Uint8Array, maxInstructions = 400_000_000): Test386Result {
  const memory = new Mmu({
    ramSize: 1 << 20,
    rom: [
      { base: 0xf0000, data: rom },
      { base: 0xffff0000, data: rom },
    ],
  });
  const posts: number[] = [];
  const out: number[] = [];
  const io: IoBus = {
    in: (_port, size) => (size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff),
    out: (port, _size, value) => {
      if (port === POST_PORT) posts.push(value & 0xff);
      else if (port === OUT_PORT) out.push(value & 0xff);
    },
  };
  const cpu = new Cpu({ memory, io });
  cpu.reset();
  let instructions = 0;
  let exit: Exit = { reason: 'budget', instructions: 0 };
  while (instructions < maxInstructions) {
    exit = cpu.run(Math.min(10_000_000, maxInstructions - instructions));
    instructions += exit.instructions;
    if (exit.reason !== 'budget') break;
  }
  return {
    exit,
    posts,
    output: Buffer.from(out).toString('latin1'),
    instructions,
    eip: cpu.eip,
    cs: cpu.getSegment(1).selector,
  };
}

export function loadTest386(): { rom: Uint8Array; reference: string } {
  return {
    rom: new Uint8Array(readFileSync(TEST386_ROM)),
    reference: readFileSync(TEST386_REFERENCE, 'latin1'),
  };
}
