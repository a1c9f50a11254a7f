/**
 * nats-server ends a connection on a control line longer than its max_control_line ("-ERR
 * 'Maximum Control Line Exceeded'"), and its INFO does not say the limit. A PUB is not sent
 * again, but subscriptions are replayed on every new connection: one whose SUB line is too long
 * would end each of them, for ever. So after such an -ERR the next connection's replay is
 * fenced: a PING follows it, and the command ring waits for its PONG. An -ERR before that PONG
 * refused one of the replay's lines, so the longest SUB line among them is too long (the
 * refused one is longer than the limit, and the longest at least as long): that subscription
 * is dropped (connection.ts), and the next replay is fenced again. Once a fenced replay is
 * answered, nothing is fenced until the next such -ERR.
 */
import type { Session } from './session.js';

const REFUSED = /^maximum control line exceeded/i;

export class ReplayFence {
  /** A connection ended on a refused control line: the next replay is fenced. */
  private armed = false;
  /** The session whose replay waits for its PONG. */
  private fenced: Session | undefined;

  /** The subscriptions were replayed on `session`: true when a fence PING must follow. */
  replayed(session: Session): boolean {
    if (!this.armed) return false;
    this.fenced = session;
    return true;
  }

  /** Whether commands wait for `session`'s fence. */
  holds(session: Session): boolean {
    return this.fenced === session;
  }

  /** The fence's PONG: the server took the replay. */
  passed(): void {
    this.armed = false;
    this.fenced = undefined;
  }

  /** A server -ERR on `session`: true when it refused a line of the fenced replay. */
  refused(message: string, session: Session): boolean {
    if (!REFUSED.test(message)) return false;
    this.armed = true;
    return this.fenced === session;
  }
}
