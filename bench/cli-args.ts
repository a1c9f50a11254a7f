/**
 * Command lines of the bench's CLIs (cli.ts, soak/cli.ts): `--help` prints the usage, anything
 * wrong is a usage error (exit 2), scenarios are checked against those that exist.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';

export class Cli {
  constructor(private readonly usage: string) {}

  /** Prints `message` and the usage to stderr; exits 2. */
  fail(message: string): never {
    process.stderr.write(`${message}\n\n${this.usage}\n`);
    process.exit(2);
  }

  /** Parses the process's arguments (`config` has a boolean `help`: it prints the usage, exit 0). */
  parse<const T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
    let parsed: ReturnType<typeof parseArgs<T>>;
    try {
      parsed = parseArgs(config);
    } catch (error) {
      this.fail((error as Error).message);
    }
    if ((parsed.values as { help?: boolean }).help) {
      process.stdout.write(`${this.usage}\n`);
      process.exit(0);
    }
    return parsed;
  }

  /** `names`, each one of `scenarios`' names; a usage error otherwise. */
  scenarios(names: string[], scenarios: readonly { name: string }[]): string[] {
    const unknown = names.filter((n) => !scenarios.some((s) => s.name === n));
    if (unknown.length) this.fail(`unknown scenario ${unknown.join(', ')}`);
    return names;
  }
}
