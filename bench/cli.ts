#!/usr/bin/env node
/**
 * nats-offload-bench: nats-offload and nats.js side by side, in the spirit of `nats bench`.
 * Every measurement runs in a fresh process against a fresh local nats-server (or `--url`);
 * the medians and the ratio go to a table, every sample to <out>/<timestamp>.json (default
 * bench/results under the current directory).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { Cli } from './cli-args.js';
import { environment } from './machine.js';
import { runnable } from './optional.js';
import { Progress } from './progress.js';
import { summarise, table } from './report.js';
import { measureOnce, overWebSocket, plan, type Sample } from './runner.js';
import { SCENARIOS } from './scenarios/index.js';
import type { PlanOptions } from './scenarios/types.js';
import { stopAll } from './support/nats-server.js';
import { type BenchTls, makeBenchTls } from './tls.js';

/** The scenario column: the longest name and two blanks. */
const NAME_WIDTH = Math.max(...SCENARIOS.map((s) => s.name.length)) + 2;

const USAGE = `usage: nats-offload-bench <scenario[,scenario…]|all> [options]

scenarios:
${SCENARIOS.map((s) => `  ${s.name.padEnd(NAME_WIDTH)}${s.summary}`).join('\n')}

options:
  --size N     message size in bytes (pub then runs only that size; default 128 elsewhere)
  --count N    messages or requests per measurement (default: per scenario)
  --reps N     measurements per scenario and client (default 3)
  --url URL    use this nats-server instead of starting a fresh local one per measurement
  --json       print the result document on stdout (the table goes to stderr)
  --quick      short run: counts and windows divided by 4, 1 rep unless --reps
  --out DIR    where the result file goes (default bench/results, from the current directory)
  --ws         the measured clients connect over WebSocket (ws://; peers stay on TCP)
  --cpu-prof   write CPU profiles of every thread of every measurement under DIR/profiles/
  --help

nats.js (@nats-io/transport-node) and tinybench are optional: without them the bench measures
nats-offload and the raw socket only, or leaves out micro, and says so.`;

const cli = new Cli(USAGE);

function positiveInteger(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) cli.fail(`--${name} must be a positive integer, got ${text}`);
  return n;
}

const { values, positionals } = cli.parse({
  allowPositionals: true,
  options: {
    size: { type: 'string' },
    count: { type: 'string' },
    reps: { type: 'string' },
    url: { type: 'string' },
    out: { type: 'string', default: join('bench', 'results') },
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    ws: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (positionals.length !== 1) cli.fail('give one scenario, a comma-separated list, or all');

const names = cli.scenarios(
  positionals[0] === 'all' ? SCENARIOS.map((s) => s.name) : positionals[0].split(','),
  SCENARIOS,
);

const options: PlanOptions = {
  size: positiveInteger('size', values.size),
  count: positiveInteger('count', values.count),
  quick: values.quick,
};
const reps = positiveInteger('reps', values.reps) ?? (values.quick ? 1 : 3);
const { variants: chosen, notes } = runnable(
  SCENARIOS.filter((s) => names.includes(s.name)).flatMap((s) => s.variants(options)),
);
for (const note of notes) process.stdout.write(`note: ${note}\n`);
if (values.ws && values.url) cli.fail("--ws needs the bench's own nats-server, not --url");
// Over WebSocket: the variants that talk to a server, less the TLS ones (a wss:// bench would
// need the certificates on the ws listener too).
const planned = values.ws
  ? chosen.filter((v) => v.needsServer && !v.tls).map(overWebSocket)
  : chosen;
if (planned.length === 0) cli.fail('--ws: no scenario chosen talks to a server in plain');
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const resultsDir = resolve(values.out);

let tls: BenchTls | undefined;
// Interrupted (Ctrl-C, or a kill): start no further measurement, stop the nats-servers of the
// run (also one still starting) and remove its certificates before exiting, so that neither
// outlives the run. The measurement process under way exits when its parent does.
let interrupted = false;
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.once(signal, () => {
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping the run's nats-servers\n`);
    void Promise.allSettled([stopAll(), tls?.remove()]).finally(() => process.exit(code));
  });
}
let env: Awaited<ReturnType<typeof environment>>;
try {
  env = await environment(values.url);
} catch (error) {
  process.stderr.write(`cannot start the benchmark: ${(error as Error).message}\n`);
  process.exit(1);
}
process.stderr.write(
  `nats-offload-bench ${names.join(',')}: ${reps} rep(s), nats-server ${env.natsServer.version}, ` +
    `${env.node}, ${env.machine.cpuCount} × ${env.machine.cpuModel}\n`,
);

if (env.machine.loadAverage[0] > env.machine.cpuCount / 2) {
  process.stderr.write(
    `warning: load average ${env.machine.loadAverage[0].toFixed(1)} on ${env.machine.cpuCount} cores: ` +
      'other work is running, expect noisy numbers\n',
  );
}

// TLS variants need the bench's own server serving certificates made for this run (once, then
// removed). Without them (--url, no openssl) they are left out and the rest of the run goes on.
let noTls = values.url ? "they need the bench's own nats-server, not --url" : '';
if (!noTls && planned.some((v) => v.tls)) {
  try {
    tls = await makeBenchTls();
  } catch (error) {
    noTls = `no certificates: ${(error as Error).message}`;
  }
}
const variants = noTls ? planned.filter((v) => !v.tls) : planned;
if (variants.length < planned.length) {
  const skipped = planned.filter((v) => v.tls).map((v) => v.label);
  process.stderr.write(`warning: skipping ${skipped.join(', ')}: ${noTls}\n`);
}

const measurements = plan(variants, reps);
const progress = new Progress(measurements.length);
const samples: Sample[] = [];
try {
  for (const m of measurements) {
    if (interrupted) break;
    progress.start(m);
    const sample = await measureOnce(m, {
      url: values.url,
      tls,
      profileDir: values['cpu-prof'] ? join(resultsDir, 'profiles', stamp) : undefined,
    });
    progress.finish(m, sample);
    samples.push(sample);
  }
} finally {
  await tls?.remove();
}

const rows = summarise(variants, samples);
const document = {
  tool: 'nats-offload-bench',
  date: new Date().toISOString(),
  command: `nats-offload-bench ${process.argv.slice(2).join(' ')}`,
  parameters: {
    scenarios: names,
    reps,
    size: options.size ?? null,
    count: options.count ?? null,
    quick: options.quick,
    url: values.url ?? null,
    ws: values.ws,
  },
  ...env,
  loadAverageAtEnd: os.loadavg(),
  variants,
  summary: rows,
  samples,
};
await mkdir(resultsDir, { recursive: true });
const file = join(resultsDir, `${stamp}.json`);
await writeFile(file, `${JSON.stringify(document, null, 2)}\n`);

const text = `\n${table(rows)}\n\nresults: ${file}\n`;
if (values.json) {
  process.stderr.write(text);
  process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
} else {
  process.stdout.write(text);
}
const failed = samples.filter((s) => !s.ok).length;
if (failed) {
  process.stderr.write(
    `${failed} of ${samples.length} measurements failed (see the errors above)\n`,
  );
  process.exitCode = 1;
}
