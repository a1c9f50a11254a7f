import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRingBuffers } from '../../src/shared/ring/byte-ring.js';
import { RingConsumer } from '../../src/shared/ring/ring-consumer.js';
import { RingProducer } from '../../src/shared/ring/ring-producer.js';
import { Backlog } from '../../src/worker/backlog.js';

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
          lengths.forEach((length, i) => {
            const off = backlog.reserve(length);
            backlog.target.bytes.set(body(i, length), off);
            backlog.commit();
          });
          expect(backlog.length).toBe(lengths.length);
          expect(backlog.bytes).toBe(lengths.reduce((sum, n) => sum + 4 + ((n + 3) & ~3), 0));
          // forEach visits every waiting body, in order (the receive policy counts by it).
          const visited: number[] = [];
          backlog.forEach((words, off) => {
            const bytes = new Uint8Array(words.buffer, words.byteOffset);
            const i = visited.length;
            const length = lengths[i];
            expect(words[(off >> 2) - 1]).toBe(length);
            expect(Buffer.compare(bytes.subarray(off, off + length), body(i, length))).toBe(0);
            visited.push(i);
          });
          expect(visited.length).toBe(lengths.length);

          const seen: number[] = [];
          let rounds = 0;
          while (!backlog.moveTo(ring)) {
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
          expect(backlog.length).toBe(0);
          expect(backlog.bytes).toBe(0);
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
        backlog.commit();
      }
      const first = backlog.target;
      expect(backlog.moveTo(ring)).toBe(true);
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
