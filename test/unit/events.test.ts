// EventSink: each event's call starts when the event is emitted (the client's state describes
// it then); a call that throws, rejects or does not settle within the bound is reported once
// (API.md "Errors": 'callback' for an event callback that "threw or never settled"), and a
// failure on a report is not reported again.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Event, EventSink } from '../../src/main/events.js';
import { NatsError } from '../../src/shared/errors.js';

const BOUND = 1_000;
const disconnected: Event = { type: 'disconnected' };
const connected: Event = { type: 'connected' };

/** A sink whose reports are recorded and handed back to it, as the client does. */
function sink(callback: (event: Event) => void | Promise<void>) {
  const reports: NatsError[] = [];
  const events: EventSink = new EventSink(callback, BOUND, (report) => {
    if (report.type === 'clientError') reports.push(report.error);
    events.emit(report);
  });
  return { events, reports };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('EventSink', () => {
  it('starts each call when its event comes, whatever an earlier call still awaits', () => {
    const started: string[] = [];
    const { events } = sink((e) => {
      started.push(e.type);
      return new Promise<void>(() => {});
    });
    events.emit(disconnected);
    events.emit(connected);
    expect(started).toEqual(['disconnected', 'connected']);
  });

  it('reports a call that does not settle within the bound, once', async () => {
    const seen: string[] = [];
    const { events, reports } = sink((e) => {
      seen.push(e.type);
      return e.type === 'disconnected' ? new Promise<void>(() => {}) : undefined;
    });
    events.emit(disconnected);
    await vi.advanceTimersByTimeAsync(BOUND - 1);
    expect(reports).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toBeInstanceOf(NatsError);
    expect(reports[0].kind).toBe('callback');
    expect(reports[0].message).toBe(
      `eventCallback did not settle within ${BOUND} ms on a 'disconnected' event`,
    );
    expect(seen).toEqual(['disconnected', 'clientError']);
    await vi.advanceTimersByTimeAsync(10 * BOUND);
    expect(reports).toHaveLength(1);
  });

  it('reports a call that rejects after the bound only once, as not settled', async () => {
    let reject!: (error: unknown) => void;
    const { events, reports } = sink((e) =>
      e.type === 'disconnected'
        ? new Promise<void>((_, rej) => {
            reject = rej;
          })
        : undefined,
    );
    events.emit(disconnected);
    await vi.advanceTimersByTimeAsync(BOUND);
    reject(new Error('late'));
    await vi.advanceTimersByTimeAsync(0);
    expect(reports.map((r) => r.message)).toEqual([
      `eventCallback did not settle within ${BOUND} ms on a 'disconnected' event`,
    ]);
  });

  it('reports a sync throw and a rejection once each, and a failure on a report not again', async () => {
    const { events, reports } = sink((e) => {
      if (e.type === 'disconnected') throw new Error('sync bug');
      return Promise.reject(new Error(`async bug on ${e.type}`));
    });
    events.emit(disconnected);
    events.emit(connected);
    await vi.advanceTimersByTimeAsync(0);
    expect(reports.map((r) => r.message)).toEqual([
      "eventCallback failed on a 'disconnected' event: Error: sync bug",
      "eventCallback failed on a 'connected' event: Error: async bug on connected",
    ]);
  });

  it('reports a returned promise whose constructor or then throws, and goes on', async () => {
    const throwing = (key: 'constructor' | 'then') =>
      Object.defineProperty(Promise.resolve(), key, {
        get: () => {
          throw new Error(`hostile ${key}`);
        },
      });
    const { events, reports } = sink((e) =>
      e.type === 'connected' ? throwing('constructor') : throwing('then'),
    );
    let heard = false;
    void events.connected.then(() => {
      heard = true;
    });
    expect(() => events.emit(connected)).not.toThrow();
    expect(() => events.emit(disconnected)).not.toThrow();
    await vi.advanceTimersByTimeAsync(0);
    expect(heard).toBe(true);
    expect(reports.map((r) => r.message)).toEqual([
      "eventCallback failed on a 'connected' event: Error: hostile constructor",
      "eventCallback failed on a 'disconnected' event: Error: hostile then",
    ]);
  });

  it("reports nothing once 'closed' is handed over: it is the last event", async () => {
    for (const fail of [
      () => {
        throw new Error('sync');
      },
      () => Promise.reject(new Error('async')),
      () => new Promise<void>(() => {}),
    ]) {
      const seen: string[] = [];
      const { events, reports } = sink((e) => {
        seen.push(e.type);
        return e.type === 'closed' ? fail() : undefined;
      });
      events.emit({ type: 'closed' });
      await vi.advanceTimersByTimeAsync(2 * BOUND);
      expect(reports).toEqual([]);
      expect(seen).toEqual(['closed']);
    }
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
