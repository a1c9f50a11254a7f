/**
 * How a request ends, as its caller sees it: the reply, or the error that names why there is
 * none (the request multiplexer's requests; requestMany's replies dropped share the wording).
 */
import { NatsError } from '../shared/errors.js';
import { NO_RESPONDERS } from '../shared/protocol/headers.js';
import type { Message } from './message.js';

/** A request waiting for its reply: what it was sent to, and its promise's ends. */
export interface Settling {
  subject: string;
  resolve(msg: Message): void;
  reject(error: NatsError): void;
}

/** Resolve with the reply, or reject when it is a "no responders" status. */
export function settle(entry: Settling, msg: Message): void {
  if (msg.status === NO_RESPONDERS) {
    entry.reject(new NatsError('noResponders', `no responders for ${entry.subject}`));
  } else {
    entry.resolve(msg);
  }
}

export function timedOut(subject: string, timeout: number | null): NatsError {
  return new NatsError('timedOut', `request to ${subject} timed out after ${timeout} ms`);
}

/**
 * Replies to a request came, but the worker dropped them: the caller's thread was stalled past
 * the byte bound. `what`: which of them ("the reply", "3 of the 5 replies").
 */
export function replyDropped(subject: string, what = 'the reply'): NatsError {
  return new NatsError(
    'slowConsumer',
    `${what} to a request to ${subject} came but ${what === 'the reply' ? 'was' : 'were'} dropped: this thread took no messages for a while and the client's buffer for them was full (counted in droppedMessages)`,
  );
}

/** A request the worker left out unsent: the server it was to go to cannot take it. */
export function notSent(subject: string, withHeaders: boolean): NatsError {
  return withHeaders
    ? new NatsError(
        'invalidArgument',
        `request to ${subject} not sent: it has headers, and the server takes none (its INFO says headers: false; counted in notSent)`,
      )
    : new NatsError(
        'maxPayloadExceeded',
        `request to ${subject} not sent: larger than the max_payload of the server it was to go to (counted in notSent)`,
      );
}
