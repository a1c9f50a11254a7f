/** nats-offload behind the bench adapter: events that spoil a sample reject `failed`. */
import { ConnectOptions, type Message } from '../../src/main/index.js';
import { type BenchClient, DroppedMessagesError, failure, REQUEST_TIMEOUT_MS } from './types.js';

export async function connectOffload(url: string, ca?: string): Promise<BenchClient> {
  const failed = failure();
  let connected = false;
  const options = new ConnectOptions();
  // requireTls: a TLS sample is over TLS or it fails, never quietly plain.
  if (ca) options.addRootCertificates(ca).requireTls(true);
  const client = await options
    .requestTimeout(REQUEST_TIMEOUT_MS)
    .eventCallback((event) => {
      if (event.type === 'slowConsumer') {
        failed.reject(
          new DroppedMessagesError(
            `nats-offload: slow consumer on sid ${event.sid}, messages dropped`,
          ),
        );
      } else if (event.type === 'disconnected' && connected) {
        failed.reject(new Error('nats-offload: connection lost during the measurement'));
      } else if (event.type === 'serverError' || event.type === 'clientError') {
        failed.reject(new Error(`nats-offload: ${event.type}: ${event.error.message}`));
      }
    })
    .connect(url);
  connected = true;
  return {
    name: 'nats-offload',
    publish: (subject, payload) => client.publish(subject, payload),
    writable: () => client.writable(),
    subscribe(subject, onMessage, json) {
      const callback = json
        ? (msg: Message) => {
            msg.json();
            onMessage(msg.length);
          }
        : (msg: Message) => onMessage(msg.length);
      client.subscribe(subject, { callback });
    },
    request: async (subject, payload) => (await client.request(subject, payload)).payload,
    flush: () => client.flush(),
    close: () => client.close(),
    failed: failed.promise,
  };
}
