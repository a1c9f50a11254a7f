/**
 * Single-thread cost of the caller's publish path: Outgoing (checks) → Publisher → command
 * ring, the ring drained on the same thread every 1024 messages (no socket), in CPU
 * nanoseconds of the main thread per message (/proc, Linux only). With `--client`, from
 * Client.publish on: a client connecting to a port nobody listens on (its worker retries, so
 * it never reads the ring), whose command ring this thread drains instead.
 *
 * Builds run in fresh processes, interleaved round by round, so the phases of a shared host
 * spread over all of them; per build it prints the median and the range over the rounds.
 *
 *   node dist/bench/tools/publish-path.js [--rounds 10] [--count 10000000] [--size 16] [--client] <dist>…
 *
 * A build is a `dist` directory. Builds from before Core v2 load too (ring sides in
 * byte-ring.js, Outgoing without SubjectInterest).
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { threadCpu } from '../proc-cpu.js';
import { median } from '../stats.js';
import { takeFlag, takeNumber } from './tool-args.js';

const WARM_UP = 2_000_000;
const SUBJECT = 'bench.pub';

/** `--name value` out of `args`, or `fallback`: a whole number. */
function option(args: string[], name: string, fallback: number): number {
  const value = takeNumber(args, name, fallback);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number`);
  return value;
}

// biome-ignore lint/suspicious/noExplicitAny: modules of any build, whatever their types were
type Module = any;

/** A publish of `payload`, and what drains the ring it writes into. */
interface PublishPath {
  send(payload: Uint8Array): void;
  drain(): void;
}

/** Outgoing → Publisher → ring, built from the build's modules. */
async function outgoingPath(load: (path: string) => Promise<Module>): Promise<PublishPath> {
  const loadOr = (path: string, fallback: string): Promise<Module> =>
    load(path).catch(() => load(fallback));
  const { createRingBuffers } = await load('shared/ring/byte-ring.js');
  const { RingProducer } = await loadOr('shared/ring/ring-producer.js', 'shared/ring/byte-ring.js');
  const { RingConsumer } = await loadOr('shared/ring/ring-consumer.js', 'shared/ring/byte-ring.js');
  const { Publisher } = await load('main/publisher.js');
  const { Outgoing } = await load('main/outgoing.js');
  const interest = await load('main/interest.js').then(
    (m: Module) => new m.SubjectInterest(true),
    () => undefined,
  );
  const buffers = createRingBuffers(4 * 1024 * 1024);
  const producer = new RingProducer(buffers);
  const consumer = new RingConsumer(buffers);
  const publisher = new Publisher(producer, 65_536, 64 * 1024 * 1024);
  const outgoing = new Outgoing(
    publisher,
    true,
    () => 1024 * 1024,
    interest,
    () => true,
  );
  return {
    send: (payload) => outgoing.send(SUBJECT, undefined, undefined, payload),
    drain: () => {
      publisher.publishNow(); // commits the open PUB record, then publishes W
      while (consumer.next() >= 0) consumer.advance();
      consumer.release();
    },
  };
}

/** Client.publish on a client that never connects; this thread drains its command ring. */
async function clientPath(load: (path: string) => Promise<Module>): Promise<PublishPath> {
  const { ConnectOptions } = await load('main/index.js');
  const { RingConsumer } = await load('shared/ring/ring-consumer.js').catch(() =>
    load('shared/ring/byte-ring.js'),
  );
  const client = await new ConnectOptions().retryOnInitialConnect().connect('nats://127.0.0.1:1');
  // Builds since 159955c keep the publisher among the client's parts (client-parts.ts).
  const publisher = client.parts?.publisher ?? client.publisher;
  const ring = publisher.ring;
  const consumer = new RingConsumer({ header: ring.header.buffer, data: ring.bytes.buffer });
  return {
    send: (payload) => client.publish(SUBJECT, payload),
    drain: () => {
      publisher.publishNow();
      while (consumer.next() >= 0) consumer.advance();
      consumer.release();
    },
  };
}

/** In a fresh process: one build's ns per message. */
async function child(dist: string, count: number, size: number, client: boolean): Promise<void> {
  const load = (path: string): Promise<Module> =>
    import(pathToFileURL(resolve(dist, 'src', path)).href);
  const path = client ? await clientPath(load) : await outgoingPath(load);
  const payload = new Uint8Array(size);
  const run = (n: number) => {
    for (let i = 0; i < n; i++) {
      path.send(payload);
      if ((i & 1023) === 1023) path.drain();
    }
    path.drain();
  };
  const mainCpu = () => threadCpu(process.pid).get(process.pid) ?? 0;
  run(WARM_UP);
  const before = mainCpu();
  run(count);
  process.stdout.write(`${(((mainCpu() - before) * 1e6) / count).toFixed(2)}\n`);
  process.exit(0); // a client's worker would keep the process alive
}

const args = process.argv.slice(2);
if (args[0] === '--child') {
  await child(args[1], Number(args[2]), Number(args[3]), args[4] === 'client');
} else {
  const mode = takeFlag(args, '--client') ? 'client' : 'outgoing';
  const rounds = option(args, '--rounds', 10);
  const count = option(args, '--count', 10_000_000);
  const size = option(args, '--size', 16);
  if (args.length === 0 || rounds < 1 || count < 1) {
    process.stderr.write(
      'usage: node dist/bench/tools/publish-path.js [--rounds N] [--count N] [--size N] [--client] <dist>…\n',
    );
    process.exit(2);
  }
  const self = fileURLToPath(import.meta.url);
  const results = new Map<string, number[]>(args.map((dist) => [dist, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const dist of args) {
      const out = spawnSync(
        process.execPath,
        [self, '--child', dist, String(count), String(size), mode],
        { encoding: 'utf8' },
      );
      if (out.status !== 0) throw new Error(`${dist}: ${out.stderr.slice(-2000)}`);
      results.get(dist)?.push(Number(out.stdout.trim()));
    }
    process.stderr.write(`round ${round}/${rounds} done\n`);
  }
  console.log(
    `${mode} path, ${size} B payload, ${count} messages per run, ${rounds} interleaved rounds`,
  );
  console.log('build | median ns/msg | range');
  for (const [dist, ns] of results) {
    console.log(`${dist} | ${median(ns).toFixed(1)} | ${Math.min(...ns)}–${Math.max(...ns)}`);
  }
}
