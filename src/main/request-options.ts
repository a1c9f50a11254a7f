/**
 * The options of `Client.sendRequest`, read once from what the caller passed; the request
 * multiplexer checks their values.
 */
import { typeName } from '../shared/describe.js';
import { NatsError } from '../shared/errors.js';
import type { HeaderMap } from '../shared/protocol/headers.js';

/**
 * Options of `Client.sendRequest`; all optional. A value of the wrong type or range rejects
 * with `'invalidArgument'`.
 */
export interface RequestOptions {
  /** The request body; a string is sent as UTF-8. Default: empty. */
  payload?: Uint8Array | string;
  /** Headers sent with the request. Default: none. */
  headers?: HeaderMap;
  /** ms; `null` = no timeout; default: the client's `requestTimeout`. */
  timeout?: number | null;
  /** Reply on this inbox (its own one-message subscription) instead of the shared multiplexer. */
  inbox?: string;
}

/**
 * The fields of the caller's request options, read once (getters and Proxy traps run here
 * only); options that are not an object, or cannot be read, are 'invalidArgument'.
 */
export function readRequest(request: unknown): RequestOptions {
  if (request === null || typeof request !== 'object') {
    throw new NatsError(
      'invalidArgument',
      `request options must be an object ({ payload?, headers?, timeout?, inbox? }), got ${typeName(request)}`,
    );
  }
  try {
    const { payload, headers, timeout, inbox } = request as RequestOptions;
    return { payload, headers, timeout, inbox };
  } catch (cause) {
    throw new NatsError('invalidArgument', 'request options could not be read', { cause });
  }
}
