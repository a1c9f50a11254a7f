/**
 * What the two thread hops of a request cost on this host, alone: the main thread and a worker
 * pass a token back and forth through one SharedArrayBuffer word, each side sleeping as the
 * client's does between a request and its reply, and each round trip is timed on the main
 * thread. No socket, no server: what is left is the wake-ups themselves (on a VM, an idle vCPU's
 * halt and its wake).
 *
 *   worker waits with   `waitAsync` in its event loop (nats-offload's worker: it owns a socket)
 *                       or `wait` (Atomics.wait, a blocked thread: MECHANICS.md's figure)
 *   main waits with     `waitAsync` (nats-offload's dispatcher)
 *
 * Prints the p50 / p90 round trip of each worker mode, in turns of `--count` round trips, and
 * the waker's part of a hop: how long the main thread's `Atomics.notify` that wakes the worker
 * takes (a notify that finds no waiter takes ~1 µs; one that wakes a sleeping thread makes
 * the kernel wake it, on a VM through the host, and may hand the waker's core to it):
 *
 *   node dist/bench/tools/hop-cost.js [--rounds 10] [--count 2000]
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { median, percentile } from '../stats.js';
import { takeNumber } from './tool-args.js';

/** Word 0: the token's round; word 1: 1 while the worker should run. */
const TOKEN = 0;
const RUNNING = 1;
type Mode = 'waitAsync' | 'wait';
const waitAsync = (
  Atomics as unknown as {
    waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: unknown };
  }
).waitAsync;

if (isMainThread) await main();
else await echo(workerData.words as Int32Array, workerData.mode as Mode);

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const rounds = takeNumber(args, '--rounds', 10);
  const count = takeNumber(args, '--count', 2000);
  if (!(rounds > 0) || !(count > 0) || args.length > 0) {
    throw new Error('usage: hop-cost.js [--rounds N] [--count N]');
  }
  const modes: Mode[] = ['waitAsync', 'wait'];
  const stats = new Map(
    modes.map((m) => [
      m,
      {
        p50: [] as number[],
        p90: [] as number[],
        notifyP50: [] as number[],
        notifyP90: [] as number[],
      },
    ]),
  );
  for (let round = 0; round < rounds; round++) {
    for (const mode of round % 2 === 0 ? modes : [...modes].reverse()) {
      const { trips, notifies } = await turn(mode, count);
      const s = stats.get(mode);
      s?.p50.push(percentile(trips, 50) * 1000);
      s?.p90.push(percentile(trips, 90) * 1000);
      s?.notifyP50.push(percentile(notifies, 50) * 1000);
      s?.notifyP90.push(percentile(notifies, 90) * 1000);
    }
  }
  console.log(`${rounds} rounds of ${count} round trips main ⇄ worker (main: waitAsync), µs`);
  for (const [mode, s] of stats) {
    const [p50, p90, n50, n90] = [s.p50, s.p90, s.notifyP50, s.notifyP90].map((list) =>
      median(list).toFixed(1),
    );
    console.log(`worker ${mode}: p50 ${p50}, p90 ${p90}; main's notify p50 ${n50}, p90 ${n90}`);
  }
}

/**
 * `count` round trips through a fresh worker: their times and those of the main thread's
 * notify in each, in ms, sorted.
 */
async function turn(
  mode: Mode,
  count: number,
): Promise<{ trips: Float64Array; notifies: Float64Array }> {
  const words = new Int32Array(new SharedArrayBuffer(8));
  words[RUNNING] = 1;
  const worker = new Worker(new URL(import.meta.url), { workerData: { words, mode } });
  await new Promise((resolve) => worker.once('message', resolve));
  const WARMUP = 200;
  const trips = new Float64Array(count);
  const notifies = new Float64Array(count);
  for (let i = 0; i < WARMUP + count; i++) {
    const start = performance.now();
    const sent = 2 * i + 1;
    Atomics.store(words, TOKEN, sent);
    Atomics.notify(words, TOKEN, 1);
    const notified = performance.now();
    while (Atomics.load(words, TOKEN) === sent) {
      const result = waitAsync(words, TOKEN, sent);
      if (result.async) await result.value;
    }
    if (i >= WARMUP) {
      trips[i - WARMUP] = performance.now() - start;
      notifies[i - WARMUP] = notified - start;
    }
  }
  Atomics.store(words, RUNNING, 0);
  Atomics.store(words, TOKEN, -1);
  Atomics.notify(words, TOKEN, 1);
  await worker.terminate();
  return { trips: trips.sort(), notifies: notifies.sort() };
}

/** The worker: answers each odd token with the next even one. */
async function echo(words: Int32Array, mode: Mode): Promise<void> {
  // An open handle, as the client's worker has its socket: the event loop idles in epoll.
  const keepAlive = setInterval(() => {}, 1 << 30);
  parentPort?.postMessage('ready');
  let seen = 0;
  while (Atomics.load(words, RUNNING) === 1) {
    const now = Atomics.load(words, TOKEN);
    if (now !== seen && now % 2 === 1) {
      seen = now + 1;
      Atomics.store(words, TOKEN, seen);
      Atomics.notify(words, TOKEN, 1);
      continue;
    }
    if (mode === 'wait') Atomics.wait(words, TOKEN, now);
    else {
      const result = waitAsync(words, TOKEN, now);
      if (result.async) await result.value;
    }
  }
  clearInterval(keepAlive);
}
