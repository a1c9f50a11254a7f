/**
 * pubsub: one client publishes N messages and receives its own; from first publish to last
 * receive, with the CPU each message cost, by thread and process (cpu-window.ts).
 */
import { cpuMetrics } from '../cpu-window.js';
import { guarded, payloadOf, publishAll, Receiver, receiveVariants, throughput } from './common.js';
import type { Scenario } from './types.js';

export const pubsub: Scenario = {
  name: 'pubsub',
  summary: 'one client publishes N messages and receives its own: msgs/s, CPU µs/msg by thread',
  variants: (options) => receiveVariants('pubsub', options, cpuMetrics('msg', false)),

  async measure(variant, ctx) {
    const { size, count } = variant.params;
    const client = await ctx.connect();
    const receiver = new Receiver(count, size);
    client.subscribe('bench.pubsub', receiver.onMessage);
    await client.flush();
    ctx.stage('publishing and receiving');
    const cpu = ctx.cpuWindow();
    const start = performance.now();
    try {
      await guarded(
        Promise.all([publishAll(client, 'bench.pubsub', payloadOf(size), count), receiver.done]),
        client.failed,
      );
    } finally {
      receiver.stop();
    }
    const metrics = { ...throughput(count, size, receiver.last - start), ...cpu.close(count) };
    ctx.stage('closing');
    await client.close();
    return metrics;
  },
};
