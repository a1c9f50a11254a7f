// API.md "Guarantees": nothing the user passes crashes the worker or the process. One table:
// every setter and every method, fed every hostile value, must give a NatsError of the right
// kind ('invalidOption' from setters, 'invalidArgument' / 'badSubject' from methods, 'closed'
// on a closed client) — thrown by sync methods, rejected by Promise-returning ones — or accept
// the value when it is a valid one. Then the connected client must still publish and receive.

import {
  type Client,
  ConnectOptions,
  connect,
  HeaderMap,
  type Message,
  NatsError,
  type Subscriber,
} from 'nats-offload';
import { asNatsConnection } from 'nats-offload/compat';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NatsServer, startServer, stopAll } from '../helpers/nats-server.js';
import { settledYet } from '../helpers/wait.js';

const throwing = (): never => {
  throw new Error('hostile code ran');
};
const revocable = Proxy.revocable({}, {});
revocable.revoke();

/** Values no setter or method expects; each entry below says which of them it accepts. */
const HOSTILE: Record<string, unknown> = {
  symbol: Symbol('hostile'),
  null: null,
  undefined: undefined,
  'throwing toString': {
    toString: throwing,
    valueOf: throwing,
    toJSON: throwing,
    [Symbol.toPrimitive]: throwing,
  },
  'Object.create(null)': Object.create(null),
  bigint: 2n ** 70n,
  NaN: Number.NaN,
  Infinity: Number.POSITIVE_INFINITY,
  '-1': -1,
  '0.5': 0.5,
  '2**31': 2 ** 31,
  '2**32': 2 ** 32,
  '2**53+2': 2 ** 53 + 2,
  '1e300': 1e300,
  true: true,
  function: () => {},
  array: [],
  // Every trap throws: reading, enumerating, even instanceof run user code.
  'throwing Proxy': new Proxy({}, new Proxy({}, { get: () => throwing })),
  'revoked Proxy': revocable.proxy,
};

/**
 * One setter or method: `call(v)` feeds it the value, `kind` is the error every value but
 * those in `ok` must give, and `extra` adds values of its own with their outcome.
 */
interface Row {
  name: string;
  call(v: unknown): unknown;
  async?: boolean;
  kind: string;
  ok?: string[];
  extra?: [label: string, value: unknown, outcome: string][];
}

const OK = 'ok';

function setters(): Row[] {
  const opts = () => new ConnectOptions() as any;
  const S = (name: string, call: (v: unknown) => unknown, more: Partial<Row> = {}): Row => ({
    name,
    call,
    kind: 'invalidOption',
    ...more,
  });
  const fn = ['function'];
  const huge = ['2**31', '2**32'];
  return [
    S('token(v)', (v) => opts().token(v)),
    S('withToken(v)', (v) => ConnectOptions.withToken(v as any)),
    S('userAndPassword(v, p)', (v) => opts().userAndPassword(v, 'p')),
    S('userAndPassword(u, v)', (v) => opts().userAndPassword('u', v)),
    S('withUserAndPassword(v, p)', (v) => ConnectOptions.withUserAndPassword(v as any, 'p')),
    S('nkey(v)', (v) => opts().nkey(v)),
    S('withNkey(v)', (v) => ConnectOptions.withNkey(v as any)),
    S('jwt(v, sign)', (v) => opts().jwt(v, () => new Uint8Array())),
    S('jwt(jwt, v)', (v) => opts().jwt('a.b.c', v), { ok: fn }),
    S('withJwt(v, sign)', (v) => ConnectOptions.withJwt(v as any, () => new Uint8Array())),
    S('credentialsFile(v)', (v) => opts().credentialsFile(v), { async: true }),
    S('withCredentialsFile(v)', (v) => ConnectOptions.withCredentialsFile(v as any), {
      async: true,
    }),
    S('credentials(v)', (v) => opts().credentials(v)),
    S('withCredentials(v)', (v) => ConnectOptions.withCredentials(v as any)),
    S('authCallback(v)', (v) => opts().authCallback(v), { ok: fn }),
    S('withAuthCallback(v)', (v) => ConnectOptions.withAuthCallback(v as any), { ok: fn }),
    S('requireTls(v)', (v) => opts().requireTls(v), { ok: ['true'] }),
    S('addRootCertificates(v)', (v) => opts().addRootCertificates(v)),
    S('addClientCertificate(v, key)', (v) => opts().addClientCertificate(v, 'key.pem')),
    S('addClientCertificate(cert, v)', (v) => opts().addClientCertificate('cert.pem', v)),
    S('tlsClientConfig(v)', (v) => opts().tlsClientConfig(v), { ok: ['Object.create(null)'] }),
    S('connectionTimeout(v)', (v) => opts().connectionTimeout(v), {
      extra: [
        ['0', 0, OK],
        ['2**31-1', 2 ** 31 - 1, OK],
      ],
    }),
    S('requestTimeout(v)', (v) => opts().requestTimeout(v), {
      ok: ['null'],
      extra: [
        ['0', 0, OK],
        ['2**31-1', 2 ** 31 - 1, OK],
      ],
    }),
    S('pingInterval(v)', (v) => opts().pingInterval(v), {
      extra: [
        ['0', 0, OK],
        ['2**31-1', 2 ** 31 - 1, OK],
      ],
    }),
    S('maxReconnects(v)', (v) => opts().maxReconnects(v), {
      ok: ['null', ...huge],
      extra: [
        ['0', 0, 'invalidOption'],
        ['1', 1, OK],
      ],
    }),
    S('skipSubjectValidation(v)', (v) => opts().skipSubjectValidation(v), { ok: ['true'] }),
    S('subscriptionCapacity(v)', (v) => opts().subscriptionCapacity(v), { ok: huge }),
    S('clientCapacity(v)', (v) => opts().clientCapacity(v), { ok: huge }),
    S('maxPendingBytes(v)', (v) => opts().maxPendingBytes(v), { ok: huge }),
    S('customInboxPrefix(v)', (v) => opts().customInboxPrefix(v)),
    S('readBufferCapacity(v)', (v) => opts().readBufferCapacity(v), {
      extra: [
        ['1023', 1023, 'invalidOption'],
        ['1 KiB', 1024, OK],
        ['64 MiB', 64 * 1024 * 1024, OK],
        ['64 MiB + 1', 64 * 1024 * 1024 + 1, 'invalidOption'],
        ['2**40', 2 ** 40, 'invalidOption'],
      ],
    }),
    S('localAddress(v)', (v) => opts().localAddress(v), {
      extra: [
        ['localhost', 'localhost', 'invalidOption'],
        ['a host name with a port', 'example.com:5000', 'invalidOption'],
        ['IPv4 in brackets', '[127.0.0.1]', 'invalidOption'],
        ['a port out of range', '127.0.0.1:65536', 'invalidOption'],
        ['an empty string', '', 'invalidOption'],
        ['IPv4', '127.0.0.1', OK],
        ['IPv4 with a port', '127.0.0.1:0', OK],
        ['IPv6', '::1', OK],
        ['IPv6 in brackets with a port', '[::1]:0', OK],
      ],
    }),
    S('name(v)', (v) => opts().name(v)),
    S('reconnectDelayCallback(v)', (v) => opts().reconnectDelayCallback(v), { ok: fn }),
    S('reconnectToServerCallback(v)', (v) => opts().reconnectToServerCallback(v), { ok: fn }),
    S('eventCallback(v)', (v) => opts().eventCallback(v), { ok: fn }),
    S('ConnectOptions.from(v)', (v) => ConnectOptions.from(v as any), {
      async: true,
      ok: ['Object.create(null)', 'array'],
    }),
    S('connect(v)', (v) => connect(v as any), { async: true }),
  ];
}

/** Each setter again in the plain-object form: `{ [setter]: v }` (undefined = not set). */
function plainForm(rows: Row[]): Row[] {
  const oneArg = rows.filter((r) => /^[a-zA-Z]+\(v\)$/.test(r.name) && !r.name.startsWith('with'));
  const out = oneArg
    .filter((r) => r.name !== 'connect(v)')
    .map((r) => {
      const key = r.name.slice(0, -3);
      return {
        ...r,
        name: `{ ${key}: v }`,
        async: true,
        call: (v: unknown) => ConnectOptions.from({ [key]: v } as any),
        ok: [...(r.ok ?? []), 'undefined'],
      };
    });
  for (const key of ['noEcho', 'tlsFirst', 'retryOnInitialConnect', 'retainServersOrder']) {
    out.push({
      name: `{ ${key}: v }`,
      async: true,
      call: (v: unknown) => ConnectOptions.from({ [key]: v } as any),
      kind: 'invalidOption',
      ok: ['true', 'undefined'],
    });
  }
  for (const key of ['userAndPassword', 'jwt', 'addClientCertificate']) {
    out.push({
      name: `{ ${key}: v }`,
      async: true,
      call: (v: unknown) => ConnectOptions.from({ [key]: v } as any),
      kind: 'invalidOption',
      ok: ['undefined'],
    });
  }
  return out;
}

interface Fixture {
  client: Client;
  sub: Subscriber;
  created: Subscriber[];
}

function methods(f: Fixture): Row[] {
  const c = () => f.client as any;
  const keep = (s: Subscriber) => {
    f.created.push(s);
    return s;
  };
  const M = (name: string, call: (v: unknown) => unknown, more: Partial<Row> = {}): Row => ({
    name,
    call,
    kind: 'invalidArgument',
    ...more,
  });
  // Objects without the fields read: defaults. No options at all: defaults too for subscribe;
  // sendRequest's request is required (API.md).
  const requestOk = ['Object.create(null)', 'throwing toString', 'array'];
  const optsOk = ['undefined', 'null', ...requestOk];
  return [
    M('publish(v)', (v) => c().publish(v)),
    M('publish(s, v)', (v) => c().publish('hostile', v), { ok: ['undefined'] }),
    M('publishWithHeaders(v, h)', (v) => c().publishWithHeaders(v, new HeaderMap())),
    M('publishWithHeaders(s, v)', (v) => c().publishWithHeaders('hostile', v), {
      ok: ['undefined'],
    }),
    M('publishWithReply(s, v)', (v) => c().publishWithReply('hostile', v), {
      ok: ['undefined'],
    }),
    M('publishWithReply(s, bad subject)', () => c().publishWithReply('hostile', 'a b'), {
      kind: 'badSubject',
    }),
    M('publishWithReplyAndHeaders(v, r, h, p)', (v) =>
      c().publishWithReplyAndHeaders(v, 'r', new HeaderMap(), 'p'),
    ),
    M('request(v)', (v) => c().request(v), { async: true }),
    M('request(s, v)', (v) => c().request('echo', v), { async: true, ok: ['undefined'] }),
    M('requestWithHeaders(s, v)', (v) => c().requestWithHeaders('echo', v), {
      async: true,
      ok: ['undefined'],
    }),
    M('sendRequest(v, {})', (v) => c().sendRequest(v, {}), { async: true }),
    M('sendRequest(s, v)', (v) => c().sendRequest('echo', v), { async: true, ok: requestOk }),
    M('sendRequest(s, { timeout: v })', (v) => c().sendRequest('echo', { timeout: v }), {
      async: true,
      ok: ['undefined', 'null'],
    }),
    M('sendRequest(s, { payload: v })', (v) => c().sendRequest('echo', { payload: v }), {
      async: true,
      ok: ['undefined'],
    }),
    M('sendRequest(s, { headers: v })', (v) => c().sendRequest('echo', { headers: v }), {
      async: true,
      ok: ['undefined'],
    }),
    M('sendRequest(s, { inbox: v })', (v) => c().sendRequest('echo', { inbox: v }), {
      async: true,
      ok: ['undefined'],
    }),
    M('subscribe(v)', (v) => keep(c().subscribe(v))),
    M('subscribe(s, v)', (v) => keep(c().subscribe('hostile', v)), { ok: optsOk }),
    M('subscribe(s, { callback: v })', (v) => keep(c().subscribe('hostile', { callback: v })), {
      ok: ['undefined', 'function'],
    }),
    M('subscribe(bad subject)', () => c().subscribe('a..b'), { kind: 'badSubject' }),
    M('queueSubscribe(v, q)', (v) => keep(c().queueSubscribe(v, 'q'))),
    M('queueSubscribe(s, v)', (v) => keep(c().queueSubscribe('hostile', v))),
    M('isServerCompatible(v, 0, 0)', (v) => c().isServerCompatible(v, 0, 0), {
      ok: ['2**31', '2**32'],
    }),
    M('setServerPool(v)', (v) => c().setServerPool(v), { async: true, kind: 'invalidOption' }),
    M('setServerPool([v])', (v) => c().setServerPool([v]), {
      async: true,
      kind: 'invalidOption',
    }),
    M('unsubscribeAfter(v)', (v) => (f.sub as any).unsubscribeAfter(v), {
      async: true,
      extra: [
        ['0', 0, 'invalidArgument'],
        ['2**31-1', 2 ** 31 - 1, OK],
      ],
    }),
    M('HeaderMap.from(v)', (v) => HeaderMap.from(v as any), {
      ok: ['Object.create(null)', 'array'],
    }),
    M('HeaderMap.from([[v, v]])', (v) => HeaderMap.from([[v, v]] as any)),
    M('HeaderMap#insert(v, x)', (v) => new HeaderMap().insert(v as any, 'x')),
    M('HeaderMap#insert(x, v)', (v) => new HeaderMap().insert('x', v as any)),
    M('HeaderMap#append(v, x)', (v) => new HeaderMap().append(v as any, 'x')),
    M('HeaderMap#append(x, v)', (v) => new HeaderMap().append('x', v as any)),
    ...(['get', 'getAll', 'has', 'delete'] as const).map((m) =>
      M(`HeaderMap#${m}(v)`, (v) => HeaderMap.from({ x: 'y' })[m](v as any), {
        ok: Object.keys(HOSTILE),
      }),
    ),
    M('HeaderMap#forEach(v)', (v) => HeaderMap.from({ x: 'y' }).forEach(v as any), {
      ok: ['function'],
    }),
  ];
}

/** 'ok', the NatsError kind, or what went wrong instead. */
async function outcome(row: Row, value: unknown): Promise<string> {
  let result: unknown;
  try {
    result = row.call(value);
  } catch (error) {
    return row.async ? `threw instead of rejecting: ${kindOf(error)}` : kindOf(error);
  }
  if (!(result instanceof Promise)) return row.async ? 'returned no Promise' : OK;
  if (!row.async) return 'returned a Promise from a sync method';
  try {
    await result;
    return OK;
  } catch (error) {
    return kindOf(error);
  }
}

function kindOf(error: unknown): string {
  if (error instanceof NatsError) return error.kind;
  return `raw ${error instanceof Error ? `${error.name}: ${error.message}` : typeof error}`;
}

/** Every value of the table through `row`: which outcome each had, against which it should. */
async function run(row: Row, expectedFor: (label: string) => string) {
  const actual: Record<string, string> = {};
  const expected: Record<string, string> = {};
  for (const [label, value] of Object.entries(HOSTILE)) {
    actual[label] = await outcome(row, value);
    expected[label] = expectedFor(label);
  }
  for (const [label, value, wanted] of row.extra ?? []) {
    actual[label] = await outcome(row, value);
    expected[label] = wanted;
  }
  return { actual, expected };
}

/** ES2024's resizable ArrayBuffer (Node 20 has it; the project's TypeScript lib does not). */
const ResizableArrayBuffer = ArrayBuffer as unknown as new (
  length: number,
  options: { maxByteLength: number },
) => ArrayBuffer & { resize(length: number): void };

let server: NatsServer;
const f = {} as Fixture;
let closedClient: Client;
let unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  server = await startServer();
  f.client = await connect(server.url);
  f.created = [];
  f.client.subscribe('echo', {
    callback: (m: Message) => {
      if (m.reply) f.client.publish(m.reply, m.payload);
    },
  });
  f.sub = f.client.subscribe('hostile.sub');
  closedClient = await connect(server.url);
  await closedClient.close();
});

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await f.client?.close();
  await server?.stop();
  await stopAll();
});

describe('hostile values', () => {
  const rows = setters();
  describe('ConnectOptions setters', () => {
    it.each([...rows, ...plainForm(rows)].map((r) => [r.name, r] as const))(
      '%s',
      async (_, row) => {
        const { actual, expected } = await run(row, (label) =>
          row.ok?.includes(label) ? OK : row.kind,
        );
        expect(actual).toEqual(expected);
      },
    );
  });

  describe('methods of a connected client, its subscriber and HeaderMap', () => {
    it.each(methods(f).map((r) => [r.name, r] as const))('%s', async (_, row) => {
      const { actual, expected } = await run(row, (label) =>
        row.ok?.includes(label) ? OK : row.kind,
      );
      expect(actual).toEqual(expected);
    });
  });

  describe('methods of a closed client: kind closed, whatever the value', () => {
    const onClosed = methods({
      get client() {
        return closedClient;
      },
    } as Fixture).filter((r) => !/^(HeaderMap|unsubscribeAfter|isServerCompatible)/.test(r.name));
    it.each(onClosed.map((r) => [r.name, { ...r, extra: undefined }] as const))(
      '%s',
      async (_, row) => {
        const { actual, expected } = await run(row, () => 'closed');
        expect(actual).toEqual(expected);
      },
    );
  });

  it('at the edges of their ranges, options make a working connection', async () => {
    const edge = await new ConnectOptions()
      .pingInterval(2 ** 31 - 1)
      .connectionTimeout(2 ** 31 - 1)
      .requestTimeout(2 ** 31 - 1)
      .readBufferCapacity(64 * 1024 * 1024)
      .localAddress('127.0.0.1:0')
      .subscriptionCapacity(Number.MAX_SAFE_INTEGER)
      .clientCapacity(Number.MAX_SAFE_INTEGER)
      .maxPendingBytes(Number.MAX_SAFE_INTEGER)
      .maxReconnects(Number.MAX_SAFE_INTEGER)
      .connect(server.url);
    try {
      const got: string[] = [];
      edge.subscribe('edge', { callback: (m) => got.push(m.string()) });
      edge.publish('edge', 'x');
      await edge.flush();
      expect(got).toEqual(['x']);
      expect(edge.connectionState()).toBe('connected');
    } finally {
      await edge.close();
    }
  });

  it('at the low edges, 0 ms: no client PINGs; a connection timeout of 0 times out at once', async () => {
    const quiet = await new ConnectOptions().pingInterval(0).connect(server.url);
    try {
      const got: string[] = [];
      quiet.subscribe('edge0', { callback: (m) => got.push(m.string()) });
      quiet.publish('edge0', 'x');
      const request = quiet.sendRequest('edge0', { payload: 'r', timeout: 0 });
      await expect(request).rejects.toMatchObject({ kind: 'timedOut' });
      await quiet.flush();
      expect(await quiet.rtt()).toBeGreaterThan(0);
      expect(got).toEqual(['x', 'r']);
    } finally {
      await quiet.close();
    }
    const started = performance.now();
    const attempt = new ConnectOptions().connectionTimeout(0).connect(server.url);
    await expect(attempt).rejects.toBeInstanceOf(NatsError);
    await expect(attempt).rejects.toMatchObject({ kind: 'timedOut' });
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it("given to the compat layer: a NatsError, never a TypeError or the value's own error", async () => {
    // Its messages were built from the subject before the core checked it (outside probe, s24).
    const nc = asNatsConnection(f.client);
    const values = ['symbol', 'throwing toString', 'Object.create(null)'] as const;
    const calls: Record<string, (v: unknown) => unknown> = {
      subscribe: (v) => nc.subscribe(v as string),
      request: (v) => nc.request(v as string),
      publish: (v) => nc.publish(v as string),
      'requestMany maxWait': (v) => nc.requestMany('hostile', '', { maxWait: v as number }),
      'requestMany maxMessages': (v) =>
        nc.requestMany('hostile', '', { strategy: 'count', maxMessages: v as number }),
    };
    for (const [name, call] of Object.entries(calls)) {
      for (const label of values) {
        let error: unknown;
        try {
          await call(HOSTILE[label]);
        } catch (thrown) {
          error = thrown;
        }
        expect(error, `${name}(${label})`).toBeInstanceOf(NatsError);
      }
    }
  });

  it('leave the worker alive and the connection working, with no unhandled rejection', async () => {
    const c = f.client;
    for (const s of f.created) await s.unsubscribe();
    const got: string[] = [];
    c.subscribe('alive', { callback: (m) => got.push(m.string()) });
    c.publish('alive', 'still here');
    await c.flush();
    expect(got).toEqual(['still here']);
    expect((await c.request('echo', 'ping')).string()).toBe('ping');
    expect(c.connectionState()).toBe('connected');
    expect(await settledYet(c.closed())).toBe(false);
    expect(unhandled).toEqual([]);
    unhandled = [];
  });

  it('a payload whose length lies: its real bytes are sent, and nothing around it is harmed', async () => {
    const c = f.client;
    const got: [string, string][] = [];
    const hex = (m: Message) => Buffer.from(m.payload).toString('hex');
    const sub = c.subscribe('lie.>', { callback: (m) => got.push([m.subject, hex(m)]) });
    // Earlier messages leave their bytes in the command ring: none may ride along.
    c.publish('lie.secret', 'SECRET'.repeat(200));
    const lying = (bytes: Uint8Array, length: unknown) =>
      Object.defineProperty(bytes, 'length', { get: () => length });
    let reads = 0;
    class Shifty extends Uint8Array {
      override get length(): number {
        return reads++ === 0 ? 2 : 4000; // honest at the first read only
      }
    }
    const lies: unknown[] = ['3', -100, 2.5, -1, 0, 4000, 1e12, Symbol('length')];
    const sent: [string, string][] = [];
    const send = (
      subject: string,
      bytes: Uint8Array,
      publish = () => c.publish(subject, bytes),
    ) => {
      expect(publish()).toBe(true);
      // The real bytes (none once detached, where no view can be made).
      const real =
        bytes.byteLength === 0 ? '' : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      sent.push([subject, real.toString('hex')]);
      c.publish('lie.valid', 'ok');
      sent.push(['lie.valid', Buffer.from('ok').toString('hex')]);
    };
    for (const lie of lies) send('lie.pub', lying(Uint8Array.of(65, 66), lie));
    const headers = new HeaderMap();
    headers.insert('h', 'v');
    for (const lie of lies) {
      const bytes = lying(Uint8Array.of(67, 68), lie);
      send('lie.hpub', bytes, () => c.publishWithHeaders('lie.hpub', headers, bytes));
    }
    send('lie.shifty', new Shifty([69, 70]));
    // A resizable buffer resized by the caller's code while the message is framed (a HeaderMap
    // whose forEach runs): the size is read after it, shrunk or grown.
    for (const [from, to] of [
      [2000, 3],
      [3, 60_000],
    ]) {
      const buffer = new ResizableArrayBuffer(from, { maxByteLength: 64 * 1024 });
      const bytes = new Uint8Array(buffer).fill(74);
      const resizing = new HeaderMap();
      resizing.insert('h', 'v');
      resizing.forEach = (each) => {
        buffer.resize(to);
        new Uint8Array(buffer).fill(74);
        HeaderMap.prototype.forEach.call(resizing, each);
      };
      send('lie.resized', bytes, () => c.publishWithHeaders('lie.resized', resizing, bytes));
    }
    // A detached payload with headers large enough for the continued path: an empty payload.
    const detached = new Uint8Array(8);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    const large = new HeaderMap();
    large.insert('big', 'x'.repeat(c.maxPayload() - 24)); // a block of max_payload − 4 bytes
    send('lie.detached', detached, () => c.publishWithHeaders('lie.detached', large, detached));
    // Large enough to go in parts (the continued path: within ~30 bytes of max_payload).
    send('lie.large', lying(new Uint8Array(c.maxPayload() - 4).fill(71), 10));
    const reply = await c.request('echo', lying(Uint8Array.of(72, 73), 4000));
    expect(hex(reply)).toBe('4849');
    await c.flush();
    await sub.unsubscribe();
    expect(got).toEqual([
      ['lie.secret', Buffer.from('SECRET'.repeat(200)).toString('hex')],
      ...sent,
    ]);
    expect(c.connectionState()).toBe('connected');
    expect(await settledYet(c.closed())).toBe(false);
  });
});
