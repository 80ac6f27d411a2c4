/**
 * The browser demo's VM worker (web/src/worker.ts) driven in Node through its message protocol,
 * with `self` and `fetch` stubbed: boot, console, per-workload figures, counters, typed input, the
 * rate limit, reboots in mid-run, guest resets and halts, and the error paths (unreachable image,
 * malformed image). Fast and without a browser; the Chromium test covers the page itself.
 */
import { readFileSync } from 'node:fs';
import { MINI_KERNEL_PATH } from '@pv/guest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BootConfig, PageMessage, Stats, WorkerMessage } from '../../web/src/protocol';

const KERNEL = 'http://demo.test/assets/pv-kernel.elf';
const MISSING = 'http://demo.test/assets/missing.elf';
const GARBAGE = 'http://demo.test/assets/garbage.elf';
const RESETS = 'http://demo.test/assets/resets.elf';
const HALTS = 'http://demo.test/assets/halts.elf';
const EXITS = 'http://demo.test/assets/exits.elf';
const WAIT = 60_000;

/**
 * A multiboot v1 image by the a.out kludge (Multiboot 0.6.96 §3.1.1, §3.1.3): the header, then
 * `code`, loaded at 1 MiB and entered right after the header.
 */
function multibootImage(code: number[]): Uint8Array {
  const base = 0x100000;
  const magic = 0x1badb002;
  const flags = 1 << 16;
  const header = [magic, flags, -(magic + flags) >>> 0, base, base, 0, 0, base + 32];
  const image = new Uint8Array(32 + code.length);
  const v = new DataView(image.buffer);
  for (const [i, word] of header.entries()) v.setUint32(i * 4, word, true);
  image.set(code, 32);
  return image;
}

const images: Record<string, Uint8Array> = {
  [KERNEL]: new Uint8Array(readFileSync(MINI_KERNEL_PATH)),
  [GARBAGE]: new Uint8Array(4096).fill(0x5a),
  // mov al, 0xFE; out 0x64, al (i8042: pulse the reset line); hlt
  [RESETS]: multibootImage([0xb0, 0xfe, 0xe6, 0x64, 0xf4]),
  // mov al, 'h'; out 0x3F8, al (via dx); hlt with interrupts off
  [HALTS]: multibootImage([0x66, 0xba, 0xf8, 0x03, 0xb0, 0x68, 0xee, 0xf4]),
  // mov al, 0; out 0xF4, al (isa-debug-exit: status (0 << 1) | 1); hlt
  [EXITS]: multibootImage([0xb0, 0x00, 0xe6, 0xf4, 0xf4]),
};

const posted: WorkerMessage[] = [];
const scope: { postMessage(m: WorkerMessage): void; onmessage: ((e: { data: PageMessage }) => void) | null } =
  {
    postMessage: (m) => posted.push(m),
    onmessage: null,
  };
const fetched: string[] = [];

beforeAll(async () => {
  vi.stubGlobal('self', scope);
  vi.stubGlobal('fetch', async (url: string) => {
    fetched.push(url);
    const body = images[url];
    return body
      ? new Response(body.slice(), { status: 200 })
      : new Response('not here', { status: 404, statusText: 'Not Found' });
  });
  await import('../../web/src/worker');
});

afterAll(() => {
  vi.unstubAllGlobals();
});

function send(message: PageMessage): void {
  scope.onmessage!({ data: message });
}

const pv: BootConfig = { mode: 'pv', exitModel: 'shadow', smp: 1 };
const native: BootConfig = { mode: 'native', exitModel: 'shadow', smp: 1 };

/** Polls until `find` returns something, yielding to the worker's message loop. */
async function waitFor<T>(find: () => T | undefined, what: string, timeout = WAIT): Promise<T> {
  const end = Date.now() + timeout;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const of = <K extends WorkerMessage['type']>(type: K, run?: number) =>
  posted.filter(
    (m): m is Extract<WorkerMessage, { type: K }> =>
      m.type === type &&
      (run === undefined || ('run' in m ? m.run : (m as { stats: Stats }).stats.run) === run),
  );
const statsOf = (run: number) =>
  of('stats')
    .map((m) => m.stats)
    .filter((s) => s.run === run);
const consoleOf = (run: number) =>
  of('console', run)
    .map((m) => new TextDecoder().decode(m.bytes))
    .join('');
const lastRun = () => of('booted').at(-1)?.run ?? 0;
const total = (e: Record<string, number>) => Object.values(e).reduce((a, b) => a + b, 0);

/** Boots and waits for the 'booted' message; returns the run number. */
async function boot(config: BootConfig, kernelUrl = KERNEL, speed = 0): Promise<number> {
  const from = posted.length;
  send({ type: 'boot', config, speed, kernelUrl });
  // The worker drops the old machine at once, so the next 'booted' is this boot's.
  return waitFor(() => posted.slice(from).find((m) => m.type === 'booted')?.run, 'booted');
}

const stoppedOf = (run: number) => waitFor(() => of('stopped', run)[0], `run ${run} to stop`);

const ECHO = 'echo: COM1 input is echoed back\n';
/** Waits until boot `run` has done its workloads and halted in the kernel's `echo` loop. */
const echoing = (run: number) =>
  waitFor(
    () => (consoleOf(run).endsWith(ECHO) ? statsOf(run).find((s) => s.state === 'waiting') : undefined),
    `run ${run} to halt in the echo loop`,
  );

describe('browser demo worker (web/src/worker.ts)', () => {
  it('boots the mini kernel paravirtually and reports its console, workloads and counters', async () => {
    const run = await boot(pv);
    await echoing(run);
    expect(of('booted', run)[0]).toMatchObject({ config: pv, cmdline: 'echo' });
    const text = consoleOf(run);
    expect(text).toContain('pv-kernel: paging on, APIC enabled, mode pv');
    expect(text).toMatch(/^DONE$/m);
    expect(of('stopped', run)).toEqual([]);

    const workloads = of('workload', run).map((m) => m.figures);
    expect(workloads.map((w) => w.workload)).toEqual(['ptchurn', 'timer', 'ipi', 'console']);
    for (const w of workloads) {
      expect(w.result.status).toBe('ok');
      expect(w.result.mode).toBe('pv');
      expect(w.virtualCycles).toBeGreaterThan(0);
    }
    expect(workloads.find((w) => w.workload === 'ptchurn')!.exits.hypercall).toBeGreaterThan(0);

    // Counters: never decreasing; the last equals the machine's state at the stop.
    const stats = statsOf(run);
    expect(stats.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < stats.length; i++) {
      expect(stats[i]!.instructions).toBeGreaterThanOrEqual(stats[i - 1]!.instructions);
      expect(total(stats[i]!.exits)).toBeGreaterThanOrEqual(total(stats[i - 1]!.exits));
      expect(stats[i]!.virtualCycles).toBeGreaterThanOrEqual(stats[i - 1]!.virtualCycles);
    }
    const last = stats.at(-1)!;
    expect(last.state).toBe('waiting');
    expect(last.instructions).toBeGreaterThan(1_000_000);
    expect(total(last.exits)).toBeGreaterThanOrEqual(workloads.reduce((n, w) => n + total(w.exits), 0));
    expect(fetched.filter((u) => u === KERNEL)).toHaveLength(1);

    // Typed bytes wake the halted kernel (IRQ 4), which echoes them (CR as CR LF) and halts again.
    const seen = stats.length;
    send({ type: 'input', bytes: new TextEncoder().encode('hi\r') });
    await waitFor(() => (consoleOf(run).endsWith(`${ECHO}hi\r\n`) ? true : undefined), 'the echo');
    const after = await waitFor(
      () =>
        statsOf(run)
          .slice(seen)
          .find((s) => s.state === 'waiting' && s.inputBytes === 3),
      'halted again',
    );
    expect(after.exits.hypercall!).toBeGreaterThan(last.exits.hypercall!); // the PV console write
  });

  it('boots natively with pv=off: no hypercalls, far more exits, same workload checksums', async () => {
    const pvRun = lastRun();
    const run = await boot(native);
    await echoing(run);
    expect(of('booted', run)[0]!.cmdline).toBe('pv=off echo');
    const n = of('workload', run).map((m) => m.figures);
    const p = of('workload', pvRun).map((m) => m.figures);
    expect(n.map((w) => w.result.checksum)).toEqual(p.map((w) => w.result.checksum));
    for (const w of n) expect(w.exits.hypercall).toBe(0);
    expect(total(statsOf(run).at(-1)!.exits)).toBeGreaterThan(5 * total(statsOf(pvRun).at(-1)!.exits));
    // The image was fetched once and kept.
    expect(fetched.filter((u) => u === KERNEL)).toHaveLength(1);
  });

  it('rate-limits, takes typed input while running, and drops a machine rebooted in mid-run', async () => {
    const speed = 200_000;
    const run = await boot(pv, KERNEL, speed);
    const t0 = Date.now();
    send({ type: 'input', bytes: new TextEncoder().encode('hello\r') });
    await waitFor(() => statsOf(run).find((s) => s.inputBytes === 6), 'inputBytes 6');
    await new Promise((r) => setTimeout(r, 300));
    const s = statsOf(run).at(-1)!;
    expect(s.state).toBe('running');
    // An upper bound only (a loaded host runs slower, never faster): rate × time + one burst.
    const seconds = (Date.now() - t0) / 1000;
    expect(s.instructions).toBeLessThanOrEqual(speed * seconds + speed / 10 + 100_000);

    const next = await boot(native);
    const afterBoot = posted.length;
    await echoing(next);
    // Nothing of the dropped machine after the new one booted, and it never stopped; the keys
    // queued in its UART are gone with it.
    const late = posted.slice(afterBoot).filter((m) => ('run' in m ? m.run : m.stats.run) === run);
    expect(late).toEqual([]);
    expect(of('stopped', run)).toEqual([]);
    expect(consoleOf(next)).not.toContain('hello');
    expect(statsOf(next).at(-1)!.inputBytes).toBe(0);

    // Input to a stopped machine is ignored.
    const exited = await boot(pv, EXITS);
    expect(await stoppedOf(exited)).toMatchObject({ reason: 'debug-exit', status: 1 });
    const count = statsOf(exited).length;
    send({ type: 'input', bytes: new Uint8Array([0x61]) });
    await new Promise((r) => setTimeout(r, 50));
    expect(statsOf(exited)).toHaveLength(count);
    expect(statsOf(exited).at(-1)).toMatchObject({ state: 'stopped', inputBytes: 0 });
  });

  it('reboots on a guest-requested reset (i8042 pulse), as a PC does; a halt with interrupts off stops it', async () => {
    const t0 = Date.now();
    const first = await boot(native, RESETS);
    await waitFor(() => (lastRun() >= first + 3 ? true : undefined), 'three reboots');
    expect(of('stopped', first)[0]).toMatchObject({ reason: 'reset' });
    expect(of('booted', first + 1)[0]).toMatchObject({ config: native, cmdline: 'pv=off echo' });
    // Not a spin: each reboot waits a moment.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3 * 100 - 10);
    // A new boot request ends the loop.
    // A halt with interrupts off is the end: nothing can wake the machine.
    const run = await boot(pv, HALTS);
    expect(await stoppedOf(run)).toMatchObject({ reason: 'halted' });
    expect(consoleOf(run)).toBe('h');
    expect(statsOf(run).at(-1)!.state).toBe('stopped');
  });

  it('reports an unreachable or malformed image as a stopped machine with the reason', async () => {
    send({ type: 'boot', config: pv, speed: 0, kernelUrl: MISSING });
    const missing = await waitFor(
      () => of('stopped').find((m) => m.message?.includes(MISSING)),
      'the missing image to be reported',
    );
    expect(missing.reason).toBe('error');
    expect(missing.message).toBe(`cannot fetch the kernel: ${MISSING}: HTTP 404 Not Found`);

    send({ type: 'boot', config: pv, speed: 0, kernelUrl: GARBAGE });
    const garbage = await waitFor(
      () => of('stopped').find((m) => m.reason === 'error' && m.message?.includes('pv-kernel.elf')),
      'the malformed image to be reported',
    );
    expect(garbage.message).toMatch(/multiboot/i);
    // Still usable afterwards.
    await echoing(await boot(pv));
  });
});
