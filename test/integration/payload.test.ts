// Payload limits from the server's INFO, and bad input rejected synchronously with the right
// kind; every method of a closed client fails with 'closed'.

import {
  type Client,
  ConnectOptions,
  connect,
  HeaderMap,
  type Message,
  NatsError,
} from 'nats-offload';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type NatsServer, startServer, stopAll } from '../helpers/nats-server.js';
import { waitFor } from '../helpers/wait.js';

const MAX = 4096;

let server: NatsServer;
let client: Client | undefined;

beforeAll(async () => {
  server = await startServer({ config: `max_payload: ${MAX}` });
});

afterEach(async () => {
  await client?.close();
  client = undefined;
});

afterAll(async () => {
  await server?.stop();
  await stopAll();
});

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** `fn` throws (synchronously) a NatsError of `kind`. */
function expectKind(fn: () => unknown, kind: string): void {
  const error = thrownBy(fn);
  expect(error, `expected a NatsError '${kind}'`).toBeInstanceOf(NatsError);
  expect((error as NatsError).kind).toBe(kind);
}

function pattern(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 13 + 7) & 0xff);
}

describe("the server's max_payload", () => {
  it('maxPayload() reports the limit from INFO', async () => {
    client = await connect(server.url);
    expect(client.maxPayload()).toBe(MAX);
    expect(client.serverInfo().maxPayload).toBe(MAX);
  });

  it('maxPayload() is 1 MiB before the first INFO', async () => {
    const port = await freePort();
    client = await new ConnectOptions().retryOnInitialConnect().connect(`nats://127.0.0.1:${port}`);
    expect(client.connectionState()).toBe('pending');
    expect(client.maxPayload()).toBe(1024 * 1024);
  });

  it('accepts exactly max_payload bytes and delivers them intact; one more throws', async () => {
    client = await connect(server.url);
    const got: Message[] = [];
    client.subscribe('size.limit', { callback: (m) => got.push(m) });
    await client.flush();

    const full = pattern(MAX);
    expect(client.publish('size.limit', full)).toBe(true);
    const c = client;
    expectKind(() => c.publish('size.limit', pattern(MAX + 1)), 'maxPayloadExceeded');
    expectKind(() => c.publishWithReply('size.limit', 'r', pattern(MAX + 1)), 'maxPayloadExceeded');
    // A string counts in UTF-8 bytes: 2,049 two-byte characters are 4,098 bytes.
    expectKind(() => c.publish('size.limit', 'é'.repeat(MAX / 2 + 1)), 'maxPayloadExceeded');
    await client.flush();

    // Only the accepted message was sent; the connection is still fine.
    expect(got).toHaveLength(1);
    expect(got[0].length).toBe(MAX);
    expect(Buffer.from(got[0].payload).equals(Buffer.from(full))).toBe(true);
    expect(client.connectionState()).toBe('connected');
  });

  it('with headers, the header block and the payload count together', async () => {
    client = await connect(server.url);
    const got: Message[] = [];
    client.subscribe('size.headers', { callback: (m) => got.push(m) });
    await client.flush();

    const headers = new HeaderMap();
    headers.insert('X-Test', 'v');
    // The NATS header block: version line, one line per value, blank line.
    const block = 'NATS/1.0\r\nX-Test: v\r\n\r\n'.length;
    const fits = pattern(MAX - block);
    const c = client;
    expect(c.publishWithHeaders('size.headers', headers, fits)).toBe(true);
    expectKind(
      () => c.publishWithHeaders('size.headers', headers, pattern(MAX - block + 1)),
      'maxPayloadExceeded',
    );
    expectKind(
      () => c.publishWithReplyAndHeaders('size.headers', 'r', headers, pattern(MAX)),
      'maxPayloadExceeded',
    );
    await client.flush();

    expect(got).toHaveLength(1);
    expect(got[0].headers?.get('X-Test')).toBe('v');
    expect(Buffer.from(got[0].payload).equals(Buffer.from(fits))).toBe(true);
  });
});

describe('bad input', () => {
  it('publish rejects bad subjects and payloads synchronously', async () => {
    client = await connect(server.url);
    const c = client;
    expectKind(() => c.publish('', 'x'), 'badSubject');
    expectKind(() => c.publish('a b', 'x'), 'badSubject');
    expectKind(() => c.publish('a\tb', 'x'), 'badSubject');
    expectKind(() => c.publish('a\r\nPUB b 1', 'x'), 'badSubject');
    expectKind(() => c.publish(42 as unknown as string, 'x'), 'invalidArgument');
    expectKind(() => c.publish(undefined as unknown as string), 'invalidArgument');
    expectKind(() => c.publishWithReply('ok', '', 'x'), 'badSubject');
    expectKind(() => c.publishWithReply('ok', 'r e', 'x'), 'badSubject');
    expectKind(() => c.publishWithReply('ok', 7 as unknown as string, 'x'), 'invalidArgument');

    for (const payload of [42, {}, [1, 2], null, new ArrayBuffer(4), new Uint16Array(2)]) {
      expectKind(() => c.publish('ok', payload as unknown as string), 'invalidArgument');
    }
    expectKind(
      () => c.publishWithHeaders('ok', { 'X-A': 'b' } as unknown as HeaderMap, 'x'),
      'invalidArgument',
    );

    // None of it reached the server: the connection is still up and nothing was sent.
    const got: string[] = [];
    client.subscribe('ok', { callback: (m) => got.push(m.string()) });
    await client.flush();
    expect(client.statistics().outMessages).toBe(0);
    expect(client.connectionState()).toBe('connected');
  });

  it('skipSubjectValidation(true) lets control characters through, never the empty subject nor a line breaker', async () => {
    client = await new ConnectOptions().skipSubjectValidation(true).connect(server.url);
    const c = client;
    expectKind(() => c.publish('', 'x'), 'badSubject');
    expectKind(() => c.publishWithReply('ok', '', 'x'), 'badSubject');
    // An empty subject would have put the request on its own reply inbox (PUB  <inbox> n).
    await expect(c.request('', 'x')).rejects.toMatchObject({ kind: 'badSubject' });
    // These split the PUB line: 'a b' went to 'a' with reply 'b', a CRLF wrote commands of its own.
    for (const subject of [
      'skip.a b',
      'skip.a\tb',
      'skip.x 0\r\n\r\nPUB skip.injected 4\r\nEVIL',
      'skip.\n',
    ]) {
      expectKind(() => c.publish(subject, 'x'), 'badSubject');
      expectKind(() => c.publishWithReply('skip.ok', subject, 'x'), 'badSubject');
    }
    const got: string[] = [];
    c.subscribe('skip.*', { callback: (m) => got.push(m.subject) });
    expect(c.publish('skip.a\u0001b', 'x')).toBe(true); // not checked: the caller vouches for it
    await c.flush();
    await waitFor(() => got.length === 1, 5_000, 'the message');
    expect(got).toEqual(['skip.a\u0001b']);
    expect(c.statistics().outMessages).toBe(1);
    expect(c.connectionState()).toBe('connected');
  });

  it('subscribe rejects bad subjects synchronously', async () => {
    client = await connect(server.url);
    const c = client;
    for (const subject of ['a..b', '.a', 'a.', '', 'a b', '.', 'a.\n']) {
      expectKind(() => c.subscribe(subject), 'badSubject');
      expectKind(() => c.queueSubscribe(subject, 'q'), 'badSubject');
    }
    expectKind(() => c.subscribe(42 as unknown as string), 'invalidArgument');
    expectKind(
      () => c.subscribe('ok', { callback: 'nope' as unknown as () => void }),
      'invalidArgument',
    );
    // Valid wildcard forms are accepted.
    expect(c.subscribe('a.*.b').subject).toBe('a.*.b');
    expect(c.subscribe('a.>').subject).toBe('a.>');
    await client.flush();
    expect(client.connectionState()).toBe('connected');
  });
});

describe('a closed client', () => {
  it("fails every call with 'closed': publish* and subscribe throw, Promises reject", async () => {
    const c = await connect(server.url);
    client = c;
    const sub = c.subscribe('closed.sub');
    await c.close();

    expect(c.connectionState()).toBe('closed');
    const headers = HeaderMap.from({ A: 'b' });
    expectKind(() => c.publish('x', 'y'), 'closed');
    expectKind(() => c.publishWithHeaders('x', headers, 'y'), 'closed');
    expectKind(() => c.publishWithReply('x', 'r', 'y'), 'closed');
    expectKind(() => c.publishWithReplyAndHeaders('x', 'r', headers, 'y'), 'closed');
    expectKind(() => c.subscribe('x'), 'closed');
    expectKind(() => c.queueSubscribe('x', 'q'), 'closed');

    let flush: Promise<void> | undefined;
    expect(() => {
      flush = c.flush();
    }).not.toThrow();
    await expect(flush).rejects.toMatchObject({ name: 'NatsError', kind: 'closed' });
    await expect(c.writable()).rejects.toMatchObject({ kind: 'closed' });

    // The subscription made before close ended; closing again is harmless.
    const rest: unknown[] = [];
    for await (const msg of sub) rest.push(msg);
    expect(rest).toEqual([]);
    await expect(c.close()).resolves.toBeUndefined();
    await expect(c.closed()).resolves.toBeUndefined();
  });
});

describe('a subject larger than the command ring can carry', () => {
  it('throws invalidArgument at subscribe, synchronously', async () => {
    const s = await startServer();
    try {
      const c = await connect(s.url);
      try {
        expect(() => c.subscribe('a'.repeat(3 * 1024 * 1024))).toThrow(
          expect.objectContaining({ kind: 'invalidArgument' }),
        );
        // the client is still fine
        const sub = c.subscribe('after.big');
        expect(sub.sid).toBe(2); // sid 1 went to the refused subscription
        await c.flush();
        c.publish('after.big', 'ok');
        for await (const m of sub) {
          expect(m.string()).toBe('ok');
          break;
        }
      } finally {
        await c.close();
      }
    } finally {
      await s.stop();
    }
  });
});
