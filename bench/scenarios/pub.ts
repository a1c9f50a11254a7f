/**
 * pub: publish N messages, then flush; the clock stops when the server has them all. With the
 * CPU each message cost, by thread and process (cpu-window.ts), over the same time.
 */
import { CLIENTS } from '../clients/types.js';
import { cpuMetrics } from '../cpu-window.js';
import {
  guarded,
  MB_PER_SEC,
  MSGS_PER_SEC,
  messageCount,
  payloadOf,
  publishAll,
  sizeLabel,
  throughput,
} from './common.js';
import { countFor, type Scenario } from './types.js';

const SIZES = [16, 128, 1024, 16 * 1024];

export const pub: Scenario = {
  name: 'pub',
  summary:
    'publish N messages then flush (16 B, 128 B, 1 KiB, 16 KiB): msgs/s, MB/s, CPU µs/msg by thread',
  variants: (options) =>
    (options.size !== undefined ? [options.size] : SIZES).map((size) => ({
      id: `pub-${size}`,
      scenario: 'pub',
      label: `pub ${sizeLabel(size)}`,
      clients: CLIENTS,
      needsServer: true,
      params: {
        size,
        count: countFor(options, messageCount(size)),
      },
      metrics: [MSGS_PER_SEC, MB_PER_SEC, ...cpuMetrics('msg', false)],
      timeoutMs: 120_000,
    })),

  async measure(variant, ctx) {
    const { size, count } = variant.params;
    const payload = payloadOf(size);
    const client = await ctx.connect();
    ctx.stage('publishing');
    const cpu = ctx.cpuWindow();
    const start = performance.now();
    await guarded(
      (async () => {
        await publishAll(client, 'bench.pub', payload, count);
        await client.flush();
      })(),
      client.failed,
    );
    const ms = performance.now() - start;
    const metrics = { ...throughput(count, size, ms), ...cpu.close(count) };
    ctx.stage('closing');
    await client.close();
    return metrics;
  },
};

const TLS_SIZE = 16 * 1024;

/** pubtls: pub over TLS, where nats-offload encrypts on its worker and the others on main. */
export const pubtls: Scenario = {
  name: 'pubtls',
  summary: `pub over TLS (${sizeLabel(TLS_SIZE)} unless --size): MB/s`,
  variants: (options) => {
    const size = options.size ?? TLS_SIZE;
    return [
      {
        id: `pubtls-${size}`,
        scenario: 'pubtls',
        label: `pub ${sizeLabel(size)} tls`,
        clients: CLIENTS,
        needsServer: true,
        tls: true,
        params: { size, count: countFor(options, messageCount(size)) },
        metrics: [MB_PER_SEC, MSGS_PER_SEC],
        timeoutMs: 120_000,
      },
    ];
  },
  measure: (variant, ctx) => pub.measure(variant, ctx),
};
