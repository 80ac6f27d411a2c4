/**
 * The figures panel: machine counters, exits by kind and the per-workload native/PV comparison.
 * Plain DOM updates of pre-built rows; the worker sends counters a few times per second.
 */
import type { BootConfig, Stats, WorkloadFigures } from './protocol';

const number = new Intl.NumberFormat('en-US');

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`pv demo: the page has no #${id}`);
  return el as T;
}

/** The workload table compares boots of the same exit model and vCPU count. */
const key = (c: BootConfig, mode: BootConfig['mode']) => `${c.exitModel}/${c.smp}/${mode}`;

const sum = (e: Record<string, number>) => Object.values(e).reduce((a, b) => a + b, 0);

function compact(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  return number.format(n);
}

export class FiguresView {
  private readonly state = byId('state');
  private readonly mode = byId('mode');
  private readonly instructions = byId('instructions');
  private readonly cycles = byId('cycles');
  private readonly wall = byId('wall');
  private readonly inputBytes = byId('input-bytes');
  private readonly exitRows = byId<HTMLTableElement>('exits').tBodies[0]!;
  private readonly exitsTotal = byId('exits-total');
  private readonly workloadRows = byId<HTMLTableElement>('workloads').tBodies[0]!;
  private readonly workloadsModel = byId('workloads-model');
  private readonly exitCells = new Map<string, HTMLTableCellElement>();
  /** Per workload of the latest boot of each configuration (exit model, vCPUs, mode). */
  private readonly workloads = new Map<string, Map<string, { exits: number; cycles: number }>>();
  private shown: BootConfig = { mode: 'pv', exitModel: 'shadow', smp: 1 };

  booting(config: BootConfig): void {
    this.setState('booting');
    const cpus = `${config.smp} vCPU${config.smp > 1 ? 's' : ''}`;
    this.mode.textContent = `${config.mode === 'pv' ? 'paravirtual' : 'native (pv=off)'}, ${config.exitModel}, ${cpus}`;
    this.workloads.set(key(config, config.mode), new Map());
    this.shown = config;
    this.renderWorkloads();
  }

  setState(state: string, title?: string): void {
    this.state.textContent = state;
    this.state.dataset.state = state.startsWith('error') ? 'error' : state.split(' ')[0]!;
    this.state.title = title ?? '';
  }

  stats(s: Stats): void {
    this.instructions.textContent = number.format(s.instructions);
    const ms = (s.virtualCycles / s.hz) * 1000;
    this.cycles.textContent = `${compact(s.virtualCycles)} (${ms.toFixed(1)} ms at ${compact(s.hz)}Hz)`;
    const mips = s.runMs > 0 ? s.instructions / s.runMs / 1000 : 0;
    this.wall.textContent = `${number.format(Math.round(s.runMs))} ms (${mips.toFixed(1)} MIPS)`;
    this.inputBytes.textContent = number.format(s.inputBytes);
    for (const [kind, count] of Object.entries(s.exits)) {
      let cell = this.exitCells.get(kind);
      if (!cell) {
        const row = this.exitRows.insertRow();
        const th = document.createElement('th');
        th.scope = 'row';
        th.textContent = kind;
        row.append(th);
        cell = row.insertCell();
        cell.dataset.kind = kind;
        this.exitCells.set(kind, cell);
      }
      cell.textContent = number.format(count);
      cell.classList.toggle('zero', count === 0);
    }
    this.exitsTotal.textContent = number.format(sum(s.exits));
    if (s.state === 'running') this.setState('running');
    else if (s.state === 'waiting')
      this.setState('waiting for input', 'every vCPU is halted, no timer pending: COM1 input wakes it');
  }

  workload(config: BootConfig, f: WorkloadFigures): void {
    const k = key(config, config.mode);
    const runs = this.workloads.get(k) ?? new Map<string, { exits: number; cycles: number }>();
    this.workloads.set(k, runs);
    runs.set(f.workload, { exits: sum(f.exits), cycles: f.virtualCycles });
    this.renderWorkloads();
  }

  private renderWorkloads(): void {
    const { exitModel, smp } = this.shown;
    this.workloadsModel.textContent = `${exitModel}, ${smp} vCPU${smp > 1 ? 's' : ''}`;
    const native = this.workloads.get(key(this.shown, 'native')) ?? new Map();
    const pv = this.workloads.get(key(this.shown, 'pv')) ?? new Map();
    const names = [...new Set([...native.keys(), ...pv.keys()])];
    this.workloadRows.replaceChildren();
    for (const name of names) {
      const row = this.workloadRows.insertRow();
      row.dataset.workload = name;
      const n = native.get(name);
      const p = pv.get(name);
      const both = n !== undefined && p !== undefined;
      const cells: [string, string][] = [
        ['workload', name],
        ['native', n === undefined ? '–' : number.format(n.exits)],
        ['pv', p === undefined ? '–' : number.format(p.exits)],
        ['ratio', both && n.exits > 0 ? (p.exits / n.exits).toFixed(3) : '–'],
        ['cycles-ratio', both && n.cycles > 0 ? (p.cycles / n.cycles).toFixed(3) : '–'],
      ];
      for (const [column, text] of cells) {
        const cell = row.insertCell();
        cell.textContent = text;
        cell.dataset.column = column;
      }
    }
  }
}
