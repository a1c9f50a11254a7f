/**
 * A nats.js `Subscription` over a nats-offload {@link Subscriber}: `(err, msg)` callbacks or an
 * async iterator, `closed`, and a subject that `_resub` can change (the ordered consumer moves
 * to a new inbox after a reset; nats.js keeps the object and re-subscribes under a new sid).
 */
import type { Msg, MsgCallback, Subscription, SubscriptionOptions } from '@nats-io/nats-core';
import { QueuedIteratorImpl } from '@nats-io/nats-core/internal';
import type { Message } from '../main/message.js';
import type { SubscribeOptions, Subscriber } from '../main/subscriber.js';
import { NatsError } from '../shared/errors.js';
import { toNatsJsError } from './errors.js';
import { CompatMsg, type MsgHost } from './msg.js';

/** What a compat subscription needs of its connection. */
export interface SubscriptionHost extends MsgHost {
  subscribe(subject: string, queue: string | undefined, opts: SubscribeOptions): Subscriber;
  /** The subscription ended for good: the connection forgets it. */
  ended(sub: CompatSubscription): void;
}

export class CompatSubscription implements Subscription {
  readonly callback: MsgCallback<Msg>;
  readonly closed: Promise<Error | undefined>;
  private readonly iterator: QueuedIteratorImpl<Msg> | undefined;
  private current: Subscriber;
  private received = 0;
  private processed = 0;
  private draining = false;
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
    if (typeof opts.callback === 'function') {
      this.callback = opts.callback;
    } else {
      const iterator = new QueuedIteratorImpl<Msg>();
      this.iterator = iterator;
      this.callback = (err, msg) => (err ? iterator.stop(err) : iterator.push(msg));
      // Leaving a `for await` early ends the subscription, as in nats.js.
      void iterator.iterClosed.then(() => this.unsubscribe());
    }
    this.current = this.open(subject, { max: opts.max, timeout: opts.timeout });
  }

  get sid(): number {
    return this.current.sid;
  }

  /**
   * `_resub`: the same subscription object, now on `subject` (a new sid) for at most `max`
   * more messages; the old one ends.
   */
  moveTo(subject: string, max: number | undefined): void {
    if (this.done) return;
    const old = this.current;
    this.current = this.open(subject, { max: max || undefined });
    void old.unsubscribe();
  }

  private open(subject: string, limits: Pick<SubscribeOptions, 'max' | 'timeout'>): Subscriber {
    const sub: Subscriber = this.host.subscribe(subject, this.opts.queue, {
      ...limits,
      callback: (message) => this.deliver(sub, message),
    });
    void sub.closed.then((error) => this.innerEnded(sub, error));
    return sub;
  }

  private deliver(from: Subscriber, message: Message): void {
    if (from !== this.current) return; // a late message of the subject before a _resub
    this.received++;
    try {
      this.callback(null, new CompatMsg(message, from.sid, this.host));
    } finally {
      this.processed++;
    }
  }

  /** Errors (timeout, permissions) go to the callback's `err`, as nats.js does; then `closed`. */
  private innerEnded(from: Subscriber, error: NatsError | undefined): void {
    if (from !== this.current || this.done) return;
    this.done = true;
    this.host.ended(this);
    const natsJsError = error === undefined ? undefined : toNatsJsError(error, from.subject);
    if (natsJsError instanceof Error) {
      if (this.iterator) this.iterator.stop(natsJsError);
      else this.callback(natsJsError, {} as Msg);
    } else {
      this.iterator?.stop();
    }
    this.resolveClosed(natsJsError instanceof Error ? natsJsError : undefined);
  }

  unsubscribe(max?: number): void {
    if (this.done) return;
    if (max === undefined || max <= 0) {
      void this.current.unsubscribe();
      return;
    }
    // nats.js's unsubscribe(max) returns nothing: a count the core refuses (not an integer up to
    // 2^31 − 1, or 'clientCapacity') ends the subscription now rather than never.
    this.current.unsubscribeAfter(max).catch(() => this.current.unsubscribe());
  }

  drain(): Promise<void> {
    this.draining = true;
    return this.current.drain();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.done) await this.drain();
  }

  isDraining(): boolean {
    return this.draining;
  }

  isClosed(): boolean {
    return this.done;
  }

  getSubject(): string {
    return this.current.subject;
  }

  getReceived(): number {
    return this.received;
  }

  getProcessed(): number {
    return this.iterator ? this.iterator.processed : this.processed;
  }

  getPending(): number {
    return this.iterator ? this.iterator.getPending() : 0;
  }

  getID(): number {
    return this.current.sid;
  }

  getMax(): number | undefined {
    return this.opts.max;
  }

  [Symbol.asyncIterator](): AsyncIterator<Msg> {
    if (!this.iterator) {
      throw new NatsError('invalidArgument', 'a subscription with a callback cannot be iterated');
    }
    return this.iterator[Symbol.asyncIterator]();
  }
}
