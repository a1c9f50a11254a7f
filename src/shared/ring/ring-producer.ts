/**
 * Writing side of a byte ring (byte-ring.ts has the layout): reserves, commits and grows
 * records in the data buffer, and publishes them to the consumer with one store of W.
 */
import { NatsError } from '../errors.js';
import {
  maxRecordBody,
  RECORD_LENGTH_BYTES,
  RING_CONSUMER_SLEEP,
  RING_PRODUCER_SLEEP,
  RING_READ,
  RING_WRITE,
  WRAP_MARKER,
} from '../layout.js';
import { headerOf, type RingBuffers, recordSize } from './byte-ring.js';
import { Sleeper, Waker } from './wake.js';

/**
 * Writing side of a ring; use it from one thread only.
 *
 * @example
 * ```ts
 * const off = producer.reserve(body.length);
 * if (off < 0) return producer.waitForSpace(); // full: retry when it resolves
 * producer.bytes.set(body, off);
 * producer.commit();
 * producer.publish(); // once per batch
 * ```
 */
export class RingProducer {
  /** View of the data buffer; bodies are written at the offsets {@link reserve} returns. */
  readonly bytes: Uint8Array;
  /** Same bytes, for little-endian u16/u32 fields. */
  readonly view: DataView;
  /** Same bytes as 32-bit words (host byte order): stores into shared memory are cheapest whole. */
  readonly words: Int32Array;
  /** Data size in bytes. */
  readonly capacity: number;
  /** Largest body {@link reserve} accepts. */
  readonly maxBody: number;

  private readonly header: Int32Array;
  private readonly mask: number;
  private readonly waker: Waker;
  private readonly sleeper: Sleeper;
  /** End of the last committed record (u32 counter). */
  private written: number;
  /** W as last stored. */
  private published: number;
  /** R as last loaded: the space known to be free ends here. */
  private readCache: number;
  /** Counter just past the reserved record, or -1 when nothing is reserved. */
  private reservedEnd = -1;
  /** Offset of the reserved record's length word, and its body length. */
  private reservedAt = 0;
  private reservedLength = 0;
  /** Offset of the last committed record's length word while it is unpublished, else -1. */
  private openAt = -1;
  /** Body length of that record. */
  private openLength = 0;

  /** Attach to a ring; the counters are taken from the header as they stand. */
  constructor(buffers: RingBuffers) {
    this.header = headerOf(buffers);
    this.bytes = new Uint8Array(buffers.data);
    this.view = new DataView(buffers.data);
    this.words = new Int32Array(buffers.data);
    this.capacity = buffers.data.byteLength;
    this.maxBody = maxRecordBody(this.capacity);
    this.mask = this.capacity - 1;
    this.waker = new Waker(this.header, RING_WRITE, RING_CONSUMER_SLEEP);
    this.sleeper = new Sleeper(this.header, RING_READ, RING_PRODUCER_SLEEP);
    this.written = Atomics.load(this.header, RING_WRITE) >>> 0; // observes W: resume after it
    this.published = this.written;
    this.readCache = Atomics.load(this.header, RING_READ) >>> 0; // observes R: the free space
  }

  /**
   * Reserve a record with a body of exactly `length` bytes.
   *
   * Returns the body's byte offset in {@link bytes} (4-byte aligned), or -1 when there is not
   * enough free space right now. Reserving again before {@link commit} replaces the reservation.
   *
   * @throws NatsError `invalidArgument` if `length` is not an integer in 0..{@link maxBody}
   */
  reserve(length: number): number {
    if (!((length | 0) === length && length >= 0 && length <= this.maxBody)) {
      throw new NatsError(
        'invalidArgument',
        `ring record body must be 0..${this.maxBody} bytes (capacity ${this.capacity}), ` +
          `got ${length}`,
      );
    }
    const size = recordSize(length);
    const at = this.written & this.mask;
    const tail = this.capacity - at;
    // A record that does not fit before the end also consumes the tail (size <= capacity / 2,
    // so tail + size never exceeds the capacity).
    const need = size <= tail ? size : tail + size;
    if (need > this.capacity - ((this.written - this.readCache) >>> 0)) {
      this.readCache = Atomics.load(this.header, RING_READ) >>> 0; // observes R: released space
      if (need > this.capacity - ((this.written - this.readCache) >>> 0)) return -1;
    }
    let start = at;
    if (size > tail) {
      this.view.setUint32(at, WRAP_MARKER, true);
      start = 0;
    }
    this.view.setUint32(start, length, true);
    this.reservedEnd = (this.written + need) >>> 0;
    this.reservedAt = start;
    this.reservedLength = length;
    return start + RECORD_LENGTH_BYTES;
  }

  /** Body offset the next {@link reserve} returns if its record fits before the end of the data. */
  nextBody(): number {
    return (this.written & this.mask) + RECORD_LENGTH_BYTES;
  }

  /**
   * Where {@link append} to the record at `body` would put its bytes if there is room, or -1
   * when that record can no longer grow (published, or not the last one committed).
   */
  appendOffset(body: number): number {
    const at = this.openAt;
    if (at < 0 || at + RECORD_LENGTH_BYTES !== body || this.reservedEnd >= 0) return -1;
    return body + this.openLength;
  }

  /**
   * Grow the last committed record by `length` bytes while the consumer cannot see it yet (it
   * is unpublished), so many small writes become one record. `body` is that record's body
   * offset as {@link reserve} returned it: a record committed since then (or a publish) makes
   * the call fail instead of growing the wrong record.
   *
   * Returns the offset where the new bytes go (right after the body so far; they count as
   * committed at once), or -1: not that record, not enough free space, the end of the data
   * in the way, or the body would exceed {@link maxBody}.
   */
  append(body: number, length: number): number {
    if (this.appendOffset(body) < 0) return -1;
    const at = this.openAt;
    const grown = this.openLength + length;
    if (grown > this.maxBody || body + grown > this.capacity) return -1;
    const end = (this.written - recordSize(this.openLength) + recordSize(grown)) >>> 0;
    if ((end - this.readCache) >>> 0 > this.capacity) {
      this.readCache = Atomics.load(this.header, RING_READ) >>> 0; // observes R: released space
      if ((end - this.readCache) >>> 0 > this.capacity) return -1;
    }
    this.view.setUint32(at, grown, true);
    const from = body + this.openLength;
    this.openLength = grown;
    this.written = end;
    return from;
  }

  /**
   * Complete the record last reserved. Local only: the consumer sees it after {@link publish}.
   *
   * @throws NatsError `invalidArgument` when nothing is reserved
   */
  commit(): void {
    if (this.reservedEnd < 0) {
      throw new NatsError('invalidArgument', 'ring commit() without a reserve()');
    }
    this.written = this.reservedEnd;
    this.reservedEnd = -1;
    this.openAt = this.reservedAt;
    this.openLength = this.reservedLength;
  }

  /** Make every committed record visible, then wake the consumer if it sleeps (C.2 waker). */
  publish(): void {
    if (this.written === this.published) return;
    this.openAt = -1; // visible from now on: no more appends
    this.published = this.written;
    Atomics.store(this.header, RING_WRITE, this.written | 0); // publishes the committed records
    this.waker.wake();
  }

  /**
   * Calls `visit` with the body offset of every committed record the consumer has not released
   * (it may be reading some of them meanwhile; only this thread writes them).
   */
  forEachUnread(visit: (body: number) => void): void {
    let at = Atomics.load(this.header, RING_READ) >>> 0; // observes R: where unread records begin
    while (at !== this.written) {
      let pos = at & this.mask;
      let length = this.view.getUint32(pos, true);
      if (length === WRAP_MARKER) {
        at = (at + this.capacity - pos) >>> 0;
        pos = 0;
        length = this.view.getUint32(0, true);
      }
      visit(pos + RECORD_LENGTH_BYTES);
      at = (at + recordSize(length)) >>> 0;
    }
  }

  /**
   * The consumer has announced a sleep (its sequence is odd): a publish now costs it a wake-up.
   * A hint only: it may be falling asleep or waking as this is read.
   */
  get consumerSleeping(): boolean {
    return (Atomics.load(this.header, RING_CONSUMER_SLEEP) & 1) !== 0; // observes the consumer's round
  }

  /** Committed but unpublished bytes exist. */
  get hasUnpublished(): boolean {
    return this.written !== this.published;
  }

  /** R as it stands (a free-running u32): every byte the consumer has released so far. */
  releasedCounter(): number {
    return Atomics.load(this.header, RING_READ) >>> 0; // observes R
  }

  /** Bytes in use (published and unpublished, not yet released by the consumer). */
  usedBytes(): number {
    // Not cached: readCache must stay the R of the last full check, which waitForSpace sleeps on.
    const read = Atomics.load(this.header, RING_READ) >>> 0; // observes R: released space
    return (this.written - read) >>> 0;
  }

  /**
   * Wait until the consumer releases space; call it after {@link reserve} returned -1.
   *
   * Publishes committed records first (the consumer can only free space it can see). Returns
   * undefined if R already moved since the last full check (reserve again now), else a promise
   * that resolves when R changes. Never blocks.
   */
  waitForSpace(): Promise<void> | undefined {
    this.publish();
    const read = Atomics.load(this.header, RING_READ) >>> 0; // observes R: released since the check
    if (read !== this.readCache) {
      this.readCache = read;
      return undefined;
    }
    return this.sleeper.sleep(read | 0);
  }
}
