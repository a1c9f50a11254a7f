/**
 * Where pubsub's CPU goes, by thread: one client publishes `count` messages (128 B, or
 * `--size N`) to a subject it subscribes to (with `--publish-only` it subscribes to nothing
 * and flushes at the end: pub's path; with `--flood` a publisher process floods them instead
 * and the client only receives: sub's path), against a fresh local nats-server, and the CPU time of each
 * thread of this process and of the server is read from /proc (Linux only) around the run.
 * Prints one line:
 *
 *   rate <k msgs/s> main <ms> worker <ms> helpers <ms> server <ms>
 *
 * `worker` is the busiest thread other than the main one (the connection worker), `helpers`
 * the rest (V8's GC and compiler threads). For an A/B of two builds, pass another build's
 * entry as the second argument and alternate the two from the shell.
 *
 * `--warm N` first sends N messages through the client to itself (and waits for them), so
 * that the run measures warm code: with `--warm-other` through another client, closed before
 * the measured one connects (this thread's code warm, a new worker's cold); with
 * `--warm-reconnect` through the measured client, which then reconnects (both threads' code
 * warm, the connection and nats-server's side of it new). What a first burst loses to V8's
 * warm-up is the difference to a run without.
 *
 *   node dist/bench/tools/thread-cpu.js 2000000 [path/to/dist/src/main/index.js] [--size N] [--publish-only | --flood] [--warm N [--warm-other | --warm-reconnect]]
 */
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { startPeer } from '../peers/launch.js';
import { spent, threadCpu } from '../proc-cpu.js';
import { startServer } from '../support/nats-server.js';
import { takeFlag, takeNumber } from './tool-args.js';

const args = process.argv.slice(2);
const SIZE = takeNumber(args, '--size', 128);
const PUBLISH_ONLY = takeFlag(args, '--publish-only');
const FLOOD = takeFlag(args, '--flood');
const WARM = takeNumber(args, '--warm', 0);
const WARM_OTHER = takeFlag(args, '--warm-other');
const WARM_RECONNECT = takeFlag(args, '--warm-reconnect');
const [countText = '1000000', entry] = args;
const count = Number(countText);
if (
  !Number.isInteger(count) ||
  count < 1 ||
  !Number.isInteger(SIZE) ||
  SIZE < 0 ||
  (PUBLISH_ONLY && FLOOD) ||
  !Number.isInteger(WARM) ||
  WARM < 0 ||
  (WARM_OTHER && WARM_RECONNECT) ||
  ((WARM_OTHER || WARM_RECONNECT) && WARM === 0)
) {
  throw new Error(
    'usage: thread-cpu.js <count> [entry] [--size N] [--publish-only | --flood] [--warm N [--warm-other | --warm-reconnect]]',
  );
}
type Lib = typeof import('../../src/main/index.js');
const lib: Lib = entry
  ? await import(pathToFileURL(resolve(entry)).href)
  : await import('../../src/main/index.js');

const server = await startServer();
let dropped!: (error: Error) => void;
const connect = () =>
  new lib.ConnectOptions()
    .eventCallback(async (event) => {
      // Dropped messages never arrive: say so instead of waiting for them forever.
      if (event.type === 'slowConsumer') dropped(new Error('slow consumer: messages dropped'));
    })
    .connect(server.url);
let client = await connect();
try {
  if (WARM > 0) {
    const warmed = await warm(client, WARM);
    if (WARM_OTHER) {
      await client.close();
      client = await connect();
    } else if (WARM_RECONNECT) {
      await client.forceReconnect();
      while (client.connectionState() !== 'connected') await sleep(5);
    }
    // On stderr, so that stdout stays the one line scripts read.
    const how = WARM_OTHER
      ? 'another client'
      : WARM_RECONNECT
        ? 'the client, reconnected'
        : 'the client';
    console.error(`warmed up: ${warmed} messages through ${how}`);
  }
  let received = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve, reject) => {
    done = resolve;
    dropped = reject;
  });
  if (!PUBLISH_ONLY) {
    client.subscribe('bench.threads', {
      callback: () => {
        if (++received === count) done();
      },
    });
  }
  await client.flush();
  const flood = FLOOD
    ? await startPeer('flood', [server.url, 'bench.threads', count, SIZE], true)
    : undefined;
  const payload = new Uint8Array(SIZE).fill(0x61);
  const ours = threadCpu(process.pid);
  const theirs = threadCpu(server.pid);
  const start = performance.now();
  if (flood) {
    flood.go();
    await Promise.race([all, flood.failed]);
  } else {
    for (let i = 0; i < count; i++) {
      if (!client.publish('bench.threads', payload)) await client.writable();
    }
    if (PUBLISH_ONLY) await client.flush();
    else await all;
  }
  const ms = performance.now() - start;
  const byThread = spent(ours, threadCpu(process.pid));
  const main = byThread.get(process.pid) ?? 0;
  byThread.delete(process.pid);
  const others = [...byThread.values()].sort((a, b) => b - a);
  const worker = others[0] ?? 0;
  const helpers = others.slice(1).reduce((sum, v) => sum + v, 0);
  const serverMs = [...spent(theirs, threadCpu(server.pid)).values()].reduce((s, v) => s + v, 0);
  const [mainMs, workerMs, helpersMs, allServerMs] = [main, worker, helpers, serverMs].map(
    Math.round,
  );
  console.log(
    `rate ${Math.round(count / ms)} main ${mainMs} worker ${workerMs} helpers ${helpersMs} server ${allServerMs}`,
  );
  await flood?.stop();
} finally {
  await client.close();
  await server.stop();
}

/** `count` messages of SIZE from `client` to itself; returns how many arrived (all of them). */
async function warm(client: Awaited<ReturnType<typeof connect>>, count: number): Promise<number> {
  let received = 0;
  const sub = client.subscribe('bench.warm', { callback: () => received++ });
  await client.flush();
  const payload = new Uint8Array(SIZE).fill(0x61);
  for (let i = 0; i < count; i++) {
    if (!client.publish('bench.warm', payload)) await client.writable();
  }
  await client.flush();
  while (received < count) await sleep(5);
  sub.unsubscribe();
  await client.flush();
  return received;
}
