// Headers through a real nats-server: multi-value, case kept, order kept, with reply and with
// an empty payload.

import {
  type Client,
  ConnectOptions,
  connect,
  type Event,
  HeaderMap,
  type Message,
  type NatsError,
} from 'nats-offload';
import { describe, expect, it } from 'vitest';
import { thrown } from '../helpers/errors.js';
import { fileServer } from '../helpers/file-server.js';
import { freePort, startServer } from '../helpers/nats-server.js';

const file = fileServer();

function traceHeaders(): HeaderMap {
  const headers = new HeaderMap();
  headers.append('X-Trace', 'a');
  headers.append('X-Trace', 'b');
  headers.append('lower', 'c');
  headers.append('MiXeD', 'd');
  return headers;
}

const TRACE_PAIRS = [
  ['X-Trace', 'a'],
  ['X-Trace', 'b'],
  ['lower', 'c'],
  ['MiXeD', 'd'],
];

/** Subscribes, flushes, runs `send`, flushes again, and returns what arrived. */
async function exchange(c: Client, subject: string, send: () => void): Promise<Message[]> {
  const got: Message[] = [];
  c.subscribe(subject, { callback: (m) => got.push(m) });
  await c.flush();
  send();
  // Own messages come back before the PONG of a flush sent after them.
  await c.flush();
  return got;
}

describe('headers', () => {
  it('round-trips multi-valued headers with their case and order', async () => {
    const client = file.keep(await connect(file.server.url));
    const c = client;
    const got = await exchange(c, 'hdr.trace', () => {
      expect(c.publishWithHeaders('hdr.trace', traceHeaders(), 'body')).toBe(true);
    });

    expect(got).toHaveLength(1);
    const msg = got[0];
    expect(msg.subject).toBe('hdr.trace');
    expect(msg.string()).toBe('body');
    expect(msg.reply).toBeUndefined();
    const headers = msg.headers!;
    expect(headers).toBeInstanceOf(HeaderMap);
    expect([...headers]).toEqual(TRACE_PAIRS);
    expect(headers.getAll('X-Trace')).toEqual(['a', 'b']);
    expect(headers.get('X-Trace')).toBe('a');
    expect(headers.get('lower')).toBe('c');
    expect(headers.get('MiXeD')).toBe('d');
    // Case is kept as sent, not canonicalised.
    expect(headers.has('mixed')).toBe(false);
    expect(headers.has('Lower')).toBe(false);
    expect(msg.status).toBeUndefined();
  });

  it('keeps iteration order of names as first added, values grouped per name', async () => {
    const client = file.keep(await connect(file.server.url));
    const c = client;
    const headers = new HeaderMap();
    headers.append('Zeta', '1');
    headers.append('alpha', '2');
    headers.append('Zeta', '3');
    headers.insert('Mid', 'old');
    headers.insert('Mid', 'new');
    const got = await exchange(c, 'hdr.order', () => {
      c.publishWithHeaders('hdr.order', headers);
    });

    expect([...got[0].headers!]).toEqual([
      ['Zeta', '1'],
      ['Zeta', '3'],
      ['alpha', '2'],
      ['Mid', 'new'],
    ]);
  });

  it('publishWithReplyAndHeaders carries reply, headers and payload', async () => {
    const client = file.keep(await connect(file.server.url));
    const c = client;
    const got = await exchange(c, 'hdr.reply', () => {
      expect(c.publishWithReplyAndHeaders('hdr.reply', 'hdr.answer.7', traceHeaders(), 'q')).toBe(
        true,
      );
    });

    expect(got).toHaveLength(1);
    expect(got[0].subject).toBe('hdr.reply');
    expect(got[0].reply).toBe('hdr.answer.7');
    expect(got[0].string()).toBe('q');
    expect([...got[0].headers!]).toEqual(TRACE_PAIRS);
  });

  it('delivers headers with an empty payload', async () => {
    const client = file.keep(await connect(file.server.url));
    const c = client;
    const got = await exchange(c, 'hdr.empty', () => {
      c.publishWithHeaders('hdr.empty', traceHeaders());
      c.publishWithHeaders('hdr.empty', traceHeaders(), new Uint8Array(0));
      c.publishWithHeaders('hdr.empty', traceHeaders(), '');
    });

    expect(got).toHaveLength(3);
    for (const msg of got) {
      expect(msg.length).toBe(0);
      expect(msg.payload).toHaveLength(0);
      expect(msg.string()).toBe('');
      expect([...msg.headers!]).toEqual(TRACE_PAIRS);
    }
  });

  it('a message published without headers has none; binary payloads survive beside headers', async () => {
    const client = file.keep(await connect(file.server.url));
    const c = client;
    const binary = Uint8Array.from({ length: 300 }, (_, i) => (i * 31) & 0xff);
    const got = await exchange(c, 'hdr.mix', () => {
      c.publish('hdr.mix', 'plain');
      c.publishWithHeaders('hdr.mix', HeaderMap.from({ 'Content-Type': 'bytes' }), binary);
    });

    expect(got).toHaveLength(2);
    expect(got[0].headers).toBeUndefined();
    expect(got[0].string()).toBe('plain');
    expect(got[1].headers!.get('Content-Type')).toBe('bytes');
    expect(Array.from(got[1].payload)).toEqual(Array.from(binary));
  });
});

describe('a server without headers (no_header_support)', () => {
  it('connects, and a message with headers is refused on this thread, not sent', async () => {
    const server = await startServer({ config: 'no_header_support: true' });
    const client = await connect(server.url).catch(async (error: unknown) => {
      await server.stop();
      throw error;
    });
    try {
      expect(client.serverInfo().headers).toBe(false);
      const got = await exchange(client, 'plain', () => client.publish('plain', 'x'));
      expect(got.map((m) => m.string())).toEqual(['x']);
      expect(thrown(() => client.publishWithHeaders('plain', traceHeaders(), 'y')).kind).toBe(
        'invalidArgument',
      );
      const withHeaders = client.requestWithHeaders('svc', traceHeaders(), 'z');
      await expect(withHeaders).rejects.toMatchObject({ kind: 'invalidArgument' });
      // No no-responders replies without headers: a request nobody serves times out.
      const lonely = client.sendRequest('svc', { payload: 'q', timeout: 200 });
      await expect(lonely).rejects.toMatchObject({ kind: 'timedOut' });
      await client.flush();
      expect(client.statistics().connects).toBe(1);
    } finally {
      await client.close();
      await server.stop();
    }
  });

  it('leaves out, counts and reports a message with headers accepted before its INFO came', async () => {
    const port = await freePort();
    const events: Event[] = [];
    // connect() returns at once: what follows is accepted before any server is heard of.
    const client = await new ConnectOptions()
      .retryOnInitialConnect()
      .reconnectDelayCallback(() => 20)
      .eventCallback((event) => {
        events.push(event);
      })
      .connect(`nats://127.0.0.1:${port}`);
    const got: string[] = [];
    client.subscribe('mixed', { callback: (m) => got.push(m.string()) });
    client.publish('mixed', 'before');
    client.publishWithHeaders('mixed', traceHeaders(), 'with headers');
    client.publish('mixed', 'after');
    const server = await startServer({ port, config: 'no_header_support: true' });
    try {
      // A flush after a message left out cannot be proven; the next one can.
      await client.flush().catch(() => {});
      await client.flush();
      expect(got).toEqual(['before', 'after']);
      const refused = events.find(
        (e): e is Extract<Event, { type: 'clientError' }> =>
          e.type === 'clientError' && e.error.message.includes('takes no headers'),
      );
      expect(refused?.error.kind).toBe('invalidArgument');
      expect(refused?.error.message).toContain('1 accepted message with headers');
      // The connection stayed: nats-server would have ended it over the HPUB.
      expect(client.statistics().connects).toBe(1);
    } finally {
      await client.close();
      await server.stop();
    }
    const closed = (await client.closed()) as NatsError | undefined;
    expect([closed?.kind, closed?.count]).toEqual(['notSent', 1]);
  });
});
