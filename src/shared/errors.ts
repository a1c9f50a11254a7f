/**
 * What went wrong, as a stable string to switch on: {@link NatsError.kind}. The kinds without a
 * comment are described in the README's "Errors" section: `'timedOut'` (a request, connect or
 * flush past its time), `'noResponders'` (a request nobody serves), `'authorizationViolation'`,
 * `'maxReconnects'`, `'tls'`, `'badSubject'`, `'maxPayloadExceeded'`, `'invalidOption'` (from a
 * setter or URL), `'invalidArgument'` (from a method), `'closed'` (a call on a closed client)
 * and `'clientCapacity'` (a publish past `maxPendingBytes`).
 */
// Errors cross the thread boundary as plain data (toWire/fromWire): a class instance sent
// through postMessage arrives as a plain `Error` and loses its `kind`.
export type ErrorKind =
  | 'timedOut'
  | 'noResponders'
  | 'authorizationViolation'
  | 'maxReconnects'
  | 'tls'
  | 'badSubject'
  | 'maxPayloadExceeded'
  | 'invalidOption'
  | 'invalidArgument'
  | 'closed'
  | 'clientCapacity'
  /** The server sent bytes that are not NATS protocol; the connection is dropped. */
  | 'protocol'
  /** A `-ERR` from the server that is not an authorization failure. */
  | 'server'
  /** Socket-level failure: refused, reset, unreachable. */
  | 'io'
  /** The connection worker died; every pending call fails with this. */
  | 'workerExited'
  /** A user callback (auth, signing, subscription callback) threw or returned nothing usable. */
  | 'callback'
  /** `closed()` value when `close()`/`drain()` could not send accepted publishes. */
  | 'notSent'
  /** publish/subscribe/request after `drain()` started. */
  | 'draining'
  /** The server denied this subscription or this request's publish. */
  | 'permissionsViolation'
  /**
   * A request whose reply came but was dropped: the caller's thread took no deliveries for
   * 500 ms and the worker's bytes for them were full (the `slowConsumer` event's bound).
   */
  | 'slowConsumer'
  /** reconnectToServerCallback chose an address that is not in the server pool. */
  | 'serverNotInPool'
  /**
   * This runtime cannot host the client: no SharedArrayBuffer, or worker threads refused (a
   * permission model without --allow-worker).
   */
  | 'unsupported';

/**
 * The one error type the library raises: synchronous methods throw it, Promise-returning ones
 * reject with it, and `clientError`/`serverError` events carry it. Switch on {@link kind}; the
 * message names the option, subject or server reply at fault, and never a secret.
 *
 * @example
 * try {
 *   await client.request('svc', 'ping');
 * } catch (error) {
 *   if (error instanceof NatsError && error.kind === 'noResponders') console.log('no service');
 * }
 */
export class NatsError extends Error {
  /** Always `'NatsError'`. */
  override readonly name = 'NatsError';
  /** What went wrong; see {@link ErrorKind}. */
  readonly kind: ErrorKind;
  /**
   * For `'notSent'`: how many accepted messages were not sent. On a `serverError` or
   * `clientError` event's error: how many occurrences the event stands for, when repeats were
   * coalesced (worker/host-updates.ts); absent for one.
   */
  readonly count?: number;

  /** An error of `kind`; `options.cause` is the underlying error, `options.count` see {@link count}. */
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown; count?: number }) {
    super(message, options);
    this.kind = kind;
    if (options?.count !== undefined) this.count = options.count;
  }
}

/** "1 accepted message", "2 accepted messages": the count of a 'notSent' kind of error. */
export const acceptedMessages = (count: number): string =>
  `${count} accepted message${count === 1 ? '' : 's'}`;

/** Plain-data form of a {@link NatsError}, safe for postMessage and comlink. */
export interface WireError {
  kind: ErrorKind;
  message: string;
  cause?: WireError;
  count?: number;
}

export function toWire(err: unknown): WireError {
  if (err instanceof NatsError) {
    const wire: WireError = { kind: err.kind, message: err.message };
    if (err.cause !== undefined) wire.cause = toWire(err.cause);
    if (err.count !== undefined) wire.count = err.count;
    return wire;
  }
  if (err instanceof Error) return { kind: 'io', message: err.message };
  return { kind: 'io', message: String(err) };
}

export function fromWire(wire: WireError): NatsError {
  // Only the options present: Error sets `cause` even to undefined when the key is there.
  const options: { cause?: NatsError; count?: number } = {};
  if (wire.cause) options.cause = fromWire(wire.cause);
  if (wire.count !== undefined) options.count = wire.count;
  return new NatsError(wire.kind, wire.message, options);
}
