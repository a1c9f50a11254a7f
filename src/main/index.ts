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
import { ConnectOptions, type ConnectOptionsInit } from './options.js';

export type { AuthFields } from '../shared/control.js';
export { type ErrorKind, NatsError } from '../shared/errors.js';
export { HeaderMap } from '../shared/protocol/headers.js';
export type { ServerInfo } from '../shared/server-info.js';
export { Auth } from './auth.js';
export { Client } from './client.js';
export type { Event, State } from './events.js';
export { Message } from './message.js';
export { ConnectOptions, type ConnectOptionsInit } from './options.js';
export type { Payload } from './outgoing.js';
export type { RequestManyOptions } from './request-many.js';
export type { RequestOptions } from './request-options.js';
export type {
  AuthCallback,
  ReconnectToServerCallback,
  SignCallback,
} from './resolved-options.js';
export type { ReconnectToServer, Server } from './servers.js';
export type { Statistics } from './shared-state.js';
export { type SubscribeOptions, Subscriber } from './subscriber.js';
export type { TlsClientConfig } from './tls-options.js';

/**
 * Connect to one server or a pool. `options`: a {@link ConnectOptions} builder or a plain
 * object with the same names ({@link ConnectOptionsInit}); defaults when omitted.
 */
export async function connect(
  servers: string | string[],
  options: ConnectOptions | ConnectOptionsInit = new ConnectOptions(),
): Promise<Client> {
  return (await ConnectOptions.from(options)).connect(servers);
}
