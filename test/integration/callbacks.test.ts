// API.md "Guarantees": a subscription callback that throws anything (even Object.create(null))
// is reported as a clientError of kind 'callback' and delivery goes on. The same for the event
// callback. Sync throws and async rejections alike; none may reach the process as an uncaught
// exception or an unhandled rejection (vitest fails the run on either).

import { type Client, ConnectOptions, type Event, NatsError } from 'nats-offload';
import { describe, expect, it } from 'vitest';
import { fileServer } from '../helpers/file-server.js';
import { EventLog, waitFor } from '../helpers/wait.js';

const file = fileServer();

const throwing = (): never => {
  throw new Error('hostile code ran');
};

/** What a callback may throw; each must be reported, none may escape. */
const THROWN: [string, () => unknown][] = [
  ['Object.create(null)', () => Object.create(null)],
  ['an object whose toString throws', () => ({ toString: throwing, valueOf: throwing })],
  ['a symbol', () => Symbol('thrown')],
  ['undefined', () => undefined],
  ['null', () => null],
  ['a string', () => 'just text'],
  [
    'an Error whose message getter throws',
    () => Object.defineProperty(new Error(), 'message', { get: throwing }),
  ],
  ['a Proxy whose every trap throws', () => new Proxy({}, new Proxy({}, { get: () => throwing }))],
  ['a NatsError', () => new NatsError('invalidArgument', 'from inside the callback')],
];

/** A client whose events are recorded. */
async function connectLogging(): Promise<{ c: Client; events: Event[] }> {
  const log = new EventLog();
  const c = await new ConnectOptions().eventCallback(log.callback).connect(file.server.url);
  file.keep(c);
  return { c, events: log.events };
}

function callbackErrors(events: Event[]): NatsError[] {
  return events.flatMap((e) =>
    e.type === 'clientError' && e.error.kind === 'callback' ? [e.error] : [],
  );
}

describe('a subscription callback that throws', () => {
  it.each(THROWN)('%s: reported as kind callback, delivery goes on', async (_, make) => {
    const { c, events } = await connectLogging();
    const got: string[] = [];
    c.subscribe('cb.sync', {
      callback: (m) => {
        got.push(m.string());
        if (m.string() === 'bad') throw make();
      },
    });
    for (const text of ['one', 'bad', 'two', 'bad', 'three']) c.publish('cb.sync', text);
    await c.flush();
    await waitFor(() => got.length === 5, 5_000, 'all five messages');
    expect(got).toEqual(['one', 'bad', 'two', 'bad', 'three']);
    const reported = callbackErrors(events);
    expect(reported).toHaveLength(2);
    expect(reported[0]).toBeInstanceOf(NatsError);
    expect(reported[0].message).toContain('cb.sync');
  });

  it.each(THROWN)('async, rejecting with %s: reported, delivery goes on', async (_, make) => {
    const { c, events } = await connectLogging();
    const got: string[] = [];
    c.subscribe('cb.async', {
      callback: async (m) => {
        got.push(m.string());
        await Promise.resolve();
        if (m.string() === 'bad') throw make();
      },
    });
    for (const text of ['one', 'bad', 'two']) c.publish('cb.async', text);
    await c.flush();
    await waitFor(() => callbackErrors(events).length === 1, 5_000, 'the reported rejection');
    expect(got).toEqual(['one', 'bad', 'two']);
  });
});

describe('an event callback that throws', () => {
  it.each(THROWN)('%s: reported to it once as kind callback, events go on', async (_, make) => {
    const events: Event[] = [];
    const client = file.keep(
      await new ConnectOptions()
        .eventCallback((e) => {
          events.push(e);
          // Throws on every event but its own reports, and on those as well the second time
          // round: a report of a report would loop.
          if (e.type === 'connected' || callbackErrors([e]).length > 0) throw make();
        })
        .connect(file.server.url),
    );
    await waitFor(() => callbackErrors(events).length === 1, 5_000, 'the reported throw');
    await client.forceReconnect();
    await waitFor(
      () => events.filter((e) => e.type === 'connected').length === 2,
      5_000,
      'the second connected event',
    );
    await waitFor(() => callbackErrors(events).length === 2, 5_000, 'the second report');
    await client.flush();
    expect(callbackErrors(events)).toHaveLength(2);
    expect(callbackErrors(events)[0].message).toContain("'connected'");
  });

  it('async, rejecting: reported to it as kind callback', async () => {
    const events: Event[] = [];
    file.keep(
      await new ConnectOptions()
        .eventCallback(async (e) => {
          events.push(e);
          if (e.type === 'connected') throw Object.create(null);
        })
        .connect(file.server.url),
    );
    await waitFor(() => callbackErrors(events).length === 1, 5_000, 'the reported rejection');
  });
});

describe('an event callback that fails, as status() readers see it', () => {
  /** Collects what a status() reader opened now reads, until the client closes. */
  function readStatus(client: Client): Event[] {
    const seen: Event[] = [];
    void (async () => {
      for await (const e of client.status()) seen.push(e);
    })();
    return seen;
  }

  it('its report reaches status() readers too', async () => {
    const client = file.keep(
      await new ConnectOptions()
        .eventCallback((e) => {
          if (e.type === 'disconnected') throw new Error('handler bug');
        })
        .connect(file.server.url),
    );
    const seen = readStatus(client);
    await client.forceReconnect();
    await waitFor(() => callbackErrors(seen).length === 1, 5_000, 'the report on status()');
    expect(callbackErrors(seen)[0].message).toContain("failed on a 'disconnected' event");
  });

  it('one that never settles is reported after connectionTimeout; later events do not wait for it', async () => {
    const handed: string[] = [];
    const client = file.keep(
      await new ConnectOptions()
        .connectionTimeout(500)
        .eventCallback((e) => {
          handed.push(e.type);
          return e.type === 'disconnected' ? new Promise<void>(() => {}) : undefined;
        })
        .connect(file.server.url),
    );
    const seen = readStatus(client);
    await client.forceReconnect();
    await waitFor(() => seen.some((e) => e.type === 'connected'), 5_000, 'the reconnect');
    await waitFor(() => callbackErrors(seen).length === 1, 5_000, 'the report');
    expect(callbackErrors(seen)[0].message).toContain(
      "did not settle within 500 ms on a 'disconnected' event",
    );
    // The reconnect's 'connected' did not wait for the call on 'disconnected' (never settled).
    expect(handed.slice(0, 2)).toEqual(['connected', 'disconnected']);
    expect(handed.slice(2).sort()).toEqual(['clientError', 'connected']);
  });
});
