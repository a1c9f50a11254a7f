/**
 * The connection worker's entry point: one worker per client. It exposes {@link WorkerApi}
 * on the dedicated control port from `workerData` (never on parentPort, so both ends can be
 * closed) and exits by itself once close() has run and its ports are closed.
 */
import { workerData } from 'node:worker_threads';
import * as Comlink from '../shared/comlink.js';
import type { HostCallbacks, WorkerApi, WorkerData } from '../shared/control.js';
import { Connection } from './connection.js';

const data = workerData as WorkerData;
const connection = new Connection(data);
let host: Comlink.Remote<HostCallbacks> | null = null;

const api: WorkerApi = {
  start(callbacks) {
    host = callbacks as unknown as Comlink.Remote<HostCallbacks>;
    return connection.start(host);
  },
  async forceReconnect() {
    connection.forceReconnect();
  },
  async setServerPool(servers) {
    return connection.setServerPool(servers);
  },
  async close(withinMs) {
    await connection.close(withinMs);
    const notSent = connection.notSent;
    // After comlink has posted this call's reply: release the callbacks' port and ours, so
    // nothing keeps this thread alive.
    setImmediate(() => {
      host?.[Comlink.releaseProxy]();
      host = null;
      data.control.close();
    });
    return notSent;
  },
};

Comlink.expose(api, data.control as unknown as Comlink.Endpoint);
