/**
 * pubrecv: publishing while receiving. A paced publisher process sends 100 k msgs/s to
 * `bench.in`, and the client handles each in a callback as an application would: decode and
 * JSON.parse it, then work until {@link WORK_US} have passed; meanwhile the client publishes N
 * messages to `bench.out`, which it does not receive itself, as fast as it may, then flushes.
 * Publish rate from the first publish to the end of the flush (the headline), and the rate
 * received in that window.
 *
 * At 100 k msgs/s the callbacks alone take half the main thread, so while it also publishes it
 * falls behind with its deliveries. This shows whether that holds back publishes that do not
 * come back to the client: nats-offload before ec4d318 sent all of a client's commands at its
 * delivery pace while deliveries were behind; since, only echo publishes wait for it (see
 * src/worker/flow-control.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CLIENTS } from '../clients/types.js';
import type { Peer } from '../peers/launch.js';
import {
  DEFAULT_SIZE,
  guarded,
  MSGS_PER_SEC,
  payloadOf,
  publishAll,
  sizeLabel,
  startStream,
  Tally,
} from './common.js';
import { countFor, type PlanOptions, QUICK, type Scenario, type Variant } from './types.js';

const IN = 'bench.in';
const OUT = 'bench.out';
const RATE = 100_000;
/**
 * Microseconds of main-thread work per message received, the parse included. Less, and the
 * main thread keeps up while publishing, so the old gating hardly engages; much more, and the
 * build before ec4d318 drops messages (slowConsumer). The calibration is in
 * docs/benchmarks-flow-control.md.
 */
const WORK_US = 5;
/**
 * Messages published per measurement: a few seconds for either client. Not more: nats.js's
 * publishing loop never yields, so meanwhile the incoming stream waits in the server, whose
 * `max_pending` (64 MiB by default) would cut the client as a slow consumer.
 */
const COUNT = 1_000_000;
/** From the first message received to the first publish: the stream and the callback settle. */
const WARMUP_MS = 500;
const TIMEOUT_MS = 120_000;

function variant(options: PlanOptions): Variant {
  const size = options.size ?? DEFAULT_SIZE;
  return {
    id: 'pubrecv',
    scenario: 'pubrecv',
    label: `pubrecv ${sizeLabel(size)}, ${RATE / 1000}k msgs/s in`,
    clients: CLIENTS,
    needsServer: true,
    params: {
      size,
      count: countFor(options, COUNT),
      rate: RATE,
      workUs: WORK_US,
      warmupMs: WARMUP_MS / (options.quick ? QUICK : 1),
    },
    metrics: [
      { ...MSGS_PER_SEC, label: 'pub msgs/s' },
      { key: 'recvPerSec', label: 'recv msgs/s', better: 'higher' },
    ],
    timeoutMs: TIMEOUT_MS,
  };
}

export const pubrecv: Scenario = {
  name: 'pubrecv',
  summary: `publish N messages then flush while receiving ${RATE / 1000}k msgs/s in a callback: msgs/s`,
  variants: (options) => [variant(options)],

  async measure(v, ctx) {
    const { size, count, rate, workUs, warmupMs } = v.params;
    const client = await ctx.connect();
    const tally = new Tally();
    // The peer's bodies are JSON, parsed before each callback; a throw fails the sample.
    client.subscribe(
      IN,
      () => {
        const until = performance.now() + workUs / 1000;
        tally.onMessage();
        while (performance.now() < until) {} // the rest of the application's work
      },
      true,
    );
    await client.flush();
    let publisher: Peer | undefined;
    try {
      ctx.stage('waiting for the publisher');
      const stream = { url: ctx.url, subject: IN, size, rate, ms: v.timeoutMs };
      publisher = await startStream(client, tally, stream);
      ctx.stage('warm-up');
      await guarded(sleep(warmupMs), client.failed, publisher.failed);
      ctx.stage('publishing while receiving');
      const before = tally.count;
      const start = performance.now();
      await guarded(
        (async () => {
          await publishAll(client, OUT, payloadOf(size), count);
          await client.flush();
        })(),
        client.failed,
        publisher.failed,
      );
      const seconds = (performance.now() - start) / 1000;
      return { msgsPerSec: count / seconds, recvPerSec: (tally.count - before) / seconds };
    } finally {
      await publisher?.stop();
      ctx.stage('closing');
      await client.close();
    }
  },
};
