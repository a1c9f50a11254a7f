// The benchmark CLI end to end, as `npx nats-offload-bench` runs it (the built
// dist/bench/cli.js): real nats-servers, real measurement processes for both clients, the
// result document and its file, exit codes. Small counts: this proves the harness works, the
// numbers themselves are not looked at (timed assertions have no place on these machines).

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CLIENTS } from '../../bench/clients/types.js';
import type { Row } from '../../bench/report.js';
import type { Sample } from '../../bench/runner.js';
import type { Variant } from '../../bench/scenarios/types.js';
import { startServer, stopAll } from '../helpers/nats-server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = fileURLToPath(new URL('../../dist/bench/cli.js', import.meta.url));
const RESULTS = join(ROOT, 'bench', 'results');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The result file the run named, if any (removed after the test file). */
  file?: string;
}

interface ResultDocument {
  tool: string;
  command: string;
  parameters: {
    scenarios: string[];
    reps: number;
    size: number | null;
    count: number | null;
    quick: boolean;
    url: string | null;
    ws: boolean;
  };
  machine: { cpuCount: number; cpuModel: string; memoryBytes: number; loadAverage: number[] };
  node: string;
  natsServer: { version: string; url: string };
  natsJs: string;
  git: { commit: string | null; dirty: boolean | null };
  variants: Variant[];
  summary: Row[];
  samples: Sample[];
}

const written: string[] = [];

afterAll(async () => {
  await Promise.all(written.map((file) => rm(file, { force: true })));
  await stopAll();
});

function runCli(args: string[], timeoutMs: number): Promise<Run> {
  return runScript(CLI, args, timeoutMs);
}

/** Scripts still running: a test that fails or times out must not leave them behind. */
const live = new Set<ChildProcess>();

/** Kills a script with everything it started (nats-servers, measurement processes, peers). */
function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

afterEach(() => {
  for (const child of live) killGroup(child);
  live.clear();
});

/**
 * Runs a built script in a process group of its own, so that a timeout kills the whole tree.
 * Each test's own time limit is longer than the `timeoutMs` it gives here.
 */
function runScript(script: string, args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: ROOT, detached: true });
    live.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      killGroup(child);
      reject(new Error(`${script} ${args.join(' ')} still running after ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      live.delete(child);
      const file = /results: (\S+\.json)/.exec(stdout + stderr)?.[1];
      if (file) written.push(file);
      resolve({ code, stdout, stderr, file });
    });
  });
}

/** True while any process of the group `pgid` is alive. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(condition: () => boolean, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`still not so after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Runs with --json and checks what every result document must hold. */
async function runJson(args: string[], timeoutMs: number): Promise<[Run, ResultDocument]> {
  const run = await runCli([...args, '--json'], timeoutMs);
  let doc: ResultDocument;
  try {
    doc = JSON.parse(run.stdout) as ResultDocument;
  } catch {
    throw new Error(`no result document on stdout (exit ${run.code}):\n${run.stderr.slice(-3000)}`);
  }
  expect(doc.tool).toBe('nats-offload-bench');
  expect(doc.command).toBe(`nats-offload-bench ${[...args, '--json'].join(' ')}`);
  expect(doc.machine.cpuCount).toBe(os.cpus().length);
  expect(doc.machine.memoryBytes).toBe(os.totalmem());
  expect(doc.machine.loadAverage).toHaveLength(3);
  expect(doc.node).toBe(process.version);
  expect(doc.natsServer.version).toMatch(/^\d+\.\d+\.\d+/);
  expect(doc.natsJs).toMatch(/^\d+\.\d+\.\d+/);
  expect(doc.git.commit).toMatch(/^[0-9a-f]{40}$/);
  // The file holds the same document the run printed, and the table went to stderr.
  expect(run.file).toBeDefined();
  expect(JSON.parse(readFileSync(run.file ?? '', 'utf8'))).toEqual(doc);
  expect(run.file?.startsWith(`${ROOT}bench/results/`)).toBe(true);
  expect(run.stderr).toMatch(/ratio = nats-offload \/ nats\.js/);
  return [run, doc];
}

function samplesOf(doc: ResultDocument, variant: string): Sample[] {
  return doc.samples.filter((s) => s.variant === variant);
}

/** Every variant measured once per client, each sample ok with every metric a finite number. */
function expectEveryMetric(doc: ResultDocument): void {
  for (const v of doc.variants) {
    const samples = samplesOf(doc, v.id);
    expect(samples.map((s) => s.client).sort(), v.id).toEqual([...CLIENTS].sort());
    for (const s of samples) {
      expect(s.ok, `${v.id} ${s.client}: ${s.error}`).toBe(true);
      for (const metric of v.metrics) {
        expect(Number.isFinite(s.metrics?.[metric.key]), `${v.id} ${metric.key}`).toBe(true);
      }
    }
  }
}

/** CPU rows where every client's every sample spent something: 0 or NaN means a part went uncounted. */
const SPENT = ['mainUsPerMsg', 'allUsPerMsg', 'serverUsPerMsg', 'totalUsPerMsg', 'coresBusy'];
/** CPU rows that may read 0 in a short run (no GC, an idle host, no wait for a core). */
const MAY_BE_ZERO = ['helpersUsPerMsg', 'hostCoresBusy', 'waitUsPerMsg', 'mainWaitUsPerMsg'];

/**
 * The CPU rows of `ids` (cpu-window.ts), each in every sample: the parts spent and adding up,
 * the worker's share nats-offload's alone, the peer's there where the variant has a peer.
 */
function expectCpuRows(doc: ResultDocument, ids: string[]): void {
  for (const id of ids) {
    const keys = doc.variants.find((v) => v.id === id)?.metrics.map((m) => m.key) ?? [];
    const peer = keys.includes('peerUsPerMsg');
    expect(keys, id).toEqual(expect.arrayContaining([...SPENT, ...MAY_BE_ZERO, 'workerUsPerMsg']));
    for (const s of samplesOf(doc, id)) {
      const m = s.metrics ?? {};
      const what = (key: string) => `${id} ${s.client} ${key}`;
      for (const key of peer ? [...SPENT, 'peerUsPerMsg'] : SPENT) {
        expect(m[key], what(key)).toBeGreaterThan(0);
      }
      for (const key of MAY_BE_ZERO) expect(m[key], what(key)).toBeGreaterThanOrEqual(0);
      if (s.client === 'nats-offload') expect(m.workerUsPerMsg, what('worker')).toBeGreaterThan(0);
      else expect(m.workerUsPerMsg, what('worker')).toBe(0);
      expect(m.allUsPerMsg, what('all')).toBeCloseTo(
        m.mainUsPerMsg + m.workerUsPerMsg + m.helpersUsPerMsg,
        9,
      );
      expect(m.totalUsPerMsg, what('total')).toBeCloseTo(
        m.allUsPerMsg + m.serverUsPerMsg + (peer ? m.peerUsPerMsg : 0),
        9,
      );
    }
  }
}

describe('nats-offload-bench', () => {
  it('pub: both clients, alternating, every sample and the medians in the JSON and the file', async () => {
    const [run, doc] = await runJson(
      ['pub', '--size', '128', '--count', '2000', '--reps', '2'],
      120_000,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(doc.parameters).toEqual({
      scenarios: ['pub'],
      reps: 2,
      size: 128,
      count: 2000,
      quick: false,
      url: null,
      ws: false,
    });
    expect(doc.variants.map((v) => [v.id, v.params])).toEqual([
      ['pub-128', { size: 128, count: 2000 }],
    ]);
    const samples = samplesOf(doc, 'pub-128');
    expect(samples.map((s) => [s.rep, s.client])).toEqual([
      [1, CLIENTS[0]],
      [1, CLIENTS[1]],
      [1, CLIENTS[2]],
      [2, CLIENTS[2]],
      [2, CLIENTS[1]],
      [2, CLIENTS[0]],
    ]);
    for (const s of samples) {
      expect(s.ok, s.error).toBe(true);
      expect(s.metrics?.msgsPerSec).toBeGreaterThan(0);
      expect(s.metrics?.mbPerSec).toBeCloseTo(((s.metrics?.msgsPerSec ?? 0) * 128) / 1e6, 6);
      expect(s.wallMs).toBeGreaterThan(0);
    }
    const rate = doc.summary.find((r) => r.metric === 'msgs/s');
    const mid = (client: string) => {
      const [a, b] = samples
        .filter((s) => s.client === client)
        .map((s) => s.metrics?.msgsPerSec ?? 0);
      return (a + b) / 2;
    };
    expect(rate?.median).toEqual(Object.fromEntries(CLIENTS.map((c) => [c, mid(c)])));
    expect(rate?.ratio).toBeCloseTo(mid('nats-offload') / mid('nats.js'), 9);
    expect(rate?.ratioRaw).toBeCloseTo(mid('nats-offload') / mid('raw'), 9);
    expect(rate?.samples).toEqual(Object.fromEntries(CLIENTS.map((c) => [c, '2/2'])));
    expectCpuRows(doc, ['pub-128']);
    // The core-bound model's table over the same file: a line per client, each rate predicted.
    const script = join(ROOT, 'dist', 'bench', 'tools', 'core-bound.js');
    const model = await runScript(script, [run.file ?? '', '--cores', '3'], 30_000);
    expect(model.code, model.stderr).toBe(0);
    expect(model.stdout).toContain('pub 128 B: CPU µs per message');
    for (const client of CLIENTS) {
      expect(model.stdout).toMatch(
        new RegExp(`^\\| ${client} \\|( [0-9.]+ \\|){8} [0-9.]+( k| M)? \\|`, 'm'),
      );
    }
  }, 130_000);

  it('every end-to-end scenario runs for every client in a short run, TLS included', async () => {
    const [run, doc] = await runJson(
      ['sub,pubsub,pubrecv,reqrep,lag', '--quick', '--count', '2000'],
      360_000,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(doc.parameters.reps).toBe(1);
    expect(doc.variants.map((v) => v.id)).toEqual([
      'sub',
      'pubsub',
      'pubrecv',
      'reqrep-seq',
      'reqrep-100',
      'reqrep-16m',
      'lag-plain',
      'lag-tls',
    ]);
    expectEveryMetric(doc);
    expectCpuRows(doc, ['sub', 'pubsub', 'reqrep-100']);
    const latency = samplesOf(doc, 'reqrep-seq')[0].metrics ?? {};
    expect(latency.p50).toBeLessThanOrEqual(latency.p90);
    expect(latency.p90).toBeLessThanOrEqual(latency.p99);
    expect(latency.p99).toBeLessThanOrEqual(latency.max);
    for (const s of samplesOf(doc, 'lag-tls')) {
      expect(s.metrics?.elu).toBeGreaterThan(0);
      expect(s.metrics?.elu).toBeLessThanOrEqual(1);
    }
  }, 370_000);

  it("issue 16's scenarios run for every client in a short run", async () => {
    const [run, doc] = await runJson(
      ['pubtls,lag16k,burst,service', '--quick', '--count', '2000'],
      240_000,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(doc.variants.map((v) => v.id)).toEqual([
      'pubtls-16384',
      'lag16k-plain',
      'lag16k-tls',
      'burst',
      'service',
    ]);
    expectEveryMetric(doc);
    expectCpuRows(doc, ['burst', 'service']);
    for (const s of samplesOf(doc, 'burst')) {
      expect(s.metrics?.idleTicksPerSec, s.client).toBeGreaterThan(0);
      expect(s.metrics?.longestGapMs, s.client).toBeGreaterThan(0);
    }
    // Complete is a yes/no per sample; 2000 messages arrive whole for every client.
    const complete = doc.summary.find((r) => r.variant === 'service' && r.metric === 'complete');
    expect(complete?.median).toEqual(Object.fromEntries(CLIENTS.map((c) => [c, 1])));
    expect(run.stderr).toMatch(/^service 180 B JSON, 300k burst\s+complete\s+1\/1\s+1\/1\s+1\/1/m);
  }, 250_000);

  it('--ws measures both clients over WebSocket (nats.js through wsconnect)', async () => {
    const [run, doc] = await runJson(
      ['pub,sub', '--ws', '--quick', '--size', '128', '--count', '2000'],
      120_000,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(doc.variants.map((v) => [v.id, v.ws])).toEqual([
      ['pub-128-ws', true],
      ['sub-ws', true],
    ]);
    for (const v of doc.variants) {
      const samples = samplesOf(doc, v.id);
      expect(samples.map((s) => s.client).sort(), v.id).toEqual(
        CLIENTS.filter((c) => c !== 'raw').sort(),
      );
      for (const s of samples) expect(s.ok, `${v.id} ${s.client}: ${s.error}`).toBe(true);
    }
  }, 130_000);

  it('marks failed measurements, leaves them out of the medians and exits 1', async () => {
    // A real server whose max_payload is below the message size: both clients refuse to publish.
    const server = await startServer({ config: 'max_payload: 64' });
    const [run, doc] = await runJson(
      ['pub', '--size', '128', '--count', '100', '--reps', '1', '--url', server.url],
      60_000,
    );
    await server.stop();
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('3 of 3 measurements failed');
    expect(run.stderr).toContain('failed (0/1 ok)');
    expect(doc.parameters.url).toBe(server.url);
    for (const s of doc.samples) {
      expect(s.ok).toBe(false);
      expect(s.error, s.client).toMatch(/payload/i);
    }
    for (const row of doc.summary) {
      expect(row.ratio).toBeNull();
      expect(row.median).toEqual(Object.fromEntries(CLIENTS.map((c) => [c, null])));
    }
  }, 70_000);

  it('says so and exits 1 when the --url server hangs up without INFO', async () => {
    // A listener that hangs up at once holds the port, so no parallel test's server can take it.
    const listener = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const { port } = listener.address() as AddressInfo;
    try {
      const url = `nats://127.0.0.1:${port}`;
      const args = ['pub', '--size', '16', '--count', '1', '--reps', '1', '--url', url];
      const run = await runCli(args, 30_000);
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toContain(
        `cannot start the benchmark: ${url} closed the connection before its INFO`,
      );
      expect(run.file).toBeUndefined();
    } finally {
      listener.close();
    }
  }, 40_000);

  it('rejects a bad command line with the usage and exit code 2', async () => {
    for (const [args, message] of [
      [['nope'], 'unknown scenario nope'],
      [['pub,nope,sub'], 'unknown scenario nope'],
      [[], 'give one scenario, a comma-separated list, or all'],
      [['pub', 'sub'], 'give one scenario, a comma-separated list, or all'],
      [['pub', '--reps', '0'], '--reps must be a positive integer, got 0'],
      [['pub', '--size', '1.5'], '--size must be a positive integer, got 1.5'],
      [['pub', '--count', 'many'], '--count must be a positive integer, got many'],
      [['pub', '--fast'], "Unknown option '--fast'"],
    ] as const) {
      const run = await runCli([...args], 15_000);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).toContain(message);
      expect(run.stderr).toContain('usage: nats-offload-bench');
      expect(run.stdout).toBe('');
      expect(run.file).toBeUndefined();
    }
  }, 130_000);

  it('on SIGTERM stops its servers, removes its certificates and exits 143', async () => {
    // Its own temp dir: every server dir and certificate dir of the run lands there.
    const tmp = await mkdtemp(join(os.tmpdir(), 'bench-cli-signal-'));
    const child = spawn(process.execPath, [CLI, 'lag', '--quick'], {
      cwd: ROOT,
      detached: true,
      env: { ...process.env, TMPDIR: tmp },
    });
    live.add(child);
    try {
      let stderr = '';
      const measuring = new Promise<void>((resolve) => {
        child.stderr?.on('data', (chunk: Buffer) => {
          stderr += chunk;
          if (stderr.includes('[1/')) resolve();
        });
      });
      const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
      await Promise.race([measuring, exited]);
      // Mid-run: the certificates exist and the next measurement is under way.
      expect(readdirSync(tmp).some((name) => name.startsWith('nats-offload-certs-'))).toBe(true);
      child.kill('SIGTERM');
      const [code] = await exited;
      expect(code, stderr).toBe(143);
      expect(stderr).toContain("SIGTERM: stopping the run's nats-servers");
      expect(readdirSync(tmp)).toEqual([]);
      // Nothing of the run's process group is left (the measurement process follows its parent).
      await waitFor(() => !groupAlive(child.pid ?? 0), 10_000);
    } finally {
      killGroup(child);
      live.delete(child);
      await rm(tmp, { recursive: true, force: true });
    }
  }, 60_000);

  it('--help lists every scenario and exits 0', async () => {
    const run = await runCli(['--help'], 30_000);
    expect(run.code).toBe(0);
    for (const name of [
      'pub',
      'pubtls',
      'sub',
      'pubsub',
      'pubrecv',
      'reqrep',
      'lag',
      'lag16k',
      'burst',
      'service',
      'micro',
    ]) {
      expect(run.stdout).toMatch(new RegExp(`^ {2}${name} `, 'm'));
    }
  }, 40_000);
});

describe('bench/tools', () => {
  it("targets.js reads issue 16's targets out of result files, run by run", async () => {
    const script = join(ROOT, 'dist', 'bench', 'tools', 'targets.js');
    const runs = ['2026-12-06-issue16-s13-run1', '2026-12-07-issue16-s20-run1'];
    const run = await runScript(
      script,
      runs.map((name) => join(ROOT, 'docs', 'results', `${name}.json`)),
      30_000,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('| target | issue16-s13-run1 | issue16-s20-run1 | met in |');
    // The figures the sessions' own tables give for these runs (docs/benchmarks-issue16.md).
    for (const row of [
      '| request sequential p50 ≤ raw + 60 µs | +79 µs | +69 µs | 0/2 |',
      '| request 100 in flight ≥ 0.85× raw | **1.11×** | 0.72× | 1/2 |',
      '| service callback ≥ 1.5× nats.js | 1.18× | **1.68×** | 1/2 |',
      '| service callback complete at defaults (of 3) | **3/3** | **3/3** | 2/2 |',
      '| burst timer ≥ 800 ticks/s | 700/s | 622/s | 0/2 |',
    ]) {
      expect(run.stdout).toContain(row);
    }
    const bad = await runScript(script, [], 30_000);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('usage: node dist/bench/tools/targets.js');
  }, 60_000);

  it('thread-cpu.js prints the rate and the CPU time of each thread and of the server', async () => {
    const script = join(ROOT, 'dist', 'bench', 'tools', 'thread-cpu.js');
    const run = await runScript(script, ['20000', '--size', '256'], 60_000);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toMatch(/^rate \d+ main \d+ worker \d+ helpers \d+ server \d+$/);
    const pub = await runScript(script, ['20000', '--publish-only'], 60_000);
    expect(pub.code, pub.stderr).toBe(0);
    expect(pub.stdout.trim()).toMatch(/^rate \d+ main \d+ worker \d+ helpers \d+ server \d+$/);
    const bad = await runScript(script, ['many'], 30_000);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('usage: thread-cpu.js');
  }, 100_000);

  it('thread-cpu.js --warm runs warmed up: through the client, another client, or a reconnect', async () => {
    const script = join(ROOT, 'dist', 'bench', 'tools', 'thread-cpu.js');
    for (const how of [[], ['--warm-other'], ['--warm-reconnect']]) {
      const run = await runScript(
        script,
        ['20000', '--publish-only', '--warm', '5000', ...how],
        60_000,
      );
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout.trim()).toMatch(/^rate \d+ main \d+ worker \d+ helpers \d+ server \d+$/);
      const through =
        how[0] === '--warm-other'
          ? 'another client'
          : how[0]
            ? 'the client, reconnected'
            : 'the client';
      expect(run.stderr).toContain(`warmed up: 5000 messages through ${through}`);
    }
    const bad = await runScript(script, ['20000', '--warm-other'], 30_000);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('usage: thread-cpu.js');
  }, 100_000);

  it('ab.js runs two builds in alternation and prints a line per metric', async () => {
    const before = new Set(readdirSync(RESULTS));
    const script = join(ROOT, 'dist', 'bench', 'tools', 'ab.js');
    const dist = join(ROOT, 'dist');
    const args = ['--runs', '1', dist, dist, 'pub', '--size', '128', '--count', '1000'];
    const run = await runScript(script, args, 120_000);
    // Each run of a build's CLI leaves its result file: remove the ones this made (and not a
    // file of some other bench run that happened meanwhile).
    const command = `nats-offload-bench ${args.slice(4).join(' ')} --reps 1 --json`;
    for (const name of readdirSync(RESULTS)) {
      if (before.has(name) || !name.endsWith('.json')) continue;
      const file = join(RESULTS, name);
      if ((JSON.parse(readFileSync(file, 'utf8')) as ResultDocument).command === command) {
        written.push(file);
      }
    }
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('run 1/1 A done');
    expect(run.stderr).toContain('run 1/1 B done');
    // The last column is raw's own rate.
    expect(run.stdout).toMatch(
      /^pub 128 B msgs\/s \| \S+ (k|M)? ?\| .+ \| \d\.\d{3} \| .+× \(.+×\) \| .+× \(.+×\) \| [\d.]+( k| M)?$/m,
    );
    expect(run.stdout).toMatch(/^pub 128 B MB\/s \| /m);
    const usage = await runScript(script, ['dist'], 30_000);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('usage: node dist/bench/tools/ab.js');
  }, 160_000);

  it('publish-path.js measures both paths of a build', async () => {
    const script = join(ROOT, 'dist', 'bench', 'tools', 'publish-path.js');
    const dist = join(ROOT, 'dist');
    for (const [mode, title] of [
      [[], 'outgoing path'],
      [['--client'], 'client path'],
    ] as const) {
      const run = await runScript(
        script,
        [...mode, '--rounds', '1', '--count', '20000', dist],
        60_000,
      );
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain(`${title}, 16 B payload, 20000 messages per run`);
      expect(run.stdout).toMatch(new RegExp(`^${dist} \\| [\\d.]+ \\|`, 'm'));
    }
  }, 90_000);

  it("request-path.js measures the caller's request path, reading payloads or lengths", async () => {
    const script = join(ROOT, 'dist', 'bench', 'tools', 'request-path.js');
    const dist = join(ROOT, 'dist');
    for (const [mode, title] of [
      [[], 'reply payloads read'],
      [['--length-only'], 'replies read by length'],
    ] as const) {
      const run = await runScript(
        script,
        [...mode, '--rounds', '1', '--count', '20000', dist],
        60_000,
      );
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain(`request path, 128 B, ${title}, 100 in flight, 20000 requests`);
      expect(run.stdout).toMatch(
        new RegExp(`^${dist} \\| [\\d.]+ \\| [\\d.]+–[\\d.]+ \\| [\\d.]+$`, 'm'),
      );
    }
    const bad = await runScript(script, ['--rounds', '0', dist], 30_000);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('usage: node dist/bench/tools/request-path.js');
  }, 90_000);

  it('hop-cost.js times main ⇄ worker round trips for each way the worker can wait', async () => {
    const script = join(ROOT, 'dist', 'bench', 'tools', 'hop-cost.js');
    const run = await runScript(script, ['--rounds', '2', '--count', '50'], 60_000);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('2 rounds of 50 round trips main ⇄ worker (main: waitAsync), µs');
    for (const mode of ['waitAsync', 'wait']) {
      expect(run.stdout).toMatch(
        new RegExp(
          `^worker ${mode}: p50 [\\d.]+, p90 [\\d.]+; main's notify p50 [\\d.]+, p90 [\\d.]+$`,
          'm',
        ),
      );
    }
    const bad = await runScript(script, ['--rounds', '0'], 30_000);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('usage: hop-cost.js');
  }, 90_000);

  it('lone-request.js takes turns between a library and nats.js and prints each one’s ratio', async () => {
    const script = join(ROOT, 'dist', 'bench', 'tools', 'lone-request.js');
    const library = join(ROOT, 'dist', 'src', 'main', 'index.js');
    const run = await runScript(
      script,
      ['--rounds', '2', '--count', '50', library, 'nats.js'],
      60_000,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('2 rounds of 50 sequential 128 B requests per client, µs');
    expect(run.stdout).toMatch(
      new RegExp(
        `^${library}: p50 [\\d.]+, p90 [\\d.]+; to nats.js p50 [\\d.]+× \\(.+×\\), p90 `,
        'm',
      ),
    );
    expect(run.stdout).toMatch(/^nats\.js: p50 [\d.]+, p90 [\d.]+$/m);
    const inFlight = await runScript(
      script,
      ['--rounds', '2', '--count', '200', '--in-flight', '10', library, 'raw'],
      60_000,
    );
    expect(inFlight.code, inFlight.stderr).toBe(0);
    expect(inFlight.stdout).toContain(
      '2 rounds of 200 128 B requests per client, 10 in flight, req/s',
    );
    expect(inFlight.stdout).toMatch(
      new RegExp(`^${library}: \\d+; to raw [\\d.]+× \\(.+×\\)$`, 'm'),
    );
    expect(inFlight.stdout).toMatch(/^raw: \d+$/m);
    const bad = await runScript(script, ['--rounds', '2'], 30_000);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('usage: lone-request.js');
  }, 90_000);

  it('request-calls.js prints each round of requests by thread, and the server and responder', async () => {
    const script = join(ROOT, 'dist', 'bench', 'tools', 'request-calls.js');
    const run = await runScript(
      script,
      ['nats-offload', '200', '--in-flight', '10', '--rounds', '2', '--warm-client', '50'],
      60_000,
    );
    expect(run.code, run.stderr).toBe(0);
    const counts = String.raw`reads [\d.]+ writes [\d.]+ wakes [\d.]+ cpu µs [\d.]+ \(kernel [\d.]+\)`;
    for (const round of [1, 2]) {
      expect(run.stdout).toMatch(
        new RegExp(
          `^nats-offload round ${round}/2: 200 requests, 10 in flight, \\d+ req/s\n` +
            `  client    ${counts}\n    main    ${counts}\n    worker  ${counts}\n` +
            `    others  ${counts}\n  server    ${counts}\n  responder ${counts}$`,
          'm',
        ),
      );
    }
    for (const wrong of [
      ['--rounds', '0'],
      ['--warm-client', '-1'],
    ]) {
      const bad = await runScript(script, ['nats-offload', '200', ...wrong], 30_000);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain('usage: request-calls.js');
    }
  }, 90_000);
});
