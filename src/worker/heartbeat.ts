/**
 * Keep-alive of one session: a PING every `pingInterval`; when {@link MAX_OUTSTANDING_PINGS}
 * of them are still unanswered at a tick, the connection is stale. Any PONG answers them all
 * (the server answers in order, so it is alive and reading).
 *
 * While we do not read the socket on purpose (the delivery backlog is past its bound), no PONG
 * can arrive: the heartbeat is paused, PINGs are neither sent nor counted, and counting starts
 * afresh a full interval after reading resumes. An interval of 0 (`pingInterval(0)`) sends no
 * PINGs at all.
 */

/** Unanswered heartbeat PINGs after which the connection is stale. */
export const MAX_OUTSTANDING_PINGS = 2;

export interface HeartbeatActions {
  /** Write a PING (and queue its purpose for the PONG). */
  ping(): void;
  /** The server left MAX_OUTSTANDING_PINGS unanswered. */
  stale(): void;
}

export class Heartbeat {
  private outstanding = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private paused = false;

  constructor(
    private readonly interval: number,
    private readonly actions: HeartbeatActions,
  ) {}

  /** The session is open: start ticking (unless reading is paused). */
  start(): void {
    this.running = true;
    this.arm();
  }

  stop(): void {
    this.running = false;
    this.disarm();
  }

  /** A PONG came: the server is alive. */
  answered(): void {
    this.outstanding = 0;
  }

  /** We stopped reading the socket: PONGs cannot arrive until {@link resume}. */
  pause(): void {
    this.paused = true;
    this.disarm();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    // PONGs to PINGs sent before the pause may still sit unread behind the backlog.
    this.outstanding = 0;
    this.arm();
  }

  private arm(): void {
    if (!this.running || this.paused || this.timer !== undefined || this.interval === 0) return;
    this.timer = setInterval(() => this.tick(), this.interval);
    // The socket keeps the worker alive; the timer must not keep a closing worker up.
    this.timer.unref();
  }

  private disarm(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    if (this.outstanding >= MAX_OUTSTANDING_PINGS) {
      this.stop();
      this.actions.stale();
      return;
    }
    this.outstanding++;
    this.actions.ping();
  }
}
