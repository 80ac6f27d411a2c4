import { version } from '../package.json';

/** This package's version (for @pv/hypercall, the ABI's version). */
export const VERSION: string = version;
