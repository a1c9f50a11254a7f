/**
 * The reconnect policy: after a failed attempt or a lost connection, whether the client gives
 * up, and otherwise which server comes next and after what delay.
 *
 * - `connect()` without retryOnInitialConnect makes one pass over the pool, with no delay, and
 *   stops at once on refused credentials: the caller hears the error.
 * - Otherwise the client tries until `maxReconnects` consecutive attempts failed. The caller's
 *   reconnectToServer callback picks the server and delay when set (an address not in the pool
 *   falls back to the default choice); else the pool's order, and the delay callback or the
 *   default backoff (none after a loss: the first reconnect is immediate).
 */
import type { Remote } from '../shared/comlink.js';
import type { HostCallbacks } from '../shared/control.js';
import { NatsError } from '../shared/errors.js';
import { defaultReconnectDelay, type WorkerOptions } from '../shared/options.js';
import type { ServerInfo } from '../shared/server-info.js';
import { answerWithin } from './caller.js';
import type { PoolEntry, ServerPool } from './server-pool.js';

export interface NextAttempt {
  entry: PoolEntry;
  /** ms to wait first. */
  delay: number;
}

export class Reconnects {
  /** Consecutive failed connection attempts; reset by a connection and by setServerPool. */
  private failures = 0;
  /** Attempts left in connect()'s single pass over the pool. */
  private firstPassLeft: number;

  constructor(
    private readonly options: WorkerOptions,
    private readonly pool: ServerPool,
    /** The caller's callbacks, once start() has them. */
    private readonly caller: () => Remote<Required<HostCallbacks>> | null,
    /** A callback of the caller's failed (threw, or did not settle): a clientError. */
    private readonly report: (error: NatsError) => void,
  ) {
    this.firstPassLeft = pool.size;
  }

  failed(entry: PoolEntry, error: NatsError): void {
    this.pool.failed(entry, error);
    this.failures++;
  }

  connected(entry: PoolEntry): void {
    this.pool.connected(entry);
    this.failures = 0;
  }

  /** setServerPool: a fresh budget of attempts. */
  reset(): void {
    this.failures = 0;
  }

  /**
   * After a failed attempt (`error`) or a lost connection: the error the client ends with, or
   * undefined to go on. `everConnected`: the client has been connected before.
   */
  giveUp(error: NatsError | undefined, everConnected: boolean): NatsError | undefined {
    const { maxReconnects, retryOnInitialConnect } = this.options;
    if (!everConnected && !retryOnInitialConnect) {
      if (error?.kind === 'authorizationViolation' || --this.firstPassLeft === 0) return error;
      return undefined;
    }
    if (maxReconnects !== null && this.failures >= maxReconnects) {
      return new NatsError(
        'maxReconnects',
        `gave up after ${this.failures} failed connection attempts`,
      );
    }
    return undefined;
  }

  /** The next server and the delay before it; `lastInfo` is handed to reconnectToServer. */
  async next(everConnected: boolean, lastInfo: ServerInfo | undefined): Promise<NextAttempt> {
    if (!everConnected && !this.options.retryOnInitialConnect) {
      return { entry: this.pool.next(), delay: 0 };
    }
    // caller() only when calling it: it posts what waits for the caller's thread first.
    const caller = this.options.hasReconnectToServerCallback && lastInfo ? this.caller() : null;
    if (caller && lastInfo) {
      const choice = await this.ask('reconnectToServerCallback', () =>
        caller.reconnectToServer(this.pool.snapshot(), lastInfo),
      );
      const entry = choice ? this.pool.find(choice.addr) : undefined;
      if (entry && choice) return { entry, delay: delayOf(choice.delay) ?? 0 };
    }
    return {
      entry: this.pool.next(),
      delay: this.failures > 0 ? await this.delay(this.failures) : 0,
    };
  }

  private async delay(failures: number): Promise<number> {
    const caller = this.options.hasReconnectDelayCallback ? this.caller() : null;
    if (caller) {
      const ms = delayOf(
        await this.ask('reconnectDelayCallback', () => caller.reconnectDelay(failures)),
      );
      if (ms !== undefined) return ms;
    }
    return defaultReconnectDelay(failures);
  }

  /**
   * The caller's answer, or undefined when the callback threw or did not settle within
   * connectionTimeout (API.md "Every promise settles"): that counts as a failed attempt, and
   * the default choice is taken instead of stopping reconnects.
   */
  private async ask<T>(what: string, call: () => Promise<T>): Promise<T | undefined> {
    const ms = this.options.connectionTimeout;
    try {
      return await answerWithin(what, call, ms);
    } catch (error) {
      this.failures++;
      this.report(error as NatsError);
      return undefined;
    }
  }
}

/** A delay a callback gave, as a timer can take it (0..2^31 − 1 ms); undefined if unusable. */
function delayOf(value: unknown): number | undefined {
  const ms = Number(value ?? 0);
  if (!Number.isFinite(ms) || ms < 0) return undefined;
  return Math.min(Math.floor(ms), MAX_TIMER_MS);
}

/** Node turns longer timers into 1 ms ones. */
const MAX_TIMER_MS = 2 ** 31 - 1;
