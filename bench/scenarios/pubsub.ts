/** pubsub: one client publishes N messages and receives its own; from first publish to last receive. */
import { guarded, payloadOf, publishAll, Receiver, receiveVariants, throughput } from './common.js';
import type { Scenario } from './types.js';

export const pubsub: Scenario = {
  name: 'pubsub',
  summary: 'one client publishes N messages and receives its own: msgs/s',
  variants: (options) => receiveVariants('pubsub', options),

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
