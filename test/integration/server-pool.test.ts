// The server pool (API.md "Server pool"): snapshots, setServerPool, the reconnect-to-server
// callback, discovered cluster members, and giving up after maxReconnects.

import { type Client, ConnectOptions, NatsError, type Server } from 'nats-offload';
import { afterEach, describe, expect, it } from 'vitest';
import { type NatsServer, startCluster, startServer } from '../helpers/nats-server.js';
import { EventLog, waitFor } from '../helpers/wait.js';

const clients: Client[] = [];
const servers: NatsServer[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function server(): Promise<NatsServer> {
  const s = await startServer();
  servers.push(s);
  return s;
}

async function open(urls: string | string[], options = new ConnectOptions()): Promise<Client> {
  const c = await options.connect(urls);
  clients.push(c);
  return c;
}

async function rejection(promise: Promise<unknown>): Promise<NatsError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof NatsError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

describe('server pool', () => {
  it('shows the configured server, connected, with no failed attempts', async () => {
    const a = await server();
    const c = await open(a.url);
    // Current as soon as connect() resolves: no waiting for a later update.
    expect(c.serverPool()).toEqual([
      {
        url: `nats://127.0.0.1:${a.port}`,
        failedAttempts: 0,
        didConnect: true,
        isDiscovered: false,
      },
    ]);
  });

  it('setServerPool rejects an empty pool and a ws/non-ws mix with invalidOption', async () => {
    const a = await server();
    const c = await open(a.url);
    expect((await rejection(c.setServerPool([]))).kind).toBe('invalidOption');
    expect((await rejection(c.setServerPool(['ws://x:80', a.url]))).kind).toBe('invalidOption');
  });

  it('reconnects where the reconnectToServer callback says, after setServerPool added it', async () => {
    const a = await server();
    const b = await server();
    const seen: Server[][] = [];
    const events = new EventLog();
    const c = await open(
      a.url,
      new ConnectOptions().eventCallback(events.callback).reconnectToServerCallback((pool) => {
        seen.push(pool);
        return { addr: `127.0.0.1:${b.port}`, delay: 10 };
      }),
    );
    await c.setServerPool([a.url, b.url]);
    expect(c.serverPool()).toHaveLength(2); // current as soon as setServerPool resolves
    expect(c.serverPool().find((s) => s.url.endsWith(`:${a.port}`))?.didConnect).toBe(true); // kept

    // Heard before connect() resolved: b was not in the pool yet, then the connection to a.
    expect(events.types()).toEqual(['clientError', 'connected']);
    const mark = events.events.length;
    await a.stop();
    await events.next('connected', mark, 10_000);
    expect(c.serverInfo().port).toBe(b.port);
    expect(seen.length).toBeGreaterThan(0);
    // Asked at every attempt, the first connect too: the last time, with the new pool.
    expect(seen[seen.length - 1].map((s) => s.url).sort()).toEqual(
      [a.url, b.url].map((u) => u.replace('nats://', 'nats://')).sort(),
    );
    // still usable on the new server
    const got = c.subscribe('pool.after');
    await c.flush();
    c.publish('pool.after', 'x');
    for await (const m of got) {
      expect(m.string()).toBe('x');
      break;
    }
  });

  it("when 'connected' runs, serverInfo(), serverPool() and connectionState() describe that connection", async () => {
    const a = await server();
    const b = await server();
    const seen: { port: number; didConnect?: boolean; state: string }[] = [];
    let c: Client | undefined;
    c = await open(
      a.url,
      new ConnectOptions().eventCallback((event) => {
        if (event.type !== 'connected' || c === undefined) return;
        const port = c.serverInfo().port;
        const entry = c.serverPool().find((s) => s.url.endsWith(`:${port}`));
        seen.push({ port, didConnect: entry?.didConnect, state: c.connectionState() });
      }),
    );
    await c.setServerPool([b.url]);
    await c.forceReconnect();
    await waitFor(() => seen.some((s) => s.port === b.port), 10_000, "the second 'connected'");
    expect(seen.at(-1)).toEqual({ port: b.port, didConnect: true, state: 'connected' });
  });

  it("…also for connections lost again while this thread was busy: each 'connected' its own", async () => {
    const [a, b, c] = [await server(), await server(), await server()];
    const seen: { port: number; didConnect?: boolean; state: string }[] = [];
    let client: Client | undefined;
    client = await open(
      [a.url, b.url, c.url],
      new ConnectOptions().retainServersOrder().eventCallback((event) => {
        if (event.type !== 'connected' || client === undefined) return;
        const port = client.serverInfo().port;
        const entry = client.serverPool().find((s) => s.url.endsWith(`:${port}`));
        seen.push({ port, didConnect: entry?.didConnect, state: client.connectionState() });
      }),
    );
    // This thread stays busy while the worker moves a → b → c: both events wait for it.
    const spinUntil = (connects: number) => {
      const end = Date.now() + 5_000;
      while (client?.statistics().connects !== connects && Date.now() < end) {}
    };
    process.kill(a.pid, 'SIGKILL');
    spinUntil(2);
    process.kill(b.pid, 'SIGKILL');
    spinUntil(3);
    await waitFor(() => seen.length === 2, 10_000, "both 'connected' events");
    expect(seen).toEqual([
      { port: b.port, didConnect: true, state: 'connected' },
      { port: c.port, didConnect: true, state: 'connected' },
    ]);
    expect(client.connectionState()).toBe('connected');
  });

  it('an address not in the pool falls back to the default choice', async () => {
    const a = await server();
    const events = new EventLog();
    const c = await open(
      a.url,
      new ConnectOptions()
        .eventCallback(events.callback)
        .reconnectDelayCallback(() => 10)
        .reconnectToServerCallback(() => ({ addr: 'nats://10.255.255.1:4222' })),
    );
    const mark = events.events.length;
    await c.forceReconnect();
    await events.next('connected', mark, 10_000);
    expect(c.serverInfo().port).toBe(a.port);
  });

  it('learns the other cluster members from INFO, unless told to ignore them', async () => {
    const cluster = await startCluster(3);
    servers.push(...cluster);
    const c = await open(cluster[0].url);
    await waitFor(() => c.serverPool().length === 3, 10_000, 'discovered servers');
    expect(c.serverPool().filter((s) => s.isDiscovered)).toHaveLength(2);

    const quiet = await open(cluster[0].url, new ConnectOptions().ignoreDiscoveredServers());
    await quiet.flush();
    expect(quiet.serverPool()).toHaveLength(1);
  });

  it("fails over to a discovered member with the URL's credentials, never showing them", async () => {
    const cluster = await startCluster(2, {
      config: 'authorization { user: al1ce, password: pw-s3cret }',
    });
    servers.push(...cluster);
    const [first, second] = cluster;
    const events = new EventLog();
    const c = await open(
      `nats://al1ce:pw-s3cret@${first.host}:${first.port}`,
      new ConnectOptions().reconnectDelayCallback(() => 0).eventCallback(events.callback),
    );
    await waitFor(() => c.serverPool().length === 2, 10_000, 'the discovered member');
    await first.stop();
    const lost = await events.next('disconnected');
    await events.next('connected', lost, 10_000);
    expect(c.serverInfo().port).toBe(second.port);
    await c.flush();
    expect(c.serverPool().find((s) => s.isDiscovered)?.lastError).toBeUndefined();
    expect(JSON.stringify(c.serverPool())).not.toMatch(/al1ce|pw-s3cret/);
  });

  it('closes with maxReconnects after that many failed attempts in a row', async () => {
    const a = await server();
    const events = new EventLog();
    const c = await open(
      a.url,
      new ConnectOptions()
        .eventCallback(events.callback)
        .maxReconnects(2)
        .reconnectDelayCallback(() => 10),
    );
    await a.stop();
    const error = await c.closed();
    expect(error).toBeInstanceOf(NatsError);
    expect(error?.kind).toBe('maxReconnects');
    await events.next('closed', 0, 5_000);
    const types = events.types();
    // Each failed attempt says why, then the client gives up.
    const kinds = events.events.flatMap((e) => (e.type === 'clientError' ? [e.error.kind] : []));
    expect(kinds).toEqual(['io', 'io', 'maxReconnects']);
    expect(types.lastIndexOf('clientError')).toBeLessThan(types.lastIndexOf('closed'));
    expect(c.connectionState()).toBe('closed');
    expect(c.serverPool()[0].failedAttempts).toBe(2);
    // API.md "Details": later calls fail with 'closed', whatever ended the client.
    expect(() => c.publish('x', 'y')).toThrow(expect.objectContaining({ kind: 'closed' }));
    for (const call of [() => c.writable(), () => c.flush(), () => c.rtt(), () => c.drain()]) {
      await expect(call()).rejects.toMatchObject({ kind: 'closed' });
    }
  });

  it("setServerPool() during an attempt's delay: that attempt goes to the new pool, in its budget", async () => {
    const a = await server();
    const b = await server();
    const failures: string[] = [];
    let attempts = 0;
    const c = await open(
      a.url,
      new ConnectOptions()
        .maxReconnects(3)
        .reconnectDelayCallback(() => {
          attempts++;
          return 300; // failures come one by one, not coalesced
        })
        .eventCallback((e) => {
          if (e.type === 'clientError' && e.error.kind === 'io') failures.push(e.error.message);
        }),
    );
    await a.stop();
    await b.stop(); // neither answers: every attempt fails
    await waitFor(() => attempts >= 2, 5_000, 'two attempts');
    await c.setServerPool([b.url]); // during an attempt's delay
    const atReset = failures.length;
    expect((await c.closed())?.kind).toBe('maxReconnects');
    const after = failures.slice(atReset);
    // A fresh budget of 3 attempts, each to the new pool: none to the server it no longer has.
    expect(after.filter((m) => m.includes(`:${new URL(a.url).port}`))).toEqual([]);
    expect(after).toHaveLength(3);
  });
});
