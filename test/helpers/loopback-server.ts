// A test's own net.Server (a fake NATS or WebSocket server) on a free loopback port: listen()
// gives the port; close() destroys every socket it accepted and stops listening.

import { once } from 'node:events';
import type { Server, Socket } from 'node:net';

export function onLoopback(server: Server): { listen(): Promise<number>; close(): void } {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {}); // a client that resets must not crash the test process
  });
  return {
    async listen() {
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return (server.address() as { port: number }).port;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
