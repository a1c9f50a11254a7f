/**
 * sub: a raw-socket publisher in another process floods N messages as fast as the server takes
 * them; the client counts in a callback. Rate from the first message received to the last.
 */
import { startPeer } from '../peers/launch.js';
import { guarded, Receiver, receiveVariant, throughput } from './common.js';
import type { Scenario } from './types.js';

export const sub: Scenario = {
  name: 'sub',
  summary: 'a publisher process floods N messages; the client counts them in a callback: msgs/s',
  variants: (options) => [receiveVariant('sub', options)],

  async measure(variant, ctx) {
    const { size, count } = variant.params;
    const client = await ctx.connect();
    const receiver = new Receiver(count, size);
    client.subscribe('bench.sub', receiver.onMessage);
    await client.flush(); // the SUB is registered before the first message is published
    ctx.stage('receiving');
    const flood = await startPeer('flood', [ctx.url, 'bench.sub', count, size]);
    try {
      await guarded(receiver.done, client.failed, flood.failed);
    } finally {
      receiver.stop();
      await flood.stop();
    }
    ctx.stage('closing');
    await client.close();
    return throughput(count, size, receiver.last - receiver.first);
  },
};
