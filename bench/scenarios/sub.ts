/**
 * sub: a raw-socket publisher in another process floods N messages as fast as the server takes
 * them; the client counts in a callback. Rate from the first message received to the last, and
 * the CPU each message cost, by thread and process (cpu-window.ts), from the publisher's start
 * to the last message.
 */
import { cpuMetrics } from '../cpu-window.js';
import { startPeer } from '../peers/launch.js';
import { guarded, Receiver, receiveVariants, throughput } from './common.js';
import type { Scenario } from './types.js';

export const sub: Scenario = {
  name: 'sub',
  summary:
    'a publisher process floods N messages; the client counts them in a callback: msgs/s, CPU µs/msg by thread',
  variants: (options) => receiveVariants('sub', options, cpuMetrics('msg', true)),

  async measure(variant, ctx) {
    const { size, count } = variant.params;
    const client = await ctx.connect();
    const receiver = new Receiver(count, size);
    client.subscribe('bench.sub', receiver.onMessage);
    await client.flush(); // the SUB is registered before the first message is published
    ctx.stage('receiving');
    const flood = await startPeer('flood', [ctx.url, 'bench.sub', count, size], true);
    try {
      const cpu = ctx.cpuWindow([flood]);
      flood.go();
      await guarded(receiver.done, client.failed, flood.failed);
      const metrics = {
        ...throughput(count, size, receiver.last - receiver.first),
        ...cpu.close(count),
      };
      ctx.stage('closing');
      await client.close();
      return metrics;
    } finally {
      receiver.stop();
      await flood.stop();
    }
  },
};
