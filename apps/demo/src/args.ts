/** Command-line parsing for `pv run`: every problem is a UsageError naming the option. */

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface RunArgs {
  file?: string;
  bios?: string;
  memMiB: number;
  smp: number;
  append: string;
  modules: string[];
  pv: boolean;
  exitModel: 'shadow' | 'nested';
  maxInstructions: number;
  timeoutSec: number;
  stats: boolean;
  trace: boolean;
  reboot: boolean;
  epochMs?: number;
}

function integer(name: string, value: string | undefined, min: number, max: number): number {
  if (value === undefined) throw new UsageError(`${name} needs a value`);
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${name} ${value} is not an integer from ${min} to ${max}`);
  }
  return n;
}

function number(name: string, value: string | undefined): number {
  if (value === undefined) throw new UsageError(`${name} needs a value`);
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${name} ${value} is not a positive number`);
  return n;
}

function choice<T extends string>(name: string, value: string | undefined, choices: readonly T[]): T {
  if (value === undefined || !(choices as readonly string[]).includes(value)) {
    throw new UsageError(`${name} must be one of ${choices.join(', ')} (got ${value ?? 'nothing'})`);
  }
  return value as T;
}

export function parseRunArgs(argv: readonly string[]): RunArgs {
  const a: RunArgs = {
    memMiB: 128,
    smp: 1,
    append: '',
    modules: [],
    pv: true,
    exitModel: 'shadow',
    maxInstructions: Number.POSITIVE_INFINITY,
    timeoutSec: Number.POSITIVE_INFINITY,
    stats: false,
    trace: false,
    reboot: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--mem':
        a.memMiB = integer('--mem', value(), 2, 3072);
        break;
      case '--smp':
        a.smp = integer('--smp', value(), 1, 32);
        break;
      case '--append':
        a.append = value() ?? '';
        break;
      case '--module': {
        const m = value();
        if (!m) throw new UsageError('--module needs a file');
        a.modules.push(m);
        break;
      }
      case '--bios': {
        const b = value();
        if (!b) throw new UsageError('--bios needs a file');
        a.bios = b;
        break;
      }
      case '--pv':
        a.pv = choice('--pv', value(), ['on', 'off'] as const) === 'on';
        break;
      case '--exit-model':
        a.exitModel = choice('--exit-model', value(), ['shadow', 'nested'] as const);
        break;
      case '--max-instructions':
        a.maxInstructions = integer('--max-instructions', value(), 1, Number.MAX_SAFE_INTEGER);
        break;
      case '--timeout':
        a.timeoutSec = number('--timeout', value());
        break;
      case '--epoch':
        a.epochMs = integer('--epoch', value(), 0, Number.MAX_SAFE_INTEGER) * 1000;
        break;
      case '--stats':
        a.stats = true;
        break;
      case '--trace':
        a.trace = true;
        break;
      case '--reboot':
        a.reboot = true;
        break;
      default:
        if (flag.startsWith('-')) throw new UsageError(`unknown option '${flag}'`);
        if (a.file !== undefined) throw new UsageError(`unexpected argument '${arg}'`);
        a.file = arg;
    }
  }
  if (a.file === undefined && a.bios === undefined) throw new UsageError('run needs a FILE (or --bios FILE)');
  if (a.file !== undefined && a.bios !== undefined)
    throw new UsageError('give either a FILE or --bios FILE, not both');
  return a;
}
