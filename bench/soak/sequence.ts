/**
 * Numbered message streams for the loss scenarios: a publisher that paces itself and honours
 * writable(), and a recorder that says which numbers arrived, twice, or out of order.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client, Message } from '../../src/main/index.js';
import { NatsError } from '../../src/main/index.js';

/** Writes `seq` into the payload's first four bytes. */
export function stamp(payload: Uint8Array, seq: number): void {
  new DataView(payload.buffer, payload.byteOffset).setUint32(0, seq, true);
}

export function seqOf(payload: Uint8Array): number {
  return new DataView(payload.buffer, payload.byteOffset).getUint32(0, true);
}

/**
 * Which sequence numbers arrived. A number seen twice, or one lower than a number seen before
 * it, is counted (the client must deliver each accepted message once, in order).
 */
export class SeqRecorder {
  received = 0;
  duplicates = 0;
  outOfOrder = 0;
  /** Highest number seen, -1 before the first. */
  highest = -1;
  private seen = new Uint8Array(1 << 20);

  readonly onMessage = (msg: Message): void => {
    const seq = seqOf(msg.payload);
    if (seq >= this.seen.length) this.grow(seq);
    if (this.seen[seq]) {
      this.duplicates++;
      return;
    }
    this.seen[seq] = 1;
    this.received++;
    if (seq < this.highest) this.outOfOrder++;
    else this.highest = seq;
  };

  has(seq: number): boolean {
    return seq < this.seen.length && this.seen[seq] === 1;
  }

  /** Numbers in [from, to) that did not arrive. */
  missingIn(from: number, to: number): number {
    let missing = 0;
    for (let s = from; s < to; s++) if (!this.has(s)) missing++;
    return missing;
  }

  private grow(seq: number): void {
    let size = this.seen.length;
    while (size <= seq) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.seen);
    this.seen = grown;
  }
}

/** Unpaced: messages published between two turns of the event loop, at most. */
const UNPACED_BURST = 256;

/**
 * Publishes numbered messages at `rate` per second until stop(): in bursts of what is due each
 * turn of the event loop (at most 200 ms worth, so a long stall is not made up in one flood), and
 * awaiting writable() whenever publish() returns false. Rate 0: as fast as writable() lets it
 * (yielding to the event loop every {@link UNPACED_BURST} messages). `accepted` counts publishes
 * that did not throw: message `accepted - 1` is the last one the client took.
 */
export class PacedPublisher {
  accepted = 0;
  /** publish() calls that threw (they are retried with the same number). */
  thrown = 0;
  /** Time spent awaiting writable(). */
  blockedMs = 0;
  readonly done: Promise<void>;
  private stopping = false;

  constructor(
    private readonly client: Client,
    private readonly subject: string,
    private readonly rate: number,
    size: number,
  ) {
    this.done = this.loop(new Uint8Array(size));
  }

  /** Stops after the current burst; resolves once the loop has ended. */
  stop(): Promise<void> {
    this.stopping = true;
    return this.done;
  }

  private async loop(payload: Uint8Array): Promise<void> {
    const maxCredit = this.rate / 5;
    let credit = 0;
    let last = performance.now();
    while (!this.stopping) {
      const now = performance.now();
      credit =
        this.rate > 0
          ? Math.min(maxCredit, credit + ((now - last) * this.rate) / 1000)
          : UNPACED_BURST;
      last = now;
      while (credit >= 1 && !this.stopping) {
        stamp(payload, this.accepted);
        let more: boolean;
        try {
          more = this.client.publish(this.subject, payload);
        } catch (error) {
          if (!(error instanceof NatsError) || error.kind !== 'clientCapacity') throw error;
          this.thrown++;
          break; // not accepted: the same number goes again next turn
        }
        this.accepted++;
        credit--;
        if (!more) {
          const blocked = performance.now();
          await this.client.writable();
          this.blockedMs += performance.now() - blocked;
          last = performance.now(); // no credit for the time blocked
        }
      }
      if (this.rate > 0) await sleep(1);
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
