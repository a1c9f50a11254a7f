/**
 * reqrep: requests to a raw-socket responder in another process, which echoes each payload.
 * Sequential: one request at a time, each timed, after a warm-up. In flight: a fixed number
 * outstanding at all times, until N are answered, with the CPU each request cost by thread and
 * process (cpu-window.ts; the responder is the peer) and the read and write calls it took
 * (syscall-window.ts). Large: sequential round trips of a 16 MiB
 * message (far larger than the client's 4 MiB rings) against a server allowing it.
 */
import { type BenchClient, CLIENTS } from '../clients/types.js';
import { cpuMetrics } from '../cpu-window.js';
import { startPeer } from '../peers/launch.js';
import { percentile } from '../stats.js';
import { syscallMetrics } from '../syscall-window.js';
import { DEFAULT_SIZE, guarded, payloadOf, sizeLabel } from './common.js';
import { countFor, type Metrics, type Scenario } from './types.js';

/** What the responder answers on. */
export const SUBJECT = 'bench.req';
const IN_FLIGHT = 100;
const LARGE_SIZE = 16 * 1024 * 1024;
/** Round trips of the large variant; a --count meant for small requests only lowers it. */
const LARGE_COUNT = 40;
/** Requests before the timed ones: JIT, the reply inbox and socket buffers settle first. */
const WARMUP_FRACTION = 0.1;

export const reqrep: Scenario = {
  name: 'reqrep',
  summary:
    'request/reply against a responder process: sequential latency p50/p90/p99/max, req/s and CPU µs/req by thread with 100 in flight, and a 16 MiB round trip',
  variants: (options) => {
    const size = options.size ?? DEFAULT_SIZE;
    const base = { scenario: 'reqrep', clients: CLIENTS, needsServer: true, timeoutMs: 120_000 };
    const latency = (label: string, key: string) => ({ key, label, better: 'lower' as const });
    const largeMax = countFor({ quick: options.quick }, LARGE_COUNT);
    const largeCount = Math.min(countFor(options, LARGE_COUNT), largeMax);
    return [
      {
        ...base,
        id: 'reqrep-seq',
        label: `request sequential ${sizeLabel(size)}`,
        params: { size, count: countFor(options, 20_000), inFlight: 1 },
        metrics: [
          latency('p50 ms', 'p50'),
          latency('p90 ms', 'p90'),
          latency('p99 ms', 'p99'),
          latency('max ms', 'max'),
        ],
      },
      {
        ...base,
        id: `reqrep-${IN_FLIGHT}`,
        label: `request ${IN_FLIGHT} in flight ${sizeLabel(size)}`,
        params: { size, count: countFor(options, 50_000), inFlight: IN_FLIGHT },
        metrics: [
          { key: 'reqPerSec', label: 'req/s', better: 'higher' },
          ...cpuMetrics('req', true),
          ...syscallMetrics('req'),
        ],
      },
      {
        ...base,
        id: 'reqrep-16m',
        label: `request sequential ${sizeLabel(LARGE_SIZE)}`,
        serverConfig: 'max_payload: 64MB',
        params: { size: LARGE_SIZE, count: largeCount, inFlight: 1 },
        metrics: [latency('p50 ms', 'p50'), latency('max ms', 'max')],
      },
    ];
  },

  async measure(variant, ctx) {
    const { size, count, inFlight } = variant.params;
    const payload = payloadOf(size);
    const responder = await startPeer('responder', [ctx.url, SUBJECT], true);
    try {
      const client = await ctx.connect();
      const run = inFlight === 1 ? sequential : concurrent;
      ctx.stage('warm-up');
      await guarded(
        run(client, payload, Math.ceil(count * WARMUP_FRACTION), inFlight),
        client.failed,
        responder.failed,
      );
      ctx.stage('requesting');
      const cpu = ctx.cpuWindow([responder]);
      const calls = ctx.syscallWindow(responder);
      const metrics = {
        ...(await guarded(run(client, payload, count, inFlight), client.failed, responder.failed)),
        ...cpu.close(count),
        ...calls.close(count),
      };
      ctx.stage('closing');
      await client.close();
      return metrics;
    } finally {
      await responder.stop();
    }
  },
};

async function sequential(
  client: BenchClient,
  payload: Uint8Array,
  count: number,
): Promise<Metrics> {
  const latencies = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    const reply = await client.request(SUBJECT, payload);
    latencies[i] = performance.now() - start;
    checkReply(reply, payload);
  }
  latencies.sort();
  return {
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
    max: latencies[count - 1],
  };
}

/** `count` requests of `payload`, `inFlight` outstanding at all times: their rate. */
export function concurrent(
  client: Pick<BenchClient, 'request'>,
  payload: Uint8Array,
  count: number,
  inFlight: number,
): Promise<Metrics> {
  const start = performance.now();
  let issued = 0;
  let answered = 0;
  return new Promise((resolve, reject) => {
    const next = (): void => {
      if (issued === count) return;
      issued++;
      client
        .request(SUBJECT, payload)
        .then((reply) => {
          checkReply(reply, payload);
          if (++answered === count)
            resolve({ reqPerSec: count / ((performance.now() - start) / 1000) });
          else next();
        })
        .catch(reject);
    };
    for (let i = 0; i < Math.min(inFlight, count); i++) next();
  });
}

function checkReply(reply: Uint8Array, payload: Uint8Array): void {
  if (reply.length !== payload.length) {
    throw new Error(`reply of ${reply.length} bytes to a request of ${payload.length}`);
  }
}
