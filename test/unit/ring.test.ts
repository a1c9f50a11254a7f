import { afterEach, describe, expect, it, vi } from 'vitest';
import { NatsError } from '../../src/shared/errors.js';
import {
  DEFAULT_RING_CAPACITY,
  maxRecordBody,
  RING_CONSUMER_SLEEP,
  RING_HEADER_BYTES,
  RING_PRODUCER_SLEEP,
  RING_READ,
  RING_WRITE,
  WRAP_MARKER,
} from '../../src/shared/layout.js';
import { createRingBuffers, type RingBuffers, wakeAll } from '../../src/shared/ring/byte-ring.js';
import { RingConsumer } from '../../src/shared/ring/ring-consumer.js';
import { RingProducer } from '../../src/shared/ring/ring-producer.js';

const CAP = 1024;
const CANARY = 0xa5;

interface Ring {
  buffers: RingBuffers;
  header: Int32Array;
  producer: RingProducer;
  consumer: RingConsumer;
}

/** A fresh ring whose W and R both start at `start` (written into the header before attaching). */
function makeRing(capacity = CAP, start = 0): Ring {
  const buffers = createRingBuffers(capacity);
  const header = new Int32Array(buffers.header);
  header[RING_WRITE] = start | 0;
  header[RING_READ] = start | 0;
  return {
    buffers,
    header,
    producer: new RingProducer(buffers),
    consumer: new RingConsumer(buffers),
  };
}

/** xorshift32: small, seeded, and the same sequence on every run. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

function put(producer: RingProducer, body: Uint8Array): number {
  const off = producer.reserve(body.length);
  if (off >= 0) {
    producer.bytes.set(body, off);
    producer.commit();
  }
  return off;
}

function take(consumer: RingConsumer): Uint8Array | undefined {
  const off = consumer.next();
  if (off < 0) return undefined;
  const body = consumer.bytes.slice(off, off + consumer.length);
  consumer.advance();
  return body;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function bodyOf(length: number, fill: number): Uint8Array {
  return new Uint8Array(length).fill(fill);
}

/** Whether `p` settles within a few event-loop turns (nothing else could settle it later). */
async function settlesSoon(p: Promise<void>): Promise<boolean> {
  let settled = false;
  void p.then(() => {
    settled = true;
  });
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

/** Move both counters to `to` (mod capacity) by writing and consuming filler records. */
function skipTo(ring: Ring, to: number): void {
  while ((Atomics.load(ring.header, RING_WRITE) & (CAP - 1)) !== to) {
    const at = Atomics.load(ring.header, RING_WRITE) & (CAP - 1);
    const gap = at < to ? to - at : CAP - at;
    expect(put(ring.producer, bodyOf(Math.min(gap, 128) - 4, 1))).toBeGreaterThanOrEqual(0);
    ring.producer.publish();
    expect(take(ring.consumer)).toBeDefined();
    ring.consumer.release();
  }
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('createRingBuffers', () => {
  it('defaults to DEFAULT_RING_CAPACITY and a zeroed header', () => {
    const buffers = createRingBuffers();
    expect(buffers.data.byteLength).toBe(DEFAULT_RING_CAPACITY);
    expect(buffers.header.byteLength).toBe(RING_HEADER_BYTES);
    expect(new RingProducer(buffers).maxBody).toBe(maxRecordBody(DEFAULT_RING_CAPACITY));
  });

  it.each([0, 512, 1000, 3000, 1024.5, Number.NaN])('rejects capacity %s', (capacity) => {
    expect(() => createRingBuffers(capacity)).toThrow(NatsError);
    try {
      createRingBuffers(capacity);
    } catch (err) {
      expect((err as NatsError).kind).toBe('invalidArgument');
    }
  });
});

describe('records', () => {
  it('is empty at first', () => {
    const { producer, consumer } = makeRing();
    expect(consumer.next()).toBe(-1);
    expect(producer.usedBytes()).toBe(0);
    expect(producer.hasUnpublished).toBe(false);
  });

  it('fills exactly and refuses the next record', () => {
    const { producer, consumer } = makeRing();
    for (let i = 0; i < CAP / 16; i++) expect(put(producer, bodyOf(12, i))).toBe(i * 16 + 4);
    expect(producer.reserve(0)).toBe(-1);
    expect(producer.usedBytes()).toBe(CAP);
    producer.publish();
    for (let i = 0; i < CAP / 16; i++) expect(take(consumer)).toEqual(bodyOf(12, i));
    expect(consumer.next()).toBe(-1);
  });

  it('places a record that fits exactly at the end without a wrap marker', () => {
    const ring = makeRing();
    skipTo(ring, CAP - 16);
    const { producer, consumer } = ring;
    expect(put(producer, bodyOf(12, 7))).toBe(CAP - 12);
    expect(put(producer, bodyOf(12, 8))).toBe(4);
    expect(producer.view.getUint32(CAP - 16, true)).toBe(12);
    producer.publish();
    expect(take(consumer)).toEqual(bodyOf(12, 7));
    expect(take(consumer)).toEqual(bodyOf(12, 8));
  });

  it('writes a wrap marker when a record does not fit before the end', () => {
    const ring = makeRing();
    skipTo(ring, CAP - 16);
    const { producer, consumer } = ring;
    expect(put(producer, bodyOf(13, 9))).toBe(4);
    expect(producer.view.getUint32(CAP - 16, true)).toBe(WRAP_MARKER);
    expect(producer.usedBytes()).toBe(16 + 20);
    producer.publish();
    expect(take(consumer)).toEqual(bodyOf(13, 9));
    expect(consumer.next()).toBe(-1);
  });

  it('accepts a body of exactly maxBody, also when it has to wrap', () => {
    const ring = makeRing(CAP, 520);
    const { producer, consumer } = ring;
    expect(producer.maxBody).toBe(CAP / 2 - 4);
    expect(put(producer, bodyOf(producer.maxBody, 3))).toBe(4);
    expect(producer.usedBytes()).toBe(CAP - 520 + CAP / 2);
    expect(producer.reserve(8)).toBe(-1); // 8 bytes left, a 12-byte record
    producer.publish();
    expect(take(consumer)).toEqual(bodyOf(producer.maxBody, 3));
    consumer.release();
    expect(put(producer, bodyOf(producer.maxBody, 4))).toBe(CAP / 2 + 4);
  });

  it.each([maxRecordBody(CAP) + 1, -1, 1.5, Number.NaN])(
    'throws invalidArgument for body length %s',
    (length) => {
      const { producer } = makeRing();
      expect(() => producer.reserve(length)).toThrow(
        expect.objectContaining({ name: 'NatsError', kind: 'invalidArgument' }),
      );
    },
  );

  it('throws invalidArgument for commit() without reserve() and advance() without next()', () => {
    const { producer, consumer } = makeRing();
    expect(() => producer.commit()).toThrow(expect.objectContaining({ kind: 'invalidArgument' }));
    expect(() => consumer.advance()).toThrow(expect.objectContaining({ kind: 'invalidArgument' }));
  });

  it('hides committed records until publish()', () => {
    const { producer, consumer } = makeRing();
    put(producer, bodyOf(5, 1));
    expect(producer.hasUnpublished).toBe(true);
    expect(consumer.next()).toBe(-1);
    producer.publish();
    expect(producer.hasUnpublished).toBe(false);
    expect(take(consumer)).toEqual(bodyOf(5, 1));
  });

  it('makes space reusable only after release()', () => {
    const { producer, consumer } = makeRing();
    while (put(producer, bodyOf(60, 2)) >= 0);
    producer.publish();
    expect(take(consumer)).toEqual(bodyOf(60, 2));
    expect(producer.reserve(60)).toBe(-1);
    consumer.release();
    expect(put(producer, bodyOf(60, 5))).toBeGreaterThanOrEqual(0);
  });
});

describe('room and a shorter commit', () => {
  it('commits fewer bytes than reserved: one record of those bytes, the next right after it', () => {
    const { producer, consumer } = makeRing();
    const body = producer.reserve(100);
    producer.bytes.set(bodyOf(5, 1), body);
    expect(() => producer.commit(101)).toThrow(
      expect.objectContaining({ kind: 'invalidArgument' }),
    );
    producer.commit(5);
    producer.publish();
    const got = take(consumer);
    expect(got && [...got]).toEqual([1, 1, 1, 1, 1]);
    expect(take(consumer)).toBeUndefined();
    // The next record starts after the 5 bytes committed, aligned, not after the 100 reserved.
    expect(put(producer, bodyOf(4, 9))).toBe(body + 8 + 4);
  });

  it('gives up to what is wanted, short of the end of the data and of the released space', () => {
    const ring = makeRing();
    const { producer, consumer } = ring;
    expect(producer.room(100)).toBe(100);
    expect(producer.room(CAP)).toBe(producer.maxBody);
    skipTo(ring, CAP - 64);
    expect(producer.room(100)).toBe(60); // ends exactly at the end of the data
    const at = producer.nextBody();
    expect(producer.reserve(producer.room(100))).toBe(at); // no wrap
    producer.commit();
    producer.publish();
    while (take(consumer)) consumer.release();

    put(producer, bodyOf(CAP / 2 - 4, 1)); // [0, CAP / 2)
    producer.publish();
    take(consumer);
    consumer.release(); // R = CAP / 2
    put(producer, bodyOf(CAP / 2 - 24, 2)); // [CAP / 2, CAP - 20), not yet consumed
    producer.publish();
    put(producer, bodyOf(40, 3)); // wraps to [0, 44)
    producer.publish();
    expect(producer.room(CAP)).toBe(CAP / 2 - 44 - 4); // from the wrapped record up to R
    take(consumer);
    take(consumer);
    consumer.release();
    expect(producer.room(CAP)).toBe(producer.maxBody); // R loaded again
  });
});

describe('canaries', () => {
  it('writes only the length word and, on wrap, the marker word', () => {
    const ring = makeRing();
    skipTo(ring, CAP - 16);
    const { producer, consumer, header } = ring;
    producer.bytes.fill(CANARY);
    const a = put(producer, bodyOf(5, 0x11));
    const b = put(producer, bodyOf(9, 0x22));
    producer.publish();
    expect(take(consumer)).toEqual(bodyOf(5, 0x11));
    expect(take(consumer)).toEqual(bodyOf(9, 0x22));
    consumer.release();
    // a: length word + 5 body bytes at CAP-16; b does not fit in the 4 bytes left, so the marker
    // goes at CAP-4 and b starts at 0.
    expect([a, b]).toEqual([CAP - 12, 4]);
    expect(producer.view.getUint32(CAP - 4, true)).toBe(WRAP_MARKER);
    const written = new Set<number>();
    for (const [from, to] of [
      [a - 4, a + 5],
      [b - 4, b + 9],
      [CAP - 4, CAP],
    ]) {
      for (let i = from; i < to; i++) written.add(i);
    }
    for (let i = 0; i < CAP; i++) {
      if (!written.has(i)) expect(producer.bytes[i], `byte ${i}`).toBe(CANARY);
    }
    for (let i = 0; i < header.length; i++) {
      if (![RING_WRITE, RING_READ, RING_CONSUMER_SLEEP, RING_PRODUCER_SLEEP].includes(i)) {
        expect(header[i], `header word ${i}`).toBe(0);
      }
    }
  });
});

describe('random traffic', () => {
  it.each([
    ['zero', 0],
    ['near 2^31', 0x7fffff00],
    ['near 2^32', 0xffffff00],
  ])('keeps order and content across many wrap-arounds, counters starting %s', (_name, start) => {
    const ring = makeRing(CAP, start);
    const { producer, consumer, header } = ring;
    const rnd = prng(0x5eed + start);
    const pending: Uint8Array[] = [];
    let publishedCount = 0;
    let consumed = 0;
    let bytesMoved = 0;
    for (let step = 0; step < 20_000; step++) {
      const r = rnd();
      if ((r & 3) !== 0) {
        const big = (r >>> 2) % 64 === 0;
        const length = big ? (r >>> 8) % (producer.maxBody + 1) : (r >>> 8) % 61;
        const body = new Uint8Array(length);
        for (let i = 0; i < length; i++) body[i] = rnd();
        if (put(producer, body) >= 0) pending.push(body);
        if (r >>> 30 !== 0) {
          producer.publish();
          publishedCount = pending.length;
        }
      } else {
        for (let n = (r >>> 2) % 8; n > 0; n--) {
          const got = take(consumer);
          if (got === undefined) break;
          // expect() only on failure: thousands of matcher calls would dominate the run time.
          if (consumed >= publishedCount) expect.fail(`record ${consumed} seen before publish()`);
          if (!sameBytes(got, pending[consumed])) expect(got).toEqual(pending[consumed]);
          bytesMoved += got.length;
          consumed++;
        }
        if (r >>> 31 !== 0) consumer.release();
      }
    }
    expect(consumed).toBeGreaterThan(5_000);
    expect(bytesMoved).toBeGreaterThan(100 * CAP);
    if (start !== 0) {
      // The counters went past the int32/uint32 boundary and kept working.
      const w = Atomics.load(header, RING_WRITE) >>> 0;
      expect((w - start) >>> 0).toBeGreaterThan(0x100);
      expect(w < start).toBe(start === 0xffffff00);
    }
  });
});

describe('waiting', () => {
  it('waitForData: undefined when a record is there, else resolves on publish()', async () => {
    const { producer, consumer, header } = makeRing();
    put(producer, bodyOf(1, 1));
    producer.publish();
    expect(consumer.waitForData()).toBeUndefined();
    take(consumer);
    const wait = consumer.waitForData();
    expect(wait).toBeInstanceOf(Promise);
    expect(header[RING_READ]).toBe(8); // released before sleeping
    expect(header[RING_CONSUMER_SLEEP] & 1).toBe(1);
    expect(consumer.waitForData()).toBe(wait); // one armed wait, one round
    expect(await settlesSoon(wait as Promise<void>)).toBe(false);
    put(producer, bodyOf(2, 2));
    producer.publish();
    await wait;
    expect(header[RING_CONSUMER_SLEEP]).toBe(2);
    expect(take(consumer)).toEqual(bodyOf(2, 2));
  });

  it('waitForSpace: undefined if R moved since the full check, else awaits release', async () => {
    const { producer, consumer, header } = makeRing();
    while (put(producer, bodyOf(100, 1)) >= 0);
    producer.publish();
    take(consumer);
    consumer.release();
    expect(producer.waitForSpace()).toBeUndefined();
    while (put(producer, bodyOf(100, 1)) >= 0);
    const wait = producer.waitForSpace();
    expect(wait).toBeInstanceOf(Promise);
    expect(header[RING_PRODUCER_SLEEP] & 1).toBe(1);
    expect(await settlesSoon(wait as Promise<void>)).toBe(false);
    take(consumer);
    consumer.release();
    await wait;
    expect(header[RING_PRODUCER_SLEEP]).toBe(2);
    expect(put(producer, bodyOf(100, 1))).toBeGreaterThanOrEqual(0);
  });

  it('waitForSpace publishes committed records so the consumer can free space', async () => {
    const { producer, consumer } = makeRing();
    while (put(producer, bodyOf(100, 6)) >= 0);
    expect(consumer.next()).toBe(-1);
    const wait = producer.waitForSpace();
    expect(take(consumer)).toEqual(bodyOf(100, 6));
    consumer.release();
    await wait;
  });

  it('wakeAll resolves pending waits on both counters', async () => {
    const { buffers, producer, consumer } = makeRing();
    const data = consumer.waitForData();
    const space = producer.waitForSpace(); // R has not moved, so it sleeps
    expect(data).toBeInstanceOf(Promise);
    expect(space).toBeInstanceOf(Promise);
    wakeAll(buffers);
    await Promise.all([data, space]);
  });

  it('notifies once per sleep round and only when notify() confirmed a waiter', async () => {
    const { producer, consumer, header } = makeRing();
    const notify = vi.spyOn(Atomics, 'notify');
    put(producer, bodyOf(1, 1));
    producer.publish();
    expect(notify).not.toHaveBeenCalled(); // consumer awake (even sequence)

    take(consumer);
    const wait = consumer.waitForData();
    put(producer, bodyOf(1, 2));
    producer.publish();
    expect(notify).toHaveBeenCalledTimes(1);
    expect(notify.mock.results[0].value).toBe(1);
    put(producer, bodyOf(1, 3));
    producer.publish(); // same round, already woken: deduplicated
    expect(notify).toHaveBeenCalledTimes(1);
    await wait;

    // An odd sequence with nobody waiting: notify() returns 0, so nothing is deduplicated.
    Atomics.add(header, RING_CONSUMER_SLEEP, 1);
    put(producer, bodyOf(1, 4));
    producer.publish();
    put(producer, bodyOf(1, 5));
    producer.publish();
    expect(notify).toHaveBeenCalledTimes(3);
    expect(notify.mock.results[2].value).toBe(0);
  });
});

describe('contiguousEnd', () => {
  it('ends at W, or at the end of the data when W lies past a wrap', () => {
    const buffers = createRingBuffers(1024);
    const producer = new RingProducer(buffers);
    const consumer = new RingConsumer(buffers);
    const put = (length: number) => {
      const off = producer.reserve(length);
      producer.commit();
      producer.publish();
      return off;
    };
    put(300); // record [0, 304)
    put(300); // record [304, 608)
    expect(consumer.next()).toBe(4);
    expect(consumer.contiguousEnd()).toBe(608);
    consumer.advance();
    consumer.next();
    consumer.advance();
    consumer.release();
    put(300); // [608, 912)
    put(300); // does not fit before 1024: wrap marker at 912, record at [0, 304)
    expect(consumer.next()).toBe(612);
    expect(consumer.contiguousEnd()).toBe(1024);
  });
});

describe('consume', () => {
  it('takes several whole records at once, then next() and release() go on from there', () => {
    const { producer, consumer } = makeRing();
    put(producer, bodyOf(10, 1)); // record [0, 16)
    put(producer, bodyOf(20, 2)); // [16, 40)
    put(producer, bodyOf(3, 3)); // [40, 48)
    producer.publish();
    expect(() => consumer.consume(16)).toThrow(NatsError); // no record from next() yet
    expect(consumer.next()).toBe(4);
    consumer.consume(40);
    const third = take(consumer);
    expect(third && [...third]).toEqual([3, 3, 3]);
    consumer.release();
    expect(producer.usedBytes()).toBe(0);
  });

  it('stops before a wrap marker, and next() then continues at offset 0', () => {
    const { producer, consumer } = makeRing();
    put(producer, bodyOf(500, 1)); // [0, 504)
    producer.publish();
    take(consumer);
    consumer.release();
    put(producer, bodyOf(496, 2)); // [504, 1004)
    put(producer, bodyOf(40, 3)); // marker at 1004, record at [0, 44)
    producer.publish();
    expect(consumer.next()).toBe(508);
    expect(consumer.contiguousEnd()).toBe(CAP);
    consumer.consume(500); // up to the marker
    expect(consumer.next()).toBe(4);
    expect(consumer.length).toBe(40);
  });
});
