// The worker's outbound pump with messages continued across command-ring records: each large
// message reaches the socket whole, in one write call (so nothing the session writes between
// calls, a PING or a PONG, can land inside it), in order with the small messages around it,
// counted once, through a ring a fraction of its size.

import { describe, expect, it } from 'vitest';
import { Publisher } from '../../src/main/publisher.js';
import { createRingBuffers } from '../../src/shared/ring/byte-ring.js';
import { RingConsumer } from '../../src/shared/ring/ring-consumer.js';
import { RingProducer } from '../../src/shared/ring/ring-producer.js';
import type { PingPurpose } from '../../src/worker/flow-control.js';
import { OutboundPump, type OutboundSink } from '../../src/worker/outbound.js';
import { SubscriptionTable } from '../../src/worker/subscriptions.js';

const decoder = new TextDecoder('latin1');
const MiB = 1024 * 1024;

/** A sink that keeps each write call's bytes as one string, the messages counted, the PINGs. */
function recordingSink(): OutboundSink & {
  calls: string[];
  messages: number;
  pings: [PingPurpose, number][];
} {
  const sink = {
    calls: [] as string[],
    messages: 0,
    pings: [] as [PingPurpose, number][],
    write(bytes: Uint8Array) {
      sink.calls.push(decoder.decode(bytes));
      return true;
    },
    writeAll(chunks: Uint8Array[]) {
      sink.calls.push(chunks.map((c) => decoder.decode(c)).join(''));
      return true;
    },
    pingQueued(purpose: PingPurpose, messagesBefore: number) {
      sink.pings.push([purpose, messagesBefore]);
    },
    published(count: number) {
      sink.messages += count;
    },
    echoWritten() {},
    batchDone() {},
  };
  return sink;
}

function payload(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => 0x61 + ((i + seed) % 26));
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('OutboundPump with continued records', () => {
  it('writes each large message whole in one call, in order, through a 1 MiB ring', async () => {
    const buffers = createRingBuffers(MiB);
    const publisher = new Publisher(new RingProducer(buffers), 1 << 30, 1 << 30);
    const pump = new OutboundPump(new RingConsumer(buffers), new SubscriptionTable(() => {}));
    const sink = recordingSink();
    const sent = [payload(3, 0), payload(3 * MiB, 1), payload(5, 2), payload(MiB + 1, 3)];
    for (const p of sent) publisher.pub('s', 1, undefined, 0, p, false);
    publisher.publishNow();
    // The ring holds a third of the first large message: the rest waits on the publisher's
    // side and moves in as the pump frees space.
    for (let turn = 0; turn < 1000 && sink.messages < sent.length; turn++) {
      pump.pump(sink);
      await nextTurn();
    }
    expect(sink.messages).toBe(sent.length);
    const wires = sent.map((p) => `PUB s ${p.length}\r\n${decoder.decode(p)}\r\n`);
    expect(sink.calls.join('')).toBe(wires.join(''));
    for (const large of [wires[1], wires[3]]) {
      expect(sink.calls.some((call) => call.includes(large))).toBe(true);
    }
  });

  it('drops the parts it holds when discarded, counting the message once', () => {
    const buffers = createRingBuffers(MiB);
    const publisher = new Publisher(new RingProducer(buffers), 1 << 30, 1 << 30);
    const pump = new OutboundPump(new RingConsumer(buffers), new SubscriptionTable(() => {}));
    const sink = recordingSink();
    publisher.pub('s', 1, undefined, 0, payload(3 * MiB, 0), false);
    publisher.publishNow();
    pump.pump(sink); // takes the parts the ring holds; the last one waits on the publisher
    expect(sink.calls).toEqual([]);
    expect(pump.discard()).toBe(0); // the message is counted where its last part waits
    expect(publisher.waitingMessages).toBe(1);
  });
});

describe('OutboundPump copy batches', () => {
  // A batch's copy buffer is sized to the bytes published up to the ring's end: what follows
  // the wrap goes into the next batch, whole and in order.
  it('sends small messages that straddle the ring’s end whole and in order', () => {
    const KiB = 1024;
    const buffers = createRingBuffers(64 * KiB);
    const publisher = new Publisher(new RingProducer(buffers), 1 << 30, 1 << 30);
    const pump = new OutboundPump(new RingConsumer(buffers), new SubscriptionTable(() => {}));
    const wires: string[] = [];
    const sink = recordingSink();
    const send = (count: number, seed: number) => {
      for (let i = 0; i < count; i++) {
        const p = payload(900, seed + i);
        publisher.pub('s', 1, undefined, 0, p, false);
        publisher.publishNow(); // a record per message: small records are copied, not viewed
        wires.push(`PUB s ${p.length}\r\n${decoder.decode(p)}\r\n`);
      }
      pump.pump(sink);
    };
    send(60, 0); // the ring's write position ends a few KiB before its end
    send(20, 60); // these wrap
    expect(sink.messages).toBe(80);
    // The publisher may pad a PUB line with spaces (to align the payload in the ring).
    expect(sink.calls.join('').replace(/PUB s +/g, 'PUB s ')).toBe(wires.join(''));
  });
});

describe('OutboundPump PINGs', () => {
  it("tells each PING's place among the batch's messages: what its PONG acknowledges", () => {
    const buffers = createRingBuffers(MiB);
    const publisher = new Publisher(new RingProducer(buffers), 1 << 30, 1 << 30);
    const pump = new OutboundPump(new RingConsumer(buffers), new SubscriptionTable(() => {}));
    const sink = recordingSink();
    publisher.pub('s', 1, undefined, 0, payload(3, 0), false);
    publisher.pub('s', 1, undefined, 0, payload(3, 1), false);
    publisher.control({ kind: 'flush', id: 1 });
    publisher.pub('s', 1, undefined, 0, payload(3, 2), false);
    publisher.control({ kind: 'flush', id: 2 });
    publisher.publishNow();
    pump.pump(sink);
    expect(sink.calls).toHaveLength(1); // one batch
    expect(sink.calls[0].match(/PUB|PING/g)).toEqual(['PUB', 'PUB', 'PING', 'PUB', 'PING']);
    expect(sink.pings).toEqual([
      [{ kind: 'flush', id: 1 }, 2],
      [{ kind: 'flush', id: 2 }, 3],
    ]);
  });
});

describe('OutboundPump after a server with a smaller max_payload', () => {
  it('leaves out the messages larger than it, whole or continued, and counts them once', () => {
    const buffers = createRingBuffers(4 * MiB);
    const publisher = new Publisher(new RingProducer(buffers), 1 << 30, 1 << 30);
    const table = new SubscriptionTable(() => {});
    table.subscribe(1, '_INBOX.t.*', undefined, true); // the shared request inbox
    table.subscribe(2, 'own.inbox', undefined); // a request's own
    const pump = new OutboundPump(new RingConsumer(buffers), table);
    const sink = recordingSink();
    pump.serverTakes(2 * MiB, true); // publishes were checked against this one
    publisher.pub('s', 1, undefined, 0, payload(3, 0), false);
    publisher.control({ kind: 'flush', id: 7 });
    // Requests, continued (too large) and not (too large), then a publish whose reply nobody
    // here subscribes to (not a request of this client's).
    publisher.pub('s', 1, '_INBOX.t.2s', 11, payload(1500 * 1024, 1), false);
    publisher.pub('s', 1, undefined, 0, payload(4, 2), false);
    publisher.pub('s', 1, 'own.inbox', 9, payload(300 * 1024, 3), false);
    publisher.pub('s', 1, 'theirs', 6, payload(300 * 1024, 3), false);
    publisher.pub('s', 1, undefined, 0, payload(256 * 1024, 4), false); // fits exactly
    publisher.control({ kind: 'flush', id: 8 });
    publisher.publishNow();
    pump.serverTakes(256 * 1024, true); // the next server's
    while (pump.pump(sink) !== 'empty');
    const wire = sink.calls.join('').replace(/PUB s +/g, 'PUB s ');
    expect(wire.match(/PUB s \d+/g)).toEqual(['PUB s 3', 'PUB s 4', `PUB s ${256 * 1024}`]);
    expect(sink.messages).toBe(3);
    // The flush before them can still be proven; the one after them cannot. The requests fail.
    expect(pump.takeRefused()).toEqual({
      tooLarge: 3,
      withHeaders: 0,
      afterFlush: 7,
      limit: 256 * 1024,
      requests: [
        { sid: 1, id: 100, withHeaders: false },
        { sid: 2, id: -1, withHeaders: false },
      ],
    });
    expect(pump.takeRefused()).toBeUndefined();
  });

  it('leaves out a continued message whose first parts it had copied before the limit shrank', async () => {
    const buffers = createRingBuffers(MiB);
    const publisher = new Publisher(new RingProducer(buffers), 1 << 30, 1 << 30);
    const pump = new OutboundPump(new RingConsumer(buffers), new SubscriptionTable(() => {}));
    const sink = recordingSink();
    pump.serverTakes(8 * MiB, true);
    publisher.pub('s', 1, undefined, 0, payload(3 * MiB, 0), false);
    publisher.publishNow();
    pump.pump(sink); // copies the parts the 1 MiB ring holds; the rest wait on the publisher
    expect(sink.calls).toEqual([]);
    pump.serverTakes(MiB, true); // the next server's
    // The rest moves into the ring as the pump frees space.
    for (let turn = 0; turn < 1000 && publisher.waitingMessages > 0; turn++) {
      pump.pump(sink);
      await nextTurn();
    }
    pump.pump(sink);
    expect(sink.calls).toEqual([]);
    expect(sink.messages).toBe(0);
    expect(pump.takeRefused()).toEqual({
      tooLarge: 1,
      withHeaders: 0,
      afterFlush: 0,
      limit: MiB,
      requests: [],
    });
  });

  it('writes nothing for a record whose every message is left out', () => {
    const buffers = createRingBuffers(MiB);
    const publisher = new Publisher(new RingProducer(buffers), 1 << 30, 1 << 30);
    const pump = new OutboundPump(new RingConsumer(buffers), new SubscriptionTable(() => {}));
    const sink = recordingSink();
    pump.serverTakes(MiB, true);
    publisher.pub('s', 1, undefined, 0, payload(300 * 1024, 0), false);
    publisher.publishNow();
    pump.serverTakes(256 * 1024, true);
    expect(pump.pump(sink)).toBe('empty');
    expect(sink.calls).toEqual([]);
    expect(pump.takeRefused()).toEqual({
      tooLarge: 1,
      withHeaders: 0,
      afterFlush: 0,
      limit: 256 * 1024,
      requests: [],
    });
  });
});

describe('OutboundPump after a server without headers', () => {
  const block = new TextEncoder().encode('NATS/1.0\r\nA: b\r\n\r\n');

  it('leaves out the messages with headers, whole or continued, and writes the others in order', () => {
    const buffers = createRingBuffers(4 * MiB);
    const publisher = new Publisher(new RingProducer(buffers), 1 << 30, 1 << 30);
    const table = new SubscriptionTable(() => {});
    table.subscribe(1, '_INBOX.t.*', undefined, true); // the shared request inbox
    const pump = new OutboundPump(new RingConsumer(buffers), table);
    const sink = recordingSink();
    // Accepted before the caller's thread heard of the server: with headers, in one record
    // with messages without, and one large enough to be continued across records.
    publisher.pub('s', 1, undefined, 0, payload(3, 0), false);
    publisher.hpub('s', 1, undefined, 0, block, payload(5, 1), false);
    publisher.control({ kind: 'flush', id: 4 });
    publisher.pub('s', 1, undefined, 0, payload(4, 2), false);
    publisher.hpub('s', 1, '_INBOX.t.b', 10, block, payload(1500 * 1024, 3), false);
    publisher.pub('s', 1, undefined, 0, payload(6, 4), false);
    publisher.publishNow();
    pump.serverTakes(MiB, false);
    while (pump.pump(sink) !== 'empty');
    const wire = sink.calls.join('').replace(/PUB s +/g, 'PUB s ');
    expect(wire).not.toContain('HPUB');
    expect(wire.match(/PUB s \d+/g)).toEqual(['PUB s 3', 'PUB s 4', 'PUB s 6']);
    expect(sink.messages).toBe(3);
    // The flush after the first one left out cannot be proven.
    expect(pump.takeRefused()).toEqual({
      tooLarge: 0,
      withHeaders: 2,
      afterFlush: 0,
      limit: MiB,
      requests: [{ sid: 1, id: 11, withHeaders: true }],
    });
    // A server with headers again: they go out as they are.
    pump.serverTakes(MiB, true);
    publisher.hpub('s', 1, undefined, 0, block, payload(7, 5), false);
    publisher.publishNow();
    pump.pump(sink);
    expect(sink.calls.at(-1)).toMatch(/^HPUB s +\d+ \d+\r\n/);
    expect(pump.takeRefused()).toBeUndefined();
  });
});
