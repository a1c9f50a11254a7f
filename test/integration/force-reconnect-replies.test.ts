// forceReconnect() ends the old socket gracefully: the client half-closes it and reads on until
// the server closes its side. A reply the server routes to that socket meanwhile (the request
// went out on it just before) is delivered, as long as no later connection is open: until then
// the old socket alone holds the subscriptions, so nothing can arrive twice.
//
// The server is a fake that answers the request only once it has read the client's half-close,
// which a real server's timing makes a race.

import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { ConnectOptions } from 'nats-offload';
import { afterEach, describe, expect, it } from 'vitest';

const INFO = `INFO ${JSON.stringify({ server_id: 'FAKE', version: '2.9.10', proto: 1, headers: true, max_payload: 1048576 })}\r\n`;

/** Answers PINGs; on the first connection, replies to the first request after the client's FIN. */
function fakeServer() {
  const sockets: Socket[] = [];
  let connections = 0;
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    const first = connections++ === 0;
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
        if (op === 'PING') socket.write('PONG\r\n');
        else if (op === 'SUB') subs.set(args[0].replace(/\*$/, ''), args[args.length - 1]);
        else if (op === 'PUB' && args.length === 3 && request === undefined) {
          const size = Number(args[2]);
          const payload = text.slice(0, size);
          text = text.slice(size + 2);
          request = { reply: args[1], payload };
        }
      }
    });
    socket.on('end', () => {
      // The client half-closed: a server still delivers what it routed before it saw that.
      if (first && request) {
        const { reply, payload } = request;
        const sid = [...subs].find(([prefix]) => reply.startsWith(prefix))?.[1];
        socket.write(`MSG ${reply} ${sid} ${payload.length}\r\n${payload}\r\n`);
      }
      socket.end();
    });
  });
  return {
    listen: async () => {
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return (server.address() as { port: number }).port;
    },
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
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
});
