import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  runCommand,
  STATUS_GUEST_FAILURE,
  STATUS_OK,
  STATUS_TIMEOUT,
  STATUS_USAGE,
} from '../src/run-command';

// Tiny firmware images: 64 KiB ROMs whose reset vector (F000:FFF0) holds a few real-mode bytes.
const dir = mkdtempSync(join(tmpdir(), 'pv-cli-'));
function rom(name: string, resetCode: number[], extra: [number, number[]][] = []): string {
  const img = new Uint8Array(0x10000).fill(0xf4);
  img.set(resetCode, 0xfff0);
  for (const [off, bytes] of extra) img.set(bytes, off);
  const path = join(dir, name);
  writeFileSync(path, img);
  return path;
}

const debugExit = rom('exit.rom', [0xb0, 0x21, 0xe6, 0xf4, 0xfa, 0xf4]); // mov al,0x21; out 0xf4,al
const cleanHalt = rom('halt.rom', [0xfa, 0xf4]); // cli; hlt
const spin = rom('spin.rom', [0xeb, 0xfe]); // jmp $
// lidt cs:[0xff00] (limit 0), then int3: the IVT lookup #GPs, the #GP #DFs, the #DF shuts down.
const tripleFault = rom(
  'triple.rom',
  [0x2e, 0x0f, 0x01, 0x1e, 0x00, 0xff, 0xcc],
  [[0xff00, [0, 0, 0, 0, 0, 0]]],
);

async function pv(...argv: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const status = await runCommand(argv, {
    stdout: (b) => {
      stdout += Buffer.from(b).toString('latin1');
    },
    stderr: (t) => {
      stderr += t;
    },
  });
  return { status, stdout, stderr };
}

describe('pv run exit status', () => {
  it('is (v << 1) | 1 after the guest writes v to the debug-exit port', async () => {
    expect((await pv('--bios', debugExit)).status).toBe((0x21 << 1) | 1);
  });

  it('is 0 on a clean halt with interrupts off', async () => {
    expect((await pv('--bios', cleanHalt)).status).toBe(STATUS_OK);
  });

  it('is 0 on an ACPI S5 power-off (SLP_EN with SLP_TYP 0 written to PM1a_CNT at 0x604)', async () => {
    // mov dx, 0x604; mov ax, 0x2000; out dx, ax; jmp $ (spins, hitting the limit, if not powered off)
    const s5 = rom('s5.rom', [0xba, 0x04, 0x06, 0xb8, 0x00, 0x20, 0xef, 0xeb, 0xfe]);
    const r = await pv('--bios', s5, '--max-instructions', '100000');
    expect(r.status).toBe(STATUS_OK);
    expect(r.stderr).toBe('');
    // the same ROM without the OUT spins into the instruction limit
    const spinOnly = rom('s5-no-out.rom', [0xba, 0x04, 0x06, 0xb8, 0x00, 0x20, 0x90, 0xeb, 0xfe]);
    expect((await pv('--bios', spinOnly, '--max-instructions', '100000')).status).toBe(STATUS_TIMEOUT);
  });

  it('is 2 with a message on a triple fault', async () => {
    const r = await pv('--bios', tripleFault);
    expect(r.status).toBe(STATUS_GUEST_FAILURE);
    expect(r.stderr).toMatch(/triple/);
  });

  it('is 124 at the instruction limit and on the wall-clock timeout', async () => {
    const limit = await pv('--bios', spin, '--max-instructions', '5000');
    expect(limit.status).toBe(STATUS_TIMEOUT);
    expect(limit.stderr).toMatch(/after 5000 instructions/);
    expect((await pv('--bios', spin, '--timeout', '0.2')).status).toBe(STATUS_TIMEOUT);
  });

  it('is 64 with a message naming the input on bad usage or unreadable input', async () => {
    const missing = await pv(join(dir, 'nope.elf'));
    expect(missing.status).toBe(STATUS_USAGE);
    expect(missing.stderr).toContain('nope.elf');
    const badFlag = await pv('--bios', spin, '--frobnicate');
    expect(badFlag.status).toBe(STATUS_USAGE);
    expect(badFlag.stderr).toContain('--frobnicate');
    const badMem = await pv('--bios', spin, '--mem', 'lots');
    expect(badMem.stderr).toContain('--mem lots');
    const badRom = join(dir, 'short.rom');
    writeFileSync(badRom, new Uint8Array(100));
    const r = await pv('--bios', badRom);
    expect(r.status).toBe(STATUS_USAGE);
    expect(r.stderr).toContain('short.rom');
  });

  it('prints one JSON line of statistics with --stats', async () => {
    const r = await pv('--bios', debugExit, '--stats');
    const line = JSON.parse(r.stderr.trim().split('\n').at(-1)!);
    expect(line.exits.io).toBe(1);
    expect(line.instructions).toBeGreaterThanOrEqual(2);
    expect(line.virtualCycles).toBeGreaterThanOrEqual(1500);
    expect(typeof line.wallMs).toBe('number');
    expect(line.post).toBeNull();
  });
});

describe('pv run options', () => {
  // mov dx, 0xcf9; mov al, 6; out dx, al; hlt: a hard reset through the reset control register.
  const reset = rom('reset.rom', [0xba, 0xf9, 0x0c, 0xb0, 0x06, 0xee, 0xf4]);

  it('stops with 0 on a guest reset, and restarts the machine with --reboot', async () => {
    expect((await pv('--bios', reset)).status).toBe(STATUS_OK);
    const r = await pv('--bios', reset, '--reboot', '--max-instructions', '40', '--stats');
    expect(r.status).toBe(STATUS_TIMEOUT);
    const stats = JSON.parse(r.stderr.trim().split('\n').at(-1)!);
    expect(stats.resets).toBeGreaterThanOrEqual(5);
  });

  it('keeps a guest that halts waiting for input running while stdin is open (the kernel with echo)', async () => {
    const { MINI_KERNEL_PATH } = await import('@pv/guest');
    let stdout = '';
    let ended = false;
    const status = await runCommand([MINI_KERNEL_PATH, '--append', 'echo', '--mem', '32'], {
      stdout: (b) => {
        stdout += Buffer.from(b).toString('latin1');
      },
      stderr: () => {},
      stdin: (onData, onEnd) => {
        // Type once the kernel has finished its workloads and waits in HLT, then close the input.
        const poll = setInterval(() => {
          if (!stdout.includes('echo: COM1 input is echoed back\n')) return;
          clearInterval(poll);
          onData(new TextEncoder().encode('hi there\r'));
          setTimeout(() => {
            ended = true;
            onEnd?.();
          }, 200);
        }, 20);
        return () => clearInterval(poll);
      },
    });
    expect(ended).toBe(true);
    expect(status).toBe(STATUS_OK); // halted with the input closed
    expect(stdout).toMatch(/DONE\necho: COM1 input is echoed back\nhi there\r\n$/);
  });

  it('--trace prints the last paravirt-ops calls of a paravirtual guest', async () => {
    const { MINI_KERNEL_PATH } = await import('@pv/guest');
    const r = await pv(MINI_KERNEL_PATH, '--trace', '--mem', '32', '--max-instructions', '400000');
    expect(r.stderr).toMatch(/paravirt-ops calls:/);
    expect(r.stderr).toMatch(/#\d+ \w+\.\w+\(/);
  });
});
