// What a nats.js user reaches for on day one (API.md): Message.respond, rtt(), status(),
// requestMany(), subscribe({ max, timeout }), [Symbol.asyncDispose], and permission
// violations that reach the call they concern.

import { readFile, writeFile } from 'node:fs/promises';
import { type Client, ConnectOptions, connect, type Event, NatsError } from 'nats-offload';
import { afterEach, describe, expect, it } from 'vitest';
import { type NatsServer, startServer } from '../helpers/nats-server.js';
import { waitFor, withTimeout } from '../helpers/wait.js';

const servers: NatsServer[] = [];
const clients: Client[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) await s.stop();
});

async function serverAndClient(config?: string, options = new ConnectOptions()) {
  const server = await startServer(config ? { config } : {});
  servers.push(server);
  const client = await options.connect(server.url);
  clients.push(client);
  return { server, client };
}

async function kindOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return error instanceof NatsError ? error.kind : String(error);
  }
}

describe('Message.respond', () => {
  it('publishes to the reply subject; false when there is none', async () => {
    const { client } = await serverAndClient();
    const plain: boolean[] = [];
    client.subscribe('echo', { callback: (m) => m.respond(`re:${m.string()}`) });
    client.subscribe('plain', { callback: (m) => plain.push(m.respond('x')) });
    await client.flush();
    expect((await client.request('echo', 'hi')).string()).toBe('re:hi');
    client.publish('plain', 'no reply');
    await client.flush();
    await waitFor(() => plain.length === 1, 2_000, 'the plain message');
    expect(plain).toEqual([false]);
  });
});

describe('rtt()', () => {
  it('is one round trip in fractional ms', async () => {
    const { client } = await serverAndClient();
    const ms = await client.rtt();
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThan(5_000);
  });
});

describe('status()', () => {
  it('gives every reader every event from now on, and ends at close', async () => {
    const { client } = await serverAndClient();
    const a = client.status();
    const b = client.status();
    const read = async (events: AsyncIterable<Event>) => {
      const types: string[] = [];
      for await (const e of events) types.push(e.type);
      return types;
    };
    const readingA = read(a);
    const readingB = read(b);
    await client.forceReconnect();
    await waitFor(() => client.statistics().connects === 2, 5_000, 'the reconnect');
    await client.close();
    for (const types of [await readingA, await readingB]) {
      // The first connection's own 'connected' may still be on its way when status() is called.
      expect(types.slice(types.indexOf('disconnected'))).toEqual([
        'disconnected',
        'connected',
        'closed',
      ]);
    }
  });
});

describe('requestMany()', () => {
  it('options whose getter throws: invalidArgument, not the raw error', async () => {
    const { client } = await serverAndClient();
    const hostile = {
      get maxWait(): number {
        throw new TypeError('hostile getter');
      },
    };
    let thrown: unknown;
    try {
      client.requestMany('svc', '', hostile);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(NatsError);
    expect((thrown as NatsError).kind).toBe('invalidArgument');
  });

  it('not iterated, still ends at maxWait: its inbox stops receiving', async () => {
    const { server, client } = await serverAndClient();
    const peer = await connect(server.url);
    clients.push(peer);
    let inbox = '';
    peer.subscribe('ignored', {
      callback: (m) => {
        inbox = m.reply ?? '';
      },
    });
    await peer.flush();
    client.requestMany('ignored', '', { maxWait: 200 }); // never iterated
    await waitFor(() => inbox !== '', 5_000, 'the request');
    await new Promise((resolve) => setTimeout(resolve, 500));
    await client.flush(); // its UNSUB has reached the server
    const before = client.statistics().inMessages;
    for (let i = 0; i < 100; i++) peer.publish(inbox, 'late');
    await peer.flush();
    await client.flush();
    expect(client.statistics().inMessages).toBe(before);
  });

  it('return() ends the request at once, also while a next() waits for a reply', async () => {
    const { client } = await serverAndClient();
    client.subscribe('mute', { callback: () => {} }); // a responder that never answers
    await client.flush();
    const replies = client.requestMany('mute', '', { maxWait: null })[Symbol.asyncIterator]();
    const waiting = replies.next();
    await client.flush(); // the request is out
    await withTimeout(replies.return!(), 5_000, 'return()');
    expect(await withTimeout(waiting, 5_000, 'the waiting next()')).toEqual({
      value: undefined,
      done: true,
    });
  });

  it('gathers replies until maxMessages, maxWait or stall; throws noResponders when none', async () => {
    const { client } = await serverAndClient();
    for (let i = 0; i < 3; i++) {
      client.subscribe('many', { callback: (m) => m.respond(`r${i}`) });
    }
    await client.flush();
    const collect = async (it: AsyncIterable<{ string(): string }>) => {
      const out: string[] = [];
      for await (const m of it) out.push(m.string());
      return out.sort();
    };
    expect(await collect(client.requestMany('many', '', { maxMessages: 2 }))).toHaveLength(2);
    const started = performance.now();
    expect(await collect(client.requestMany('many', '', { maxWait: 300 }))).toEqual([
      'r0',
      'r1',
      'r2',
    ]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    expect(await collect(client.requestMany('many', '', { stall: 200, maxWait: 10_000 }))).toEqual([
      'r0',
      'r1',
      'r2',
    ]);
    expect(await kindOf(collect(client.requestMany('nobody.home')))).toBe('noResponders');
  });
});

describe('subscribe({ max, timeout })', () => {
  it('max ends the subscription after that many messages', async () => {
    const { client } = await serverAndClient();
    const sub = client.subscribe('few', { max: 3 });
    await client.flush();
    for (let i = 0; i < 5; i++) client.publish('few', String(i));
    const got: string[] = [];
    for await (const m of sub) got.push(m.string());
    expect(got).toEqual(['0', '1', '2']);
    expect(await sub.closed).toBeUndefined();
  });

  it('timeout ends a silent subscription with timedOut: the iterator throws it, closed has it', async () => {
    const { client } = await serverAndClient();
    const iterated = client.subscribe('silent', { timeout: 200 });
    const withCallback = client.subscribe('silent.too', { callback: () => {}, timeout: 200 });
    const answered = client.subscribe('spoken', { timeout: 200 });
    client.publish('spoken', 'hello');
    expect(
      await kindOf(
        (async () => {
          for await (const _ of iterated) {
          }
        })(),
      ),
    ).toBe('timedOut');
    expect((await withCallback.closed)?.kind).toBe('timedOut');
    const first = await answered[Symbol.asyncIterator]().next();
    expect(first.value?.string()).toBe('hello');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(answered.isClosed).toBe(false); // a message came in time
  });

  it('rejects a bad max or timeout with invalidArgument', async () => {
    const { client } = await serverAndClient();
    for (const opts of [{ max: 0 }, { max: 1.5 }, { timeout: -1 }, { timeout: 2 ** 31 }]) {
      expect(() => client.subscribe('x', opts)).toThrow(
        expect.objectContaining({ kind: 'invalidArgument' }),
      );
    }
  });
});

describe('[Symbol.asyncDispose]', () => {
  it('drains the client', async () => {
    const { client } = await serverAndClient();
    const got: string[] = [];
    client.subscribe('last', { callback: (m) => got.push(m.string()) });
    client.publish('last', 'words');
    await client[Symbol.asyncDispose]();
    expect(client.connectionState()).toBe('closed');
    expect(got).toEqual(['words']);
  });

  // `await using` threw at the block's end when a close() (a signal handler's) cut its drain short.
  it('resolves when a close() cuts its drain short: the client ends as asked', async () => {
    const { client } = await serverAndClient();
    client.subscribe('silent', { callback: () => {} });
    const waiting = client.request('silent').catch(() => 'rejected'); // drain waits for it
    await client.flush();
    const disposed = client[Symbol.asyncDispose]();
    await client.close();
    await expect(disposed).resolves.toBeUndefined();
    expect(await waiting).toBe('rejected');
    expect(client.connectionState()).toBe('closed');
  });
});

describe('permission violations reach the call they concern', () => {
  const config = `authorization { users: [ { user: u, password: p, permissions: {
    publish: { deny: ["secret.>"] }, subscribe: { deny: ["private.>"] } } } ] }`;

  it('a denied subscription ends with permissionsViolation; its iterator throws it', async () => {
    const { client } = await serverAndClient(
      config,
      new ConnectOptions().userAndPassword('u', 'p'),
    );
    const sub = client.subscribe('private.x');
    const allowed = client.subscribe('public.x');
    expect(
      await kindOf(
        (async () => {
          for await (const _ of sub) {
          }
        })(),
      ),
    ).toBe('permissionsViolation');
    expect((await sub.closed)?.kind).toBe('permissionsViolation');
    expect(allowed.isClosed).toBe(false);
  });

  it('a request whose publish is denied rejects at once, not after its timeout', async () => {
    const { client } = await serverAndClient(
      config,
      new ConnectOptions().userAndPassword('u', 'p').requestTimeout(10_000),
    );
    const started = performance.now();
    expect(await kindOf(client.request('secret.q', 'x'))).toBe('permissionsViolation');
    expect(
      await kindOf(client.sendRequest('secret.q', { payload: 'x', inbox: client.newInbox() })),
    ).toBe('permissionsViolation');
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('a requestMany whose publish is denied throws permissionsViolation at once', async () => {
    const { client } = await serverAndClient(
      config,
      new ConnectOptions().userAndPassword('u', 'p'),
    );
    const started = performance.now();
    const replies = client.requestMany('secret.many', 'x', { maxWait: 10_000 });
    expect(
      await kindOf(
        (async () => {
          for await (const _ of replies) {
          }
        })(),
      ),
    ).toBe('permissionsViolation');
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('a request the server took before a reload denied its subject still gets its reply', async () => {
    const reloadable = `authorization { users: [
      { user: u, password: p, permissions: { publish: { deny: [] } } },
      { user: r, password: q } ] }`;
    const errors: string[] = [];
    const { server, client } = await serverAndClient(
      reloadable,
      new ConnectOptions()
        .userAndPassword('u', 'p')
        .requestTimeout(20_000)
        .eventCallback((e) => {
          if (e.type === 'serverError') errors.push(e.error.message);
        }),
    );
    const responder = await new ConnectOptions().userAndPassword('r', 'q').connect(server.url);
    clients.push(responder);
    responder.subscribe('svc.slow', {
      callback: (m) => setTimeout(() => m.respond('late'), 4_000),
    });
    await responder.flush();
    const shared = client.request('svc.slow', 'x');
    const own = client.sendRequest('svc.slow', { payload: 'x', inbox: client.newInbox() });
    await client.flush(); // the server has both requests
    const config = await readFile(server.configPath, 'utf8');
    await writeFile(server.configPath, config.replace('deny: []', 'deny: ["svc.slow"]'));
    process.kill(server.pid, 'SIGHUP');
    // A later publish to it is denied: the -ERR names the subject, not which publish.
    await waitFor(
      () => {
        if (errors.some((m) => m.includes('Permissions Violation for Publish'))) return true;
        client.publish('svc.slow', 'later');
        return false;
      },
      5_000,
      'the -ERR of a denied publish',
    );
    expect(await kindOf(client.request('svc.slow', 'y'))).toBe('permissionsViolation');
    expect((await shared).string()).toBe('late');
    expect((await own).string()).toBe('late');
  });

  it('subjects the server quotes with escapes (", \\, a non-printing space) are routed too', async () => {
    const { client } = await serverAndClient(
      config,
      new ConnectOptions().userAndPassword('u', 'p').requestTimeout(10_000),
    );
    const subjects = ['private.a"b', 'private.back\\slash', 'private.nbsp\u00a0x'];
    const subs = subjects.map((subject) => client.subscribe(subject));
    for (const sub of subs) expect((await sub.closed)?.kind).toBe('permissionsViolation');
    const started = performance.now();
    expect(await kindOf(client.request('secret.a"b', 'x'))).toBe('permissionsViolation');
    expect(await kindOf(client.request('secret.\u00a0', 'x'))).toBe('permissionsViolation');
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

describe('a denied subscription ends alone', () => {
  const user = new ConnectOptions().userAndPassword('u', 'p');
  const allowAllBut = (deny: string) => `authorization { users: [ { user: u, password: p,
    permissions: { subscribe: { allow: [">"], deny: [${deny}] } } } ] }`;

  /** A plain, a queue subscription in group a and one in group b to `jobs`, counting deliveries. */
  function jobsSubscriptions(client: Client) {
    const got = { plain: 0, a: 0, b: 0 };
    const subs = {
      plain: client.subscribe('jobs', { callback: () => got.plain++ }),
      a: client.queueSubscribe('jobs', 'a', { callback: () => got.a++ }),
      b: client.queueSubscribe('jobs', 'b', { callback: () => got.b++ }),
    };
    return { got, subs };
  }

  it('a queue group denied: only that queue subscription, the others on its subject receive', async () => {
    const { client } = await serverAndClient(allowAllBut('"jobs b"'), user);
    const { got, subs } = jobsSubscriptions(client);
    expect((await subs.b.closed)?.kind).toBe('permissionsViolation');
    client.publish('jobs', 'x');
    await waitFor(() => got.plain === 1 && got.a === 1, 5_000, 'the plain and group a deliveries');
    expect([subs.plain.isClosed, subs.a.isClosed]).toEqual([false, false]);
  });

  it('revoked by a config reload (the -ERR names the sid, not the queue group): each of them', async () => {
    const { server, client } = await serverAndClient(allowAllBut(''), user);
    const { subs } = jobsSubscriptions(client);
    let others = 0;
    client.subscribe('other', { callback: () => others++ });
    await client.flush();
    const config = await readFile(server.configPath, 'utf8');
    await writeFile(server.configPath, config.replace('deny: []', 'deny: ["jobs"]'));
    process.kill(server.pid, 'SIGHUP');
    for (const sub of Object.values(subs)) {
      expect((await sub.closed)?.kind).toBe('permissionsViolation');
    }
    client.publish('other', 'x');
    await waitFor(() => others === 1, 5_000, 'the delivery on other');
  });

  it('the request inbox denied: requests fail at once, on the shared inbox and on their own', async () => {
    const { client } = await serverAndClient(
      allowAllBut('"_INBOX.>"'),
      new ConnectOptions().userAndPassword('u', 'p').requestTimeout(20_000),
    );
    client.subscribe('svc', { callback: (m) => m.respond('ok') });
    const started = performance.now();
    const waiting = [client.request('svc', '1'), client.request('svc', '2')];
    for (const request of waiting) expect(await kindOf(request)).toBe('permissionsViolation');
    // The next request subscribes again, and hears the same.
    expect(await kindOf(client.request('svc', '3'))).toBe('permissionsViolation');
    const own = client.sendRequest('svc', { payload: '4', inbox: client.newInbox() });
    expect(await kindOf(own)).toBe('permissionsViolation');
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});

describe('connect() with a plain object still works', () => {
  it('connects', async () => {
    const server = await startServer();
    servers.push(server);
    const client = await connect(server.url, { name: 'plain' });
    clients.push(client);
    expect(client.connectionState()).toBe('connected');
  });
});
