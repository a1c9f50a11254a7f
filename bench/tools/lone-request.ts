/**
 * Requests of builds side by side in one process: each named nats-offload library (a build's
 * `src/main/index.js`, e.g. `dist-old/src/main/index.js`), `nats.js` and `raw` (the bench's
 * raw-socket client) connect to one fresh local nats-server and the bench's raw-socket
 * responder, then take turns: per round, `--count` 128 B requests from each client, in the
 * order given rotated by one each round. One at a time (the default): p50 and p90 of each
 * client's turn. With `--in-flight N`: N outstanding at all times (the bench's `concurrent`),
 * the turn's rate. Printed per client: the median of its rounds' figures, and the median
 * (range) of its ratio to nats.js's and to raw's turn in the same round (for p50 also its
 * difference to raw's). Turns a few hundred ms apart share the host's phase, which separate
 * invocations (ab.js) do not: a 5 % difference needs that pairing here to show above the noise.
 *
 *   node dist/bench/tools/lone-request.js [--rounds 30] [--count 2000] [--in-flight 100] <library|nats.js|raw>…
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { connectNatsJs } from '../clients/natsjs.js';
import { connectRaw } from '../clients/raw.js';
import { type BenchClient, REQUEST_TIMEOUT_MS } from '../clients/types.js';
import { startPeer } from '../peers/launch.js';
import { concurrent, SUBJECT } from '../scenarios/reqrep.js';
import { median, percentile } from '../stats.js';
import { startServer } from '../support/nats-server.js';
import { takeNumber } from './tool-args.js';

type Library = typeof import('../../src/main/index.js');

interface Requester {
  name: string;
  request(payload: Uint8Array): Promise<unknown>;
  /** As the bench's clients request (bench/clients): the reply's payload. */
  bench: Pick<BenchClient, 'request'>;
  close(): Promise<void>;
}

const args = process.argv.slice(2);
const rounds = takeNumber(args, '--rounds', 30);
const count = takeNumber(args, '--count', 2000);
const inFlight = takeNumber(args, '--in-flight', 1);
const WARMUP = 2000;
if (
  args.length === 0 ||
  !(rounds > 0) ||
  !(count > 0) ||
  !Number.isInteger(inFlight) ||
  inFlight < 1
) {
  throw new Error(
    'usage: lone-request.js [--rounds N] [--count N] [--in-flight N] <library|nats.js|raw>…',
  );
}

const server = await startServer();
const responder = await startPeer('responder', [server.url, SUBJECT], true);
const clients: Requester[] = [];
for (const name of args) clients.push(await connect(name, server.url));
const payload = new Uint8Array(128);
const natsJs = args.indexOf('nats.js');
const raw = args.indexOf('raw');
if (inFlight === 1) await sequentialRounds();
else await inFlightRounds();
for (const client of clients) await client.close();
await responder.stop();
await server.stop();

async function sequentialRounds(): Promise<void> {
  for (const client of clients) await turn(client, WARMUP);
  const p50s = clients.map((): number[] => []);
  const p90s = clients.map((): number[] => []);
  for (let round = 0; round < rounds; round++) {
    for (const k of turnOrder(round)) {
      const latencies = await turn(clients[k], count);
      p50s[k].push(percentile(latencies, 50) * 1000);
      p90s[k].push(percentile(latencies, 90) * 1000);
    }
  }
  console.log(`${rounds} rounds of ${count} sequential 128 B requests per client, µs`);
  for (let k = 0; k < clients.length; k++) {
    let line = `${clients[k].name}: p50 ${median(p50s[k]).toFixed(1)}, p90 ${median(p90s[k]).toFixed(1)}`;
    if (natsJs >= 0 && natsJs !== k) {
      line += `; to nats.js p50 ${ratios(p50s[k], p50s[natsJs])}, p90 ${ratios(p90s[k], p90s[natsJs])}`;
    }
    if (raw >= 0 && raw !== k) {
      const over = p50s[k].map((v, i) => v - p50s[raw][i]);
      line += `; p50 to raw ${ratios(p50s[k], p50s[raw])}, raw + ${median(over).toFixed(1)} µs`;
    }
    console.log(line);
  }
}

async function inFlightRounds(): Promise<void> {
  const rate = async (client: Requester, n: number): Promise<number> => {
    const { reqPerSec } = await concurrent(client.bench, payload, n, inFlight);
    return reqPerSec as number;
  };
  for (const client of clients) await rate(client, WARMUP);
  const rates = clients.map((): number[] => []);
  for (let round = 0; round < rounds; round++) {
    for (const k of turnOrder(round)) rates[k].push(await rate(clients[k], count));
  }
  console.log(
    `${rounds} rounds of ${count} 128 B requests per client, ${inFlight} in flight, req/s`,
  );
  for (let k = 0; k < clients.length; k++) {
    let line = `${clients[k].name}: ${Math.round(median(rates[k]))}`;
    if (natsJs >= 0 && natsJs !== k) line += `; to nats.js ${ratios(rates[k], rates[natsJs])}`;
    if (raw >= 0 && raw !== k) line += `; to raw ${ratios(rates[k], rates[raw])}`;
    console.log(line);
  }
}

/** The clients in the order given, rotated by one each round: no client always goes first. */
function turnOrder(round: number): number[] {
  return clients.map((_, i) => (i + round) % clients.length);
}

async function connect(name: string, url: string): Promise<Requester> {
  if (name === 'nats.js' || name === 'raw') {
    const client = name === 'raw' ? await connectRaw(url) : await connectNatsJs(url);
    return {
      name,
      request: (p) => client.request(SUBJECT, p),
      bench: client,
      close: () => client.close(),
    };
  }
  const lib = (await import(pathToFileURL(resolve(name)).href)) as Library;
  const client = await new lib.ConnectOptions().requestTimeout(REQUEST_TIMEOUT_MS).connect(url);
  return {
    name,
    request: (p) => client.request(SUBJECT, p),
    bench: { request: async (subject, p) => (await client.request(subject, p)).payload },
    close: () => client.close(),
  };
}

/** `n` requests one at a time: their latencies in ms, sorted. */
async function turn(client: Requester, n: number): Promise<Float64Array> {
  const latencies = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await client.request(payload);
    latencies[i] = performance.now() - start;
  }
  return latencies.sort();
}

/** Median (range) of the per-round ratios of `values` to `to`. */
function ratios(values: number[], to: number[]): string {
  const each = values.map((v, i) => v / to[i]);
  return `${median(each).toFixed(3)}× (${Math.min(...each).toFixed(2)}–${Math.max(...each).toFixed(2)}×)`;
}
