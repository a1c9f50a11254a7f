// A TLS listener that handshakes first and then relays the plaintext to a plain nats-server:
// what a client sees from a server with `handshake_first` (nats-server 2.10+), which the
// nats-server 2.9 here lacks. Each accepted TLS connection gets its own TCP connection to the
// target; either side closing closes the other. close() ends the listener and every pair.

import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import type { CertPair } from './certs.js';

const HOST = '127.0.0.1';

export interface TlsRelay {
  url: string;
  port: number;
  /** TLS handshakes completed so far (proof the client spoke TLS before any server byte). */
  readonly handshakes: number;
  close(): Promise<void>;
}

export async function startTlsRelay(
  target: { host: string; port: number },
  pair: CertPair,
): Promise<TlsRelay> {
  const [cert, key] = await Promise.all([readFile(pair.cert), readFile(pair.key)]);
  const sockets = new Set<net.Socket>();
  let handshakes = 0;
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // A reset on one side is reported by closing the other, not by an unhandled 'error'.
    socket.on('error', () => socket.destroy());
  };

  const server = tls.createServer({ cert, key }, (secure) => {
    handshakes++;
    track(secure);
    const plain = net.connect({ host: target.host, port: target.port });
    track(plain);
    secure.pipe(plain);
    plain.pipe(secure);
    secure.once('close', () => plain.destroy());
    plain.once('close', () => secure.destroy());
  });
  // A client that gives up mid-handshake is not the relay's problem.
  server.on('tlsClientError', () => {});
  server.on('connection', track);
  server.listen(0, HOST);
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    url: `tls://${HOST}:${port}`,
    port,
    get handshakes() {
      return handshakes;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
