// Command frames (shared/frames/command.ts): every kind survives encode → decode, and random
// sequences of publishes and control commands written by the Publisher (PUB records grown
// from several messages, aligned payloads, the overflow while the ring is full) come out of a
// small ring, wrapping, as they went in; messages larger than a record (continued across
// records) come out whole once their parts are joined, as the worker joins them.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Publisher } from '../../src/main/publisher.js';
import {
  type Command,
  commandLength,
  decodeCommand,
  encodeCommand,
  pubFrameLength,
} from '../../src/shared/frames/command.js';
import { hpubLength, pubLength } from '../../src/shared/protocol/encode.js';
import { utf8Length } from '../../src/shared/protocol/utf8.js';
import { createRingBuffers } from '../../src/shared/ring/byte-ring.js';
import { RingConsumer } from '../../src/shared/ring/ring-consumer.js';
import { RingProducer } from '../../src/shared/ring/ring-producer.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function roundTrip(cmd: Command, at = 12): Command {
  // Every bit set, as stale ring bytes may have them: a field or flag a writer leaves unwritten
  // reads back as set.
  const bytes = new Uint8Array(at + commandLength(cmd) + 8).fill(0xff);
  encodeCommand(cmd, bytes, at);
  return decodeCommand(bytes, at, commandLength(cmd));
}

describe('command frames round trip', () => {
  const wire = encoder.encode('PUB a 2\r\nhi\r\nHPUB b r 12 12\r\nNATS/1.0\r\n\r\n\r\n');
  const commands: [string, Command][] = [
    ['PUB of two messages', { kind: 'pub', count: 2, wire, echo: false }],
    ['PUB that comes back to this client', { kind: 'pub', count: 2, wire, echo: true }],
    [
      'PUB part continued in the next record',
      { kind: 'pub', count: 0, wire, echo: true, continues: true },
    ],
    ['SUB', { kind: 'sub', sid: 1, subject: 'orders.*' }],
    ['SUB with a queue group', { kind: 'sub', sid: 2 ** 32 - 1, subject: '>', queue: 'workers' }],
    [
      'SUB of the shared request inbox',
      { kind: 'sub', sid: 3, subject: '_INBOX.a.*', replies: true },
    ],
    [
      'SUB with UTF-8 subject and group',
      { kind: 'sub', sid: 7, subject: 'grüße.日本', queue: 'é' },
    ],
    ['UNSUB now', { kind: 'unsub', sid: 3, max: 0 }],
    ['UNSUB after n', { kind: 'unsub', sid: 3, max: 2 ** 31 - 1 }],
    ['FLUSH', { kind: 'flush', id: 0 }],
    ['FLUSH with the largest id', { kind: 'flush', id: 2 ** 32 - 1 }],
  ];
  for (const [name, cmd] of commands) {
    it(name, () => expect(roundTrip(cmd)).toEqual(cmd));
  }

  it('refuses a frame no writer makes', () => {
    expect(() => decodeCommand(new Uint8Array(16).fill(9), 0, 16)).toThrow(/no control command/);
  });
});

/** One message as published, and as read back out of a PUB record's wire bytes. */
interface Msg {
  subject: string;
  reply?: string;
  headers?: string;
  payload: Uint8Array;
}

/** Splits a PUB record's wire bytes into messages (blanks before a size are padding). */
function parseWire(wire: Uint8Array): Msg[] {
  const out: Msg[] = [];
  let p = 0;
  while (p < wire.length) {
    const lf = wire.indexOf(0x0a, p);
    const [op, ...args] = decoder.decode(wire.subarray(p, lf - 1)).split(/ +/);
    p = lf + 1;
    const headerBytes = op === 'HPUB' ? Number(args[args.length - 2]) : 0;
    const total = Number(args[args.length - 1]);
    const names = args.slice(0, op === 'HPUB' ? -2 : -1);
    const msg: Msg = { subject: names[0], payload: wire.slice(p + headerBytes, p + total) };
    if (names.length > 1) msg.reply = names[1];
    if (op === 'HPUB') msg.headers = decoder.decode(wire.subarray(p, p + headerBytes));
    out.push(msg);
    expect(decoder.decode(wire.subarray(p + total, p + total + 2))).toBe('\r\n');
    p += total + 2;
  }
  return out;
}

/**
 * A payload size, how far below the ring's record limit the message is, or how far above it
 * (continued across records).
 */
type Size = { n: number } | { below: number } | { over: number };

type Step =
  | { kind: 'pub'; msg: Omit<Msg, 'payload'>; size: Size; skew: number }
  | { kind: 'control'; cmd: Exclude<Command, { kind: 'pub' }> }
  | { kind: 'publishNow' }
  | { kind: 'read'; records: number };

const token = fc.constantFrom('a', 'orders', 'ü', '日本', 'x1', 'é-é');
const subject = fc.array(token, { minLength: 1, maxLength: 4 }).map((t) => t.join('.'));
/** Empty, small, around the alignment threshold (256 B), and up to the record limit. */
const size: fc.Arbitrary<Size> = fc
  .oneof(fc.constant(0), fc.nat(40), fc.integer({ min: 250, max: 600 }))
  .map((n) => ({ n }));
const nearLimit: fc.Arbitrary<Size> = fc.nat(8).map((below) => ({ below }));
/** Just over the limit, and several rings' worth. */
const overLimit: fc.Arbitrary<Size> = fc
  .oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 9, max: 30_000 }))
  .map((over) => ({ over }));

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('pub' as const),
      msg: fc.record(
        {
          subject,
          reply: subject.map((s) => `_INBOX.${s}`),
          headers: fc.constantFrom('NATS/1.0\r\n\r\n', 'NATS/1.0\r\nK: ü\r\n\r\n'),
        },
        { requiredKeys: ['subject'] },
      ),
      size: fc.oneof(
        { weight: 8, arbitrary: size },
        { weight: 1, arbitrary: nearLimit },
        { weight: 1, arbitrary: overLimit },
      ),
      skew: fc.nat(7),
    }),
  },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.record({ kind: fc.constant('sub' as const), sid: fc.nat(), subject }),
        fc.record({ kind: fc.constant('sub' as const), sid: fc.nat(), subject, queue: token }),
        fc.record({ kind: fc.constant('unsub' as const), sid: fc.nat(), max: fc.nat() }),
        fc.record({ kind: fc.constant('flush' as const), id: fc.nat() }),
      )
      .map((cmd) => ({ kind: 'control' as const, cmd })),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'publishNow' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('read' as const), records: fc.nat(6) }) },
);

/** Largest payload of `msg`'s shape whose PUB/HPUB fits one ring record. */
function maxPayload(ring: RingProducer, msg: Omit<Msg, 'payload'>): number {
  const s = utf8Length(msg.subject);
  const r = msg.reply ? utf8Length(msg.reply) : 0;
  const h = msg.headers ? utf8Length(msg.headers) : 0;
  const wire = (n: number) => (msg.headers ? hpubLength(s, r, h, n) : pubLength(s, r, n));
  let n = ring.maxBody - pubFrameLength(0);
  while (wire(n) > ring.maxBody - pubFrameLength(0)) n--;
  return n;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('command frames through a small ring', () => {
  it('grow one PUB record from publishes in a row', () => {
    const buffers = createRingBuffers(4096);
    const publisher = new Publisher(new RingProducer(buffers), 1 << 30, 1 << 30);
    for (let i = 0; i < 10; i++)
      publisher.pub('s', 1, undefined, 0, encoder.encode(`m${i}`), false);
    publisher.publishNow();
    const worker = new RingConsumer(buffers);
    const cmd = decodeCommand(worker.bytes, worker.next(), worker.length);
    expect(cmd.kind === 'pub' && cmd.count).toBe(10);
    expect(cmd.kind === 'pub' && parseWire(cmd.wire).map((m) => decoder.decode(m.payload))).toEqual(
      Array.from({ length: 10 }, (_, i) => `m${i}`),
    );
  });

  it('come out in order, as written, whatever wraps, grows or waits', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(4096, 8192),
        fc.array(step, { minLength: 1, maxLength: 300 }),
        async (capacity, steps) => {
          const buffers = createRingBuffers(capacity);
          const producer = new RingProducer(buffers);
          const publisher = new Publisher(producer, 1 << 30, 1 << 30);
          const worker = new RingConsumer(buffers);
          const expected: unknown[] = [];
          const got: unknown[] = [];
          /** Parts of a continued message read so far (the worker's copies). */
          let parts: Uint8Array[] = [];
          const read = (records: number) => {
            for (let n = 0, off = worker.next(); n < records && off >= 0; n++) {
              const cmd = decodeCommand(worker.bytes, off, worker.length);
              if (cmd.kind === 'pub' && (cmd.continues || parts.length > 0)) {
                // Nothing but the next part may follow a part that continues.
                parts.push(cmd.wire.slice());
                expect(cmd.count).toBe(cmd.continues ? 0 : 1);
                if (!cmd.continues) {
                  const msgs = parseWire(new Uint8Array(Buffer.concat(parts)));
                  expect(msgs.length).toBe(1);
                  got.push(...msgs);
                  parts = [];
                }
              } else if (cmd.kind === 'pub') {
                const msgs = parseWire(cmd.wire);
                expect(msgs.length).toBe(cmd.count);
                got.push(...msgs);
              } else {
                got.push(cmd);
              }
              worker.advance();
              off = worker.next();
            }
            worker.release();
          };
          for (const s of steps) {
            if (s.kind === 'pub') {
              const { msg } = s;
              const length =
                'n' in s.size
                  ? s.size.n
                  : 'below' in s.size
                    ? maxPayload(producer, msg) - s.size.below
                    : maxPayload(producer, msg) + s.size.over;
              const source = new Uint8Array(length + 8).map((_, i) => (i * 7 + length) & 0xff);
              const payload = source.subarray(s.skew, s.skew + length);
              const sent: Msg = { ...msg, payload: payload.slice() };
              const s8 = utf8Length(msg.subject);
              const r8 = msg.reply ? utf8Length(msg.reply) : 0;
              if (msg.headers !== undefined) {
                publisher.hpub(
                  msg.subject,
                  s8,
                  msg.reply,
                  r8,
                  encoder.encode(msg.headers),
                  payload,
                  false,
                );
              } else {
                publisher.pub(msg.subject, s8, msg.reply, r8, payload, false);
              }
              expected.push(sent);
            } else if (s.kind === 'control') {
              publisher.control(s.cmd);
              expected.push(s.cmd);
            } else if (s.kind === 'publishNow') {
              publisher.publishNow();
            } else {
              read(s.records);
              await nextTurn(); // the publisher's wait for space resolves
            }
          }
          while (publisher.waiting > 0 || worker.next() >= 0) {
            read(100);
            await nextTurn();
          }
          publisher.publishNow();
          read(Number.POSITIVE_INFINITY);
          expect(got).toEqual(expected);
        },
      ),
      { numRuns: 150 },
    );
  });
});
