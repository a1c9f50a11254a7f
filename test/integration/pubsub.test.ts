// Publish/subscribe against a real nats-server: volume and ordering, the iterator form,
// wildcards, reply subjects, noEcho, two clients, statistics and server info.

import { type Client, ConnectOptions, type Message } from 'nats-offload';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ECHO_WINDOW_BYTES } from '../../src/worker/flow-control.js';
import { type NatsServer, startServer, stopAll } from '../helpers/nats-server.js';
import { EventLog, waitFor, withTimeout } from '../helpers/wait.js';

let server: NatsServer;
const clients: Client[] = [];

beforeAll(async () => {
  server = await startServer();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await server?.stop();
  await stopAll();
});

async function open(options = new ConnectOptions()): Promise<Client> {
  const client = await options.connect(server.url);
  clients.push(client);
  return client;
}

/** Sequence number in the first 4 bytes (little-endian), canary in the last byte. */
function stamp(buf: Uint8Array, seq: number): void {
  buf[0] = seq & 0xff;
  buf[1] = (seq >>> 8) & 0xff;
  buf[2] = (seq >>> 16) & 0xff;
  buf[3] = (seq >>> 24) & 0xff;
  buf[buf.length - 1] = (seq * 7) & 0xff;
}

function seqOf(payload: Uint8Array): number {
  return (payload[0] | (payload[1] << 8) | (payload[2] << 16) | (payload[3] << 24)) >>> 0;
}

describe('publish and subscribe on one client', () => {
  it('delivers 1,000,000 × 128-byte messages to a callback, all in order, none twice', async () => {
    const N = 1_000_000;
    const SIZE = 128;
    // The callback runs on this thread, so the publisher must give it turns: the documented
    // writable() loop, plus a flush per batch. A flush resolves only after every message sent
    // before it was dispatched, which bounds what can pile up to one batch, well below
    // subscriptionCapacity: a drop is then a bug, and fails the test at once.
    const BATCH = 50_000;
    const events = new EventLog();
    let dropped!: (error: Error) => void;
    const slowConsumer = new Promise<never>((_, reject) => {
      dropped = reject;
    });
    const client = await open(
      new ConnectOptions().eventCallback((event) => {
        events.callback(event);
        if (event.type === 'slowConsumer')
          dropped(new Error(`slowConsumer after ${received} messages`));
      }),
    );

    let received = 0;
    let next = 0;
    let firstProblem: string | undefined;
    let resolveDone!: () => void;
    const done = new Promise<void>((resolve) => {
      resolveDone = resolve;
    });
    client.subscribe('bulk.seq', {
      callback: (msg) => {
        const seq = seqOf(msg.payload);
        if (
          firstProblem === undefined &&
          (seq !== next ||
            msg.length !== SIZE ||
            msg.payload[SIZE - 1] !== ((seq * 7) & 0xff) ||
            msg.subject !== 'bulk.seq')
        ) {
          firstProblem = `message #${received}: seq ${seq} (expected ${next}), length ${msg.length}, subject ${msg.subject}`;
        }
        next = seq + 1;
        if (++received === N) resolveDone();
      },
    });
    await client.flush(); // the SUB is registered before the first PUB

    const payload = new Uint8Array(SIZE);
    for (let i = 0; i < N; i++) {
      stamp(payload, i);
      if (!client.publish('bulk.seq', payload)) await client.writable();
      if ((i + 1) % BATCH === 0) await Promise.race([client.flush(), slowConsumer]);
    }
    await withTimeout(
      Promise.race([done, slowConsumer]),
      50_000,
      `all ${N} messages (received ${received})`,
    );
    // Nothing more arrives after the last one: a duplicate would come before this flush's PONG.
    await client.flush();

    expect(firstProblem).toBeUndefined();
    expect(received).toBe(N);
    expect(next).toBe(N);
    expect(events.types()).not.toContain('slowConsumer');
    const stats = client.statistics();
    expect(stats.outMessages).toBe(N);
    expect(stats.inMessages).toBe(N);
  }, 60_000);

  it('a client flooding its own subscription with only writable() pauses loses nothing', async () => {
    // No flushes: what bounds the pile-up is the worker holding the client's publishes back
    // while its deliveries wait on this thread, and the send window bounding what is on its
    // way through the server. Past subscriptionCapacity it would drop.
    const N = 2_000_000;
    let dropped = false;
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const client = await open(
      new ConnectOptions().eventCallback((event) => {
        if (event.type === 'slowConsumer') {
          dropped = true;
          finish();
        }
      }),
    );
    let received = 0;
    client.subscribe('flood.self', {
      callback: () => {
        if (++received === N) finish();
      },
    });
    await client.flush();
    // Messages sent and not yet back: at most the send window's worth (150 wire bytes each,
    // plus the frame that may cross its end). Without the window this reached 150 k.
    let mostInFlight = 0;
    const sampler = setInterval(() => {
      const { outMessages, inMessages } = client.statistics();
      mostInFlight = Math.max(mostInFlight, outMessages - inMessages);
    }, 10);
    const payload = new Uint8Array(128);
    try {
      for (let i = 0; i < N && !dropped; i++) {
        if (!client.publish('flood.self', payload)) await client.writable();
      }
      await withTimeout(finished, 60_000, `all ${N} messages (received ${received})`);
    } finally {
      clearInterval(sampler);
    }
    expect(dropped).toBe(false);
    expect(received).toBe(N);
    expect(mostInFlight).toBeGreaterThan(0);
    expect(mostInFlight).toBeLessThanOrEqual((ECHO_WINDOW_BYTES + 64 * 1024) / 150);
  }, 90_000);

  it('a busy service still gets its replies out while requests queue up behind it', async () => {
    // 2000 requests arrive at once. The service's first handler publishes its reply, then keeps
    // its thread busy until the observer has that reply (or 10 s passed). The reply goes to a
    // subject this client does not subscribe to, so holding it back while requests wait (what
    // protects a self-publishing client) would only delay it.
    const service = await open();
    const observer = await open();
    const N = 2_000;
    let handled = 0;
    let replyArrivedDuringHandler = false;
    let replies = 0;
    observer.subscribe('svc.replies', {
      callback: () => {
        replies++;
      },
    });
    await observer.flush();
    service.subscribe('svc.requests', {
      callback: () => {
        service.publish('svc.replies', 'done');
        if (handled++ === 0) {
          void service.flush(); // makes the reply visible to the worker now, not after this task
          const deadline = performance.now() + 10_000;
          while (observer.statistics().inMessages === 0 && performance.now() < deadline) {
            // the handler's own work; the observer's counters are shared memory
          }
          replyArrivedDuringHandler = observer.statistics().inMessages > 0;
        }
      },
    });
    await service.flush();
    const payload = new Uint8Array(128);
    for (let i = 0; i < N; i++) observer.publish('svc.requests', payload);
    await observer.flush();
    await waitFor(() => handled === N && replies === N, 30_000, 'all requests handled');
    expect(replyArrivedDuringHandler).toBe(true);
  }, 60_000);

  it('delivers ~10,000 messages through the async iterator, in order', async () => {
    const N = 10_000;
    const client = await open();
    const sub = client.subscribe('iter.seq');
    await sub.unsubscribeAfter(N);
    await client.flush();

    const payload = new Uint8Array(32);
    for (let i = 0; i < N; i++) {
      stamp(payload, i);
      if (!client.publish('iter.seq', payload)) await client.writable();
    }

    const seqs: number[] = [];
    await withTimeout(
      (async () => {
        for await (const msg of sub) seqs.push(seqOf(msg.payload));
      })(),
      20_000,
      'the iterator to end after N messages',
    );
    expect(seqs.length).toBe(N);
    expect(seqs.every((seq, i) => seq === i)).toBe(true);
  });

  it('routes wildcard subscriptions: foo.* one token, foo.> one or more', async () => {
    const client = await open();
    const star: string[] = [];
    const tail: string[] = [];
    const exact: Message[] = [];
    const starSub = client.subscribe('foo.*', { callback: (m) => star.push(m.subject) });
    client.subscribe('foo.>', { callback: (m) => tail.push(m.subject) });
    client.subscribe('foo.a', { callback: (m) => exact.push(m) });
    await client.flush();

    for (const subject of ['foo.a', 'foo.b', 'foo.a.b', 'foo', 'bar.a', 'foo.x.y.z']) {
      client.publish(subject, subject);
    }
    // Own messages come back before the PONG of a flush sent after them.
    await client.flush();

    expect(starSub.subject).toBe('foo.*');
    expect(star).toEqual(['foo.a', 'foo.b']);
    expect(tail).toEqual(['foo.a', 'foo.b', 'foo.a.b', 'foo.x.y.z']);
    expect(exact.map((m) => [m.subject, m.string()])).toEqual([['foo.a', 'foo.a']]);
  });

  it('passes the reply subject of publishWithReply to the receiver', async () => {
    const client = await open();
    const got: Message[] = [];
    client.subscribe('svc.echo', { callback: (m) => got.push(m) });
    await client.flush();

    expect(client.publishWithReply('svc.echo', 'answers.here.1', 'question')).toBe(true);
    client.publish('svc.echo', 'no reply');
    await client.flush();

    expect(got.map((m) => [m.subject, m.reply, m.string()])).toEqual([
      ['svc.echo', 'answers.here.1', 'question'],
      ['svc.echo', undefined, 'no reply'],
    ]);
  });
});

describe('two clients', () => {
  it('a noEcho client does not get its own messages but gets another client', async () => {
    const quiet = await open(new ConnectOptions().noEcho());
    const other = await open();
    const got: string[] = [];
    quiet.subscribe('echo.test', { callback: (m) => got.push(m.string()) });
    await quiet.flush();

    quiet.publish('echo.test', 'from quiet');
    // With echo on, the message would be back before this flush resolves.
    await quiet.flush();
    other.publish('echo.test', 'from other');
    await other.flush();
    await waitFor(() => got.length >= 1, 5_000, 'the other client message');
    await quiet.flush();

    expect(got).toEqual(['from other']);
  });

  it('a client with echo on does get its own messages (control for noEcho)', async () => {
    const loud = await open();
    const got: string[] = [];
    loud.subscribe('echo.control', { callback: (m) => got.push(m.string()) });
    await loud.flush();
    loud.publish('echo.control', 'from loud');
    await loud.flush();
    expect(got).toEqual(['from loud']);
  });

  it('one client publishes, the other receives everything in order', async () => {
    const N = 500;
    const subscriber = await open();
    const publisher = await open();
    const seqs: number[] = [];
    subscriber.subscribe('two.clients', { callback: (m) => seqs.push(seqOf(m.payload)) });
    await subscriber.flush(); // the SUB is registered on the server

    const payload = new Uint8Array(16);
    for (let i = 0; i < N; i++) {
      stamp(payload, i);
      publisher.publish('two.clients', payload);
    }
    await publisher.flush();
    // The server routed every PUB before the publisher's PONG; the subscriber's PONG follows them.
    await subscriber.flush();

    expect(seqs.length).toBe(N);
    expect(seqs.every((seq, i) => seq === i)).toBe(true);
  });
});

describe('statistics and server info', () => {
  it('statistics() counts the messages and bytes of a known exchange', async () => {
    const client = await open();
    const COUNT = 10;
    const SIZE = 100;
    client.subscribe('stats.count', { callback: () => {} });
    await client.flush();
    const before = client.statistics();
    expect(before.connects).toBe(1);

    for (let i = 0; i < COUNT; i++) client.publish('stats.count', new Uint8Array(SIZE));
    await client.flush();
    // The worker stores its counters a moment after the flush's PONG may be seen (see the next
    // test); wait for them, then check they are exact.
    await waitFor(
      () => client.statistics().inMessages - before.inMessages >= COUNT,
      2_000,
      'inMessages to count the exchange',
    );
    const after = client.statistics();

    expect(after.outMessages - before.outMessages).toBe(COUNT);
    expect(after.inMessages - before.inMessages).toBe(COUNT);
    // Each PUB line carries the payload plus "PUB stats.count 100\r\n" and a CRLF.
    const pubLine = `PUB stats.count ${SIZE}\r\n`.length + SIZE + 2;
    expect(after.outBytes - before.outBytes).toBeGreaterThanOrEqual(COUNT * pubLine);
    // Each MSG adds "MSG stats.count 1 100\r\n", then the PONG of the flush.
    const msgLine = `MSG stats.count 1 ${SIZE}\r\n`.length + SIZE + 2;
    expect(after.inBytes - before.inBytes).toBeGreaterThanOrEqual(COUNT * msgLine);
    expect(after.connects).toBe(1);
  });

  it('statistics() already counts every message delivered before a flush resolved', async () => {
    // Counters are read without a round trip, so a user who saw a message (and the flush after
    // it) expects the counters to include it. Repeated: a one-off check would miss a race.
    const client = await open();
    let delivered = 0;
    client.subscribe('stats.race', {
      callback: () => {
        delivered++;
      },
    });
    await client.flush();
    const base = client.statistics();
    const ROUNDS = 1_000;
    const lagging: string[] = [];
    for (let i = 1; i <= ROUNDS; i++) {
      client.publish('stats.race', 'x');
      await client.flush();
      const stats = client.statistics();
      if (stats.inMessages - base.inMessages !== delivered) {
        lagging.push(
          `#${i}: delivered ${delivered}, inMessages ${stats.inMessages - base.inMessages}`,
        );
      }
    }
    expect(delivered).toBe(ROUNDS);
    expect(lagging.slice(0, 3).join('; ')).toBe('');
  });

  it('serverInfo() reports the server version and isServerCompatible compares it', async () => {
    const client = await open();
    const info = client.serverInfo();
    expect(info.version).toBe('2.9.10');
    expect(info.maxPayload).toBe(1024 * 1024);
    expect(client.isServerCompatible(2, 9, 0)).toBe(true);
    expect(client.isServerCompatible(2, 9, 10)).toBe(true);
    expect(client.isServerCompatible(2, 9, 11)).toBe(false);
    expect(client.isServerCompatible(2, 10, 0)).toBe(false);
    expect(client.isServerCompatible(99, 0, 0)).toBe(false);
  });
});

describe('mixed message sizes', () => {
  it('large frames (sent as ring views) and small ones (copied) arrive intact and in order', async () => {
    // Its own server, stopped (SIGSTOP) below until the publisher meets back-pressure: the
    // socket backs up, the worker's writes of ring views stay pending, and the publisher fills
    // the ring around them. A separate receiver, so that nothing but the socket holds the
    // publisher back (its own echo would be gated by flow control first).
    const paused = await startServer();
    // A small clientCapacity: publish() says false soon after the ring is full, not only after
    // 2,048 messages wait on this thread (the socket buffers take megabytes first).
    const client = await new ConnectOptions().clientCapacity(16).connect(paused.url);
    const receiver = await new ConnectOptions().connect(paused.url);
    clients.push(client, receiver);
    const COUNT = 3_000;
    // Seeded sizes from 0 B to 64 KiB, so batches mix copied frames and zero-copy views.
    let seed = 0x9e3779b9;
    const nextRandom = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x100000000;
    };
    const sizes = Array.from({ length: COUNT }, () =>
      nextRandom() < 0.3 ? Math.floor(nextRandom() * 65_536) : Math.floor(nextRandom() * 200),
    );
    // Payloads start at every offset mod 8 of it: the publisher pads PUB lines with blanks to
    // align them in the ring, which the server must read as one separator.
    const scratch = new Uint8Array(65_536 + 8);
    const fill = (i: number, into = new Uint8Array(sizes[i])) => {
      const p = into.subarray(0, sizes[i]);
      for (let j = 0; j < p.length; j++) p[j] = (i * 31 + j * 7) & 0xff;
      return p;
    };
    let received = 0;
    let firstProblem: string | undefined;
    const done = new Promise<void>((resolve) => {
      receiver.subscribe('mixed', {
        callback: (msg) => {
          const expected = fill(received);
          if (firstProblem === undefined && Buffer.compare(msg.payload, expected) !== 0) {
            firstProblem = `message #${received}: ${msg.length} bytes, expected ${expected.length}`;
          }
          if (++received === COUNT) resolve();
        },
      });
    });
    await receiver.flush();
    let stopped = false;
    let backPressureWhileStopped = false;
    try {
      for (let i = 0; i < COUNT; i++) {
        if (i === COUNT / 3) {
          process.kill(paused.pid, 'SIGSTOP');
          stopped = true;
        }
        // One buffer, refilled for every message: publish() must have copied what it was given.
        if (!client.publish('mixed', fill(i, scratch.subarray(i & 7)))) {
          if (stopped) {
            backPressureWhileStopped = true;
            process.kill(paused.pid, 'SIGCONT');
            stopped = false;
          }
          await client.writable();
        }
      }
      await withTimeout(done, 30_000, `all ${COUNT} messages (received ${received})`);
    } finally {
      if (stopped) process.kill(paused.pid, 'SIGCONT');
      await paused.stop();
    }
    expect(backPressureWhileStopped).toBe(true); // the path this test is about was taken
    expect(firstProblem).toBeUndefined();
    expect(received).toBe(COUNT);
  }, 60_000);
});
