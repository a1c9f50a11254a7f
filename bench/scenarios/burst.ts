/**
 * burst: the application runs a 1 ms timer (it wants its event loop) while a publisher process
 * floods 500k × 128 B at it, as fast as the server takes them. How often the timer still ticks
 * from the first message to the last, and its longest gap there: the event loop blocked while
 * bulk messages arrive is what nats.js users have reported for years. The same timer's rate
 * over a quiet stretch before the burst is the idle reference. With the CPU each message cost,
 * by thread and process (cpu-window.ts), from the publisher's start to the last message.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CLIENTS } from '../clients/types.js';
import { cpuMetrics } from '../cpu-window.js';
import { startPeer } from '../peers/launch.js';
import { DEFAULT_SIZE, guarded, MSGS_PER_SEC, Receiver, sizeLabel, throughput } from './common.js';
import { countFor, type Metrics, QUICK, type Scenario } from './types.js';

const SUBJECT = 'bench.burst';
const COUNT = 500_000;
const IDLE_MS = 500;

export const burst: Scenario = {
  name: 'burst',
  summary: `a ${COUNT / 1000}k-message burst while the app runs a 1 ms timer: ticks/s, longest gap, CPU µs/msg by thread`,
  variants: (options) => {
    const size = options.size ?? DEFAULT_SIZE;
    return [
      {
        id: 'burst',
        scenario: 'burst',
        label: `burst ${COUNT / 1000}k × ${sizeLabel(size)}, 1 ms timer`,
        clients: CLIENTS,
        needsServer: true,
        params: {
          size,
          count: countFor(options, COUNT),
          idleMs: IDLE_MS / (options.quick ? QUICK : 1),
        },
        metrics: [
          { key: 'ticksPerSec', label: 'timer ticks/s', better: 'higher' },
          { key: 'longestGapMs', label: 'longest gap ms', better: 'lower' },
          { key: 'idleTicksPerSec', label: 'idle ticks/s', better: 'higher' },
          MSGS_PER_SEC,
          ...cpuMetrics('msg', true),
        ],
        timeoutMs: 120_000,
      },
    ];
  },

  async measure(variant, ctx) {
    const { size, count, idleMs } = variant.params;
    const client = await ctx.connect();
    const receiver = new Receiver(count, size);
    client.subscribe(SUBJECT, receiver.onMessage);
    await client.flush();
    const ticks: number[] = [];
    const timer = setInterval(() => ticks.push(performance.now()), 1);
    try {
      ctx.stage('idle');
      const idleStart = performance.now();
      await sleep(idleMs);
      const idleTicksPerSec = ticks.length / ((performance.now() - idleStart) / 1000);
      ctx.stage('receiving');
      const flood = await startPeer('flood', [ctx.url, SUBJECT, count, size], true);
      let cpuPerMsg: Metrics;
      try {
        const cpu = ctx.cpuWindow([flood]);
        flood.go();
        await guarded(receiver.done, client.failed, flood.failed);
        cpuPerMsg = cpu.close(count);
      } finally {
        receiver.stop();
        await flood.stop();
      }
      return {
        ...tickStats(ticks, receiver.first, receiver.last),
        idleTicksPerSec,
        msgsPerSec: throughput(count, size, receiver.last - receiver.first).msgsPerSec,
        ...cpuPerMsg,
      };
    } finally {
      clearInterval(timer);
      ctx.stage('closing');
      await client.close();
    }
  },
};

/** Ticks per second within [from, to], and the longest stretch of it without one. */
export function tickStats(
  ticks: readonly number[],
  from: number,
  to: number,
): { ticksPerSec: number; longestGapMs: number } {
  let inside = 0;
  let previous = from;
  let longestGapMs = 0;
  for (const t of ticks) {
    if (t < from || t > to) continue;
    inside++;
    longestGapMs = Math.max(longestGapMs, t - previous);
    previous = t;
  }
  longestGapMs = Math.max(longestGapMs, to - previous);
  return { ticksPerSec: inside / ((to - from) / 1000), longestGapMs };
}
