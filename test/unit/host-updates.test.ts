// What the worker tells the caller's thread (src/worker/host-updates.ts): batched, one batch
// in flight, bounded by count and bytes with the drops counted, INFO and pool as state that
// never goes back in time.

import { afterEach, describe, expect, it } from 'vitest';
import type { HostUpdate, WireEvent, WireServer } from '../../src/shared/control.js';
import { NatsError, toWire } from '../../src/shared/errors.js';
import { type ServerInfo, toServerInfo } from '../../src/shared/server-info.js';
import {
  HostUpdates,
  MAX_GONE_STATE_CHARS,
  MAX_QUEUED_ERROR_TEXT,
  MAX_QUEUED_EVENTS,
  MIN_POST_INTERVAL_MS,
} from '../../src/worker/host-updates.js';
import { waitFor } from '../helpers/wait.js';

/** The caller's thread: records batches; takes each at once unless told to hold them. */
class Caller {
  readonly batches: HostUpdate[] = [];
  hold = false;
  private readonly held: (() => void)[] = [];
  pool: WireServer[] = [];

  readonly post = (update: HostUpdate): Promise<void> => {
    this.batches.push(structuredClone(update));
    if (!this.hold) return Promise.resolve();
    return new Promise((resolve) => this.held.push(resolve));
  };

  release(): void {
    this.hold = false;
    for (const resolve of this.held.splice(0)) resolve();
  }

  events(): WireEvent[] {
    return this.batches.flatMap((b) => b.events);
  }
}

const queues: HostUpdates[] = [];
afterEach(() => {
  for (const q of queues.splice(0)) q.flush(); // no timer outlives a test
});

function setup(): { caller: Caller; updates: HostUpdates } {
  const caller = new Caller();
  const updates = new HostUpdates(caller.post, () => caller.pool);
  queues.push(updates);
  return { caller, updates };
}

type ClientErrorEvent = Extract<WireEvent, { type: 'clientError' }>;

const serverError = (i: number): WireEvent => ({
  type: 'serverError',
  error: toWire(new NatsError('server', `error ${i}`)),
  flushesAcked: 0,
});
const info = (name: string): ServerInfo => toServerInfo({ server_name: name });
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('HostUpdates', () => {
  it('posts the events of one turn as one batch, after the turn', async () => {
    const { caller, updates } = setup();
    for (let i = 0; i < 100; i++) updates.event(serverError(i));
    expect(caller.batches).toHaveLength(0);
    await waitFor(() => caller.batches.length > 0, 1_000, 'a batch');
    expect(caller.batches).toHaveLength(1);
    expect(caller.events()).toEqual(Array.from({ length: 100 }, (_, i) => serverError(i)));
  });

  it('holds one batch in flight: a blocked caller gets the rest, bounded, with the drops counted', async () => {
    const { caller, updates } = setup();
    caller.hold = true;
    updates.event(serverError(0));
    await waitFor(() => caller.batches.length === 1, 1_000, 'the first batch');
    for (let i = 1; i <= 10_000; i++) {
      updates.event(serverError(i));
      if (i % 1_000 === 0) await turn();
    }
    await new Promise((resolve) => setTimeout(resolve, 2 * MIN_POST_INTERVAL_MS));
    expect(caller.batches).toHaveLength(1); // nothing more while the first is not taken

    caller.release();
    await waitFor(() => caller.batches.length === 2, 1_000, 'the second batch');
    const [notice, ...rest] = caller.batches[1].events;
    expect(notice.type === 'clientError' && notice.error.kind).toBe('clientCapacity');
    expect(notice.type === 'clientError' && notice.error.message).toMatch(
      `${10_000 - MAX_QUEUED_EVENTS} events dropped`,
    );
    // The newest survive, in order.
    expect(rest).toEqual(
      Array.from({ length: MAX_QUEUED_EVENTS }, (_, i) =>
        serverError(10_000 - MAX_QUEUED_EVENTS + 1 + i),
      ),
    );
  });

  it('bounds the error text waiting as well as the count', async () => {
    const { caller, updates } = setup();
    caller.hold = true;
    updates.event(serverError(0));
    await waitFor(() => caller.batches.length === 1, 1_000, 'the first batch');
    const long = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 100; i++) {
      // Distinct texts: repeats of one would be coalesced.
      updates.event({
        type: 'serverError',
        error: { kind: 'server', message: `${i} ${long}` },
        flushesAcked: 0,
      });
    }
    caller.release();
    await waitFor(() => caller.batches.length === 2, 1_000, 'the second batch');
    const [notice, ...rest] = caller.batches[1].events;
    expect(rest.length * long.length).toBeLessThanOrEqual(MAX_QUEUED_ERROR_TEXT);
    expect(rest.length).toBe(Math.floor(MAX_QUEUED_ERROR_TEXT / (long.length + 3)));
    expect(notice.type === 'clientError' && notice.error.message).toMatch(
      `${100 - rest.length} events dropped`,
    );
  });

  it('spaces batches by MIN_POST_INTERVAL_MS under an event per millisecond', async () => {
    const { caller, updates } = setup();
    const start = performance.now();
    let sent = 0;
    while (performance.now() - start < 20 * MIN_POST_INTERVAL_MS) {
      updates.event(serverError(sent++));
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    updates.flush();
    const elapsed = performance.now() - start;
    expect(caller.events()).toHaveLength(sent); // nothing lost: the caller kept up
    // One at the start, one per interval, the flush's; and a timer may fire a little late.
    expect(caller.batches.length).toBeLessThanOrEqual(elapsed / MIN_POST_INTERVAL_MS + 3);
    expect(caller.batches.length).toBeLessThan(sent / 4);
  });

  it("puts an INFO and pool that come after a waiting 'connected' into it", async () => {
    const { caller, updates } = setup();
    caller.pool = [
      { url: 'nats://a:4222', failedAttempts: 0, didConnect: true, isDiscovered: false },
    ];
    updates.event({ type: 'connected', connection: 1, info: info('one'), servers: caller.pool });
    updates.serverInfo(info('two'), 1);
    caller.pool = [...caller.pool, { ...caller.pool[0], url: 'nats://b:4222', isDiscovered: true }];
    updates.poolChanged();
    updates.event({ type: 'lameDuckMode' });
    updates.flush();
    expect(caller.batches).toHaveLength(1);
    const [batch] = caller.batches;
    expect(batch.info).toBeUndefined();
    expect(batch.servers).toBeUndefined();
    const [connected] = batch.events;
    expect(connected.type === 'connected' && connected.info?.serverName).toBe('two');
    expect(connected.type === 'connected' && connected.servers?.map((s) => s.url)).toEqual([
      'nats://a:4222',
      'nats://b:4222',
    ]);
  });

  it("each waiting 'connected' keeps its own INFO and pool: its listeners observe it", () => {
    const { caller, updates } = setup();
    updates.serverInfo(info('stale'), 1);
    updates.event({ type: 'connected', connection: 2, info: info('one'), servers: [] });
    updates.event({ type: 'disconnected' });
    updates.event({ type: 'connected', connection: 3, info: info('two'), servers: [] });
    updates.flush();
    const [batch] = caller.batches;
    expect(batch.info).toBeUndefined(); // older than both connections
    expect(batch.events).toEqual([
      { type: 'connected', connection: 2, info: info('one'), servers: [] },
      { type: 'disconnected' },
      { type: 'connected', connection: 3, info: info('two'), servers: [] },
    ]);
  });

  it("gone connections' INFO and pool are bounded: past the bound the oldest lose theirs", () => {
    const { caller, updates } = setup();
    // About a third of the bound each: the third gone connection pushes the first one's out.
    const big = (name: string): ServerInfo => ({
      ...info(name),
      connectUrls: ['x'.repeat(Math.ceil(MAX_GONE_STATE_CHARS / 3))],
    });
    for (let connection = 1; connection <= 4; connection++) {
      updates.event({ type: 'connected', connection, info: big(`s${connection}`), servers: [] });
      updates.event({ type: 'disconnected' });
    }
    updates.flush();
    const connected = caller.batches[0].events.flatMap((e) =>
      e.type === 'connected' ? [[e.connection, e.info?.serverName]] : [],
    );
    expect(connected).toEqual([
      [1, undefined],
      [2, 's2'],
      [3, 's3'],
      [4, 's4'],
    ]);
  });

  it("a dropped 'connected' leaves its INFO and pool to the batch", async () => {
    const { caller, updates } = setup();
    caller.hold = true;
    // The first connection (never dropped, see below) and its loss: this one is a reconnection.
    updates.event({ type: 'connected', connection: 1, info: info('zero'), servers: [] });
    updates.event({ type: 'disconnected' });
    await waitFor(() => caller.batches.length === 1, 1_000, 'the first batch');
    caller.pool = [
      { url: 'nats://a:4222', failedAttempts: 0, didConnect: true, isDiscovered: false },
    ];
    updates.event({ type: 'connected', connection: 2, info: info('one'), servers: caller.pool });
    for (let i = 0; i < MAX_QUEUED_EVENTS; i++) updates.event(serverError(i));
    caller.release();
    await waitFor(() => caller.batches.length === 2, 1_000, 'the second batch');
    const batch = caller.batches[1];
    expect(batch.info?.serverName).toBe('one');
    expect(batch.infoOf).toBe(2); // the caller hears of that connection all the same
    expect(batch.servers).toEqual(caller.pool);
    expect(batch.events.map((e) => e.type)).not.toContain('connected');
  });

  it("never drops the first 'connected': connect() resolves once its caller has heard it", async () => {
    const { caller, updates } = setup();
    caller.hold = true;
    updates.event(serverError(-1));
    await waitFor(() => caller.batches.length === 1, 1_000, 'the first batch');
    updates.event(serverError(-2));
    updates.event({ type: 'connected', connection: 1, info: info('one'), servers: [] });
    for (let i = 0; i < 2 * MAX_QUEUED_EVENTS; i++) updates.event(serverError(i));
    caller.release();
    await waitFor(() => caller.batches.length === 2, 1_000, 'the second batch');
    const events = caller.batches[1].events;
    expect(events).toHaveLength(1 + MAX_QUEUED_EVENTS);
    expect(events[0].type === 'clientError' && events[0].error.message).toMatch(
      new RegExp(`^${MAX_QUEUED_EVENTS + 2} events dropped`), // all but the newest, and it
    );
    expect(events[1]).toEqual({ type: 'connected', connection: 1, info: info('one'), servers: [] });
    expect(events[2]).toEqual(serverError(MAX_QUEUED_EVENTS + 1));
  });

  it('posts nothing when nothing changed, and INFO and pool alone when only they did', async () => {
    const { caller, updates } = setup();
    updates.flush();
    await turn();
    expect(caller.batches).toHaveLength(0);
    updates.serverInfo(info('one'), 1);
    updates.serverInfo(info('two'), 1);
    updates.poolChanged();
    await waitFor(() => caller.batches.length === 1, 1_000, 'a batch');
    expect(caller.batches[0]).toEqual({ events: [], info: info('two'), infoOf: 1, servers: [] });
  });

  it('flush() posts at once, even with a batch in flight', async () => {
    const { caller, updates } = setup();
    caller.hold = true;
    updates.event(serverError(0));
    await waitFor(() => caller.batches.length === 1, 1_000, 'the first batch');
    updates.event(serverError(1));
    updates.flush();
    expect(caller.batches).toHaveLength(2);
    expect(caller.batches[1].events).toEqual([serverError(1)]);
    caller.release();
  });

  it('coalesces an error event repeating the one before it: one event, with a count', () => {
    const { caller, updates } = setup();
    const same: WireEvent = {
      type: 'serverError',
      error: { kind: 'server', message: 'same' },
      flushesAcked: 0,
    };
    for (let i = 0; i < 500; i++) updates.event(structuredClone(same));
    updates.event(serverError(1));
    updates.event(structuredClone(same));
    updates.event(structuredClone(same));
    // The same text as a clientError is another event.
    updates.event({ type: 'clientError', error: { kind: 'server', message: 'same' } });
    updates.flush();
    expect(caller.events()).toEqual([
      {
        type: 'serverError',
        error: { kind: 'server', message: 'same', count: 500 },
        flushesAcked: 0,
      },
      serverError(1),
      {
        type: 'serverError',
        error: { kind: 'server', message: 'same', count: 2 },
        flushesAcked: 0,
      },
      { type: 'clientError', error: { kind: 'server', message: 'same' } },
    ]);
  });

  it('coalesces only within a batch: what was posted is not counted again', async () => {
    const { caller, updates } = setup();
    const same: WireEvent = {
      type: 'serverError',
      error: { kind: 'server', message: 'same' },
      flushesAcked: 0,
    };
    updates.event(structuredClone(same));
    updates.flush();
    updates.event(structuredClone(same));
    updates.flush();
    expect(caller.batches.map((b) => b.events)).toEqual([[same], [same]]);
  });

  it('a run of failed attempts of one kind is one event: the latest error, counted', () => {
    const { caller, updates } = setup();
    const failed = (server: string, kind: 'io' | 'timedOut' = 'io'): ClientErrorEvent => ({
      type: 'clientError',
      error: { kind, message: `${server}: refused` },
    });
    updates.event({ type: 'disconnected' });
    for (let i = 0; i < 256; i++) updates.attemptFailed(failed(`nats://10.0.0.${i}:1`));
    updates.attemptFailed(failed('nats://a:1', 'timedOut'));
    updates.attemptFailed(failed('nats://b:1'));
    updates.event(serverError(0));
    updates.attemptFailed(failed('nats://c:1'));
    updates.flush();
    expect(caller.events()).toEqual([
      { type: 'disconnected' },
      { type: 'clientError', error: { ...failed('nats://10.0.0.255:1').error, count: 256 } },
      failed('nats://a:1', 'timedOut'),
      failed('nats://b:1'),
      serverError(0),
      failed('nats://c:1'),
    ]);
  });

  it('flushStateChanges() posts at once only when a state change waits', async () => {
    const { caller, updates } = setup();
    caller.hold = true;
    updates.event({ type: 'disconnected' });
    updates.flushStateChanges();
    expect(caller.batches).toHaveLength(1);
    updates.attemptFailed({ type: 'clientError', error: { kind: 'io', message: 'refused' } });
    updates.poolChanged();
    updates.flushStateChanges();
    expect(caller.batches).toHaveLength(1); // waits for its turn, behind the one in flight
    updates.event({ type: 'connected', connection: 2, info: info('one'), servers: [] });
    updates.flushStateChanges();
    expect(caller.batches).toHaveLength(2);
    expect(caller.batches[1].events.map((e) => e.type)).toEqual(['clientError', 'connected']);
    caller.release();
  });

  it('a coalesced event whose newer error is longer still keeps the text bound', async () => {
    const { caller, updates } = setup();
    caller.hold = true;
    updates.event(serverError(0));
    await waitFor(() => caller.batches.length === 1, 1_000, 'the first batch');
    updates.event({
      type: 'serverError',
      error: { kind: 'server', message: 'a'.repeat(MAX_QUEUED_ERROR_TEXT - 100) },
      flushesAcked: 0,
    });
    updates.attemptFailed({ type: 'clientError', error: { kind: 'io', message: 'short' } });
    const long = { kind: 'io' as const, message: 'y'.repeat(200) };
    updates.attemptFailed({ type: 'clientError', error: long });
    caller.release();
    await waitFor(() => caller.batches.length === 2, 1_000, 'the second batch');
    const [notice, ...rest] = caller.batches[1].events;
    expect(notice.type === 'clientError' && notice.error.message).toMatch(/^1 events dropped/);
    expect(rest).toEqual([{ type: 'clientError', error: { ...long, count: 2 } }]);
  });
});
