// API.md "Guarantees": every promise settles (a dead worker, a connection that does not come
// back), and after drain() starts new work fails with 'draining' while requests already
// waiting still get their replies.

import { type Client, ConnectOptions, connect, type Event, NatsError } from 'nats-offload';
import { asNatsConnection } from 'nats-offload/compat';
import { afterEach, describe, expect, it } from 'vitest';
import { terminateWorker } from '../../src/main/test-hooks.js';
import { type NatsServer, startServer } from '../helpers/nats-server.js';
import {
  handshake,
  type PeerConnection,
  type ScriptedPeer,
  startScriptedPeer,
} from '../helpers/scripted-peer.js';
import { EventLog, waitFor, withTimeout } from '../helpers/wait.js';

let server: NatsServer | undefined;
let peer: ScriptedPeer | undefined;
const clients: Client[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await server?.stop();
  server = undefined;
  await peer?.close();
  peer = undefined;
});

/** The kind of the error `promise` rejects with (or 'resolved'). */
async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return error instanceof NatsError ? error.kind : `not a NatsError: ${String(error)}`;
  }
}

/** A server that completes each connection's handshake and then never answers. */
async function answersOnlyTheHandshake(conn: PeerConnection): Promise<void> {
  await handshake(conn);
  for await (const _ of conn.lines()) {
    // silent from here on
  }
}

describe('when the connection worker dies', () => {
  it('every pending call settles with workerExited, iterators end, one clientError and one closed', async () => {
    // A server that completes the handshake and then never answers: flushes and requests wait.
    peer = await startScriptedPeer(answersOnlyTheHandshake);
    const events: Event[] = [];
    const client = await new ConnectOptions()
      .requestTimeout(null)
      .clientCapacity(1_000_000)
      .maxPendingBytes(256 * 1024 * 1024)
      .eventCallback((e) => {
        events.push(e);
      })
      .connect(peer.url);
    clients.push(client);
    const iterated = client.subscribe('it');
    const next = iterated[Symbol.asyncIterator]().next();
    const withCallback = client.subscribe('cb', { callback: () => {} });
    const flush = client.flush();
    const request = client.request('svc');
    const ownInbox = client.sendRequest('svc', { inbox: client.newInbox() });
    const many = client.requestMany('svc', undefined, { maxWait: null })[Symbol.asyncIterator]();
    const closed = client.closed();
    // 64 MiB at once: more than the ring holds, so publishes also wait on this thread (the
    // one clientError must still be 'workerExited', not a partial 'notSent' count as well).
    const big = new Uint8Array(64 * 1024);
    for (let i = 0; i < 1024; i++) client.publish('backlog', big);

    await terminateWorker(client);
    const settled = await withTimeout(
      Promise.all([
        outcome(flush),
        outcome(request),
        outcome(ownInbox),
        outcome(many.next()),
        next,
        iterated.closed,
        withCallback.closed,
        closed,
      ]),
      1_000,
      'every pending call to settle',
    );
    const [
      flushKind,
      requestKind,
      inboxKind,
      manyKind,
      iteration,
      itClosed,
      cbClosed,
      clientClosed,
    ] = settled;
    expect([flushKind, requestKind, inboxKind, manyKind]).toEqual([
      'workerExited',
      'workerExited',
      'workerExited',
      'workerExited',
    ]);
    expect(iteration).toEqual({ value: undefined, done: true });
    expect(itClosed?.kind).toBe('workerExited');
    expect(cbClosed?.kind).toBe('workerExited');
    expect(clientClosed?.kind).toBe('workerExited');
    await waitFor(() => events.some((e) => e.type === 'closed'), 1_000, 'the closed event');
    const ends = events.filter((e) => e.type === 'clientError' || e.type === 'closed');
    expect(ends.map((e) => (e.type === 'clientError' ? e.error.kind : e.type))).toEqual([
      'workerExited',
      'closed',
    ]);
    expect(client.connectionState()).toBe('closed');
    expect(() => client.publish('x', 'y')).toThrow(expect.objectContaining({ kind: 'closed' }));
  });
});

describe('flush() and drain() without a connection', () => {
  it('reject timedOut after 2 × connectionTimeout disconnected, even with requestTimeout(null)', async () => {
    server = await startServer();
    const events: Event[] = [];
    const client = await new ConnectOptions()
      .requestTimeout(null)
      .connectionTimeout(200)
      .eventCallback((e) => {
        events.push(e);
      })
      .connect(server.url);
    clients.push(client);
    await server.stop();
    server = undefined;
    await waitFor(() => client.connectionState() === 'disconnected', 5_000, 'disconnected');
    const started = performance.now();
    expect(await withTimeout(outcome(client.flush()), 5_000, 'flush to settle')).toBe('timedOut');
    expect(performance.now() - started).toBeLessThan(4_000); // bounded, not the request timeout
    expect(await withTimeout(outcome(client.drain()), 5_000, 'drain to settle')).toBe('timedOut');
    expect(client.connectionState()).toBe('closed'); // drain closes all the same
  });

  it('with a request timeout, drain() resolves as close() does; closed() counts what was not sent', async () => {
    server = await startServer();
    const client = await new ConnectOptions()
      .connectionTimeout(200)
      .requestTimeout(10_000)
      .connect(server.url);
    clients.push(client);
    await server.stop();
    server = undefined;
    await waitFor(() => client.connectionState() === 'disconnected', 5_000, 'disconnected');
    for (let i = 0; i < 10; i++) client.publish('unsent', 'x');
    const started = performance.now();
    expect(await withTimeout(outcome(client.drain()), 5_000, 'drain to settle')).toBe('resolved');
    expect(performance.now() - started).toBeLessThan(4_000); // 2 × connectionTimeout, not 10 s
    expect(client.connectionState()).toBe('closed');
    const closed = await client.closed();
    expect(closed?.kind).toBe('notSent');
    expect(closed?.count).toBe(10);
  });
});

describe('with requestTimeout(null), behind servers that stop answering', () => {
  it('flush() rejects timedOut though connections keep coming back, each answering nothing', async () => {
    // Each connection completes its handshake and then never answers: found stale, replaced.
    peer = await startScriptedPeer(answersOnlyTheHandshake);
    const events: Event[] = [];
    const client = await new ConnectOptions()
      .requestTimeout(null)
      .connectionTimeout(1_000)
      .pingInterval(300)
      .eventCallback((e) => {
        events.push(e);
      })
      .connect(peer.url);
    clients.push(client);
    const started = performance.now();
    // 2 × connectionTimeout after the first disconnection, connectionTimeout more if a
    // connection is up then.
    expect(await withTimeout(outcome(client.flush()), 15_000, 'flush to settle')).toBe('timedOut');
    expect(performance.now() - started).toBeLessThan(8_000);
    expect(events.filter((e) => e.type === 'connected').length).toBeGreaterThan(1);
  });
});

describe('drain() and replies that come late', () => {
  it('drain() still waits for a slow reply when the server answers', async () => {
    server = await startServer();
    const client = await new ConnectOptions()
      .requestTimeout(10_000)
      .connectionTimeout(1_000)
      .connect(server.url);
    const responder = await connect(server.url);
    clients.push(client, responder);
    responder.subscribe('slow.reply', {
      callback: (msg) => {
        setTimeout(() => msg.respond('late'), 2_500);
      },
    });
    await responder.flush();
    const reply = client.request('slow.reply');
    await client.flush();
    const drained = client.drain();
    expect((await reply).string()).toBe('late');
    expect(await outcome(drained)).toBe('resolved');
    expect(await client.closed()).toBeUndefined();
  });

  it('drain() waits for a request within its own timeout, past 2 × connectionTimeout', async () => {
    server = await startServer();
    const client = await new ConnectOptions()
      .requestTimeout(null)
      .connectionTimeout(500)
      .connect(server.url);
    const responder = await connect(server.url);
    clients.push(client, responder);
    responder.subscribe('slower.reply', {
      callback: (msg) => {
        setTimeout(() => msg.respond('later'), 2_000); // past 2 × connectionTimeout (1 s)
      },
    });
    await responder.flush();
    const reply = client.sendRequest('slower.reply', { timeout: 5_000 });
    await client.flush();
    const drained = client.drain();
    expect((await reply).string()).toBe('later');
    expect(await outcome(drained)).toBe('resolved');
  });
});

describe('flush() the moment the connection is back', () => {
  it('waits for it, however long the client was without one', async () => {
    server = await startServer();
    const other = await startServer();
    try {
      const client = await new ConnectOptions()
        .requestTimeout(null)
        .connectionTimeout(200)
        .connect(server.url);
      clients.push(client);
      await server.stop();
      server = undefined;
      await waitFor(() => client.connectionState() === 'disconnected', 5_000, 'disconnected');
      // Without a connection for longer than its 2 × connectionTimeout bound.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await client.setServerPool([other.url]);
      // The state word (and the connect count beside it) says connected before the 'connected'
      // update reaches this thread, which it cannot while this loop holds the thread: the flush
      // comes in between (connectionState() says so only once the update is applied). From the
      // check phase, and past the next millisecond, so the event loop runs due timers first.
      const { flushed } = await new Promise<{ flushed: Promise<string> }>((resolve) => {
        setImmediate(() => {
          const deadline = performance.now() + 20_000;
          while (client.statistics().connects < 2 && performance.now() < deadline) {}
          const settled = outcome(client.flush());
          const later = performance.now() + 5;
          while (performance.now() < later) {}
          resolve({ flushed: settled });
        });
      });
      await waitFor(() => client.connectionState() === 'connected', 10_000, 'connected');
      expect(await withTimeout(flushed, 10_000, 'flush to settle')).toBe('resolved');
    } finally {
      await other.stop();
    }
  });
});

describe('after drain() starts', () => {
  it("the 'draining' event's own handler finds new work refused, and its drain() is the same", async () => {
    server = await startServer();
    const seen: string[] = [];
    let nested: Promise<void> | undefined;
    const client = await new ConnectOptions()
      .eventCallback((event) => {
        seen.push(event.type);
        if (event.type !== 'draining') return;
        // Called from within drain(), before it returned.
        try {
          client.publish('x', 'y');
          seen.push('publish accepted');
        } catch (error) {
          seen.push(`publish ${(error as NatsError).kind}`);
        }
        void outcome(client.request('x', 'y')).then((kind) => seen.push(`request ${kind}`));
        nested = client.drain();
      })
      .connect(server.url);
    clients.push(client);
    const draining = client.drain();
    await draining;
    expect(nested).toBe(draining);
    expect(seen).toEqual([
      'connected',
      'draining',
      'publish draining',
      'request draining',
      'closed',
    ]);
  });

  it('new publishes, subscriptions and requests fail with draining; waiting requests get their replies', async () => {
    server = await startServer();
    const client = await connect(server.url);
    const service = await connect(server.url);
    clients.push(client, service);
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    service.subscribe('slow', {
      callback: (msg) => {
        void released.then(() => service.publish(msg.reply as string, `re:${msg.string()}`));
      },
    });
    await service.flush();

    const waiting = client.request('slow', 'a');
    const waitingOnInbox = client.sendRequest('slow', { payload: 'b', inbox: client.newInbox() });
    await client.flush(); // both requests are at the service
    const draining = client.drain();
    expect(() => client.publish('x', 'y')).toThrow(expect.objectContaining({ kind: 'draining' }));
    expect(() => client.subscribe('x')).toThrow(expect.objectContaining({ kind: 'draining' }));
    expect(await outcome(client.request('slow', 'c'))).toBe('draining');
    release();
    expect((await waiting).string()).toBe('re:a');
    expect((await waitingOnInbox).string()).toBe('re:b');
    await draining;
    expect(client.connectionState()).toBe('closed');
    expect(await client.closed()).toBeUndefined();
  });

  // close() is "close now": callbacks ran on for what was still arriving, each respond() threw
  // 'closed' and came back as a 'callback' clientError (64-224 of them for one close()).
  it('close() delivers nothing more to callbacks: no respond() on a closing client', async () => {
    server = await startServer();
    const requester = await new ConnectOptions().requestTimeout(2_000).connect(server.url);
    const log = new EventLog();
    const service = await new ConnectOptions().eventCallback(log.callback).connect(server.url);
    clients.push(requester, service);
    let closeCalled = false;
    let afterClose = 0;
    let answered = 0;
    service.subscribe('svc.close', {
      callback: (m) => {
        if (closeCalled) afterClose++;
        if (m.respond('ok')) answered++;
        if (answered === 100) {
          closeCalled = true;
          void service.close();
        }
      },
    });
    await service.flush();
    const replies = Array.from({ length: 3_000 }, () =>
      requester.request('svc.close').then(
        () => 'ok',
        (e: NatsError) => e.kind,
      ),
    );
    await service.closed();
    expect(afterClose).toBe(0);
    expect(log.events.filter((e) => e.type === 'clientError')).toEqual([]);
    const outcomes = await Promise.all(replies);
    expect(outcomes.filter((o) => o === 'ok').length).toBeGreaterThanOrEqual(100);
  });

  // Review of 8ed4686: with publishes waiting, close() waits up to connectionTimeout before the
  // client counted as closed; a subscription or request made then was never ended, and a
  // requestMany pending at close() ended normally instead of 'closed'.
  it('close() refuses new work at once, while publishes still wait; a pending requestMany rejects closed', async () => {
    server = await startServer();
    const c = await new ConnectOptions().requestTimeout(null).connect(server.url);
    clients.push(c);
    c.subscribe('silent', { callback: () => {} });
    await c.flush();
    const gathering = (async () => {
      for await (const _ of c.requestMany('silent', '', { maxWait: 60_000 })) {
      }
      return 'ended normally';
    })().catch((e: NatsError) => e.kind);
    await c.flush();
    const block = new Uint8Array(64 * 1024);
    for (let i = 0; i < 200; i++) c.publish('bulk', block); // more than the ring: some wait here
    const closing = c.close();
    expect(() => c.subscribe('late')).toThrow(expect.objectContaining({ kind: 'closed' }));
    // It resolved once the queue had moved into the ring, as if publishing could go on.
    await expect(c.writable()).rejects.toMatchObject({ kind: 'closed' });
    await expect(c.sendRequest('silent', { inbox: c.newInbox() })).rejects.toMatchObject({
      kind: 'closed',
    });
    await closing;
    expect(await gathering).toBe('closed');
  });

  // An async responder (await work, then respond) was cut off: drain() closed the client while
  // the callbacks awaited, so each respond() threw 'closed' and every requester timed out.
  it('drain() waits for async callbacks still at work on delivered messages, then closes', async () => {
    server = await startServer();
    const requester = await new ConnectOptions().requestTimeout(5_000).connect(server.url);
    const service = await connect(server.url);
    clients.push(requester, service);
    const respondErrors: unknown[] = [];
    let received = 0;
    service.subscribe('svc.async', {
      callback: async (m) => {
        received++;
        await new Promise((resolve) => setTimeout(resolve, 300));
        try {
          m.respond(m.payload);
        } catch (error) {
          respondErrors.push(error);
        }
      },
    });
    await service.flush();
    const replies = Array.from({ length: 20 }, (_, i) => requester.request('svc.async', `q${i}`));
    await waitFor(() => received === 20, 5_000, 'every request at the service');
    await service.drain();
    expect(respondErrors).toEqual([]);
    const answered = await Promise.all(replies.map((r) => r.then((m) => m.string())));
    expect(answered).toEqual(Array.from({ length: 20 }, (_, i) => `q${i}`));
    expect(await service.closed()).toBeUndefined();
  });

  it('drain() reports callbacks whose promises had not settled when it closed', async () => {
    server = await startServer();
    const log = new EventLog();
    const c = await new ConnectOptions()
      .connectionTimeout(200)
      .requestTimeout(200)
      .eventCallback(log.callback)
      .connect(server.url);
    clients.push(c);
    let handed = 0;
    c.subscribe('hang', {
      callback: () => {
        handed++;
        return new Promise<void>(() => {});
      },
    });
    c.publish('hang', 'a');
    c.publish('hang', 'b');
    await waitFor(() => handed === 2, 5_000, 'both messages at the callback');
    await c.drain();
    const reports = log.events.flatMap((e) =>
      e.type === 'clientError' && e.error.kind === 'callback' ? [e.error.message] : [],
    );
    expect(reports).toEqual([
      '2 promise(s) subscription callbacks returned had not settled when drain() closed the client',
    ]);
  });

  it('drain() waits for a max: 1 responder too, ended before its callback settled', async () => {
    server = await startServer();
    const requester = await new ConnectOptions().requestTimeout(5_000).connect(server.url);
    const service = await connect(server.url);
    clients.push(requester, service);
    let received = false;
    service.subscribe('svc.once', {
      max: 1,
      callback: async (m) => {
        received = true;
        await new Promise((resolve) => setTimeout(resolve, 300));
        m.respond('once');
      },
    });
    await service.flush();
    const reply = requester.request('svc.once');
    await waitFor(() => received, 5_000, 'the request at the service');
    await service.drain();
    expect((await reply).string()).toBe('once');
  });

  // "What was in flight is delivered": a service that drains answers what it still gets (a
  // respond() threw 'draining' there, and each requester timed out). Same in the compat layer,
  // with a reply subject of its own on the answer too (its refusal was swallowed).
  it.each(['core', 'compat'])(
    'a draining service still answers the requests on their way to it (%s)',
    async (layer) => {
      server = await startServer();
      const requester = await new ConnectOptions().requestTimeout(5_000).connect(server.url);
      const service = await connect(server.url);
      clients.push(requester, service);
      const respondErrors: unknown[] = [];
      let drained: Promise<void> | undefined;
      let answeredWhileDraining = 0;
      // The first request starts the drain: every answer is given after drain() started.
      const answer = (respond: () => boolean) => {
        drained ??= service.drain();
        try {
          if (respond()) answeredWhileDraining++;
        } catch (error) {
          respondErrors.push(error);
        }
      };
      if (layer === 'core') {
        service.subscribe('svc', { callback: (m) => answer(() => m.respond(m.payload)) });
      } else {
        asNatsConnection(service).subscribe('svc', {
          callback: (_error, m) => answer(() => m.respond(m.data, { reply: 'svc.reply-to' })),
        });
      }
      await service.flush();
      const replies = Array.from({ length: 20 }, (_, i) => requester.request('svc', `q${i}`));
      const answered = await Promise.all(replies.map((r) => r.then((m) => m.string())));
      expect(answered).toEqual(Array.from({ length: 20 }, (_, i) => `q${i}`));
      expect(respondErrors).toEqual([]);
      expect(answeredWhileDraining).toBe(20);
      await drained;
      expect(await service.closed()).toBeUndefined();
    },
  );
});
