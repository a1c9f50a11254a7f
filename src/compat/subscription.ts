/**
 * A nats.js `Subscription` over a nats-offload {@link Subscriber}: `(err, msg)` callbacks or an
 * async iterator, `closed`, and a subject that `_resub` can change (the ordered consumer moves
 * to a new inbox after a reset; nats.js keeps the object and re-subscribes under a new sid).
 * The iterator reads the Subscriber's own: messages wait in its bounded queue
 * (`subscriptionCapacity` and 64 MiB), where what an unread one cannot hold is dropped,
 * counted and signalled (`slowConsumer`).
 */
import {
  errors,
  type Msg,
  type MsgCallback,
  type Subscription,
  type SubscriptionOptions,
} from '@nats-io/nats-core';
import type { Message } from '../main/message.js';
import type { SubscribeOptions, Subscriber } from '../main/subscriber.js';
import { typeName } from '../shared/describe.js';
import { type ErrorKind, NatsError } from '../shared/errors.js';
import { toNatsJsError } from './errors.js';
import { CompatMsg, type MsgHost } from './msg.js';

/** What a compat subscription needs of its connection. */
export interface SubscriptionHost extends MsgHost {
  subscribe(subject: string, queue: string | undefined, opts: SubscribeOptions): Subscriber;
  /** The subscription ended for good: the connection forgets it. */
  ended(sub: CompatSubscription): void;
  connectionClosed(): boolean;
}

/**
 * Subscriptions moved away from (`_resub`) whose queued messages an iterator still reads, at
 * most: an ordered consumer that resets often and is not read would otherwise keep every old
 * inbox's queue. Past it the oldest one not being read is dropped with what it queued
 * (getPending() stops counting those).
 */
export const MAX_MOVED_UNREAD = 8;

/** Kinds a subscription ends with because the whole connection did. */
const CONNECTION_ENDINGS = new Set<ErrorKind>(['maxReconnects', 'workerExited']);

export class CompatSubscription implements Subscription {
  /** The `(err, msg)` callback; none for an iterated subscription. */
  private readonly onMessage: MsgCallback<Msg> | undefined;
  readonly closed: Promise<Error | undefined>;
  private current: Subscriber;
  /**
   * An iterated subscription's Subscribers whose queued messages are not all read yet, oldest
   * first: after a `_resub`, the iterator reads the old one's to its end, then the new one's.
   */
  private readonly unread: Subscriber[] = [];
  /** The Subscriber the iterator is reading, while it is. */
  private reading: Subscriber | undefined;
  /** Messages received by the subscriptions this one moved away from (`_resub`). */
  private receivedBefore = 0;
  private processed = 0;
  /** Messages dropped unread with a moved subscription (MAX_MOVED_UNREAD). */
  private discarded = 0;
  /** drain()'s promise and the Subscriber it drains: a second call returns it, as nats.js's does. */
  private draining: Promise<void> | undefined;
  private drainingFrom: Subscriber | undefined;
  /** An iterator has started: nats.js lets one read a subscription. */
  private iterated = false;
  private done = false;
  private resolveClosed!: (value: Error | undefined) => void;

  constructor(
    private readonly host: SubscriptionHost,
    subject: string,
    private readonly opts: SubscriptionOptions,
  ) {
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    if (
      opts.callback !== undefined &&
      opts.callback !== null &&
      typeof opts.callback !== 'function'
    ) {
      // Taken as none, its messages went to an iterator nobody reads (nats.js's reader dies).
      throw new NatsError(
        'invalidArgument',
        `subscribe option 'callback' must be a function, got ${typeName(opts.callback)}`,
      );
    }
    this.onMessage = opts.callback ?? undefined;
    // nats.js arms a timeout only for a truthy one: 0 means none, not "end at once".
    this.current = this.open(subject, { max: opts.max, timeout: opts.timeout || undefined });
  }

  /** nats.js's `Subscription.callback`; an iterated subscription's refuses to be called. */
  get callback(): MsgCallback<Msg> {
    return this.onMessage ?? iteratedOnly;
  }

  get sid(): number {
    return this.current.sid;
  }

  /**
   * `_resub`: the same subscription object, now on `subject` (a new sid) for at most `max`
   * more messages; the old one ends (an iterator reads what it had queued first).
   */
  moveTo(subject: string, max: number | undefined): void {
    if (this.done) return;
    const old = this.current;
    this.current = this.open(subject, { max: max || undefined });
    void old.unsubscribe();
    this.receivedBefore += old.delivered;
  }

  private open(subject: string, limits: Pick<SubscribeOptions, 'max' | 'timeout'>): Subscriber {
    const callback = this.onMessage;
    const sub: Subscriber = this.host.subscribe(subject, this.opts.queue, {
      ...limits,
      callback: callback && ((message) => this.deliver(sub, message, callback)),
    });
    void sub.closed.then((error) => this.innerEnded(sub, error));
    if (!callback) {
      this.unread.push(sub);
      this.boundUnread();
    }
    return sub;
  }

  private boundUnread(): void {
    // All but the last (the current one) were moved away from.
    while (this.unread.length - 1 > MAX_MOVED_UNREAD) {
      const [dropped] = this.unread.splice(this.unread[0] === this.reading ? 1 : 0, 1);
      this.discarded += dropped.queued;
    }
  }

  private deliver(from: Subscriber, message: Message, callback: MsgCallback<Msg>): void {
    if (from !== this.current) return; // a late message of the subject before a _resub
    try {
      callback(null, new CompatMsg(message, from.sid, this.host));
    } finally {
      this.processed++;
    }
  }

  /**
   * Errors (timeout, permissions) go to the callback's `err`, as nats.js does; then `closed`.
   * The end of the connection (maxReconnects, a dead worker) ends it without one, as nats.js
   * closes its subscriptions then: the connection's `closed()` says why.
   */
  private innerEnded(from: Subscriber, ending: NatsError | undefined): void {
    if (from !== this.current || this.done) return;
    this.done = true;
    this.host.ended(this);
    const error = ending && CONNECTION_ENDINGS.has(ending.kind) ? undefined : ending;
    const natsJsError = error === undefined ? undefined : toNatsJsError(error, from.subject);
    const failure = natsJsError instanceof Error ? natsJsError : undefined;
    if (failure && this.onMessage) {
      // Called from a promise reaction: a throw would be an unhandled rejection (a crash).
      try {
        this.onMessage(failure, {} as Msg);
      } catch (thrown) {
        from.callbackFailed(thrown);
      }
    }
    this.resolveClosed(failure);
  }

  /**
   * The iterator: the queued messages of each Subscriber this one has been on, in order; then
   * the error that ended the subscription, if any, as `closed` has it. Leaving a `for await`
   * early ends the subscription, as in nats.js.
   */
  private async *messages(): AsyncGenerator<Msg> {
    // As nats.js's, at the first next(): a second reader would take every other message.
    if (this.iterated) throw new errors.InvalidOperationError('iterator is already yielding');
    this.iterated = true;
    try {
      for (let from = this.unread[0]; ; from = this.unread[0]) {
        this.reading = from;
        for await (const message of from) {
          this.processed++;
          yield new CompatMsg(message, from.sid, this.host);
        }
        if (from === this.current) break;
        this.unread.shift(); // moved (_resub): go on with the next one
      }
    } catch {
      // the Subscriber's failure: thrown below as nats.js's, once `closed` has it
    } finally {
      this.reading = undefined;
      void this.current.unsubscribe();
    }
    const failure = await this.closed;
    if (failure) throw failure;
  }

  unsubscribe(max?: number): void {
    if (this.done) return;
    // Not a number: unsubscribeAfter refuses it, and the subscription ends now, as below.
    if (max === undefined || (typeof max === 'number' && max <= 0)) {
      void this.current.unsubscribe();
      return;
    }
    // nats.js's unsubscribe(max) returns nothing: a count the core refuses (not an integer up to
    // 2^31 − 1, or 'clientCapacity') ends the subscription now rather than never.
    this.current.unsubscribeAfter(max).catch(() => this.current.unsubscribe());
  }

  /**
   * As nats.js's: refused on a closed connection or subscription; else the subscription ends
   * whether or not the server answers the flush behind its UNSUB (without a connection, within
   * 2 × connectionTimeout).
   */
  drain(): Promise<void> {
    if (this.host.connectionClosed()) return Promise.reject(new errors.ClosedConnectionError());
    if (this.done) {
      // Ended by its drain: a second call returns that drain's promise, as nats.js's does.
      return (
        this.draining ??
        Promise.reject(new errors.InvalidOperationError('subscription is already closed'))
      );
    }
    // Again after a _resub moved the subscription on: the new inbox drains too.
    if (this.drainingFrom !== this.current) {
      this.drainingFrom = this.current;
      this.draining = this.current.drain().catch(() => {});
    }
    return this.draining as Promise<void>;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.done && !this.host.connectionClosed()) await this.drain();
  }

  isDraining(): boolean {
    return this.draining !== undefined;
  }

  isClosed(): boolean {
    return this.done;
  }

  getSubject(): string {
    return this.current.subject;
  }

  getReceived(): number {
    return this.receivedBefore + this.current.delivered;
  }

  getProcessed(): number {
    return this.processed;
  }

  /** Received, not yet handed out: what waits in the iterator's queue. */
  getPending(): number {
    return this.getReceived() - this.processed - this.discarded;
  }

  getID(): number {
    return this.current.sid;
  }

  getMax(): number | undefined {
    return this.opts.max;
  }

  [Symbol.asyncIterator](): AsyncIterator<Msg> {
    if (this.onMessage) {
      throw new NatsError('invalidArgument', 'a subscription with a callback cannot be iterated');
    }
    return this.messages();
  }
}

function iteratedOnly(): void {
  throw new NatsError('invalidArgument', 'an iterated subscription has no callback');
}
