/**
 * nats-offload: a NATS client whose connection lives on a worker thread.
 *
 * @example
 * import { connect } from 'nats-offload';
 * const client = await connect('nats://127.0.0.1:4222');
 * client.publish('greet', 'hello');
 * await client.close();
 */
import type { Client } from './client.js';
import { ConnectOptions } from './options.js';

export { type ErrorKind, NatsError } from '../shared/errors.js';
export { HeaderMap } from '../shared/protocol/headers.js';
export type { ServerInfo } from '../shared/server-info.js';
export { Client, type Payload, type Statistics } from './client.js';
export type { Event, State } from './events.js';
export { Message } from './message.js';
export { ConnectOptions } from './options.js';
export type { RequestOptions } from './request-mux.js';
export { type SubscribeOptions, Subscriber } from './subscriber.js';

/** Connect to one server or a pool; `options` defaults to `new ConnectOptions()`. */
export function connect(
  servers: string | string[],
  options: ConnectOptions = new ConnectOptions(),
): Promise<Client> {
  return options.connect(servers);
}
