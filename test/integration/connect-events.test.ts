// The initial 'connected' event (API.md: eventCallback "receives every Event"; async-nats emits
// Connected for the first connection too): it has reached the eventCallback, after any event
// before it, by the time connect() resolves, so code after `await connect()` can rely on having
// heard it; a status() reader started after connect() does not get it (status() is "from now on").

import { ConnectOptions, connect, type Event } from 'nats-offload';
import { describe, expect, it } from 'vitest';
import { fileServer } from '../helpers/file-server.js';

const file = fileServer();

describe('the initial connected event', () => {
  it('has run the eventCallback when connect() resolves, every time', async () => {
    for (let i = 0; i < 20; i++) {
      const events: Event['type'][] = [];
      const client = await new ConnectOptions()
        .eventCallback((e) => {
          events.push(e.type);
        })
        .connect(file.server.url);
      file.keep(client);
      expect(events, `connection ${i}`).toEqual(['connected']);
      expect(client.serverInfo().serverId).not.toBe('');
      await client.close();
    }
  });

  it('comes after the events before it, all heard when connect() resolves', async () => {
    const events: Event[] = [];
    const client = await new ConnectOptions()
      // Asked before the first attempt too: an address not in the pool is a clientError.
      .reconnectToServerCallback(async () => ({ addr: 'nats://127.0.0.1:1' }))
      .eventCallback((e) => {
        events.push(e);
      })
      .connect(file.server.url);
    file.keep(client);
    expect(events.map((e) => (e.type === 'clientError' ? e.error.kind : e.type))).toEqual([
      'serverNotInPool',
      'connected',
    ]);
  });

  it('is not given to a status() reader started after connect()', async () => {
    for (let i = 0; i < 10; i++) {
      const client = await connect(file.server.url);
      file.keep(client);
      const reader = client.status()[Symbol.asyncIterator]();
      await client.forceReconnect();
      const first = await reader.next();
      expect(first.value?.type, `connection ${i}`).toBe('disconnected');
      await client.close();
    }
  });
});
