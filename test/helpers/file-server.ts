// The setup most integration files share: one nats-server for the file (started before its
// tests, stopped after them, stopAll() as the safety net) and the clients a test opens, closed
// after each test.

import type { Client } from 'nats-offload';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { type NatsServer, startServer, stopAll } from './nats-server.js';

export interface FileServer {
  /** The file's server (from beforeAll on). */
  readonly server: NatsServer;
  /** Closes `client` after the current test; returns it. */
  keep<C extends Client>(client: C): C;
}

/** Registers the hooks; call at a test file's top level. */
export function fileServer(start: () => Promise<NatsServer> = () => startServer()): FileServer {
  let server: NatsServer | undefined;
  const clients: Client[] = [];
  beforeAll(async () => {
    server = await start();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
  });
  afterAll(async () => {
    await server?.stop();
    await stopAll();
  });
  return {
    get server() {
      if (server === undefined) throw new Error('the file server starts in beforeAll');
      return server;
    },
    keep(client) {
      clients.push(client);
      return client;
    },
  };
}
