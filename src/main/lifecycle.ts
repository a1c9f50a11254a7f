/**
 * How a client ends. drain(): from then on new work is refused ('draining'), every
 * subscription stops, a flush proves the server has seen it all, requests already waiting
 * get their replies and async callbacks settle (bounded), then it closes. close(): new work is
 * refused and subscriptions get no more messages at once, publishes still waiting on this
 * thread get their chance to reach the ring, the worker sends the ring and ends, then every
 * pending thing fails (flushes, requests, subscriptions) and closed() settles (API.md
 * "Guarantees": nothing lost silently, every promise settles).
 */
import { acceptedMessages, NatsError } from '../shared/errors.js';
import { type RingBuffers, wakeAll } from '../shared/ring/byte-ring.js';
import type { Dispatcher } from './dispatcher.js';
import type { Event, State } from './events.js';
import type { Flushes } from './flushes.js';
import type { Publisher } from './publisher.js';
import type { RequestMux } from './request-mux.js';
import type { Subscriber } from './subscriber.js';
import type { Subscriptions } from './subscriptions.js';
import type { WorkerLink } from './worker-host.js';

/** The parts of a client its end goes through (no options: they hold secrets). */
export interface LifecycleParts {
  readonly publisher: Publisher;
  readonly dispatcher: Dispatcher;
  readonly host: WorkerLink;
  readonly rings: { command: RingBuffers; delivery: RingBuffers };
  readonly flushes: Flushes;
  readonly mux: RequestMux;
  readonly subs: Subscriptions;
  readonly requestTimeout: number | null;
  readonly connectionTimeout: number;
  emit(event: Event): void;
  /** The connection's state in shared memory (asked before the client counts as closed). */
  connectionState(): State;
  /** The client's flush(). */
  flush(): Promise<void>;
}

export class Lifecycle {
  private closing: Promise<void> | null = null;
  private closedError: NatsError | null = null;
  /** drain() has started: new publishes, subscriptions and requests fail with 'draining'. */
  private draining: Promise<void> | null = null;
  private closedResolve!: (error: NatsError | undefined) => void;
  /** Settles when the client is closed: undefined after close(), else the error that ended it. */
  readonly closed = new Promise<NatsError | undefined>((resolve) => {
    this.closedResolve = resolve;
  });

  constructor(private readonly parts: LifecycleParts) {}

  /** Why the client is closed (set once close() stops taking work); null before. */
  get closedWith(): NatsError | null {
    return this.closedError;
  }

  /** drain() has started. */
  get isDraining(): boolean {
    return this.draining !== null;
  }

  /** close() (or drain's close, or the worker's end) has started. */
  get isClosing(): boolean {
    return this.closing !== null;
  }

  /** Throws 'closed' or 'draining' when `what` may not start any more. */
  refuseNewWork(what: string): void {
    if (this.closedError) throw new NatsError('closed', `${what} on a closed client`);
    if (this.draining) throw new NatsError('draining', `${what} after drain() started`);
  }

  /** Starts draining once; every call gets the same promise. */
  drain(): Promise<void> {
    if (this.draining === null) {
      let follow!: (run: Promise<void>) => void;
      // Started before its first step: handlers of the 'draining' event it emits find new work
      // refused, and their drain() gets this same promise.
      this.draining = new Promise<void>((resolve) => {
        follow = resolve;
      });
      follow(this.runDrain());
    }
    return this.draining;
  }

  private async runDrain(): Promise<void> {
    const { parts } = this;
    parts.emit({ type: 'draining' });
    const subs = this.userSubscriptions();
    for (const sub of subs) parts.subs.unsubscribe(sub, 0);
    try {
      // Its PONG comes after every message the server sent before the UNSUBs.
      await parts.flush().catch((error: unknown) => {
        if (!(error instanceof NatsError)) throw error;
        // Refused because this thread holds maxPendingBytes already: close sends them.
        if (error.kind === 'clientCapacity') return;
        // Not acknowledged (no connection, a server that does not read, a connection lost):
        // drain goes on and resolves as close() does, closed() counting what was not sent
        // (API.md) — but with requestTimeout(null), whose drain this rejection bounds.
        if (error.kind === 'io' || (error.kind === 'timedOut' && parts.requestTimeout !== null)) {
          return;
        }
        throw error;
      });
      for (const sub of subs) sub.end();
      // Requests already waiting get their replies (API.md), and async callbacks still at work
      // on delivered messages publish theirs (a responder's): within the requests' own
      // timeouts; otherwise within the default's or 2 × connectionTimeout, so that drain settles.
      const requestTimeout = parts.requestTimeout ?? 0;
      await settledWithin(
        Promise.all([parts.mux.settled(), parts.subs.callbacksSettled()]),
        Math.max(
          requestTimeout,
          2 * parts.connectionTimeout,
          // A request ends at its deadline by its own timer (then once what arrived is
          // dispatched): a bound at the same moment raced it, cutting it short as 'closed'.
          parts.mux.latestDeadline() - performance.now() + DEADLINE_GRACE_MS,
        ),
      );
      if (parts.subs.unsettled > 0) {
        // API.md: a callback that never settled is a 'callback' error; one report, not a timer
        // per message.
        parts.emit({
          type: 'clientError',
          error: new NatsError(
            'callback',
            `${parts.subs.unsettled} promise(s) subscription callbacks returned had not settled when drain() closed the client`,
          ),
        });
      }
    } finally {
      for (const sub of subs) sub.end();
      await this.shutdown(undefined);
    }
  }

  /** The caller's subscriptions: not those of the request mux, which end with its close(). */
  private userSubscriptions(): Subscriber[] {
    return this.parts.subs.list().filter((sub) => !this.parts.mux.owns(sub));
  }

  /**
   * The worker ended the client (its loop gave up, or the thread exited): reported right before
   * 'closed' (API.md "Details": `'maxReconnects'`, then `'closed'`; what was not sent before them).
   */
  ended(error: NatsError): void {
    // A close() under way settles as it began; the error is still reported.
    if (this.closing) this.parts.emit({ type: 'clientError', error });
    else void this.shutdown(error, true, true);
  }

  /**
   * Closes once (`error`: what ended the client, if not close(); `report`: emit it as a
   * clientError before 'closed'); every call gets the same promise.
   */
  shutdown(error: NatsError | undefined, emitClosed = true, report = false): Promise<void> {
    const { parts } = this;
    this.closing ??= (async () => {
      // From here on the client refuses new work ('closed'): a subscription or request made
      // during the wait below would outlive the ends below it.
      this.closedError = error ?? new NatsError('closed', 'client is closed');
      if (error === undefined) {
        // close() delivers nothing more: a callback would run while the client refuses what it
        // does (a responder's respond() threw 'closed', one 'callback' report each). Iterators
        // end after what they hold. The request mux's own subscriptions stay until it closes
        // (a request pending at close() rejects 'closed'); an end by the worker keeps the
        // order below (its clientError first).
        for (const sub of this.userSubscriptions()) sub.end();
      }
      // One bound for the whole close (API.md: what the server does not read within
      // connectionTimeout is counted as not sent): this thread's wait, then the worker's.
      const deadline = performance.now() + parts.connectionTimeout;
      const workerAlive = error?.kind !== 'workerExited';
      if (workerAlive && parts.publisher.waiting > 0 && parts.connectionState() === 'connected') {
        // Publishes still waiting on this thread get their chance to reach the ring first
        // (the worker sends the whole ring before it ends the socket).
        await parts.publisher.drained(parts.connectionTimeout);
      }
      /** What closed() settles with: the error that ended the client, else what was not sent. */
      let outcome = error;
      // What still waits on this thread is not sent; the worker says how much of the ring.
      let notSent = parts.publisher.waitingMessages;
      parts.publisher.publishNow();
      const died = error?.kind === 'workerExited' ? error : undefined;
      // Counted: nothing more may move from this thread into the ring (the worker would send
      // it or count it again).
      parts.publisher.close(cutShortBy(this.closedError, 'publishing could go on'));
      try {
        const left = Math.max(0, Math.round(deadline - performance.now()));
        notSent += await parts.host.call((api) => api.close(left));
      } catch {
        // the worker is gone already: nothing left to close there
      }
      // A dead worker cannot say what its ring still held: its one clientError,
      // 'workerExited', is the whole story (API.md), not a partial count.
      if (notSent > 0 && error?.kind !== 'workerExited') {
        const unsent = new NatsError(
          'notSent',
          `not sent: ${acceptedMessages(notSent)} (written to a connection that failed before a PONG confirmed them, so possibly lost; refused by a later server's max_payload or lack of headers; or at close disconnected or not read by the server within connectionTimeout)`,
          { count: notSent },
        );
        parts.emit({ type: 'clientError', error: unsent });
        outcome ??= unsent;
      }
      if (report && error) parts.emit({ type: 'clientError', error });
      parts.dispatcher.stop();
      wakeAll(parts.rings.command); // no waitAsync stays pending
      wakeAll(parts.rings.delivery);
      parts.flushes.close(died);
      parts.mux.close(cutShortBy(this.closedError, 'the reply arrived'));
      parts.subs.endAll(error);
      await parts.host.shutdown();
      if (emitClosed) parts.emit({ type: 'closed' });
      this.closedResolve(outcome);
    })();
    return this.closing;
  }
}

/**
 * What a call the end of the client cut short fails with, `ended` being what ended it: a dead
 * worker is what pending calls learn; otherwise that the client closed before `what` (API.md:
 * after 'maxReconnects' too, later calls fail with 'closed').
 */
export function cutShortBy(ended: NatsError, what: string): NatsError {
  return ended.kind === 'workerExited'
    ? ended
    : new NatsError('closed', `client closed before ${what}`);
}

/** How long drain() waits past the latest request deadline for that request to end itself. */
const DEADLINE_GRACE_MS = 100;

/** Resolves when `promise` settles or `ms` have passed, whichever is first; never rejects. */
function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([
    promise.then(
      () => {},
      () => {},
    ),
    bound,
  ]).finally(() => clearTimeout(timer));
}
