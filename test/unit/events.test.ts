// EventSink: the eventCallback's calls run one at a time, in order (as async-nats awaits each);
// a call that throws, rejects or does not settle within the bound is reported, and the events
// behind it go on (API.md "Errors": 'callback' for an event callback that "threw or never settled").
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CALLBACK_BACKLOG, type Event, EventSink } from '../../src/main/events.js';
import { NatsError } from '../../src/shared/errors.js';

const BOUND = 1_000;
const disconnected: Event = { type: 'disconnected' };
const connected: Event = { type: 'connected' };
const closed: Event = { type: 'closed' };

/** A sink whose reports are recorded and handed back to it, as the client does. */
function sink(callback: (event: Event) => void | Promise<void>) {
  const reports: NatsError[] = [];
  const events: EventSink = new EventSink(callback, BOUND, (report) => {
    if (report.type === 'clientError') reports.push(report.error);
    events.emit(report);
  });
  return { events, reports };
}

function deferred() {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('EventSink', () => {
  it('hands an event over only once the call on the one before it has settled', async () => {
    const log: string[] = [];
    const slow = deferred();
    const { events } = sink(async (e) => {
      log.push(`start ${e.type}`);
      if (e.type === 'disconnected') await slow.promise;
      log.push(`end ${e.type}`);
    });
    events.emit(disconnected);
    events.emit(connected);
    await vi.advanceTimersByTimeAsync(10);
    expect(log).toEqual(['start disconnected']);
    slow.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(log).toEqual([
      'start disconnected',
      'end disconnected',
      'start connected',
      'end connected',
    ]);
  });

  it('calls a callback that returns nothing at once, each event in turn', () => {
    const seen: string[] = [];
    const { events } = sink((e) => {
      seen.push(e.type);
    });
    events.emit(disconnected);
    events.emit(connected);
    expect(seen).toEqual(['disconnected', 'connected']);
  });

  it('reports a call that does not settle within the bound, and goes on with the next event', async () => {
    const seen: string[] = [];
    const { events, reports } = sink((e) => {
      seen.push(e.type);
      return e.type === 'disconnected' ? new Promise<void>(() => {}) : undefined;
    });
    events.emit(disconnected);
    events.emit(connected);
    await vi.advanceTimersByTimeAsync(BOUND - 1);
    expect(seen).toEqual(['disconnected']);
    expect(reports).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toBeInstanceOf(NatsError);
    expect(reports[0].kind).toBe('callback');
    expect(reports[0].message).toContain(
      `eventCallback did not settle within ${BOUND} ms on a 'disconnected' event`,
    );
    expect(seen).toEqual(['disconnected', 'connected', 'clientError']);
  });

  it('reports a rejection once, and a failure on its report not again', async () => {
    const { events, reports } = sink(async () => {
      throw new Error('handler bug');
    });
    events.emit(disconnected);
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(0);
    expect(reports.map((r) => r.message)).toEqual([
      "eventCallback failed on a 'disconnected' event: Error: handler bug",
    ]);
  });

  it(`keeps the newest ${CALLBACK_BACKLOG} events while a call is unsettled`, async () => {
    const seen: Event[] = [];
    const slow = deferred();
    const { events } = sink((e) => {
      seen.push(e);
      return e === disconnected ? slow.promise : undefined;
    });
    events.emit(disconnected);
    const later = Array.from(
      { length: CALLBACK_BACKLOG + 5 },
      (_, sid): Event => ({
        type: 'slowConsumer',
        sid,
      }),
    );
    for (const e of later) events.emit(e);
    events.emit(closed);
    slow.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(seen[0]).toBe(disconnected);
    expect(seen.slice(1)).toEqual([...later.slice(6), closed]);
  });

  it("settles connected when the 'connected' event is handed over, not when its call settles", async () => {
    const { events } = sink(() => new Promise<void>(() => {}));
    let heard = false;
    void events.connected.then(() => {
      heard = true;
    });
    events.emit(connected);
    await vi.advanceTimersByTimeAsync(0);
    expect(heard).toBe(true);
  });
});
