/**
 * lag: what receiving a steady stream costs the application's thread. The main thread runs a
 * 1 ms timer (an application that wants its event loop) while a paced publisher process sends
 * `rate` messages per second; over a window after a warm-up we read the main thread's
 * event-loop utilisation, the event-loop delay p99, the process CPU (all threads, so work moved
 * to the worker still shows) and the rate actually received.
 *
 * Transports are variants. Over `tls` the client's connection is TLS (the server serves the
 * run's certificates, see bench/tls.ts) while the publisher stays the same plain raw socket:
 * the client's decryption is the only difference, and nats-offload does it on its worker.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLIENTS } from '../clients/types.js';
import { startPeer } from '../peers/launch.js';
import { DEFAULT_SIZE, guarded, MSGS_PER_SEC, sizeLabel } from './common.js';
import { type PlanOptions, QUICK, type Scenario, type Variant } from './types.js';

const SUBJECT = 'bench.lag';
const RATE = 100_000;
const WARMUP_MS = 1_000;
const WINDOW_MS = 3_000;
/** How long the publisher process may take to start and deliver its first message. */
const FIRST_MESSAGE_MS = 10_000;
const TRANSPORTS = ['plain', 'tls'] as const;

function variant(options: PlanOptions, transport: (typeof TRANSPORTS)[number]): Variant {
  const scale = options.quick ? QUICK : 1;
  const size = options.size ?? DEFAULT_SIZE;
  return {
    id: `lag-${transport}`,
    scenario: 'lag',
    label: `lag ${RATE / 1000}k msgs/s ${sizeLabel(size)} ${transport}`,
    clients: CLIENTS,
    needsServer: true,
    tls: transport === 'tls',
    params: {
      size,
      rate: RATE,
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

export const lag: Scenario = {
  name: 'lag',
  summary: `main thread with a 1 ms timer while receiving ${RATE / 1000}k msgs/s: ELU, delay p99, CPU`,
  variants: (options) => TRANSPORTS.map((transport) => variant(options, transport)),

  async measure(v, ctx) {
    const { size, rate, warmupMs, windowMs } = v.params;
    const timer = setInterval(() => {}, 1);
    const client = await ctx.connect();
    let received = 0;
    let firstArrived!: () => void;
    const first = new Promise<void>((resolve) => {
      firstArrived = resolve;
    });
    client.subscribe(SUBJECT, () => {
      if (++received === 1) firstArrived();
    });
    await client.flush();
    // The publisher outlasts the window however long it took to start (a loaded host can
    // take seconds to start a process); it is stopped once the window closes.
    const count = Math.ceil((rate * (FIRST_MESSAGE_MS + warmupMs + windowMs + 1000)) / 1000);
    const publisher = await startPeer('flood', [ctx.url, SUBJECT, count, size, rate]);
    try {
      ctx.stage('waiting for the publisher');
      await guarded(first, client.failed, publisher.failed, timeout(FIRST_MESSAGE_MS));
      ctx.stage('warm-up');
      await guarded(sleep(warmupMs), client.failed, publisher.failed);
      ctx.stage('measuring');
      const delay = monitorEventLoopDelay({ resolution: 1 });
      delay.enable();
      const elu = performance.eventLoopUtilization();
      const cpu = process.cpuUsage();
      const before = received;
      const start = performance.now();
      await guarded(sleep(windowMs), client.failed, publisher.failed);
      const seconds = (performance.now() - start) / 1000;
      const metrics = {
        elu: performance.eventLoopUtilization(elu).utilization,
        delayP99: delay.percentile(99) / 1e6,
        cpu: cpuSeconds(process.cpuUsage(cpu)) / seconds,
        msgsPerSec: (received - before) / seconds,
      };
      delay.disable();
      return metrics;
    } finally {
      await publisher.stop();
      clearInterval(timer);
      ctx.stage('closing');
      await client.close();
    }
  },
};

/** Rejects after `ms` (the timer does not keep the process alive). */
function timeout(ms: number): Promise<never> {
  return new Promise((_, reject) => {
    setTimeout(
      () => reject(new Error(`no message within ${ms} ms of starting the publisher`)),
      ms,
    ).unref();
  });
}

function cpuSeconds(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1e6;
}
