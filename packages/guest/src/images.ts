/**
 * The prebuilt guest images shipped in this package's `images/` directory.
 *
 * The mini PV kernel (`images/pv-kernel.elf`) is built from `kernel/` by
 * `scripts/build-kernel.sh` and committed, so users need no compiler. It is a multiboot v1 ELF:
 * boot it with `loadMultiboot`. Its command line takes `pv=off` (force native paravirt_ops).
 *
 * Works from the ESM and the CJS build, and from source under vitest. No Node built-in is imported
 * at load time, so bundling the package for a browser does not fail; there `miniKernelImage()`
 * throws, and the image is fetched instead (it is also exported as `@pv/guest/images/pv-kernel.elf`).
 */
import { GuestError } from './errors';

/** The mini PV kernel, relative to the package root. */
export const MINI_KERNEL_FILE = 'images/pv-kernel.elf';

declare const __filename: string | undefined;

/** `file:` URL or path of this module (src/images.ts, dist/index.js or dist/index.cjs). */
function thisModule(): string {
  // CJS defines __filename; ESM has import.meta.url (tsup empties import.meta in the CJS build).
  if (typeof __filename === 'string') return __filename;
  return String(import.meta.url ?? '');
}

/** Filesystem path of `rel` (relative to the package root), from this module's location. */
function packagePath(rel: string): string {
  let here = thisModule();
  if (here.startsWith('file:')) {
    here = decodeURIComponent(new URL(here).pathname);
    if (/^\/[A-Za-z]:\//.test(here)) here = here.slice(1); // file:///C:/… on Windows
  }
  const sep = here.includes('\\') && !here.includes('/') ? '\\' : '/';
  const parts = here.split(/[\\/]/);
  parts.splice(-2); // the file name and its directory (src/ or dist/)
  return [...parts, ...rel.split('/')].join(sep);
}

/** Absolute path of the shipped mini PV kernel image (Node). */
export const MINI_KERNEL_PATH: string = packagePath(MINI_KERNEL_FILE);

interface NodeFs {
  readFileSync(path: string): Uint8Array;
}

function nodeFs(): NodeFs {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof proc?.getBuiltinModule === 'function') return proc.getBuiltinModule('node:fs') as NodeFs;
  if (typeof require === 'function') return require('node:fs') as NodeFs;
  throw new GuestError(
    'UNSUPPORTED',
    `${MINI_KERNEL_FILE}: reading the image needs Node's fs (Node >= 20.16 for ESM); fetch it in a browser`,
  );
}

/** The bytes of the shipped mini PV kernel (a fresh copy on each call). */
export function miniKernelImage(): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = nodeFs().readFileSync(MINI_KERNEL_PATH);
  } catch (e) {
    if (GuestError.isInstance(e)) throw e;
    throw new GuestError('BAD_IMAGE', `${MINI_KERNEL_PATH}: cannot read the mini PV kernel (${String(e)})`);
  }
  return new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}
