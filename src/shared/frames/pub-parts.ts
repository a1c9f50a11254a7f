/**
 * Messages continued across PUB records (the format is command.ts's): a message of more than
 * {@link CONTINUED_WIRE_OVER} wire bytes is cut into records of {@link PUB_PART_BYTES}, read
 * out of the segments it is made of by {@link WireParts}.
 */
import { pubFrameLength } from './command.js';

/**
 * Wire bytes from which a message is continued across PUB records instead of taking one: a
 * record may hold at most half the ring, and the worker copies a continued message's parts out
 * of the ring as they come, so the message may be far larger than the ring (up to the server's
 * max_payload, 64 MiB at most).
 */
export const CONTINUED_WIRE_OVER = 1024 * 1024;

/** Wire bytes per record of a continued message (the last one may hold fewer). */
export const PUB_PART_BYTES = 256 * 1024;

/**
 * One message's wire bytes as the segments they are made of (control line, header block,
 * payload, CRLF), read out in parts without first joining them into one array.
 */
export class WireParts {
  /** Wire bytes not yet copied out. */
  remaining: number;
  private segment = 0;
  private at = 0;

  /** `partBytes`: wire bytes per record, at most {@link PUB_PART_BYTES} (a small ring's limit). */
  constructor(
    private readonly segments: readonly Uint8Array[],
    private readonly partBytes: number,
  ) {
    this.remaining = segments.reduce((n, s) => n + s.length, 0);
  }

  /** Records the message takes. */
  get parts(): number {
    return Math.ceil(this.remaining / this.partBytes);
  }

  /** Body bytes of all those records (PUB headers included), as pending bytes count them. */
  get frameBytes(): number {
    return this.remaining + this.parts * pubFrameLength(0);
  }

  /** Wire bytes of the next part. */
  get nextLength(): number {
    return Math.min(this.remaining, this.partBytes);
  }

  /** Copies the next part's {@link nextLength} bytes to `dst[at…]`. */
  copyNext(dst: Uint8Array, at: number): void {
    let left = this.nextLength;
    this.remaining -= left;
    while (left > 0) {
      const s = this.segments[this.segment];
      const n = Math.min(left, s.length - this.at);
      dst.set(s.subarray(this.at, this.at + n), at);
      at += n;
      left -= n;
      this.at += n;
      if (this.at === s.length) {
        this.segment++;
        this.at = 0;
      }
    }
  }
}
