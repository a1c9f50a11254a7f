// Delivery frames from the worker's Inbound to the main thread's Dispatcher: payloads of any
// size, at any offset of the socket chunk, with and without a reply, arrive intact, and a
// large payload lands in the ring at its socket offset mod 8 (filler before it), so its copy
// runs by words.

import { describe, expect, it } from 'vitest';
import { Dispatcher } from '../../src/main/dispatcher.js';
import type { Message } from '../../src/main/message.js';
import { Subscriber } from '../../src/main/subscriber.js';
import {
  DLV_HEAD,
  DLV_PAD_MASK,
  DLV_PAD_SHIFT,
  DLV_SHORT_HEADER_BYTES,
  DLV_SHORT_PAYLOAD_LEN,
} from '../../src/shared/layout.js';
import type { MsgView } from '../../src/shared/protocol/parser.js';
import { createRingBuffers, RingConsumer, RingProducer } from '../../src/shared/ring/byte-ring.js';
import { Inbound } from '../../src/worker/inbound.js';
import { newSubscription } from '../../src/worker/subscriptions.js';

const SUBJECT = 'sub.ject';
const SIZES = [0, 5, 128, 256, 257, 1000, 20_000];

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
      },
      payload: buf.slice(start, start + size),
      reply,
    };
  });
}

function newInbound(producer: RingProducer): Inbound {
  return new Inbound(producer, 1000, { slowConsumer() {}, oversized() {}, caughtUp() {} });
}

describe('delivery frames', () => {
  it('put payloads over 256 B at their socket offset mod 8', () => {
    const buffers = createRingBuffers(1 << 20);
    const inbound = newInbound(new RingProducer(buffers));
    const sent = chunkOfMessages(false);
    const subscription = newSubscription(1, Buffer.from(`SUB ${SUBJECT} 1\r\n`));
    for (const { msg } of sent) inbound.deliver(msg, subscription);
    inbound.publish();
    const ring = new RingConsumer(buffers);
    let i = 0;
    for (let off = ring.next(); off >= 0; off = ring.next(), i++) {
      const head = ring.view.getUint32(off + DLV_HEAD, true);
      const pad = ((head >>> 8) & 0xff & DLV_PAD_MASK) >> DLV_PAD_SHIFT;
      const size = ring.view.getUint32(off + DLV_SHORT_PAYLOAD_LEN, true);
      const at = off + DLV_SHORT_HEADER_BYTES + pad;
      const { msg, payload } = sent[i];
      expect(size).toBe(payload.length);
      if (size > 256) expect(at % 8).toBe((msg.buf.byteOffset + msg.payloadStart) % 8);
      else expect(pad).toBe(0);
      expect(ring.bytes.slice(at, at + size)).toEqual(payload);
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
        unsubscribe() {},
        slowConsumer() {},
        drainSubscription: () => Promise.resolve(),
      };
      const subscriber = new Subscriber(owner, 1, SUBJECT, undefined, (m) => received.push(m), 1);
      const dispatcher = new Dispatcher(new RingConsumer(buffers), {
        subscription: () => subscriber,
        flushAcked() {},
        deliveryError(error) {
          throw error;
        },
      });
      const subscription = newSubscription(1, Buffer.from(`SUB ${SUBJECT} 1\r\n`));
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
});
