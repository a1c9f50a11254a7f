/**
 * A subscription on the caller's thread: an async iterator of messages, or a callback.
 * Its messages come from the dispatcher (delivery ring); its SUB/UNSUB go through the command
 * ring so they stay ordered with publishes.
 */
import { NatsError } from '../shared/errors.js';
import type { Message } from './message.js';

/** What a Subscriber needs from its client (kept narrow so the two stay decoupled). */
export interface SubscriptionOwner {
  unsubscribe(sub: Subscriber, max: number): void;
  /** A subscriber whose iterator queue is full drops; the client reports it once per episode. */
  slowConsumer(sub: Subscriber): void;
  drainSubscription(sub: Subscriber): Promise<void>;
}

export interface SubscribeOptions {
  /** Receive messages here instead of through the async iterator. Exceptions are reported as 'clientError' events. */
  callback?: (msg: Message) => void;
}

/**
 * @example
 * const sub = client.subscribe('updates');
 * await sub.unsubscribeAfter(10);
 * for await (const msg of sub) console.log(msg.string()); // ends after 10 messages
 */
export class Subscriber implements AsyncIterable<Message> {
  /** Messages delivered to the user so far (counts toward unsubscribeAfter). */
  delivered = 0;
  private done = false;
  private readonly queue: Message[] = [];
  private head = 0;
  private waiter: ((result: IteratorResult<Message>) => void) | null = null;
  private slow = false;
  /** The unsubscribeAfter count, or 0 for none: caps {@link delivered} (see unsubscribeAfter). */
  private limit = 0;
  private endResolve!: () => void;
  /** Settles when the subscription has ended (unsubscribe, limit reached, drain, close). */
  readonly ended: Promise<void> = new Promise((resolve) => {
    this.endResolve = resolve;
  });

  constructor(
    private readonly owner: SubscriptionOwner,
    readonly sid: number,
    readonly subject: string,
    readonly queueGroup: string | undefined,
    private readonly callback: ((msg: Message) => void) | undefined,
    private readonly capacity: number,
  ) {}

  get isClosed(): boolean {
    return this.done;
  }

  /** Stop receiving now. */
  async unsubscribe(): Promise<void> {
    if (this.done) return;
    this.owner.unsubscribe(this, 0);
    this.end();
  }

  /** Receive `n` messages in total (counting those already received), then end. */
  async unsubscribeAfter(n: number): Promise<void> {
    if (!Number.isInteger(n) || n < 0) {
      throw new NatsError(
        'invalidArgument',
        `unsubscribeAfter expects a non-negative integer, got ${n}`,
      );
    }
    if (this.done) return;
    if (n === 0 || this.delivered >= n) return this.unsubscribe();
    // The worker owns the limit (worker/subscriptions.ts): it counts what the server sends,
    // dropped messages too, keeps the limit across reconnects and ends this subscriber with a
    // SUB_END delivery after the last message. One thing it cannot do: messages it had put in
    // the delivery ring before the UNSUB reached it are ahead of that SUB_END and cannot be
    // recalled, and only this thread knows how many it had delivered when it asked. So this
    // thread still caps at n what it delivers.
    this.limit = n;
    this.owner.unsubscribe(this, n);
  }

  /** Unsubscribe, deliver what is already on its way, then end. */
  drain(): Promise<void> {
    if (this.done) return Promise.resolve();
    return this.owner.drainSubscription(this);
  }

  /** Dispatcher → subscriber. An iterator that is `capacity` messages behind drops (slowConsumer). */
  push(msg: Message): void {
    if (this.done) return;
    this.delivered++;
    if (this.callback) {
      try {
        this.callback(msg); // a throw reaches the dispatcher, which reports it
      } finally {
        if (this.delivered === this.limit) this.end();
      }
      return;
    }
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = null;
      waiter({ value: msg, done: false });
    } else if (this.queue.length - this.head < this.capacity) {
      this.queue.push(msg);
      this.slow = false;
    } else {
      this.delivered--;
      if (!this.slow) {
        this.slow = true;
        this.owner.slowConsumer(this);
      }
    }
    if (this.delivered === this.limit) this.end(); // after the last one is queued
  }

  /** No more messages: pending iteration finishes after the queued ones. */
  end(): void {
    if (this.done) return;
    this.done = true;
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = null;
      waiter({ value: undefined, done: true });
    }
    this.endResolve();
  }

  [Symbol.asyncIterator](): AsyncIterator<Message> {
    if (this.callback) {
      throw new NatsError(
        'invalidArgument',
        `subscription ${this.sid} delivers to a callback; it cannot be iterated`,
      );
    }
    return {
      next: () => {
        if (this.head < this.queue.length) {
          const value = this.queue[this.head];
          this.queue[this.head++] = undefined as unknown as Message;
          if (this.head === this.queue.length) {
            this.queue.length = 0;
            this.head = 0;
          } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
            this.queue.splice(0, this.head);
            this.head = 0;
          }
          return Promise.resolve({ value, done: false });
        }
        if (this.done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.waiter = resolve;
        });
      },
      return: async () => {
        await this.unsubscribe();
        return { value: undefined, done: true };
      },
    };
  }
}
