// API.md "Guarantees": memory is bounded by bytes, not only by counts, on both threads — also
// behind asNatsConnection(client). A compat subscription's iterator and requestMany's replies
// wait in the core's bounded queue (subscriptionCapacity messages and 64 MiB), so what an
// unread iterator cannot hold is dropped, counted and signalled; status() keeps the newest
// statuses of a reader that falls behind, as Client.status() does.

import type { Msg, Status, Subscription } from '@nats-io/nats-core';
import { type Client, ConnectOptions, connect } from 'nats-offload';
import { asNatsConnection } from 'nats-offload/compat';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_MOVED_UNREAD } from '../../src/compat/subscription.js';
import { READER_CAPACITY } from '../../src/main/status.js';
import { type NatsServer, startServer } from '../helpers/nats-server.js';
import { waitFor, withTimeout } from '../helpers/wait.js';

let server: NatsServer | undefined;
const clients: Client[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await server?.stop();
  server = undefined;
});

async function compatWith(options: ConnectOptions, config?: string) {
  server = await startServer({ config });
  const client = await options.connect(server.url);
  const peer = await connect(server.url);
  clients.push(client, peer);
  return { client, peer, nc: asNatsConnection(client) };
}

/** The next `n` messages of `iterator`, as strings (fewer if it ends first). */
async function take(iterator: AsyncIterator<{ string(): string }>, n: number): Promise<string[]> {
  const out: string[] = [];
  while (out.length < n) {
    const next = await iterator.next();
    if (next.done) break;
    out.push(next.value.string());
  }
  return out;
}

const numbers = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => String(from + i));

describe('a compat subscription iterator nobody reads', () => {
  it('keeps subscriptionCapacity messages, counts and signals the rest; then reads in order', async () => {
    const { client, peer, nc } = await compatWith(new ConnectOptions().subscriptionCapacity(5));
    const statuses: Status[] = [];
    void (async () => {
      for await (const s of nc.status()) statuses.push(s);
    })();
    const sub = nc.subscribe('unread');
    await nc.flush();
    for (let i = 0; i < 20; i++) peer.publish('unread', String(i));
    await peer.flush();
    await client.flush(); // its answer comes after the 20 messages: each queued or dropped
    expect(client.statistics().inMessages).toBe(20);
    expect(client.statistics().droppedMessages).toBe(15);
    expect(sub.getPending()).toBe(5);
    await waitFor(() => statuses.some((s) => s.type === 'slowConsumer'), 5_000, 'slowConsumer');
    const slow = statuses.filter((s) => s.type === 'slowConsumer');
    expect(slow).toHaveLength(1);
    expect((slow[0] as { sub: Subscription }).sub).toBe(sub);

    const iterator = sub[Symbol.asyncIterator]();
    expect(await take(iterator, 5)).toEqual(numbers(0, 5));
    // Caught up: what comes next (as much as the queue holds) is read in order, none dropped.
    for (let i = 20; i < 25; i++) peer.publish('unread', String(i));
    await peer.flush();
    await client.flush();
    expect(await take(iterator, 5)).toEqual(numbers(20, 25));
    expect(client.statistics().droppedMessages).toBe(15);
    expect(sub.getProcessed()).toBe(10);
    expect(sub.getPending()).toBe(0);
  });

  it('keeps at most 64 MiB of payloads, dropping the rest', async () => {
    const { client, peer, nc } = await compatWith(new ConnectOptions(), 'max_payload: 8MB');
    const sub = nc.subscribe('unread.large');
    await nc.flush();
    const payload = new Uint8Array(4 * 1024 * 1024);
    for (let i = 0; i < 20; i++) {
      payload[0] = i;
      peer.publish('unread.large', payload); // 80 MiB in all, 20 messages
      await peer.flush();
    }
    await client.flush(); // its answer comes after the 20 messages: each queued or dropped
    expect(client.statistics().inMessages).toBe(20);
    expect(client.statistics().droppedMessages).toBe(4); // 16 × 4 MiB = 64 MiB kept
    sub.unsubscribe();
    const kept: number[] = [];
    for await (const msg of sub) kept.push(msg.data[0]);
    expect(kept).toEqual(Array.from({ length: 16 }, (_, i) => i));
  });
});

describe('a compat subscription moved (_resub) again and again, not read', () => {
  it(`keeps the queues of the last ${MAX_MOVED_UNREAD} it moved away from, then reads them in order`, async () => {
    const { peer, nc } = await compatWith(new ConnectOptions());
    const sub = nc.subscribe('moved.0');
    await nc.flush();
    const MOVES = MAX_MOVED_UNREAD * 3;
    for (let i = 0; i <= MOVES; i++) {
      if (i > 0) {
        nc._resub(sub, `moved.${i}`);
        await nc.flush(); // the server has the new SUB
      }
      peer.publish(`moved.${i}`, String(i));
      await peer.flush();
      await nc.flush(); // the message is queued before the next move
    }
    expect(sub.getReceived()).toBe(MOVES + 1);
    expect(sub.getPending()).toBe(MAX_MOVED_UNREAD + 1);
    sub.unsubscribe();
    const got: string[] = [];
    for await (const msg of sub) got.push(msg.string());
    expect(got).toEqual(numbers(MOVES - MAX_MOVED_UNREAD, MOVES + 1));
  });
});

describe('compat requestMany replies nobody reads', () => {
  it('wait in the same bounded queue: the rest are dropped and counted', async () => {
    const { client, peer, nc } = await compatWith(new ConnectOptions().subscriptionCapacity(5));
    peer.subscribe('flood', {
      callback: (msg) => {
        for (let i = 0; i < 20; i++) msg.respond(String(i));
      },
    });
    await peer.flush();
    const replies = await nc.requestMany('flood', '', { strategy: 'count', maxMessages: 20 });
    await waitFor(() => client.statistics().inMessages === 20, 10_000, 'the 20 replies');
    await client.flush(); // the replies are on this thread by its answer
    expect(client.statistics().droppedMessages).toBe(15);
    const got: string[] = [];
    for await (const msg of replies) got.push(msg.string());
    expect(got).toEqual(numbers(0, 5));
  });
});

describe('compat requestMany nobody iterates', () => {
  it('settles iterClosed at maxWait, as nats.js does; the replies can still be read', async () => {
    const { peer, nc } = await compatWith(new ConnectOptions());
    peer.subscribe('once', { callback: (msg) => msg.respond('only') });
    await peer.flush();
    for (const opts of [
      { maxWait: 300 },
      { strategy: 'count' as const, maxMessages: 5, maxWait: 300 },
      { strategy: 'stall' as const, maxWait: 300, stall: 100 },
    ]) {
      // nats.js types it as an AsyncIterable; its QueuedIteratorImpl has iterClosed, as ours.
      const replies = (await nc.requestMany('once', '', opts)) as AsyncIterable<Msg> & {
        iterClosed: Promise<Error | undefined>;
      };
      await expect(withTimeout(replies.iterClosed, 2_000, 'iterClosed')).resolves.toBeUndefined();
      if (opts.strategy === 'stall') continue; // ended here, by its own timer
      const got: string[] = [];
      for await (const msg of replies) got.push(msg.string());
      expect(got).toEqual(['only']);
    }
  });
});

describe('compat status() nobody reads', () => {
  it(`keeps the newest ${READER_CAPACITY} statuses, in order`, async () => {
    const { client, peer, nc } = await compatWith(new ConnectOptions());
    const statuses = nc.status(); // opened, not read until the end
    const COUNT = READER_CAPACITY * 2;
    let calls = 0;
    client.subscribe('throws', {
      callback: (msg) => {
        calls++;
        throw msg.string(); // each one a clientError event: an 'error' status
      },
    });
    await client.flush();
    for (let i = 0; i < COUNT; i++) peer.publish('throws', String(i));
    await peer.flush();
    await waitFor(() => calls === COUNT, 10_000, 'every callback');
    await client.close();
    const errors: number[] = [];
    let read = 0;
    let last: Status | undefined;
    for await (const s of statuses) {
      read++;
      last = s;
      if (s.type === 'error') errors.push(Number((s.error as Error).cause));
    }
    expect(last?.type).toBe('close');
    // The newest READER_CAPACITY, no fewer: the last errors, then the close.
    expect(read).toBe(READER_CAPACITY);
    expect(errors.length).toBeGreaterThanOrEqual(READER_CAPACITY - 2);
    expect(errors.at(-1)).toBe(COUNT - 1);
    expect(errors).toEqual(numbers(COUNT - errors.length, COUNT).map(Number));
  });
});
