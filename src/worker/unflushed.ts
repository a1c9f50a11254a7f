/**
 * One session's messages on their way to the kernel, for API.md's 'notSent': the PUB/HPUB
 * frames of the batch the pump writes next, and those a write handed to the transport that it
 * has not passed on to the kernel yet. If the session ends first, the latter were not sent.
 */
export class Unflushed {
  /** Messages of the batch about to be written. */
  private batch = 0;
  /** Messages handed to the transport that it has not passed on to the kernel. */
  private count = 0;

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
    return messages;
  }

  /** A write of `messages` reached the kernel, or failed (`error`: they stay counted). */
  flushed(messages: number, error: Error | undefined): void {
    if (error === undefined) this.count -= messages;
  }

  /** Messages handed to the transport that it has not passed on to the kernel. */
  get messages(): number {
    return this.count;
  }
}
