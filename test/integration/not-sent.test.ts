// API.md "No silent loss of accepted publishes": a publish that did not throw is either written
// to a server or counted in the 'notSent' error that closed() resolves with (and that is
// emitted as a clientError); forceReconnect() drops nothing.

import { readFile } from 'node:fs/promises';
import { connect as connectSocket, createServer, type Socket } from 'node:net';
import {
  type Client,
  ConnectOptions,
  connect,
  type Event,
  HeaderMap,
  NatsError,
} from 'nats-offload';
import { afterEach, describe, expect, it } from 'vitest';
import { onLoopback } from '../helpers/loopback-server.js';
import { type NatsServer, startServer } from '../helpers/nats-server.js';
import { waitFor, waitForAsync } from '../helpers/wait.js';

const servers: NatsServer[] = [];
const clients: Client[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) {
    process.kill(s.pid, 'SIGCONT'); // a stopped server must be able to stop
    await s.stop();
  }
});

function notSentEvents(events: Event[]): NatsError[] {
  return events.flatMap((e) =>
    e.type === 'clientError' && e.error.kind === 'notSent' ? [e.error] : [],
  );
}

describe('close() cannot send everything', () => {
  it('while disconnected: closed() is notSent with the count of every message accepted', async () => {
    const server = await startServer();
    servers.push(server);
    const events: Event[] = [];
    const client = await new ConnectOptions()
      .reconnectDelayCallback(() => 50)
      .clientCapacity(1_000_000)
      .eventCallback((e) => {
        events.push(e);
      })
      .connect(server.url);
    clients.push(client);
    await server.stop();
    servers.length = 0;
    await waitFor(() => client.connectionState() === 'disconnected', 10_000, 'disconnected');
    // Some wait in the command ring, the rest on this thread (4 MiB ring, 1 KiB messages).
    const COUNT = 6_000;
    const payload = new Uint8Array(1024);
    for (let i = 0; i < COUNT; i++) client.publish('lost', payload);
    await client.close();
    const result = await client.closed();
    expect(result).toBeInstanceOf(NatsError);
    expect(result?.kind).toBe('notSent');
    expect(result?.count).toBe(COUNT);
    expect(notSentEvents(events).map((e) => e.count)).toEqual([COUNT]);
  });

  it('maxReconnects ends the client: every request waiting rejects closed, however it waits', async () => {
    const client = await new ConnectOptions()
      .retryOnInitialConnect()
      .maxReconnects(2)
      .requestTimeout(null)
      .reconnectDelayCallback(() => 50)
      .connect('nats://127.0.0.1:1'); // nothing listens there
    clients.push(client);
    const kinds = await Promise.all(
      [
        client.request('svc', 'x'),
        client.sendRequest('svc', { payload: 'x', inbox: 'mine.2' }),
        client.flush(),
      ].map((p) =>
        p.then(
          () => 'resolved',
          (error: NatsError) => error.kind,
        ),
      ),
    );
    expect(kinds).toEqual(['closed', 'closed', 'closed']);
    expect((await client.closed())?.kind).toBe('maxReconnects'); // what ended the client
  });

  it('maxReconnects ends the client: what it accepted meanwhile is counted as notSent', async () => {
    const server = await startServer();
    servers.push(server);
    const events: Event[] = [];
    const client = await new ConnectOptions()
      .maxReconnects(2)
      .connectionTimeout(1000)
      .reconnectDelayCallback(() => 100)
      .eventCallback((e) => {
        events.push(e);
      })
      .connect(server.url);
    clients.push(client);
    await server.stop();
    servers.length = 0;
    await waitFor(() => client.connectionState() !== 'connected', 10_000, 'disconnected');
    const COUNT = 1_000;
    for (let i = 0; i < COUNT; i++) client.publish('lost', `m${i}`);
    const result = await client.closed();
    expect(result?.kind).toBe('maxReconnects'); // what ended the client
    expect(notSentEvents(events).map((e) => e.count)).toEqual([COUNT]);
    const kinds = events.flatMap((e) => (e.type === 'clientError' ? [e.error.kind] : [e.type]));
    // API.md "Details": 'maxReconnects', then 'closed'; what was not sent is told before them.
    expect(kinds.slice(-3)).toEqual(['notSent', 'maxReconnects', 'closed']);
  });

  it('forceReconnect() then close(): what was in the ring is counted, not lost', async () => {
    const server = await startServer();
    servers.push(server);
    const client = await connect(server.url);
    clients.push(client);
    const receiver = await connect(server.url);
    clients.push(receiver);
    let received = 0;
    receiver.subscribe('fr.close', {
      callback: () => {
        received++;
      },
    });
    await receiver.flush();
    const COUNT = 20_000;
    for (let i = 0; i < COUNT; i++) client.publish('fr.close', 'x');
    void client.forceReconnect();
    await client.close();
    const result = await client.closed();
    const notSent = result?.kind === 'notSent' ? (result.count ?? 0) : 0;
    if (result !== undefined) expect(result.kind).toBe('notSent');
    await receiver.flush();
    await waitFor(() => received + notSent >= COUNT, 5_000, 'every message received or counted');
    expect(received + notSent).toBe(COUNT);
  });

  // API.md: what the server does not read within connectionTimeout is counted as not sent; one
  // bound for the whole close, whether messages wait on the caller's thread too or only in the
  // ring (1.5 s of slack for the worker's exit on a loaded host).
  it.each([
    { where: "on the caller's thread, in the ring and in the socket", bytes: 64 * 1024 * 1024 },
    { where: 'in the ring and in the socket', bytes: 3 * 1024 * 1024 },
  ])(
    'when the server does not read: close() resolves within connectionTimeout and counts what it dropped (messages $where)',
    async ({ bytes }) => {
      const server = await startServer();
      servers.push(server);
      const CONNECTION_TIMEOUT = 3_000;
      const client = await new ConnectOptions()
        .connectionTimeout(CONNECTION_TIMEOUT)
        .clientCapacity(1_000_000)
        .maxPendingBytes(256 * 1024 * 1024)
        .connect(server.url);
      clients.push(client);
      process.kill(server.pid, 'SIGSTOP');
      const payload = new Uint8Array(64 * 1024);
      const COUNT = bytes / payload.length;
      for (let i = 0; i < COUNT; i++) client.publish('stuck', payload);
      const started = performance.now();
      await client.close();
      expect(performance.now() - started).toBeLessThan(CONNECTION_TIMEOUT + 1_500);
      const result = await client.closed();
      expect(result?.kind).toBe('notSent');
      expect(result?.count).toBeGreaterThan(0);
      expect(result?.count).toBeLessThanOrEqual(COUNT);
    },
  );
});

describe('close() on a server that stopped reading counts only what no PONG acknowledged', () => {
  it("a flush's PONG acknowledges the messages its batch wrote before its PING", async () => {
    const server = await startServer();
    servers.push(server);
    const client = await new ConnectOptions().connectionTimeout(500).connect(server.url);
    clients.push(client);
    client.publish('acked', 'one');
    client.publish('acked', 'two');
    await client.flush(); // its PING goes in the same write as the two messages
    process.kill(server.pid, 'SIGSTOP');
    try {
      await client.close();
      expect(await client.closed()).toBeUndefined();
    } finally {
      process.kill(server.pid, 'SIGCONT');
    }
  });
});

describe('forceReconnect()', () => {
  it('sends what was published right before it on the old socket: a close() next counts none', async () => {
    const server = await startServer();
    servers.push(server);
    const receiver = await connect(server.url);
    clients.push(receiver);
    let received = 0;
    receiver.subscribe('fr.before', { callback: () => received++ });
    await receiver.flush();
    // Whether the worker pumped the ring before forceReconnect() reached it is a race: rounds.
    for (let round = 1; round <= 3; round++) {
      const client = await connect(server.url);
      clients.push(client);
      // Still batched on this thread when forceReconnect() is called, not yet in the ring.
      for (let i = 0; i < 10; i++) client.publish('fr.before', 'x');
      void client.forceReconnect();
      await client.close(); // before the next connection is up: only the old socket carries them
      expect(await client.closed()).toBeUndefined();
      await receiver.flush();
      await waitFor(() => received === 10 * round, 2_000, `the ten messages of round ${round}`);
    }
  });

  // The old socket's head start (endings.ts) is connectionTimeout here, not 2 s: a flush made
  // right after, bound at 2 × connectionTimeout from the disconnect, still finds the next server.
  it('away from a server that stopped reading: a flush made after it resolves on the next server', async () => {
    const stalled = await startServer();
    const healthy = await startServer();
    servers.push(stalled, healthy);
    const client = await new ConnectOptions().connectionTimeout(800).connect(stalled.url);
    clients.push(client);
    await client.setServerPool([healthy.url]); // the next dial goes there
    const receiver = await connect(healthy.url);
    clients.push(receiver);
    let received = 0;
    receiver.subscribe('fr.stalled', { callback: () => received++ });
    await receiver.flush();
    process.kill(stalled.pid, 'SIGSTOP');
    await client.forceReconnect();
    for (let i = 0; i < 10; i++) client.publish('fr.stalled', 'after');
    await client.flush();
    expect(client.serverInfo().port).toBe(healthy.port);
    await receiver.flush();
    await waitFor(() => received === 10, 2_000, 'the ten messages after it');
  });

  it('during a publish stream loses nothing: every accepted message reaches the peer', async () => {
    const server = await startServer();
    servers.push(server);
    const client = await connect(server.url);
    const receiver = await connect(server.url);
    clients.push(client, receiver);
    const seen = new Set<number>();
    receiver.subscribe('fr.stream', {
      callback: (m) => {
        seen.add(new DataView(m.payload.buffer, m.payload.byteOffset).getUint32(0));
      },
    });
    await receiver.flush();
    // 16 KiB messages: the socket's write queue is rarely empty when the reconnect is forced,
    // and the ring views it holds must outlive the socket's replacement.
    const COUNT = 10_000;
    const payload = new Uint8Array(16 * 1024);
    for (let i = 0; i < COUNT; i++) {
      new DataView(payload.buffer).setUint32(0, i);
      if (!client.publish('fr.stream', payload)) await client.writable();
      if (i % 500 === 250) {
        // While messages keep going into the ring; the next ones wait there for the new socket.
        const before = client.statistics().connects;
        await client.forceReconnect();
        await waitFor(() => client.statistics().connects > before, 5_000, 'the reconnect');
      }
    }
    await client.flush();
    await waitFor(() => seen.size === COUNT, 10_000, `all ${COUNT} messages (have ${seen.size})`);
    expect(client.statistics().connects).toBe(21);
    expect(await client.close().then(() => client.closed())).toBeUndefined();
  });

  it('keeps order: what was accepted before it reaches the server before what comes after', async () => {
    const server = await startServer();
    servers.push(server);
    const client = await connect(server.url);
    const receiver = await connect(server.url);
    clients.push(client, receiver);
    let received = 0;
    /** Messages that were not the one after the one before: reordered, repeated or skipped. */
    let outOfSequence = 0;
    let last = -1;
    receiver.subscribe('fr.order', {
      callback: (m) => {
        const seq = new DataView(m.payload.buffer, m.payload.byteOffset).getUint32(0);
        if (seq !== last + 1) outOfSequence++;
        last = seq;
        received++;
      },
    });
    await receiver.flush();
    // 16 KiB messages as fast as writable() lets them go: the old socket still has a write
    // queue when the new connection is up and sending.
    const COUNT = 8_000;
    const payload = new Uint8Array(16 * 1024);
    for (let i = 0; i < COUNT; i++) {
      new DataView(payload.buffer).setUint32(0, i);
      if (!client.publish('fr.order', payload)) await client.writable();
      if (i % 800 === 400) void client.forceReconnect();
    }
    await client.flush();
    await waitFor(() => received === COUNT, 20_000, `all ${COUNT} messages (have ${received})`);
    expect(outOfSequence).toBe(0);
    expect(last).toBe(COUNT - 1);
    expect(client.statistics().connects).toBeGreaterThan(1);
  }, 60_000);
});

/**
 * A server SIGSTOPped while a client publishes COUNT numbered 128 KiB messages (25 MiB: more
 * than the kernel buffers hold), and a receiver on another connection that records each number.
 * The server reads nothing, so the client's socket fills and stays full.
 */
async function stalledPublisher() {
  const server = await startServer();
  servers.push(server);
  const { receiver, received } = await numbersOn(server, 'stall');
  const client = await new ConnectOptions().connectionTimeout(500).connect(server.url);
  clients.push(client);
  const COUNT = 200;
  const payload = new Uint8Array(128 * 1024);
  process.kill(server.pid, 'SIGSTOP');
  for (let i = 0; i < COUNT; i++) {
    new DataView(payload.buffer).setUint32(0, i);
    client.publish('stall', payload);
  }
  // Let the worker write until the socket is full.
  await new Promise((resolve) => setTimeout(resolve, 300));
  return { server, receiver, client, received, COUNT };
}

/**
 * A client on `server` recording the number each message on `subject` starts with; it sends no
 * PING for a minute, so a stopped server does not make it stale meanwhile.
 */
async function numbersOn(server: NatsServer, subject: string) {
  const receiver = await new ConnectOptions().pingInterval(60_000).connect(server.url);
  clients.push(receiver);
  const received: number[] = [];
  receiver.subscribe(subject, {
    callback: (m) => {
      received.push(new DataView(m.payload.buffer, m.payload.byteOffset).getUint32(0));
    },
  });
  await receiver.flush();
  return { receiver, received };
}

/**
 * This host's TCP sockets to `port` that are closing (FIN-WAIT-1) with bytes still queued to
 * send, from /proc/net/tcp: a socket closed gracefully whose peer does not read.
 */
async function closingWithBacklog(port: number): Promise<string[]> {
  const FIN_WAIT_1 = '04';
  const lines = (await readFile('/proc/net/tcp', 'utf8')).trim().split('\n').slice(1);
  return lines.filter((line) => {
    const [, , remote, state, queues] = line.trim().split(/\s+/);
    const txQueue = Number.parseInt(queues.split(':')[0], 16);
    return (
      Number.parseInt(remote.split(':')[1], 16) === port && state === FIN_WAIT_1 && txQueue > 0
    );
  });
}

/** Numbers received more than once. */
function repeated(received: number[]): number[] {
  const seen = new Set<number>();
  return received.filter((n) => seen.has(n) || !seen.add(n));
}

/**
 * close() (after `first`) while the server is stopped, then SIGCONT: the server may still read
 * a few that were counted (notSent is an upper bound), but received + notSent covers every
 * message, and none arrives twice.
 */
async function closeWhileStalled(first: (client: Client) => void): Promise<void> {
  const { server, receiver, client, received, COUNT } = await stalledPublisher();
  let result: NatsError | undefined;
  try {
    first(client);
    await client.close();
    result = await client.closed();
  } finally {
    process.kill(server.pid, 'SIGCONT');
  }
  expect(result?.kind).toBe('notSent');
  const notSent = result?.count ?? 0;
  await waitFor(
    () => received.length + notSent >= COUNT,
    10_000,
    'every message received or counted',
  );
  await receiver.flush();
  expect(notSent).toBeLessThanOrEqual(COUNT);
  expect(received.length).toBeLessThanOrEqual(COUNT);
  expect(repeated(received)).toEqual([]);
}

describe('a socket ended while the server does not read', () => {
  it('close() while forceReconnect() is still ending it: received + notSent covers every message', async () => {
    await closeWhileStalled((client) => void client.forceReconnect());
  });

  it('close() while connected: received + notSent covers every message', async () => {
    await closeWhileStalled(() => {});
  });

  it('forceReconnect(), the server resumes seconds later: every message arrives once, none counted', async () => {
    const { server, receiver, client, received, COUNT } = await stalledPublisher();
    try {
      void client.forceReconnect();
      // Longer than the old socket's 2 s head start over the next dial: it goes on closing
      // meanwhile, and the next connection cannot handshake with the stopped server.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
    } finally {
      process.kill(server.pid, 'SIGCONT');
    }
    await waitFor(() => client.statistics().connects === 2, 20_000, 'the reconnect');
    await waitFor(() => received.length >= COUNT, 20_000, `all ${COUNT} (have ${received.length})`);
    await receiver.flush();
    expect(await client.close().then(() => client.closed())).toBeUndefined();
    expect(received.length).toBe(COUNT);
    expect(repeated(received)).toEqual([]);
  });
});

describe('a server killed after a pause in publishing', () => {
  it('counts nothing it had read: a PING followed the last messages, and its PONG came', async () => {
    const server = await startServer();
    servers.push(server);
    const client = await new ConnectOptions()
      .pingInterval(60_000) // no heartbeat meanwhile: only the PING after the pause proves them
      .reconnectDelayCallback(() => 100)
      .connect(server.url);
    clients.push(client);
    let received = 0;
    client.subscribe('paused', {
      callback: () => {
        received++;
      },
    });
    await client.flush();
    for (let i = 0; i < 50; i++) client.publish('paused', 'x');
    await waitFor(() => received === 50, 5_000, 'the messages back from the server');
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // the pause
    process.kill(server.pid, 'SIGKILL');
    await server.restart?.();
    await waitFor(() => client.statistics().connects === 2, 10_000, 'the reconnect');
    await client.close();
    expect(await client.closed()).toBeUndefined();
  });
});

describe('a connection reset by a server killed before it read what it was sent', () => {
  it('counts what no PONG acknowledged, and a flush behind it rejects', async () => {
    const server = await startServer();
    servers.push(server);
    const client = await new ConnectOptions()
      .pingInterval(60_000) // not found stale meanwhile: the server's end is a reset
      .reconnectDelayCallback(() => 100)
      .connect(server.url);
    clients.push(client);
    process.kill(server.pid, 'SIGSTOP');
    const COUNT = 100; // 100 KiB: all of it reaches the stopped server's kernel
    for (let i = 0; i < COUNT; i++) client.publish('reset', new Uint8Array(1024));
    const flushed = client.flush().then(
      () => 'resolved',
      (error: NatsError) => error.kind,
    );
    await waitFor(() => client.statistics().outMessages === COUNT, 5_000, 'written');
    // Its kernel discards what the process never read, and resets the connection.
    process.kill(server.pid, 'SIGKILL');
    await server.restart?.();
    await waitFor(() => client.statistics().connects === 2, 10_000, 'the reconnect');
    expect(await flushed).toBe('io');
    await client.close();
    const closed = (await client.closed()) as NatsError | undefined;
    expect(closed?.kind).toBe('notSent');
    expect(closed?.count).toBeGreaterThanOrEqual(COUNT);
  });
});

describe('a connection the server side ends with a FIN after taking bytes it did not process', () => {
  it('counts what no PONG acknowledged: a FIN proves nothing about what came before it', async () => {
    const server = await startServer();
    servers.push(server);
    const { receiver, received } = await numbersOn(server, 'fin');
    // A relay in front of the server that, told to, swallows what the client sends, then ends
    // the client's side with a FIN: as a server that read bytes and ended before it routed them.
    let swallowing = false;
    const relays: { client: Socket; end(): void }[] = [];
    const relay = createServer((client) => {
      const upstream = connectSocket(server.port, '127.0.0.1');
      client.on('data', (chunk) => swallowing || upstream.write(chunk));
      upstream.on('data', (chunk) => swallowing || client.write(chunk));
      for (const s of [client, upstream]) s.on('error', () => {});
      relays.push({
        client,
        end: () => {
          client.end();
          upstream.destroy();
        },
      });
    });
    const proxy = onLoopback(relay);
    const port = await proxy.listen();
    try {
      const client = await new ConnectOptions()
        .pingInterval(60_000)
        .reconnectDelayCallback(() => 100)
        .connect(`nats://127.0.0.1:${port}`);
      clients.push(client);
      const payload = new Uint8Array(64);
      const publish = (i: number) => {
        new DataView(payload.buffer).setUint32(0, i);
        client.publish('fin', payload);
      };
      for (let i = 0; i < 50; i++) publish(i);
      await client.flush(); // acknowledged: these reached the server
      swallowing = true;
      for (let i = 50; i < 100; i++) publish(i);
      await waitFor(() => client.statistics().outMessages === 100, 5_000, 'written');
      relays[0].end();
      await waitFor(() => client.connectionState() !== 'connected', 5_000, 'the end seen');
      await client.close();
      const notSent = ((await client.closed()) as NatsError | undefined)?.count ?? 0;
      await receiver.flush();
      expect(received).toEqual(Array.from({ length: 50 }, (_, i) => i));
      expect(notSent).toBeGreaterThanOrEqual(50);
    } finally {
      proxy.close();
    }
  });
});

describe('a connection found stale while the server does not read', () => {
  it('what its socket may have lost is counted: received + notSent covers every message', async () => {
    const server = await startServer();
    servers.push(server);
    const { receiver, received } = await numbersOn(server, 'stale');
    const client = await new ConnectOptions()
      .pingInterval(500)
      .connectionTimeout(1_000)
      .reconnectDelayCallback(() => 200)
      .connect(server.url);
    clients.push(client);
    process.kill(server.pid, 'SIGSTOP');
    // More than the socket buffers hold: some wait in the ring for the next connection.
    const COUNT = 3_000;
    const payload = new Uint8Array(1024);
    try {
      for (let i = 0; i < COUNT; i++) {
        new DataView(payload.buffer).setUint32(0, i);
        client.publish('stale', payload);
      }
      // Two unanswered PINGs: the client gives up on the socket and its kernel buffers, and
      // tries to reconnect meanwhile.
      await waitFor(() => client.connectionState() !== 'connected', 10_000, 'found stale');
      // Reset, not closed after what it held: a resuming server cannot read that backlog,
      // counted as not sent, after what the next connection sends.
      expect(await closingWithBacklog(server.port)).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
    } finally {
      process.kill(server.pid, 'SIGCONT');
    }
    await waitFor(() => client.statistics().connects === 2, 20_000, 'the reconnect');
    await client.flush();
    await client.close();
    const notSent = (await client.closed())?.count ?? 0;
    await receiver.flush();
    expect(repeated(received)).toEqual([]);
    expect(received.length + notSent).toBeGreaterThanOrEqual(COUNT);
    expect(received.length).toBeLessThanOrEqual(COUNT);
  });
  it('a flush after those messages rejects: no later PONG can prove they reached the server', async () => {
    const { client, flushed } = await flushBehindStaleMessages((c) => {
      for (let i = 0; i < 10; i++) c.publish('stale.flush', 'x');
    });
    expect(flushed).toBeInstanceOf(NatsError);
    expect((flushed as NatsError).kind).toBe('io');
    // The next flush, on the new connection, resolves.
    await client.flush();
  });

  it('a flush still waiting behind those messages rejects too: they were published before it', async () => {
    const { client, flushed } = await flushBehindStaleMessages((c) => {
      // More than the socket takes: the flush's PING is not written before the socket is lost.
      const payload = new Uint8Array(1024 * 1024);
      for (let i = 0; i < 16; i++) c.publish('stale.behind', payload);
    });
    expect(flushed).toBeInstanceOf(NatsError);
    expect((flushed as NatsError).kind).toBe('io');
    // A flush made once the loss is known is judged on what follows it; closed() counts the loss.
    await client.flush();
    await client.close();
    expect((await client.closed())?.count).toBeGreaterThan(0);
  });
});

/**
 * A client whose server stops reading: `publish` runs, then a flush, and the client finds the
 * connection stale and drops it; the server resumes. Returns the flush's outcome once settled.
 */
async function flushBehindStaleMessages(publish: (client: Client) => void) {
  const server = await startServer();
  servers.push(server);
  const client = await new ConnectOptions()
    .pingInterval(500)
    .connectionTimeout(1_000)
    .requestTimeout(null)
    .reconnectDelayCallback(() => 200)
    .connect(server.url);
  clients.push(client);
  process.kill(server.pid, 'SIGSTOP');
  // The signal takes effect on the server's next scheduling: until then it may still answer.
  await waitForAsync(
    async () => (await processState(server.pid)) === 'T',
    5_000,
    'the server stopped',
  );
  let flushed: NatsError | 'resolved' | undefined;
  try {
    publish(client);
    void client.flush().then(
      () => {
        flushed = 'resolved';
      },
      (error: NatsError) => {
        flushed = error;
      },
    );
    await waitFor(() => client.connectionState() !== 'connected', 10_000, 'found stale');
  } finally {
    process.kill(server.pid, 'SIGCONT');
  }
  await waitFor(() => flushed !== undefined, 10_000, 'the flush settled');
  return { client, flushed };
}

/** What `promise` settles with within 5 s: the value, the error's kind, or 'still waiting'. */
function outcome(promise: Promise<unknown>): Promise<unknown> {
  return Promise.race([
    promise.then(
      () => 'resolved',
      (error: NatsError) => error.kind,
    ),
    new Promise((resolve) => setTimeout(() => resolve('still waiting'), 5_000)),
  ]);
}

/** The first outcome of a requestMany's iteration: a reply, its end, or its error's kind. */
async function gathered(replies: AsyncIterable<unknown>): Promise<string> {
  try {
    for await (const _ of replies) return 'a reply';
    return 'ended';
  } catch (error) {
    return (error as NatsError).kind;
  }
}

describe('requests accepted before the server said it cannot take them', () => {
  it('fail at once, each as the publish would have thrown, however they wait for replies', async () => {
    const first = await startServer({ config: 'max_payload: 2MB' });
    const { port } = first;
    const client = await new ConnectOptions()
      .requestTimeout(null) // each would have waited forever
      .reconnectDelayCallback(() => 100)
      .connect(first.url);
    clients.push(client);
    await first.stop();
    await waitFor(() => client.connectionState() === 'disconnected', 10_000, 'disconnected');
    const headers = new HeaderMap();
    headers.insert('a', 'b');
    const shared = client.request('svc', new Uint8Array(300_000));
    // 1.5 MB: continued across ring records, left out part by part.
    const ownInbox = client.sendRequest('svc', {
      payload: new Uint8Array(1_500_000),
      inbox: 'mine.1',
    });
    const many = gathered(client.requestMany('svc', new Uint8Array(300_000), { maxWait: null }));
    const withHeaders = client.requestWithHeaders('svc', headers, 'x');
    servers.push(
      await startServer({ port, config: 'max_payload: 256KB\nno_header_support: true' }),
    );
    expect(await outcome(shared)).toBe('maxPayloadExceeded');
    expect(await outcome(ownInbox)).toBe('maxPayloadExceeded');
    expect(await Promise.race([many, outcome(new Promise(() => {}))])).toBe('maxPayloadExceeded');
    expect(await outcome(withHeaders)).toBe('invalidArgument');
    await client.close();
    expect((await client.closed())?.count).toBe(4); // those four, and nothing else
  });

  it('a retry on the inbox of a request that timed out is the one that fails', async () => {
    const first = await startServer({ config: 'max_payload: 2MB' });
    const { port } = first;
    const client = await new ConnectOptions()
      .requestTimeout(null)
      .reconnectDelayCallback(() => 100)
      .connect(first.url);
    clients.push(client);
    await first.stop();
    await waitFor(() => client.connectionState() === 'disconnected', 10_000, 'disconnected');
    const once = client.sendRequest('svc', { payload: 'x', inbox: 'mine.1', timeout: 100 });
    expect(await outcome(once)).toBe('timedOut');
    // The same inbox again, too large for the next server: its subscription is the newer one.
    const retry = client.sendRequest('svc', { payload: new Uint8Array(300_000), inbox: 'mine.1' });
    servers.push(await startServer({ port, config: 'max_payload: 256KB' }));
    expect(await outcome(retry)).toBe('maxPayloadExceeded');
  });
});

describe("messages accepted under a larger max_payload than the next server's", () => {
  it('are left out and counted, not sent to end that connection; the rest arrives in order', async () => {
    const config = (maxPayload: number) => `max_payload: ${maxPayload}`;
    const first = await startServer({ config: config(2 * 1024 * 1024) });
    const { port } = first;
    const events: Event[] = [];
    const client = await new ConnectOptions()
      .requestTimeout(null)
      .reconnectDelayCallback(() => 100)
      .eventCallback((e) => {
        events.push(e);
      })
      .connect(first.url);
    clients.push(client);
    const received: number[] = [];
    client.subscribe('shrunk', { callback: (m) => received.push(m.length) });
    await client.flush();
    await first.stop();
    await waitFor(() => client.connectionState() === 'disconnected', 10_000, 'disconnected');
    // Accepted under the 2 MiB the client last heard of; the next server takes 256 KiB. One too
    // large is continued across ring records, one is not; one fits exactly.
    const sizes = [10, 1_500_000, 20, 300_000, 30, 262_144, 40];
    for (const size of sizes) client.publish('shrunk', new Uint8Array(size));
    let flushed: NatsError | 'resolved' | undefined;
    void client.flush().then(
      () => {
        flushed = 'resolved';
      },
      (error: NatsError) => {
        flushed = error;
      },
    );
    servers.push(await startServer({ port, config: config(256 * 1024) }));
    await waitFor(() => flushed !== undefined, 10_000, 'the flush settled');
    // One of them was not sent, so the flush behind them cannot prove they all arrived.
    expect((flushed as NatsError).kind).toBe('io');
    await client.flush(); // made after: judged on what follows
    await waitFor(() => received.length >= 5, 10_000, 'the messages that fit');
    expect(received).toEqual([10, 20, 30, 262_144, 40]);
    expect(client.statistics().connects).toBe(2); // no connection ended over them
    const refusals = () =>
      events.flatMap((e) =>
        e.type === 'clientError' && e.error.kind === 'maxPayloadExceeded' ? [e.error] : [],
      );
    // Events come in batches of their own, not in order with the messages.
    await waitFor(() => refusals().length > 0, 5_000, 'the maxPayloadExceeded event');
    const refused = refusals();
    expect(refused).toHaveLength(1);
    expect(refused[0].message).toContain('2 accepted messages');
    await client.close();
    expect((await client.closed())?.count).toBe(2);
  });
});

/**
 * stalledPublisher(), and a second server that is the pool's only one: `subscribe` sets up its
 * `peer` there, then the client is forced over to it; resolves once it is connected there.
 */
async function forcedAwayFromStalled(subscribe: (peer: Client) => void) {
  const stalled = await stalledPublisher();
  const other = await startServer();
  servers.push(other);
  const peer = await connect(other.url);
  clients.push(peer);
  subscribe(peer);
  await peer.flush();
  const { client } = stalled;
  await client.setServerPool([other.url]);
  void client.forceReconnect();
  // serverInfo() changes with the 'connected' update on this thread; statistics() and the
  // state word come earlier, from shared memory.
  await waitFor(() => client.serverInfo().port === other.port, 20_000, 'connected to the other');
  return { ...stalled, other, peer };
}

describe('forceReconnect() away from a server that does not read', () => {
  it('publishes on the next connection are not held up by the old socket still closing', async () => {
    let after = 0;
    const { server, client, other, peer, COUNT } = await forcedAwayFromStalled((peer) => {
      peer.subscribe('after', {
        callback: () => {
          after++;
        },
      });
    });
    try {
      client.publish('after', new Uint8Array(8));
      // The old socket would go on closing for 3 × pingInterval (minutes); requestTimeout is 10 s.
      await client.flush();
      await peer.flush();
      await waitFor(() => after === 1, 5_000, 'the message sent after the reconnect');
      expect(client.serverInfo().port).toBe(other.port);
    } finally {
      process.kill(server.pid, 'SIGCONT');
    }
    const result = await client.close().then(() => client.closed());
    // The old socket may still be closing: close() gives it 2 s, then counts what it lost.
    if (result !== undefined) expect(result.kind).toBe('notSent');
    expect(result?.count ?? 0).toBeLessThanOrEqual(COUNT);
  });

  it('what the old socket was writing still reaches its server once that reads again: none counted', async () => {
    // What was still in the command ring goes out on the next connection, to the other server.
    const receivedThere: number[] = [];
    const { server, client, peer, received, COUNT } = await forcedAwayFromStalled((peer) => {
      peer.subscribe('stall', {
        callback: (m) => {
          receivedThere.push(new DataView(m.payload.buffer, m.payload.byteOffset).getUint32(0));
        },
      });
    });
    try {
      await client.flush(); // the new connection works while the old server is still stopped
      // Far longer than the old socket was once given after the next connection was up
      // (connectionTimeout, 500 ms): a slow server is not a dead one.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    } finally {
      process.kill(server.pid, 'SIGCONT');
    }
    const all = () => [...received, ...receivedThere];
    await waitFor(() => all().length >= COUNT, 20_000, `all ${COUNT} (have ${all().length})`);
    expect(received.length).toBeGreaterThan(0); // some went on the old socket
    await peer.flush();
    expect(await client.close().then(() => client.closed())).toBeUndefined();
    expect(all().length).toBe(COUNT);
    expect(repeated(all())).toEqual([]);
  });
});

/** The state letter of process `pid` (/proc/<pid>/stat): 'T' once a SIGSTOP has taken effect. */
async function processState(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}
