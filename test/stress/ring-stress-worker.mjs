/**
 * Both roles of the two-thread ring stress test (ring.stress.test.ts), written once: the test
 * imports this module to run one role on the main thread, and starts it as a Worker entry to
 * run the other role there. Plain JavaScript because worker_threads cannot load .ts; it uses
 * the compiled ring, so build first (`npx tsc -p tsconfig.build.json`; `npm test` does).
 *
 * Records: body = u32 sequence number (LE) | payload. Producer and consumer each run the same
 * seeded "content" PRNG in lockstep: per record it gives the payload length and the seed of the
 * payload bytes, so the consumer can check every byte, the length and the order. Each side has
 * its own "schedule" PRNG for batch sizes, bursts and pauses, so timing never shifts content.
 *
 * Stats block (Int32Array over a SharedArrayBuffer of STATS_BYTES; one writer per slot):
 *
 *   [STAT_PRODUCED]         records published                       writer: producer
 *   [STAT_CONSUMED]         records verified and released           writer: consumer
 *   [STAT_PRODUCER_WAITS]   waitForSpace promises awaited           writer: producer
 *   [STAT_CONSUMER_WAITS]   waitForData promises awaited            writer: consumer
 *   [STAT_PRODUCER_ASLEEP]  1 while awaiting waitForSpace           writer: producer
 *   [STAT_CONSUMER_ASLEEP]  1 while awaiting waitForData            writer: consumer
 *   [STAT_STOP]             1 = give up after the next wake-up      writer: test (on failure)
 */
import { isMainThread, workerData } from 'node:worker_threads';
import { RingConsumer } from '../../dist/src/shared/ring/ring-consumer.js';
import { RingProducer } from '../../dist/src/shared/ring/ring-producer.js';

export const STAT_PRODUCED = 0;
export const STAT_CONSUMED = 1;
export const STAT_PRODUCER_WAITS = 2;
export const STAT_CONSUMER_WAITS = 3;
export const STAT_PRODUCER_ASLEEP = 4;
export const STAT_CONSUMER_ASLEEP = 5;
export const STAT_STOP = 6;
export const STATS_BYTES = 7 * 4;

const SEQ_BYTES = 4;
/** Records between event-loop turns, like the real pumps' drain slices (MECHANICS C.2). */
const SLICE = 4096;

/** xorshift32 over int32 state: seeded, cheap, identical on both threads. */
class Prng {
  constructor(seed) {
    this.s = seed | 0 || 1;
  }

  next() {
    let s = this.s;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.s = s;
    return s >>> 0;
  }
}

/** Payload bytes of the next record: mostly 0..300, 1 in 256 large (1–4 KiB). */
function payloadLength(content) {
  const r = content.next();
  return (r & 255) === 0 ? 1024 + ((r >>> 8) % 3073) : (r >>> 8) % 301;
}

/** Fill `n` bytes at `at` from an xorshift stream seeded with `seed`, four bytes per step. */
function fillPayload(bytes, at, n, seed) {
  let s = seed | 0 || 1;
  for (let i = 0; i < n; i += 4) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const end = Math.min(i + 4, n);
    for (let j = i, v = s; j < end; j++, v >>>= 8) bytes[at + j] = v;
  }
}

/** Index of the first payload byte that differs from fillPayload's stream, or -1. */
function checkPayload(bytes, at, n, seed) {
  let s = seed | 0 || 1;
  for (let i = 0; i < n; i += 4) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const end = Math.min(i + 4, n);
    for (let j = i, v = s; j < end; j++, v >>>= 8) if (bytes[at + j] !== (v & 255)) return j;
  }
  return -1;
}

/** Keep this thread busy for a while, as a blocked main thread or a slow socket would. */
function spin(microseconds) {
  const until = performance.now() + microseconds / 1000;
  while (performance.now() < until);
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

function stopped(stats) {
  return Atomics.load(stats, STAT_STOP) !== 0; // observes the test's give-up request
}

/**
 * Produce `count` records. Batches of 1–64 records are published at once; 1 batch in 64 is a
 * burst of 4–8 K records published only when the ring is full, so this side waits for space,
 * and 1 in 256 is a trickle of single-record publishes.
 */
export async function produce(buffers, stats, seed, count) {
  const ring = new RingProducer(buffers);
  const { bytes, view } = ring;
  const content = new Prng(seed);
  const schedule = new Prng(seed ^ 0x9e3779b9);
  let seq = 0;
  let sinceTurn = 0;
  while (seq < count) {
    const s = schedule.next();
    const mode = s & 255;
    const burst = mode < 4;
    // A trickle publishes every record alone after a few microseconds, so the consumer keeps
    // finding the ring empty: many sleep/wake rounds, each a chance to lose a wake-up.
    const trickle = mode === 255;
    const batch = burst ? 4096 + (s >>> 20) : trickle ? 256 + (s >>> 22) : 1 + ((s >>> 8) & 63);
    for (let i = 0; i < batch && seq < count; i++) {
      const length = SEQ_BYTES + payloadLength(content);
      const fill = content.next();
      let off = ring.reserve(length);
      while (off < 0) {
        const wait = ring.waitForSpace();
        if (wait !== undefined) {
          Atomics.store(stats, STAT_PRODUCED, seq); // publishes progress (waitForSpace published)
          Atomics.add(stats, STAT_PRODUCER_WAITS, 1); // publishes a wait count (info)
          Atomics.store(stats, STAT_PRODUCER_ASLEEP, 1); // publishes "asleep" for the watchdog
          await wait;
          Atomics.store(stats, STAT_PRODUCER_ASLEEP, 0); // publishes "awake"
          if (stopped(stats)) return;
          sinceTurn = 0;
        }
        off = ring.reserve(length);
      }
      view.setUint32(off, seq, true);
      fillPayload(bytes, off + SEQ_BYTES, length - SEQ_BYTES, fill);
      ring.commit();
      seq++;
      if (trickle) {
        ring.publish();
        spin((s >>> 8) & 7);
      }
    }
    ring.publish();
    Atomics.store(stats, STAT_PRODUCED, seq); // publishes progress for the watchdog
    // Pauses let the consumer drain the ring and go to sleep: many short ones (a turn of the
    // event loop) for many sleep/wake rounds, and a few long ones.
    const p = schedule.next();
    if ((p & 255) === 0) spin(50 + ((p >>> 8) % 450));
    sinceTurn += batch;
    if (sinceTurn >= SLICE || p >>> 29 === 0) {
      sinceTurn = 0;
      await nextTurn();
    }
  }
}

/**
 * Consume and verify `count` records, releasing space once per slice of 1–4096 records and
 * pausing now and then, so the producer finds the ring full.
 */
export async function consume(buffers, stats, seed, count) {
  const ring = new RingConsumer(buffers);
  const { bytes, view } = ring;
  const content = new Prng(seed);
  const schedule = new Prng(seed ^ 0x85ebca6b);
  let seq = 0;
  let slice = 1;
  let sinceTurn = 0;
  while (seq < count) {
    const off = ring.next();
    if (off < 0) {
      Atomics.store(stats, STAT_CONSUMED, seq); // publishes progress for the watchdog
      const wait = ring.waitForData();
      if (wait !== undefined) {
        Atomics.add(stats, STAT_CONSUMER_WAITS, 1); // publishes a wait count (info)
        Atomics.store(stats, STAT_CONSUMER_ASLEEP, 1); // publishes "asleep" for the watchdog
        await wait;
        Atomics.store(stats, STAT_CONSUMER_ASLEEP, 0); // publishes "awake"
        if (stopped(stats)) return;
        sinceTurn = 0;
      }
      continue;
    }
    const length = SEQ_BYTES + payloadLength(content);
    const fill = content.next();
    const got = ring.length >= SEQ_BYTES ? view.getUint32(off, true) : -1;
    if (got !== seq || ring.length !== length) {
      throw new Error(
        `record ${seq}: got sequence ${got} with ${ring.length} bytes, expected ${length} bytes`,
      );
    }
    const bad = checkPayload(bytes, off + SEQ_BYTES, length - SEQ_BYTES, fill);
    if (bad >= 0)
      throw new Error(`record ${seq}: payload byte ${bad} of ${length - SEQ_BYTES} differs`);
    ring.advance();
    seq++;
    if (--slice === 0) {
      ring.release();
      Atomics.store(stats, STAT_CONSUMED, seq); // publishes progress for the watchdog
      const s = schedule.next();
      slice = (s & 7) === 0 ? 1 + (s % 4096) : 1 + ((s >>> 3) & 255);
      if (s >>> 24 === 0) spin(50 + ((s >>> 12) % 950));
    }
    if (++sinceTurn >= SLICE) {
      sinceTurn = 0;
      await nextTurn();
    }
  }
  ring.release();
  Atomics.store(stats, STAT_CONSUMED, seq); // publishes the final count
}

if (!isMainThread && workerData?.ringStress !== undefined) {
  const { role, buffers, stats, seed, count } = workerData.ringStress;
  // A pending Atomics.waitAsync keeps no thread alive; this handle stands in for the socket
  // that keeps the real connection worker alive while it waits.
  const keepAlive = setInterval(() => {}, 1 << 30);
  try {
    await (role === 'produce' ? produce : consume)(buffers, new Int32Array(stats), seed, count);
  } finally {
    clearInterval(keepAlive);
  }
}
