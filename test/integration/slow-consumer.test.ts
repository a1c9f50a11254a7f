// The receive policy (DESIGN.md principle 3, src/worker/flow-control.ts): a consumer slower than
// a burst but making progress loses nothing (the worker stops reading past a byte bound and the
// server buffers); a main thread that takes nothing for a while (blocked) keeps its connection,
// and a subscription with more than subscriptionCapacity messages waiting then drops, with one
// coalesced slowConsumer event.

import { type Client, ConnectOptions, connect, type Event, NatsError } from 'nats-offload';
import { afterEach, describe, expect, it } from 'vitest';
import { runNodeScript } from '../helpers/child.js';
import { type NatsServer, startServer } from '../helpers/nats-server.js';
import { waitFor } from '../helpers/wait.js';

let server: NatsServer | undefined;
const clients: Client[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await server?.stop();
  server = undefined;
});

/** Busy until `done()` or `ms` have passed: no timers, no I/O, no dispatching on this thread. */
function blockMainThread(ms: number, done: () => boolean = () => false): void {
  const end = Date.now() + ms;
  while (Date.now() < end && !done()) {
    // statistics() reads shared memory: it answers while this thread is blocked
  }
}

/** A child process that publishes `count` messages to `subject`, honouring writable(). */
function flood(url: string, subject: string, count: number, size: number, pace = '') {
  return runNodeScript(
    `import { connect } from 'nats-offload';
     const c = await connect(${JSON.stringify(url)});
     const p = new TextEncoder().encode(JSON.stringify({ pad: 'x'.repeat(${Math.max(0, size - 10)}) }));
     for (let i = 0; i < ${count}; i++) {
       if (!c.publish(${JSON.stringify(subject)}, p)) await c.writable();
       ${pace}
     }
     await c.flush();
     await c.close();
     console.log('sent');`,
    { timeoutMs: 60_000 },
  );
}

/** Once a responder in another process answers 'ping' on 'svc'. */
async function untilServed(client: Client): Promise<void> {
  for (;;) {
    const ping = await client.request('svc', 'ping').catch(() => undefined);
    if (ping !== undefined) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A responder on 'svc' in another process: a request (not 'ping') starts a flood of `count`
 * messages of `size` bytes to 'bulk', then `replies` replies come 2 s later.
 */
function floodingResponder(url: string, count: number, size: number, replies: number) {
  return runNodeScript(
    `import { connect } from 'nats-offload';
     const c = await connect(${JSON.stringify(url)});
     const p = new Uint8Array(${size});
     c.subscribe('svc', { callback: async (m) => {
       if (m.string() === 'ping') return void m.respond('pong');
       for (let i = 0; i < ${count}; i++) if (!c.publish('bulk', p)) await c.writable();
       await c.flush();
       setTimeout(async () => {
         for (let i = 0; i < ${replies}; i++) m.respond('r' + i);
         await c.flush();
         await c.close();
       }, 2_000);
     } });`,
    { timeoutMs: 30_000 },
  );
}

function slowEvents(events: Event[]): Event[] {
  return events.filter((e) => e.type === 'slowConsumer');
}

describe('a consumer slower than the burst but making progress', () => {
  it('gets every message at default options; keep-alive does not call the paused socket stale', async () => {
    server = await startServer();
    const COUNT = 200_000;
    const events: Event[] = [];
    const client = await new ConnectOptions()
      .pingInterval(100) // stale after ~200-300 ms without PONGs: the worker pauses longer
      .eventCallback((e) => {
        events.push(e);
      })
      .connect(server.url);
    clients.push(client);
    let received = 0;
    let bad = 0;
    client.subscribe('work', {
      callback: (msg) => {
        // A service's work per message: decode, parse, and a few µs more.
        if (typeof msg.json<{ pad: string }>().pad !== 'string') bad++;
        const until = performance.now() + 0.01;
        while (performance.now() < until) {}
        received++;
      },
    });
    await client.flush();
    const result = await flood(server.url, 'work', COUNT, 180);
    expect(result.stdout).toContain('sent');
    // Ends early on a drop or a reconnect, which the assertions below then report.
    await waitFor(
      () => received === COUNT || events.some((e) => e.type !== 'connected'),
      60_000,
      'every message delivered',
    );
    expect(events.map((e) => e.type)).toEqual(['connected']);
    expect(received).toBe(COUNT);
    expect(bad).toBe(0);
    expect(client.statistics().connects).toBe(1);
  }, 90_000);
});

describe('an iterator with a small subscriptionCapacity, read as fast as it comes', () => {
  it('gets every message of a burst larger than its capacity, in order, none dropped', async () => {
    server = await startServer();
    const COUNT = 20_000;
    const events: Event[] = [];
    const client = await new ConnectOptions()
      .subscriptionCapacity(100) // far fewer than a dispatch slice brings (4,096 frames)
      .eventCallback((e) => {
        events.push(e);
      })
      .connect(server.url);
    clients.push(client);
    const sub = client.subscribe('burst');
    await client.flush();
    const sending = flood(server.url, 'burst', COUNT, 16);
    let received = 0;
    for await (const _ of sub) {
      if (++received === COUNT) break;
      if (client.statistics().droppedMessages > 0) break; // reported below
    }
    expect((await sending).stdout).toContain('sent');
    expect(client.statistics().droppedMessages).toBe(0);
    expect(slowEvents(events)).toEqual([]);
    expect(received).toBe(COUNT);
  });
});

describe('a blocked main thread', () => {
  it('keeps the connection, bounds the subscription and reports one slowConsumer', async () => {
    server = await startServer();
    const COUNT = 300_000;
    const CAPACITY = 10_000;
    const events: Event[] = [];
    const client = await new ConnectOptions()
      .pingInterval(500) // stale after ~1-1.5 s without PONGs: well within the block
      .subscriptionCapacity(CAPACITY)
      .eventCallback((e) => {
        events.push(e);
      })
      .connect(server.url);
    clients.push(client);
    let received = 0;
    const sub = client.subscribe('flood', {
      callback: () => {
        received++;
      },
    });
    await client.flush();

    // Paced (a pause every 1,000 messages), so the flood goes on after the worker has seen
    // the main thread take nothing for longer than the stall limit.
    const sending = flood(
      server.url,
      'flood',
      COUNT,
      16,
      'if (i % 1000 === 999) await new Promise((r) => setTimeout(r, 5));',
    );
    await waitFor(() => client.statistics().inMessages > 0, 20_000, 'the flood to start');
    blockMainThread(30_000, () => client.statistics().inMessages === COUNT);
    const result = await sending;
    expect(result.stdout).toContain('sent');
    await client.flush();

    expect(client.connectionState()).toBe('connected');
    expect(client.statistics().connects).toBe(1); // never reconnected while blocked
    expect(client.statistics().inMessages).toBe(COUNT); // the worker read everything
    expect(slowEvents(events)).toEqual([{ type: 'slowConsumer', sid: sub.sid }]);
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(COUNT);
    // Every message read and not delivered was dropped in the worker, and counted.
    expect(client.statistics().droppedMessages).toBe(COUNT - received);
  }, 60_000);

  it('drops no reply to a request however many wait: the shared inbox has no count bound', async () => {
    server = await startServer();
    const REQUESTS = 1_000;
    const events: Event[] = [];
    const client = await new ConnectOptions()
      .subscriptionCapacity(100)
      .requestTimeout(5_000)
      .eventCallback((e) => {
        events.push(e);
      })
      .connect(server.url);
    clients.push(client);
    // Answers come 0.6-1.6 s after their requests: while this thread is blocked, after the
    // worker has seen it take nothing for longer than the stall limit.
    const responder = runNodeScript(
      `import { connect } from 'nats-offload';
       const c = await connect(${JSON.stringify(server.url)});
       let n = 0;
       c.subscribe('svc', { callback: (m) => {
         if (m.string() === 'ping') return void m.respond('pong');
         const i = n++;
         setTimeout(() => m.respond('r' + i), 600 + i);
         if (n === ${REQUESTS}) setTimeout(async () => { await c.flush(); await c.close(); }, 2_000);
       } });`,
      { timeoutMs: 30_000 },
    );
    await untilServed(client);
    const before = client.statistics().inMessages; // the pings' replies
    const replies = Array.from({ length: REQUESTS }, () => client.request('svc', 'q'));
    await client.flush();
    blockMainThread(10_000, () => client.statistics().inMessages === before + REQUESTS);
    const settled = await Promise.allSettled(replies);
    expect(settled.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(client.statistics().droppedMessages).toBe(0);
    expect(slowEvents(events)).toEqual([]);
    expect((await responder).code).toBe(0);
  }, 30_000);

  // Floods past what the worker holds (16 MiB) and the 4 MiB ring: of 1 KiB messages, and of
  // 6 MiB ones (the worker admits one under 16 MiB, so the backlog ends far past it).
  it.each([
    ['the shared inbox, 1 KiB messages', undefined, 30_000, 1024],
    ['its own inbox, 1 KiB messages', '_MINE.reply', 30_000, 1024],
    ['the shared inbox, 6 MiB messages', undefined, 8, 6 * 1024 * 1024],
  ])(
    'fails a request on %s whose reply the byte bound dropped once the thread is back, not at its timeout',
    async (_, inbox, FLOOD, SIZE) => {
      server = await startServer({ config: 'max_payload: 8MB\nmax_pending: 128MB' });
      const events: Event[] = [];
      const client = await new ConnectOptions()
        .eventCallback((e) => {
          events.push(e);
        })
        .connect(server.url);
      clients.push(client);
      let bulk = 0;
      const bulkSub = client.subscribe('bulk', {
        callback: () => {
          bulk++;
        },
      });
      // The request starts a flood the blocked thread cannot take, and its reply comes 2 s later:
      // by then the worker has called the thread stalled and drops what it reads.
      const responder = floodingResponder(server.url, FLOOD, SIZE, 1);
      await untilServed(client);
      const before = client.statistics().inMessages;
      // No timeout: before the worker named the dropped reply, a request on the shared inbox
      // waited forever (one on its own inbox failed as 'closed', the client being open).
      const request = client.sendRequest('svc', { payload: 'go', timeout: null, inbox });
      await client.flush();
      blockMainThread(20_000, () => client.statistics().inMessages === before + FLOOD + 1);
      expect(client.statistics().inMessages).toBe(before + FLOOD + 1);
      const outcome = await Promise.race([
        request.then(
          () => 'resolved',
          (error) => error,
        ),
        new Promise((r) => setTimeout(() => r('still waiting'), 5_000)),
      ]);
      expect(outcome).toBeInstanceOf(NatsError);
      expect((outcome as NatsError).kind).toBe('slowConsumer');
      expect((outcome as NatsError).message).toContain('svc');
      const { droppedMessages } = client.statistics();
      expect(droppedMessages).toBeGreaterThan(0);
      expect(bulk + droppedMessages).toBe(FLOOD + 1); // every bulk message and the reply
      const slowSids = slowEvents(events).map((e) => (e as { sid: number }).sid);
      expect(slowSids).toContain(bulkSub.sid);
      expect(slowSids.length).toBe(2); // and the request's inbox's
      expect((await responder).code).toBe(0);
    },
    40_000,
  );

  it('a requestMany whose replies the byte bound dropped throws slowConsumer, not an early end', async () => {
    server = await startServer();
    const FLOOD = 30_000; // × 1 KiB, as above
    const REPLIES = 5;
    const client = await connect(server.url);
    clients.push(client);
    client.subscribe('bulk', { callback: () => {} });
    const responder = floodingResponder(server.url, FLOOD, 1024, REPLIES);
    await untilServed(client);
    const before = client.statistics().inMessages;
    const gathering = (async () => {
      let got = 0;
      try {
        for await (const _ of client.requestMany('svc', 'go', {
          maxMessages: REPLIES,
          maxWait: null,
        })) {
          got++;
        }
        return `ended after ${got}`;
      } catch (error) {
        return (error as NatsError).kind;
      }
    })();
    await client.flush();
    blockMainThread(20_000, () => client.statistics().inMessages === before + FLOOD + REPLIES);
    expect(client.statistics().inMessages).toBe(before + FLOOD + REPLIES);
    const outcome = await Promise.race([
      gathering,
      new Promise((r) => setTimeout(() => r('still waiting'), 5_000)),
    ]);
    expect(outcome).toBe('slowConsumer'); // it ended after 0 of 5, as if that were all
    expect((await responder).code).toBe(0);
  }, 40_000);

  it('reports one slowConsumer per stall for messages split across socket reads too', async () => {
    server = await startServer();
    const events: Event[] = [];
    const client = await new ConnectOptions()
      .eventCallback((e) => {
        events.push(e);
      })
      .connect(server.url);
    clients.push(client);
    const sub = client.subscribe('big', { callback: () => {} });
    await client.flush();
    // 256 KiB each: every message spans several reads, so the parser hands each over from its
    // own buffer, not from a socket chunk. Two stalls, with idle time between them.
    for (let stall = 1; stall <= 2; stall++) {
      const before = client.statistics().inMessages;
      const sending = flood(server.url, 'big', 200, 256 * 1024);
      blockMainThread(20_000, () => client.statistics().inMessages === before + 200);
      expect((await sending).stdout).toContain('sent');
      await client.flush();
      await waitFor(
        () => slowEvents(events).length === stall,
        5_000,
        `the slowConsumer event of stall ${stall}`,
      );
      expect(client.statistics().droppedMessages).toBeGreaterThan(0);
    }
    expect(slowEvents(events)).toEqual([
      { type: 'slowConsumer', sid: sub.sid },
      { type: 'slowConsumer', sid: sub.sid },
    ]);
  }, 60_000);

  it('counts what waits in the delivery ring: a blocked callback with subscriptionCapacity(2) is reported', async () => {
    server = await startServer();
    const events: Event[] = [];
    const client = await new ConnectOptions()
      .subscriptionCapacity(2)
      .eventCallback((e) => {
        events.push(e);
      })
      .connect(server.url);
    const peer = await connect(server.url);
    clients.push(client, peer);
    let received = 0;
    const sub = client.subscribe('few', {
      callback: () => {
        received++;
      },
    });
    await client.flush();

    // Batches of 10, each once the worker has read the one before: all fit in the delivery
    // ring, and none is taken while this thread is blocked. The worker calls the thread stalled
    // at the first batch that comes 500 ms (its STALL_MS) after the first; with 2 allowed to
    // wait and more already in the ring, that whole batch is dropped, and so is one more.
    const BATCH = 10;
    let sent = 0;
    let droppedBatches = 0; // read since the first drop
    // Settled only once this thread runs again: awaited below (one pending at close rejects).
    const flushes: Promise<void>[] = [];
    blockMainThread(20_000, () => {
      const { inMessages, droppedMessages } = client.statistics();
      if (inMessages < sent) return false; // the last batch is on its way
      if (droppedMessages > 0 && ++droppedBatches === 2) return true;
      for (let i = 0; i < BATCH; i++) peer.publish('few', 'x');
      flushes.push(peer.flush()); // makes the frames visible to the peer's worker at once
      sent += BATCH;
      return false;
    });
    await Promise.all(flushes);
    await client.flush();
    expect(client.statistics().inMessages).toBe(sent);
    expect(slowEvents(events)).toEqual([{ type: 'slowConsumer', sid: sub.sid }]);
    // What waited before the stall was seen is delivered; every message after it dropped, in
    // whole batches (statistics may show a batch's drop a poll after its inMessages, so a
    // third batch can go out before the loop sees two).
    const dropped = client.statistics().droppedMessages;
    expect(dropped).toBeGreaterThanOrEqual(2 * BATCH);
    expect(dropped % BATCH).toBe(0);
    expect(received).toBe(sent - dropped);
  }, 30_000);
});

describe('a client that publishes while it receives', () => {
  it('is not slowed to its delivery pace when it publishes to subjects it does not receive', async () => {
    server = await startServer();
    const client = await connect(server.url);
    const feeder = await connect(server.url);
    const sink = await connect(server.url);
    clients.push(client, feeder, sink);
    client.subscribe('in', { callback: () => {} });
    sink.subscribe('out', { callback: () => {} });
    await client.flush();
    await sink.flush();
    const OUT = 2_000;
    const IN = 20_000; // 20k × 128 B: more than 1/64 of the delivery ring, within one ring
    const payload = new Uint8Array(128);
    let published = false;
    // Settled only once this thread reads what came before their PONGs: awaited below, as a
    // flush left pending when the client closes rejects.
    const flushes: Promise<void>[] = [];
    blockMainThread(10_000, () => {
      // The client's deliveries back up (this thread reads none), then it publishes to 'out'.
      if (
        !published &&
        client.statistics().inMessages === 0 &&
        feeder.statistics().outMessages === 0
      ) {
        for (let i = 0; i < IN; i++) feeder.publish('in', payload);
        flushes.push(feeder.flush());
      }
      if (!published && client.statistics().inMessages >= IN) {
        for (let i = 0; i < OUT; i++) client.publish('out', payload);
        flushes.push(client.flush());
        published = true;
      }
      return published && sink.statistics().inMessages === OUT;
    });
    // Before, the worker held every command while deliveries were behind, so 'out' waited
    // for this thread to read its 'in' messages.
    expect(sink.statistics().inMessages).toBe(OUT);
    await Promise.all(flushes);
  }, 30_000);
});
