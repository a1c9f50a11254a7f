// async-nats's reconnect semantics (reference/async-nats.md §1), against real servers:
// maxReconnects counts every server tried (null: unlimited; the first pass included),
// reconnectDelayCallback is asked before every attempt with that counter, and
// reconnectToServerCallback at every attempt, the first one too.

import { type Client, ConnectOptions, type Event, NatsError } from 'nats-offload';
import { afterEach, describe, expect, it } from 'vitest';
import { thrown } from '../helpers/errors.js';
import { freePort, type NatsServer, startCluster, startServer } from '../helpers/nats-server.js';
import { handshake, type ScriptedPeer, startScriptedPeer } from '../helpers/scripted-peer.js';
import { waitFor, waitForAsync, withTimeout } from '../helpers/wait.js';

const servers: NatsServer[] = [];
const clients: Client[] = [];
const peers: ScriptedPeer[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) await s.stop();
  for (const p of peers.splice(0)) await p.close();
});

async function live(port?: number): Promise<NatsServer> {
  const server = await startServer(port === undefined ? {} : { port });
  servers.push(server);
  return server;
}

describe('maxReconnects', () => {
  it('applies to connect()’s first pass: with maxReconnects(1) the second server is never tried', async () => {
    const server = await live();
    const dead = `nats://127.0.0.1:${await freePort()}`;
    const error = await new ConnectOptions()
      .retainServersOrder()
      .maxReconnects(1)
      .connect([dead, server.url])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NatsError);
    expect((error as NatsError).kind).toBe('maxReconnects');
  });

  it('null means unlimited', async () => {
    const port = await freePort();
    const events: Event[] = [];
    const client = await new ConnectOptions()
      .retryOnInitialConnect()
      .maxReconnects(null)
      .reconnectDelayCallback(() => 20)
      .eventCallback((e) => {
        events.push(e);
      })
      .connect(`nats://127.0.0.1:${port}`);
    clients.push(client);
    // Well past one attempt: each failed attempt says why.
    await waitFor(
      () => events.filter((e) => e.type === 'clientError').length >= 5,
      10_000,
      'five failed attempts',
    );
    expect(client.connectionState()).toBe('pending');
    await live(port);
    await waitFor(() => client.connectionState() === 'connected', 10_000, 'connected');
    const failures = events.flatMap((e) => (e.type === 'clientError' ? [e.error.kind] : []));
    expect(new Set(failures)).toEqual(new Set(['io']));
  });

  it('0 and -1 are refused, naming null: async-nats reads 0 as unlimited, nats.js as "give up"', () => {
    for (const n of [0, -1]) {
      const error = thrown(() => new ConnectOptions().maxReconnects(n));
      expect(error.kind).toBe('invalidOption');
      expect(error.message).toMatch(/^maxReconnects must be null \(unlimited;.* got -?\d$/);
    }
    const error = thrown(() => new ConnectOptions().maxReconnects(1).maxReconnects(0));
    expect(error.kind).toBe('invalidOption');
  });
});

describe('reconnectDelayCallback', () => {
  it('is asked before every attempt, the first too, with the count of servers tried', async () => {
    const server = await live();
    const asked: number[] = [];
    const events: Event[] = [];
    const client = await new ConnectOptions()
      .reconnectDelayCallback((attempts) => {
        asked.push(attempts);
        return 10;
      })
      .eventCallback((e) => {
        events.push(e);
      })
      .connect(server.url);
    clients.push(client);
    expect(asked).toEqual([1]);
    await server.stop();
    servers.length = 0;
    await waitFor(() => asked.length >= 4, 10_000, 'three failed reconnect attempts');
    expect(asked.slice(0, 4)).toEqual([1, 1, 2, 3]); // a connection resets the count
    const lost = events.find((e) => e.type === 'disconnected');
    expect(lost?.type === 'disconnected' && lost.error?.kind).toBeTruthy(); // why it was lost
  });
});

describe('reconnectToServerCallback', () => {
  it('is asked at the first connect too (default ServerInfo); an address not in the pool is serverNotInPool', async () => {
    const server = await live();
    const infos: string[] = [];
    const events: Event[] = [];
    const client = await new ConnectOptions()
      .reconnectToServerCallback(async (_servers, info) => {
        infos.push(info.serverId);
        return { addr: 'nats://not-in-pool.invalid:4222' };
      })
      .eventCallback((e) => {
        events.push(e);
      })
      .connect(server.url);
    clients.push(client);
    expect(infos).toEqual(['']);
    await waitFor(
      () => events.some((e) => e.type === 'clientError' && e.error.kind === 'serverNotInPool'),
      2_000,
      'the serverNotInPool event',
    );
    expect(client.connectionState()).toBe('connected');
  });
});

describe("'disconnected' says why", () => {
  it('forced: forceReconnect() names itself', async () => {
    const server = await live();
    const events: Event[] = [];
    const client = await new ConnectOptions()
      .eventCallback((e) => {
        events.push(e);
      })
      .connect(server.url);
    clients.push(client);
    await client.forceReconnect();
    await waitFor(() => events.some((e) => e.type === 'disconnected'), 5_000, 'disconnected');
    const lost = events.find((e) => e.type === 'disconnected');
    expect(lost?.type === 'disconnected' && lost.error?.message).toMatch(/forceReconnect/);
  });

  it('stale: two PINGs unanswered by a server that stopped answering', async () => {
    const server = await live();
    const events: Event[] = [];
    const client = await new ConnectOptions()
      .pingInterval(200)
      .reconnectDelayCallback(() => 50)
      .eventCallback((e) => {
        events.push(e);
      })
      .connect(server.url);
    clients.push(client);
    process.kill(server.pid, 'SIGSTOP');
    try {
      await waitFor(() => events.some((e) => e.type === 'disconnected'), 5_000, 'stale');
    } finally {
      process.kill(server.pid, 'SIGCONT');
    }
    const lost = events.find((e) => e.type === 'disconnected');
    expect(lost?.type === 'disconnected' && lost.error?.kind).toBe('timedOut');
    expect(lost?.type === 'disconnected' && lost.error?.message).toMatch(/stale/);
  });
});

describe('reconnectToServerCallback without a delay', () => {
  it('waits what the delay callback says (a down server does not spin)', async () => {
    const server = await live();
    const asked: number[] = [];
    const client = await new ConnectOptions()
      .reconnectToServerCallback(async () => ({ addr: server.url }))
      .reconnectDelayCallback((attempts) => {
        asked.push(attempts);
        return 0;
      })
      .connect(server.url);
    clients.push(client);
    expect(asked).toEqual([1]); // the first connect: the chosen server, the delay callback's wait
  });
});

describe('a server that ends every connection with an -ERR soon after it opens', () => {
  // nats-server did, for a subscription past its max_control_line that the client re-sent on
  // every connection, until the client learned to end such a subscription (control-line.test.ts).
  // A scripted peer stands for any other cause: it answers the handshake, then refuses.
  async function refusingPeer() {
    let refusing = true;
    const peer = await startScriptedPeer(async (conn) => {
      await handshake(conn);
      if (refusing) {
        conn.send("-ERR 'Unknown Protocol Operation'\r\n");
        conn.socket.end();
        return;
      }
      for await (const line of conn.lines()) if (line === 'PING') conn.send('PONG\r\n');
    });
    peers.push(peer);
    return {
      url: peer.url,
      stopRefusing: () => {
        refusing = false;
      },
    };
  }

  it('is retried with backoff, not ~500 times a second, and the client recovers once the cause goes', async () => {
    const peer = await refusingPeer();
    const client = await new ConnectOptions().connect(peer.url);
    clients.push(client);
    await waitFor(() => client.statistics().connects >= 3, 5_000, 'the peer refusing it');
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    // 0, 2, 4 … ms between them, doubling: a dozen in 3 s (without backoff: thousands).
    expect(client.statistics().connects).toBeLessThan(30);
    peer.stopRefusing();
    await waitForAsync(
      () =>
        client.flush().then(
          () => true,
          () => false,
        ),
      15_000,
      'a flush once the peer takes the connection',
    );
    const connects = client.statistics().connects;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(client.statistics().connects).toBe(connects);
    expect(client.connectionState()).toBe('connected');
  });

  it('dropped without an -ERR, from the second in a row: backoff too, not ~1,800 a second', async () => {
    // A server (or a proxy whose backend is gone) that completes the handshake, then drops.
    const peer = await startScriptedPeer(async (conn) => {
      await handshake(conn);
      conn.socket.resetAndDestroy();
    });
    peers.push(peer);
    let events = 0;
    const client = await new ConnectOptions()
      .eventCallback(() => {
        events++;
      })
      .connect(peer.url);
    clients.push(client);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(client.statistics().connects).toBeGreaterThan(3);
    expect(client.statistics().connects).toBeLessThan(30);
    expect(events).toBeLessThan(60);
  });

  it('gives reconnectDelayCallback the refused connections in its count', async () => {
    const peer = await refusingPeer();
    const counts: number[] = [];
    const client = await new ConnectOptions()
      .reconnectDelayCallback((attempts) => {
        counts.push(attempts);
        return 10;
      })
      .connect(peer.url);
    clients.push(client);
    await waitFor(() => counts.length >= 5, 10_000, 'five reconnects');
    // Asked before every attempt, the first included: 1, then one more per refused connection.
    expect(counts.slice(0, 5)).toEqual([1, 2, 3, 4, 5]);
    // setServerPool resets the count, refused connections included (API.md "Server pool"):
    // it starts again at 1, or 2 if the connection open at the reset is refused too.
    await client.setServerPool([peer.url]);
    const before = counts.length;
    await waitFor(() => counts.length > before, 10_000, 'one more reconnect');
    expect(counts[before]).toBeLessThanOrEqual(2);
  });
});

describe('connectionState() after a failover', () => {
  /** A client on a 3-node cluster, trying the next node at once when one goes. */
  async function onCluster(options = new ConnectOptions()) {
    const nodes = await startCluster(3);
    servers.push(...nodes);
    const client = await options
      .reconnectDelayCallback(() => 0)
      .retainServersOrder()
      .connect(nodes.map((n) => n.url));
    clients.push(client);
    return { nodes, client };
  }

  /**
   * Stops the client's node and returns its name once the client has left it: connectionState()
   * says it is gone, or it already describes another node (with no delay, a loaded host can let
   * the worker reconnect before this thread's next turn). Each step has a bound of its own.
   */
  async function stopItsNode(client: Client, nodes: NatsServer[]): Promise<string> {
    const { serverName: dead, port } = client.serverInfo();
    const node = nodes.find((n) => n.url.endsWith(`:${port}`));
    if (node === undefined) throw new Error(`no node of the cluster has the client's port ${port}`);
    await withTimeout(node.stop(), 10_000, `stopping node ${dead}`);
    // Polled every turn of the event loop, as a caller checking the state would.
    const deadline = performance.now() + 10_000;
    while (client.connectionState() === 'connected' && client.serverInfo().serverName === dead) {
      if (performance.now() > deadline)
        throw new Error(`still connected to ${dead} 10 s after it stopped`);
      await nextTurn();
    }
    return dead;
  }

  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

  it('says connected only once serverInfo() and serverPool() describe the new connection', async () => {
    let connectedEvents = 0;
    const { nodes, client } = await onCluster(
      new ConnectOptions().eventCallback((e) => {
        if (e.type === 'connected') connectedEvents++;
      }),
    );
    for (let round = 1; round <= 2; round++) {
      const dead = await stopItsNode(client, nodes);
      while (client.connectionState() !== 'connected') await nextTurn();
      expect(connectedEvents).toBe(1 + round);
      expect(client.serverInfo().serverName).not.toBe(dead);
    }
  });

  it('a thread busy through the failover hears of the new connection before it says connected', async () => {
    const nodes = await startCluster(3);
    servers.push(...nodes);
    const client = await new ConnectOptions().retainServersOrder().connect(nodes.map((n) => n.url));
    clients.push(client);
    const { serverName: dead, port } = client.serverInfo();
    const node = nodes.find((n) => n.port === port);
    if (node === undefined) throw new Error(`no node of the cluster has the client's port ${port}`);
    process.kill(node.pid, 'SIGKILL');
    // Busy, as in a long computation: the worker reconnects meanwhile (it was reported
    // 'connected' with the dead node's serverInfo() and serverPool()).
    const deadline = performance.now() + 10_000;
    while (client.statistics().connects < 2 && performance.now() < deadline) {}
    expect(client.statistics().connects).toBe(2);
    expect(client.serverInfo().serverName).toBe(dead); // its event has not run yet
    expect(client.connectionState()).toBe('disconnected');
    await waitFor(() => client.connectionState() === 'connected', 10_000, 'the new connection');
    expect(client.serverInfo().serverName).not.toBe(dead);
  });

  it('a flush that the new connection answers finds them describing it too', async () => {
    const { nodes, client } = await onCluster();
    for (let round = 1; round <= 2; round++) {
      const dead = await stopItsNode(client, nodes);
      await withTimeout(client.flush(), 15_000, 'a flush answered by the next node');
      expect(client.connectionState()).toBe('connected');
      expect(client.serverInfo().serverName).not.toBe(dead);
    }
  });
});
