// A blocked main thread must not lose the connection: the worker keeps reading the socket
// (PING/PONG flow), holds at most subscriptionCapacity messages for a subscription, drops the
// rest and reports one coalesced slowConsumer event (DESIGN.md principle 3).

import { type Client, ConnectOptions, type Event } from 'nats-offload';
import { afterAll, describe, expect, it } from 'vitest';
import { runNodeScript } from '../helpers/child.js';
import { type NatsServer, startServer } from '../helpers/nats-server.js';

let server: NatsServer | undefined;
let client: Client | undefined;

afterAll(async () => {
  await client?.close();
  await server?.stop();
});

function blockMainThread(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // busy: no timers, no I/O, no dispatching on this thread
  }
}

describe('a blocked main thread', () => {
  it('keeps the connection, bounds the subscription and reports one slowConsumer', async () => {
    server = await startServer();
    const COUNT = 300_000;
    const CAPACITY = 10_000;
    const events: Event[] = [];
    client = await new ConnectOptions()
      .pingInterval(500) // stale after ~1-1.5 s without PONGs: well within the 3 s block
      .subscriptionCapacity(CAPACITY)
      .eventCallback((e) => {
        events.push(e);
      })
      .connect(server.url);
    let received = 0;
    const sub = client.subscribe('flood', {
      callback: () => {
        received++;
      },
    });
    await client.flush();

    const flood = runNodeScript(
      `import { connect } from 'nats-offload';
       const c = await connect(${JSON.stringify(server.url)});
       const p = new Uint8Array(16);
       for (let i = 0; i < ${COUNT}; i++) if (!c.publish('flood', p)) await c.writable();
       await c.flush();
       await c.close();
       console.log('sent');`,
      { timeoutMs: 20_000 },
    );
    // Block until the publisher has certainly finished (it needs well under a second here).
    await new Promise((resolve) => setTimeout(resolve, 100));
    blockMainThread(3_000);
    const result = await flood;
    expect(result.stdout).toContain('sent');
    await client.flush();

    expect(client.connectionState()).toBe('connected');
    expect(client.statistics().connects).toBe(1); // never reconnected while blocked
    expect(client.statistics().inMessages).toBe(COUNT); // the worker read everything
    const slow = events.filter((e) => e.type === 'slowConsumer');
    expect(slow).toEqual([{ type: 'slowConsumer', sid: sub.sid }]);
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(COUNT);
  }, 30_000);
});
