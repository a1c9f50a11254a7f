import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRingBuffers, RingConsumer, RingProducer } from '../../src/shared/ring/byte-ring.js';
import { Backlog } from '../../src/worker/backlog.js';
import { newSubscription, type Subscription } from '../../src/worker/subscriptions.js';

function subscription(sid: number): Subscription {
  return newSubscription(sid, 's', undefined);
}

/** Body `i` of `length` bytes: a pattern that differs from frame to frame. */
function body(i: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let k = 0; k < length; k++) bytes[k] = (i * 31 + k) & 0xff;
  return bytes;
}

/** Whether the record at `off` is body `i` (compared natively: these run to 400 KB). */
function isBody(consumer: RingConsumer, off: number, i: number, length: number): boolean {
  return (
    consumer.length === length &&
    Buffer.compare(consumer.bytes.subarray(off, off + length), body(i, length)) === 0
  );
}

describe('Backlog', () => {
  it('hands frames to the ring in order, whole, across slabs and ring wraps', () => {
    fc.assert(
      fc.property(
        // Mostly small frames, some larger than a slab (256 KiB), all within the ring's limit.
        fc.array(fc.oneof(fc.nat(400), fc.integer({ min: 200_000, max: 400_000 })), {
          minLength: 1,
          maxLength: 60,
        }),
        fc.integer({ min: 1, max: 8 }),
        (lengths, drainEvery) => {
          const buffers = createRingBuffers(1 << 20);
          const ring = new RingProducer(buffers);
          const consumer = new RingConsumer(buffers);
          const backlog = new Backlog();
          const subs = lengths.map((_, i) => (i % 3 === 0 ? null : subscription(i)));
          lengths.forEach((length, i) => {
            const off = backlog.reserve(length);
            backlog.target.bytes.set(body(i, length), off);
            backlog.commit(subs[i]);
          });
          expect(backlog.length).toBe(lengths.length);

          const moved: (Subscription | null)[] = [];
          const seen: number[] = [];
          let rounds = 0;
          while (!backlog.moveTo(ring, (sub) => moved.push(sub))) {
            // The ring is full: the consumer takes up to `drainEvery` frames, as the main thread would.
            ring.publish();
            for (let n = 0; n < drainEvery; n++) {
              const off = consumer.next();
              if (off < 0) break;
              const i = seen.length;
              expect(isBody(consumer, off, i, lengths[i]), `frame ${i}`).toBe(true);
              seen.push(i);
              consumer.advance();
            }
            consumer.release();
            expect(++rounds).toBeLessThan(10_000);
          }
          ring.publish();
          for (let off = consumer.next(); off >= 0; off = consumer.next()) {
            const i = seen.length;
            expect(isBody(consumer, off, i, lengths[i]), `frame ${i}`).toBe(true);
            seen.push(i);
            consumer.advance();
          }
          expect(seen.length).toBe(lengths.length);
          expect(moved).toEqual(subs);
          expect(backlog.length).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('reuses its slab once emptied: a steady trickle keeps one slab', () => {
    const buffers = createRingBuffers(1 << 16);
    const ring = new RingProducer(buffers);
    const consumer = new RingConsumer(buffers);
    const backlog = new Backlog();
    for (let round = 0; round < 1000; round++) {
      for (let i = 0; i < 10; i++) {
        const off = backlog.reserve(1000);
        backlog.target.bytes.fill(round & 0xff, off, off + 1000);
        backlog.commit(null);
      }
      const first = backlog.target;
      expect(backlog.moveTo(ring, () => {})).toBe(true);
      ring.publish();
      for (let off = consumer.next(); off >= 0; off = consumer.next()) {
        expect(consumer.bytes[off + 999]).toBe(round & 0xff);
        consumer.advance();
      }
      consumer.release();
      expect(backlog.target).toBe(first);
    }
  });
});
