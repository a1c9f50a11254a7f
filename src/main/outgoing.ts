/**
 * Checks a message on its way out (subject, reply, payload type, size against the server's
 * max_payload) and hands it to the publisher as PUB or HPUB. Bad input throws synchronously.
 */
import { NatsError } from '../shared/errors.js';
import { encodeHeaders, HeaderMap } from '../shared/protocol/headers.js';
import { validatePublishSubject } from '../shared/protocol/subject.js';
import { utf8Length } from '../shared/protocol/utf8.js';
import type { SubjectInterest } from './interest.js';
import type { Publisher } from './publisher.js';
import { lengthOf } from './user-bytes.js';

/** A message payload: bytes, or a string sent as UTF-8. */
export type Payload = Uint8Array | string;

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

function toBytes(payload: Payload | undefined): Uint8Array {
  if (payload === undefined) return EMPTY;
  if (payload instanceof Uint8Array) return payload;
  if (typeof payload === 'string') return encoder.encode(payload);
  throw new NatsError(
    'invalidArgument',
    `payload must be a Uint8Array or a string, got ${typeof payload}`,
  );
}

export class Outgoing {
  /**
   * The last subject that passed the checks, its UTF-8 length, and whether a message to it
   * comes back to this client: most publishers repeat one subject. Forgotten when a
   * subscription comes or goes, as the last answer may no longer hold.
   */
  private lastSubject: string | undefined;
  private lastSubjectBytes = 0;
  private lastEcho = false;

  constructor(
    private readonly publisher: Publisher,
    /** false with `skipSubjectValidation(true)`: control characters pass (subject.ts). */
    private readonly validate: boolean,
    private readonly maxPayload: () => number,
    /** Which publishes come back to this client (the worker gates only those). */
    private readonly interest: SubjectInterest,
    /** Whether the server takes headers (false once an INFO says it has none). */
    private readonly serverHeaders: () => boolean,
  ) {
    interest.onChange(() => {
      this.lastSubject = undefined;
    });
  }

  /**
   * `replyBytes`: the UTF-8 length of `reply` when this client made it (the request
   * multiplexer's inbox subjects): such a reply is not checked again for each request.
   */
  send(
    subject: string,
    reply: string | undefined,
    headers: HeaderMap | undefined,
    payload?: Payload,
    replyBytes = -1,
  ): boolean {
    if (typeof subject !== 'string') {
      throw new NatsError('invalidArgument', `subject must be a string, got ${typeof subject}`);
    }
    if (subject !== this.lastSubject) {
      validatePublishSubject(subject, 'subject', this.validate);
      this.lastSubjectBytes = utf8Length(subject);
      this.lastEcho = this.interest.receives(subject);
      this.lastSubject = subject;
    }
    if (reply === undefined) replyBytes = 0;
    else if (replyBytes < 0) {
      validatePublishSubject(reply, 'reply subject', this.validate);
      replyBytes = utf8Length(reply);
    }
    const data = toBytes(payload);
    if (headers === undefined) {
      // Its real length, read once: never the array's own `length` (user-bytes.ts), and with
      // none of the caller's code after it (a resizable buffer could change it again).
      const size = lengthOf(data);
      this.checkSize(subject, size);
      return this.publisher.pub(
        subject,
        this.lastSubjectBytes,
        reply,
        replyBytes,
        data,
        this.lastEcho,
        size,
      );
    }
    if (!(headers instanceof HeaderMap)) {
      throw new NatsError('invalidArgument', 'headers must be a HeaderMap');
    }
    if (!this.serverHeaders()) {
      // nats-server would end the connection on the HPUB.
      throw new NatsError(
        'invalidArgument',
        `the server does not take headers (its INFO says headers: false): a message with headers to ${subject} cannot be sent`,
      );
    }
    // After encodeHeaders, which runs the caller's code (a HeaderMap subclass's forEach).
    const block = encodeHeaders(headers);
    const size = lengthOf(data);
    this.checkSize(subject, block.length + size);
    return this.publisher.hpub(
      subject,
      this.lastSubjectBytes,
      reply,
      replyBytes,
      block,
      data,
      this.lastEcho,
      size,
    );
  }

  private checkSize(subject: string, size: number): void {
    const max = this.maxPayload();
    if (size > max) {
      throw new NatsError(
        'maxPayloadExceeded',
        `message of ${size} bytes to ${subject} exceeds the server's max_payload of ${max}`,
      );
    }
  }
}
