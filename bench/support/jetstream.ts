// A nats-server with JetStream on (`-js` by config) and a temp store dir of its own, removed
// when the server is stopped.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type NatsServer, startServer } from './nats-server.js';

/** `config`: more server config text (TLS, a websocket listener). */
export async function startJetStreamServer(config = ''): Promise<NatsServer> {
  const store = await mkdtemp(path.join(os.tmpdir(), 'nats-offload-js-'));
  try {
    const server = await startServer({ config: `jetstream { store_dir: "${store}" }\n${config}` });
    const stop = server.stop.bind(server);
    server.stop = async () => {
      await stop();
      await rm(store, { recursive: true, force: true });
    };
    return server;
  } catch (error) {
    await rm(store, { recursive: true, force: true });
    throw error;
  }
}
