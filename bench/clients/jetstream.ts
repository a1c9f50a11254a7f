/**
 * A nats.js `NatsConnection` for the JetStream add-on: nats.js's own (transport-node), or
 * nats-offload's through `asNatsConnection`. Loaded on demand, like the other adapters.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { type ClientName, REQUEST_TIMEOUT_MS } from './types.js';

export async function connectNatsConnection(
  name: ClientName,
  url: string,
): Promise<NatsConnection> {
  if (name === 'nats.js') {
    const { connect } = await import('@nats-io/transport-node');
    return connect({ servers: url, timeout: REQUEST_TIMEOUT_MS });
  }
  const { connect } = await import('../../src/main/index.js');
  const { asNatsConnection } = await import('../../src/compat/index.js');
  return asNatsConnection(await connect(url, { requestTimeout: REQUEST_TIMEOUT_MS }));
}
