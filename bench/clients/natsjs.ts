/** nats.js v3 behind the bench adapter: status events that spoil a sample reject `failed`. */
import { connect } from '@nats-io/transport-node';
import { type BenchClient, DroppedMessagesError, failure, REQUEST_TIMEOUT_MS } from './types.js';

export async function connectNatsJs(url: string, ca?: string): Promise<BenchClient> {
  const failed = failure();
  // A `tls` object makes nats.js insist on TLS; `caFile` is the CA it verifies the server with.
  const tls = ca ? { tls: { caFile: ca } } : {};
  const nc = await connect({ servers: url, timeout: REQUEST_TIMEOUT_MS, ...tls });
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
    subscribe(subject, onMessage) {
      nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) failed.reject(new Error(`nats.js: subscription error: ${err.message}`));
          else onMessage(msg.data);
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
