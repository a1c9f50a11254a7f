// The subject a message arrives with is the one the server sent, also on a subscription
// without wildcards: the server sends other subjects on such a sid too (JetStream push
// deliveries to an inbox carry the stream's subjects). Only a MSG whose subject bytes are the
// subscription's own may leave its subject out of the delivery frame.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Client, connect, type Message } from 'nats-offload';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startServer, stopAll } from '../helpers/nats-server.js';
import { handshake, type ScriptedPeer, startScriptedPeer } from '../helpers/scripted-peer.js';
import { waitFor } from '../helpers/wait.js';

let peer: ScriptedPeer | undefined;
let client: Client | undefined;

afterEach(async () => {
  await client?.close();
  client = undefined;
  await peer?.close();
  peer = undefined;
});

afterAll(stopAll);

describe('a subscription without wildcards', () => {
  it('delivers each MSG with the subject the server sent on its sid', async () => {
    // Same length, different bytes; shorter; longer; multi-byte UTF-8; its own subject.
    const sent = ['orders.new', 'orders.nex', 'orders.ne', 'orders.newer', 'orders.né', 'x.y'];
    peer = await startScriptedPeer(async (conn) => {
      await handshake(conn);
      for await (const line of conn.lines()) {
        if (line === 'SUB orders.new 1') {
          for (const subject of sent) conn.send(`MSG ${subject} 1 2\r\nhi\r\n`);
        }
        if (line === 'PING') conn.send('PONG\r\n');
      }
    });
    client = await connect(peer.url);
    const got: Message[] = [];
    client.subscribe('orders.new', { callback: (m) => got.push(m) });
    await waitFor(() => got.length === sent.length, 5_000, `${sent.length} messages`);
    expect(got.map((m) => m.subject)).toEqual(sent);
  });

  it('delivers JetStream push messages with their stream subjects', async () => {
    const store = await mkdtemp(path.join(os.tmpdir(), 'nats-offload-js-'));
    const server = await startServer({ config: `jetstream { store_dir: "${store}" }` });
    try {
      client = await connect(server.url);
      const got: Message[] = [];
      client.subscribe('deliver.orders', { callback: (m) => got.push(m) });
      const api = async (subject: string, body: unknown) => {
        const reply = (await client!.request(subject, JSON.stringify(body))).json() as {
          error?: unknown;
        };
        expect(reply.error).toBeUndefined();
      };
      await api('$JS.API.STREAM.CREATE.ORDERS', {
        name: 'ORDERS',
        subjects: ['orders.>'],
        storage: 'memory',
      });
      await api('$JS.API.CONSUMER.CREATE.ORDERS', {
        stream_name: 'ORDERS',
        config: { deliver_subject: 'deliver.orders', ack_policy: 'none' },
      });
      client.publish('orders.one', '1');
      client.publish('orders.two', '2');
      await waitFor(() => got.length === 2, 5_000, 'two JetStream deliveries');
      expect(got.map((m) => [m.subject, m.string()])).toEqual([
        ['orders.one', '1'],
        ['orders.two', '2'],
      ]);
    } finally {
      await client?.close();
      client = undefined;
      await server.stop();
      await rm(store, { recursive: true, force: true });
    }
  });
});
