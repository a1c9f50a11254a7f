/**
 * A/B of two builds on a noisy host. Runs `bench/cli.js <scenario args> --reps 1 --json` of
 * build A and build B in alternation, `--runs` times each, and prints per metric the median of
 * nats-offload's value and of its ratio to nats.js. The ratio is the steadier figure: nats.js
 * runs in the same invocation, so it carries the host's phase with it. One-off runs mislead
 * here (the same build swings by half between minutes); alternation spreads the phases over
 * both builds. The ratio to raw (the ceiling, also in the same invocation) follows it, and the
 * last column is raw's own median over every run: what a "× raw" target is a share of (a CPU
 * budget per message is raw's total CPU / the target ratio).
 *
 *   node dist/bench/tools/ab.js [--runs 4] <buildA> <buildB> <scenario> [cli options…]
 *   node dist/bench/tools/ab.js --runs 5 dist-old dist pubsub
 *   node dist/bench/tools/ab.js dist-old dist pub --size 16384
 *
 * A build is a `dist` directory (a copy of one inside the repository keeps node_modules in
 * reach: `cp -r dist dist-old` before the change, rebuild after it).
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import type { ClientName } from '../clients/types.js';
import { formatValue, type Row } from '../report.js';
import { median } from '../stats.js';

const args = process.argv.slice(2);
let runs = 4;
if (args[0] === '--runs') {
  runs = Number(args[1]);
  args.splice(0, 2);
}
const [buildA, buildB, ...cliArgs] = args;
if (!buildA || !buildB || cliArgs.length === 0 || !Number.isInteger(runs) || runs < 1) {
  process.stderr.write(
    'usage: node dist/bench/tools/ab.js [--runs N] <buildA> <buildB> <scenario> [cli options…]\n',
  );
  process.exit(2);
}

/** One invocation of a build's CLI: its summary rows. */
function runOnce(build: string): Row[] {
  const cli = join(resolve(build), 'bench', 'cli.js');
  const result = spawnSync(process.execPath, [cli, ...cliArgs, '--reps', '1', '--json'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) {
    throw new Error(`${cli} exited with ${result.status}: ${result.stderr.slice(-2000)}`);
  }
  return (JSON.parse(result.stdout) as { summary: Row[] }).summary;
}

/** Per build, per "label metric": nats-offload's values and ratios over the runs. */
const seen = new Map<string, { a: Row[]; b: Row[] }>();
for (let run = 1; run <= runs; run++) {
  for (const [side, build] of [
    ['a', buildA],
    ['b', buildB],
  ] as const) {
    for (const row of runOnce(build)) {
      const key = `${row.label} ${row.metric}`;
      const entry = seen.get(key) ?? { a: [], b: [] };
      entry[side].push(row);
      seen.set(key, entry);
    }
    process.stderr.write(`run ${run}/${runs} ${side.toUpperCase()} done\n`);
  }
}

const values = (rows: Row[], client: ClientName = 'nats-offload') =>
  rows.map((r) => r.median[client]).filter((v): v is number => typeof v === 'number');
const ratios = (rows: Row[], of: 'ratio' | 'ratioRaw' = 'ratio') =>
  rows.map((r) => r[of]).filter((v): v is number => typeof v === 'number');
const range = (xs: number[]) =>
  xs.length === 0 ? '–' : `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}×`;
const mid = (xs: number[]) => (xs.length === 0 ? null : median(xs));

console.log(`A = ${buildA}, B = ${buildB}; ${runs} alternating runs of: ${cliArgs.join(' ')}`);
console.log(
  'metric | A nats-offload | B nats-offload | B/A | A ratio (range) | B ratio (range) | A × raw (range) | B × raw (range) | raw',
);
for (const [key, { a, b }] of seen) {
  const va = mid(values(a));
  const vb = mid(values(b));
  const ra = ratios(a);
  const rb = ratios(b);
  const xa = ratios(a, 'ratioRaw');
  const xb = ratios(b, 'ratioRaw');
  const change = va && vb ? `${(vb / va).toFixed(3)}` : '–';
  // The ceiling itself, over the runs of both sides: what a target "× raw" is a share of.
  const raw = mid([...values(a, 'raw'), ...values(b, 'raw')]);
  console.log(
    `${key} | ${formatValue(va)} | ${formatValue(vb)} | ${change} | ` +
      `${formatValue(mid(ra))}× (${range(ra)}) | ${formatValue(mid(rb))}× (${range(rb)}) | ` +
      `${formatValue(mid(xa))}× (${range(xa)}) | ${formatValue(mid(xb))}× (${range(xb)}) | ` +
      formatValue(raw),
  );
}
