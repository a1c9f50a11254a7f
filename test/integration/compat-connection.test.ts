// asNatsConnection(client) as a nats.js NatsConnection, against a plain nats-server: the
// pieces the add-ons rely on, each on its own (errors from the nats-core copy they load,
// headers, requestMany strategies, subscription errors and `closed`, status events, internals).

import { errors, headers, RequestError, type Status } from '@nats-io/nats-core';
import { Feature } from '@nats-io/nats-core/internal';
import { type Client, connect, NatsError } from 'nats-offload';
import { asNatsConnection } from 'nats-offload/compat';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type NatsServer, startServer, stopAll } from '../helpers/nats-server.js';
import { waitFor, waitForAsync, withTimeout } from '../helpers/wait.js';

let server: NatsServer;
let client: Client | undefined;
/** The server's monitoring port: `/varz` is what the server itself says it is. */
let httpPort: number;
const MAX_PAYLOAD = 2 * 1024 * 1024;

beforeAll(async () => {
  httpPort = await freePort();
  server = await startServer({
    config: [
      `http: 127.0.0.1:${httpPort}`,
      'server_name: compat-info',
      `max_payload: ${MAX_PAYLOAD}`,
    ].join('\n'),
  });
});

afterEach(async () => {
  await client?.close();
  client = undefined;
});

afterAll(stopAll);

async function open() {
  client = await connect(server.url);
  return asNatsConnection(client);
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

describe('asNatsConnection', () => {
  it('refuses what is not a nats-offload client', () => {
    expect(() => asNatsConnection({} as Client)).toThrow(NatsError);
  });

  it('bad input is a NatsError with its kind, never a raw TypeError', async () => {
    const nc = await open();
    const kindOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return error instanceof NatsError ? error.kind : `not a NatsError: ${error}`;
      }
      return 'no error';
    };
    expect(kindOf(() => nc.subscribe('x', null as never))).toBe('invalidArgument');
    expect(kindOf(() => nc.publish('x', 'y', { headers: {} as never }))).toBe('invalidArgument');
    expect(kindOf(() => nc.publish('bad subject'))).toBe('badSubject');
    expect(kindOf(() => nc.publish('x', 42 as never))).toBe('invalidArgument');
    await expect(nc.request('x', '', 'opts' as never)).rejects.toMatchObject({
      kind: 'invalidArgument',
    });
    await expect(nc.requestMany('x', '', null as never)).rejects.toMatchObject({
      kind: 'invalidArgument',
    });
    // Taken as no callback, its messages went to an iterator nobody reads.
    for (const callback of [5, Symbol('cb'), {}]) {
      expect(kindOf(() => nc.subscribe('x', { callback: callback as never }))).toBe(
        'invalidArgument',
      );
    }
    // Returned normally, the pool unchanged and nothing said (nats.js throws).
    for (const servers of [[], null, Symbol('s'), ['ws://a:80', 'nats://b:4222']]) {
      expect(kindOf(() => nc.setServers(servers as never))).toBe('invalidOption');
    }
  });

  it('describes the server as nats.js does: what its config and /varz say', async () => {
    const nc = await open();
    const response = await fetch(`http://127.0.0.1:${httpPort}/varz`);
    const varz = (await response.json()) as Record<string, unknown>;
    expect(nc.info).toMatchObject({
      server_id: varz.server_id,
      server_name: 'compat-info',
      version: varz.version,
      proto: varz.proto,
      go: varz.go,
      port: server.port,
      max_payload: MAX_PAYLOAD,
      headers: true,
    });
    const [major, minor, micro] = String(varz.version).split('.').map(Number);
    expect(nc.getServerVersion()).toEqual({ major, minor, micro });
    expect(nc.features.get(Feature.JS_KV).ok).toBe(true);
    expect(nc.features.get(Feature.JS_MULTIPLE_CONSUMER_FILTER).ok).toBe(false);
    expect(nc.options.inboxPrefix).toBe('_INBOX');
    expect('nc' in nc).toBe(false); // the add-ons tell a JetStream client from a connection by it
  });

  it('carries nats-core headers both ways, and a status as code and description', async () => {
    const nc = await open();
    nc.subscribe('echo', {
      callback: (_err, msg) => {
        msg.respond(msg.data, { headers: msg.headers });
      },
    });
    const sent = headers();
    sent.append('Trace', 'a');
    sent.append('Trace', 'b');
    const reply = await nc.request('echo', 'x', { timeout: 5_000, headers: sent });
    expect(reply.headers?.values('Trace')).toEqual(['a', 'b']);

    const noMux = nc.request('nobody', 'x', { timeout: 5_000, noMux: true });
    const error = await noMux.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RequestError);
    expect((error as RequestError).isNoResponders()).toBe(true);
  });

  it('rejects a request past its timeout with nats-core TimeoutError', async () => {
    const nc = await open();
    nc.subscribe('silent', { callback: () => {} });
    await expect(nc.request('silent', '', { timeout: 50 })).rejects.toBeInstanceOf(
      errors.TimeoutError,
    );
    await expect(nc.request('nobody', '', { timeout: 5_000 })).rejects.toSatisfy(
      (e) => e instanceof RequestError && e.isNoResponders(),
    );
  });

  it('requestMany: every strategy', async () => {
    const nc = await open();
    for (const n of [1, 2, 3]) {
      nc.subscribe('many', {
        callback: (_err, msg) => {
          msg.respond(`${n}`);
          if (n === 3) msg.respond(''); // sentinel
        },
      });
    }
    const strings = async (it: Promise<AsyncIterable<{ string(): string }>>) =>
      (await collect(await it)).map((m) => m.string()).sort();
    expect(await strings(nc.requestMany('many', '', { maxWait: 500 }))).toEqual([
      '',
      '1',
      '2',
      '3',
    ]);
    expect(
      await strings(nc.requestMany('many', '', { strategy: 'count', maxMessages: 2 })),
    ).toHaveLength(2);
    expect(
      await strings(nc.requestMany('many', '', { strategy: 'stall', maxWait: 10_000, stall: 200 })),
    ).toHaveLength(4);
    const sentinel = await collect(
      await nc.requestMany('many', '', { strategy: 'sentinel', maxWait: 10_000 }),
    );
    expect(sentinel.at(-1)?.data.length).toBe(0);
    await expect(
      collect(await nc.requestMany('nobody', '', { maxWait: 5_000 })),
    ).rejects.toBeInstanceOf(errors.NoRespondersError);
  });

  it('requestMany stall: maxWait for the first reply, however slow, then stall after each', async () => {
    const nc = await open();
    nc.subscribe('slow', {
      callback: (_err, msg) => {
        // The first reply after more than `stall`; nats.js waits maxWait for it.
        setTimeout(() => {
          msg.respond('1');
          msg.respond('2');
        }, 600);
      },
    });
    const replies = await nc.requestMany('slow', '', {
      strategy: 'stall',
      maxWait: 20_000,
      stall: 100,
    });
    expect((await collect(replies)).map((m) => m.string())).toEqual(['1', '2']);
  });

  it('requestMany stall never read: its inbox is unsubscribed all the same', async () => {
    const nc = await open();
    let inbox = '';
    nc.subscribe('unread', {
      callback: (_err, msg) => {
        inbox = msg.reply ?? '';
      },
    });
    await nc.requestMany('unread', '', { strategy: 'stall', maxWait: 200 }); // never iterated
    await waitFor(() => inbox !== '', 5_000, 'the request');
    const subjects = async () => {
      const response = await fetch(`http://127.0.0.1:${httpPort}/connz?subs=1`);
      const connz = (await response.json()) as { connections: { subscriptions_list?: string[] }[] };
      return connz.connections.flatMap((c) => c.subscriptions_list ?? []);
    };
    await waitForAsync(async () => !(await subjects()).includes(inbox), 10_000, 'the UNSUB');
  });

  it('a subscription timeout reaches the callback as TimeoutError, then closed settles', async () => {
    const nc = await open();
    const errs: unknown[] = [];
    const sub = nc.subscribe('quiet', { timeout: 50, callback: (err) => void errs.push(err) });
    const closed = await sub.closed;
    expect(errs).toHaveLength(1);
    expect(errs[0]).toBeInstanceOf(errors.TimeoutError);
    expect(closed).toBe(errs[0]);
    expect(sub.isClosed()).toBe(true);
  });

  it('an iterated subscription with a timeout throws TimeoutError, the one closed has', async () => {
    const nc = await open();
    const sub = nc.subscribe('quiet.iterated', { timeout: 50 });
    const thrown = await collect(sub).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(errors.TimeoutError);
    expect(await sub.closed).toBe(thrown);
  });

  it('an iterated subscription, and _resub moving it to another subject with a new max', async () => {
    const nc = await open();
    const sub = nc.subscribe('first');
    nc.publish('first', '1');
    await nc.flush();
    nc._resub(sub, 'second', 2);
    expect(sub.getSubject()).toBe('second');
    nc.publish('first', 'lost');
    nc.publish('second', '2');
    nc.publish('second', '3');
    const got = (await collect(sub)).map((m) => `${m.subject}:${m.string()}`);
    expect(got).toEqual(['first:1', 'second:2', 'second:3']);
    await expect(sub.closed).resolves.toBeUndefined();
  });

  it('status() reports disconnect and reconnect; close listeners hear the close', async () => {
    const nc = await open();
    const seen: Status['type'][] = [];
    const status = nc.status();
    void (async () => {
      for await (const s of status) seen.push(s.type);
    })();
    let closedWith: unknown = 'not called';
    nc.addCloseListener({ connectionClosedCallback: (err?: Error) => (closedWith = err) });
    await client!.forceReconnect();
    await waitFor(() => seen.includes('reconnect'), 10_000, 'a reconnect status');
    expect(seen.slice(0, 2)).toEqual(['disconnect', 'reconnect']);
    await nc.close();
    await waitFor(() => closedWith === undefined, 5_000, 'the close listener');
    await waitFor(() => seen.at(-1) === 'close', 5_000, 'a close status');
    expect(nc.isClosed()).toBe(true);
    expect(() => nc.publish('x')).toThrow(errors.ClosedConnectionError);
  });
});

// Each case here differed from nats.js 3.4.0's connection in a differential probe (the same
// script against both, on the same server).
describe('as a nats.js connection behaves on Node', () => {
  it('an empty headers object sends no header block (JetStream passes one with every publish)', async () => {
    const nc = await open();
    const seen = client!.subscribe('plain');
    const got = (async () => {
      for await (const message of seen) return message;
    })();
    await nc.flush();
    nc.publish('plain', 'x', { headers: headers() });
    const message = await got;
    // The core subscriber sees what went on the wire: a MSG, not an HMSG.
    expect(message?.headers).toBeUndefined();
    const sub = nc.subscribe('plain', { max: 1 });
    await nc.flush();
    nc.publish('plain', 'y', { headers: headers() });
    for await (const msg of sub) expect(msg.headers).toBeUndefined();
    // A status alone is a header block still, its code and description on the first line, as
    // nats.js sends them (the status was dropped: a responder faking a 503 sent a bare block).
    const status = nc.subscribe('plain', { max: 1 });
    const core = client!.subscribe('plain', { max: 1 });
    await nc.flush();
    const faked = headers(503, 'No Responders');
    faked.append('X-Id', '7');
    nc.publish('plain', 'z', { headers: faked });
    for await (const msg of status) {
      expect(msg.headers?.code).toBe(503);
      expect(msg.headers?.description).toBe('No Responders');
      expect(msg.headers?.get('X-Id')).toBe('7');
    }
    for await (const message of core) {
      expect([message.status, message.description]).toEqual([503, 'No Responders']);
    }
  });

  it("msg.data is a Buffer of the message's own bytes; msg.reply is '' without a reply", async () => {
    const nc = await open();
    const sub = nc.subscribe('data', { max: 1 });
    await nc.flush();
    nc.publish('data', 'hello');
    for await (const msg of sub) {
      expect(Buffer.isBuffer(msg.data)).toBe(true);
      expect(msg.data.toString()).toBe('hello');
      expect(msg.data).toBe(msg.data);
      expect(msg.string()).toBe('hello');
      expect(msg.reply).toBe('');
    }
  });

  it('a second iterator of one subscription throws InvalidOperationError; the first reads all', async () => {
    const nc = await open();
    const sub = nc.subscribe('twice', { max: 2 });
    await nc.flush();
    const first = collect(sub);
    await expect(collect(sub)).rejects.toBeInstanceOf(errors.InvalidOperationError);
    nc.publish('twice', 'a');
    nc.publish('twice', 'b');
    expect((await first).map((m) => m.string())).toEqual(['a', 'b']);
  });

  it('sub.drain() again after _resub moved a draining subscription drains the new inbox too', async () => {
    const nc = await open();
    const sub = nc.subscribe('moving.a');
    await nc.flush();
    const first = sub.drain();
    nc._resub(sub, 'moving.b'); // the ordered consumer's reset, landing while it drains
    const second = sub.drain();
    expect(second).not.toBe(first);
    await withTimeout(second, 5_000, 'the drain of the new inbox');
    await waitFor(() => sub.isClosed(), 5_000, 'the subscription closed');
    expect(sub.getSubject()).toBe('moving.b');
  });

  it('a request naming its reply subject without noMux is refused, as nats.js refuses it', async () => {
    const nc = await open();
    await expect(nc.request('x', '', { timeout: 1_000, reply: 'my.inbox' })).rejects.toMatchObject({
      kind: 'invalidArgument',
    });
  });

  it("no responders reads as nats.js's message; sub.drain() twice is one drain; isDraining() stays", async () => {
    const nc = await open();
    const error = await nc.request('nobody.home', '', { timeout: 5_000 }).catch((e: unknown) => e);
    expect((error as RequestError).message).toBe("no responders: 'nobody.home'");
    const sub = nc.subscribe('drained');
    const drained = sub.drain();
    expect(sub.drain()).toBe(drained);
    await drained;
    await nc.drain();
    expect(nc.isClosed()).toBe(true);
    expect(nc.isDraining()).toBe(true);
  });
});
