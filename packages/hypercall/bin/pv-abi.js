#!/usr/bin/env node
// pv-abi: check ABI compatibility, record snapshots, generate the C header and ABI.md.
// Runs the built CLI (dist/cli.js); `npm run build -w @pv/hypercall` first when working from source.
import { main } from '../dist/cli.js';

process.exitCode = main(process.argv.slice(2), {
  cwd: process.cwd(),
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
});
