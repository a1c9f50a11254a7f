// The Publisher's overflow (frames waiting on the calling thread while the command ring is
// full): whatever mix of publishes and control frames waits, the worker's side of the ring
// reads them back in call order with exact per-record message counts, and what waits in
// memory is what maxPendingBytes counts.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Publisher } from '../../src/main/publisher.js';
import { decodeCommand, pubFrameLength } from '../../src/shared/frames/command.js';
import { createRingBuffers } from '../../src/shared/ring/byte-ring.js';
import { RingConsumer } from '../../src/shared/ring/ring-consumer.js';
import { RingProducer } from '../../src/shared/ring/ring-producer.js';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Reads the ring until nothing waits on the publisher's thread or in the ring. */
async function consumeAll(
  publisher: Publisher,
  worker: RingConsumer,
  into: string[],
): Promise<void> {
  while (publisher.waiting > 0 || worker.next() >= 0) {
    consume(worker, 1000, into);
    await nextTurn();
  }
  publisher.publishNow();
  consume(worker, Number.POSITIVE_INFINITY, into);
}

/** A message to subject 's' whose payload, `pad` bytes of '#' then `id`, consume() reads back. */
function publishMarked(publisher: Publisher, pad: number, id: number): void {
  publisher.pub('s', 1, undefined, 0, encoder.encode(`${'#'.repeat(pad)}${id}`), false);
}
// Blanks before the size: the publisher pads lines to align payloads.
const PUB_LINE = /PUB s +(\d+)\r\n#*(\d+)\r\n/g;

/** Reads up to `maxRecords` records as the worker would: `p<id>` per message, `f<id>` per flush. */
function consume(ring: RingConsumer, maxRecords: number, into: string[]): void {
  let n = 0;
  for (let off = ring.next(); off >= 0 && n < maxRecords; off = ring.next(), n++) {
    const cmd = decodeCommand(ring.bytes, off, ring.length);
    if (cmd.kind === 'pub') {
      const ids = [...decoder.decode(cmd.wire).matchAll(PUB_LINE)].map((m) => `p${m[2]}`);
      expect(ids.length).toBe(cmd.count);
      into.push(...ids);
    } else if (cmd.kind === 'sub') {
      into.push(`s${cmd.sid}`);
    } else {
      expect(cmd.kind).toBe('flush');
      if (cmd.kind === 'flush') into.push(`f${cmd.id}`);
    }
    ring.advance();
  }
  ring.release();
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

type Step =
  | { kind: 'pub'; pad: number }
  | { kind: 'burst'; count: number }
  | { kind: 'flush' }
  | { kind: 'read'; records: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('pub' as const), pad: fc.nat(300) }) },
  // Now and then a publish too large to be gathered with others.
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('pub' as const),
      pad: fc.integer({ min: 9000, max: 30_000 }),
    }),
  },
  // Runs of small publishes long enough to fill a gathered frame.
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('burst' as const),
      count: fc.integer({ min: 1, max: 600 }),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('flush' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('read' as const), records: fc.nat(200) }) },
);

describe('Publisher overflow', () => {
  it('hands everything to the ring in call order, with exact message counts', async () => {
    await fc.assert(
      // A 64 KiB ring's record limit (32 KiB) is below the 64 KiB a gathered frame may reach.
      fc.asyncProperty(
        fc.constantFrom(64 * 1024, 256 * 1024),
        fc.array(step, { minLength: 1, maxLength: 3000, size: 'large' }),
        async (capacity, steps) => {
          const buffers = createRingBuffers(capacity);
          const publisher = new Publisher(new RingProducer(buffers), 1 << 30, 1 << 30);
          const worker = new RingConsumer(buffers);
          const expected: string[] = [];
          const got: string[] = [];
          let seq = 0;
          for (const s of steps) {
            if (s.kind === 'pub') {
              const id = seq++;
              publishMarked(publisher, s.pad, id);
              expected.push(`p${id}`);
            } else if (s.kind === 'burst') {
              for (let i = 0; i < s.count; i++) {
                const id = seq++;
                publishMarked(publisher, 100, id);
                expected.push(`p${id}`);
              }
            } else if (s.kind === 'flush') {
              const id = seq++;
              publisher.control({ kind: 'flush', id });
              expected.push(`f${id}`);
            } else {
              consume(worker, s.records, got);
              await nextTurn(); // the publisher's wait for space resolves
            }
          }
          await consumeAll(publisher, worker, got);
          expect(got).toEqual(expected);
          expect(publisher.waiting).toBe(0);
        },
      ),

      { numRuns: 30 },
    );
  });

  it('takes back a SUB that still waits here, from any place in the queue; one in the ring goes', async () => {
    let takenBack = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            { weight: 6, arbitrary: fc.constant('pub' as const) },
            { weight: 3, arbitrary: fc.constant('sub' as const) },
            { weight: 2, arbitrary: fc.nat(40).map((back) => ({ withdraw: back })) },
            { weight: 1, arbitrary: fc.nat(3).map((records) => ({ read: records })) },
          ),
          { minLength: 1, maxLength: 2000, size: 'large' },
        ),
        async (steps) => {
          const buffers = createRingBuffers(64 * 1024);
          const publisher = new Publisher(new RingProducer(buffers), 1 << 30, 1 << 30);
          const worker = new RingConsumer(buffers);
          const expected: string[] = [];
          const got: string[] = [];
          const subs: { name: string; frame: Uint8Array | undefined }[] = [];
          let seq = 0;
          for (const s of steps) {
            if (s === 'pub') {
              const id = seq++;
              // 2 KB: the 64 KiB ring fills within a few dozen steps.
              publishMarked(publisher, 2000, id);
              expected.push(`p${id}`);
            } else if (s === 'sub') {
              const sid = seq++;
              const frame = publisher.control({ kind: 'sub', sid, subject: `sub.${sid}` });
              subs.push({ name: `s${sid}`, frame });
              expected.push(`s${sid}`);
            } else if ('withdraw' in s) {
              const sub = subs[subs.length - 1 - s.withdraw];
              if (sub === undefined) continue;
              const taken = sub.frame !== undefined && publisher.withdraw(sub.frame);
              if (taken) {
                expected.splice(expected.indexOf(sub.name), 1);
                takenBack++;
              }
              expect(publisher.withdraw(sub.frame ?? new Uint8Array(0))).toBe(false); // once
            } else {
              consume(worker, s.read, got);
              await nextTurn();
            }
          }
          await consumeAll(publisher, worker, got);
          expect(got).toEqual(expected);
          expect(publisher.waiting).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
    expect(takenBack).toBeGreaterThan(0); // the runs did reach the overflow
  });

  it('frees withdrawn SUBs at the queue end at once, in either order; counts the others until passed', () => {
    const publisher = new Publisher(
      new RingProducer(createRingBuffers(64 * 1024)),
      1 << 30,
      1 << 30,
    );
    let sid = 0;
    while (publisher.waiting === 0) publisher.control({ kind: 'sub', sid: ++sid, subject: 'fill' });
    const before = publisher.waiting;
    for (let i = 0; i < 10_000; i++) {
      const a = publisher.control({ kind: 'sub', sid: ++sid, subject: `a.${i}` });
      const b = publisher.control({ kind: 'sub', sid: ++sid, subject: `b.${i}` });
      const [first, second] = i % 2 === 0 ? [a, b] : [b, a]; // oldest first, then newest first
      expect(publisher.withdraw(first as Uint8Array)).toBe(true);
      expect(publisher.withdraw(second as Uint8Array)).toBe(true);
      expect(publisher.waiting).toBe(before); // nothing of them is held
    }
    // One behind which a publish waits is held (and counted) until its turn comes.
    const held = publisher.control({ kind: 'sub', sid: ++sid, subject: 'held' });
    publisher.pub('s', 1, undefined, 0, encoder.encode('x'), false);
    expect(publisher.withdraw(held as Uint8Array)).toBe(true);
    expect(publisher.waiting).toBe(before + 2);
  });

  it('resolves a waiting writable() once withdrawals leave nothing waiting', async () => {
    const publisher = new Publisher(new RingProducer(createRingBuffers(64 * 1024)), 1, 1 << 30);
    let sid = 0;
    let last: Uint8Array | undefined;
    while (publisher.waiting === 0)
      last = publisher.control({ kind: 'sub', sid: ++sid, subject: 'f' });
    let writable = 'waiting';
    void publisher.writable().then(() => {
      writable = 'resolved';
    });
    await nextTurn();
    expect(writable).toBe('waiting'); // clientCapacity 1 is reached
    expect(publisher.withdraw(last as Uint8Array)).toBe(true);
    await nextTurn();
    expect(writable).toBe('resolved');
  });

  it('flags a PUB record that holds a message this client receives (echo), in the ring and off it', async () => {
    const buffers = createRingBuffers(64 * 1024);
    const publisher = new Publisher(new RingProducer(buffers), 1 << 30, 1 << 30);
    const worker = new RingConsumer(buffers);
    const payload = new Uint8Array(100);
    /** [echo flag, message count] of each record the worker reads. */
    const records = (): [boolean, number][] => {
      const out: [boolean, number][] = [];
      for (let off = worker.next(); off >= 0; off = worker.next()) {
        const cmd = decodeCommand(worker.bytes, off, worker.length);
        if (cmd.kind === 'pub') out.push([cmd.echo, cmd.count]);
        worker.advance();
      }
      worker.release();
      return out;
    };
    publisher.pub('s', 1, undefined, 0, payload, false);
    publisher.pub('s', 1, undefined, 0, payload, false);
    publisher.publishNow();
    publisher.pub('s', 1, undefined, 0, payload, false);
    publisher.pub('s', 1, undefined, 0, payload, true); // grows the record: now it echoes
    publisher.publishNow();
    publisher.pub('s', 1, undefined, 0, payload, true);
    publisher.publishNow();
    expect(records()).toEqual([
      [false, 2],
      [true, 2],
      [true, 1],
    ]);
    // Off the ring: fill it, then one plain and one echo message wait in one overflow frame.
    while (publisher.waiting === 0) publisher.pub('s', 1, undefined, 0, payload, false);
    publisher.pub('s', 1, undefined, 0, payload, true);
    const waiting = publisher.waiting;
    const inRing = records();
    expect(inRing.every(([echo]) => !echo)).toBe(true);
    await new Promise((resolve) => setImmediate(resolve)); // the overflow moves into the ring
    publisher.publishNow();
    expect(records()).toEqual([[true, waiting]]);
  });

  it('keeps in memory what maxPendingBytes counts, also when control frames cut runs short', () => {
    const buffers = createRingBuffers(64 * 1024);
    const publisher = new Publisher(new RingProducer(buffers), 1 << 30, 1 << 30);
    const payload = new Uint8Array(100);
    while (publisher.waiting === 0) publisher.pub('s', 1, undefined, 0, payload, false);
    // Each publish starts a new gathered frame that the FLUSH after it closes at once.
    const pairs = 2000;
    for (let i = 0; i < pairs; i++) {
      publisher.pub('s', 1, undefined, 0, payload, false);
      publisher.control({ kind: 'flush', id: i });
    }
    expect(publisher.waiting).toBe(2 * pairs + 1);
    // What the waiting frames hold on to: ≈ 130 B per pair, not a gathered frame's full array.
    const { overflow } = publisher as unknown as { overflow: { frames: Uint8Array[] } };
    const kept = overflow.frames.reduce((sum, frame) => sum + frame.buffer.byteLength, 0);
    expect(kept).toBeLessThan(pairs * 512);
  });
});

describe('Publisher alignment', () => {
  it('puts payloads at their own offset mod 8 in the ring, with blanks in the PUB line', () => {
    const buffers = createRingBuffers(1024 * 1024);
    const publisher = new Publisher(new RingProducer(buffers), 1 << 30, 1 << 30);
    const worker = new RingConsumer(buffers);
    const source = new Uint8Array(70_000).map((_, i) => i % 251);
    const sent: Uint8Array[] = [];
    for (const size of [256, 1000, 20_000]) {
      for (let skew = 0; skew < 8; skew++) {
        const payload = source.subarray(skew, skew + size);
        publisher.pub('s', 1, undefined, 0, payload, false);
        sent.push(payload);
        // W published now and then (as at the end of a burst): the record can grow no more.
        if (skew % 3 === 2) publisher.publishNow();
      }
    }
    publisher.publishNow();
    const received: Uint8Array[] = [];
    for (let off = worker.next(); off >= 0; off = worker.next()) {
      const cmd = decodeCommand(worker.bytes, off, worker.length);
      if (cmd.kind !== 'pub') throw new Error(`a ${cmd.kind} frame`);
      const end = off + worker.length;
      let p = cmd.wire.byteOffset;
      while (p < end) {
        const line = decoder.decode(worker.bytes.subarray(p, p + 64)).match(/^PUB s +(\d+)\r\n/);
        expect(line).not.toBeNull();
        const size = Number(line?.[1]);
        const at = p + (line?.[0].length ?? 0);
        const payload = sent[received.length];
        expect(at % 8).toBe(payload.byteOffset % 8);
        received.push(worker.bytes.slice(at, at + size));
        p = at + size + 2;
      }
      worker.advance();
    }
    expect(received).toEqual(sent.map((payload) => Uint8Array.from(payload)));
  });

  it('never lets the blanks take a message that fits past the ring record limit', () => {
    const source = new Uint8Array(1000);
    for (let skew = 0; skew < 8; skew++) {
      const ring = new RingProducer(createRingBuffers(1024));
      const publisher = new Publisher(ring, 1 << 30, 1 << 30);
      // 'PUB s 487\r\n' + 487 + CRLF after the record head: exactly the record limit.
      const size = ring.maxBody - pubFrameLength(0) - 'PUB s 487\r\n'.length - 2;
      expect(() =>
        publisher.pub('s', 1, undefined, 0, source.subarray(skew, skew + size), false),
      ).not.toThrow();
    }
  });

  it('adds no blanks to a long line (a server max_control_line is not in INFO)', () => {
    const buffers = createRingBuffers(64 * 1024);
    const publisher = new Publisher(new RingProducer(buffers), 1 << 30, 1 << 30);
    const subject = `long.${'s'.repeat(300)}`;
    const source = new Uint8Array(1008);
    for (let skew = 0; skew < 8; skew++) {
      publisher.pub(
        subject,
        subject.length,
        undefined,
        0,
        source.subarray(skew, skew + 1000),
        false,
      );
    }
    publisher.publishNow();
    const worker = new RingConsumer(buffers);
    const off = worker.next();
    const cmd = decodeCommand(worker.bytes, off, worker.length);
    const wire = cmd.kind === 'pub' ? decoder.decode(cmd.wire) : '';
    expect(wire.match(/PUB \S+ 1000\r\n/g)).toHaveLength(8);
  });
});
