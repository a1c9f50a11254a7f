import { NatsError } from '../shared/errors.js';
import type { HeaderMap } from '../shared/protocol/headers.js';
import type { Payload } from './outgoing.js';

const decoder = new TextDecoder();

/** Publishes a reply for {@link Message.respond}: the client's publish, bound once. */
export type Responder = (
  reply: string,
  headers: HeaderMap | undefined,
  payload: Payload | undefined,
) => boolean;

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
    /**
     * The payload: a copy out of the shared ring, in memory private to this thread (it may be
     * kept; it shares its buffer with the other messages copied in the same run).
     */
    readonly payload: Uint8Array,
    readonly headers: HeaderMap | undefined,
    /** Status code of the header line, e.g. 503 for "no responders". */
    readonly status: number | undefined,
    readonly description: string | undefined,
    private readonly responder?: Responder,
  ) {}

  /**
   * Publish a reply to this message's `reply` subject; `false` when it has none (or when the
   * client's publish says wait: see `Client.publish`). Throws as `Client.publish` does.
   *
   * @example
   * client.subscribe('time', { callback: (m) => m.respond(new Date().toISOString()) });
   */
  respond(payload?: Payload, headers?: HeaderMap): boolean {
    if (this.reply === undefined || this.responder === undefined) return false;
    return this.responder(this.reply, headers, payload);
  }

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
