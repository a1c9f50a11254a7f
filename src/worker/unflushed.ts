/**
 * One session's messages on their way to the server, for API.md's 'notSent': the PUB/HPUB
 * frames of the batch the pump writes next, those a write handed to the transport that it has
 * not passed on to the kernel yet, and those no PONG has acknowledged yet.
 *
 * A socket the peer closes after its end (FIN) takes what had not reached the kernel with it
 * (what the kernel had, the server read before it closed). A socket that is reset (a server
 * killed or closing with bytes it had not read: its kernel discards them), or that the client
 * drops or gives up on (stale: its server stopped reading; a protocol error; a graceful end
 * that timed out; after a server's -ERR) may take what the kernels held as well: the messages
 * written after the PING of the last PONG (a PONG proves the server read everything before
 * its PING). Counting those is an upper bound, never an under-count.
 */
export class Unflushed {
  /** Messages of the batch about to be written. */
  private batch = 0;
  /** Messages handed to the transport that it has not passed on to the kernel. */
  private count = 0;
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
   * The batch is being written: its messages wait for the kernel from now on (even when the
   * write finds the session ended). Returns how many, for {@link flushed}.
   */
  take(): number {
    const messages = this.batch;
    this.batch = 0;
    this.count += messages;
    this.beforeLastBatch = this.written;
    this.written += messages;
    return messages;
  }

  /** A write of `messages` reached the kernel, or failed (`error`: they stay counted). */
  flushed(messages: number, error: Error | undefined): void {
    if (error === undefined) this.count -= messages;
  }

  /**
   * A PING was written: returns the messages written before it, which its PONG acknowledges
   * (the PING's entry in ping-pong.ts carries them). `inLastBatch`: it was inside the last
   * batch, after that many of the batch's messages; undefined: after everything written.
   */
  pingWritten(inLastBatch?: number): number {
    return inLastBatch === undefined ? this.written : this.beforeLastBatch + inLastBatch;
  }

  /** The PONG of a PING written after `before` messages came. */
  ponged(before: number): void {
    this.acknowledged = Math.max(this.acknowledged, before);
  }

  /**
   * The last messages written that a socket which ended as it did may have taken with it: on
   * one the client dropped (`dropped`), those no PONG acknowledged; on one the server closed,
   * those not yet in the kernel (writes complete in order: the pending are the last).
   */
  lost(dropped: boolean): number {
    return dropped ? this.written - this.acknowledged : this.count;
  }

  /** Whether the first `messages` written are safe from such a socket ({@link lost}). */
  survives(messages: number, dropped: boolean): boolean {
    return messages <= this.written - this.lost(dropped);
  }
}
