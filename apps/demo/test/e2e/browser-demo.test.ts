/**
 * End to end: builds the browser demo with Vite, serves it on a free localhost port and drives it in
 * headless Chromium (Debian's chromium through playwright-core). Asserts that the mini kernel's
 * console output reaches the xterm.js terminal, that the exit counters move while it runs, that
 * the native/PV toggle reboots into the other mode with visibly different exit counts, that typed
 * keys reach COM1 (the kernel's `echo` mode echoes them), that a reboot in mid-run leaves nothing
 * behind, that the exit-model and vCPU selects reboot into what they say, and that the page
 * fetches nothing from elsewhere.
 *
 * Chromium is installed by ../../scripts/install-chromium.sh when missing; only if that is
 * impossible are these tests skipped, with the reason printed.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {} from '../../web/src/handle'; // window.pvDemo
import { type StaticServer, serveStatic } from './static-server';

const run = promisify(execFile);
const demoDir = join(dirname(fileURLToPath(import.meta.url)), '../..');
const MINUTE = 60_000;
/** Generous: a boot takes about a second at full speed, but the machine is shared and loaded. */
const WAIT = 90_000;

let browser: Browser | undefined;
let server: StaticServer | undefined;
let outDir: string | undefined;
let skipReason: string | undefined;

/** Runs the install script; returns the browser's path, or sets skipReason. */
async function findChromium(): Promise<string | undefined> {
  try {
    const { stdout } = await run('sh', [join(demoDir, 'scripts/install-chromium.sh')], {
      timeout: 20 * MINUTE,
      maxBuffer: 64 << 20,
    });
    return stdout.trim().split('\n').pop();
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    skipReason = `browser e2e skipped: Chromium is not installed and could not be installed (${(err.stderr || err.message).trim().split('\n').pop()})`;
    console.warn(`\n*** ${skipReason} ***\n`);
    return undefined;
  }
}

beforeAll(async () => {
  const executablePath = await findChromium();
  if (!executablePath) return;
  outDir = mkdtempSync(join(tmpdir(), 'pv-web-'));
  const viteBin = join(
    dirname(createRequire(join(demoDir, 'package.json')).resolve('vite/package.json')),
    'bin/vite.js',
  );
  await run(
    process.execPath,
    [
      viteBin,
      'build',
      '--config',
      'vite.config.ts',
      '--outDir',
      outDir,
      '--emptyOutDir',
      '--logLevel',
      'error',
    ],
    { cwd: demoDir, timeout: 5 * MINUTE, maxBuffer: 64 << 20 },
  );
  server = await serveStatic(outDir);
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}, 30 * MINUTE);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

/** The terminal's text (xterm.js buffer, scrollback included). */
const terminalText = (page: Page) => page.evaluate(() => window.pvDemo?.terminalText() ?? '');

/**
 * Waits until boot number `run` has finished its workloads (DONE) and halted in the kernel's
 * `echo` loop, waiting for COM1 input.
 */
async function waitForDone(page: Page, run: number): Promise<string> {
  await page.waitForFunction(
    (n) =>
      window.pvDemo?.run === n &&
      /^DONE\necho: COM1 input is echoed back$/m.test(window.pvDemo.terminalText()),
    run,
    { timeout: WAIT, polling: 100 },
  );
  await expect.poll(() => page.locator('#state').textContent(), { timeout: WAIT }).toBe('waiting for input');
  return terminalText(page);
}

/** Exits by kind as shown in the counters panel. */
async function shownExits(page: Page): Promise<Record<string, number>> {
  const cells = await page
    .locator('#exits td[data-kind]')
    .evaluateAll((tds) => tds.map((td) => [(td as HTMLElement).dataset.kind!, td.textContent!] as const));
  return Object.fromEntries(cells.map(([k, v]) => [k, Number(v.replace(/,/g, ''))]));
}

const total = (e: Record<string, number>) => Object.values(e).reduce((a, b) => a + b, 0);
const numberIn = async (page: Page, selector: string) =>
  Number(((await page.locator(selector).textContent()) ?? '').replace(/[^0-9]/g, ''));

/** Every value the page renders into #exits-total, in order (recorded from the first paint). */
function recordTotals(): void {
  const w = window as unknown as { exitTotals: number[] };
  w.exitTotals = [];
  document.addEventListener('DOMContentLoaded', () => {
    const el = document.getElementById('exits-total')!;
    new MutationObserver(() => w.exitTotals.push(Number(el.textContent!.replace(/,/g, '')))).observe(el, {
      childList: true,
      characterData: true,
      subtree: true,
    });
  });
}

describe('browser demo (Vite page, VM in a Web Worker, xterm.js)', () => {
  let page: Page;
  const pageErrors: string[] = [];
  const foreignRequests: string[] = [];
  let pvExits: Record<string, number> = {};

  it(
    'boots the mini kernel paravirtually: its output appears in the terminal and the exit counters move',
    async (ctx) => {
      if (!browser || !server) return ctx.skip(skipReason ?? 'no browser');
      page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      page.on('pageerror', (e) => pageErrors.push(String(e)));
      page.on('console', (m) => {
        if (m.type() === 'error') pageErrors.push(m.text());
      });
      // Offline: every request must go to the page's own server (no CDN, no fonts from elsewhere).
      await page.route('**/*', (route) => {
        const url = route.request().url();
        if (url.startsWith(server!.url)) return route.continue();
        foreignRequests.push(url);
        return route.abort();
      });
      await page.addInitScript(recordTotals);
      // 2 M instructions per second: the PV boot (about 2 M instructions) lasts about a second
      // whatever the host's speed, so several counter updates fall inside it.
      await page.goto(`${server.url}?speed=2000000`);
      const text = await waitForDone(page, 1);

      // The kernel's own lines, through COM1 / the PV console into the terminal.
      expect(text).toContain('pv-kernel: booting, cmdline "echo"');
      expect(text).toContain('pv-kernel: paging on, APIC enabled, mode pv');
      for (const workload of ['ptchurn', 'timer', 'ipi', 'console']) {
        expect(text).toContain(`BEGIN workload=${workload}`);
        expect(text).toMatch(new RegExp(`^RESULT workload=${workload} mode=pv .*status=ok$`, 'm'));
      }
      expect(text).not.toContain('FAILED');
      // What is on screen (the DOM renderer's rows), not only in the buffer.
      await expect.poll(() => page.locator('.xterm-rows').textContent()).toContain('DONE');

      // The counters moved while the kernel ran: several increasing values before the final one.
      const totals = await page.evaluate(() => (window as unknown as { exitTotals: number[] }).exitTotals);
      pvExits = await shownExits(page);
      const final = total(pvExits);
      const during = [...new Set(totals.filter((t) => t > 0 && t < final))];
      expect(during.length, `totals seen: ${totals.join(' ')}`).toBeGreaterThanOrEqual(2);
      for (let i = 1; i < totals.length; i++) {
        if (totals[i]! !== 0) expect(totals[i]!).toBeGreaterThanOrEqual(totals[i - 1]!);
      }
      expect(totals.at(-1)).toBe(final);
      expect(await numberIn(page, '#exits-total')).toBe(final);
      expect(pvExits.hypercall).toBeGreaterThan(0);
      expect(await numberIn(page, '#instructions')).toBeGreaterThan(1_000_000);
      expect(await page.locator('#workloads tr[data-workload] td[data-column=pv]').count()).toBe(4);
      expect(pageErrors).toEqual([]);
    },
    3 * MINUTE,
  );

  it(
    'the native/PV toggle reboots natively (pv=off) with visibly different exit counts',
    async (ctx) => {
      if (!browser || !server || !page) return ctx.skip(skipReason ?? 'no browser');
      await page.selectOption('#speed', '0');
      await page.click('label[for=mode-native]');
      const text = await waitForDone(page, 2);
      expect(text).toContain('pv-kernel: booting, cmdline "pv=off echo"');
      expect(text).toContain('pv-kernel: paging on, APIC enabled, mode native');
      expect(text).not.toContain('mode pv'); // the terminal was cleared on reboot
      expect(text).toMatch(/^RESULT workload=ptchurn mode=native .*status=ok$/m);
      expect(new URL(page.url()).searchParams.get('mode')).toBe('native');

      const nativeExits = await shownExits(page);
      // Native: one exit per page-table write, INVLPG, APIC access and UART port access; no hypercalls.
      expect(nativeExits.hypercall).toBe(0);
      expect(nativeExits.ptwrite).toBeGreaterThan(1000);
      expect(nativeExits.invlpg).toBeGreaterThan(1000);
      expect(pvExits.ptwrite).toBe(0);
      expect(total(nativeExits)).toBeGreaterThan(5 * total(pvExits));

      // Both columns of the workload table are filled; batched PV needs far fewer exits.
      const rows = await page
        .locator('#workloads tr[data-workload]')
        .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
      expect(rows.map((r) => r[0])).toEqual(['ptchurn', 'timer', 'ipi', 'console']);
      for (const [, native, pv, ratio, cycles] of rows) {
        expect(Number(pv!.replace(/,/g, ''))).toBeLessThan(Number(native!.replace(/,/g, '')));
        expect(Number(ratio)).toBeLessThan(1);
        expect(Number(cycles)).toBeGreaterThan(0);
        expect(Number(cycles)).toBeLessThan(1); // fewer exits: fewer virtual cycles too
      }

      // And back: the toggle is a real switch, not a one-shot.
      await page.click('label[for=mode-pv]');
      const again = await waitForDone(page, 3);
      expect(again).toContain('mode pv');
      expect(total(await shownExits(page))).toBeLessThan(total(nativeExits) / 5);
      expect(pageErrors).toEqual([]);
    },
    4 * MINUTE,
  );

  it(
    'typed keys go to COM1 and the kernel echoes them; a reboot mid-run starts a clean machine',
    async (ctx) => {
      if (!browser || !server || !page) return ctx.skip(skipReason ?? 'no browser');
      // Run 3 (PV) is halted in the kernel's echo loop: a key wakes it through IRQ 4.
      const before = total(await shownExits(page));
      await page.click('#terminal');
      await page.keyboard.type('hello, pv\n');
      await expect.poll(() => terminalText(page), { timeout: WAIT }).toMatch(/^echo: COM1.*\nhello, pv$/m);
      await expect.poll(() => numberIn(page, '#input-bytes'), { timeout: WAIT }).toBe(10);
      await expect
        .poll(() => page.locator('#state').textContent(), { timeout: WAIT })
        .toBe('waiting for input');
      expect(total(await shownExits(page))).toBeGreaterThan(before);

      // Slow the machine down, reboot, type ahead while the workloads run, then reboot natively
      // before they finish: nothing of run 4 (output or queued keys) may leak into run 5.
      await page.selectOption('#speed', '200000');
      await page.click('#reboot');
      await page.waitForFunction(() => window.pvDemo?.run === 4, null, { timeout: WAIT });
      await expect.poll(() => page.locator('#state').textContent(), { timeout: WAIT }).toBe('running');
      await page.click('#terminal');
      await page.keyboard.type('queued');
      await expect.poll(() => numberIn(page, '#input-bytes'), { timeout: WAIT }).toBe(6);
      expect(await page.locator('#state').textContent()).toBe('running');
      await page.selectOption('#speed', '0');
      await page.click('label[for=mode-native]');
      const text = await waitForDone(page, 5);
      expect(text.split('\n')[0]).toBe(
        'pv-kernel.elf, native, shadow exit model, 1 vCPU(s), cmdline "pv=off echo"',
      );
      expect(text).not.toContain('mode pv');
      expect(text).not.toContain('queued');
      expect(text.match(/^pv-kernel: booting/gm)).toHaveLength(1);
      expect(await numberIn(page, '#input-bytes')).toBe(0);

      // Natively the echo costs port I/O exits (UART registers, the 8259A's EOI).
      const io = (await shownExits(page)).io!;
      await page.click('#terminal');
      await page.keyboard.type('ok\n');
      await expect.poll(() => terminalText(page), { timeout: WAIT }).toMatch(/^ok$/m);
      await expect.poll(async () => (await shownExits(page)).io, { timeout: WAIT }).toBeGreaterThan(io);

      expect(foreignRequests).toEqual([]);
      expect(server.requests).toContain('/');
      expect(server.requests.some((p) => /^\/assets\/pv-kernel-.*\.elf$/.test(p))).toBe(true);
      expect(pageErrors).toEqual([]);
    },
    3 * MINUTE,
  );

  it(
    'the exit model select reboots under nested paging: page-table writes, CR3 loads and INVLPG stop exiting',
    async (ctx) => {
      if (!browser || !server || !page) return ctx.skip(skipReason ?? 'no browser');
      await page.click('#reboot'); // run 6: native, shadow, no typing
      await waitForDone(page, 6);
      const shadowNative = await shownExits(page);
      await page.selectOption('#exit-model', 'nested');
      const text = await waitForDone(page, 7);
      expect(text).toContain('mode native');
      expect(text).toMatch(/^RESULT workload=ptchurn mode=native .*status=ok$/m);
      const nested = await shownExits(page);
      expect(nested.ptwrite).toBe(0);
      expect(nested.invlpg).toBe(0);
      expect(nested.cr).toBe(0);
      expect(shadowNative.ptwrite).toBeGreaterThan(1000);
      // The port I/O and APIC exits of the native console and timer workloads remain (UART polls
      // vary a little with virtual time, which the dropped exits no longer charge).
      expect(nested.io).toBeGreaterThan(0.8 * shadowNative.io!);
      expect(nested.apic).toBeGreaterThan(0.8 * shadowNative.apic!);
      expect(await page.locator('#workloads-model').textContent()).toBe('nested, 1 vCPU');
      expect(new URL(page.url()).searchParams.get('model')).toBe('nested');
      expect(pageErrors).toEqual([]);
    },
    3 * MINUTE,
  );

  it(
    'the vCPU select reboots with 4 vCPUs: the kernel starts the APs and sends them IPIs',
    async (ctx) => {
      if (!browser || !server || !page) return ctx.skip(skipReason ?? 'no browser');
      await page.selectOption('#exit-model', 'shadow');
      await waitForDone(page, 8);
      await page.click('label[for=mode-pv]');
      await waitForDone(page, 9);
      await page.selectOption('#smp', '4');
      const text = await waitForDone(page, 10);
      expect(text.split('\n')[0]).toBe(
        'pv-kernel.elf, paravirtual, shadow exit model, 4 vCPU(s), cmdline "echo"',
      );
      expect(text).toMatch(/^RESULT workload=ipi mode=pv .*cpus=4 status=ok$/m);
      expect(text).not.toContain('FAILED');
      expect(await page.locator('#mode').textContent()).toBe('paravirtual, shadow, 4 vCPUs');
      expect(await page.locator('#workloads-model').textContent()).toBe('shadow, 4 vCPUs');
      expect(new URL(page.url()).searchParams.get('smp')).toBe('4');
      expect(pageErrors).toEqual([]);
    },
    3 * MINUTE,
  );
});
