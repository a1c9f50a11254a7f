import { NatsError } from '../shared/errors.js';
import type { HeaderMap } from '../shared/protocol/headers.js';

const decoder = new TextDecoder();

/**
 * A message received on a subscription (or as a request's reply).
 *
 * @example
 * for await (const msg of client.subscribe('orders.>')) {
 *   console.log(msg.subject, msg.string(), msg.headers?.get('Trace'));
 * }
 */
export class Message {
  constructor(
    readonly subject: string,
    readonly reply: string | undefined,
    /** The payload; owned by this message (a copy out of the shared ring). */
    readonly payload: Uint8Array,
    readonly headers: HeaderMap | undefined,
    /** Status code of the header line, e.g. 503 for "no responders". */
    readonly status: number | undefined,
    readonly description: string | undefined,
  ) {}

  /** Payload length in bytes. */
  get length(): number {
    return this.payload.length;
  }

  /** The payload decoded as UTF-8. */
  string(): string {
    return decoder.decode(this.payload);
  }

  /** The payload parsed as JSON; a payload that is not JSON throws `'invalidArgument'`. */
  json<T = unknown>(): T {
    try {
      return JSON.parse(this.string()) as T;
    } catch (cause) {
      throw new NatsError(
        'invalidArgument',
        `payload of a message on ${this.subject} is not JSON`,
        {
          cause,
        },
      );
    }
  }
}
