/**
 * nats-offload's errors as the nats.js errors the add-ons test with `instanceof`: instances of
 * the `@nats-io/nats-core` copy they load (a peer dependency, never a bundled copy).
 */
import { errors, RequestError } from '@nats-io/nats-core';
import { ProtocolHandler } from '@nats-io/nats-core/internal';
import { NatsError } from '../shared/errors.js';

/**
 * A failure as nats.js would have raised it where the add-ons look at its class (a timeout, a
 * closed or draining connection, a permissions violation); bad input stays a NatsError with
 * its kind, as everywhere in nats-offload.
 */
export function toNatsJsError(error: unknown, subject = ''): unknown {
  if (!(error instanceof NatsError)) return error;
  switch (error.kind) {
    case 'timedOut':
      return new errors.TimeoutError({ cause: error });
    case 'closed':
      return withCause(new errors.ClosedConnectionError(), error);
    case 'draining':
      return withCause(new errors.DrainingConnectionError(), error);
    case 'permissionsViolation':
      return new errors.PermissionViolationError(
        error.message,
        'subscription',
        subject,
        undefined,
        {
          cause: error,
        },
      );
    default:
      return error;
  }
}

/**
 * A server's `-ERR` as nats.js's `error` status carries it: a `PermissionViolationError`
 * (operation and subject parsed from the text), an authorization error, else a
 * `ProtocolError` — nats.js's own mapping, with the NatsError kept as the cause.
 */
export function serverErrorAsNatsJs(error: NatsError): Error {
  return withCause(ProtocolHandler.toError(error.message), error);
}

/** nats-core's connection errors take no options: the NatsError is kept as their cause. */
function withCause<E extends Error>(natsJsError: E, cause: NatsError): E {
  Object.defineProperty(natsJsError, 'cause', { value: cause, configurable: true, writable: true });
  return natsJsError;
}

/**
 * A failed request as nats.js rejects it: a timeout as `TimeoutError`; no responders, a
 * permissions violation or a close as a `RequestError` whose `cause` says why
 * (`isNoResponders()` looks for `NoRespondersError`); the rest as {@link toNatsJsError} maps
 * them. The caller refuses a request on a closed connection first, so `'closed'` here is a
 * close (or drain) while it waited: nats.js's `RequestError("connection closed")`.
 */
export function toRequestError(error: unknown, subject: string): unknown {
  if (!(error instanceof NatsError)) return error;
  if (error.kind === 'timedOut') return new errors.TimeoutError({ cause: error });
  if (error.kind === 'noResponders') {
    const cause = new errors.NoRespondersError(subject, { cause: error });
    return new RequestError(cause.message, { cause });
  }
  if (error.kind === 'permissionsViolation') {
    const cause = new errors.PermissionViolationError(error.message, 'publish', subject);
    return new RequestError(error.message, { cause });
  }
  if (error.kind === 'closed') return new RequestError('connection closed', { cause: error });
  return toNatsJsError(error, subject);
}
