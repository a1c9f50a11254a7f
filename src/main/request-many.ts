/**
 * `Client.requestMany()`: scatter-gather. One request to a fresh inbox of its own, and every
 * reply that comes back until the first limit: `maxMessages` replies, `maxWait` ms in all
 * (default: the client's request timeout), or `stall` ms without a reply.
 */
import { describe } from '../shared/describe.js';
import { NatsError } from '../shared/errors.js';
import type { HeaderMap } from '../shared/protocol/headers.js';
import type { Message } from './message.js';
import type { Payload } from './outgoing.js';
import type { Subscriber } from './subscriber.js';

/** The NATS status of a reply that says no one is subscribed to the request subject. */
const NO_RESPONDERS = 503;
/** Node turns longer timers into 1 ms ones. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface RequestManyOptions {
  /** End after this many replies. */
  maxMessages?: number;
  /** ms to wait in all; default: the client's request timeout (`null`: no limit). */
  maxWait?: number | null;
  /** ms without a reply after which it ends; default: none. */
  stall?: number;
  headers?: HeaderMap;
}

export interface RequestManyHost {
  newInbox(): string;
  subscribe(subject: string): Subscriber;
  /** Publish with a reply subject (and headers); throws synchronously on bad input. */
  publishRequest(
    subject: string,
    reply: string,
    headers: HeaderMap | undefined,
    payload: Payload | undefined,
  ): void;
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
  const sub = host.subscribe(host.newInbox());
  try {
    if (maxMessages !== undefined) void sub.unsubscribeAfter(maxMessages);
    host.publishRequest(subject, sub.subject, headers, payload);
  } catch (error) {
    void sub.unsubscribe();
    throw error;
  }
  return replies(sub, subject, maxWait, stall);
}

async function* replies(
  sub: Subscriber,
  subject: string,
  maxWait: number | null,
  stall: number | undefined,
): AsyncGenerator<Message> {
  const stop = () => void sub.unsubscribe();
  const total = maxWait === null ? undefined : setTimeout(stop, maxWait);
  let quiet = stall === undefined ? undefined : setTimeout(stop, stall);
  let first = true;
  try {
    for await (const msg of sub) {
      if (first && msg.status === NO_RESPONDERS) {
        throw new NatsError('noResponders', `no responders for ${subject}`);
      }
      first = false;
      if (stall !== undefined) {
        clearTimeout(quiet);
        quiet = setTimeout(stop, stall);
      }
      yield msg;
    }
  } finally {
    clearTimeout(total);
    clearTimeout(quiet);
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
  const { maxMessages, maxWait = defaultWait, stall, headers } = opts;
  check('maxMessages', maxMessages, 1);
  if (maxWait !== null) check('maxWait', maxWait, 0);
  check('stall', stall, 0);
  return { maxMessages, maxWait, stall, headers };
}

function check(name: string, value: unknown, min: number): void {
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
