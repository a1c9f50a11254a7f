import { NatsError } from '../shared/errors.js';
import type { HeaderMap } from '../shared/protocol/headers.js';
import type { Payload } from './outgoing.js';

/** Publishes a reply for {@link Message.respond}: the client's publish, bound once. */
export type Responder = (
  reply: string,
  headers: HeaderMap | undefined,
  payload: Payload | undefined,
) => boolean;

/** A message's source once its payload has a copy of its own: nothing. */
const NO_SOURCE = Buffer.alloc(0);

/**
 * A message received on a subscription (or as a request's reply).
 *
 * @example
 * for await (const msg of client.subscribe('orders.>')) {
 *   console.log(msg.subject, msg.string(), msg.headers?.get('Trace'));
 * }
 */
export class Message {
  /** The subject the message was published to (not the subscription's wildcard). */
  readonly subject: string;
  /** The subject to answer on (see {@link respond}); absent when the publisher expects no reply. */
  readonly reply?: string;
  /** The message's headers; absent when it came without any. */
  readonly headers?: HeaderMap;
  /** Status code of the header line, e.g. 503 for "no responders". */
  readonly status?: number;
  /** Description of the header status line, e.g. "No Responders". */
  readonly description?: string;
  /**
   * What {@link respond} publishes with. Private by `#`, as the payload's memory: a function
   * property would make `structuredClone(msg)` and `postMessage(msg)` throw.
   */
  readonly #responder: Responder | undefined;
  /**
   * The memory the payload arrived in: the dispatcher's private slab, shared with other
   * messages and never reused while a message lives, or the message's own array. No view of
   * the payload is made until one is asked for ({@link payload}): most messages are read only
   * through {@link string}, {@link json} or {@link length}, and a view per message was half
   * of what a delivery left to the collector.
   */
  #source: Buffer<ArrayBuffer>;
  readonly #start: number;
  readonly #length: number;
  /**
   * The payload handed out: the message's own copy, made on first access. From then on it is
   * what {@link string} and {@link json} read, and the slab is no longer held by this message.
   */
  #payload: Uint8Array<ArrayBuffer> | undefined;

  /**
   * Made by the client for each delivery; not for user code.
   *
   * @hidden
   */
  constructor(
    subject: string,
    reply: string | undefined,
    /** The payload is `source[start, start + length)`. */
    source: Buffer<ArrayBuffer>,
    start: number,
    length: number,
    /** The payload's own array, when it has one (its buffer holds nothing else): no copy needed. */
    owned: Uint8Array<ArrayBuffer> | undefined,
    headers: HeaderMap | undefined,
    status: number | undefined,
    description: string | undefined,
    responder?: Responder,
  ) {
    // Assigned in the order the fields are declared (the order V8's shape for it follows).
    this.subject = subject;
    this.reply = reply;
    this.headers = headers;
    this.status = status;
    this.description = description;
    this.#responder = responder;
    this.#source = source;
    this.#start = start;
    this.#length = length;
    this.#payload = owned;
  }

  /**
   * The payload. It belongs to this message: it may be kept, and its buffer holds these bytes
   * alone, so transferring it to another thread affects no other message. Copied out of the
   * memory it arrived in on first access (~0.5–1 µs), so a message whose payload is only read
   * through {@link string}, {@link json} or {@link length} costs no copy. It is an accessor, so
   * `{ ...msg }` and `structuredClone(msg)` leave it out: pass `msg.payload` itself.
   */
  get payload(): Uint8Array<ArrayBuffer> {
    if (this.#payload === undefined) {
      // A new array filled by set(), not ArrayBuffer.slice() (a C++ builtin): 0.08 against
      // 0.5 µs at 16 B (V8 keeps arrays of up to 64 B on its heap), 0.56 against 0.72 µs at
      // 128 B. Its buffer holds these bytes alone either way.
      const copy = new Uint8Array(this.#length);
      const start = this.#source.byteOffset + this.#start;
      copy.set(new Uint8Array(this.#source.buffer, start, this.#length));
      this.#payload = copy;
      this.#source = NO_SOURCE; // a kept message keeps its bytes, not a 256 KiB slab
    }
    return this.#payload;
  }

  /**
   * The memory other messages share that this one keeps alive for its payload (the
   * dispatcher's slab, a buffer of its own), or undefined once it has a copy of its own
   * ({@link payload}).
   *
   * @internal
   */
  sharedMemory(): Buffer | undefined {
    return this.#payload === undefined ? this.#source : undefined;
  }

  /**
   * Publish a reply to this message's `reply` subject; `false` when it has none (or when the
   * client's publish says wait: see `Client.publish`). Throws as `Client.publish` does.
   *
   * @example
   * client.subscribe('time', { callback: (m) => m.respond(new Date().toISOString()) });
   */
  respond(payload?: Payload, headers?: HeaderMap): boolean {
    if (this.reply === undefined || this.#responder === undefined) return false;
    return this.#responder(this.reply, headers, payload);
  }

  /**
   * Payload length in bytes (as `payload.length`, without the copy). async-nats's `length`
   * counts the subject, reply and headers too.
   */
  get length(): number {
    return this.#length;
  }

  /**
   * The payload decoded as UTF-8 (as TextDecoder does: a leading byte order mark is dropped):
   * {@link payload} as it is now, once it was handed out (changed, or transferred: empty).
   */
  string(): string {
    const payload = this.#payload;
    // Straight from the memory it arrived in: no view to make, and cheaper than TextDecoder.
    if (payload === undefined) return utf8(this.#source, this.#start, this.#start + this.#length);
    if (payload.length === 0) return ''; // a transferred buffer cannot be viewed again
    return utf8(Buffer.from(payload.buffer, payload.byteOffset, payload.length), 0, payload.length);
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

/** `source[start, end)` decoded as UTF-8, a leading byte order mark dropped (as TextDecoder does). */
function utf8(source: Buffer, start: number, end: number): string {
  const bom =
    end - start >= 3 &&
    source[start] === 0xef &&
    source[start + 1] === 0xbb &&
    source[start + 2] === 0xbf;
  return source.toString('utf8', bom ? start + 3 : start, end);
}
