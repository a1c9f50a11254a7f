// A SUB or PUB line longer than the server's max_control_line: nats-server answers
// "-ERR 'Maximum Control Line Exceeded'" and closes the connection. A subscription is replayed
// on every new connection, so one such subscription must end (kind 'badSubject') instead of
// ending every connection after it; the other subscriptions and publishes go on.

import { type Client, ConnectOptions, type Event, NatsError } from 'nats-offload';
import { afterEach, describe, expect, it } from 'vitest';
import { kindOf } from '../helpers/errors.js';
import { type NatsServer, startServer } from '../helpers/nats-server.js';
import { waitFor, withTimeout } from '../helpers/wait.js';

const servers: NatsServer[] = [];
const clients: Client[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) await s.stop();
});

/** The server's limit: far below the default 4 KiB, far above what the client's own lines need. */
const MAX_CONTROL_LINE = 512;
const LONG = `long.${'x'.repeat(2 * MAX_CONTROL_LINE)}`;

async function serverAndClient(options = new ConnectOptions()) {
  const server = await startServer({ config: `max_control_line: ${MAX_CONTROL_LINE}` });
  servers.push(server);
  const events: Event[] = [];
  const client = await options
    .eventCallback(async (e) => {
      events.push(e);
    })
    .connect(server.url);
  clients.push(client);
  return { client, events };
}

async function endingError(sub: AsyncIterable<unknown>): Promise<unknown> {
  try {
    for await (const _ of sub) {
    }
    return 'ended';
  } catch (error) {
    return error;
  }
}

/** A round trip on a normal subscription: the connection works and kept it. */
async function roundTrip(client: Client, subject: string, sub: AsyncIterator<unknown>) {
  client.publish(subject, 'ping');
  const next = await withTimeout(sub.next(), 10_000, `a message on ${subject}`);
  expect(next.done).toBe(false);
}

describe('control lines longer than the server takes', () => {
  it('a subscription whose SUB line is too long ends with badSubject; the rest goes on', async () => {
    const { client, events } = await serverAndClient();
    const normal = client.subscribe('normal');
    const queued = client.queueSubscribe('queued', 'workers');
    await client.flush();
    const long = client.subscribe(LONG);
    const error = await withTimeout(endingError(long), 20_000, 'the long subscription to end');
    expect(error).toBeInstanceOf(NatsError);
    expect((error as NatsError).kind).toBe('badSubject');
    expect((error as NatsError).message).toContain('max_control_line');
    expect((await long.closed)?.kind).toBe('badSubject');

    await roundTrip(client, 'normal', normal[Symbol.asyncIterator]());
    await roundTrip(client, 'queued', queued[Symbol.asyncIterator]());
    // The connection it ended, the one whose replay it ended, and the one after.
    const connects = client.statistics().connects;
    expect(connects).toBe(3);
    // Settled: no connection ends on it any more.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(client.statistics().connects).toBe(connects);
    expect(client.connectionState()).toBe('connected');
    expect(normal.isClosed).toBe(false);
    expect(events.filter((e) => e.type === 'serverError').length).toBeGreaterThan(0);
  });

  it('several such subscriptions (one by its queue group) all end; each new connection ends one', async () => {
    const { client } = await serverAndClient();
    const normal = client.subscribe('normal');
    const long = [
      client.subscribe(`${LONG}.a`),
      client.subscribe(`${LONG}.bb`),
      client.queueSubscribe('short', `q${'y'.repeat(2 * MAX_CONTROL_LINE)}`),
    ];
    const errors = await withTimeout(
      Promise.all(long.map(endingError)),
      30_000,
      'the long subscriptions to end',
    );
    expect(errors.map((e) => (e as NatsError).kind)).toEqual([
      'badSubject',
      'badSubject',
      'badSubject',
    ]);
    await roundTrip(client, 'normal', normal[Symbol.asyncIterator]());
    expect(client.statistics().connects).toBeLessThanOrEqual(2 + long.length);
  }, 40_000);

  it('requests over an inbox whose SUB line is too long reject with badSubject, the later ones at once', async () => {
    const prefix = `_INBOX.${'z'.repeat(2 * MAX_CONTROL_LINE)}`;
    const { client } = await serverAndClient(
      new ConnectOptions().customInboxPrefix(prefix).requestTimeout(20_000),
    );
    const started = performance.now();
    expect(await kindOf(client.request('svc', 'x'))).toBe('badSubject');
    expect(performance.now() - started).toBeLessThan(10_000);
    const connects = client.statistics().connects;
    // A line as long is refused before it costs a connection: so is a subscription.
    for (let i = 0; i < 5; i++) expect(await kindOf(client.request('svc', 'x'))).toBe('badSubject');
    expect(() => client.subscribe(`${prefix}.${'w'.repeat(64)}`)).toThrow(NatsError);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(client.statistics().connects).toBeLessThanOrEqual(connects + 1);
  });

  it('finds the subscription in a replay larger than a socket write, and while publishing', async () => {
    // The server's -ERR is lost when a write fails on the socket it reset first: a replay of
    // ~1 MB, or publishes going out, did that on every connection.
    const server = await startServer({});
    servers.push(server);
    const client = await new ConnectOptions().connect(server.url);
    clients.push(client);
    const long = client.subscribe(LONG);
    for (let i = 0; i < 20_000; i++) client.subscribe(`many.${i}.${'a'.repeat(40)}`);
    const normal = client.subscribe('normal');
    await client.flush();
    await server.stop();
    const limited = await startServer({
      port: server.port,
      config: `max_control_line: ${MAX_CONTROL_LINE}`,
    });
    servers.push(limited);
    let publishing = true;
    const publisher = (async () => {
      while (publishing) {
        client.publish('elsewhere', 'x');
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const error = await withTimeout(endingError(long), 20_000, 'the long subscription to end');
    publishing = false;
    await publisher;
    expect((error as NatsError).kind).toBe('badSubject');
    await roundTrip(client, 'normal', normal[Symbol.asyncIterator]());
    expect(client.statistics().connects).toBeLessThanOrEqual(6);
  }, 60_000);

  it('a publish whose PUB line is too long costs one connection and ends no subscription', async () => {
    const { client } = await serverAndClient();
    const normal = client.subscribe('normal');
    await client.flush();
    expect(client.publish(LONG, 'x')).toBe(true);
    await waitFor(() => client.statistics().connects >= 2, 10_000, 'the reconnect');
    await roundTrip(client, 'normal', normal[Symbol.asyncIterator]());
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(client.statistics().connects).toBe(2);
    expect(normal.isClosed).toBe(false);
  });
});
