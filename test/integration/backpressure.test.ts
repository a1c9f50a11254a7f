// Back-pressure (API.md "Back-pressure"): with no connection nothing drains the command ring,
// so publishes fill it, then wait on the caller's thread: `publish` returns false once
// clientCapacity messages wait there, throws 'clientCapacity' past maxPendingBytes, and
// everything it accepted is sent, in order, once a server appears.

import { type Client, ConnectOptions, NatsError } from 'nats-offload';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { freePort, type NatsServer, startServer, stopAll } from '../helpers/nats-server.js';
import { EventLog, settledYet, waitFor, withTimeout } from '../helpers/wait.js';

const SIZE = 16 * 1024;
const RING = 4 * 1024 * 1024; // the command ring's capacity (DEFAULT_RING_CAPACITY)
const MAX_PENDING = RING + 512 * 1024;

const clients: Client[] = [];
const servers: NatsServer[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

afterAll(stopAll);

function stamp(buf: Uint8Array, seq: number): void {
  new DataView(buf.buffer, buf.byteOffset).setUint32(0, seq, true);
  buf[buf.length - 1] = seq & 0xff;
}

function seqOf(payload: Uint8Array): number {
  return new DataView(payload.buffer, payload.byteOffset).getUint32(0, true);
}

/** A client whose server is not there yet: connect() resolves at once, state 'pending'. */
async function pendingClient(port: number, clientCapacity: number, events?: EventLog) {
  let options = new ConnectOptions()
    .retryOnInitialConnect()
    .clientCapacity(clientCapacity)
    .maxPendingBytes(MAX_PENDING)
    // Keep retrying often, so the test does not wait out the default backoff (up to 4 s).
    .reconnectDelayCallback(() => 20);
  if (events) options = options.eventCallback(events.callback);
  const client = await options.connect(`nats://127.0.0.1:${port}`);
  clients.push(client);
  return client;
}

interface Fill {
  /** What each accepted publish returned, in order. */
  results: boolean[];
  /** What the first refused publish threw. */
  error: unknown;
}

/** Publishes SIZE-byte messages (seq 0, 1, …) until one throws. */
function fillUntilRefused(client: Client, subject: string): Fill {
  const payload = new Uint8Array(SIZE);
  const results: boolean[] = [];
  for (let seq = 0; seq < 10_000; seq++) {
    stamp(payload, seq);
    try {
      results.push(client.publish(subject, payload));
    } catch (error) {
      return { results, error };
    }
  }
  return { results, error: undefined };
}

/** Records the sequence numbers a subscription receives, and the first out-of-order one. */
function recordSeqs(client: Client, subject: string, size = SIZE) {
  const record = { count: 0, next: 0, problem: undefined as string | undefined };
  client.subscribe(subject, {
    callback: (msg) => {
      const seq = seqOf(msg.payload);
      if (record.problem === undefined && (seq !== record.next || msg.length !== size)) {
        record.problem = `message #${record.count}: seq ${seq}, expected ${record.next}, ${msg.length} bytes`;
      }
      record.next = seq + 1;
      record.count++;
    },
  });
  return record;
}

describe('back-pressure while no server is there', () => {
  it('true, then false from clientCapacity waiting on, then clientCapacity thrown; all accepted arrive once, in order', async () => {
    const port = await freePort();
    const eventsA = new EventLog();
    const a = await pendingClient(port, 4, eventsA);
    const b = await pendingClient(port, 16);
    expect(a.connectionState()).toBe('pending');
    expect(b.connectionState()).toBe('pending');

    // The SUBs go first into the rings, so they reach the server before the PUBs.
    const gotA = recordSeqs(a, 'bp.a');
    const gotB = recordSeqs(b, 'bp.b');
    const fillA = fillUntilRefused(a, 'bp.a');
    const fillB = fillUntilRefused(b, 'bp.b');

    for (const fill of [fillA, fillB]) {
      // Every publish was accepted until one was refused with 'clientCapacity'.
      expect(fill.error).toBeInstanceOf(NatsError);
      expect((fill.error as NatsError).kind).toBe('clientCapacity');
      // true while the ring took them and fewer than clientCapacity waited, then only false.
      expect(fill.results.map((r) => (r ? 'T' : 'F')).join('')).toMatch(/^T+F+$/);
      // Refused by bytes: the accepted payloads fit in maxPendingBytes, one more would not.
      const accepted = fill.results.length;
      expect(accepted * SIZE).toBeLessThanOrEqual(MAX_PENDING);
      expect((accepted + 2) * (SIZE + 128)).toBeGreaterThan(MAX_PENDING);
      // Most of them sit in the 4 MiB ring.
      expect(accepted).toBeGreaterThan(RING / (SIZE + 128) - 2);
    }
    // Same ring and byte bound: as many accepted. The first `false` comes exactly
    // clientCapacity-many waiting messages after the ring filled: 16 - 4 = 12 later for B.
    expect(fillB.results.length).toBe(fillA.results.length);
    const trues = (fill: Fill) => fill.results.filter(Boolean).length;
    expect(trues(fillB) - trues(fillA)).toBe(16 - 4);

    // A refused publish stays refused while nothing drains, and writable() waits.
    expect(() => a.publish('bp.a', new Uint8Array(SIZE))).toThrow(NatsError);
    const writableA = a.writable();
    const writableB = b.writable();
    expect(await settledYet(writableA)).toBe(false);
    expect(await settledYet(writableB)).toBe(false);
    expect(a.connectionState()).toBe('pending');
    expect(a.statistics().outMessages).toBe(0);

    // A server appears on that port: both connect and send what they accepted.
    servers.push(await startServer({ port }));
    await withTimeout(Promise.all([writableA, writableB]), 10_000, 'writable()');
    await eventsA.next('connected', 0, 10_000);
    await waitFor(
      () => gotA.count >= fillA.results.length && gotB.count >= fillB.results.length,
      15_000,
      `every accepted message (A ${gotA.count}/${fillA.results.length}, B ${gotB.count}/${fillB.results.length})`,
    );
    await a.flush();
    await b.flush();

    for (const [got, fill] of [
      [gotA, fillA],
      [gotB, fillB],
    ] as const) {
      expect(got.problem).toBeUndefined();
      expect(got.count).toBe(fill.results.length);
      expect(got.next).toBe(fill.results.length); // the refused one never arrived
    }
    expect(a.statistics().outMessages).toBe(fillA.results.length);
    expect(eventsA.types()).not.toContain('slowConsumer');
    // Publishing goes on normally.
    expect(a.publish('bp.a', new Uint8Array(SIZE))).toBe(true);
  }, 60_000);
});

describe('writable() while messages wait', () => {
  it('calls share one promise: one made without being awaited holds nothing of its own', async () => {
    // A million unawaited calls held 418 MB, each its own promise and waiter (review, s24).
    const client = await pendingClient(await freePort(), 4);
    const payload = new Uint8Array(SIZE);
    while (client.publish('bp.shared', payload)) {}
    const first = client.writable();
    const outcome = first.then(
      () => 'resolved',
      (e: NatsError) => e.kind,
    );
    for (let i = 0; i < 1_000; i++) expect(client.writable()).toBe(first);
    await client.close();
    expect(await outcome).toBe('closed');
  });
});

describe('control frames waiting on the calling thread', () => {
  // Publishes that fill maxPendingBytes do not fail a subscribe, a flush or an unsubscribeAfter
  // (API.md keeps 'clientCapacity' for publishes): control frames have an allowance of their
  // own past it. Past that too they are refused, so memory stays bounded; a plain UNSUB still
  // queues (one per subscription at most), and everything accepted arrives.
  it('takes subscribe, flush and unsubscribeAfter past a publish-full bound, refuses them past their allowance; unsubscribe still goes out', async () => {
    const port = await freePort();
    const client = await pendingClient(port, 4);
    let kept = 0;
    const keptSub = client.subscribe('cf.kept', { callback: () => kept++ });
    let ended = 0;
    const endedSub = client.subscribe('cf.ended', { callback: () => ended++ });
    let limited = 0;
    const limitedSub = client.subscribe('cf.limited', { callback: () => limited++ });
    const fill = fillUntilRefused(client, 'cf.kept');
    expect(kindOf(fill.error)).toBe('clientCapacity');

    // Publish-full: control commands still queue.
    let after = 0;
    client.subscribe('cf.after', { callback: () => after++ });
    const firstFlush = client.flush();
    await limitedSub.unsubscribeAfter(1);

    // Flushes (8-byte frames) take the control allowance until one is refused.
    const flushes: Promise<void>[] = [firstFlush];
    let flushRefused: unknown;
    while (flushRefused === undefined && flushes.length < 100_000) {
      const flush = client.flush();
      flushRefused = await Promise.race([flush.catch((e: unknown) => e), settledYet(flush)]);
      if (flushRefused === false) {
        flushRefused = undefined;
        flushes.push(flush);
      }
    }
    expect(kindOf(flushRefused)).toBe('clientCapacity');
    expect(flushes.length).toBeGreaterThan(1_000); // the allowance, not the publishes' bound
    let refused: unknown;
    try {
      client.subscribe('cf.refused');
    } catch (error) {
      refused = error;
    }
    expect(kindOf(refused)).toBe('clientCapacity');
    expect(kindOf(await keptSub.unsubscribeAfter(1).catch((e: unknown) => e))).toBe(
      'clientCapacity',
    );
    await endedSub.unsubscribe(); // queued past the bound
    expect(endedSub.isClosed).toBe(true);

    servers.push(await startServer({ port }));
    // The refused unsubscribeAfter(1) left no limit: every accepted message arrives.
    await waitFor(() => kept === fill.results.length, 15_000, 'every accepted message');
    await withTimeout(client.flush(), 10_000, 'flush() once connected');
    await withTimeout(Promise.all(flushes), 10_000, 'the flushes accepted while full');
    expect(keptSub.isClosed).toBe(false);

    // The UNSUB reached the server: nothing more for 'cf.ended'; 'cf.refused' was never
    // subscribed; the SUB and the limit queued while publish-full did.
    for (const subject of ['cf.ended', 'cf.refused', 'cf.after', 'cf.limited', 'cf.limited']) {
      client.publish(subject, 'x');
    }
    await client.flush();
    expect([ended, after, limited]).toEqual([0, 1, 1]);
    expect(limitedSub.isClosed).toBe(true);
    expect(client.statistics().inMessages).toBe(fill.results.length + 2);
  }, 60_000);

  it('drain() with no room for its flush still resolves, and closed() counts what was not sent', async () => {
    const client = await pendingClient(await freePort(), 4);
    const fill = fillUntilRefused(client, 'cf.drain');
    expect(kindOf(fill.error)).toBe('clientCapacity');
    while ((await settledYet(client.flush().catch(() => {}))) === false) {}
    await withTimeout(client.drain(), 10_000, 'drain()');
    const closed = await client.closed();
    expect(kindOf(closed)).toBe('notSent');
    expect((closed as NatsError).count).toBe(fill.results.length);
  }, 30_000);
});

function kindOf(error: unknown): unknown {
  return error instanceof NatsError ? error.kind : error;
}

describe('small publishes waiting on the calling thread', () => {
  // Small messages wait gathered in shared PUB frames: `false` still counts messages, and a
  // SUB queued between two runs of them still goes out between them.
  it('counts messages, not frames, and keeps SUBs in order between gathered publishes', async () => {
    const small = 100;
    const port = await freePort();
    const a = await pendingClient(port, 1000);
    const b = await pendingClient(port, 3000);
    const gotA = recordSeqs(a, 'bp.small.a', small);
    const gotB = recordSeqs(b, 'bp.small.b', small);
    const payload = new Uint8Array(small);
    const publishUntilFalse = (client: Client, subject: string) => {
      let seq = 0;
      for (;;) {
        stamp(payload, seq);
        if (!client.publish(subject, payload)) return seq + 1;
        seq++;
        if (seq > 200_000) throw new Error('publish never returned false');
      }
    };
    const acceptedA = publishUntilFalse(a, 'bp.small.a');
    const acceptedB = publishUntilFalse(b, 'bp.small.b');
    // The ring took as many of each; B's first false came 3000 - 1000 messages later.
    expect(acceptedB - acceptedA).toBe(3000 - 1000);

    // While A's publishes wait: ten to a subject nobody subscribes to yet, the SUB, ten more.
    const late: number[] = [];
    for (let i = 0; i < 10; i++) expect(a.publish('bp.late', String(i))).toBe(false);
    a.subscribe('bp.late', { callback: (m) => late.push(Number(m.string())) });
    for (let i = 10; i < 20; i++) expect(a.publish('bp.late', String(i))).toBe(false);

    servers.push(await startServer({ port }));
    await waitFor(
      () => gotA.count >= acceptedA && gotB.count >= acceptedB && late.length >= 10,
      20_000,
      `every accepted message (A ${gotA.count}/${acceptedA}, B ${gotB.count}/${acceptedB}, late ${late.length}/10)`,
    );
    await a.flush();
    await b.flush();
    expect(gotA.problem).toBeUndefined();
    expect(gotB.problem).toBeUndefined();
    expect([gotA.count, gotB.count]).toEqual([acceptedA, acceptedB]);
    expect(late).toEqual(Array.from({ length: 10 }, (_, i) => 10 + i));
    expect(a.statistics().outMessages).toBe(acceptedA + 20);
  }, 60_000);
});

describe('back-pressure while disconnected', () => {
  it('keeps what is published while the server is down and sends it, in order, after the reconnect', async () => {
    const server = await startServer();
    servers.push(server);
    const events = new EventLog();
    const client = await new ConnectOptions()
      .eventCallback(events.callback)
      .reconnectDelayCallback(() => 20)
      .connect(server.url);
    clients.push(client);
    const got: string[] = [];
    client.subscribe('bp.down', { callback: (m) => got.push(m.string()) });
    await client.flush();

    const mark = events.events.length;
    await server.stop();
    await events.next('disconnected', mark, 10_000);
    expect(client.connectionState()).toBe('disconnected');
    for (let i = 0; i < 100; i++) expect(client.publish('bp.down', String(i))).toBe(true);
    expect(client.statistics().outMessages).toBe(0);

    // A new server on the same port: the subscription is replayed, then the kept publishes.
    servers.push(await startServer({ port: server.port }));
    await events.next('connected', mark, 10_000);
    await client.flush();

    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
  });
});
