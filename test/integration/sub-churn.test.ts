// Short-lived subscriptions while disconnected: a subscription made and ended before its SUB
// left the caller's thread owes the server nothing, so neither is kept nor sent (nats.js drops
// such pairs too); what is kept is what the server must still be told, in order.

import { type Client, ConnectOptions } from 'nats-offload';
import { afterEach, describe, expect, it } from 'vitest';
import { type NatsServer, startServer } from '../helpers/nats-server.js';
import { waitFor } from '../helpers/wait.js';

const servers: NatsServer[] = [];
const clients: Client[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) await s.stop();
});

describe('subscribe() and unsubscribe() while disconnected', () => {
  it('send nothing for the pairs that cancel out; the subscriptions kept work after the reconnect', async () => {
    const first = await startServer();
    const { port } = first;
    const client = await new ConnectOptions().reconnectDelayCallback(() => 100).connect(first.url);
    clients.push(client);
    await first.stop();
    await waitFor(() => client.connectionState() === 'disconnected', 10_000, 'disconnected');
    // A million pairs: ~36 MB of SUB, UNSUB and fence PINGs on the wire if all were kept.
    const PAIRS = 1_000_000;
    const got: string[] = [];
    client.subscribe('kept.first', { callback: (m) => got.push(m.string()) });
    for (let i = 0; i < PAIRS; i++) {
      const sub = client.subscribe(`gone.${i % 1000}`, { callback: () => got.push('gone') });
      await sub.unsubscribe();
    }
    client.subscribe('kept.last', { callback: (m) => got.push(m.string()) });
    const outBefore = client.statistics().outBytes;
    servers.push(await startServer({ port }));
    await waitFor(() => client.connectionState() === 'connected', 10_000, 'reconnected');
    await client.flush();
    // What filled the command ring before the caller's thread held the rest (4 MiB at most)
    // went out; the pairs that waited on this thread did not.
    expect(client.statistics().outBytes - outBefore).toBeLessThan(6 * 1024 * 1024);
    for (const subject of ['gone.1', 'kept.first', 'kept.last']) client.publish(subject, subject);
    await client.flush();
    await waitFor(() => got.length >= 2, 5_000, 'the kept subscriptions');
    expect(got).toEqual(['kept.first', 'kept.last']);
  }, 60_000);
});
