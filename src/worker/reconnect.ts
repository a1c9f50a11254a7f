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
      try {
        const choice = await caller.reconnectToServer(this.pool.snapshot(), lastInfo);
        const entry = choice ? this.pool.find(choice.addr) : undefined;
        if (entry && choice) {
          const delay = Number(choice.delay ?? 0);
          return { entry, delay: Number.isFinite(delay) && delay > 0 ? delay : 0 };
        }
      } catch {
        // A throwing callback falls back to the default choice rather than stopping reconnects.
      }
    }
    return {
      entry: this.pool.next(),
      delay: this.failures > 0 ? await this.delay(this.failures) : 0,
    };
  }

  private async delay(failures: number): Promise<number> {
    const caller = this.options.hasReconnectDelayCallback ? this.caller() : null;
    if (caller) {
      try {
        const ms = Number(await caller.reconnectDelay(failures));
        if (Number.isFinite(ms) && ms >= 0) return ms;
      } catch {
        // A throwing callback falls back to the default backoff rather than stopping reconnects.
      }
    }
    return defaultReconnectDelay(failures);
  }
}
