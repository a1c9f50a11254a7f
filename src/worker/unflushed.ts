/**
 * One session's messages on their way to the server, for API.md's 'notSent': the PUB/HPUB
 * frames of the batch the pump writes next, and those no PONG has acknowledged yet.
 *
 * A socket that fails, or that the client gives up on (stale, or its graceful end timed out),
 * may take with it what the kernel still holds on either side as well as what had not reached
 * the kernel: the messages written after the PING of the last PONG (a PONG proves the server
 * read everything before its PING). Counting those is an upper bound, never an under-count.
 */
export class Unflushed {
  /** Messages of the batch about to be written. */
  private batch = 0;
  /** Messages handed to the transport, ever, and how many of them were before the last batch. */
  private written = 0;
  private beforeLastBatch = 0;
  /** Messages the server has certainly read (written before the last answered PING). */
  private acknowledged = 0;

  /** The pump published `messages` frames: their batch is written next. */
  published(messages: number): void {
    this.batch = messages;
  }

  /**
   * The batch is being written: its messages are on their way from now on (even when the write
   * finds the session ended).
   */
  take(): void {
    this.beforeLastBatch = this.written;
    this.written += this.batch;
    this.batch = 0;
  }

  /**
   * A PING was written: returns the messages written before it, which its PONG acknowledges
   * (the PING's entry in ping-pong.ts carries them). `inLastBatch`: it was inside the last
   * batch, where messages may follow it (only those before that batch count).
   */
  pingWritten(inLastBatch: boolean): number {
    return inLastBatch ? this.beforeLastBatch : this.written;
  }

  /** Messages written so far: at most this many come before a PING written now. */
  get messagesWritten(): number {
    return this.written;
  }

  /** The PONG of a PING written after `before` messages came. */
  ponged(before: number): void {
    this.acknowledged = Math.max(this.acknowledged, before);
  }

  /** Whether a PONG acknowledged every message of the first `messages` written. */
  acknowledges(messages: number): boolean {
    return messages <= this.acknowledged;
  }

  /** Messages written that no PONG has acknowledged: what a lost or abandoned socket may have lost. */
  get unacknowledged(): number {
    return this.written - this.acknowledged;
  }
}
