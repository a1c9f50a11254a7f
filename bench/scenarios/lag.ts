/**
 * lag: what receiving a steady stream costs the application's thread. The main thread runs a
 * 1 ms timer (an application that wants its event loop) while a paced publisher process sends
 * `rate` messages per second; over a window after a warm-up we read the main thread's
 * event-loop utilisation, the event-loop delay p99, the process CPU (all threads, so work moved
 * to the worker still shows) and the rate actually received.
 *
 * `lag16k` is the same at 16 KiB × 6,000 msgs/s (98 MB/s): moderate rates of larger messages,
 * where each message wakes the caller alone.
 *
 * Transports are variants. Over `tls` the client's connection is TLS (the server serves the
 * run's certificates, see bench/tls.ts) while the publisher stays the same plain raw socket:
 * the client's decryption is the only difference, and nats-offload does it on its worker.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLIENTS } from '../clients/types.js';
import type { Peer } from '../peers/launch.js';
import { DEFAULT_SIZE, guarded, MSGS_PER_SEC, sizeLabel, startStream, Tally } from './common.js';
import {
  type MeasureContext,
  type Metrics,
  type PlanOptions,
  QUICK,
  type Scenario,
  type Variant,
} from './types.js';

const SUBJECT = 'bench.lag';
const WARMUP_MS = 1_000;
const WINDOW_MS = 3_000;
const TRANSPORTS = ['plain', 'tls'] as const;

/** A stream: `lag` takes the command line's size, `lag16k` has its own. */
interface Stream {
  name: string;
  rate: number;
  size?: number;
}

function variant(
  stream: Stream,
  options: PlanOptions,
  transport: (typeof TRANSPORTS)[number],
): Variant {
  const scale = options.quick ? QUICK : 1;
  const size = stream.size ?? options.size ?? DEFAULT_SIZE;
  const rate = stream.rate;
  return {
    id: `${stream.name}-${transport}`,
    scenario: stream.name,
    label: `lag ${rate >= 10_000 ? `${rate / 1000}k` : rate} msgs/s ${sizeLabel(size)} ${transport}`,
    clients: CLIENTS,
    needsServer: true,
    tls: transport === 'tls',
    params: {
      size,
      rate,
      warmupMs: WARMUP_MS / scale,
      windowMs: WINDOW_MS / scale,
    },
    metrics: [
      { key: 'elu', label: 'main ELU', better: 'lower' },
      { key: 'delayP99', label: 'delay p99 ms', better: 'lower' },
      { key: 'cpu', label: 'CPU cores', better: 'lower' },
      { ...MSGS_PER_SEC, label: 'recv msgs/s' },
    ],
    timeoutMs: 60_000,
  };
}

function lagScenario(stream: Stream, summary: string): Scenario {
  return {
    name: stream.name,
    summary,
    variants: (options) => TRANSPORTS.map((transport) => variant(stream, options, transport)),
    measure,
  };
}

export const lag = lagScenario(
  { name: 'lag', rate: 100_000 },
  'main thread with a 1 ms timer while receiving 100k msgs/s: ELU, delay p99, CPU',
);

export const lag16k = lagScenario(
  { name: 'lag16k', rate: 6_000, size: 16 * 1024 },
  'lag at 16 KiB × 6,000 msgs/s (98 MB/s), plain and TLS: main-thread ELU, CPU',
);

async function measure(v: Variant, ctx: MeasureContext): Promise<Metrics> {
  const { size, rate, warmupMs, windowMs } = v.params;
  const timer = setInterval(() => {}, 1);
  const client = await ctx.connect();
  const tally = new Tally();
  client.subscribe(SUBJECT, tally.onMessage);
  await client.flush();
  let publisher: Peer | undefined;
  try {
    ctx.stage('waiting for the publisher');
    // Outlasts the warm-up and the window; stopped once the window closes.
    const stream = { url: ctx.url, subject: SUBJECT, size, rate, ms: warmupMs + windowMs + 1000 };
    publisher = await startStream(client, tally, stream);
    ctx.stage('warm-up');
    await guarded(sleep(warmupMs), client.failed, publisher.failed);
    ctx.stage('measuring');
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const elu = performance.eventLoopUtilization();
    const cpu = process.cpuUsage();
    const before = tally.count;
    const start = performance.now();
    await guarded(sleep(windowMs), client.failed, publisher.failed);
    const seconds = (performance.now() - start) / 1000;
    const metrics = {
      elu: performance.eventLoopUtilization(elu).utilization,
      delayP99: delay.percentile(99) / 1e6,
      cpu: cpuSeconds(process.cpuUsage(cpu)) / seconds,
      msgsPerSec: (tally.count - before) / seconds,
    };
    delay.disable();
    return metrics;
  } finally {
    await publisher?.stop();
    clearInterval(timer);
    ctx.stage('closing');
    await client.close();
  }
}

function cpuSeconds(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1e6;
}
