/**
 * What a {@link Client} offers, documented once: the public methods of API.md with their
 * defaults and the error kinds they raise. client.ts holds the implementation, client-parts.ts
 * its wiring.
 */
import type { NatsError } from '../shared/errors.js';
import type { HeaderMap } from '../shared/protocol/headers.js';
import type { ServerInfo } from '../shared/server-info.js';
import type { Client } from './client.js';
import type { Event, State } from './events.js';
import type { Message } from './message.js';
import type { Payload } from './outgoing.js';
import type { RequestManyOptions } from './request-many.js';
import type { RequestOptions } from './request-options.js';
import type { Server } from './servers.js';
import type { Statistics } from './shared-state.js';
import type { SubscribeOptions, Subscriber } from './subscriber.js';

export interface ClientApi {
  /**
   * Publish `payload` (a string is sent as UTF-8; none: an empty message) to `subject`. Never
   * blocks: the message is copied into shared memory, or waits on this thread while that is full.
   *
   * @returns `true`, or `false` once `clientCapacity` (default 2048) messages wait on this
   * thread: then `await writable()` before publishing more. The message is accepted either way.
   * @throws NatsError `'badSubject'` for an empty subject or one with whitespace or control
   * characters (with `skipSubjectValidation`: space, tab, CR, LF), `'maxPayloadExceeded'` past the server's `max_payload`,
   * `'invalidArgument'` for a payload that is neither a string nor a Uint8Array, `'clientCapacity'`
   * past `maxPendingBytes` (nothing is sent), `'draining'` after `drain()`, `'closed'` after close.
   */
  publish(subject: string, payload?: Payload): boolean;

  /**
   * Publish with headers (an HPUB); otherwise as {@link publish}.
   *
   * @throws NatsError `'badSubject'` for an empty subject or one with whitespace or control
   * characters (with `skipSubjectValidation`: space, tab, CR, LF), `'maxPayloadExceeded'` past the server's `max_payload`,
   * `'invalidArgument'` for a payload that is neither a string nor a Uint8Array, `'clientCapacity'`
   * past `maxPendingBytes` (nothing is sent), `'draining'` after `drain()`, `'closed'` after close.
   * Also `'invalidArgument'` for `headers` that are not a {@link HeaderMap}.
   */
  publishWithHeaders(subject: string, headers: HeaderMap, payload?: Payload): boolean;

  /**
   * Publish with a reply subject, for the receiver to answer on; otherwise as {@link publish}.
   *
   * @throws NatsError `'badSubject'` for an empty subject or one with whitespace or control
   * characters (with `skipSubjectValidation`: space, tab, CR, LF), `'maxPayloadExceeded'` past the server's `max_payload`,
   * `'invalidArgument'` for a payload that is neither a string nor a Uint8Array, `'clientCapacity'`
   * past `maxPendingBytes` (nothing is sent), `'draining'` after `drain()`, `'closed'` after close.
   * `reply` follows the subject rules.
   */
  publishWithReply(subject: string, reply: string, payload?: Payload): boolean;

  /**
   * Publish with a reply subject and headers; otherwise as {@link publish}.
   *
   * @throws NatsError `'badSubject'` for an empty subject or one with whitespace or control
   * characters (with `skipSubjectValidation`: space, tab, CR, LF), `'maxPayloadExceeded'` past the server's `max_payload`,
   * `'invalidArgument'` for a payload that is neither a string nor a Uint8Array, `'clientCapacity'`
   * past `maxPendingBytes` (nothing is sent), `'draining'` after `drain()`, `'closed'` after close.
   */
  publishWithReplyAndHeaders(
    subject: string,
    reply: string,
    headers: HeaderMap,
    payload?: Payload,
  ): boolean;

  /**
   * Resolves when publishing may go on: no message waits on this thread any more (at once
   * when none does). The cooperative publisher's partner of {@link publish} returning `false`.
   *
   * @throws (rejects) NatsError `'closed'` or `'workerExited'` when the client ends first.
   */
  writable(): Promise<void>;

  /**
   * Send a request and resolve with the first reply. Replies come through one shared inbox
   * subscription (`<customInboxPrefix>.<unique>.*`); the timeout is `requestTimeout` (default
   * 10000 ms; `null`: none).
   *
   * @throws (rejects) NatsError `'noResponders'` when no one is subscribed (a 503 status),
   * `'timedOut'` past the timeout, `'permissionsViolation'` when the server denies the publish,
   * `'slowConsumer'` when its reply came while this thread was blocked and was dropped,
   * `'closed'` when the client closes first, `'draining'` after `drain()`, and the publish errors
   * of {@link publish} (`'badSubject'`, `'maxPayloadExceeded'`, ...); `'clientCapacity'` also
   * when as many calls wait for answers as {@link flush} says.
   */
  request(subject: string, payload?: Payload): Promise<Message>;

  /**
   * A {@link Client.request} with headers.
   *
   * @throws (rejects) NatsError `'noResponders'` when no one is subscribed (a 503 status),
   * `'timedOut'` past the timeout, `'permissionsViolation'` when the server denies the publish,
   * `'slowConsumer'` when its reply came while this thread was blocked and was dropped,
   * `'closed'` when the client closes first, `'draining'` after `drain()`, and the publish errors
   * of {@link publish} (`'badSubject'`, `'maxPayloadExceeded'`, ...); `'clientCapacity'` also
   * when as many calls wait for answers as {@link flush} says.
   */
  requestWithHeaders(subject: string, headers: HeaderMap, payload?: Payload): Promise<Message>;

  /**
   * Scatter-gather: one request, every reply until the first limit — `maxMessages` replies,
   * `maxWait` ms in all (default: the request timeout), or `stall` ms without one. Throws
   * 'noResponders' from the iterator when no one is subscribed, `'slowConsumer'` when replies
   * counted towards `maxMessages` came while this thread was blocked and were dropped; throws
   * `'clientCapacity'` at once when as many calls wait for answers as {@link flush} says.
   *
   * @example
   * for await (const reply of client.requestMany('svc.ping', '', { maxWait: 500 })) {
   *   console.log(reply.string());
   * }
   */
  requestMany(
    subject: string,
    payload?: Payload,
    opts?: RequestManyOptions,
  ): AsyncIterable<Message>;

  /**
   * A {@link Client.request} with every option: payload, headers, `timeout` in ms (overrides
   * `requestTimeout`; `null`: none) and `inbox` (a reply subject of your own, which bypasses the
   * shared inbox and subscribes for this request alone).
   *
   * @throws (rejects) NatsError `'noResponders'` when no one is subscribed (a 503 status),
   * `'timedOut'` past the timeout, `'permissionsViolation'` when the server denies the publish,
   * `'slowConsumer'` when its reply came while this thread was blocked and was dropped,
   * `'closed'` when the client closes first, `'draining'` after `drain()`, and the publish errors
   * of {@link publish} (`'badSubject'`, `'maxPayloadExceeded'`, ...).
   * Also `'invalidArgument'` for a timeout that is not an integer 0..2^31 − 1, and
   * `'clientCapacity'` when as many calls wait for answers as {@link flush} says.
   */
  sendRequest(subject: string, request: RequestOptions): Promise<Message>;

  /**
   * A new unique subject under the inbox prefix: `<customInboxPrefix>.<unique>` (default
   * prefix `_INBOX`).
   */
  newInbox(): string;

  /**
   * Subscribe to `subject` (wildcards `*` and `>` allowed). Messages go to `opts.callback`, or
   * else to the returned {@link Subscriber}'s async iterator; the SUB is ordered with publishes
   * made after this call. `opts.max` ends it after that many messages, `opts.timeout` with
   * `'timedOut'` when no message comes within that many ms.
   *
   * @throws NatsError `'badSubject'` for an empty subject, whitespace, a leading or trailing `.`
   * or `..`; `'invalidArgument'` for options of the wrong type or range; `'draining'` after
   * `drain()`; `'closed'` after close. Later problems end the subscription instead: see
   * {@link Subscriber.closed} (e.g. `'permissionsViolation'`).
   *
   * @example
   * const sub = client.subscribe('orders.>', { max: 10 });
   * for await (const msg of sub) console.log(msg.subject, msg.string());
   */
  subscribe(subject: string, opts?: SubscribeOptions): Subscriber;

  /**
   * Subscribe as a member of `queueGroup`: each message goes to one member of the group.
   * Otherwise as {@link subscribe}.
   *
   * @throws NatsError `'badSubject'` for an empty subject, whitespace, a leading or trailing `.`
   * or `..`; `'invalidArgument'` for options of the wrong type or range; `'draining'` after
   * `drain()`; `'closed'` after close. Later problems end the subscription instead: see
   * {@link Subscriber.closed} (e.g. `'permissionsViolation'`).
   * Also `'badSubject'` for an empty queue group or one with whitespace.
   */
  queueSubscribe(subject: string, queueGroup: string, opts?: SubscribeOptions): Subscriber;

  /**
   * Resolves when everything published before it has reached the server (a PING/PONG round
   * trip ordered with the publishes).
   *
   * @throws (rejects) NatsError `'closed'` on a closed client; `'timedOut'` past the request
   * timeout, or, also with `requestTimeout(null)`, when not answered within
   * 2 × `connectionTimeout` of a disconnection it saw while no connection answers a PING
   * (`connectionTimeout` more once if a connection is up then);
   * `'io'` when a connection failed while it waited and may have taken messages published
   * before it, or such messages were too large for the server (they are counted as not sent);
   * `'clientCapacity'` when even the control allowance past `maxPendingBytes` is used up, or
   * when 131,072 flushes, `rtt()` calls and requests wait for answers already (each counted as
   * 512 B; `maxPendingBytes` / 512 when that is more); `'workerExited'` if the worker dies.
   */
  flush(): Promise<void>;

  /**
   * Drain, then close: from now on new publishes, subscriptions and requests fail with
   * `'draining'`; every subscription stops (messages already on their way are still delivered),
   * requests already waiting get their replies (within their timeouts; one without a timeout
   * within max(requestTimeout, 2 × connectionTimeout)), what was published reaches the server,
   * then the client closes and {@link closed} settles (`'notSent'` with a count if some
   * publishes could not be sent).
   *
   * @throws (rejects) NatsError `'closed'` on a closed client; with `requestTimeout(null)`,
   * `'timedOut'` (and closes) when its flush does (see {@link flush}).
   */
  drain(): Promise<void>;

  /**
   * Close now: what is already published is sent (when connected), pending requests reject with
   * `'closed'`, subscriptions end, the worker ends and the process may exit. Never rejects; calling
   * it again is harmless. Resolves within about `connectionTimeout` even when the server does
   * not read; what could not be sent is reported by {@link closed} (`'notSent'`).
   */
  close(): Promise<void>;

  /**
   * A snapshot of the server pool: the explicit and discovered servers with their attempt
   * history. Never throws, also after close.
   */
  serverPool(): Server[];

  /**
   * Replace the server pool. Servers in both pools keep their state, the reconnect attempt
   * counter resets, and {@link serverPool} shows the new pool once this resolves.
   *
   * @throws (rejects) NatsError `'invalidOption'` for an empty list, an address that does not
   * parse, or one mixing WebSocket with other schemes; `'closed'` on a closed client.
   */
  setServerPool(urls: string[]): Promise<void>;

  /**
   * Drop the connection and reconnect, as after a network failure: the old socket ends
   * gracefully (nothing accepted is lost), the auth callback runs again, subscriptions are
   * replayed; `disconnected` and then `connected` events follow.
   *
   * @throws (rejects) NatsError `'closed'` on a closed client.
   */
  forceReconnect(): Promise<void>;

  /**
   * Settles when the client is closed: `undefined` after a clean `close()`/`drain()`, otherwise
   * the error that ended it: `'maxReconnects'`, `'notSent'` (with `count`), `'workerExited'`.
   * Never rejects.
   */
  closed(): Promise<NatsError | undefined>;

  /**
   * The state now: `'pending'` (before the first connection), `'connected'`,
   * `'disconnected'` (reconnecting) or `'closed'`. Read from shared memory, no round trip.
   */
  connectionState(): State;

  /** The last INFO the server sent; before the first, empty strings and maxPayload 1 MiB. */
  serverInfo(): ServerInfo;

  /**
   * Whether the connected server's version is at least `major.minor.patch` (false before the
   * first INFO).
   */
  isServerCompatible(major: number, minor: number, patch: number): boolean;

  /** The server's max_payload (1 MiB before the first INFO). */
  maxPayload(): number;

  /**
   * Counters read from shared memory, no round trip: bytes and messages in and out, connects
   * and dropped messages. See {@link Statistics}.
   */
  statistics(): Statistics;

  /** The default request timeout (ms), or null. */
  timeout(): number | null;

  /**
   * One PING/PONG round trip to the server, in ms (fractional).
   *
   * @throws (rejects) as {@link flush}.
   */
  rtt(): Promise<number>;

  /**
   * Every event from now on (what `eventCallback` receives), for any number of readers; each
   * holds at most 1,024 it has not taken (a reader that falls further behind loses the
   * oldest). Ends when the client closes. A reader started after `connect()` resolved does not
   * get the first connection's `'connected'`: `eventCallback` has had it by then.
   *
   * @example
   * for await (const event of client.status()) if (event.type === 'disconnected') alert();
   */
  status(): AsyncIterable<Event>;

  [Symbol.asyncDispose](): Promise<void>;
}
