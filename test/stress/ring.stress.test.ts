/**
 * Two real threads on one small ring, in both directions of use: the main thread produces and a
 * worker consumes (the command ring), then a worker produces and the main thread consumes (the
 * delivery ring). Both sides wait only with waitForData/waitForSpace (Atomics.waitAsync), so a
 * lost wake-up leaves both asleep; the watchdog then fails the test with the ring's state
 * instead of letting it hang. Roles live in ring-stress-worker.mjs, which runs the compiled ring.
 */
import { existsSync, statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  RING_CONSUMER_SLEEP,
  RING_PRODUCER_SLEEP,
  RING_READ,
  RING_WRITE,
} from '../../src/shared/layout.js';
import { createRingBuffers, type RingBuffers, wakeAll } from '../../src/shared/ring/byte-ring.js';

const RECORDS = 2_000_000;
const RING_CAPACITY = 64 * 1024;
/** No counter moving for this long means both sides sleep: a lost wake-up. */
const STALL_MS = 5_000;
const WATCHDOG_PERIOD_MS = 250;

type Role = (buffers: RingBuffers, stats: Int32Array, seed: number, count: number) => Promise<void>;

/** The exports of ring-stress-worker.mjs (plain JS, loaded without type information). */
interface StressModule {
  produce: Role;
  consume: Role;
  STAT_PRODUCED: number;
  STAT_CONSUMED: number;
  STAT_PRODUCER_WAITS: number;
  STAT_CONSUMER_WAITS: number;
  STAT_PRODUCER_ASLEEP: number;
  STAT_CONSUMER_ASLEEP: number;
  STAT_STOP: number;
  STATS_BYTES: number;
}

const workerUrl = new URL('./ring-stress-worker.mjs', import.meta.url);
let roles: StressModule;

beforeAll(async () => {
  // The worker side runs dist/; a stale build would test yesterday's ring.
  for (const name of ['byte-ring', 'ring-producer', 'ring-consumer', 'wake']) {
    const built = new URL(`../../dist/src/shared/ring/${name}.js`, import.meta.url);
    const source = new URL(`../../src/shared/ring/${name}.ts`, import.meta.url);
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(source).mtimeMs) {
      throw new Error(
        `dist/src/shared/ring/${name}.js is missing or older than its source: ` +
          'run `npx tsc -p tsconfig.build.json` (npm test does)',
      );
    }
  }
  roles = (await import(workerUrl.href)) as StressModule;
});

interface Outcome {
  seconds: number;
  produced: number;
  consumed: number;
  producerWaits: number;
  consumerWaits: number;
}

/** W, R, both sleep sequences and both sides' progress, for the stall report. */
function describeState(buffers: RingBuffers, stats: Int32Array): string {
  const header = new Int32Array(buffers.header);
  const u32 = (index: number): number => Atomics.load(header, index) >>> 0; // observes the slot
  const stat = (index: number): number => Atomics.load(stats, index); // observes the slot
  return [
    `W=${u32(RING_WRITE)} R=${u32(RING_READ)} used=${(u32(RING_WRITE) - u32(RING_READ)) >>> 0}`,
    `consumerSleep=${u32(RING_CONSUMER_SLEEP)} producerSleep=${u32(RING_PRODUCER_SLEEP)}`,
    `produced=${stat(roles.STAT_PRODUCED)} consumed=${stat(roles.STAT_CONSUMED)}`,
    `producerAsleep=${stat(roles.STAT_PRODUCER_ASLEEP)}`,
    `consumerAsleep=${stat(roles.STAT_CONSUMER_ASLEEP)}`,
    `producerWaits=${stat(roles.STAT_PRODUCER_WAITS)}`,
    `consumerWaits=${stat(roles.STAT_CONSUMER_WAITS)}`,
  ].join(', ');
}

/** Run one direction: `mainRole` here, the other role on a worker; settle when both finish. */
async function runDirection(mainRole: 'produce' | 'consume', seed: number): Promise<Outcome> {
  const buffers = createRingBuffers(RING_CAPACITY);
  const stats = new Int32Array(new SharedArrayBuffer(roles.STATS_BYTES));
  const worker = new Worker(workerUrl, {
    workerData: {
      ringStress: {
        role: mainRole === 'produce' ? 'consume' : 'produce',
        buffers,
        stats: stats.buffer,
        seed,
        count: RECORDS,
      },
    },
  });
  const workerDone = new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`stress worker exited with code ${code}`));
    });
  });
  let watchdog: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_resolve, reject) => {
    let last = '';
    let since = performance.now();
    watchdog = setInterval(() => {
      const state = describeState(buffers, stats);
      const now = performance.now();
      if (state !== last) {
        last = state;
        since = now;
      } else if (now - since > STALL_MS) {
        reject(new Error(`ring stress made no progress for ${STALL_MS} ms: ${state}`));
      }
    }, WATCHDOG_PERIOD_MS);
  });
  const started = performance.now();
  try {
    await Promise.race([
      Promise.all([roles[mainRole](buffers, stats, seed, RECORDS), workerDone]),
      stalled,
    ]);
  } catch (err) {
    // Let this thread's role return instead of waiting forever on a ring nobody serves.
    Atomics.store(stats, roles.STAT_STOP, 1); // publishes the give-up request to both roles
    wakeAll(buffers);
    throw err;
  } finally {
    clearInterval(watchdog);
    await worker.terminate();
  }
  return {
    seconds: (performance.now() - started) / 1000,
    produced: Atomics.load(stats, roles.STAT_PRODUCED), // observes the final count
    consumed: Atomics.load(stats, roles.STAT_CONSUMED), // observes the final count
    producerWaits: Atomics.load(stats, roles.STAT_PRODUCER_WAITS), // observes the wait count
    consumerWaits: Atomics.load(stats, roles.STAT_CONSUMER_WAITS), // observes the wait count
  };
}

function report(name: string, outcome: Outcome): void {
  const rate = (outcome.consumed / outcome.seconds / 1e6).toFixed(2);
  console.info(
    `ring stress ${name}: ${outcome.consumed} records in ${outcome.seconds.toFixed(2)} s ` +
      `(${rate} M frames/s, info only); producer waits ${outcome.producerWaits}, ` +
      `consumer waits ${outcome.consumerWaits}`,
  );
}

describe('byte ring across two threads', () => {
  it('main thread produces, worker consumes', { timeout: 60_000 }, async () => {
    const outcome = await runDirection('produce', 0xc0ffee);
    report('main → worker', outcome);
    expect(outcome.produced).toBe(RECORDS);
    expect(outcome.consumed).toBe(RECORDS);
    // Both wake paths were exercised, not only the fast path.
    expect(outcome.producerWaits).toBeGreaterThan(0);
    expect(outcome.consumerWaits).toBeGreaterThan(0);
  });

  it('worker produces, main thread consumes', { timeout: 60_000 }, async () => {
    const outcome = await runDirection('consume', 0x5eed5);
    report('worker → main', outcome);
    expect(outcome.produced).toBe(RECORDS);
    expect(outcome.consumed).toBe(RECORDS);
    expect(outcome.producerWaits).toBeGreaterThan(0);
    expect(outcome.consumerWaits).toBeGreaterThan(0);
  });
});
