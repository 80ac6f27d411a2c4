/**
 * The browser demo's page: COM1 in xterm.js, the VM in a worker (worker.ts), live counters and the
 * native/PV toggle. Initial settings come from the query string
 * (`?mode=native&model=nested&smp=2&speed=200000`).
 */
import kernelAsset from '@pv/guest/images/pv-kernel.elf?url';
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import './style.css';
import type { PvDemoHandle } from './handle';
import type { BootConfig, PageMessage, WorkerMessage } from './protocol';
import { FiguresView } from './view';

const DIM = '\x1b[2m';
const RED = '\x1b[31m';
const RESET = '\x1b[0m';

const form = document.getElementById('controls') as HTMLFormElement;
const exitModelSelect = document.getElementById('exit-model') as HTMLSelectElement;
const smpSelect = document.getElementById('smp') as HTMLSelectElement;
const speedSelect = document.getElementById('speed') as HTMLSelectElement;
const rebootButton = document.getElementById('reboot') as HTMLButtonElement;
const view = new FiguresView();

const term = new Terminal({
  convertEol: true,
  scrollback: 10_000,
  cursorBlink: true,
  fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
  fontSize: 13,
  theme: { background: '#000000' },
});
const fit = new FitAddon();
term.loadAddon(fit);
term.open(document.getElementById('terminal')!);
fit.fit();
new ResizeObserver(() => fit.fit()).observe(document.getElementById('terminal')!);

/** The shipped kernel image as a Vite asset, absolute (the worker resolves URLs against its own). */
const kernelUrl = new URL(kernelAsset, location.href).href;
const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'pv-vm' });
let run = 0;
/** Whether the current machine has stopped for good (typed keys then go nowhere). */
let stopped = false;
let toldStopped = false;

function send(message: PageMessage, transfer: Transferable[] = []): void {
  worker.postMessage(message, transfer);
}

const encoder = new TextEncoder();
term.onData((data) => {
  if (stopped) {
    if (!toldStopped) term.write(`${DIM}[the machine has stopped: reboot it to type to COM1]${RESET}\n`);
    toldStopped = true;
    return;
  }
  const bytes = encoder.encode(data);
  send({ type: 'input', bytes }, [bytes.buffer]);
});

function selectedConfig(): BootConfig {
  const mode = (form.elements.namedItem('mode') as RadioNodeList).value === 'native' ? 'native' : 'pv';
  return {
    mode,
    exitModel: exitModelSelect.value === 'nested' ? 'nested' : 'shadow',
    smp: Number(smpSelect.value),
  };
}

function boot(): void {
  const config = selectedConfig();
  const params = new URLSearchParams(location.search);
  params.set('mode', config.mode);
  params.set('model', config.exitModel);
  params.set('smp', String(config.smp));
  history.replaceState(null, '', `?${params}`);
  view.booting(config);
  send({ type: 'boot', config, speed: Number(speedSelect.value), kernelUrl });
}

worker.onmessage = (event: MessageEvent<WorkerMessage>) => {
  const msg = event.data;
  switch (msg.type) {
    case 'booted':
      run = msg.run;
      stopped = false;
      toldStopped = false;
      term.reset();
      term.write(
        `${DIM}pv-kernel.elf, ${msg.config.mode === 'pv' ? 'paravirtual' : 'native'}, ${msg.config.exitModel} exit model, ${msg.config.smp} vCPU(s), cmdline "${msg.cmdline}"${RESET}\n`,
      );
      break;
    case 'console':
      if (msg.run === run) term.write(msg.bytes);
      break;
    case 'stats':
      if (msg.stats.run === run) view.stats(msg.stats);
      break;
    case 'workload':
      if (msg.run === run) view.workload(msg.config, msg.figures);
      break;
    case 'stopped': {
      if (msg.run !== run && msg.reason !== 'error') break;
      stopped = true;
      const detail = msg.status !== undefined ? `, status ${msg.status}` : '';
      if (msg.reason === 'error') {
        view.setState('error', msg.message);
        term.write(`\n${RED}[error: ${msg.message ?? 'unknown'}]${RESET}\n`);
      } else {
        view.setState(`stopped (${msg.reason}${detail})`);
        term.write(`\n${DIM}[machine stopped: ${msg.reason}${detail}]${RESET}\n`);
      }
      break;
    }
  }
};
worker.onerror = (event) => {
  view.setState('error', event.message);
  term.write(`\n${RED}[worker error: ${event.message}]${RESET}\n`);
};

// Initial settings from the query string.
const params = new URLSearchParams(location.search);
if (params.get('mode') === 'native')
  (document.getElementById('mode-native') as HTMLInputElement).checked = true;
if (params.get('model') === 'nested') exitModelSelect.value = 'nested';
for (const [select, name] of [
  [smpSelect, 'smp'],
  [speedSelect, 'speed'],
] as const) {
  const value = params.get(name);
  if (value !== null && [...select.options].some((o) => o.value === value)) select.value = value;
}

for (const radio of form.querySelectorAll<HTMLInputElement>('input[name=mode]')) {
  radio.addEventListener('change', boot);
}
exitModelSelect.addEventListener('change', boot);
smpSelect.addEventListener('change', boot);
rebootButton.addEventListener('click', boot);
speedSelect.addEventListener('change', () => send({ type: 'speed', speed: Number(speedSelect.value) }));
form.addEventListener('submit', (e) => e.preventDefault());

const handle: PvDemoHandle = {
  terminalText() {
    const buffer = term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < buffer.length; i++) {
      const line = buffer.getLine(i);
      if (!line) continue;
      const text = line.translateToString(true);
      if (line.isWrapped && lines.length > 0) lines[lines.length - 1] += text;
      else lines.push(text);
    }
    return lines.join('\n');
  },
  get run() {
    return run;
  },
};
window.pvDemo = handle;

boot();
term.focus();
