// A server that sends what no nats-server would: the worker must report a protocol error,
// drop the connection, reconnect and carry on. And servers that refuse the CONNECT.

import { type Client, ConnectOptions, NatsError } from 'nats-offload';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startServer, stopAll } from '../helpers/nats-server.js';
import {
  handshake,
  infoLine,
  type ScriptedPeer,
  startScriptedPeer,
} from '../helpers/scripted-peer.js';
import { EventLog, waitFor, withTimeout } from '../helpers/wait.js';

let peer: ScriptedPeer | undefined;
let client: Client | undefined;

afterEach(async () => {
  await client?.close();
  client = undefined;
  await peer?.close();
  peer = undefined;
});

afterAll(stopAll);

/**
 * A peer that completes the handshake on every connection and answers every PING; on the first
 * connection it sends `garbage` once `trigger` resolves. Records each connection's lines.
 */
async function garbagePeer(garbage: string | Uint8Array, trigger: Promise<void>) {
  const lines: string[][] = [];
  const scripted = await startScriptedPeer(async (conn) => {
    const seen: string[] = [];
    lines[conn.index] = seen;
    await handshake(conn);
    const answering = (async () => {
      for await (const line of conn.lines()) {
        seen.push(line);
        if (line === 'PING') conn.send('PONG\r\n');
      }
    })();
    if (conn.index === 0) {
      await trigger;
      conn.send(garbage);
    }
    await answering;
  });
  return { scripted, lines };
}

const GARBAGE: [string, string | Uint8Array][] = [
  ['a MSG whose sid is not a number', 'MSG foo notanumber 5\r\nhello\r\n'],
  ['an unknown operation', 'XYZZY\r\n'],
  ['a MSG whose payload is not followed by CRLF', 'MSG foo 1 5\r\nhelloXXXXXX\r\n'],
  ['a MSG whose size is negative', 'MSG foo 1 -5\r\nhello\r\n'],
  ['binary noise', Uint8Array.from([0x00, 0xff, 0x13, 0x0d, 0x0a, 0x80, 0x0d, 0x0a])],
];

describe('malformed server input', () => {
  it.each(GARBAGE)(
    'survives %s: protocol error, reconnect, working connection',
    async (_, garbage) => {
      let fire!: () => void;
      const trigger = new Promise<void>((resolve) => {
        fire = resolve;
      });
      const { scripted, lines } = await garbagePeer(garbage, trigger);
      peer = scripted;
      const events = new EventLog();
      client = await new ConnectOptions().eventCallback(events.callback).connect(peer.url);
      const got: string[] = [];
      const sub = client.subscribe('foo', { callback: (m) => got.push(m.string()) });
      await client.flush();
      expect(sub.sid).toBe(1);
      await events.next('connected');

      fire();
      const errorAt = await events.next('clientError', 0, 5_000);
      const event = events.events[errorAt];
      expect(event.type === 'clientError' && event.error).toBeInstanceOf(NatsError);
      expect(event.type === 'clientError' && event.error.kind).toBe('protocol');
      const downAt = await events.next('disconnected', errorAt, 5_000);
      await events.next('connected', downAt + 1, 5_000);
      expect(events.types()).toEqual(['connected', 'clientError', 'disconnected', 'connected']);
      expect(peer.connections).toHaveLength(2);
      expect(client.statistics().connects).toBe(2);

      // The worker is alive: a flush round-trips on the new connection...
      await withTimeout(client.flush(), 5_000, 'flush() after the reconnect');
      expect(client.connectionState()).toBe('connected');
      // ...which got the subscription replayed before the flush's PING...
      expect(lines[1]).toContain('SUB foo 1');
      expect(lines[1].indexOf('SUB foo 1')).toBeLessThan(lines[1].indexOf('PING'));
      // ...and delivers a well-formed message. Nothing of the garbage was delivered.
      peer.connections[1].send('MSG foo 1 5\r\nworld\r\n');
      await waitFor(() => got.length > 0, 5_000, 'the good MSG');
      await client.flush();
      expect(got).toEqual(['world']);
    },
  );

  it("reports a non-fatal -ERR as a 'serverError' event and stays connected", async () => {
    let fire!: () => void;
    const trigger = new Promise<void>((resolve) => {
      fire = resolve;
    });
    const { scripted } = await garbagePeer(
      '-ERR \'Permissions Violation for Publish to "secret"\'\r\n',
      trigger,
    );
    peer = scripted;
    const events = new EventLog();
    client = await new ConnectOptions().eventCallback(events.callback).connect(peer.url);
    fire();
    const at = await events.next('serverError', 0, 5_000);
    const event = events.events[at];
    expect(event.type === 'serverError' && event.error.message).toContain('Permissions Violation');
    await client.flush();
    expect(client.connectionState()).toBe('connected');
    expect(peer.connections).toHaveLength(1);
    expect(events.types()).not.toContain('disconnected');
  });
});

describe('header blocks that do not parse', () => {
  const enc = new TextEncoder();
  /** An HMSG on sid 1 carrying `headers` (bytes as given) and `payload`. */
  function hmsg(headers: Uint8Array, payload: string): Uint8Array {
    const body = enc.encode(payload);
    const line = enc.encode(`HMSG foo 1 ${headers.length} ${headers.length + body.length}\r\n`);
    return Uint8Array.from([...line, ...headers, ...body, 0x0d, 0x0a]);
  }
  const BLOCKS: [string, Uint8Array][] = [
    [
      'lines without a colon or a name',
      enc.encode('NATS/1.0\r\nNoColon\r\n: v\r\nGood: yes\r\n\r\n'),
    ],
    ['no status line', enc.encode('Good: yes\r\n\r\n')],
    ['bare CRs', enc.encode('NATS/1.0\rGood: yes\rBad\r\r')],
    [
      'bytes that are not UTF-8',
      Uint8Array.from([
        ...enc.encode('NATS/1.0\r\nX: '),
        0xff,
        0xfe,
        ...enc.encode('\r\nGood: yes\r\n\r\n'),
      ]),
    ],
    // A name of only a byte order mark decoded to '' and HeaderMap refused it: an uncaught
    // NatsError on the caller's thread ended the process. It is a name like any other now.
    [
      'a name that is a byte order mark',
      Uint8Array.from([
        ...enc.encode('NATS/1.0\r\n'),
        0xef,
        0xbb,
        0xbf,
        ...enc.encode(': v\r\nGood: yes\r\n\r\n'),
      ]),
    ],
  ];

  it('delivers every message, with the headers that parse', async () => {
    peer = await startScriptedPeer(async (conn) => {
      await handshake(conn);
      for await (const line of conn.lines()) {
        if (line === 'PING') conn.send('PONG\r\n');
        if (line === 'SUB foo 1') {
          for (const [name, block] of BLOCKS) conn.send(hmsg(block, name));
          conn.send(hmsg(enc.encode('NATS/1.0 503\r\n\r\n'), 'status'));
        }
      }
    });
    const events = new EventLog();
    client = await new ConnectOptions().eventCallback(events.callback).connect(peer.url);
    const got: { payload: string; good?: string; status?: number }[] = [];
    client.subscribe('foo', {
      callback: (m) =>
        got.push({ payload: m.string(), good: m.headers?.get('Good'), status: m.status }),
    });
    await waitFor(() => got.length === BLOCKS.length + 1, 5_000, 'every HMSG');
    expect(got).toEqual([
      ...BLOCKS.map(([name]) => ({ payload: name, good: 'yes', status: undefined })),
      { payload: 'status', good: undefined, status: 503 },
    ]);
    // Nothing was reported: the connection stayed up and no message was dropped.
    expect(events.types()).toEqual(['connected']);
    expect(peer.connections).toHaveLength(1);
  });
});

describe('INFO with an unusable max_payload', () => {
  it.each([
    ['missing', undefined, 1024 * 1024],
    ['not a number', 'lots', 1024 * 1024],
    ['2^31', 2 ** 31, 2 ** 31 - 1],
    ['2^32 + 5', 2 ** 32 + 5, 2 ** 31 - 1],
  ])('%s: publish still works', async (_, maxPayload, limit) => {
    const pubs: string[] = [];
    peer = await startScriptedPeer(async (conn) => {
      conn.send(infoLine({ max_payload: maxPayload }));
      await conn.nextLine((l) => l.startsWith('CONNECT '));
      await conn.nextLine((l) => l === 'PING');
      conn.send('PONG\r\n');
      for await (const line of conn.lines()) {
        if (line === 'PING') conn.send('PONG\r\n');
        else if (line.startsWith('PUB ')) pubs.push(line);
      }
    });
    client = await new ConnectOptions().connect(peer.url);
    expect(client.maxPayload()).toBe(limit);
    expect(client.publish('foo', 'hello')).toBe(true);
    await client.flush();
    expect(pubs).toEqual(['PUB foo 5']);
  });
});

describe('CONNECT refused', () => {
  it("a peer answering CONNECT with -ERR 'Authorization Violation' makes connect reject", async () => {
    peer = await startScriptedPeer(async (conn) => {
      conn.send(infoLine({ auth_required: true }));
      await conn.nextLine((l) => l.startsWith('CONNECT '));
      conn.send("-ERR 'Authorization Violation'\r\n");
      conn.socket.end();
    });
    let error: unknown;
    try {
      client = await new ConnectOptions().connectionTimeout(5_000).connect(peer.url);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NatsError);
    expect((error as NatsError).kind).toBe('authorizationViolation');
    expect((error as NatsError).message).toContain('Authorization Violation');
    // Refused credentials are not retried on the first connect.
    expect(peer.connections).toHaveLength(1);
  });

  it('a real server with token auth rejects a client without the token', async () => {
    const server = await startServer({ config: 'authorization { token: "s3cret" }' });
    try {
      let error: unknown;
      try {
        client = await new ConnectOptions().connect(server.url);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(NatsError);
      expect((error as NatsError).kind).toBe('authorizationViolation');

      // Control: the same server accepts the token given in the URL.
      client = await new ConnectOptions().connect(`nats://s3cret@127.0.0.1:${server.port}`);
      await client.flush();
      expect(client.connectionState()).toBe('connected');
    } finally {
      await client?.close();
      client = undefined;
      await server.stop();
    }
  });
});

describe('a server that stops answering PINGs', () => {
  it('is found stale after two unanswered PINGs; the client reconnects', async () => {
    const pingsUnanswered: number[] = [];
    peer = await startScriptedPeer(async (conn) => {
      await handshake(conn);
      let pings = 0;
      for await (const line of conn.lines()) {
        if (line !== 'PING') continue;
        // The second connection answers; the first goes silent after the handshake.
        if (conn.index === 0) pingsUnanswered[0] = ++pings;
        else conn.send('PONG\r\n');
      }
    });
    const events = new EventLog();
    client = await new ConnectOptions()
      .pingInterval(100)
      .eventCallback(events.callback)
      .connect(peer.url);
    const downAt = await events.next('disconnected', 0, 5_000);
    await events.next('connected', downAt, 5_000);
    expect(peer.connections).toHaveLength(2);
    // Stale after exactly two PINGs without a PONG, not sooner and not later.
    expect(pingsUnanswered[0]).toBe(2);
    await withTimeout(client.flush(), 5_000, 'flush() on the new connection');
  });
});
