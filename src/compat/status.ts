/**
 * `status()` as nats.js has it: an async iterable (with `stop()`) of nats.js status events,
 * read from this client's events as they are taken. The add-ons act on `'disconnect'` and
 * `'reconnect'`. Nothing is queued here: a reader that falls behind holds what
 * `Client.status()` holds (its newest 1024 events; the oldest are dropped).
 */
import type { Status, Subscription } from '@nats-io/nats-core';
import type { Event } from '../main/events.js';
import type { ErrorKind } from '../shared/errors.js';
import { serverErrorAsNatsJs } from './errors.js';

export interface StatusHost {
  events(): AsyncIterable<Event>;
  /** Whether the client is without a connection now (a later 'connected' is a reconnect). */
  disconnected(): boolean;
  /** The server now connected to (or last connected to), `host:port`. */
  server(): string;
  subscription(sid: number): Subscription | undefined;
}

/** nats.js's `QueuedIterator<Status>` as the add-ons use it: iterated once, `stop()`ped. */
export interface StatusIterator extends AsyncIterableIterator<Status> {
  stop(): void;
}

export function natsJsStatus(host: StatusHost): StatusIterator {
  const events = host.events()[Symbol.asyncIterator]();
  // The first connect is no status in nats.js; the client's 'connected' event for it may come
  // after the connection was made (and this reader opened): only one after a disconnect counts.
  let reconnecting = host.disconnected();
  const next = async (): Promise<IteratorResult<Status>> => {
    for (let read = await events.next(); !read.done; read = await events.next()) {
      const event = read.value;
      if (event.type === 'connected' && !reconnecting) continue;
      reconnecting = event.type === 'disconnected' || (reconnecting && event.type !== 'connected');
      const status = toStatus(event, host, reconnecting);
      if (status) return { value: status, done: false };
    }
    return { value: undefined, done: true };
  };
  const stop = async (): Promise<IteratorResult<Status>> => {
    await events.return?.();
    return { value: undefined, done: true };
  };
  const iterator: StatusIterator = {
    next,
    return: stop,
    stop: () => void stop(),
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

/**
 * The client's own errors that are no failed connection attempt: what its callbacks threw, what
 * was not sent, events it had to drop, the end of the client.
 */
const NOT_ATTEMPTS = new Set<ErrorKind>([
  'callback',
  'clientCapacity',
  'notSent',
  'maxReconnects',
  'maxPayloadExceeded',
  'serverNotInPool',
  'workerExited',
]);

/**
 * One client event as nats.js's; `undefined` for those nats.js has no status for. While
 * `reconnecting`, a failed attempt is nats.js's `'reconnecting'` (its `'error'` is a server's).
 */
function toStatus(event: Event, host: StatusHost, reconnecting: boolean): Status | undefined {
  switch (event.type) {
    case 'connected': // after a disconnect: JetStream consumers re-check their state on it
      return { type: 'reconnect', server: host.server() };
    case 'disconnected':
      return { type: 'disconnect', server: host.server() };
    case 'lameDuckMode':
      return { type: 'ldm', server: host.server() };
    case 'serverError':
      return { type: 'error', error: serverErrorAsNatsJs(event.error) };
    case 'clientError':
      if (reconnecting && !NOT_ATTEMPTS.has(event.error.kind)) return { type: 'reconnecting' };
      // the client's own failures (a callback, what was not sent): no nats.js class
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
