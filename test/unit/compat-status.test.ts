// status() of the compat connection: client events as nats.js statuses. The client's
// 'connected' for the first connect may arrive after the reader opened; nats.js has no status
// for it, only for a connect that follows a disconnect ('reconnect', on which JetStream
// consumers re-check their state).

import { describe, expect, it } from 'vitest';
import { natsJsStatus } from '../../src/compat/status.js';
import type { Event } from '../../src/main/events.js';
import { StatusReaders } from '../../src/main/status.js';
import { NatsError } from '../../src/shared/errors.js';

async function statusesOf(events: Event[], disconnectedAtOpen = false) {
  const readers = new StatusReaders();
  const statuses = natsJsStatus({
    events: () => readers.open(),
    disconnected: () => disconnectedAtOpen,
    server: () => '127.0.0.1:4222',
    subscription: () => undefined,
  });
  for (const event of events) readers.push(event);
  readers.end();
  const out: unknown[] = [];
  for await (const s of statuses) out.push(s);
  return out;
}

describe('natsJsStatus', () => {
  it('maps each event; the first connect is none, one after a disconnect a reconnect', async () => {
    const error = new NatsError('server', 'boom');
    expect(
      await statusesOf([
        { type: 'connected' },
        { type: 'disconnected' },
        { type: 'connected' },
        { type: 'lameDuckMode' },
        { type: 'serverError', error },
        { type: 'draining' },
        { type: 'slowConsumer', sid: 9 }, // a subscription not made through compat
        { type: 'closed' },
      ]),
    ).toEqual([
      { type: 'disconnect', server: '127.0.0.1:4222' },
      { type: 'reconnect', server: '127.0.0.1:4222' },
      { type: 'ldm', server: '127.0.0.1:4222' },
      // nats.js's class for the -ERR text (its own parser), the client's error as the cause.
      { type: 'error', error: expect.objectContaining({ name: 'ProtocolError', cause: error }) },
      { type: 'close' },
    ]);
  });

  it('a reader opened while disconnected takes the next connect as a reconnect', async () => {
    expect(await statusesOf([{ type: 'connected' }], true)).toEqual([
      { type: 'reconnect', server: '127.0.0.1:4222' },
    ]);
  });

  it('stop() detaches the reader from the client events', async () => {
    const readers = new StatusReaders();
    const statuses = natsJsStatus({
      events: () => readers.open(),
      disconnected: () => false,
      server: () => '',
      subscription: () => undefined,
    });
    statuses.stop();
    await new Promise((resolve) => setImmediate(resolve));
    expect((readers as unknown as { readers: Set<unknown> }).readers.size).toBe(0);
  });
});
