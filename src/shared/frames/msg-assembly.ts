import type { DeliveryView } from './delivery.js';

/**
 * A continued message put together on the main thread from its PART frames, in memory of its
 * own: the payload's buffer holds the payload alone, so it belongs to the message.
 */
export class MsgAssembly {
  readonly headers: Uint8Array;
  readonly payload: Uint8Array<ArrayBuffer>;
  private readonly total: number;
  private filled = 0;

  /**
   * For the continued MSG frame read into `head`. `keep` false: for a message nobody will take
   * (its subscription ended): its parts are counted, not copied, and nothing is allocated.
   */
  constructor(
    head: DeliveryView,
    private readonly keep = true,
  ) {
    const headerLen = head.headerEnd - head.headerStart;
    const payloadLen = head.payloadEnd - head.payloadStart;
    this.total = headerLen + payloadLen;
    this.headers = new Uint8Array(keep ? headerLen : 0);
    this.payload = new Uint8Array(keep ? payloadLen : 0);
  }

  /** Takes the bytes of the next PART frame, `bytes[from, to)`; true once the message is whole. */
  add(bytes: Uint8Array, from: number, to: number): boolean {
    if (!this.keep) {
      this.filled += to - from;
      return this.filled === this.total;
    }
    const headerLen = this.headers.length;
    if (this.filled < headerLen) {
      const n = Math.min(to - from, headerLen - this.filled);
      this.headers.set(bytes.subarray(from, from + n), this.filled);
      this.filled += n;
      from += n;
    }
    if (from < to) {
      this.payload.set(bytes.subarray(from, to), this.filled - headerLen);
      this.filled += to - from;
    }
    return this.filled === this.total;
  }
}
