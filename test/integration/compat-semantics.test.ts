// asNatsConnection(client) behaving as nats.js v3 does where users and add-ons notice: drain's
// order (subscriptions first, then publishing stops), replies after close, requestMany's
// QueuedIterator, subscription options, the errors of pending requests and of status events.
// Each case runs against a real nats-server; nats.js's behaviour is read from
// @nats-io/nats-core (nats.ts, protocol.ts, msg.ts, queued_iterator.ts).

import {
  errors,
  type Msg,
  type QueuedIterator,
  RequestError,
  type Status,
} from '@nats-io/nats-core';
import { type Client, ConnectOptions, HeaderMap } from 'nats-offload';
import { asNatsConnection } from 'nats-offload/compat';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type NatsServer, startServer, stopAll } from '../helpers/nats-server.js';
import { waitFor, withTimeout } from '../helpers/wait.js';

let server: NatsServer;
const clients: Client[] = [];

beforeAll(async () => {
  server = await startServer({
    config: `authorization { users: [ { user: u, password: p, permissions: {
      publish: { deny: ["nopub.>"] }, subscribe: { deny: ["nosub.>"] } } } ] }`,
  });
});

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
});

afterAll(stopAll);

async function client(): Promise<Client> {
  const c = await new ConnectOptions().userAndPassword('u', 'p').connect(server.url);
  clients.push(c);
  return c;
}

async function open() {
  return asNatsConnection(await client());
}

describe('received headers nats-core cannot hold', () => {
  // nats-core refuses names outside ASCII 33..126 ("X-Naïve", which other clients send): the
  // message is delivered and that header left out. Built eagerly, the refusal ended an iterator
  // as if normally (the message and every later one lost), or blamed a callback that never ran.
  it.each(['iterator', 'callback'])('are left out, the message delivered (%s)', async (how) => {
    const publisher = await client();
    const nc = await open();
    const got: [string, string | undefined, boolean][] = [];
    const take = (m: Msg): void => {
      got.push([m.string(), m.headers?.get('Good'), !!m.headers?.has('X-Naïve')]);
    };
    if (how === 'callback') nc.subscribe('naive', { callback: (_e, m) => take(m) });
    else {
      const sub = nc.subscribe('naive', { max: 3 });
      void (async () => {
        for await (const m of sub) take(m);
      })();
    }
    await nc.flush();
    const headers = new HeaderMap();
    headers.insert('X-Naïve', 'v');
    headers.insert('Good', 'yes');
    publisher.publish('naive', 'm1');
    publisher.publishWithHeaders('naive', headers, 'm2');
    publisher.publish('naive', 'm3');
    await publisher.flush();
    await waitFor(() => got.length === 3, 5_000, 'three messages');
    expect(got).toEqual([
      ['m1', undefined, false],
      ['m2', 'yes', false],
      ['m3', undefined, false],
    ]);
  });
});

describe('subscribe options', () => {
  it('timeout 0 is no timeout, as in nats.js', async () => {
    const nc = await open();
    const iterated = nc.subscribe('t0.it', { timeout: 0 });
    const called: unknown[] = [];
    const withCallback = nc.subscribe('t0.cb', {
      timeout: 0,
      callback: (err, msg) => void called.push(err ?? msg.string()),
    });
    nc.publish('t0.it', 'hello');
    nc.publish('t0.cb', 'hello');
    const first = await iterated[Symbol.asyncIterator]().next();
    expect(first.value?.string()).toBe('hello');
    await waitFor(() => called.length > 0, 5_000, 'the callback');
    expect(called).toEqual(['hello']);
    expect(iterated.isClosed()).toBe(false);
    expect(withCallback.isClosed()).toBe(false);
  });
});

describe('msg.respond() after close', () => {
  it('is ignored and returns true, as nats.js does (an async handler must not die of it)', async () => {
    const nc = await open();
    const requester = await client();
    let request: Msg | undefined;
    nc.subscribe('late', {
      callback: (_err, msg) => {
        request = msg;
      },
    });
    await nc.flush();
    void requester.sendRequest('late', { payload: 'x', timeout: 5_000 }).catch(() => {});
    await waitFor(() => request !== undefined, 5_000, 'the request');
    await nc.close();
    expect(request?.respond('too late')).toBe(true);
  });
});

describe('drain() in nats.js order', () => {
  it('msg.respond() while nc.drain() runs still reaches the requester', async () => {
    const nc = await open();
    const requester = await client();
    let drained: Promise<void> | undefined;
    nc.subscribe('svc', {
      callback: (_err, msg) => {
        drained = nc.drain(); // shutdown starts while this request is handled
        msg.respond('ok');
      },
    });
    await nc.flush();
    const reply = await requester.sendRequest('svc', { payload: 'x', timeout: 5_000 });
    expect(reply.string()).toBe('ok');
    await drained;
    expect(nc.isClosed()).toBe(true);
  });

  it('while subscriptions drain: publish works, subscribe and request are refused', async () => {
    const nc = await open();
    const outcomes: unknown[] = [];
    nc.subscribe('work', {
      callback: () => {
        const drained = nc.drain();
        outcomes.push(nc.isDraining());
        nc.publish('still.allowed', 'x');
        outcomes.push(catchSync(() => nc.subscribe('late')));
        outcomes.push(nc.request('late', 'x').catch((e: unknown) => e));
        outcomes.push(nc.drain().catch((e: unknown) => e));
        outcomes.push(drained.then(() => catchSync(() => nc.publish('after', 'x'))));
      },
    });
    nc.publish('work', 'go');
    await waitFor(() => outcomes.length === 5, 5_000, 'the handler');
    const [draining, subscribe, request, secondDrain, afterDrain] = await Promise.all(outcomes);
    expect(draining).toBe(true);
    expect(subscribe).toBeInstanceOf(errors.DrainingConnectionError);
    expect(request).toBeInstanceOf(errors.DrainingConnectionError);
    expect(secondDrain).toBeInstanceOf(errors.DrainingConnectionError);
    expect(afterDrain).toBeInstanceOf(errors.ClosedConnectionError);
  });

  it("a subscription's second drain() after the first finished resolves, as nats.js's does", async () => {
    const nc = await open();
    const sub = nc.subscribe('drained.twice');
    await sub.drain();
    await withTimeout(sub.drain(), 5_000, 'the second drain()');
    expect(sub.isClosed()).toBe(true);
  });

  it('reconnect() is refused once drain() started, and after close, as nats.js refuses it', async () => {
    const nc = await open();
    let during: unknown;
    nc.subscribe('work', {
      callback: () => {
        void nc.drain();
        during = nc.reconnect().catch((e: unknown) => e);
      },
    });
    nc.publish('work', 'go');
    await waitFor(() => during !== undefined, 5_000, 'the handler');
    expect(await during).toBeInstanceOf(errors.DrainingConnectionError);
    await nc.closed();
    expect(await nc.reconnect().catch((e: unknown) => e)).toBeInstanceOf(
      errors.ClosedConnectionError,
    );
  });
});

describe('a request waiting when the connection ends', () => {
  for (const end of ['drain', 'close'] as const) {
    it(`${end}() rejects it at once with RequestError("connection closed")`, async () => {
      const nc = await open();
      const responder = await client();
      let asked = false;
      responder.subscribe('silent', {
        callback: () => {
          asked = true;
        },
      });
      await responder.flush();
      const pending = nc.request('silent', 'x', { timeout: 20_000 }).catch((e: unknown) => e);
      await waitFor(() => asked, 5_000, 'the request');
      await withTimeout(nc[end](), 5_000, `${end}()`);
      const error = await withTimeout(pending, 1_000, 'the request');
      expect(error).toBeInstanceOf(RequestError);
      expect((error as Error).message).toBe('connection closed');
      // A request made after the close is refused as nats.js refuses it.
      await expect(nc.request('silent', 'x')).rejects.toBeInstanceOf(errors.ClosedConnectionError);
    });
  }
});

describe('requestMany', () => {
  it("resolves to nats.js's QueuedIterator: stop() ends it, and it counts", async () => {
    const nc = await open();
    nc.subscribe('many', {
      callback: (_err, msg) => {
        for (const n of ['0', '1', '2']) msg.respond(n);
      },
    });
    const replies = (await nc.requestMany('many', '', {
      maxWait: 20_000,
    })) as QueuedIterator<Msg> & { iterClosed: Promise<Error | undefined> };
    const got: string[] = [];
    await withTimeout(
      (async () => {
        for await (const msg of replies) {
          got.push(msg.string());
          replies.stop();
        }
      })(),
      5_000,
      'the loop after stop()',
    );
    expect(got).toEqual(['0']);
    expect(replies.getProcessed()).toBe(1);
    expect(replies.getReceived()).toBeGreaterThanOrEqual(1);
    expect(replies.getPending()).toBeGreaterThanOrEqual(0);
    await expect(replies.iterClosed).resolves.toBeUndefined();
  });
});

describe('status()', () => {
  it('a permissions violation is an error status with PermissionViolationError', async () => {
    const nc = await open();
    const firstError = (async () => {
      // Returning from the loop stops the status iterator.
      for await (const s of nc.status()) {
        if (s.type === 'error') return s as Extract<Status, { error: Error }>;
      }
    })();
    nc.subscribe('nosub.x', { callback: () => {} });
    const { error } = (await withTimeout(firstError, 5_000, 'an error status'))!;
    expect(error).toBeInstanceOf(errors.PermissionViolationError);
    const violation = error as InstanceType<typeof errors.PermissionViolationError>;
    expect(violation.operation).toBe('subscription');
    expect(violation.subject).toBe('nosub.x');
  });
});

describe('msg.json()', () => {
  it("a payload that is not JSON throws JSON.parse's SyntaxError, as in nats.js", async () => {
    const nc = await open();
    const got: Msg[] = [];
    nc.subscribe('json', {
      callback: (_err, msg) => {
        got.push(msg);
      },
    });
    nc.publish('json', 'not json');
    nc.publish('json', '{"a":1}');
    await waitFor(() => got.length === 2, 5_000, 'the messages');
    expect(() => got[0].json()).toThrow(SyntaxError);
    expect(got[1].json()).toEqual({ a: 1 });
  });
});

function catchSync(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('when the server goes away for good', () => {
  async function stranded(maxReconnects: number | null) {
    const own = await startServer();
    const c = await new ConnectOptions()
      .maxReconnects(maxReconnects)
      .connectionTimeout(500)
      .reconnectDelayCallback(() => 50)
      .connect(own.url);
    clients.push(c);
    return { own, client: c, nc: asNatsConnection(c) };
  }

  it('maxReconnects ends subscriptions without an error, as nats.js closes them', async () => {
    const { own, nc } = await stranded(2);
    const errs: unknown[] = [];
    const withCallback = nc.subscribe('gone.cb', {
      callback: (err) => {
        if (err) errs.push(err);
      },
    });
    const iterated = nc.subscribe('gone.it');
    const iteration = (async () => {
      for await (const _ of iterated) {
      }
    })();
    await nc.flush();
    await own.stop();
    await withTimeout(nc.closed(), 10_000, 'the end of the connection');
    expect(await withCallback.closed).toBeUndefined();
    expect(await iterated.closed).toBeUndefined();
    await withTimeout(iteration, 1_000, 'the iterator ending'); // ends, does not throw
    expect(errs).toEqual([]);
  });

  it("status(): each failed attempt is 'reconnecting', not an 'error' (a server's in nats.js)", async () => {
    const { own, nc } = await stranded(3);
    const seen: Status[] = [];
    void (async () => {
      for await (const s of nc.status()) seen.push(s);
    })();
    await nc.flush();
    await own.stop();
    await withTimeout(nc.closed(), 10_000, 'the end of the connection');
    await waitFor(() => seen.at(-1)?.type === 'close', 5_000, 'the close status');
    const types = seen.map((s) => s.type);
    expect(types[0]).toBe('disconnect');
    expect(types).toContain('reconnecting'); // failures in a row may come as one event
    // The one error left: the client giving up, which nats.js reports through closed().
    const errorKinds = seen.flatMap((s) =>
      s.type === 'error' ? [(s.error as { kind?: string }).kind] : [],
    );
    expect(errorKinds).toEqual(['maxReconnects']);
  });

  it("sub.drain() without a connection resolves, as nats.js's does", async () => {
    const { own, client: c, nc } = await stranded(null);
    const sub = nc.subscribe('gone.drain');
    await nc.flush();
    await own.stop();
    await waitFor(() => c.connectionState() === 'disconnected', 5_000, 'disconnected');
    // Bounded by 2 × connectionTimeout while no connection answers its flush.
    await withTimeout(sub.drain(), 5_000, 'the drain');
    expect(sub.isClosed()).toBe(true);
  });

  it('sub.drain() on a closed subscription or connection is refused, as nats.js refuses it', async () => {
    const nc = await open();
    const sub = nc.subscribe('refused.drain');
    sub.unsubscribe();
    await waitFor(() => sub.isClosed(), 5_000, 'the subscription closed');
    await expect(sub.drain()).rejects.toBeInstanceOf(errors.InvalidOperationError);
    const other = nc.subscribe('refused.drain.2');
    await nc.close();
    await expect(other.drain()).rejects.toBeInstanceOf(errors.ClosedConnectionError);
  });
});

describe('a subscription callback that throws on the error it is given', () => {
  it('is a callback clientError, as any throwing callback is; no unhandled rejection', async () => {
    // nats.js hands a denied subscription's or a timeout's error to the callback; a throw there
    // escaped from a promise reaction and ended the process (outside probe, s24).
    for (const [subject, timeout] of [
      ['nosub.thrown', undefined],
      ['quiet.thrown', 200],
    ] as const) {
      const kinds: string[] = [];
      const c = await new ConnectOptions()
        .userAndPassword('u', 'p')
        .eventCallback((e) => {
          if (e.type === 'clientError') kinds.push(e.error.kind);
        })
        .connect(server.url);
      clients.push(c);
      const nc = asNatsConnection(c);
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        let given: unknown;
        const sub = nc.subscribe(subject, {
          timeout,
          callback: (err) => {
            if (!err) return;
            given = err;
            throw new Error('rethrown by the callback');
          },
        });
        await withTimeout(
          sub.closed.catch(() => {}),
          5_000,
          `${subject}: the subscription's end`,
        );
        await waitFor(() => kinds.includes('callback'), 5_000, `${subject}: the callback error`);
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(given, subject).toBeInstanceOf(Error);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
      expect(unhandled, subject).toEqual([]);
    }
  });
});
