/**
 * The client's subscriptions by sid: registering one (its SUB frame first), the interest of
 * its subject (which publishes come back: interest.ts), and what a {@link Subscriber} asks of
 * its owner: UNSUB, draining it, reports of its failed callbacks and of its slow consumer.
 */

import { describe, describeError } from '../shared/describe.js';
import { NatsError } from '../shared/errors.js';
import { commandLength } from '../shared/frames/command.js';
import { subLength } from '../shared/protocol/encode.js';
import type { Event } from './events.js';
import type { SubjectInterest } from './interest.js';
import type { Publisher } from './publisher.js';
import { subscribeOptionsOf } from './subscribe-options.js';
import {
  HeldSlabs,
  type SubscribeOptions,
  Subscriber,
  type SubscriptionOwner,
} from './subscriber.js';

/** What the subscriptions need of their client. */
export interface SubscriptionsHost {
  /** The client is closed: nothing goes to the worker any more. */
  isClosed(): boolean;
  flush(): Promise<void>;
  emit(event: Event): void;
  /** Runs `run` once what arrived by now is dispatched (Dispatcher.afterArrived). */
  afterArrived(run: () => void): void;
}

export class Subscriptions implements SubscriptionOwner {
  private readonly subs = new Map<number, Subscriber>();
  private nextSid = 0;
  /** Messages iterators dropped on this thread (full queue). */
  droppedMessages = 0;
  /** SubscriptionOwner: the slabs all of this client's iterator queues keep alive. */
  readonly heldSlabs = new HeldSlabs();
  /** Promises subscription callbacks returned that have not settled yet. */
  private unsettledCallbacks = 0;
  /** callbacksSettled() calls waiting for {@link unsettledCallbacks} to reach 0. */
  private settledWaiters: (() => void)[] = [];
  /** The SUB frames that waited on this thread when made ({@link unsubscribe} may take them back). */
  private readonly queuedSubs = new WeakMap<Subscriber, Uint8Array>();
  /** The shortest SUB line a server refused as longer than its max_control_line (bytes). */
  private refusedLine = Number.POSITIVE_INFINITY;

  constructor(
    private readonly publisher: Publisher,
    private readonly interest: SubjectInterest,
    /** Messages buffered per subscription (subscriptionCapacity). */
    private readonly capacity: number,
    private readonly client: SubscriptionsHost,
  ) {}

  /**
   * The server refused `sub`'s SUB line as longer than its max_control_line: a line as long
   * would be refused too, and cost a connection each time. Refused here from now on.
   */
  lineRefused(sub: Subscriber): void {
    const line = subLength(sub.subject, sub.queueGroup, sub.sid);
    this.refusedLine = Math.min(this.refusedLine, line);
  }

  private assertLineTaken(subject: string, queue: string | undefined, sid: number): void {
    if (this.refusedLine === Number.POSITIVE_INFINITY) return;
    const line = subLength(subject, queue, sid);
    if (line < this.refusedLine) return;
    throw new NatsError(
      'badSubject',
      `subscription to ${describe(subject)} refused: its SUB line (${line} bytes) is as long as one the server refused as longer than its max_control_line (${this.refusedLine} bytes)`,
    );
  }

  /**
   * A new subscription (subject and queue group checked already). `replies`: the shared
   * request inbox, which the worker never drops for `subscriptionCapacity`.
   */
  add(
    subject: string,
    queue: string | undefined,
    opts: SubscribeOptions | undefined,
    replies = false,
  ): Subscriber {
    const { callback: cb, max, timeout } = subscribeOptionsOf(opts);
    const sid = ++this.nextSid;
    this.assertLineTaken(subject, queue, sid);
    const subFrame = replies
      ? ({ kind: 'sub', sid, subject, queue, replies } as const)
      : ({ kind: 'sub', sid, subject, queue } as const);
    // With `max`, its UNSUB must be accepted too (refused later, it would leave a subscription
    // without its limit): room for both, or neither is queued.
    if (max !== undefined) {
      this.publisher.assertControlRoom(
        commandLength(subFrame) + commandLength({ kind: 'unsub', sid, max }),
      );
    }
    // The SUB frame first: if it cannot be queued, nothing is registered. Deliveries for it
    // are dispatched on a later turn, after the registration below.
    const queued = this.publisher.control(subFrame);
    const sub = new Subscriber(this, sid, subject, queue, cb, this.capacity);
    if (queued !== undefined) this.queuedSubs.set(sub, queued);
    this.subs.set(sid, sub);
    this.interest.add(subject);
    sub.closed.then(() => {
      this.subs.delete(sid);
      this.interest.remove(subject);
    });
    if (max !== undefined) void sub.unsubscribeAfter(max);
    if (timeout !== undefined) sub.expectWithin(timeout);
    return sub;
  }

  /** The subscription `sid` names, until it has ended. */
  get(sid: number): Subscriber | undefined {
    return this.subs.get(sid);
  }

  /** The live subscriptions, as an array of their own. */
  list(): Subscriber[] {
    return [...this.subs.values()];
  }

  /** The client closed: every subscription ends, with `error` when it failed. */
  endAll(error: NatsError | undefined): void {
    for (const sub of this.subs.values()) sub.end(error);
  }

  /** SubscriptionOwner */
  isClosed(): boolean {
    return this.client.isClosed();
  }

  /** SubscriptionOwner */
  unsubscribe(sub: Subscriber, max: number): void {
    if (this.client.isClosed()) return;
    // Its SUB still waits on this thread (the ring was full: disconnected, or a burst of
    // subscriptions): taken back, the server is owed nothing (an UNSUB queued for a limit
    // goes for a sid the worker does not know, which it and the server ignore).
    if (max === 0) {
      const queued = this.queuedSubs.get(sub);
      this.queuedSubs.delete(sub);
      if (queued !== undefined && this.publisher.withdraw(queued)) return;
    }
    this.publisher.control({ kind: 'unsub', sid: sub.sid, max });
  }

  /**
   * SubscriptionOwner: a subscription callback threw (or its promise rejected) something;
   * reported, and delivery goes on.
   */
  callbackFailed(sub: Subscriber, error: unknown): void {
    this.client.emit({
      type: 'clientError',
      error: new NatsError(
        'callback',
        `callback of subscription ${sub.sid} (${describe(sub.subject)}) failed: ${describeError(error)}`,
        { cause: error },
      ),
    });
  }

  /** SubscriptionOwner */
  callbackStarted(): void {
    this.unsettledCallbacks++;
  }

  /** SubscriptionOwner */
  callbackSettled(): void {
    if (--this.unsettledCallbacks > 0 || this.settledWaiters.length === 0) return;
    const waiters = this.settledWaiters;
    this.settledWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Promises subscription callbacks returned that have not settled yet. */
  get unsettled(): number {
    return this.unsettledCallbacks;
  }

  /**
   * Resolves once every promise a subscription callback has returned so far has settled, the
   * subscription ended or not (a `max: 1` responder): an async responder's replies are
   * published before drain() closes the client.
   */
  callbacksSettled(): Promise<void> {
    if (this.unsettledCallbacks === 0) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  /** SubscriptionOwner */
  afterArrived(run: () => void): void {
    this.client.afterArrived(run);
  }

  /** SubscriptionOwner */
  dropped(): void {
    this.droppedMessages++;
  }

  /** SubscriptionOwner */
  slowConsumer(sub: Subscriber): void {
    this.client.emit({ type: 'slowConsumer', sid: sub.sid });
  }

  /** SubscriptionOwner: UNSUB, then a flush: its PONG comes after every message sent before the UNSUB. */
  async drainSubscription(sub: Subscriber): Promise<void> {
    this.unsubscribe(sub, 0);
    try {
      await this.client.flush();
    } finally {
      sub.end();
    }
  }
}
