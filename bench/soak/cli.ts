#!/usr/bin/env node
/**
 * `npm run soak`: the figures of issue 13 ("nothing lost, nothing hangs, nothing crashes"),
 * each scenario in a fresh process (its own heap, descriptors and threads) run with
 * --expose-gc. Prints a verdict line and a JSON result per scenario, writes the whole run to
 * bench/results/soak-<timestamp>.json, and exits 1 when any figure is missed.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cli } from '../cli-args.js';
import { environment, REPO_ROOT } from '../machine.js';
import type { FigureResult } from './figure.js';
import { SCENARIOS } from './scenarios/index.js';

const USAGE = `usage: node dist/bench/soak/cli.js [scenario[,scenario…]] [options]

scenarios (default: all, in this order):
${SCENARIOS.map((s) => `  ${s.name.padEnd(18)}${s.figure}`).join('\n')}

options:
  --quick      CI's short run: small counts, the same checks
  --json       print the result document on stdout (verdicts go to stderr)
  --help`;

/** A scenario still running after this long is stopped and reported as not finished. */
const LIMIT_MS = { full: 8 * 60_000, quick: 60_000 };
const RUN_JS = fileURLToPath(new URL('./run.js', import.meta.url));

const cli = new Cli(USAGE);
const { values, positionals } = cli.parse({
  allowPositionals: true,
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (positionals.length > 1) cli.fail('give one comma-separated list of scenarios');
const names = cli.scenarios(
  positionals.length ? positionals[0].split(',') : SCENARIOS.map((s) => s.name),
  SCENARIOS,
);

const quick = values.quick;
/** Verdicts and per-scenario JSON: stdout, unless stdout carries the whole document. */
const say = (text: string) => (values.json ? process.stderr : process.stdout).write(`${text}\n`);

let child: ChildProcess | undefined;
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.once(signal, () => {
    // The scenario's process group holds its nats-servers too.
    if (child?.pid) killGroup(child.pid);
    process.exit(code);
  });
}

const env = await environment(undefined);
say(
  `soak ${quick ? '--quick ' : ''}${names.join(',')}: ${env.machine.cpuCount} × ${env.machine.cpuModel}, ` +
    `${env.node}, nats-server ${env.natsServer.version}, load ${env.machine.loadAverage[0].toFixed(1)}`,
);

const results: FigureResult[] = [];
for (const name of names) {
  const result = await runScenario(name);
  results.push(result);
  say(`${result.ok ? 'PASS' : 'MISS'} ${name}: ${result.verdict}`);
  say(JSON.stringify(result));
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const document = {
  tool: 'nats-offload-soak',
  date: new Date().toISOString(),
  command: `node dist/bench/soak/cli.js ${process.argv.slice(2).join(' ')}`.trim(),
  quick,
  ...env,
  loadAverageAtEnd: os.loadavg(),
  results,
};
const dir = join(REPO_ROOT, 'bench', 'results');
await mkdir(dir, { recursive: true });
const file = join(dir, `soak-${stamp}.json`);
await writeFile(file, `${JSON.stringify(document, null, 2)}\n`);
if (values.json) process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);

const missed = results.filter((r) => !r.ok).map((r) => r.name);
say(
  `\n${results.length - missed.length} of ${results.length} figures reached` +
    `${missed.length ? `; missed: ${missed.join(', ')}` : ''}\nresults: ${file}`,
);
process.exitCode = missed.length ? 1 : 0;

/** Runs one scenario in a fresh process group; a crash or a time-out is a missed figure. */
async function runScenario(name: string): Promise<FigureResult> {
  const started = performance.now();
  const scenario = SCENARIOS.find((s) => s.name === name);
  const notFinished = (why: string): FigureResult => ({
    name,
    figure: scenario?.figure ?? '',
    quick,
    durationMs: Math.round(performance.now() - started),
    ok: false,
    verdict: `did not finish: ${why}`,
    checks: [],
    measured: {},
    error: why,
  });
  const proc = fork(RUN_JS, [name, ...(quick ? ['--quick'] : [])], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    detached: true, // its own process group: a time-out takes its nats-servers with it
  });
  child = proc;
  let result: FigureResult | undefined;
  proc.on('message', (message) => {
    result = message as FigureResult;
  });
  const limit = quick ? LIMIT_MS.quick : LIMIT_MS.full;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    if (proc.pid) killGroup(proc.pid);
  }, limit);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    proc.once('exit', (c, s) => resolve([c, s]));
    proc.once('error', () => resolve([null, null]));
  });
  clearTimeout(timer);
  child = undefined;
  if (timedOut) return notFinished(`still running after ${limit / 1000} s`);
  if (result) return result;
  return notFinished(`its process exited (code ${code}, signal ${signal}) without a result`);
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
