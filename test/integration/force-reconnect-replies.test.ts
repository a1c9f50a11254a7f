// forceReconnect() ends the old socket gracefully: the client half-closes it and reads on until
// the server closes its side. A reply the server routes to that socket meanwhile (the request
// went out on it just before) is delivered, as long as no later connection is open: until then
// the old socket alone holds the subscriptions, so nothing can arrive twice.
//
// The server is a fake that answers the request only once it has read the client's half-close,
// which a real server's timing makes a race.

import { createServer } from 'node:net';
import { ConnectOptions } from 'nats-offload';
import { afterEach, describe, expect, it } from 'vitest';
import { onLoopback } from '../helpers/loopback-server.js';
import { settledYet, waitFor } from '../helpers/wait.js';

const INFO = `INFO ${JSON.stringify({ server_id: 'FAKE', version: '2.9.10', proto: 1, headers: true, max_payload: 1048576 })}\r\n`;

/**
 * Answers PINGs. On the first connection it keeps the first request; once the client has
 * half-closed, it replies at once (`replyAtEnd`) or when told ({@link reply}). With
 * `dropSecond`, it drops the second connection as soon as that one is open.
 */
function fakeServer({ replyAtEnd = true, dropSecond = false } = {}) {
  let connections = 0;
  /** Sends the kept request's reply on the first connection (if it is still open). */
  let reply = (): void => {};
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    const index = connections++;
    socket.write(INFO);
    const subs = new Map<string, string>(); // subject pattern prefix → sid
    let request: { reply: string; payload: string } | undefined;
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      for (let end = text.indexOf('\r\n'); end >= 0; end = text.indexOf('\r\n')) {
        const line = text.slice(0, end);
        text = text.slice(end + 2);
        const [op, ...args] = line.split(' ');
        if (op === 'PING') {
          socket.write('PONG\r\n');
          if (index === 1 && dropSecond) socket.destroy();
        } else if (op === 'SUB') subs.set(args[0].replace(/\*$/, ''), args[args.length - 1]);
        else if (op === 'PUB' && args.length === 3 && request === undefined) {
          const size = Number(args[2]);
          const payload = text.slice(0, size);
          text = text.slice(size + 2);
          request = { reply: args[1], payload };
        }
      }
    });
    if (index === 0) {
      reply = () => {
        if (!request) return;
        const sid = [...subs].find(([prefix]) => request?.reply.startsWith(prefix))?.[1];
        socket.write(
          `MSG ${request.reply} ${sid} ${request.payload.length}\r\n${request.payload}\r\n`,
        );
      };
    }
    socket.on('end', () => {
      if (index === 0 && !replyAtEnd) return; // kept open: fake.reply() answers later
      // The client half-closed: a server still delivers what it routed before it saw that.
      if (index === 0) reply();
      socket.end();
    });
  });
  return { reply: () => reply(), ...onLoopback(server) };
}

let stop: (() => void) | undefined;
afterEach(() => stop?.());

describe('forceReconnect() and a request just before it', () => {
  it('gets the reply the old socket reads while it closes', async () => {
    const fake = fakeServer();
    stop = fake.close;
    const port = await fake.listen();
    const client = await new ConnectOptions()
      .requestTimeout(3_000)
      .reconnectDelayCallback(() => 500) // the next connection opens well after the reply
      .connect(`nats://127.0.0.1:${port}`);
    try {
      const reply = client.request('svc', 'ping-1');
      await client.flush(); // the request (and the inbox subscription before it) went out
      await client.forceReconnect();
      expect((await reply).string()).toBe('ping-1');
    } finally {
      await client.close();
    }
  });

  it('delivers nothing more once a later connection has opened, even after that one is lost', async () => {
    const fake = fakeServer({ replyAtEnd: false, dropSecond: true });
    stop = fake.close;
    const port = await fake.listen();
    const client = await new ConnectOptions()
      .requestTimeout(3_000)
      .reconnectDelayCallback(() => 300)
      .connect(`nats://127.0.0.1:${port}`);
    try {
      const reply = client.request('svc', 'ping-2');
      await client.flush();
      await client.forceReconnect();
      // The second connection opens (its subscriptions would get this reply too), then drops.
      await waitFor(() => client.statistics().connects === 2, 5_000, 'the second connection');
      await waitFor(() => client.connectionState() !== 'connected', 5_000, 'it dropped');
      fake.reply(); // the first socket, still closing, reads it now
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await settledYet(reply)).toBe(false);
      void reply.catch(() => {});
    } finally {
      await client.close();
    }
  });
});
