/**
 * The reconnect policy, async-nats's (reference/async-nats.md §1): before every connection
 * attempt — the first one too, and one per server tried — whether the client gives up, which
 * server comes next and after what delay.
 *
 * - `attempts` counts every server tried since the last connection (or setServerPool), and
 *   every callback below that threw or did not settle (API.md: a failed attempt); past
 *   `maxReconnects` (null: no limit) the client ends with 'maxReconnects', also during
 *   connect()'s first pass and with retryOnInitialConnect.
 * - `reconnectToServerCallback`, when set, picks the server at every attempt (with the default
 *   ServerInfo before the first INFO); its delay, or else the delay callback's, is waited. An
 *   address not in the pool is a clientError 'serverNotInPool' and the default choice is taken.
 * - Otherwise the pool's order, after `reconnectDelayCallback(attempts)` or the default backoff
 *   (0, 2, 4, 8 … ms, at most 4 s).
 * - `connect()` without retryOnInitialConnect makes one pass over the pool and stops at once on
 *   refused credentials: the caller hears the error.
 * - A connection the server ends with an -ERR soon after it opened (something this client
 *   re-sends on every connection makes it refuse each one; a subscription past its
 *   max_control_line was one, now ended instead: replay-fence.ts) resets `attempts` but counts
 *   as a failed attempt for the delay, the default's and the delay callback's count, until a
 *   connection lasts (without it: ~500 connections a second, none of them usable). So does one
 *   that ends soon without a word, from the second in a row: a server restarted just after
 *   the client connected ends one (async-nats's count, kept), while a server or proxy that takes
 *   every connection and drops it made ~1,800 connections a second.
 */
import type { Remote } from '../shared/comlink.js';
import type { HostCallbacks } from '../shared/control.js';
import { describe } from '../shared/describe.js';
import { NatsError } from '../shared/errors.js';
import { defaultReconnectDelay, MAX_TIMER_MS, type WorkerOptions } from '../shared/options.js';
import { defaultServerInfo, type ServerInfo } from '../shared/server-info.js';
import type { CallerCalls } from './caller.js';
import type { PoolEntry, ServerPool } from './server-pool.js';

/**
 * A connection that ends sooner than this after opening may count toward
 * {@link Reconnects.quickEnds}; one that lasts this long resets them.
 */
const QUICK_END_MS = 4_000;

/** What delayGiven() says of a delay a callback gave that no timer can take. */
const UNUSABLE = -1;

export interface NextAttempt {
  entry: PoolEntry;
  /** ms to wait first. */
  delay: number;
}

export class Reconnects {
  /** Servers tried since the last connection; reset by a connection and by setServerPool. */
  private attempts = 0;
  /** Attempts left in connect()'s single pass over the pool. */
  private firstPassLeft: number;
  /** Connections in a row that ended within QUICK_END_MS of opening. */
  private quickInARow = 0;
  /** Those of them that count for the delay: by an -ERR, or not the first in the row. */
  private quickEnds = 0;
  private connectedAt = 0;

  constructor(
    private readonly options: WorkerOptions,
    private readonly pool: ServerPool,
    /** The caller's callbacks, once start() has them. */
    private readonly caller: () => Remote<Required<HostCallbacks>> | null,
    /** A clientError for the caller: a callback of theirs failed, or chose no pool server. */
    private readonly report: (error: NatsError) => void,
    /** Bounds the calls to those callbacks. */
    private readonly calls: CallerCalls,
  ) {
    this.firstPassLeft = pool.size;
  }

  failed(entry: PoolEntry, error: NatsError): void {
    this.pool.failed(entry, error);
  }

  connected(entry: PoolEntry): void {
    this.pool.connected(entry);
    this.attempts = 0;
    this.connectedAt = performance.now();
  }

  /**
   * The connection ended: `failed` unless this client ended it (forceReconnect),
   * `byServerError` by a fatal -ERR. Returns whether it ended within QUICK_END_MS of opening.
   */
  ended(failed: boolean, byServerError: boolean): boolean {
    if (performance.now() - this.connectedAt >= QUICK_END_MS) {
      this.quickEnds = this.quickInARow = 0;
      return false;
    }
    if (!failed) {
      this.quickInARow = 0; // this client's own end breaks the row
      return true;
    }
    this.quickInARow++;
    if (byServerError || this.quickInARow > 1) this.quickEnds++;
    return true;
  }

  /** setServerPool: a fresh budget of attempts, and a fresh backoff. */
  reset(): void {
    this.attempts = 0;
    this.quickEnds = this.quickInARow = 0;
  }

  /**
   * After a failed attempt (`error`) or a lost connection: connect()'s single pass ends with
   * the error that ends it, else undefined (go on). `everConnected`: connected before.
   */
  endOfFirstPass(error: NatsError | undefined, everConnected: boolean): NatsError | undefined {
    if (everConnected || this.options.retryOnInitialConnect) return undefined;
    if (error?.kind === 'authorizationViolation' || --this.firstPassLeft === 0) return error;
    return undefined;
  }

  /**
   * Before every attempt: the server and the delay before it, or the 'maxReconnects' error to
   * end with. `lastInfo`: the last INFO, for reconnectToServer.
   */
  async next(lastInfo: ServerInfo | undefined): Promise<NextAttempt | NatsError> {
    this.attempts++;
    if (this.pastMax()) return this.givingUp();
    // caller() only when calling it: it posts what waits for the caller's thread first.
    const caller = this.options.hasReconnectToServerCallback ? this.caller() : null;
    if (caller) {
      const info = lastInfo ?? defaultServerInfo();
      const choice = await this.ask('reconnectToServerCallback', () =>
        caller.reconnectToServer(this.pool.snapshot(), info),
      );
      if (this.pastMax()) return this.givingUp();
      if (choice) {
        const entry = this.pool.find(choice.addr);
        if (entry) {
          const given = this.delayGiven('reconnectToServerCallback', choice.delay);
          // An unusable delay fails the whole answer, as a throw does: the default choice.
          if (given !== UNUSABLE) return this.attempt(entry, given ?? (await this.delay()));
        } else {
          this.report(
            new NatsError(
              'serverNotInPool',
              `reconnectToServerCallback chose ${JSON.stringify(String(choice.addr))}, which is not in the server pool; the default choice is taken`,
            ),
          );
        }
      }
    }
    // An unusable answer above may have been the last failed attempt allowed: no more callbacks.
    if (this.pastMax()) return this.givingUp();
    const delay = await this.delay();
    return this.attempt(this.pool.next(), delay);
  }

  /**
   * The attempt to make, or 'maxReconnects' when a callback that failed on the way was the
   * last failed attempt allowed (ask() counts it).
   */
  private attempt(entry: PoolEntry, delay: number): NextAttempt | NatsError {
    return this.pastMax() ? this.givingUp() : { entry, delay };
  }

  private pastMax(): boolean {
    const max = this.options.maxReconnects;
    return max !== null && this.attempts > max;
  }

  private givingUp(): NatsError {
    return new NatsError(
      'maxReconnects',
      `gave up after ${this.attempts - 1} failed connection attempts (maxReconnects ${this.options.maxReconnects})`,
    );
  }

  private async delay(): Promise<number> {
    const attempts = this.attempts + this.quickEnds;
    const caller = this.options.hasReconnectDelayCallback ? this.caller() : null;
    if (caller) {
      const answer = await this.ask('reconnectDelayCallback', () =>
        caller.reconnectDelay(attempts),
      );
      const ms = this.delayGiven('reconnectDelayCallback', answer);
      if (ms !== undefined && ms !== UNUSABLE) return ms;
    }
    return defaultReconnectDelay(attempts);
  }

  /**
   * The delay a callback gave, as a timer takes it; undefined for none (null, undefined: the
   * default). Anything but 0..2^31 − 1 ms (API.md's durations) is a failed callback, as a throw
   * is: reported, counted as a failed attempt, and {@link UNUSABLE} (NaN, Infinity or -5 were
   * taken for no delay, 2^31 for 24 days).
   */
  private delayGiven(what: string, value: unknown): number | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'number' && value >= 0 && value <= MAX_TIMER_MS) return Math.floor(value);
    this.attempts++;
    this.report(
      new NatsError(
        'callback',
        `${what} gave the delay ${describe(value)}, not a number of milliseconds from 0 to ${MAX_TIMER_MS}; the default is taken`,
      ),
    );
    return UNUSABLE;
  }

  /**
   * The caller's answer, or undefined when the callback threw, did not settle within
   * connectionTimeout (API.md "Every promise settles") or has not settled since an earlier
   * attempt (caller.ts): that counts as a failed attempt (next() ends the reconnects when it
   * was the last one maxReconnects allows), and the default choice is taken instead.
   */
  private async ask<T>(what: string, call: () => Promise<T>): Promise<T | undefined> {
    const ms = this.options.connectionTimeout;
    try {
      return await this.calls.answer(what, call, ms);
    } catch (error) {
      this.attempts++;
      this.report(error as NatsError);
      return undefined;
    }
  }
}
