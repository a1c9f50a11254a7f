/**
 * `status()` as nats.js has it: a `QueuedIterator` (with `stop()`) of nats.js status events,
 * read from this client's events. The add-ons act on `'disconnect'` and `'reconnect'`.
 */
import type { Status, Subscription } from '@nats-io/nats-core';
import { QueuedIteratorImpl } from '@nats-io/nats-core/internal';
import type { Event } from '../main/events.js';

export interface StatusHost {
  events(): AsyncIterable<Event>;
  /** Whether the client is without a connection now (a later 'connected' is a reconnect). */
  disconnected(): boolean;
  /** The server now connected to (or last connected to), `host:port`. */
  server(): string;
  subscription(sid: number): Subscription | undefined;
}

export function natsJsStatus(host: StatusHost): QueuedIteratorImpl<Status> {
  const statuses = new QueuedIteratorImpl<Status>();
  const events = host.events()[Symbol.asyncIterator]();
  void statuses.iterClosed.then(() => events.return?.());
  // The first connect is no status in nats.js; the client's 'connected' event for it may come
  // after the connection was made (and this reader opened): only one after a disconnect counts.
  let reconnecting = host.disconnected();
  void (async () => {
    for (let next = await events.next(); !next.done; next = await events.next()) {
      const event = next.value;
      if (event.type === 'connected' && !reconnecting) continue;
      reconnecting = event.type === 'disconnected' || (reconnecting && event.type !== 'connected');
      const status = toStatus(event, host);
      if (status) statuses.push(status);
    }
    statuses.stop();
  })();
  return statuses;
}

/** One client event as nats.js's; `undefined` for those nats.js has no status for. */
function toStatus(event: Event, host: StatusHost): Status | undefined {
  switch (event.type) {
    case 'connected': // after a disconnect: JetStream consumers re-check their state on it
      return { type: 'reconnect', server: host.server() };
    case 'disconnected':
      return { type: 'disconnect', server: host.server() };
    case 'lameDuckMode':
      return { type: 'ldm', server: host.server() };
    case 'serverError':
    case 'clientError':
      return { type: 'error', error: event.error };
    case 'slowConsumer': {
      const sub = host.subscription(event.sid);
      return sub ? { type: 'slowConsumer', sub, pending: sub.getPending() } : undefined;
    }
    case 'closed':
      return { type: 'close' };
    default:
      return undefined;
  }
}
