/**
 * One session's messages on their way to the server, for API.md's 'notSent': those written
 * after the PING of the last PONG (a PONG proves the server read everything before its PING).
 *
 * Whatever way a session fails, those may be lost: a socket the client drops or gives up on
 * (stale: its server stopped reading; a protocol error; a graceful end that timed out) takes
 * what the kernels still hold; a reset one, what the server's kernel discarded unread; a server's
 * end (its FIN, a WebSocket close frame, an -ERR) proves nothing about bytes it took but did not
 * process, nor about ours that crossed its FIN (a relay that ended after swallowing 50 left them
 * uncounted, as an outside probe saw over TLS). Counting them is an upper bound, never an
 * under-count.
 */
export class Unflushed {
  /** Messages of the batch about to be written. */
  private batch = 0;
  /** Messages handed to the transport, ever, and how many of them were before the last batch. */
  private written = 0;
  private beforeLastBatch = 0;
  /** Messages the server has certainly read (written before the last answered PING). */
  private acknowledged = 0;
  /** Messages written before the last PING written. */
  private pinged = 0;

  /** The pump published `messages` frames: their batch is written next. */
  published(messages: number): void {
    this.batch = messages;
  }

  /** The batch is being written (counted as written even when the write finds the session ended). */
  take(): void {
    this.beforeLastBatch = this.written;
    this.written += this.batch;
    this.batch = 0;
  }

  /**
   * A PING was written: returns the messages written before it, which its PONG acknowledges
   * (the PING's entry in ping-pong.ts carries them). `inLastBatch`: it was inside the last
   * batch, after that many of the batch's messages; undefined: after everything written.
   */
  pingWritten(inLastBatch?: number): number {
    const before = inLastBatch === undefined ? this.written : this.beforeLastBatch + inLastBatch;
    this.pinged = Math.max(this.pinged, before);
    return before;
  }

  /** Whether messages were written after the last PING: no PONG can acknowledge them yet. */
  unpinged(): boolean {
    return this.written > this.pinged;
  }

  /** The PONG of a PING written after `before` messages came. */
  ponged(before: number): void {
    this.acknowledged = Math.max(this.acknowledged, before);
  }

  /** The messages written that a failed socket may have taken with it: no PONG acknowledged them. */
  lost(): number {
    return this.written - this.acknowledged;
  }

  /** Whether the first `messages` written are safe from a failed socket ({@link lost}). */
  survives(messages: number): boolean {
    return messages <= this.acknowledged;
  }
}
