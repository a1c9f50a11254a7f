/**
 * `Client.requestMany()`: scatter-gather. One request to a fresh inbox of its own, and every
 * reply that comes back until the first limit: `maxMessages` replies, `maxWait` ms in all
 * (default: the client's request timeout), or `stall` ms without a reply.
 */

import { describe } from '../shared/describe.js';
import { NatsError } from '../shared/errors.js';
import { MAX_TIMER_MS } from '../shared/options.js';
import { type HeaderMap, NO_RESPONDERS } from '../shared/protocol/headers.js';
import type { Message } from './message.js';
import type { Payload } from './outgoing.js';
import { replyDropped } from './request-outcomes.js';
import type { SubscribeOptions, Subscriber } from './subscriber.js';

/** Limits of a `Client.requestMany()`: it ends at whichever comes first. */
export interface RequestManyOptions {
  /** End after this many replies. */
  maxMessages?: number;
  /** ms to wait in all; default: the client's request timeout (`null`: no limit). */
  maxWait?: number | null;
  /** ms without a reply after which it ends; default: none. */
  stall?: number;
  /** Headers sent with the request. */
  headers?: HeaderMap;
}

export interface RequestManyHost {
  newInbox(): string;
  subscribe(subject: string, opts: SubscribeOptions): Subscriber;
  /** Publish with a reply subject (and headers); throws synchronously on bad input. */
  publishRequest(
    subject: string,
    reply: string,
    headers: HeaderMap | undefined,
    payload: Payload | undefined,
  ): void;
  /**
   * `sub` gathers the replies to a request to `subject` until `until` at most (a
   * performance.now() time; -Infinity: no limit in time): a denied publish to it fails `sub`.
   */
  gathering(sub: Subscriber, subject: string, until: number): void;
  /** Runs `run` once what arrived by now is dispatched (Dispatcher.afterArrived). */
  afterArrived(run: () => void): void;
  /**
   * Once the client is closed, what a request it cut short fails with ('closed', or
   * 'workerExited' when the worker died); undefined while it is open.
   */
  closedError(): NatsError | undefined;
}

/** Checks the options and sends the request at once; the replies come from the iterable. */
export function requestMany(
  host: RequestManyHost,
  subject: string,
  payload: Payload | undefined,
  opts: RequestManyOptions | undefined,
  defaultWait: number | null,
): AsyncIterable<Message> {
  const { maxMessages, maxWait, stall, headers } = optionsOf(opts, defaultWait);
  // max: the UNSUB goes with the SUB, both or neither (subscriptions.ts).
  const sub = host.subscribe(host.newInbox(), { max: maxMessages });
  try {
    host.publishRequest(subject, sub.subject, headers, payload);
  } catch (error) {
    void sub.unsubscribe();
    throw error;
  }
  host.gathering(
    sub,
    subject,
    maxWait === null ? Number.NEGATIVE_INFINITY : performance.now() + maxWait,
  );
  // The limits run from the request, iterated or not: an iterable nobody reads must not keep
  // its inbox open.
  let stopped = false;
  const stop = () => {
    stopped = true;
    void sub.unsubscribe();
  };
  // Ended by none of its limits: the client closed (API.md: a request pending at close()
  // rejects with 'closed'); on an open client the worker ended the inbox at maxMessages,
  // counting replies it had to drop while this thread was stalled (the server counts them).
  // (Replies its iterator's full queue dropped here were reported as slowConsumer events.)
  const cutShort = () => {
    const taken = sub.delivered + sub.droppedHere;
    if (stopped || taken === maxMessages) return undefined;
    const closed = host.closedError();
    if (closed !== undefined || maxMessages === undefined) return closed;
    return replyDropped(subject, `${maxMessages - taken} of the ${maxMessages} replies`);
  };
  // A limit is reached once what arrived before its timer ran is dispatched: replies that
  // waited while this thread was busy are gathered, and one among them restarts the stall.
  let deliveredAtQuiet = 0;
  const restartStall = () => {
    deliveredAtQuiet = sub.delivered;
    timers.quiet?.refresh();
  };
  const stallOver = () => (sub.delivered > deliveredAtQuiet ? restartStall() : stop());
  const timers: Timers = {
    // Unref'd: an open client keeps the process alive, a forgotten request must not.
    total:
      maxWait === null ? undefined : setTimeout(() => host.afterArrived(stop), maxWait).unref(),
    quiet:
      stall === undefined
        ? undefined
        : setTimeout(() => host.afterArrived(stallOver), stall).unref(),
  };
  const gathered = replies(sub, subject, timers, stop, restartStall, cutShort);
  // return() ends the request at once, also while a next() waits for a reply (a generator's
  // own return() would wait for that reply first) or before the first next().
  const iterator: AsyncIterableIterator<Message> = {
    next: () => gathered.next(),
    return: () => {
      clearTimeout(timers.total);
      clearTimeout(timers.quiet);
      stop();
      return gathered.return(undefined);
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

interface Timers {
  readonly total: NodeJS.Timeout | undefined;
  /** Restarted by each reply taken, or found dispatched when it runs out. */
  readonly quiet: NodeJS.Timeout | undefined;
}

async function* replies(
  sub: Subscriber,
  subject: string,
  timers: Timers,
  stop: () => void,
  /** A reply was taken: the stall starts again. */
  restartStall: () => void,
  /** Why the replies ended short of every limit, if they did. */
  cutShort: () => NatsError | undefined,
): AsyncGenerator<Message> {
  let first = true;
  try {
    for await (const msg of sub) {
      if (first && msg.status === NO_RESPONDERS) {
        throw new NatsError('noResponders', `no responders for ${subject}`);
      }
      first = false;
      restartStall();
      yield msg;
    }
    const cut = cutShort();
    if (cut) throw cut;
  } finally {
    clearTimeout(timers.total);
    clearTimeout(timers.quiet);
    stop();
  }
}

function optionsOf(
  opts: RequestManyOptions | undefined,
  defaultWait: number | null,
): Required<Pick<RequestManyOptions, 'maxWait'>> & Omit<RequestManyOptions, 'maxWait'> {
  if (opts === undefined || opts === null) return { maxWait: defaultWait };
  if (typeof opts !== 'object') {
    throw new NatsError(
      'invalidArgument',
      `requestMany options must be an object, got ${describe(opts)}`,
    );
  }
  let read: RequestManyOptions;
  try {
    const { maxMessages, maxWait, stall, headers } = opts; // getters may throw
    read = { maxMessages, maxWait, stall, headers };
  } catch (cause) {
    throw new NatsError('invalidArgument', 'requestMany options could not be read', { cause });
  }
  const { maxMessages, maxWait = defaultWait, stall, headers } = read;
  checkRequestManyOption('maxMessages', maxMessages, 1);
  if (maxWait !== null) checkRequestManyOption('maxWait', maxWait, 0);
  checkRequestManyOption('stall', stall, 0);
  return { maxMessages, maxWait, stall, headers };
}

/** A requestMany count or duration: an integer from `min` to 2^31 − 1, else 'invalidArgument'. */
export function checkRequestManyOption(name: string, value: unknown, min: number): void {
  if (value === undefined) return;
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < min ||
    value > MAX_TIMER_MS
  ) {
    throw new NatsError(
      'invalidArgument',
      `requestMany ${name} must be an integer from ${min} to ${MAX_TIMER_MS}, got ${describe(value)}`,
    );
  }
}
