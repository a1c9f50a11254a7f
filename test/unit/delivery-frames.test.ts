// Delivery frames (shared/frames/delivery.ts): every kind survives encode → decode, through
// the worker's MsgFrameWriter and the main thread's readDelivery; the subject is left out only
// when it is the subscription's own; random sequences of deliveries come out of a small
// ring, wrapping, as they went in; and messages larger than a record, continued across
// frames, come out whole.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Delivery,
  DeliveryView,
  type FrameSpace,
  MsgFrameWriter,
  readDelivery,
} from '../../src/shared/frames/delivery.js';
import {
  decodeDelivery,
  deliveryLength,
  encodeContinued,
  encodeDelivery,
} from '../../src/shared/frames/delivery-codec.js';
import { MsgAssembly } from '../../src/shared/frames/msg-assembly.js';
import { OwnSubject } from '../../src/shared/frames/own-subject.js';
import type { MsgView } from '../../src/shared/protocol/parser.js';
import { decodeString } from '../../src/shared/protocol/utf8.js';
import { createRingBuffers } from '../../src/shared/ring/byte-ring.js';
import { RingConsumer } from '../../src/shared/ring/ring-consumer.js';
import { SourceBytes } from '../../src/shared/ring/ring-copy.js';
import { RingProducer } from '../../src/shared/ring/ring-producer.js';

const encoder = new TextEncoder();

/** Private memory standing in for the ring: bytes and the same bytes as words. */
function memory(length: number) {
  const buffer = new ArrayBuffer((length + 3) & ~3);
  return { bytes: new Uint8Array(buffer), words: new Int32Array(buffer) };
}

function roundTrip(d: Delivery, pad = 0): Delivery {
  const at = 8;
  const dst = memory(at + deliveryLength(d) + pad + 8);
  encodeDelivery(d, dst, at, pad);
  return decodeDelivery(dst.bytes, at);
}

const payload = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff);

describe('delivery frames round trip', () => {
  const headers = encoder.encode('NATS/1.0 503\r\n\r\n');
  const deliveries: [string, Delivery][] = [
    ['MSG, short form, own subject', { kind: 'msg', sid: 1, payload: payload(5) }],
    ['MSG, short form, subject sent', { kind: 'msg', sid: 2, subject: 'a.b', payload: payload(0) }],
    [
      'MSG with a reply',
      { kind: 'msg', sid: 3, subject: 'a', reply: '_INBOX.x', payload: payload(300) },
    ],
    ['HMSG', { kind: 'msg', sid: 4, headers, payload: payload(1) }],
    [
      'HMSG with everything',
      {
        kind: 'msg',
        sid: 2 ** 32 - 1,
        subject: 'grüße.日本',
        reply: 'ü',
        headers,
        payload: payload(2000),
      },
    ],
    ['FLUSH_ACK', { kind: 'flushAck', id: 2 ** 32 - 1 }],
    ['FLUSH_LOST', { kind: 'flushLost', id: 2 ** 32 - 1 }],
    ['FLUSHES_LOST_AFTER', { kind: 'flushesLostAfter', id: 2 ** 32 - 1 }],
    ['SUB_END', { kind: 'subEnd', sid: 9 }],
    ['SUB_REFUSED', { kind: 'subRefused', sid: 2 ** 32 - 1 }],
    ['REPLY_DROPPED', { kind: 'replyDropped', id: 2 ** 32 - 1 }],
    ['REPLY_DROPPED, the longest id', { kind: 'replyDropped', id: 36 ** 10 - 1 }],
    ['REQUEST_REFUSED', { kind: 'requestRefused', id: 36 ** 10 - 1, withHeaders: true }],
    ['REQUEST_REFUSED for its size', { kind: 'requestRefused', id: 7, withHeaders: false }],
    ['INBOX_REFUSED', { kind: 'inboxRefused', sid: 2 ** 32 - 1, withHeaders: true }],
  ];
  for (const [name, d] of deliveries) {
    it(name, () => expect(roundTrip(d)).toEqual(d));
  }

  it('with filler before the payload (0-7 bytes)', () => {
    const d: Delivery = { kind: 'msg', sid: 1, subject: 'x', reply: 'r', payload: payload(700) };
    for (let pad = 0; pad < 8; pad++) expect(roundTrip(d, pad)).toEqual(d);
  });
});

describe('MsgFrameWriter', () => {
  /** A parsed `MSG <subject> 1 2\r\nhi\r\n`, framed for a subscription to `own`. */
  function framed(subject: string, own: string | null): Delivery {
    const line = encoder.encode(`MSG ${subject} 1 2\r\nhi\r\n`);
    const subjectEnd = 4 + encoder.encode(subject).length;
    const payloadStart = line.length - 4;
    const msg: MsgView = {
      buf: line,
      subjectStart: 4,
      subjectEnd,
      sid: 1,
      replyStart: subjectEnd,
      replyEnd: subjectEnd,
      headerStart: payloadStart,
      headerEnd: payloadStart,
      payloadStart,
      payloadEnd: payloadStart + 2,
      hasHeaders: false,
      repeated: false,
    };
    const writer = new MsgFrameWriter();
    const src = new SourceBytes(line);
    const dst = memory(writer.measure(msg, src, own === null ? null : new OwnSubject(own)));
    writer.write(dst, 0, src, msg, 1, 0);
    return decodeDelivery(dst.bytes, 0);
  }

  it('leaves the subject out only when its bytes are the subscription’s', () => {
    expect(framed('orders.new', 'orders.new')).not.toHaveProperty('subject');
    for (const other of ['orders.nex', 'orders.ne', 'orders.newer', 'orders.né']) {
      expect(framed(other, 'orders.new')).toMatchObject({ subject: other });
    }
    expect(framed('orders.new', null)).toMatchObject({ subject: 'orders.new' }); // wildcard
  });
});

type MsgFields = Omit<Extract<Delivery, { kind: 'msg' }>, 'kind' | 'payload'>;

type Step =
  | { kind: 'msg'; fields: MsgFields; size: number; seed: number; pad: number }
  | { kind: 'control'; d: Delivery }
  | { kind: 'read'; frames: number };

const token = fc.constantFrom('a', 'orders', 'ü', '日本', 'x1');
const subject = fc.array(token, { minLength: 1, maxLength: 4 }).map((t) => t.join('.'));
/**
 * Empty, small, around the copy thresholds (128 B, 256 B), up to the record limit, or -1 - k:
 * k bytes below the record limit.
 */
const size = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(0, 1, 127, 128, 129, 255, 256, 257) },
  { weight: 4, arbitrary: fc.nat(2000) },
  { weight: 1, arbitrary: fc.nat(8).map((k) => -1 - k) },
);

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('msg' as const),
      fields: fc.record(
        {
          sid: fc.nat({ max: 2 ** 32 - 1 }),
          subject,
          reply: subject.map((s) => `_INBOX.${s}`),
          headers: fc.uint8Array({ maxLength: 40 }),
        },
        { requiredKeys: ['sid'] },
      ),
      size,
      seed: fc.nat(255),
      pad: fc.nat(7),
    }),
  },
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        fc.record({ kind: fc.constant('flushAck' as const), id: fc.nat({ max: 2 ** 32 - 1 }) }),
        fc.record({ kind: fc.constant('flushLost' as const), id: fc.nat({ max: 2 ** 32 - 1 }) }),
        fc.record({
          kind: fc.constant('flushesLostAfter' as const),
          id: fc.nat({ max: 2 ** 32 - 1 }),
        }),
        fc.record({ kind: fc.constant('subEnd' as const), sid: fc.nat({ max: 2 ** 32 - 1 }) }),
        fc.record({
          kind: fc.constant('subRefused' as const),
          sid: fc.nat({ max: 2 ** 32 - 1 }),
        }),
        fc.record({
          kind: fc.constant('replyDropped' as const),
          id: fc.integer({ min: 1, max: 36 ** 10 - 1 }),
        }),
        fc.record({
          kind: fc.constant('requestRefused' as const),
          id: fc.integer({ min: 1, max: 36 ** 10 - 1 }),
          withHeaders: fc.boolean(),
        }),
        fc.record({
          kind: fc.constant('inboxRefused' as const),
          sid: fc.nat({ max: 2 ** 32 - 1 }),
          withHeaders: fc.boolean(),
        }),
      )
      .map((d) => ({ kind: 'control' as const, d })),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('read' as const), frames: fc.nat(5) }) },
);

describe('delivery frames through a small ring', () => {
  it('come out in order, as written, whatever wraps', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1024, 4096),
        fc.array(step, { minLength: 1, maxLength: 300 }),
        (capacity, steps) => {
          const buffers = createRingBuffers(capacity);
          const ring = new RingProducer(buffers);
          const main = new RingConsumer(buffers);
          const expected: Delivery[] = [];
          const got: Delivery[] = [];
          const read = (frames: number) => {
            ring.publish();
            for (let n = 0, off = main.next(); n < frames && off >= 0; n++, off = main.next()) {
              const d = decodeDelivery(main.bytes, off);
              // Copied at once: the payload is a view of ring space released below.
              got.push(d.kind === 'msg' ? { ...d, payload: d.payload.slice() } : d);
              main.advance();
            }
            main.release();
          };
          const put = (d: Delivery, pad: number) => {
            const length = deliveryLength(d) + pad;
            let off = ring.reserve(length);
            while (off < 0) {
              read(1); // full: the main thread takes a frame
              off = ring.reserve(length);
            }
            encodeDelivery(d, ring, off, pad);
            ring.commit();
            expected.push(d);
          };
          for (const s of steps) {
            if (s.kind === 'read') {
              read(s.frames);
            } else if (s.kind === 'control') {
              put(s.d, 0);
            } else {
              const d: Delivery = { kind: 'msg', ...s.fields, payload: new Uint8Array(0) };
              const limit = ring.maxBody - deliveryLength(d) - s.pad;
              const n = s.size >= 0 ? Math.min(s.size, limit) : limit + 1 + s.size;
              d.payload = Uint8Array.from({ length: n }, (_, i) => (s.seed + i * 13) & 0xff);
              put(d, s.pad);
            }
          }
          read(Number.POSITIVE_INFINITY);
          expect(got).toEqual(expected);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('continued frames through a small ring', () => {
  type Msg = Extract<Delivery, { kind: 'msg' }>;
  const comparable = (x: unknown) =>
    typeof x === 'number'
      ? x
      : { ...(x as Msg), payload: Buffer.from((x as Msg).payload).toString('base64') };
  const msg = fc.record({
    sid: fc.nat(),
    subject: fc.option(fc.constantFrom('a', 'orders.ü.日本'), { nil: undefined }),
    reply: fc.option(fc.constantFrom('r', '_INBOX.abcdef'), { nil: undefined }),
    headers: fc.option(fc.constantFrom('NATS/1.0\r\n\r\n', 'NATS/1.0\r\nK: ü\r\n\r\n'), {
      nil: undefined,
    }),
    size: fc.oneof(fc.nat(3), fc.nat(20_000)),
    seed: fc.nat(255),
  });

  // CPU-bound (200 runs, ~13 s of CPU here): the default 30 s is not enough at load 12 on 2 cores.
  it('come out whole and in order, whatever wraps, between small frames', {
    timeout: 120_000,
  }, () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1024, 4096),
        fc.array(fc.tuple(msg, fc.nat(300)), { minLength: 1, maxLength: 12 }),
        (capacity, steps) => {
          const buffers = createRingBuffers(capacity);
          const ring = new RingProducer(buffers);
          const main = new RingConsumer(buffers);
          const words = new Int32Array(buffers.data);
          const view = new DeliveryView();
          const expected: unknown[] = [];
          const got: unknown[] = [];
          let open: { head: Omit<Msg, 'payload'>; parts: MsgAssembly } | null = null;
          const read = () => {
            ring.publish();
            for (let off = main.next(); off >= 0; off = main.next()) {
              readDelivery(words, off, view);
              if (view.kind === 'flushAck') {
                expect(open).toBeNull(); // nothing comes between a message's parts
                got.push(view.id);
              } else if (view.kind === 'part') {
                if (open === null) throw new Error('a PART frame without its MSG frame');
                if (open.parts.add(main.bytes, view.payloadStart, off + main.length)) {
                  const { headers, payload } = open.parts;
                  got.push({
                    ...open.head,
                    headers: headers.length ? headers : undefined,
                    payload,
                  });
                  open = null;
                }
              } else {
                expect(view.continued).toBe(true);
                const head: Omit<Msg, 'payload'> = { kind: 'msg', sid: view.sid };
                if (!view.ownSubject) {
                  head.subject = decodeString(main.bytes, view.subjectStart, view.subjectEnd);
                }
                if (view.replyEnd > view.replyStart) {
                  head.reply = decodeString(main.bytes, view.replyStart, view.replyEnd);
                }
                open = { head, parts: new MsgAssembly(view) };
              }
              main.advance();
            }
            main.release();
          };
          const space: FrameSpace = {
            target: ring,
            reserve(length) {
              let off = ring.reserve(length);
              while (off < 0) {
                read(); // full: the main thread takes what is there
                off = ring.reserve(length);
              }
              return off;
            },
            commit: () => ring.commit(),
          };
          for (const [m, id] of steps) {
            // A small frame between, so each message starts somewhere else in the ring.
            const ack: Delivery = { kind: 'flushAck', id };
            encodeDelivery(ack, ring, space.reserve(deliveryLength(ack)));
            ring.commit();
            expected.push(id);
            const d: Msg = {
              kind: 'msg',
              sid: m.sid,
              payload: Uint8Array.from({ length: m.size }, (_, i) => (m.seed + i * 13) & 0xff),
            };
            if (m.subject !== undefined) d.subject = m.subject;
            if (m.reply !== undefined) d.reply = m.reply;
            if (m.headers !== undefined) d.headers = encoder.encode(m.headers);
            encodeContinued(d, space, ring.maxBody);
            expected.push({ ...d, headers: d.headers });
          }
          read();
          expect(open).toBeNull();
          // Payloads as base64: toEqual walks typed arrays element by element, which took this
          // property past the test timeout on a loaded host.
          expect(got.map(comparable)).toEqual(expected.map(comparable));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('MsgAssembly', () => {
  // A continued MSG frame's lengths: 10 header bytes, 1,000 payload bytes, in parts of 300.
  const head = Object.assign(new DeliveryView(), {
    headerStart: 0,
    headerEnd: 10,
    payloadStart: 10,
    payloadEnd: 1010,
  });
  const whole = Uint8Array.from({ length: 1010 }, (_, i) => i & 0xff);
  const feed = (parts: MsgAssembly): boolean[] => {
    const done: boolean[] = [];
    for (let at = 0; at < whole.length; at += 300) {
      done.push(parts.add(whole, at, Math.min(at + 300, whole.length)));
    }
    return done;
  };

  it('assembles headers and payload from the parts, whole at the last', () => {
    const parts = new MsgAssembly(head);
    expect(feed(parts)).toEqual([false, false, false, true]);
    expect(parts.headers).toEqual(whole.subarray(0, 10));
    expect(parts.payload).toEqual(whole.subarray(10));
  });

  it('for a message nobody takes, counts the parts without copying or allocating', () => {
    const parts = new MsgAssembly(head, false);
    expect(feed(parts)).toEqual([false, false, false, true]);
    expect(parts.headers.length + parts.payload.length).toBe(0);
  });
});
