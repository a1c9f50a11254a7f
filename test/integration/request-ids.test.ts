// Replies on the shared inbox are routed by the request id their subject ends with, read as a
// number (request-mux.ts): a token that only reads as the same number (leading zeros, a sign,
// upper case) reaches no request, and the request keeps waiting for the reply to its own
// subject.

import { type Client, ConnectOptions } from 'nats-offload';
import { describe, expect, it } from 'vitest';
import { fileServer } from '../helpers/file-server.js';

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
