/**
 * Sleep and wake-up between the two sides of a ring, free of lost wake-ups (MECHANICS C.2).
 *
 * Each side that may sleep owns one sleep sequence in the ring header; it watches a counter
 * the other side writes (the consumer watches W, the producer watches R):
 *
 *   sleeper:  seq = Atomics.add(S, 1) + 1          // odd = "I am going to sleep"; sleeper-owned
 *             if (Atomics.load(IDX) === seen) wait(IDX, seen)   // here: Atomics.waitAsync
 *             Atomics.add(S, 1)                     // even = awake
 *   waker:    Atomics.store(IDX, newValue)
 *             q = Atomics.load(S)
 *             if ((q & 1) && q !== lastWoken && Atomics.notify(IDX, 1) > 0) lastWoken = q
 *
 * Why it loses nothing: the sleeper announces itself (odd S) before its final look at IDX, and
 * the waker stores IDX before its look at S; all four operations are sequentially consistent,
 * so at least one side sees the other. Either the sleeper sees the new IDX and does not wait
 * (waitAsync compares atomically, too), or the waker sees the odd S and notifies. The waker
 * skips a notify only for a round (`q`) in which a notify has already woken a waiter; the one
 * waiter of that round is then already on its way back, and it re-checks IDX when it resumes.
 *
 * Why the waker never clears the sleeper's flag (no `compareExchange(S, 1, 0)` token, no
 * `exchange`, no dedupe on a notify that returned 0): the waker may have read S for an *old*
 * round. If it could clear or spend the flag, it would spend the new round's token before the
 * sleeper armed its wait, and that wake-up is lost. Every such variant lost wake-ups in the
 * measurements of C.2. Only the sleeper writes S; the waker's memory (`lastWoken`) is local and
 * is only set when `notify() > 0` proves that a waiter of round `q` was actually woken.
 *
 * Sequences are free-running and wrap through the int32 range; only their parity and equality
 * matter.
 */

/** Result of `Atomics.waitAsync` (ES2024; present on Node 20, absent from the ES2022 lib). */
type WaitAsyncResult =
  | { async: false; value: 'not-equal' | 'timed-out' }
  | { async: true; value: Promise<'ok' | 'timed-out'> };

type WaitAsync = (typed: Int32Array, index: number, value: number) => WaitAsyncResult;

/**
 * Read without naming the global: a runtime without Atomics (`--no-harmony-atomics`) must still
 * load the package, so that connect() can refuse with 'unsupported' (it checks `canWaitAsync`
 * first, so nothing calls an absent waitAsync).
 */
const waitAsync = (globalThis as { Atomics?: { waitAsync?: WaitAsync } }).Atomics
  ?.waitAsync as WaitAsync;

/** Whether this runtime has `Atomics.waitAsync`, which every sleeping side needs. */
export const canWaitAsync = typeof waitAsync === 'function';

/**
 * The sleeping side: announces the sleep in its sequence slot, re-checks the watched counter,
 * then waits without blocking. At most one wait is armed at a time.
 *
 * @example
 * ```ts
 * const sleeper = new Sleeper(header, RING_WRITE, RING_CONSUMER_SLEEP);
 * const wait = sleeper.sleep(lastSeenW); // undefined: W already moved, look again now
 * if (wait) await wait;
 * ```
 */
export class Sleeper {
  private readonly header: Int32Array;
  private readonly watched: number;
  private readonly sequence: number;
  /** The armed wait; reused so repeated calls never add a second round to the sequence. */
  private pending: Promise<void> | undefined;
  /** Bound once so arming a wait allocates only the promise. */
  private readonly woke = (): void => {
    this.pending = undefined;
    Atomics.add(this.header, this.sequence, 1); // publishes "awake" (even): this round is over
  };

  /**
   * @param header the ring header
   * @param watched Int32Array index of the counter the other side advances
   * @param sequence Int32Array index of this side's sleep sequence (written only here)
   */
  constructor(header: Int32Array, watched: number, sequence: number) {
    this.header = header;
    this.watched = watched;
    this.sequence = sequence;
  }

  /**
   * Sleep until the watched counter differs from `seen` (an int32, as stored).
   *
   * Returns undefined when it already differs (look again now), else a promise that resolves
   * after a waker's notify or {@link notifyAll}; the sequence is even again by then. While a
   * wait is armed, further calls return the same promise.
   */
  sleep(seen: number): Promise<void> | undefined {
    if (this.pending !== undefined) return this.pending;
    Atomics.add(this.header, this.sequence, 1); // publishes "about to sleep" (odd) to the waker
    // Observes the counter after the announcement; a change before it is caught here, and a
    // change after it is followed by the waker's notify.
    if (Atomics.load(this.header, this.watched) === seen) {
      const result = waitAsync(this.header, this.watched, seen);
      if (result.async) {
        this.pending = result.value.then(this.woke);
        return this.pending;
      }
    }
    Atomics.add(this.header, this.sequence, 1); // publishes "awake" (even): the counter moved
    return undefined;
  }
}

/**
 * The waking side: call {@link Waker.wake} right after each `Atomics.store` of the watched
 * counter. Notifies only when the sleeper announced a round that no notify has woken yet.
 *
 * @example
 * ```ts
 * Atomics.store(header, RING_WRITE, w); // publishes the new records
 * consumerWaker.wake();
 * ```
 */
export class Waker {
  private readonly header: Int32Array;
  private readonly watched: number;
  private readonly sequence: number;
  /** Round whose waiter a notify confirmed woken; even (never a round) until the first one. */
  private lastWoken = 0;

  /**
   * @param header the ring header
   * @param watched Int32Array index of the counter this side stores (the sleeper waits on it)
   * @param sequence Int32Array index of the sleeper's sleep sequence
   */
  constructor(header: Int32Array, watched: number, sequence: number) {
    this.header = header;
    this.watched = watched;
    this.sequence = sequence;
  }

  /** Wake the sleeper if it announced a sleep; must follow the store of the watched counter. */
  wake(): void {
    const q = Atomics.load(this.header, this.sequence); // observes the sleeper's current round
    if (
      (q & 1) !== 0 &&
      q !== this.lastWoken &&
      Atomics.notify(this.header, this.watched, 1) > 0 // wakes the one waiter on the counter
    ) {
      this.lastWoken = q;
    }
  }
}

/** Wake every waiter on one counter, whatever its round (shutdown: no wait stays pending). */
export function notifyAll(header: Int32Array, watched: number): void {
  Atomics.notify(header, watched); // wakes all waiters on the counter; their sleepers re-check
}
