import { type Client, ConnectOptions, connect, HeaderMap } from 'nats-offload';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { kindOf } from '../helpers/errors.js';
import { freePort, type NatsServer, startServer } from '../helpers/nats-server.js';
import { waitForAsync } from '../helpers/wait.js';

let server: NatsServer;
const clients: Client[] = [];

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function client(options = new ConnectOptions()): Promise<Client> {
  const c = await options.connect(server.url);
  clients.push(c);
  return c;
}

describe('request/reply', () => {
  it('gets the reply of a responder on another connection, through the shared inbox', async () => {
    const responder = await client();
    responder.subscribe('svc.echo', {
      callback: (m) => m.reply && responder.publish(m.reply, `re:${m.string()}`),
    });
    await responder.flush();
    const requester = await client();
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) => requester.request('svc.echo', String(i))),
    );
    expect(replies.map((m) => m.string())).toEqual(
      Array.from({ length: 200 }, (_, i) => `re:${i}`),
    );
    // every reply came through one multiplexer subscription, not one per request
    expect(new Set(replies.map((m) => m.subject.split('.').slice(0, 2).join('.'))).size).toBe(1);
  });

  it('carries request headers and reply headers', async () => {
    const c = await client();
    c.subscribe('svc.hdr', {
      callback: (m) => {
        const h = new HeaderMap();
        h.insert('Seen', m.headers?.get('Ask') ?? 'none');
        if (m.reply) c.publishWithHeaders(m.reply, h, 'ok');
      },
    });
    const ask = new HeaderMap();
    ask.insert('Ask', 'yes');
    const reply = await c.requestWithHeaders('svc.hdr', ask, 'q');
    expect(reply.headers?.get('Seen')).toBe('yes');
  });

  it('rejects with noResponders when no one subscribes', async () => {
    const c = await client();
    expect(await kindOf(c.request('svc.nobody', 'x'))).toBe('noResponders');
    expect(await kindOf(c.sendRequest('svc.nobody', { inbox: c.newInbox() }))).toBe('noResponders');
  });

  it('rejects with timedOut past the request timeout', async () => {
    const c = await client(new ConnectOptions().requestTimeout(200));
    c.subscribe('svc.silent', { callback: () => {} });
    await c.flush();
    expect(c.timeout()).toBe(200);
    expect(await kindOf(c.request('svc.silent'))).toBe('timedOut');
    expect(await kindOf(c.sendRequest('svc.silent', { timeout: 50 }))).toBe('timedOut');
    expect(await kindOf(c.sendRequest('svc.silent', { timeout: 50, inbox: c.newInbox() }))).toBe(
      'timedOut',
    );
  });

  it('uses a custom inbox when given one', async () => {
    const c = await client();
    let replyTo: string | undefined;
    c.subscribe('svc.inbox', {
      callback: (m) => {
        replyTo = m.reply;
        if (m.reply) c.publish(m.reply, 'x');
      },
    });
    const inbox = c.newInbox();
    expect(inbox).toMatch(/^_INBOX\.[A-Za-z0-9_-]+$/);
    await c.sendRequest('svc.inbox', { inbox });
    expect(replyTo).toBe(inbox);
  });

  it('honours customInboxPrefix', async () => {
    const c = await client(new ConnectOptions().customInboxPrefix('my.replies'));
    let replyTo = '';
    c.subscribe('svc.prefix', {
      callback: (m) => {
        replyTo = m.reply ?? '';
        if (m.reply) c.publish(m.reply, 'x');
      },
    });
    await c.request('svc.prefix');
    expect(replyTo.startsWith('my.replies.')).toBe(true);
    expect(c.newInbox().startsWith('my.replies.')).toBe(true);
  });

  it('refuses an inbox prefix with a control character at the setter, where every request would fail', () => {
    expect(() => new ConnectOptions().customInboxPrefix('a\u0001b')).toThrow(
      expect.objectContaining({ kind: 'invalidOption' }),
    );
  });

  it('rejects bad arguments instead of throwing', async () => {
    const c = await client();
    const p = c.sendRequest('svc.x', { timeout: -1 });
    expect(p).toBeInstanceOf(Promise);
    expect(await kindOf(p)).toBe('invalidArgument');
    expect(await kindOf(c.request('bad subject'))).toBe('badSubject');
  });

  it('rejects a request pending at close() with closed', async () => {
    const c = await connect(server.url);
    c.subscribe('svc.never', { callback: () => {} });
    const pending = kindOf(c.request('svc.never'));
    const pendingInbox = kindOf(c.sendRequest('svc.never', { inbox: c.newInbox() }));
    await c.flush();
    await c.close();
    expect(await pending).toBe('closed');
    expect(await pendingInbox).toBe('closed');
    expect(await kindOf(c.request('svc.never'))).toBe('closed');
  });
});

describe('a request on its own inbox that nobody serves', () => {
  it('rejects noResponders and leaves no subscription at the server', async () => {
    const httpPort = await freePort();
    const monitored = await startServer({ config: `http: 127.0.0.1:${httpPort}` });
    try {
      const c = await new ConnectOptions().name('own-inbox').connect(monitored.url);
      clients.push(c);
      const subscriptions = async (): Promise<number> => {
        const response = await fetch(`http://127.0.0.1:${httpPort}/connz?subs=1`);
        const connz = (await response.json()) as {
          connections: { name?: string; subscriptions: number }[];
        };
        return connz.connections.find((x) => x.name === 'own-inbox')?.subscriptions ?? -1;
      };
      const kinds = await Promise.all(
        Array.from({ length: 20 }, () => kindOf(c.sendRequest('nobody', { inbox: c.newInbox() }))),
      );
      expect(kinds).toEqual(Array(20).fill('noResponders'));
      await c.flush();
      await waitForAsync(async () => (await subscriptions()) === 0, 5_000, 'the UNSUBs');
    } finally {
      await monitored.stop();
    }
  });
});
