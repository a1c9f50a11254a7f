// statistics().droppedMessages (API.md "Guarantees": what is dropped is counted) on the paths
// that drop a received message outside the worker's backlog (slow-consumer.test.ts covers
// that one): an iterator nobody reads, on the caller's thread, and a message too large for the
// delivery ring, in the worker.

import { connect as connectSocket, type Socket } from 'node:net';
import { type Client, ConnectOptions, connect, type Event } from 'nats-offload';
import { afterEach, describe, expect, it } from 'vitest';
import { type NatsServer, startServer } from '../helpers/nats-server.js';
import { waitFor } from '../helpers/wait.js';

let server: NatsServer | undefined;
const clients: Client[] = [];
let socket: Socket | undefined;

afterEach(async () => {
  socket?.destroy();
  socket = undefined;
  for (const c of clients.splice(0)) await c.close();
  await server?.stop();
  server = undefined;
});

/** Publishes with a plain socket: this client refuses messages over 2 MiB itself. */
async function rawPublish(url: string, subject: string, payload: Buffer): Promise<void> {
  const { hostname, port } = new URL(url);
  const s = connectSocket(Number(port), hostname);
  socket = s;
  let read = '';
  s.on('data', (chunk: Buffer) => {
    read += chunk.toString('latin1');
  });
  s.write('CONNECT {"verbose":false,"pedantic":false}\r\n');
  s.write(`PUB ${subject} ${payload.length}\r\n`);
  s.write(payload);
  s.write('\r\nPING\r\n');
  await waitFor(() => read.includes('PONG') || read.includes('-ERR'), 10_000, 'the PONG');
  expect(read).not.toContain('-ERR');
}

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

  it('counts a message too large for the delivery ring, reported as a clientError', async () => {
    server = await startServer({ config: 'max_payload: 8MB' });
    const events: Event[] = [];
    const client = await new ConnectOptions()
      .eventCallback((e) => {
        events.push(e);
      })
      .connect(server.url);
    clients.push(client);
    let received = 0;
    client.subscribe('big', {
      callback: () => {
        received++;
      },
    });
    await client.flush();
    await rawPublish(server.url, 'big', Buffer.alloc(3 * 1024 * 1024, 1));
    await rawPublish(server.url, 'big', Buffer.from('small'));
    await waitFor(() => received === 1, 10_000, 'the small message');
    expect(client.statistics().inMessages).toBe(2);
    expect(client.statistics().droppedMessages).toBe(1);
    expect(events.map((e) => (e.type === 'clientError' ? e.error.kind : e.type))).toContain(
      'maxPayloadExceeded',
    );
  });
});
