// Delivery frames from the worker's Inbound to the main thread's Dispatcher: payloads of any
// size, at any offset of the socket chunk, with and without a reply, arrive intact, and a
// large payload lands in the ring at its socket offset mod 8 (filler before it), so its copy
// runs by words. The last test runs random transcripts through the real Parser, small rings
// (records wrap, frames wait in the backlog) and the Dispatcher.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Dispatcher } from '../../src/main/dispatcher.js';
import type { Message } from '../../src/main/message.js';
import { HeldSlabs, Subscriber } from '../../src/main/subscriber.js';
import { decodeDelivery, deliveryLength } from '../../src/shared/frames/delivery-codec.js';
import { type MsgView, Parser } from '../../src/shared/protocol/parser.js';
import { createRingBuffers } from '../../src/shared/ring/byte-ring.js';
import { RingConsumer } from '../../src/shared/ring/ring-consumer.js';
import { RingProducer } from '../../src/shared/ring/ring-producer.js';
import { Inbound } from '../../src/worker/inbound.js';
import { newSubscription } from '../../src/worker/subscriptions.js';
import { quietInboundEvents } from '../helpers/inbound-events.js';

const SUBJECT = 'sub.ject';
const SIZES = [0, 5, 128, 129, 256, 1000, 20_000];

interface Sent {
  msg: MsgView;
  payload: Uint8Array;
  reply: string | undefined;
}

/** One socket chunk holding `MSG` lines whose payloads start at every offset mod 8. */
function chunkOfMessages(withReply: boolean): Sent[] {
  const parts: string[] = [];
  const spans: { start: number; size: number; reply?: string }[] = [];
  let length = 0;
  for (const size of SIZES) {
    for (let skew = 0; skew < 8; skew++) {
      const reply = withReply ? `r${skew}` : undefined;
      // A subject of varying length moves the payload through every offset mod 8.
      const line = `MSG ${SUBJECT}${'x'.repeat(skew)} 1 ${reply ? `${reply} ` : ''}${size}\r\n`;
      spans.push({ start: length + line.length, size, reply });
      const payload = String.fromCharCode(
        ...Array.from({ length: size }, (_, i) => 97 + ((i + skew) % 26)),
      );
      parts.push(line, payload, '\r\n');
      length += line.length + size + 2;
    }
  }
  const wire = Buffer.from(parts.join(''), 'latin1');
  const buf = new Uint8Array(wire.buffer, wire.byteOffset, wire.length);
  return spans.map(({ start, size, reply }) => {
    const replyStart = reply ? start - `${reply} ${size}\r\n`.length : start;
    return {
      msg: {
        buf,
        subjectStart: 4,
        subjectEnd: 4 + SUBJECT.length,
        sid: 1,
        replyStart,
        replyEnd: reply ? replyStart + reply.length : replyStart,
        headerStart: start,
        headerEnd: start,
        payloadStart: start,
        payloadEnd: start + size,
        hasHeaders: false,
        repeated: false,
      },
      payload: buf.slice(start, start + size),
      reply,
    };
  });
}

function newInbound(producer: RingProducer): Inbound {
  return new Inbound(producer, 1000, quietInboundEvents());
}

describe('delivery frames', () => {
  it('put payloads over 128 B at their socket offset mod 8', () => {
    const buffers = createRingBuffers(1 << 20);
    const inbound = newInbound(new RingProducer(buffers));
    const sent = chunkOfMessages(false);
    const subscription = newSubscription(1, SUBJECT, undefined);
    for (const { msg } of sent) inbound.deliver(msg, subscription);
    inbound.publish();
    const ring = new RingConsumer(buffers);
    let i = 0;
    for (let off = ring.next(); off >= 0; off = ring.next(), i++) {
      const delivery = decodeDelivery(ring.bytes, off);
      if (delivery.kind !== 'msg') throw new Error(`a ${delivery.kind} frame`);
      const pad = ring.length - deliveryLength(delivery); // the record holds the filler too
      const { msg, payload } = sent[i];
      const size = payload.length;
      if (size > 128) {
        expect(delivery.payload.byteOffset % 8).toBe((msg.buf.byteOffset + msg.payloadStart) % 8);
      } else {
        expect(pad).toBe(0);
      }
      expect(delivery.payload).toEqual(payload);
      ring.advance();
    }
    expect(i).toBe(sent.length);
  });

  for (const withReply of [false, true]) {
    it(`reach the callback intact ${withReply ? 'with' : 'without'} a reply`, () => {
      const buffers = createRingBuffers(1 << 20);
      const inbound = newInbound(new RingProducer(buffers));
      const sent = chunkOfMessages(withReply);
      const received: Message[] = [];
      const owner = {
        isClosed: () => false,
        unsubscribe() {},
        slowConsumer() {},
        dropped() {},
        drainSubscription: () => Promise.resolve(),
        callbackFailed() {},
        callbackStarted() {},
        callbackSettled() {},
        afterArrived: (run: () => void) => run(),
        heldSlabs: new HeldSlabs(),
      };
      const subscriber = new Subscriber(owner, 1, SUBJECT, undefined, (m) => received.push(m), 1);
      const dispatcher = new Dispatcher(new RingConsumer(buffers), {
        subscription: () => subscriber,
        flushAcked() {},
        flushLost() {},
        flushesLostAfter() {},
        subscriptionRefused() {},
        replyDropped() {},
        requestRefused() {},
        inboxRefused() {},
        deliveryError(error) {
          throw error;
        },
      });
      const subscription = newSubscription(1, SUBJECT, undefined);
      for (const { msg } of sent) inbound.deliver(msg, subscription);
      inbound.publish();
      for (let slices = 0; received.length < sent.length && slices < 100; slices++) {
        dispatcher.start();
      }
      dispatcher.stop();
      expect(received.map((m) => [m.subject, m.reply, m.payload])).toEqual(
        sent.map(({ payload, reply }) => [SUBJECT, reply, payload]),
      );
    });
  }

  it('carry the subject the server sent through runs of repeated lines', () => {
    // Runs longer than the parser's pause after a miss, so its repeated-line shortcut takes
    // lines of each run: the subject decision for a repeated line must be the run's own.
    const runs = ['foo.bar', 'foo.baz', 'foo.bar', 'foo.barr', 'foo.bar'];
    const buffers = createRingBuffers(1 << 20);
    const inbound = newInbound(new RingProducer(buffers));
    const subscription = newSubscription(1, 'foo.bar', undefined);
    const parser = new Parser({
      onMsg: (m: MsgView) => inbound.deliver(m, subscription),
      onInfo() {},
      onPing() {},
      onPong() {},
      onOk() {},
      onErr() {},
    });
    parser.push(Buffer.from(runs.map((s) => `MSG ${s} 1 2\r\nhi\r\n`.repeat(30)).join('')));
    inbound.publish();
    const subjects: string[] = [];
    const subscriber = new Subscriber(
      {
        isClosed: () => false,
        unsubscribe() {},
        slowConsumer() {},
        dropped() {},
        callbackFailed() {},
        callbackStarted() {},
        callbackSettled() {},
        afterArrived: (run: () => void) => run(),
        heldSlabs: new HeldSlabs(),
        drainSubscription: () => Promise.resolve(),
      },
      1,
      'foo.bar',
      undefined,
      (m) => subjects.push(m.subject),
      1,
    );
    const dispatcher = new Dispatcher(new RingConsumer(buffers), {
      subscription: () => subscriber,
      flushAcked() {},
      flushLost() {},
      flushesLostAfter() {},
      subscriptionRefused() {},
      replyDropped() {},
      requestRefused() {},
      inboxRefused() {},
      deliveryError(error) {
        throw error;
      },
    });
    for (let slices = 0; subjects.length < 150 && slices < 100; slices++) dispatcher.start();
    dispatcher.stop();
    expect(subjects).toEqual(runs.flatMap((s) => Array.from({ length: 30 }, () => s)));
  });

  it('carry random transcripts intact through the parser, small rings and the backlog', async () => {
    const header = 'NATS/1.0\r\nA: b\r\n\r\n';
    type Op =
      | {
          kind: 'msg';
          sid: 1 | 2;
          subject: string;
          reply?: string;
          hdr: boolean;
          size: number;
          seed: number;
        }
      | { kind: 'ack'; id: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 8,
        arbitrary: fc.record({
          kind: fc.constant('msg' as const),
          sid: fc.constantFrom(1 as const, 2 as const),
          subject: fc.constantFrom('foo.bar', 'foo.bazzz', 'foo.q'),
          reply: fc.option(fc.constantFrom('r', '_INBOX.abcdef'), { nil: undefined }),
          hdr: fc.boolean(),
          size: fc.oneof(
            fc.integer({ min: 0, max: 300 }),
            fc.integer({ min: 250, max: 3000 }),
            // Over half the ring: continued across frames.
            { weight: 1, arbitrary: fc.integer({ min: 3000, max: 20_000 }) },
          ),
          seed: fc.nat(255),
        }),
      },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('ack' as const), id: fc.nat(1000) }) },
    );
    const tick = () => new Promise((resolve) => setImmediate(resolve));
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { minLength: 1, maxLength: 200 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.nat(7),
        fc.constantFrom(4096, 8192, 16384),
        async (ops, rawCuts, lead, capacity) => {
          const buffers = createRingBuffers(capacity);
          const inbound = new Inbound(
            new RingProducer(buffers),
            100_000,
            quietInboundEvents({
              slowConsumer() {
                throw new Error('slow consumer');
              },
            }),
          );
          const subscriptions = new Map([
            [1, newSubscription(1, 'foo.bar', undefined)],
            [2, newSubscription(2, 'foo.*', undefined)],
          ]);
          type Got = [string, string | undefined, string | undefined, Uint8Array, Uint8Array];
          const received: Got[] = [];
          const keep = (m: Message) =>
            received.push([m.subject, m.reply, m.headers?.get('A'), m.payload, m.payload.slice()]);
          const owner = {
            isClosed: () => false,
            unsubscribe() {},
            slowConsumer() {},
            dropped() {},
            drainSubscription: () => Promise.resolve(),
            callbackFailed() {},
            callbackStarted() {},
            callbackSettled() {},
            afterArrived: (run: () => void) => run(),
            heldSlabs: new HeldSlabs(),
          };
          const subscribers = new Map([
            [1, new Subscriber(owner, 1, 'foo.bar', undefined, keep, 1)],
            [2, new Subscriber(owner, 2, 'foo.*', undefined, keep, 1)],
          ]);
          const dispatcher = new Dispatcher(new RingConsumer(buffers), {
            subscription: (sid) => subscribers.get(sid),
            flushAcked(id) {
              received.push(['ACK', String(id), undefined, new Uint8Array(0), new Uint8Array(0)]);
            },
            flushLost(id) {
              received.push(['LOST', String(id), undefined, new Uint8Array(0), new Uint8Array(0)]);
            },
            flushesLostAfter() {},
            subscriptionRefused() {},
            replyDropped() {},
            requestRefused() {},
            inboxRefused() {},
            deliveryError(error) {
              throw error;
            },
          });
          const parts: string[] = [];
          const expected: [string, string | undefined, string | undefined, string][] = [];
          const ackIds: number[] = [];
          for (const o of ops) {
            if (o.kind === 'ack') {
              parts.push('PING\r\n'); // stands for a flush: its ack is framed in order
              ackIds.push(o.id);
              expected.push(['ACK', String(o.id), undefined, '']);
              continue;
            }
            // sid 1 (foo.bar, no wildcard) gets other subjects too, as from JetStream: runs of
            // one line (the parser's repeated-line shortcut) and changes between them.
            const subject = o.subject;
            const payload = String.fromCharCode(
              ...Array.from({ length: o.size }, (_, i) => (o.seed + i * 13) & 0xff),
            );
            const r = o.reply ? ` ${o.reply}` : '';
            if (o.hdr) {
              const sizes = `${header.length} ${header.length + o.size}`;
              parts.push(`HMSG ${subject} ${o.sid}${r} ${sizes}\r\n${header}${payload}\r\n`);
            } else {
              parts.push(`MSG ${subject} ${o.sid}${r} ${o.size}\r\n${payload}\r\n`);
            }
            // Larger than a ring record can hold too: continued across frames.
            expected.push([subject, o.reply, o.hdr ? 'b' : undefined, payload]);
          }
          let acked = 0;
          const parser = new Parser({
            onMsg(m: MsgView) {
              const sub = subscriptions.get(m.sid);
              if (sub) inbound.deliver(m, sub);
            },
            onInfo() {},
            onPong() {},
            onOk() {},
            onErr() {},
            onPing() {
              inbound.flushAck(ackIds[acked++]);
            },
          });
          const whole = Buffer.from(parts.join(''), 'latin1');
          const cuts = [...new Set(rawCuts.map((c) => c % (whole.length + 1)))].sort(
            (a, b) => a - b,
          );
          let from = 0;
          for (const cut of [...cuts, whole.length]) {
            // Each chunk at its own offset in its buffer, poisoned once parsed: the worker
            // must have copied what it delivers.
            const chunk = new Uint8Array(new ArrayBuffer(cut - from + lead + 8), lead, cut - from);
            chunk.set(whole.subarray(from, cut));
            parser.push(chunk);
            inbound.publish();
            chunk.fill(0x7e);
            dispatcher.start();
            await tick();
            from = cut;
          }
          for (let i = 0; i < 2000 && received.length < expected.length; i++) {
            dispatcher.start();
            await tick();
          }
          dispatcher.stop();
          expect(
            received.map(([s, r, h, p]) => [s, r, h, Buffer.from(p).toString('latin1')]),
          ).toEqual(expected);
          // The payload views still hold their bytes after later runs were copied.
          for (const [, , , view, copy] of received) expect(view).toEqual(copy);
        },
      ),
      { numRuns: 100 },
    );
  });
});
