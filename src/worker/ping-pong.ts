/**
 * PING/PONG bookkeeping of one session, both ways. Ours: the purpose of every PING awaiting
 * its PONG, in wire order (PONGs carry no id: the n-th PONG answers the n-th PING, so
 * heartbeats, flushes, unsubscribe fences and the send window share one queue), bounded. The
 * server's: whether it is owed a PONG. The session writes the PINGs and PONGs.
 */
import type { PingPurpose } from './flow-control.js';

/**
 * PINGs awaiting their PONG, at most (flushes, unsubscribe fences, the send window and the
 * heartbeat share the queue). Overflow: the command pump stops, as on a full socket, until
 * PONGs bring the queue below it; commands wait in the ring, then on the caller's thread
 * (maxPendingBytes). A batch the pump has taken already may pass it by its own PINGs
 * (outbound.ts: at most one batch), and heartbeat PINGs still go, so a server that answers
 * none is found stale.
 */
export const MAX_UNANSWERED_PINGS = 16_384;

/**
 * A PING awaiting its PONG: why it was sent, and the messages written before it (unflushed.ts):
 * what its PONG acknowledges, and what a flush must prove.
 */
export interface Pinged {
  readonly purpose: PingPurpose;
  readonly before: number;
}

export class PingPong {
  /**
   * From {@link head} on; taken by index, not shift(): an array of 16,384 sits in V8's large
   * object space, which cannot trim it in place, so each shift() copied it (200,000 unsubscribe
   * fences took the worker 6 s).
   */
  private queue: (Pinged | undefined)[] = [];
  private head = 0;
  /** The pump was told to stop at MAX_UNANSWERED_PINGS: a PONG below it restarts it. */
  private full = false;
  /** The server sent PING(s) since our last PONG: one PONG answers them all. */
  private pongOwed = false;

  /** A PING was written for `purpose`, after `before` messages. */
  sent(purpose: PingPurpose, before: number): void {
    this.queue.push({ purpose, before });
  }

  /** PINGs awaiting their PONG. */
  private get waiting(): number {
    return this.queue.length - this.head;
  }

  /**
   * False from the moment MAX_UNANSWERED_PINGS wait until {@link reopened} says so: the pump
   * must stop.
   */
  hasRoom(): boolean {
    if (this.waiting >= MAX_UNANSWERED_PINGS) this.full = true;
    return !this.full;
  }

  /** A PONG came: the PING it answers; undefined when none is outstanding. */
  answered(): Pinged | undefined {
    if (this.head === this.queue.length) return undefined;
    const pinged = this.queue[this.head];
    this.queue[this.head++] = undefined;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return pinged;
  }

  /** After a PONG: true, once, when the queue had stopped the pump and is below its bound. */
  reopened(): boolean {
    if (!this.full || this.waiting >= MAX_UNANSWERED_PINGS) return false;
    this.full = false;
    return true;
  }

  /** The flushes whose PING was sent but not answered, with how many messages before each. */
  unansweredFlushes(): { id: number; upTo: number }[] {
    const flushes: { id: number; upTo: number }[] = [];
    for (let i = this.head; i < this.queue.length; i++) {
      const { purpose, before } = this.queue[i] as Pinged;
      if (purpose.kind === 'flush') flushes.push({ id: purpose.id, upTo: before });
    }
    return flushes;
  }

  /** The server sent a PING. */
  serverPinged(): void {
    this.pongOwed = true;
  }

  /** Whether the server is owed a PONG; true once per owed PONG (the caller writes it). */
  takeOwedPong(): boolean {
    const owed = this.pongOwed;
    this.pongOwed = false;
    return owed;
  }
}
