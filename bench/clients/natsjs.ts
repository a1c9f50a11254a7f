/** nats.js v3 behind the bench adapter: status events that spoil a sample reject `failed`. */
import type { ConnectionOptions, NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { type BenchClient, DroppedMessagesError, failure, REQUEST_TIMEOUT_MS } from './types.js';

export async function connectNatsJs(url: string, ca?: string): Promise<BenchClient> {
  const failed = failure();
  // A `tls` object makes nats.js insist on TLS; `caFile` is the CA it verifies the server with.
  const tls = ca ? { tls: { caFile: ca } } : {};
  const options = { servers: url, timeout: REQUEST_TIMEOUT_MS, ...tls };
  const nc = url.startsWith('ws') ? await wsConnect(options) : await connect(options);
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'slowConsumer') {
        failed.reject(new DroppedMessagesError('nats.js: slow consumer, messages dropped'));
      } else if (status.type === 'disconnect' || status.type === 'staleConnection') {
        failed.reject(new Error(`nats.js: ${status.type} during the measurement`));
      } else if (status.type === 'error') {
        failed.reject(new Error(`nats.js: ${status.error.message}`));
      }
    }
  })();
  return {
    name: 'nats.js',
    publish(subject, payload) {
      nc.publish(subject, payload);
      return true;
    },
    writable: () => Promise.resolve(),
    subscribe(subject, onMessage, json) {
      nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) {
            failed.reject(new Error(`nats.js: subscription error: ${err.message}`));
            return;
          }
          if (json) msg.json();
          onMessage(msg.data.length);
        },
      });
    },
    request: async (subject, payload) =>
      (await nc.request(subject, payload, { timeout: REQUEST_TIMEOUT_MS })).data,
    flush: () => nc.flush(),
    close: () => nc.close(),
    failed: failed.promise,
  };
}

/**
 * nats.js over WebSocket: `wsconnect` expects the browser's global WebSocket, which Node 20
 * lacks; `ws` (nats-offload's own WebSocket package) stands in for it.
 */
async function wsConnect(options: ConnectionOptions): Promise<NatsConnection> {
  const { WebSocket } = await import('ws');
  (globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;
  const { wsconnect } = await import('@nats-io/nats-core');
  return wsconnect(options);
}
