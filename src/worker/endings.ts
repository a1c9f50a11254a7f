/**
 * Sessions ended on purpose (forceReconnect, close) whose sockets are still closing. Each is
 * half-closed and read until the server closes its side, having read everything: a socket whose
 * fd were closed with bytes still in the kernel would answer the server's next PING with a reset
 * that discards them, uncounted. What a session could not send is counted once it is done.
 *
 * Bounds: close() gives them what is left of its own bound (connectionTimeout for the whole
 * close), at most {@link CLOSE_TIMEOUT_MS}, then abandons them; one forceReconnect() left behind
 * is abandoned after {@link drainBound}, as a stale connection would be. Meanwhile it writes
 * copies of its own, never command-ring space (write-now.ts), so the next connection's publishes
 * do not wait for it. An abandoned socket counts what no PONG acknowledged (unflushed.ts).
 */
import { MAX_TIMER_MS, type WorkerOptions } from '../shared/options.js';
import { MAX_OUTSTANDING_PINGS } from './heartbeat.js';
import type { Session } from './session.js';

/**
 * How long close() waits at most for the server to close the sockets being ended, and the next
 * dial after forceReconnect() for the old one.
 */
export const CLOSE_TIMEOUT_MS = 2_000;

/**
 * How long a socket forceReconnect() ended may go on closing in the background: as long as a
 * connection whose server answers no PING takes to be found stale (pingInterval ×
 * (MAX_OUTSTANDING_PINGS + 1)), at least CLOSE_TIMEOUT_MS.
 */
export function drainBound(options: WorkerOptions): number {
  const stale = options.pingInterval * (MAX_OUTSTANDING_PINGS + 1);
  return Math.min(MAX_TIMER_MS, Math.max(CLOSE_TIMEOUT_MS, stale));
}

export class Endings {
  private readonly closing = new Map<Session, Promise<void>>();
  /** The session forceReconnect() ended last (its loss reads as forced), until it is closed. */
  private forced: { session: Session; closed: Promise<void> } | undefined;

  /** `notSent`: messages a session could not send, once it is done. */
  constructor(private readonly notSent: (messages: number) => void) {}

  /**
   * End `session` gracefully (again: the same end); resolves once its socket is closed or
   * abandoned (after `abandonAfterMs`, else by {@link settle}) and what it could not send is
   * counted.
   */
  end(session: Session, abandonAfterMs?: number): Promise<void> {
    let done = this.closing.get(session);
    if (done === undefined) {
      done = session.close(abandonAfterMs).then((messages) => {
        this.closing.delete(session);
        this.notSent(messages);
      });
      this.closing.set(session, done);
    }
    return done;
  }

  /** forceReconnect(): end `session`, in the background after {@link forcedHeadStart}. */
  force(session: Session, options: WorkerOptions): void {
    const forced = { session, closed: this.end(session, drainBound(options)) };
    this.forced = forced;
    // Once closed it is only asked wasForced() (before this settles) and must not keep the
    // session (its parser buffer, its writer) alive until the next forceReconnect().
    void forced.closed.then(() => {
      if (this.forced === forced) this.forced = undefined;
    });
  }

  /** Whether `session` was ended by forceReconnect(). */
  wasForced(session: Session): boolean {
    return this.forced?.session === session;
  }

  /**
   * Before the next dial after forceReconnect(): the server reads each connection on its own,
   * so PUBs sent on the next one while the old socket still drains could be routed before the
   * old one's. The server closes its side after reading our end, so waiting for that puts the
   * next connection's after all of them; after half of `options.connectionTimeout`, at most
   * CLOSE_TIMEOUT_MS (or `signal`), the old socket goes on closing in the background. Not
   * longer: flushes made meanwhile fail 2 × connectionTimeout after the disconnect (flushes.ts),
   * a bound the wait, the reconnect callbacks (connectionTimeout at most) and the next dial must
   * fit in; a server that reads our end at all does so in milliseconds.
   */
  forcedHeadStart(signal: AbortSignal, options: WorkerOptions): Promise<void> {
    const closed = this.forced?.closed;
    if (closed === undefined || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      // Whichever comes first ends the wait and stops the others (no timer outlives it).
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.min(CLOSE_TIMEOUT_MS, options.connectionTimeout / 2));
      signal.addEventListener('abort', done, { once: true });
      void closed.then(done);
    });
  }

  /** Waits for every socket still closing, abandoning those not closed within `ms` (≤ 0: now). */
  async settle(ms: number): Promise<void> {
    if (this.closing.size === 0) return;
    const timer = setTimeout(
      () => {
        for (const session of this.closing.keys()) session.abandon();
      },
      Math.max(0, ms),
    );
    await Promise.all(this.closing.values());
    clearTimeout(timer);
  }
}
