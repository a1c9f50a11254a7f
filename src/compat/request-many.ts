/**
 * nats.js `requestMany` with its strategies, on `Client.requestMany` (one inbox of its own,
 * replies waiting in the core's bounded queue, "no responders" on the first reply, limits
 * that run from the request): `timer` is its `maxWait`, `count` its `maxMessages` (and
 * `maxWait`), `sentinel` ends here at the first empty reply (which is delivered). `stall` —
 * `maxWait` for the first reply, then `stall` ms (default 300) after each, with no limit in
 * all — is the one timer kept here: the core's stall counts from the request and keeps
 * `maxWait` as a limit in all. The replies come as nats.js's `QueuedIterator` (`stop()`,
 * counts, `iterClosed`).
 */

import {
  errors,
  type Msg,
  type Payload,
  type QueuedIterator,
  type RequestManyOptions,
} from '@nats-io/nats-core';
import type { Message } from '../main/message.js';
import {
  type RequestManyOptions as CoreRequestManyOptions,
  checkRequestManyOption,
} from '../main/request-many.js';
import { NatsError } from '../shared/errors.js';
import { toNatsJsError } from './errors.js';
import { CompatMsg, type MsgHost, toHeaderMap } from './msg.js';

export interface RequestManyHost extends MsgHost {
  requestMany(
    subject: string,
    payload: Payload | undefined,
    opts: CoreRequestManyOptions,
  ): AsyncIterable<Message>;
}

const DEFAULT_MAX_WAIT = 1000;
const DEFAULT_STALL = 300;

/** Bad options reject, as nats.js's do; the request is sent before this resolves. */
export async function requestMany(
  host: RequestManyHost,
  subject: string,
  payload: Payload | undefined,
  opts: Partial<RequestManyOptions>,
): Promise<RequestManyReplies> {
  const strategy = opts.strategy ?? 'timer';
  const maxWait = opts.maxWait || DEFAULT_MAX_WAIT;
  // Not a number: the core's own error (API.md: any value yields a NatsError, not a TypeError).
  if (typeof maxWait !== 'number') checkRequestManyOption('maxWait', maxWait, 1);
  if (maxWait < 1) throw errors.InvalidArgumentError.format('timeout', 'must be greater than 0');
  const stall = strategy === 'stall' ? opts.stall || DEFAULT_STALL : undefined;
  if (stall !== undefined) {
    checkRequestManyOption('maxWait', maxWait, 1);
    checkRequestManyOption('stall', stall, 1);
  }
  if (typeof opts.maxMessages !== 'number')
    checkRequestManyOption('maxMessages', opts.maxMessages, 1);
  const count = strategy === 'count' && (opts.maxMessages ?? 0) > 0;
  const replies = host
    .requestMany(subject, payload, {
      maxMessages: count ? opts.maxMessages : undefined,
      maxWait: stall === undefined ? maxWait : null,
      headers: toHeaderMap(opts.headers),
    })
    [Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  const result = new RequestManyReplies(replies, subject, host, {
    sentinel: strategy === 'sentinel',
    replied:
      stall === undefined
        ? undefined
        : () => {
            clearTimeout(timer);
            timer = setTimeout(end, stall).unref();
          },
    ended: () => clearTimeout(timer),
  });
  // Ending the core's iterator ends the request at once, read or not. The core ends it at
  // maxWait itself, but says so only to a reader: as in nats.js, iterClosed settles at the
  // limit whether anyone reads or not (what waits can still be read).
  function end(): void {
    if (stall !== undefined) void replies.return?.();
    result.closed();
  }
  timer = setTimeout(end, maxWait).unref();
  return result;
}

/**
 * nats.js's `QueuedIterator` over the core's replies. The core queues them; this reads one at
 * a time, so `getPending()` counts only a reply read and not yet handed out.
 */
export class RequestManyReplies implements QueuedIterator<Msg> {
  /** Settles when the replies end: with the error that ended them, if any (never rejects). */
  readonly iterClosed: Promise<Error | undefined>;
  private resolveClosed!: (error: Error | undefined) => void;
  private received = 0;
  private processed = 0;
  private iterating = false;
  /** stop() was called: the iterator ends, throwing `error` if one was given. */
  private stopped: { error: Error | undefined } | undefined;

  constructor(
    private readonly replies: AsyncIterator<Message>,
    private readonly subject: string,
    private readonly host: MsgHost,
    private readonly on: { sentinel: boolean; replied?: () => void; ended: () => void },
  ) {
    this.iterClosed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  /** The request reached its limit: iterClosed settles; replies that wait can still be read. */
  closed(): void {
    this.resolveClosed(undefined);
  }

  /** Ends the request now (its inbox is unsubscribed); an iterator ends at its next step. */
  stop(error?: Error): void {
    if (this.stopped) return;
    this.stopped = { error };
    this.on.ended();
    void this.replies.return?.();
    this.resolveClosed(error);
  }

  getProcessed(): number {
    return this.processed;
  }

  getPending(): number {
    return this.received - this.processed;
  }

  getReceived(): number {
    return this.received;
  }

  [Symbol.asyncIterator](): AsyncIterator<Msg> {
    if (this.iterating) {
      throw new NatsError('invalidArgument', 'requestMany replies can be iterated only once');
    }
    this.iterating = true;
    return this.messages();
  }

  private async *messages(): AsyncGenerator<Msg> {
    let failure: Error | undefined;
    try {
      for (let next = await this.replies.next(); !this.stopped && !next.done; ) {
        const message = next.value;
        this.received++;
        this.on.replied?.();
        const last = this.on.sentinel && message.length === 0;
        if (last) await this.replies.return?.();
        this.processed++;
        yield new CompatMsg(message, 0, this.host);
        if (last) break;
        next = await this.replies.next();
      }
    } catch (error) {
      failure = this.toNatsJs(error);
    } finally {
      this.stop(failure);
      await this.replies.return?.();
    }
    const error = failure ?? this.stopped?.error;
    if (error) throw error;
  }

  private toNatsJs(error: unknown): Error {
    if (error instanceof NatsError && error.kind === 'noResponders') {
      return new errors.NoRespondersError(this.subject, { cause: error });
    }
    return toNatsJsError(error, this.subject) as Error;
  }
}
