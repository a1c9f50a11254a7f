// Ending subscriptions: unsubscribeAfter(n) (iterator and callback), unsubscribe(), drain().

import { type Client, ConnectOptions, connect, type Subscriber } from 'nats-offload';
import { describe, expect, it } from 'vitest';
import { kindOf } from '../helpers/errors.js';
import { fileServer } from '../helpers/file-server.js';
import { startServer } from '../helpers/nats-server.js';
import { handshake, startScriptedPeer } from '../helpers/scripted-peer.js';
import { withTimeout } from '../helpers/wait.js';

const file = fileServer();

/** Collects the iterator's payloads until it ends by itself (bounded, so a hang fails). */
function collect(sub: Subscriber, timeoutMs = 5_000): Promise<string[]> {
  return withTimeout(
    (async () => {
      const got: string[] = [];
      for await (const msg of sub) got.push(msg.string());
      return got;
    })(),
    timeoutMs,
    `the iterator of ${sub.subject} to end`,
  );
}

function publishN(c: Client, subject: string, n: number, from = 0): void {
  for (let i = from; i < from + n; i++) c.publish(subject, `m${i}`);
}

const names = (from: number, n: number) => Array.from({ length: n }, (_, i) => `m${from + i}`);

describe('unsubscribeAfter(n)', () => {
  it('ends the iterator by itself after exactly n messages (3n published)', async () => {
    const client = file.keep(await connect(file.server.url));
    const n = 5;
    const sub = client.subscribe('after.iter');
    // A second subscription on the subject proves all 3n messages were delivered.
    const all: string[] = [];
    client.subscribe('after.iter', { callback: (m) => all.push(m.string()) });
    await sub.unsubscribeAfter(n);
    await client.flush();

    publishN(client, 'after.iter', 3 * n);
    const got = await collect(sub);
    await client.flush();

    expect(got).toEqual(names(0, n));
    expect(all).toEqual(names(0, 3 * n));
  });

  it('stops the callback after exactly n messages (3n published)', async () => {
    const client = file.keep(await connect(file.server.url));
    const n = 5;
    const got: string[] = [];
    const sub = client.subscribe('after.cb', { callback: (m) => got.push(m.string()) });
    await sub.unsubscribeAfter(n);
    await client.flush();

    publishN(client, 'after.cb', 3 * n);
    // Every message published before the flush is back before its PONG.
    await client.flush();

    expect(got).toEqual(names(0, n));
  });

  it('counts the messages already received toward n', async () => {
    const client = file.keep(await connect(file.server.url));
    const got: string[] = [];
    const sub = client.subscribe('after.partial', { callback: (m) => got.push(m.string()) });
    await client.flush();
    publishN(client, 'after.partial', 2);
    await client.flush();
    expect(got).toEqual(names(0, 2));

    await sub.unsubscribeAfter(5);
    publishN(client, 'after.partial', 10, 2);
    await client.flush();

    expect(got).toEqual(names(0, 5));
  });

  it('ends at once when the worker already holds n messages, with no traffic after', async () => {
    // The limit is reached in the worker as the UNSUB passes (5 received there, 3 delivered
    // here when unsubscribeAfter(4) is called), so the end travels without a socket chunk.
    const client = file.keep(await connect(file.server.url));
    const got: string[] = [];
    let sub!: Subscriber;
    let limited!: Promise<void>;
    sub = client.subscribe('after.held', {
      callback: (m) => {
        got.push(m.string());
        if (got.length === 3) limited = sub.unsubscribeAfter(4);
      },
    });
    await client.flush();
    publishN(client, 'after.held', 5);
    await client.flush();
    await limited;
    await withTimeout(sub.closed, 2_000, 'the subscription to end');
    expect(got).toEqual(names(0, 4));
  });

  it.each([999_999_999, 1_000_000_000, 2 ** 31 - 1])(
    'keeps delivering under a limit of %i (nats-server parses at most 9 digits)',
    async (n) => {
      const client = file.keep(await connect(file.server.url));
      const sub = client.subscribe('after.large');
      await sub.unsubscribeAfter(n);
      await client.flush();
      publishN(client, 'after.large', 3);
      const it = sub[Symbol.asyncIterator]();
      const got: string[] = [];
      for (let i = 0; i < 3; i++) {
        const next = await withTimeout(it.next(), 5_000, `message ${i} under the limit`);
        got.push(next.value.string());
      }
      expect(got).toEqual(names(0, 3));
    },
  );

  it('rejects a negative count with invalidArgument', async () => {
    const client = file.keep(await connect(file.server.url));
    const sub = client.subscribe('after.bad');
    await expect(sub.unsubscribeAfter(-1)).rejects.toMatchObject({ kind: 'invalidArgument' });
  });
});

describe('on a closed client', () => {
  // API.md: 'closed' for any call on a closed client; they resolved as if they took effect.
  it("unsubscribeAfter(n) and drain() reject with 'closed'; unsubscribe() never rejects", async () => {
    const client = await connect(file.server.url);
    const sub = client.subscribe('closed.sub');
    const drained = client.subscribe('closed.drained');
    await drained.drain();
    await client.close();
    await expect(sub.unsubscribeAfter(5)).rejects.toMatchObject({ kind: 'closed' });
    await expect(sub.drain()).rejects.toMatchObject({ kind: 'closed' });
    await expect(sub.unsubscribe()).resolves.toBeUndefined();
    // A drain that finished before the close keeps its outcome.
    await expect(drained.drain()).resolves.toBeUndefined();
  });

  it('a drain() cut short by close(): a second drain() gets its outcome, not success', async () => {
    // A peer that answers no PING after the handshake: the drain's flush is never acknowledged,
    // so close() cuts it short (against a real server its PONG could win the race).
    const peer = await startScriptedPeer(async (conn) => {
      await handshake(conn);
      for await (const _ of conn.lines()) {
        // silent from here on
      }
    });
    try {
      const client = await connect(peer.url);
      const sub = client.subscribe('closed.cut');
      const first = kindOf(sub.drain()); // handled at once: it settles during close()
      await client.close();
      expect(await first).toBe('closed');
      await expect(sub.drain()).rejects.toMatchObject({ kind: 'closed' });
    } finally {
      await peer.close();
    }
  });
});

describe('unsubscribe()', () => {
  it('stops delivery: nothing published after it arrives', async () => {
    const client = file.keep(await connect(file.server.url));
    const got: string[] = [];
    const control: string[] = [];
    const sub = client.subscribe('unsub.now', { callback: (m) => got.push(m.string()) });
    client.subscribe('unsub.now', { callback: (m) => control.push(m.string()) });
    await client.flush();

    publishN(client, 'unsub.now', 3);
    await client.flush();
    expect(got).toEqual(names(0, 3));

    await sub.unsubscribe();
    publishN(client, 'unsub.now', 3, 3);
    await client.flush();

    expect(got).toEqual(names(0, 3));
    expect(control).toEqual(names(0, 6));
  });

  it('ends a pending iterator', async () => {
    const client = file.keep(await connect(file.server.url));
    const sub = client.subscribe('unsub.iter');
    await client.flush();
    publishN(client, 'unsub.iter', 2);
    await client.flush();

    const iterator = sub[Symbol.asyncIterator]();
    expect((await iterator.next()).value?.string()).toBe('m0');
    expect((await iterator.next()).value?.string()).toBe('m1');
    const pending = iterator.next();
    await sub.unsubscribe();
    expect(await withTimeout(pending, 2_000, 'the pending next()')).toMatchObject({ done: true });
  });
});

describe('drain()', () => {
  it('delivers what was published before it, then ends the iterator', async () => {
    const client = file.keep(await connect(file.server.url));
    const sub = client.subscribe('drain.me');
    await client.flush();

    publishN(client, 'drain.me', 10);
    const iterated = collect(sub);
    await withTimeout(sub.drain(), 5_000, 'drain()');
    const got = await iterated;

    expect(got).toEqual(names(0, 10));
  });

  it('delivers messages that were already received but not yet iterated', async () => {
    const client = file.keep(await connect(file.server.url));
    const sub = client.subscribe('drain.queued');
    await client.flush();
    publishN(client, 'drain.queued', 10);
    await client.flush(); // all 10 are queued in the subscriber now

    await withTimeout(sub.drain(), 5_000, 'drain()');
    expect(await collect(sub)).toEqual(names(0, 10));
  });
});

describe('client.drain()', () => {
  it('delivers what is on its way to every subscription, then closes cleanly', async () => {
    const server = await startServer();
    try {
      const events: string[] = [];
      const c = await new ConnectOptions()
        .eventCallback((e) => {
          events.push(e.type);
        })
        .connect(server.url);
      const got: string[] = [];
      c.subscribe('drain.a', { callback: (m) => got.push(m.string()) });
      const it = c.subscribe('drain.b');
      const fromIterator = (async () => {
        const all: string[] = [];
        for await (const m of it) all.push(m.string());
        return all;
      })();
      await c.flush();
      for (let i = 0; i < 500; i++) {
        c.publish('drain.a', `a${i}`);
        c.publish('drain.b', `b${i}`);
      }
      await c.drain();
      expect(got).toEqual(Array.from({ length: 500 }, (_, i) => `a${i}`));
      expect(await fromIterator).toEqual(Array.from({ length: 500 }, (_, i) => `b${i}`));
      expect(await c.closed()).toBeUndefined();
      expect(c.connectionState()).toBe('closed');
      expect(events.indexOf('draining')).toBeGreaterThanOrEqual(0);
      expect(events.indexOf('draining')).toBeLessThan(events.indexOf('closed'));
      await expect(c.drain()).rejects.toMatchObject({ kind: 'closed' });
    } finally {
      await server.stop();
    }
  });
});

describe('unsubscribeAfter with a slow consumer', () => {
  it('still ends the iterator when messages were dropped on the way', async () => {
    const server = await startServer();
    try {
      const c = await new ConnectOptions().subscriptionCapacity(10).connect(server.url);
      try {
        const sub = c.subscribe('slow.after');
        await sub.unsubscribeAfter(50);
        await c.flush();
        for (let i = 0; i < 50; i++) c.publish('slow.after', String(i));
        await c.flush(); // all 50 have been through: 10 queued for the iterator, 40 dropped
        const got: string[] = [];
        await withTimeout(
          (async () => {
            for await (const m of sub) got.push(m.string());
          })(),
          5_000,
          'the iterator to end after its limit',
        );
        expect(got.length).toBeGreaterThan(0);
        expect(got.length).toBeLessThan(50);
        expect(got).toEqual(got.map((_, i) => String(i))); // the first ones, in order
      } finally {
        await c.close();
      }
    } finally {
      await server.stop();
    }
  });
});
