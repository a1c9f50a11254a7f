/**
 * Runs the plan: each measurement in a fresh process, against a fresh nats-server unless a
 * URL was given, clients alternating first place from one repetition to the next so that
 * neither always runs on a warmer or cooler machine.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClientName } from './clients/types.js';
import type { ChildMessage, Job } from './measure.js';
import type { Metrics, Variant } from './scenarios/types.js';
import { startJetStreamServer } from './support/jetstream.js';
import { freePort, type NatsServer, startServer } from './support/nats-server.js';
import type { BenchTls } from './tls.js';

export interface Sample {
  variant: string;
  client: ClientName;
  rep: number;
  ok: boolean;
  metrics?: Metrics;
  error?: string;
  /** Something off that did not spoil the numbers (e.g. the process did not exit by itself). */
  warning?: string;
  /** Wall time of the whole measurement process, server start excluded. */
  wallMs: number;
}

export interface RunOptions {
  url?: string;
  /** The run's certificates, for variants measured over TLS. */
  tls?: BenchTls;
  /** With a directory, each measurement process writes CPU profiles of all its threads there. */
  profileDir?: string;
}

export interface Measurement {
  variant: Variant;
  client: ClientName;
  rep: number;
}

/** A result sent, the process then has this long to end by itself. */
const EXIT_GRACE_MS = 5_000;
/** Output kept from a measurement process, shown with its error. */
const OUTPUT_TAIL = 2_000;
const MEASURE = fileURLToPath(new URL('./measure.js', import.meta.url));

/** `variant` measured with the client over WebSocket: its own id and label. */
export function overWebSocket(variant: Variant): Variant {
  return {
    ...variant,
    id: `${variant.id}-ws`,
    label: `${variant.label} ws`,
    ws: true,
    // The raw column is a bare TCP socket: over WebSocket the ceiling would be another client.
    clients: variant.clients.filter((c) => c !== 'raw'),
  };
}

export function plan(variants: Variant[], reps: number): Measurement[] {
  const list: Measurement[] = [];
  for (const variant of variants) {
    for (let rep = 1; rep <= reps; rep++) {
      const clients = rep % 2 ? variant.clients : [...variant.clients].reverse();
      for (const client of clients) list.push({ variant, client, rep });
    }
  }
  return list;
}

export async function measureOnce(m: Measurement, options: RunOptions): Promise<Sample> {
  const notRun = (error: string): Sample => ({
    variant: m.variant.id,
    client: m.client,
    rep: m.rep,
    ok: false,
    error,
    wallMs: 0,
  });
  const tls = m.variant.tls ? options.tls : undefined;
  // Never measure a TLS variant in plain by mistake: it needs our own server and certificates.
  if (m.variant.tls && (options.url || !tls)) {
    return notRun('a TLS variant runs only against the bench server, with the run certificates');
  }
  if (m.variant.ws && options.url) {
    return notRun('a WebSocket variant runs only against the bench server, with its ws listener');
  }
  let server: NatsServer | undefined;
  let clientUrl: string | undefined;
  try {
    if (m.variant.needsServer && !options.url) {
      const config = [tls?.serverConfig, m.variant.serverConfig];
      if (m.variant.ws) {
        const wsPort = await freePort();
        config.push(`websocket { listen: "127.0.0.1:${wsPort}", no_tls: true }`);
        clientUrl = `ws://127.0.0.1:${wsPort}`;
      }
      const text = config.filter(Boolean).join('\n');
      server = m.variant.jetstream
        ? await startJetStreamServer(text)
        : await startServer({ config: text });
    }
  } catch (error) {
    return notRun(`nats-server did not start: ${(error as Error).message}`);
  }
  try {
    const url = options.url ?? server?.url ?? '';
    const execArgv = options.profileDir
      ? [
          '--cpu-prof',
          '--cpu-prof-dir',
          join(options.profileDir, `${m.variant.id}-${m.client}-rep${m.rep}`),
        ]
      : [];
    return await runChild(
      { variant: m.variant, client: m.client, url, ca: tls?.ca, clientUrl, serverPid: server?.pid },
      m,
      execArgv,
    );
  } finally {
    await server?.stop();
  }
}

async function runChild(job: Job, m: Measurement, execArgv: string[]): Promise<Sample> {
  const started = performance.now();
  const child = fork(MEASURE, [JSON.stringify(job)], { silent: true, execArgv });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_TAIL);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let stage = 'starting';
  let outcome: ChildMessage | undefined;
  child.on('message', (message: ChildMessage) => {
    if (message.type === 'stage') stage = message.stage;
    else outcome ??= message;
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;

  const base = { variant: m.variant.id, client: m.client, rep: m.rep };
  const timedOut = !(await settlesWithin(exited, m.variant.timeoutMs, () => outcome !== undefined));
  let warning: string | undefined;
  if (timedOut && outcome === undefined) {
    await kill(child, exited);
    return {
      ...base,
      ok: false,
      error: `timed out after ${m.variant.timeoutMs / 1000} s while ${stage}${tail(output)}`,
      wallMs: performance.now() - started,
    };
  }
  if (!(await settlesWithin(exited, EXIT_GRACE_MS))) {
    warning = `process did not exit within ${EXIT_GRACE_MS / 1000} s after its result (client left a handle open?)`;
    await kill(child, exited);
  }
  const wallMs = performance.now() - started;
  if (outcome?.type === 'result')
    return { ...base, ok: true, metrics: outcome.metrics, warning, wallMs };
  const [code, signal] = await exited;
  const error =
    outcome?.type === 'error'
      ? outcome.error
      : `exited (code ${code}, signal ${signal}) without a result while ${stage}`;
  return { ...base, ok: false, error: error + tail(output), warning, wallMs };
}

/**
 * Waits for `promise`, at most `ms`; with `until`, also stops waiting as soon as it is true
 * (checked every 50 ms). Resolves true if the promise settled (or `until` held) in time.
 */
async function settlesWithin(
  promise: Promise<unknown>,
  ms: number,
  until?: () => boolean,
): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  let poll: NodeJS.Timeout | undefined;
  const deadline = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    if (until) poll = setInterval(() => until() && resolve(true), 50);
  });
  try {
    return await Promise.race([promise.then(() => true), deadline]);
  } finally {
    clearTimeout(timer);
    clearInterval(poll);
  }
}

async function kill(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await exited;
}

function tail(output: string): string {
  const text = output.trim();
  return text ? `\n--- output ---\n${text}` : '';
}
