import { demoCommand } from './demo-command';
import { runCommand } from './run-command';
import { composedVersions } from './versions';

/** COM1 input from the process's stdin, for as long as the guest runs. */
function listenStdin(onData: (bytes: Uint8Array) => void, onEnd?: () => void): () => void {
  const listener = (chunk: Buffer) => onData(new Uint8Array(chunk));
  const end = () => onEnd?.();
  process.stdin.on('data', listener);
  process.stdin.on('end', end);
  return () => {
    process.stdin.off('data', listener);
    process.stdin.off('end', end);
    process.stdin.pause();
  };
}

const USAGE = `usage: pv <command>

commands:
  run FILE    boot a multiboot ELF with COM1 on stdin/stdout
              --bios FILE        boot a ROM image from the reset vector instead
              --mem MiB          guest RAM (default 128)
              --smp N            vCPUs (default 1)
              --append STR       kernel command line
              --module FILE      multiboot module (repeatable)
              --pv on|off        advertise the KVM/@pv hypervisor leaves (default on)
              --exit-model shadow|nested   which events exit (default shadow)
              --max-instructions N         deterministic limit (exit 124)
              --timeout SEC      wall-clock limit (exit 124)
              --epoch SEC        guest wall-clock epoch (default: now)
              --stats            one JSON line of exit statistics on stderr at exit
              --trace            print the last paravirt-ops calls on stderr at exit
              --reboot           restart the machine when the guest resets it (default: stop)
              exit status: the debug-exit value (v << 1) | 1 after a write of v to port 0xf4;
              0 on a clean halt, power-off or reset; 2 on a triple fault; 124 on a limit;
              64 on bad usage or unreadable input
  demo        boot the mini PV kernel natively and paravirtually; print exits side by side
  versions    print the version of every @pv package in this build
  help        this text
`;

/** Entry point of the `pv` CLI; returns the process exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command = 'help', ...rest] = argv;
  switch (command) {
    case 'run':
      return runCommand(rest, {
        stdout: (b) => process.stdout.write(b),
        stderr: (t) => process.stderr.write(t),
        stdin: process.stdin.isTTY === undefined && !process.stdin.readable ? undefined : listenStdin,
        progress: process.stderr.isTTY === true,
      });
    case 'demo':
      if (rest.length > 0) return usage(`unexpected argument '${rest[0]}'`);
      return demoCommand((t) => process.stdout.write(t));
    case 'versions': {
      if (rest.length > 0) return usage(`unexpected argument '${rest[0]}'`);
      const versions = composedVersions();
      const width = Math.max(...Object.keys(versions).map((n) => n.length));
      for (const [name, version] of Object.entries(versions)) {
        process.stdout.write(`  ${name.padEnd(width)}  ${version}\n`);
      }
      return 0;
    }
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      return usage(`unknown command '${command}'`);
  }
}

function usage(message: string): number {
  process.stderr.write(`pv: ${message}\n${USAGE}`);
  return 64;
}
