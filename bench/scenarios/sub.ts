/**
 * sub: a raw-socket publisher in another process floods N messages as fast as the server takes
 * them; the client counts in a callback. Rate from the first message received to the last, and
 * the CPU each message cost this process: its main thread, and all its threads (Linux /proc;
 * elsewhere those two read NaN).
 */
import { startPeer } from '../peers/launch.js';
import { ownCpuSince, threadCpu } from '../proc-cpu.js';
import { guarded, Receiver, receiveVariants, throughput } from './common.js';
import type { Scenario } from './types.js';

export const sub: Scenario = {
  name: 'sub',
  summary:
    'a publisher process floods N messages; the client counts them in a callback: msgs/s, CPU µs/msg',
  variants: (options) =>
    receiveVariants('sub', options, [
      { key: 'mainUsPerMsg', label: 'main CPU µs/msg', better: 'lower' },
      { key: 'allUsPerMsg', label: 'all threads CPU µs/msg', better: 'lower' },
    ]),

  async measure(variant, ctx) {
    const { size, count } = variant.params;
    const client = await ctx.connect();
    const receiver = new Receiver(count, size);
    client.subscribe('bench.sub', receiver.onMessage);
    await client.flush(); // the SUB is registered before the first message is published
    ctx.stage('receiving');
    const cpu = process.platform === 'linux' ? threadCpu(process.pid) : undefined;
    const flood = await startPeer('flood', [ctx.url, 'bench.sub', count, size]);
    let spent = { mainMs: Number.NaN, allMs: Number.NaN };
    try {
      await guarded(receiver.done, client.failed, flood.failed);
      if (cpu) spent = ownCpuSince(cpu);
    } finally {
      receiver.stop();
      await flood.stop();
    }
    ctx.stage('closing');
    await client.close();
    return {
      ...throughput(count, size, receiver.last - receiver.first),
      mainUsPerMsg: (spent.mainMs * 1000) / count,
      allUsPerMsg: (spent.allMs * 1000) / count,
    };
  },
};
