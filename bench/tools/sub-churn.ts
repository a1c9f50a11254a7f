/**
 * Short-lived subscriptions, as a service makes them: `count` pairs of `subscribe()` and
 * `unsubscribe()` (no live subscription at any time) against a fresh local nats-server, then
 * one `flush()`. Each unsubscribe sends an UNSUB with a PING behind it (its fence), so this
 * times the worker's SUB/UNSUB path and its queue of PINGs awaiting PONGs. Prints one line:
 *
 *   pairs <count> loop <ms> flush <ms> [(the kind it rejected with)] heap <MB after the flush>
 *
 * For an A/B, give another build's entry as the second argument and alternate from the shell.
 *
 *   node dist/bench/tools/sub-churn.js 400000 [path/to/dist/src/main/index.js]
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startServer } from '../support/nats-server.js';

type Library = typeof import('../../src/main/index.js');

const [countText = '400000', entry] = process.argv.slice(2);
const count = Number(countText);
const library: Library = await import(
  entry === undefined ? '../../src/main/index.js' : pathToFileURL(resolve(entry)).href
);
const server = await startServer();
try {
  const client = await library.connect(server.url);
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const sub = client.subscribe(`churn.${i % 1000}`);
    await sub.unsubscribe();
  }
  const looped = performance.now();
  const flush = await client.flush().then(
    () => '',
    (error: { kind?: string }) => ` (${error.kind})`,
  );
  const flushed = performance.now();
  const heap = process.memoryUsage().heapUsed / 2 ** 20;
  console.log(
    `pairs ${count} loop ${(looped - start).toFixed(0)} flush ${(flushed - looped).toFixed(0)}${flush} heap ${heap.toFixed(0)}`,
  );
  await client.close();
} finally {
  await server.stop();
}
