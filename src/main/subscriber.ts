/**
 * A subscription on the caller's thread: an async iterator of messages, or a callback.
 * Its messages come from the dispatcher (delivery ring); its SUB/UNSUB go through the command
 * ring so they stay ordered with publishes.
 */
import { describe } from '../shared/describe.js';
import { NatsError } from '../shared/errors.js';
import type { Message } from './message.js';

/** The largest `unsubscribeAfter(n)`. */
export const MAX_UNSUBSCRIBE_AFTER = 2 ** 31 - 1;
/**
 * The largest count nats-server takes in `UNSUB <sid> <max>`: it parses at most 9 digits and
 * treats a longer count as 0, removing the subscription at once. A larger limit is counted
 * here and ended with a plain UNSUB.
 */
const MAX_WIRE_UNSUBSCRIBE_AFTER = 999_999_999;
/**
 * Message bytes (payload, header block, subjects of their own) an iterator's queue holds at
 * most, besides `subscriptionCapacity` messages; one message, however large, always fits:
 * API.md bounds memory by bytes, not only by counts. Also the bytes of the dispatcher's slabs
 * that the messages queued in all of a client's iterators may keep alive ({@link HeldSlabs}).
 */
const QUEUE_BYTES = 64 * 1024 * 1024;

/**
 * The dispatcher's slabs that messages queued in a client's iterators keep alive, in bytes:
 * each queued message holds the 256 KiB slab its bytes arrived in, so iterators that get one
 * message in a thousand would keep a slab per message. Past {@link QUEUE_BYTES} for the whole
 * client, a message is queued with a copy of its own payload instead.
 */
export class HeldSlabs {
  bytes = 0;
}

/** What a Subscriber needs from its client (kept narrow so the two stay decoupled). */
export interface SubscriptionOwner {
  /** The client is closed: a call that would change the subscription fails with 'closed'. */
  isClosed(): boolean;
  unsubscribe(sub: Subscriber, max: number): void;
  /** A subscriber whose iterator queue is full drops; the client reports it once per episode. */
  slowConsumer(sub: Subscriber): void;
  /** Each message it drops, for statistics().droppedMessages. */
  dropped(): void;
  drainSubscription(sub: Subscriber): Promise<void>;
  /** The callback's promise rejected (a sync throw reaches the dispatcher instead). */
  callbackFailed(sub: Subscriber, error: unknown): void;
  /** A callback returned a promise: the client's drain() waits until it settles. */
  callbackStarted(): void;
  /** A promise a callback returned has settled. */
  callbackSettled(): void;
  /** Runs `run` once what arrived by now is dispatched (Dispatcher.afterArrived). */
  afterArrived(run: () => void): void;
  /** Slabs held by the queued messages of the client's iterators. */
  readonly heldSlabs: HeldSlabs;
}

/**
 * Strings for the subjects a subscription's messages arrive on, held by its owner already (the
 * request multiplexer holds each reply subject it sent): the dispatcher asks here before it
 * decodes a subject.
 */
export interface KnownSubjects {
  /** The subject whose UTF-8 bytes are `bytes[start, end)`, or undefined when not known. */
  subjectAt(bytes: Uint8Array, start: number, end: number): string | undefined;
}

/**
 * Options of `Client.subscribe` and `Client.queueSubscribe`; all optional. A value of the
 * wrong type or range makes the call throw `'invalidArgument'`.
 */
export interface SubscribeOptions {
  /**
   * Receive messages here instead of through the async iterator. What it throws (or its
   * promise rejects with) is reported as a 'clientError' event of kind 'callback'; delivery
   * goes on.
   */
  callback?: (msg: Message) => void;
  /** End after this many messages, as `unsubscribeAfter(max)` (1..2^31 − 1). */
  max?: number;
  /**
   * ms: the subscription ends with `'timedOut'` if no message arrives within this long of
   * subscribing (the iterator throws it; a callback subscription's `closed` resolves with it).
   */
  timeout?: number;
}

/**
 * One subscription: an async iterable of its messages unless it was made with a callback.
 * Messages wait here, up to `subscriptionCapacity` (and 64 MiB of payloads), while nothing
 * reads them; past that an iterator nobody reads drops (one `slowConsumer` event per stall).
 *
 * @example
 * const sub = client.subscribe('updates');
 * await sub.unsubscribeAfter(10);
 * for await (const msg of sub) console.log(msg.string()); // ends after 10 messages
 */
export class Subscriber implements AsyncIterable<Message> {
  /**
   * Messages delivered to the user so far (counts toward unsubscribeAfter).
   *
   * @internal
   */
  delivered = 0;
  /**
   * Messages this thread dropped for it (its iterator's queue full); the worker's drops, which
   * it counts towards the limit too, are in neither.
   *
   * @internal
   */
  droppedHere = 0;
  /** @internal Where the dispatcher finds its messages' subjects before decoding them. */
  knownSubjects: KnownSubjects | undefined = undefined;
  private done = false;
  private readonly queue: Message[] = [];
  /** What each queued message counts for in {@link queuedBytes}, in queue order. */
  private readonly weights: number[] = [];
  private head = 0;
  /** drain()'s promise once it has started (its UNSUB is on its way). */
  private draining: Promise<void> | undefined;
  /** Bytes of the queued messages (payloads, header blocks, subjects of their own). */
  private queuedBytes = 0;
  /**
   * Slab bytes this queue's runs hold: counted in the client's {@link HeldSlabs} until the
   * subscription ends (its queue then only shrinks, and one abandoned unread must not keep
   * the client's budget spent).
   */
  private heldBytes = 0;
  /** next() calls waiting for a message, in call order (several may wait at once). */
  private readonly waiters: {
    resolve(result: IteratorResult<Message>): void;
    reject(error: NatsError): void;
  }[] = [];
  /** The error the iterator throws once its queue is empty ('timedOut', 'permissionsViolation'). */
  private failure: NatsError | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Dropping since its reader last emptied the queue: one slowConsumer event per episode. */
  private slow = false;
  /**
   * The iterator's reader emptied its queue since the queue was last found full: it keeps up
   * with the slices, so the next message that finds the queue full waits in the ring for the
   * reader's turn instead of dropping (a reader that only nibbles gets no turns: it would set
   * the pace of every subscription behind it).
   */
  private caughtUpSinceFull = true;
  /** The unsubscribeAfter count, or 0 for none: caps {@link delivered} (see unsubscribeAfter). */
  private limit = 0;
  private endResolve!: (error: NatsError | undefined) => void;
  /**
   * Settles when the subscription has ended: `undefined` for a normal end (unsubscribe, limit
   * reached, drain, close), the error that ended it otherwise (e.g. `'workerExited'`).
   */
  readonly closed: Promise<NatsError | undefined> = new Promise((resolve) => {
    this.endResolve = resolve;
  });

  /**
   * Made by `Client.subscribe`/`queueSubscribe`; not for user code.
   *
   * @hidden
   */
  constructor(
    private readonly owner: SubscriptionOwner,
    /** The subscription id on this connection (what `slowConsumer` events name). */
    readonly sid: number,
    /** The subject (or wildcard) subscribed to. */
    readonly subject: string,
    /** The queue group, for `queueSubscribe`; undefined otherwise. */
    readonly queueGroup: string | undefined,
    private readonly callback: ((msg: Message) => void) | undefined,
    private readonly capacity: number,
  ) {}

  /**
   * Messages queued for the iterator, not read yet.
   *
   * @internal
   */
  get queued(): number {
    return this.queue.length - this.head;
  }

  /** True once the subscription has ended (see {@link closed}). */
  get isClosed(): boolean {
    return this.done;
  }

  /**
   * Stop receiving now: the iterator ends after the messages already queued, {@link closed}
   * settles with `undefined`. Harmless on an ended subscription; never rejects.
   */
  async unsubscribe(): Promise<void> {
    if (this.done) return;
    if (this.draining === undefined) this.owner.unsubscribe(this, 0); // drain() sent it already
    this.end();
  }

  /**
   * Receive `n` messages in total (counting those already received), then end; exact across
   * reconnects. With `n` already received, it ends now. A limit set already (here or by
   * `max`) can only be lowered: the server may have ended the subscription at it before a
   * higher one reaches it, and the subscription would then wait for messages that never come.
   *
   * @throws (rejects) NatsError `'invalidArgument'` for anything but an integer 1..2^31 − 1;
   * `'closed'` on a closed client.
   */
  async unsubscribeAfter(n: number): Promise<void> {
    // The bound: the worker keeps the count in a u32 (2^32 would wrap to 0, "no limit"), and
    // UNSUB's decimal must stay an exact integer.
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_UNSUBSCRIBE_AFTER) {
      throw new NatsError(
        'invalidArgument',
        `unsubscribeAfter expects an integer from 1 to ${MAX_UNSUBSCRIBE_AFTER}, got ${describe(n)}`,
      );
    }
    if (this.owner.isClosed()) throw this.onClosedClient('unsubscribeAfter');
    if (this.done) return;
    if (this.delivered >= n) return this.unsubscribe();
    if (this.limit !== 0 && n >= this.limit) return; // only lowered (see above)
    // The worker owns the limit (worker/subscriptions.ts): it counts what the server sends,
    // dropped messages too, keeps the limit across reconnects and ends this subscriber with a
    // SUB_END delivery after the last message. One thing it cannot do: messages it had put in
    // the delivery ring before the UNSUB reached it are ahead of that SUB_END and cannot be
    // recalled, and only this thread knows how many it had delivered when it asked. So this
    // thread still caps at n what it delivers. Above what the server takes, only this side
    // counts (messages delivered here).
    // The UNSUB first: refused ('clientCapacity'), the subscription goes on as it was.
    if (n <= MAX_WIRE_UNSUBSCRIBE_AFTER) this.owner.unsubscribe(this, n);
    this.limit = n;
  }

  /**
   * Unsubscribe, deliver the messages already on their way, then end; resolves once a flush
   * confirms that the server has the UNSUB.
   *
   * @throws (rejects) as `Client.flush` (`'closed'`, `'timedOut'`, `'workerExited'`); the
   * subscription ends all the same.
   */
  drain(): Promise<void> {
    // One UNSUB per subscription: a second drain() gets the first one's outcome.
    if (this.draining !== undefined) return this.draining;
    if (this.owner.isClosed()) return Promise.reject(this.onClosedClient('drain'));
    if (this.done) return Promise.resolve();
    this.draining = this.owner.drainSubscription(this);
    return this.draining;
  }

  private onClosedClient(what: string): NatsError {
    return new NatsError('closed', `${what} of subscription ${this.sid} on a closed client`);
  }

  /**
   * Dispatcher → subscriber. An iterator that is `capacity` messages (or 64 MiB of messages:
   * `extraBytes` are the header block's and subjects' besides the payload) behind drops
   * (slowConsumer), unless its reader emptied the queue since it was last full
   * and `mayWait`: then false, and the dispatcher leaves this message and those after it
   * in the ring until the next turn (a slice can bring more than a small `capacity` before the
   * reader, which runs between slices, gets a turn).
   *
   * @internal
   */
  push(msg: Message, mayWait = false, extraBytes = 0): boolean {
    if (this.done) return true;
    this.delivered++;
    if (this.callback) {
      try {
        // A throw reaches the dispatcher, which reports it; an async callback's rejection
        // is caught here (unhandled, it would end the process).
        const result: unknown = this.callback(msg);
        if (result !== undefined) this.watch(result);
      } finally {
        if (this.delivered === this.limit) this.limitReached();
      }
      return true;
    }
    if (this.waiters.length > 0) {
      this.waiters.shift()?.resolve({ value: msg, done: false });
    } else if (this.hasRoomFor(msg.length + extraBytes)) {
      this.hold(msg);
      this.queue.push(msg);
      this.weights.push(msg.length + extraBytes);
      this.queuedBytes += msg.length + extraBytes;
    } else if (mayWait && this.caughtUpSinceFull) {
      this.caughtUpSinceFull = false;
      this.delivered--;
      return false;
    } else {
      this.delivered--;
      this.droppedHere++;
      this.owner.dropped();
      if (!this.slow) {
        this.slow = true;
        this.owner.slowConsumer(this);
      }
    }
    if (this.delivered === this.limit) this.limitReached(); // after the last one is queued
    return true;
  }

  private hasRoomFor(bytes: number): boolean {
    if (this.queue.length - this.head >= this.capacity) return false;
    return this.queuedBytes === 0 || this.queuedBytes + bytes <= QUEUE_BYTES;
  }

  /** Count the slab a message to be queued keeps alive; past the bound, give it its own copy. */
  private hold(msg: Message): void {
    const memory = msg.sharedMemory();
    if (memory === undefined) return;
    const last = this.head < this.queue.length ? this.queue[this.queue.length - 1] : undefined;
    if (last?.sharedMemory() === memory) return; // the same run
    const held = this.owner.heldSlabs;
    if (held.bytes + memory.byteLength > QUEUE_BYTES) {
      void msg.payload; // copied out: the message lets the slab go
      return;
    }
    held.bytes += memory.byteLength;
    this.heldBytes += memory.byteLength;
  }

  /** A message left the queue: the last of a run in one slab lets the slab go. */
  private release(taken: Message): void {
    const memory = taken.sharedMemory();
    if (memory === undefined) return;
    const next = this.head < this.queue.length ? this.queue[this.head] : undefined;
    if (next?.sharedMemory() === memory) return;
    this.heldBytes -= memory.byteLength;
    if (!this.done) this.owner.heldSlabs.bytes -= memory.byteLength;
  }

  private limitReached(): void {
    // A limit the server was not told of (see MAX_WIRE_UNSUBSCRIBE_AFTER) ends here.
    if (this.limit > MAX_WIRE_UNSUBSCRIBE_AFTER) this.owner.unsubscribe(this, 0);
    this.end();
  }

  private watch(result: unknown): void {
    if (result === null || typeof (result as PromiseLike<unknown>).then !== 'function') return;
    try {
      Promise.resolve(result).then(this.callbackSettled, this.callbackRejected);
    } catch (error) {
      // A promise whose own `then` or `constructor` getter throws: reported, not waited for.
      this.owner.callbackFailed(this, error);
      return;
    }
    this.owner.callbackStarted();
  }

  private readonly callbackSettled = (): void => this.owner.callbackSettled();

  private readonly callbackRejected = (error: unknown): void => {
    this.owner.callbackSettled();
    this.owner.callbackFailed(this, error);
  };

  /**
   * A callback of this subscription's (compat's, called apart from delivery) threw `error`:
   * reported as a 'clientError' of kind 'callback', as a throw during delivery is.
   *
   * @internal
   */
  callbackFailed(error: unknown): void {
    this.owner.callbackFailed(this, error);
  }

  /**
   * No more messages: pending iteration finishes after the queued ones; `closed` settles with `error`.
   *
   * @internal
   */
  end(error?: NatsError): void {
    if (this.done) return;
    this.done = true;
    this.owner.heldSlabs.bytes -= this.heldBytes; // what is queued stays, counted no more
    clearTimeout(this.timer);
    // The first waiting next() throws the failure, if any (once, as next() does); the rest end.
    for (const waiter of this.waiters.splice(0)) {
      const failure = this.failure;
      this.failure = undefined;
      if (failure) waiter.reject(failure);
      else waiter.resolve({ value: undefined, done: true });
    }
    this.endResolve(error);
  }

  /**
   * End with an error the user must see: `closed` settles with it and the iterator throws it
   * after the messages already queued ('timedOut', 'permissionsViolation').
   *
   * @internal
   */
  fail(error: NatsError): void {
    if (this.done) return;
    this.owner.unsubscribe(this, 0);
    this.failure = error;
    this.end(error);
  }

  /**
   * subscribe's `timeout`: fail with 'timedOut' unless a message arrives within `ms`.
   *
   * @internal
   */
  expectWithin(ms: number): void {
    // Decided once what reached the worker before the timer ran is dispatched: a message that
    // waited while this thread was busy past the deadline is delivered, not lost to it.
    const expire = () => {
      if (this.delivered === 0) {
        this.fail(new NatsError('timedOut', `no message on ${this.subject} within ${ms} ms`));
      }
    };
    this.timer = setTimeout(() => this.owner.afterArrived(expire), ms);
    this.timer.unref(); // waiting for the subscription keeps the process alive, not this timer
  }

  /**
   * The messages, in order, until the subscription ends; then the iterator finishes, or throws the
   * error that ended it (`'timedOut'`, `'permissionsViolation'`, `'workerExited'`). Leaving a
   * `for await` loop early unsubscribes.
   *
   * @throws NatsError `'invalidArgument'` for a subscription that delivers to a callback.
   */
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
          this.queuedBytes -= this.weights[this.head];
          this.queue[this.head++] = undefined as unknown as Message;
          this.release(value);
          if (this.head === this.queue.length) {
            this.caughtUpSinceFull = true;
            this.slow = false; // the episode ends when the reader catches up, not at each gap
            this.queue.length = 0;
            this.weights.length = 0;
            this.head = 0;
          } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
            this.queue.splice(0, this.head);
            this.weights.splice(0, this.head);
            this.head = 0;
          }
          return Promise.resolve({ value, done: false });
        }
        if (this.done) {
          const failure = this.failure;
          this.failure = undefined; // thrown once; then the iterator is simply done
          return failure
            ? Promise.reject(failure)
            : Promise.resolve({ value: undefined, done: true });
        }
        return new Promise((resolve, reject) => {
          this.waiters.push({ resolve, reject });
        });
      },
      return: async () => {
        await this.unsubscribe();
        return { value: undefined, done: true };
      },
    };
  }
}
