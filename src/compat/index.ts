/**
 * nats-offload/compat: a nats.js v3 connection over a nats-offload client, for the nats.js
 * add-ons (`@nats-io/jetstream`, `@nats-io/kv`, `@nats-io/obj`, `@nats-io/services`).
 * `@nats-io/nats-core` v3 is a peer dependency: errors and headers come from the copy the
 * add-ons load.
 *
 * @example
 * import { connect } from 'nats-offload';
 * import { asNatsConnection } from 'nats-offload/compat';
 * import { Kvm } from '@nats-io/kv';
 * const nc = asNatsConnection(await connect('nats://127.0.0.1:4222'));
 * const kv = await new Kvm(nc).create('config');
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { Client } from '../main/client.js';
import { NatsError } from '../shared/errors.js';
import { CompatConnection } from './connection.js';

export type { CloseListener, CompatConnection } from './connection.js';
export type { StatusIterator } from './status.js';

/** A nats.js `NatsConnection` whose traffic all goes through `client` (one per call). */
export function asNatsConnection(client: Client): NatsConnection & CompatConnection {
  if (!(client instanceof Client)) {
    throw new NatsError('invalidArgument', 'asNatsConnection expects a nats-offload Client');
  }
  return new CompatConnection(client);
}
