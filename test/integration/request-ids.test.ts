// Replies on the shared inbox are routed by the request id their subject ends with, read as a
// number (request-mux.ts): a token that only reads as the same number (leading zeros, a sign,
// upper case) reaches no request, and the request keeps waiting for the reply to its own
// subject. A reply's subject is the very reply subject its request was sent with (the
// multiplexer hands it over instead of decoding the reply's bytes).

import { type Client, ConnectOptions, type Message } from 'nats-offload';
import { describe, expect, it } from 'vitest';
import { kindOf } from '../helpers/errors.js';
import { fileServer } from '../helpers/file-server.js';
import { waitFor } from '../helpers/wait.js';

const file = fileServer();

async function connected(): Promise<Client> {
  return file.keep(await new ConnectOptions().connect(file.server.url));
}

describe('request ids on the shared inbox', () => {
  it('routes only the reply to the exact subject of a request', async () => {
    const responder = await connected();
    responder.subscribe('ids.svc', {
      callback: (m) => {
        if (!m.reply) return;
        const at = m.reply.lastIndexOf('.') + 1;
        const [prefix, id] = [m.reply.slice(0, at), m.reply.slice(at)];
        // Not ids of other requests (those are waiting too): forms that read as this id.
        const upper = id.toUpperCase(); // ids past 9 have letters
        for (const forged of [
          `0${id}`,
          `00${id}`,
          `+${id}`,
          `-${id}`,
          ...(upper === id ? [] : [upper]),
        ]) {
          responder.publish(prefix + forged, `forged ${forged}`);
        }
        responder.publish(m.reply, `answer ${id}`);
      },
    });
    await responder.flush();
    const requester = await connected();
    const replies = await Promise.all(
      Array.from({ length: 20 }, () => requester.request('ids.svc', 'q')),
    );
    expect(replies.map((m) => m.string())).toEqual(
      replies.map((m) => `answer ${m.subject.slice(m.subject.lastIndexOf('.') + 1)}`),
    );
  });
});

describe('reply subjects on the shared inbox', () => {
  it('each reply carries the subject its request was sent with, ids crossing base-36 digits', async () => {
    // Ids 1..1400 pass 'z' -> '10' (36) and 'zz' -> '100' (1296). The responder answers with
    // the reply subject it saw and the request's payload.
    const responder = await connected();
    responder.subscribe('ids.echo', {
      callback: (m) => void m.respond(`${m.reply} ${m.string()}`),
    });
    await responder.flush();
    const requester = await connected();
    const replies: Message[] = [];
    for (let wave = 0; wave < 14; wave++) {
      const sent = Array.from({ length: 100 }, (_, i) =>
        requester.request('ids.echo', String(wave * 100 + i)),
      );
      replies.push(...(await Promise.all(sent)));
    }
    // Read after all of them arrived: each subject is the one the responder saw for it.
    for (const [i, reply] of replies.entries())
      expect(reply.string()).toBe(`${reply.subject} ${i}`);
    const ids = replies.map((m) => m.subject.slice(m.subject.lastIndexOf('.') + 1));
    expect(ids).toContain('z');
    expect(ids).toContain('10');
    expect(ids).toContain('zz');
    expect(ids).toContain('100');
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('drops a reply that comes after its request timed out; the next request gets its own', async () => {
    const responder = await connected();
    const held: Message[] = [];
    responder.subscribe('ids.late', { callback: (m) => void held.push(m) });
    await responder.flush();
    const requester = await connected();
    const late = requester.sendRequest('ids.late', { payload: 'first', timeout: 100 });
    expect(await kindOf(late)).toBe('timedOut');
    await waitFor(() => held.length === 1, 5_000, 'the first request at the responder');
    held[0].respond('late answer');
    await responder.flush();
    const next = requester.request('ids.late', 'second');
    await waitFor(() => held.length === 2, 5_000, 'the second request at the responder');
    held[1].respond('own answer');
    const reply = await next;
    expect(reply.string()).toBe('own answer');
    expect(reply.subject).toBe(held[1].reply);
  });
});

describe('an inbox prefix beyond ASCII', () => {
  it('sends and routes requests whose reply subjects are longer in bytes than in characters', async () => {
    // The multiplexer counts its reply subjects' bytes from the prefix's, and reads ids at the
    // prefix's byte length: 'é' and '✓' are 2 and 3 bytes.
    const responder = await connected();
    responder.subscribe('ids.utf8', { callback: (m) => void m.respond(`${m.reply}`) });
    await responder.flush();
    const requester = file.keep(
      await new ConnectOptions().customInboxPrefix('_INBOX.é✓').connect(file.server.url),
    );
    const replies = await Promise.all(
      Array.from({ length: 40 }, () => requester.request('ids.utf8', 'q')),
    );
    for (const reply of replies) {
      expect(reply.subject.startsWith('_INBOX.é✓.')).toBe(true);
      expect(reply.string()).toBe(reply.subject);
    }
  });
});
