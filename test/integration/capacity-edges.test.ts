// Edges where one call queues two things or something large against the bound (review
// findings): subscribe({ max }) queues a SUB and its UNSUB — both or neither, never an unhandled
// rejection; a large message refused for bytes is retried after writable(), which waits for
// byte room; compat's unsubscribe(max) with a count the core refuses.

import { type Client, ConnectOptions, NatsError } from 'nats-offload';
import { asNatsConnection } from 'nats-offload/compat';
import { afterEach, describe, expect, it } from 'vitest';
import { type NatsServer, startServer } from '../helpers/nats-server.js';
import { withTimeout } from '../helpers/wait.js';

const MiB = 1024 * 1024;
let server: NatsServer | undefined;
const clients: Client[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await server?.stop();
  server = undefined;
});

/** Runs `body`, then one more turn, and returns the unhandled rejections seen meanwhile. */
async function unhandledDuring(body: () => void | Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onUnhandled = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    await body();
    await new Promise((resolve) => setTimeout(resolve, 100));
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  return seen;
}

describe('capacity edges', () => {
  it('subscribe({ max }) where the SUB fits but not its UNSUB: throws, queues neither frame', async () => {
    // Disconnected from the start: everything waits, first in the ring, then on this thread.
    const bound = 6 * MiB;
    const client = await new ConnectOptions()
      .retryOnInitialConnect()
      .maxPendingBytes(bound)
      .connect('nats://127.0.0.1:1');
    clients.push(client);
    // The pending bytes, read from the publisher (no public view of them).
    const { publisher } = (
      client as unknown as {
        parts: { publisher: { overflow: { bytes: number }; ring: { usedBytes(): number } } };
      }
    ).parts;
    // Control frames may pass maxPendingBytes by an allowance of their own (publisher.ts).
    const CONTROL_ALLOWANCE = 64 * 1024;
    const remaining = () =>
      bound + CONTROL_ALLOWANCE - (publisher.overflow.bytes + publisher.ring.usedBytes());
    const chunk = new Uint8Array(32 * 1024);
    while (remaining() > CONTROL_ALLOWANCE + 64 * 1024) client.publish('fill', chunk);
    const subject = 'a'.repeat(remaining() - 17); // SUB (12 + subject) fits; UNSUB (12) does not
    const before = remaining();
    let thrown: unknown;
    const unhandled = await unhandledDuring(() => {
      try {
        client.subscribe(subject, { max: 5 });
      } catch (error) {
        thrown = error;
      }
    });
    expect(unhandled).toEqual([]);
    expect(thrown).toBeInstanceOf(NatsError);
    expect((thrown as NatsError).kind).toBe('clientCapacity');
    expect(remaining()).toBe(before); // nothing queued
  });

  it('a maxPendingBytes below the ring holds in the ring too: refused past it, nothing of it sent', async () => {
    // Disconnected: what is accepted waits, first in the 4 MiB ring.
    const waiting = await new ConnectOptions()
      .retryOnInitialConnect()
      .maxPendingBytes(100_000)
      .connect('nats://127.0.0.1:1');
    clients.push(waiting);
    const payload = new Uint8Array(1000);
    let accepted = 0;
    let refused: unknown;
    for (; accepted < 10_000; accepted++) {
      try {
        waiting.publish('held', payload);
      } catch (error) {
        refused = error;
        break;
      }
    }
    expect((refused as NatsError).kind).toBe('clientCapacity');
    expect(accepted).toBeGreaterThan(80); // ~1 KiB frames up to 100 KB
    expect(accepted).toBeLessThanOrEqual(100);

    // Connected: one message larger than the bound is refused whole.
    server = await startServer();
    const client = await new ConnectOptions().maxPendingBytes(1000).connect(server.url);
    clients.push(client);
    const got: number[] = [];
    client.subscribe('big', { callback: (m) => got.push(m.length) });
    await client.flush();
    let tooLarge: unknown;
    try {
      client.publish('big', new Uint8Array(5000));
    } catch (error) {
      tooLarge = error;
    }
    expect((tooLarge as NatsError).kind).toBe('clientCapacity');
    client.publish('big', new Uint8Array(500));
    await client.flush();
    expect(got).toEqual([500]);
  });

  it('large messages past maxPendingBytes: writable() waits for byte room, one larger than it says so', async () => {
    server = await startServer({ config: 'max_payload: 64MB\nmax_pending: 128MB' });
    const client = await new ConnectOptions().connect(server.url); // maxPendingBytes 64 MiB
    clients.push(client);
    const large = new Uint8Array(40 * MiB);
    client.publish('big', large);
    // The first still waits on this thread: a second would pass the bound, so it is refused
    // and writable() (though only one message waits) resolves once there is room.
    expect(() => client.publish('big', large)).toThrow(
      expect.objectContaining({ kind: 'clientCapacity' }),
    );
    await client.writable();
    client.publish('big', large);
    await client.writable();
    await client.flush();
    expect(client.statistics().outMessages).toBe(2);
    // Larger than maxPendingBytes itself: never sendable at this setting, and the error says so.
    expect(() => client.publish('big', new Uint8Array(64 * MiB - 1024))).toThrow(
      /raise maxPendingBytes/,
    );
  });

  it('calls waiting for answers are bounded: past 131,072 at defaults, flush/rtt/request reject clientCapacity', async () => {
    // Disconnected, nothing awaited: each call waiting held ~500 B of heap while its frame
    // counted a few bytes, and a loop of them ran the process out of memory. CallBound counts
    // 512 B each against maxPendingBytes (64 MiB / 512 = 131,072). A long connectionTimeout:
    // the flushes' own bound while disconnected (2 × connectionTimeout) does not come.
    const client = await new ConnectOptions()
      .retryOnInitialConnect()
      .requestTimeout(null)
      .connectionTimeout(60_000)
      .connect('nats://127.0.0.1:1');
    clients.push(client);
    const bound = 131_072;
    const outcomes: Promise<unknown>[] = [];
    const kindOf = (p: Promise<unknown>) =>
      p.then(
        () => 'resolved',
        (error: NatsError) => error.kind,
      );
    const unhandled = await unhandledDuring(async () => {
      for (let i = 0; i < bound / 2; i++) outcomes.push(kindOf(client.flush()));
      // Half are requests that time out: their room comes back.
      for (let i = 0; i < bound / 2; i++) {
        outcomes.push(kindOf(client.sendRequest('calls.bound', { timeout: 3000 })));
      }
      const refused = await Promise.all([
        kindOf(client.flush()),
        kindOf(client.rtt()),
        kindOf(client.request('calls.bound')),
        kindOf(client.sendRequest('calls.bound', { inbox: client.newInbox() })),
      ]);
      expect(refused).toEqual(Array(4).fill('clientCapacity'));
      expect(() => client.requestMany('calls.bound')).toThrow(/wait for their answers already/);
      await Promise.all(outcomes.slice(bound / 2)); // the requests time out
      outcomes.push(kindOf(client.rtt())); // room again
      await client.close();
    });
    expect(unhandled).toEqual([]);
    const kinds = await Promise.all(outcomes);
    const count = (kind: string) => kinds.filter((k) => k === kind).length;
    expect(count('timedOut')).toBe(bound / 2);
    expect(count('closed')).toBe(bound / 2 + 1); // the flushes and the later rtt()
  });

  it("with as many calls waiting as the bound allows, the drains' own flushes still go", async () => {
    server = await startServer();
    const client = await new ConnectOptions().connect(server.url);
    clients.push(client);
    client.subscribe('silent', { callback: () => {} }); // takes the requests, answers none
    const other = client.subscribe('other');
    await client.flush();
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < 131_072; i++) {
      pending.push(client.sendRequest('silent', { timeout: 20_000 }).catch((e: NatsError) => e));
    }
    expect(await client.flush().catch((e: NatsError) => e.kind)).toBe('clientCapacity');
    // A subscription's drain: its flush is the client's own, never refused.
    await withTimeout(other.drain(), 10_000, "a subscription's drain()");
    expect(await other.closed).toBeUndefined();
    // The compat drain's flush is the user's: refused, and the close writes everything anyway.
    const nc = asNatsConnection(client);
    await withTimeout(nc.drain(), 10_000, 'the compat drain()');
    const kinds = new Set((await Promise.all(pending)).map((e) => (e as NatsError).kind));
    expect([...kinds]).toEqual(['closed']);
  });

  it('compat unsubscribe(max) with a count the core refuses ends the subscription, no unhandled rejection', async () => {
    server = await startServer();
    const client = await new ConnectOptions().connect(server.url);
    clients.push(client);
    const nc = asNatsConnection(client);
    const sub = nc.subscribe('compat.edge');
    const unhandled = await unhandledDuring(() => sub.unsubscribe(1.5));
    expect(unhandled).toEqual([]);
    await sub.closed;
    expect(sub.isClosed()).toBe(true);
  });
});
