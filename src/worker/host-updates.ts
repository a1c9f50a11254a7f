/**
 * What the worker tells the caller's thread about the connection (events, the last INFO, the
 * server pool), batched: a hostile or broken server (a `-ERR` per millisecond, slow consumers
 * on many subscriptions, INFO after INFO) must neither flood the main thread with comlink calls
 * nor grow the worker's memory while the main thread is busy.
 *
 * - At most one batch is in flight: the next is posted once the caller's thread has taken the
 *   last (its comlink reply), so a blocked main thread holds one batch, not one per event.
 * - Batches are posted at most once per turn and at most once per {@link MIN_POST_INTERVAL_MS}:
 *   a lone event goes out at the end of its turn; a flood goes out in batches.
 * - The queue is bounded by {@link MAX_QUEUED_EVENTS} and {@link MAX_QUEUED_ERROR_TEXT}; past
 *   either the oldest events are dropped and the next batch starts with one 'clientError'
 *   counting them. Never the first 'connected': connect() resolves once its caller heard it.
 * - INFO and pool are state, not events: only the latest is kept, and the pool is snapshotted
 *   when the batch is posted. A 'connected' event carries both (the caller applies them before
 *   its listeners run); an update that comes after it while it waits goes into it, so the
 *   caller never applies an older INFO after a newer one. Older waiting 'connected' events
 *   (connections already gone, while the caller's thread was busy) keep theirs too, so that
 *   their listeners also observe their connection (API.md "What you observe is consistent"),
 *   within {@link MAX_GONE_STATE_CHARS}: past it the oldest lose theirs.
 * - Repeats are coalesced (API.md: "queued events (coalesced, never one comlink call per
 *   message)"): a `serverError` or `clientError` whose kind and message equal those of the last
 *   waiting event of its type, right behind it, is not queued; that event's `error.count` says
 *   how many it stands for. So are failed connection attempts ({@link attemptFailed}) of one
 *   kind in a row: a sweep through the pool is one event, with the latest attempt's error (each
 *   server's own last error is in the pool).
 * - {@link flush} posts at once, in flight or not: before any other call to the caller's thread
 *   (on the same port, so they stay in order) and at close. {@link flushStateChanges}, before
 *   the caller's reconnect callbacks, only when a state change waits: a sweep of failed
 *   attempts must not become one post per attempt.
 */
import type { HostUpdate, WireEvent, WireServer } from '../shared/control.js';
import { NatsError, toWire, type WireError } from '../shared/errors.js';
import type { ServerInfo } from '../shared/server-info.js';

/**
 * Events waiting for the caller's thread, at most (API.md: a status() reader holds as many).
 * Overflow: the oldest are dropped and counted in one 'clientError' at the head of the next batch.
 */
export const MAX_QUEUED_EVENTS = 1024;
/**
 * Error text in waiting events, at most, in characters (a `-ERR` line may be 64 KiB long).
 * Overflow: as for {@link MAX_QUEUED_EVENTS}. The newest INFO and pool snapshot are not counted:
 * their size is bounded by the parser's INFO line limit and the pool's bound.
 */
export const MAX_QUEUED_ERROR_TEXT = 1024 * 1024;
/**
 * INFO and pool kept by waiting 'connected' events of connections already gone, at most, in
 * characters of their JSON (a few KiB each from a real server; a hostile INFO may be 1 MiB).
 */
export const MAX_GONE_STATE_CHARS = 1024 * 1024;
/** Least time between two batches: a flood of events costs the main thread ≤ 100 calls/s. */
export const MIN_POST_INTERVAL_MS = 10;

type Connected = Extract<WireEvent, { type: 'connected' }>;
type ErrorEvent = Extract<WireEvent, { type: 'serverError' | 'clientError' }>;

export class HostUpdates {
  private events: WireEvent[] = [];
  private text = 0;
  private dropped = 0;
  /** An INFO for the caller, when no waiting 'connected' carries it, and its connection. */
  private info: ServerInfo | undefined;
  private infoOf = 0;
  private poolDirty = false;
  /** The newest 'connected' still waiting: the one later INFO and pool updates go into. */
  private connected: Connected | undefined;
  /** Older waiting 'connected' events that still carry their INFO and pool, oldest first. */
  private readonly gone = new Map<Connected, number>();
  private goneChars = 0;
  /** Batches posted and not yet taken (more than one only after a flush()). */
  private inFlight = 0;
  private timeout: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private lastPost = Number.NEGATIVE_INFINITY;
  /** The waiting event of the last failed attempt, while it is the last event queued. */
  private lastAttempt: ErrorEvent | undefined;
  /** The client's first 'connected' until it is posted: connect() waits for it, never dropped. */
  private firstConnected: Connected | undefined;
  private hadConnected = false;

  constructor(
    /** Hands a batch to the caller's thread; settles once it has taken it (undefined: gone). */
    private readonly post: (update: HostUpdate) => Promise<unknown> | undefined,
    private readonly pool: () => WireServer[],
  ) {}

  event(event: WireEvent): void {
    const last = this.events.at(-1);
    if (last !== undefined && isError(last) && isError(event) && repeats(last, event)) {
      this.countAgain(last, event.error);
      return;
    }
    this.lastAttempt = undefined;
    this.queue(event);
  }

  /** A failed connection attempt's clientError: one event for a run of them of one kind. */
  attemptFailed(event: ErrorEvent): void {
    const last = this.lastAttempt;
    if (last !== undefined && last === this.events.at(-1) && last.error.kind === event.error.kind) {
      this.countAgain(last, event.error);
      return;
    }
    this.queue(event);
    this.lastAttempt = event;
  }

  /** {@link flush}, if a state change ('connected', 'disconnected', 'closed') waits. */
  flushStateChanges(): void {
    if (this.events.some((e) => STATE_CHANGES.has(e.type))) this.flush();
  }

  /** `last` stands for one more occurrence, now `error` (the newest of its kind). */
  private countAgain(last: ErrorEvent, error: WireError): void {
    this.text += errorText(error) - errorText(last.error);
    last.error = { ...error, count: (last.error.count ?? 1) + 1 };
    this.bound();
    this.schedule();
  }

  private queue(event: WireEvent): void {
    if (event.type === 'connected') {
      if (!this.hadConnected) this.firstConnected = event;
      this.hadConnected = true;
      if (this.connected) this.keepGone(this.connected);
      this.connected = event;
      // It carries a newer INFO and pool than any waiting before it.
      this.info = undefined;
      this.poolDirty = false;
    }
    this.events.push(event);
    this.text += eventText(event);
    this.bound();
    this.schedule();
  }

  /**
   * `event`'s connection is gone, a newer one waits behind it: it keeps its INFO and pool within
   * {@link MAX_GONE_STATE_CHARS} (the oldest lose theirs first: the caller then sees the
   * state before them, as it did before a 'connected' event carried any).
   */
  private keepGone(event: Connected): void {
    const chars = stateChars(event);
    this.gone.set(event, chars);
    this.goneChars += chars;
    for (const [oldest, size] of this.gone) {
      if (this.goneChars <= MAX_GONE_STATE_CHARS) break;
      oldest.info = undefined;
      oldest.servers = undefined;
      this.forgetGone(oldest, size);
    }
  }

  private forgetGone(event: Connected, chars: number): void {
    this.gone.delete(event);
    this.goneChars -= chars;
  }

  /** An INFO on the open connection, the worker's `connection`th. */
  serverInfo(info: ServerInfo, connection: number): void {
    if (this.connected) this.connected.info = info;
    else {
      this.info = info;
      this.infoOf = connection;
    }
    this.schedule();
  }

  poolChanged(): void {
    this.poolDirty = true;
    this.schedule();
  }

  /** Post what waits now, even with a batch in flight. */
  flush(): void {
    this.cancelTimer();
    if (this.pending()) this.send();
  }

  private pending(): boolean {
    return this.events.length > 0 || this.info !== undefined || this.poolDirty || this.dropped > 0;
  }

  /** Past either bound, the oldest waiting events go (counted). */
  private bound(): void {
    while (this.events.length > MAX_QUEUED_EVENTS || this.text > MAX_QUEUED_ERROR_TEXT) {
      this.dropOldest();
    }
  }

  private dropOldest(): void {
    const at = this.events[0] === this.firstConnected ? 1 : 0;
    const [event] = this.events.splice(at, 1) as [WireEvent];
    this.text -= eventText(event);
    if (event === this.lastAttempt) this.lastAttempt = undefined;
    if (event.type === 'connected' && this.gone.has(event)) {
      this.forgetGone(event, this.gone.get(event) as number);
    }
    this.dropped++;
    if (event === this.connected) {
      // What it carried still describes the connection: it goes with the batch instead.
      this.connected = undefined;
      this.info = event.info;
      this.infoOf = event.connection;
      this.poolDirty = true;
    }
  }

  private schedule(): void {
    if (this.inFlight > 0 || this.timeout || this.immediate || !this.pending()) return;
    const wait = this.lastPost + MIN_POST_INTERVAL_MS - performance.now();
    // Unref'd: what waits is posted by flush() at close; it must not keep a closing worker up.
    if (wait > 0) this.timeout = setTimeout(this.fire, Math.ceil(wait)).unref();
    else this.immediate = setImmediate(this.fire).unref();
  }

  private readonly fire = (): void => {
    this.timeout = undefined;
    this.immediate = undefined;
    if (this.inFlight > 0 || !this.pending()) return;
    // Timers count whole milliseconds of a clock that lags this one: one may come a little early.
    if (performance.now() < this.lastPost + MIN_POST_INTERVAL_MS) this.schedule();
    else this.send();
  };

  private cancelTimer(): void {
    clearTimeout(this.timeout);
    clearImmediate(this.immediate);
    this.timeout = undefined;
    this.immediate = undefined;
  }

  private send(): void {
    const update: HostUpdate = { events: this.events };
    if (this.poolDirty) {
      const servers = this.pool();
      if (this.connected) this.connected.servers = servers;
      else update.servers = servers;
    }
    if (this.info !== undefined) {
      update.info = this.info;
      update.infoOf = this.infoOf;
    }
    if (this.dropped > 0) {
      const error = new NatsError(
        'clientCapacity',
        `${this.dropped} events dropped: the caller's thread did not take them in time (at most ${MAX_QUEUED_EVENTS} events, ${MAX_QUEUED_ERROR_TEXT} characters of error text wait)`,
      );
      update.events.unshift({ type: 'clientError', error: toWire(error) });
    }
    this.events = [];
    this.firstConnected = undefined;
    this.lastAttempt = undefined;
    this.text = 0;
    this.dropped = 0;
    this.info = undefined;
    this.poolDirty = false;
    this.connected = undefined;
    this.gone.clear();
    this.goneChars = 0;
    this.lastPost = performance.now();
    const taken = this.post(update);
    if (taken === undefined) return;
    this.inFlight++;
    const done = (): void => {
      this.inFlight--;
      this.schedule();
    };
    taken.then(done, done);
  }
}

const STATE_CHANGES = new Set<WireEvent['type']>(['connected', 'disconnected', 'closed']);

function isError(event: WireEvent): event is ErrorEvent {
  return event.type === 'serverError' || event.type === 'clientError';
}

/** Whether `event` repeats `last`: same type, kind and message. */
function repeats(last: ErrorEvent, event: ErrorEvent): boolean {
  return (
    last.type === event.type &&
    last.error.kind === event.error.kind &&
    last.error.message === event.error.message
  );
}

/** What an event holds beyond its fixed shape: the characters of its error text. */
function eventText(event: WireEvent): number {
  return isError(event) ? errorText(event.error) : 0;
}

/** The size of what a 'connected' event carries, as characters of JSON. */
function stateChars(event: Connected): number {
  return JSON.stringify(event.info ?? null).length + JSON.stringify(event.servers ?? null).length;
}

function errorText(error: WireError): number {
  let chars = 0;
  for (let e: WireError | undefined = error; e !== undefined; e = e.cause) {
    chars += e.message.length;
  }
  return chars;
}
