import { composedVersions } from './versions';

const USAGE = `usage: pv <command>

commands:
  demo        run the demo (for now: print the composed package versions)
  versions    print the version of every @pv package in this build
  help        this text
`;

/** Entry point of the `pv` CLI; returns the process exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command = 'help', ...rest] = argv;
  switch (command) {
    case 'demo':
    case 'versions': {
      if (rest.length > 0) return usage(`unexpected argument '${rest[0]}'`);
      const versions = composedVersions();
      const width = Math.max(...Object.keys(versions).map((n) => n.length));
      process.stdout.write(command === 'demo' ? '@pv demo machine, composed from:\n' : '');
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
