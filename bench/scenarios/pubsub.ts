/** pubsub: one client publishes N messages and receives its own; from first publish to last receive. */
import { CLIENTS } from '../clients/types.js';
import {
  DEFAULT_SIZE,
  guarded,
  MB_PER_SEC,
  MSGS_PER_SEC,
  messageCount,
  payloadOf,
  publishAll,
  Receiver,
  sizeLabel,
  throughput,
} from './common.js';
import { countFor, type Scenario } from './types.js';

export const pubsub: Scenario = {
  name: 'pubsub',
  summary: 'one client publishes N messages and receives its own: msgs/s',
  variants: (options) => {
    const size = options.size ?? DEFAULT_SIZE;
    return [
      {
        id: 'pubsub',
        scenario: 'pubsub',
        label: `pubsub ${sizeLabel(size)}`,
        clients: CLIENTS,
        needsServer: true,
        params: { size, count: countFor(options, messageCount(size)) },
        metrics: [MSGS_PER_SEC, MB_PER_SEC],
        timeoutMs: 120_000,
      },
    ];
  },

  async measure(variant, ctx) {
    const { size, count } = variant.params;
    const client = await ctx.connect();
    const receiver = new Receiver(count, size);
    client.subscribe('bench.pubsub', receiver.onMessage);
    await client.flush();
    ctx.stage('publishing and receiving');
    const start = performance.now();
    try {
      await guarded(
        Promise.all([publishAll(client, 'bench.pubsub', payloadOf(size), count), receiver.done]),
        client.failed,
      );
    } finally {
      receiver.stop();
    }
    ctx.stage('closing');
    await client.close();
    return throughput(count, size, receiver.last - start);
  },
};
