/**
 * jetstream: the nats.js JetStream add-on over each client (nats-offload through
 * `asNatsConnection`). `js-publish`: N `js.publish` calls, 1,000 awaiting their acks at any
 * time. `js-consume`: an ordered consumer drains a stream of N messages (filled beforehand, not
 * timed), with the main thread's event-loop utilisation over the drain.
 */
import type { jetstream } from '@nats-io/jetstream';
import { CLIENTS } from '../clients/types.js';
import { DEFAULT_SIZE, MSGS_PER_SEC, payloadOf, sizeLabel } from './common.js';
import { countFor, type Metric, type Metrics, type Scenario } from './types.js';

const IN_FLIGHT = 1_000;
const PUBLISH_COUNT = 50_000;
const CONSUME_COUNT = 100_000;
const STREAM = 'BENCH';
const SUBJECT = 'bench.js';
const ELU: Metric = { key: 'elu', label: 'main ELU', better: 'lower' };

type JetStream = ReturnType<typeof jetstream>;

/** `count` publishes with at most IN_FLIGHT unacknowledged; resolves at the last ack. */
async function publishAcked(js: JetStream, payload: Uint8Array, count: number): Promise<void> {
  let inFlight = 0;
  let wake: (() => void) | undefined;
  let failed: unknown;
  const acked = () => {
    inFlight--;
    wake?.();
  };
  for (let i = 0; i < count; i++) {
    while (inFlight >= IN_FLIGHT) await new Promise<void>((resolve) => (wake = resolve));
    if (failed) throw failed;
    inFlight++;
    js.publish(SUBJECT, payload).then(acked, (error: unknown) => {
      failed = error;
      acked();
    });
  }
  while (inFlight > 0) await new Promise<void>((resolve) => (wake = resolve));
  if (failed) throw failed;
}

export const jetstreamScenario: Scenario = {
  name: 'jetstream',
  summary:
    'nats.js JetStream add-on: js.publish with 1,000 in flight; ordered consumer drain + ELU',
  variants(options) {
    const size = options.size ?? DEFAULT_SIZE;
    const base = { scenario: 'jetstream', clients: CLIENTS, needsServer: true, jetstream: true };
    return [
      {
        ...base,
        id: 'js-publish',
        label: `js.publish ${sizeLabel(size)}`,
        params: { size, count: countFor(options, PUBLISH_COUNT), consume: 0 },
        metrics: [MSGS_PER_SEC],
        timeoutMs: 180_000,
      },
      {
        ...base,
        id: 'js-consume',
        label: `ordered consume ${sizeLabel(size)}`,
        params: { size, count: countFor(options, CONSUME_COUNT), consume: 1 },
        metrics: [MSGS_PER_SEC, ELU],
        timeoutMs: 240_000,
      },
    ];
  },

  async measure(variant, ctx): Promise<Metrics> {
    const { size, count, consume } = variant.params;
    const { connectNatsConnection } = await import('../clients/jetstream.js');
    const nc = await connectNatsConnection(ctx.client, ctx.url);
    // Loaded here: the add-on is optional for the published bench (optional.ts).
    const { jetstream, jetstreamManager, StorageType } = await import('@nats-io/jetstream');
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: STREAM, subjects: [SUBJECT], storage: StorageType.Memory });
    const js = jetstream(nc);
    const payload = payloadOf(size);
    try {
      if (!consume) {
        ctx.stage('publishing');
        const start = performance.now();
        await publishAcked(js, payload, count);
        return { msgsPerSec: count / ((performance.now() - start) / 1000) };
      }
      ctx.stage('filling the stream');
      await publishAcked(js, payload, count);
      ctx.stage('consuming');
      const consumer = await js.consumers.get(STREAM);
      const elu = performance.eventLoopUtilization();
      const start = performance.now();
      let received = 0;
      for await (const m of await consumer.consume()) {
        if (m.data.length !== size) throw new Error(`got ${m.data.length} bytes, sent ${size}`);
        if (++received === count) break;
      }
      const ms = performance.now() - start;
      return {
        msgsPerSec: count / (ms / 1000),
        elu: performance.eventLoopUtilization(elu).utilization,
      };
    } finally {
      ctx.stage('closing');
      await nc.close();
    }
  },
};
