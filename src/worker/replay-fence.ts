/**
 * nats-server ends a connection on a control line longer than its max_control_line ("-ERR
 * 'Maximum Control Line Exceeded'"), and its INFO does not say the limit. A PUB is not sent
 * again, but subscriptions are replayed on every new connection: one whose SUB line is too long
 * would end each of them, for ever. So after such an -ERR, or a connection lost soon after it
 * opened (the -ERR is lost when a write fails on the reset socket before it is read), the next
 * connection's replay is fenced: it goes out in slices, each followed by a PING and written
 * once the PONG of the one before came, and the command ring waits until the last PONG. A
 * slice fits the kernel's buffer, so no write is pending when the server refuses a line and
 * resets the connection, and its -ERR is read. An -ERR before the last PONG refused one of the
 * replay's lines, so the longest SUB line of all is too long (the refused one is longer than
 * the limit, and the longest at least as long): that subscription is dropped (connection.ts),
 * and the next replay is fenced again. Once a fenced replay is answered, nothing is fenced
 * until the next such end.
 */
import type { Session } from './session.js';
import type { SubscriptionTable } from './subscriptions.js';

const REFUSED = /^maximum control line exceeded/i;
/** Replay bytes per slice: what a new socket's kernel buffer takes at once. */
const SLICE_BYTES = 32 * 1024;

export class ReplayFence {
  /** The next replay is fenced. */
  private armed = false;
  /** The session whose replay waits for its PONGs. */
  private fenced: Session | undefined;
  /** Its replay's lines, those before `next` written, and the flushes that go after them. */
  private lines: Uint8Array[] = [];
  private next = 0;
  private flushIds: number[] = [];

  constructor(
    private readonly subs: SubscriptionTable,
    /** A subscription was dropped as refused: the caller's thread ends it. */
    private readonly dropped: (sid: number) => void,
  ) {}

  /** A connection the server ended soon after it opened: the next replay is fenced. */
  suspect(): void {
    this.armed = true;
  }

  /**
   * Replay on `session`, which just opened: the subscriptions' `lines`, then a PING for each
   * of `flushIds`; all at once, or fenced.
   */
  replay(session: Session, lines: Uint8Array[], flushIds: number[]): void {
    if (!this.armed) {
      session.output.writeFirst(lines, flushIds, false);
      return;
    }
    this.fenced = session;
    this.lines = lines;
    this.next = 0;
    this.flushIds = flushIds;
    this.writeSlice(session);
  }

  /** Whether commands wait for `session`'s replay. */
  holds(session: Session): boolean {
    return this.fenced === session;
  }

  /** A fence PONG on `session`: the next slice goes, or the replay is done (true). */
  answered(session: Session): boolean {
    if (this.fenced !== session) return false;
    if (this.next < this.lines.length) {
      this.writeSlice(session);
      return false;
    }
    this.armed = false;
    this.fenced = undefined;
    this.lines = [];
    return true;
  }

  /**
   * A server -ERR on `session`. One that refused a line of the fenced replay drops the
   * subscription with the longest SUB line.
   */
  serverError(message: string, session: Session): void {
    if (!REFUSED.test(message)) return;
    this.armed = true;
    if (this.fenced !== session) return;
    this.lines = []; // the session ends: the next one replays again
    const sub = this.subs.longestLine();
    if (sub === undefined) return;
    this.subs.remove(sub.sid);
    this.dropped(sub.sid);
  }

  private writeSlice(session: Session): void {
    const from = this.next;
    let bytes = 0;
    while (this.next < this.lines.length) {
      const length = this.lines[this.next].length;
      if (this.next > from && bytes + length > SLICE_BYTES) break;
      bytes += length;
      this.next++;
    }
    const last = this.next === this.lines.length;
    session.output.writeFirst(this.lines.slice(from, this.next), last ? this.flushIds : [], true);
  }
}
