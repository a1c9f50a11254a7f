// API.md "Every promise settles": the caller's callbacks that the connection waits on
// (reconnectDelayCallback, reconnectToServerCallback, authCallback) are bounded by
// connectionTimeout and then count as a failed attempt; and a subscription callback that
// transfers its payload's buffer to another thread does not break delivery.

import { MessageChannel } from 'node:worker_threads';
import { Auth, type Client, ConnectOptions, connect, type Event, NatsError } from 'nats-offload';
import { afterEach, describe, expect, it } from 'vitest';
import { type NatsServer, startServer } from '../helpers/nats-server.js';
import { waitFor } from '../helpers/wait.js';

const servers: NatsServer[] = [];
const clients: Client[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) await s.stop();
});

const never = () => new Promise<never>(() => {});

function callbackErrors(events: Event[]): string[] {
  return events.flatMap((e) =>
    e.type === 'clientError' && e.error.kind === 'callback' ? [e.error.message] : [],
  );
}

describe('callbacks that never settle', () => {
  for (const which of ['reconnectDelayCallback', 'reconnectToServerCallback'] as const) {
    it(`a ${which} that never settles delays a reconnect by connectionTimeout, not forever`, async () => {
      const server = await startServer();
      servers.push(server);
      const events: Event[] = [];
      let calls = 0;
      const options = new ConnectOptions().connectionTimeout(300).eventCallback((e) => {
        events.push(e);
      });
      if (which === 'reconnectDelayCallback') {
        options.reconnectDelayCallback(() => {
          calls++;
          return never();
        });
      } else {
        options.reconnectToServerCallback(() => {
          calls++;
          return never();
        });
      }
      const client = await options.connect(server.url);
      clients.push(client);
      await server.stop();
      servers.length = 0;
      await waitFor(() => client.connectionState() === 'disconnected', 10_000, 'disconnected');
      servers.push(await startServer({ port: server.port }));
      await waitFor(() => client.connectionState() === 'connected', 15_000, 'the reconnect');
      expect(calls).toBeGreaterThan(0);
      expect(callbackErrors(events).some((m) => m.includes(which))).toBe(true);
    }, 30_000);
  }

  it('an authCallback that never settles fails connect() with kind callback', async () => {
    const server = await startServer();
    servers.push(server);
    const started = performance.now();
    const error = await new ConnectOptions()
      .connectionTimeout(300)
      .authCallback(never)
      .connect(server.url)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NatsError);
    expect((error as NatsError).kind).toBe('callback');
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  // Its bound is connectionTimeout (8 s here); close() does not wait for it (it took the
  // worker's exit timeout, 3 s: the callback's timer held the closed worker up).
  for (const which of [
    'reconnectDelayCallback',
    'reconnectToServerCallback',
    'authCallback',
  ] as const) {
    it(`close() while ${which} is pending resolves at once`, async () => {
      const server = await startServer();
      servers.push(server);
      let asked!: () => void;
      const pending = new Promise<void>((resolve) => {
        asked = resolve;
      });
      let armed = false;
      const hang = <T>(value: T): T | Promise<T> => {
        if (!armed) return value;
        asked();
        return never();
      };
      const options = new ConnectOptions().connectionTimeout(8_000);
      if (which === 'reconnectDelayCallback') options.reconnectDelayCallback(() => hang(0));
      else if (which === 'reconnectToServerCallback')
        options.reconnectToServerCallback(() => hang(null));
      else options.authCallback(() => hang(new Auth()));
      const client = await options.connect(server.url);
      armed = true;
      await client.forceReconnect();
      await pending; // the worker waits for the callback now
      const started = performance.now();
      await client.close();
      expect(performance.now() - started).toBeLessThan(1_500);
      expect(await client.closed()).toBeUndefined();
    });
  }

  // The server stays up: without the count, the default choice after the timeout reconnects.
  for (const which of ['reconnectDelayCallback', 'reconnectToServerCallback'] as const) {
    it(`a ${which} that never settles is a failed attempt maxReconnects counts`, async () => {
      const server = await startServer();
      servers.push(server);
      const events: Event[] = [];
      let hang = false;
      const options = new ConnectOptions()
        .connectionTimeout(300)
        .maxReconnects(1)
        .eventCallback((e) => {
          events.push(e);
        });
      if (which === 'reconnectDelayCallback') {
        options.reconnectDelayCallback(() => (hang ? never() : 0));
      } else {
        options.reconnectToServerCallback(() => (hang ? never() : null));
      }
      const client = await options.connect(server.url);
      clients.push(client);
      hang = true;
      await client.forceReconnect();
      const closed = await client.closed();
      expect(closed).toBeInstanceOf(NatsError);
      expect((closed as NatsError).kind).toBe('maxReconnects');
      expect(callbackErrors(events).some((m) => m.includes(which))).toBe(true);
      expect(events.filter((e) => e.type === 'connected')).toHaveLength(1);
    }, 20_000);
  }
});

describe('a reconnect callback that gives a delay no timer can take', () => {
  // API.md: durations are integers 0..2^31 − 1 ms, and bad values are errors, not coerced:
  // NaN, Infinity and -5 were taken for no delay, 2^31 for 24 days (the client stayed away).
  const values: unknown[] = [Number.NaN, Number.POSITIVE_INFINITY, -5, 2 ** 31, 1e12, '100'];

  it('is a callback error, the default delay is taken and the client reconnects', async () => {
    const server = await startServer();
    servers.push(server);
    for (const value of [...values, 'toServer']) {
      const events: Event[] = [];
      const options = new ConnectOptions().eventCallback((e) => {
        events.push(e);
      });
      let asked = 0;
      if (value === 'toServer') {
        options.reconnectToServerCallback(() => (asked++ ? { addr: server.url, delay: -1 } : null));
      } else options.reconnectDelayCallback(() => (asked++ ? value : 0) as number);
      const client = await options.connect(server.url);
      clients.push(client);
      await client.forceReconnect();
      await waitFor(
        () => client.connectionState() === 'connected' && callbackErrors(events).length > 0,
        5_000,
        `a reconnect and its callback error (${String(value)})`,
      );
      expect(client.statistics().connects).toBe(2);
      expect(callbackErrors(events), String(value)).toEqual([
        expect.stringMatching(
          /gave the delay .* not a number of milliseconds from 0 to 2147483647/,
        ),
      ]);
    }
  });
});

describe('reconnectToServerCallback with an unusable delay', () => {
  // README: such an answer is a failed callback, "and the default choice is taken": its address
  // with it (the client dialled the server the callback chose, with the default delay).
  it('its address is not taken either: the default choice is', async () => {
    const [first, second] = [await startServer(), await startServer()];
    servers.push(first, second);
    const events: Event[] = [];
    let asked = 0;
    const client = await new ConnectOptions()
      .retainServersOrder()
      .eventCallback((e) => {
        events.push(e);
      })
      .reconnectToServerCallback(() => (asked++ ? { addr: second.url, delay: -5 } : null))
      .connect([first.url, second.url]);
    clients.push(client);
    expect(client.serverInfo().port).toBe(first.port);
    await client.forceReconnect();
    await waitFor(
      () => client.statistics().connects === 2 && client.connectionState() === 'connected',
      5_000,
      'the reconnect',
    );
    expect(callbackErrors(events)).toEqual([expect.stringMatching(/gave the delay -5/)]);
    expect(client.serverInfo().port).toBe(first.port); // the pool's order, not the callback's
  });

  it('that was the last failed attempt allowed: no other callback is asked, the client ends', async () => {
    const server = await startServer();
    servers.push(server);
    let asked = 0;
    let delaysAsked = 0;
    const client = await new ConnectOptions()
      .maxReconnects(1)
      .reconnectToServerCallback(() => (asked++ ? { addr: server.url, delay: -5 } : null))
      .reconnectDelayCallback(() => {
        delaysAsked++;
        return 0;
      })
      .connect(server.url);
    clients.push(client);
    delaysAsked = 0; // the first connection's
    await client.forceReconnect();
    expect((await client.closed())?.kind).toBe('maxReconnects');
    expect(delaysAsked).toBe(0);
  });
});

describe('a callback that never settles is called a few times, not once per attempt', () => {
  // Each call waits on the caller's thread for as long as the callback does: one per attempt
  // would pile up without end while the server is away.
  /** A client whose server has gone, reconnecting with `delay` as its reconnectDelayCallback. */
  async function reconnectingWith(delay: () => number | Promise<number>): Promise<Client> {
    const server = await startServer();
    const client = await new ConnectOptions()
      .connectionTimeout(100)
      .reconnectDelayCallback(delay)
      .connect(server.url);
    clients.push(client);
    await server.stop();
    return client;
  }

  it('reconnectDelayCallback, over many failed attempts', async () => {
    let calls = 0;
    const client = await reconnectingWith(() => {
      calls++;
      return never();
    });
    await waitFor(
      () => (client.serverPool()[0]?.failedAttempts ?? 0) >= 10,
      20_000,
      '10 failed attempts',
    );
    expect(calls).toBe(4); // MAX_UNSETTLED (src/worker/caller.ts)
  });

  it('reconnectDelayCallback that hung once is still called on later attempts', async () => {
    let calls = 0;
    await reconnectingWith(() => {
      calls++;
      return calls === 1 ? never() : 10;
    });
    await waitFor(() => calls >= 6, 20_000, 'the callback called on later attempts');
  });

  it('authCallback, over many failed attempts', async () => {
    const server = await startServer();
    servers.push(server);
    let calls = 0;
    const client = await new ConnectOptions()
      .connectionTimeout(100)
      .retryOnInitialConnect()
      .reconnectDelayCallback(() => 0)
      .authCallback(() => {
        calls++;
        return never();
      })
      .connect(server.url);
    clients.push(client);
    await waitFor(
      () => (client.serverPool()[0]?.failedAttempts ?? 0) >= 10,
      20_000,
      '10 failed attempts',
    );
    expect(calls).toBe(4); // MAX_UNSETTLED (src/worker/caller.ts)
  });
});

describe('a callback that transfers its payload to another thread', () => {
  it('affects no delivery: every later message arrives intact', async () => {
    const server = await startServer();
    servers.push(server);
    const client = await connect(server.url);
    clients.push(client);
    const { port1, port2 } = new MessageChannel();
    const got: string[] = [];
    client.subscribe('moving', {
      callback: (msg) => {
        got.push(msg.string());
        if (got.length % 10 === 1)
          port1.postMessage(msg.payload, [msg.payload.buffer as ArrayBuffer]);
      },
    });
    await client.flush();
    const sent = Array.from({ length: 200 }, (_, i) => `message ${i} ${'x'.repeat(i)}`);
    for (const text of sent) client.publish('moving', text);
    await client.flush();
    await waitFor(() => got.length === sent.length, 5_000, 'every message');
    port1.close();
    port2.close();
    expect(got).toEqual(sent);
  });
});
