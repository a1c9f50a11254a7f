/**
 * service: a service's callback, as applications write it: each 180 B JSON message is
 * UTF-8-decoded and `JSON.parse`d. A publisher process floods a 300k burst at default client
 * options. Messages/s from the first to the last received, and whether all arrived: a client
 * that drops messages as a slow consumer is incomplete (counted over the reps), its rate then
 * taken over what it did receive. With the CPU each received message cost, by thread and
 * process (cpu-window.ts), from the publisher's start to the last message.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CLIENTS, DroppedMessagesError } from '../clients/types.js';
import { cpuMetrics } from '../cpu-window.js';
import { startPeer } from '../peers/launch.js';
import { guarded, MSGS_PER_SEC } from './common.js';
import { countFor, type Metrics, type Scenario } from './types.js';

const SUBJECT = 'bench.service';
const SIZE = 180;
const COUNT = 300_000;
/** After messages were dropped, the burst is over once none has come for this long. */
const QUIET_MS = 1_000;

export const service: Scenario = {
  name: 'service',
  summary: `a callback decoding and JSON.parsing each ${SIZE} B message, ${COUNT / 1000}k burst: msgs/s, complete, CPU µs/msg by thread`,
  variants: (options) => [
    {
      id: 'service',
      scenario: 'service',
      label: `service ${SIZE} B JSON, ${COUNT / 1000}k burst`,
      clients: CLIENTS,
      needsServer: true,
      params: { size: SIZE, count: countFor(options, COUNT) },
      metrics: [
        MSGS_PER_SEC,
        { key: 'complete', label: 'complete', better: 'higher', flag: true },
        ...cpuMetrics('msg', true),
      ],
      timeoutMs: 120_000,
    },
  ],

  async measure(variant, ctx) {
    const { size, count } = variant.params;
    const client = await ctx.connect();
    let received = 0;
    let first = 0;
    let last = 0;
    let all!: () => void;
    const done = new Promise<void>((resolve) => {
      all = resolve;
    });
    // Each library decodes and parses the JSON body itself (`json()`); a throw fails the sample.
    client.subscribe(
      SUBJECT,
      () => {
        last = performance.now();
        if (received++ === 0) first = last;
        if (received === count) all();
      },
      true,
    );
    await client.flush();
    ctx.stage('receiving');
    const flood = await startPeer('flood', [ctx.url, SUBJECT, count, size], true);
    const cpu = ctx.cpuWindow([flood]);
    flood.go();
    let complete = 1;
    let cpuPerMsg: Metrics;
    try {
      await guarded(done, client.failed, flood.failed);
    } catch (error) {
      if (!(error instanceof DroppedMessagesError)) throw error;
      complete = 0;
      ctx.stage('dropped messages: receiving the rest');
      for (let seen = -1; seen !== received; ) {
        seen = received;
        await sleep(QUIET_MS);
      }
    } finally {
      cpuPerMsg = cpu.close(received);
      await flood.stop();
    }
    ctx.stage('closing');
    await client.close();
    return { msgsPerSec: received / ((last - first) / 1000), complete, ...cpuPerMsg };
  },
};
