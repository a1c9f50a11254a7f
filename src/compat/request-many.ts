/**
 * nats.js `requestMany` with its strategies, on a subscription of this client's own:
 * `timer` (everything within `maxWait`), `count` (`maxMessages`, or `maxWait`), `stall`
 * (`maxWait` for the first reply, then `stall` ms — default 300 — after each) and `sentinel`
 * (until an empty reply, which is delivered). A first reply with status 503 and no payload
 * rejects the iterator with `NoRespondersError`.
 */

import {
  errors,
  type Msg,
  type Payload,
  type PublishOptions,
  type RequestManyOptions,
} from '@nats-io/nats-core';
import { QueuedIteratorImpl } from '@nats-io/nats-core/internal';
import type { Message } from '../main/message.js';
import type { Subscriber } from '../main/subscriber.js';
import { NO_RESPONDERS } from '../shared/protocol/headers.js';
import { toNatsJsError } from './errors.js';
import { CompatMsg, type MsgHost } from './msg.js';

export interface RequestManyHost extends MsgHost {
  newInbox(): string;
  subscribe(subject: string, callback: (message: Message) => void): Subscriber;
  publish(subject: string, payload?: Payload, options?: PublishOptions): void;
}

const DEFAULT_MAX_WAIT = 1000;
const DEFAULT_STALL = 300;

export function requestMany(
  host: RequestManyHost,
  subject: string,
  payload: Payload | undefined,
  opts: Partial<RequestManyOptions>,
): Promise<AsyncIterable<Msg>> {
  const strategy = opts.strategy ?? 'timer';
  const maxWait = opts.maxWait || DEFAULT_MAX_WAIT;
  if (maxWait < 1) {
    return Promise.reject(errors.InvalidArgumentError.format('timeout', 'must be greater than 0'));
  }
  let left = typeof opts.maxMessages === 'number' && opts.maxMessages > 0 ? opts.maxMessages : -1;
  const replies = new QueuedIteratorImpl<Msg>();
  let timer: NodeJS.Timeout | undefined;
  let sub: Subscriber;
  let first = true;
  let done = false;
  const finish = (error?: Error) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    void sub?.unsubscribe();
    replies.push(() => replies.stop(error));
  };
  const reply = (message: Message) => {
    if (first && message.status === NO_RESPONDERS && message.payload.length === 0) {
      finish(new errors.NoRespondersError(subject));
      return;
    }
    first = false;
    replies.push(new CompatMsg(message, sub.sid, host));
    if (strategy === 'count' && --left === 0) finish();
    else if (strategy === 'sentinel' && message.payload.length === 0) finish();
    else if (strategy === 'stall') {
      clearTimeout(timer);
      timer = setTimeout(finish, opts.stall || DEFAULT_STALL);
    }
  };
  try {
    sub = host.subscribe(host.newInbox(), reply);
    void sub.closed.then((error) => finish(error && (toNatsJsError(error, subject) as Error)));
    void replies.iterClosed.then(() => finish());
    host.publish(subject, payload, { reply: sub.subject, headers: opts.headers });
  } catch (error) {
    finish();
    return Promise.reject(error);
  }
  timer = setTimeout(finish, maxWait);
  return Promise.resolve(replies);
}
