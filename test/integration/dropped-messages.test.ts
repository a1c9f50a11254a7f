// statistics().droppedMessages (API.md "Guarantees": what is dropped is counted) on the path
// that drops a received message outside the worker's backlog (slow-consumer.test.ts covers
// that one): an iterator nobody reads, on the caller's thread. (No message is too large for the
// delivery ring any more: large-messages.test.ts.)

import { type Client, ConnectOptions, connect, type Event, HeaderMap } from 'nats-offload';
import { afterEach, describe, expect, it } from 'vitest';
import { type NatsServer, startServer } from '../helpers/nats-server.js';

let server: NatsServer | undefined;
const clients: Client[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await server?.stop();
  server = undefined;
});

describe('statistics().droppedMessages', () => {
  it('counts what an iterator nobody reads drops past subscriptionCapacity', async () => {
    server = await startServer();
    const events: Event[] = [];
    const client = await new ConnectOptions()
      .subscriptionCapacity(5)
      .eventCallback((e) => {
        events.push(e);
      })
      .connect(server.url);
    const peer = await connect(server.url);
    clients.push(client, peer);
    const sub = client.subscribe('unread');
    await client.flush();
    for (let i = 0; i < 20; i++) peer.publish('unread', String(i));
    await peer.flush();
    // The flush's answer comes after the 20 messages: each was queued or dropped by then.
    await client.flush();
    expect(client.statistics().inMessages).toBe(20);
    expect(client.statistics().droppedMessages).toBe(15);
    expect(events.filter((e) => e.type === 'slowConsumer')).toEqual([
      { type: 'slowConsumer', sid: sub.sid },
    ]);
    await sub.unsubscribe();
    const kept: string[] = [];
    for await (const msg of sub) kept.push(msg.string());
    expect(kept).toEqual(['0', '1', '2', '3', '4']);
  });
});

describe('an iterator nobody reads, by bytes', () => {
  it('keeps at most 64 MiB of payloads (subscriptionCapacity not reached), dropping the rest', async () => {
    server = await startServer({ config: 'max_payload: 8MB' });
    const events: Event[] = [];
    const client = await new ConnectOptions()
      .eventCallback((e) => {
        events.push(e);
      })
      .connect(server.url);
    const peer = await connect(server.url);
    clients.push(client, peer);
    const sub = client.subscribe('unread.large');
    await client.flush();
    const payload = new Uint8Array(4 * 1024 * 1024);
    for (let i = 0; i < 20; i++) {
      peer.publish('unread.large', payload); // 80 MiB in all, 20 messages
      await peer.flush();
    }
    await client.flush(); // its answer comes after the 20 messages: each queued or dropped
    expect(client.statistics().inMessages).toBe(20);
    expect(client.statistics().droppedMessages).toBe(4); // 16 × 4 MiB = 64 MiB kept
    expect(events.filter((e) => e.type === 'slowConsumer')).toEqual([
      { type: 'slowConsumer', sid: sub.sid },
    ]);
    let kept = 0;
    await sub.unsubscribe();
    for await (const msg of sub) kept += msg.length;
    expect(kept).toBe(16 * payload.length);
  });

  it('counts header bytes against an iterator queue’s 64 MiB, not only payloads', async () => {
    // Empty payloads, 16 KiB of headers each: 5,000 are ~80 MiB, decoded on this thread.
    server = await startServer();
    const client = await connect(server.url);
    const peer = await connect(server.url);
    clients.push(client, peer);
    const sub = client.subscribe('headers');
    await client.flush();
    const headers = new HeaderMap();
    headers.insert('Big', 'h'.repeat(16 * 1024));
    for (let i = 0; i < 5_000; i++) {
      if (!peer.publishWithHeaders('headers', headers)) await peer.writable();
    }
    await peer.flush();
    await client.flush();
    expect(client.statistics().inMessages).toBe(5_000);
    // 64 MiB hold 4,091 of them (16,403-byte header blocks); the rest is dropped and counted.
    await sub.unsubscribe();
    let kept = 0;
    for await (const _ of sub) kept++;
    expect(kept).toBeLessThanOrEqual(4_091);
    expect(kept + client.statistics().droppedMessages).toBe(5_000);
  });
});
