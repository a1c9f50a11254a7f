/**
 * Writing side of a byte ring (byte-ring.ts has the layout): reserves and commits records in
 * the data buffer (a record may be reserved large and committed shorter), and publishes them
 * to the consumer with one store of W.
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
    // A record that does not fit before the end also consumes the tail, where a wrap marker
    // goes, and starts at 0 (size <= capacity / 2, so tail + size never exceeds the capacity).
    // Selected, not branched: a branch first taken after the JIT optimized this (the first
    // wrap, ~100k messages into a 16 B burst) threw away the optimized code of every caller
    // it was inlined into. (Loading R at every record instead of on a full cache, to drop the
    // other branch, cost the worker's delivery ring ~25 ms per 1 M messages: R's cache line
    // moves between the cores at every release.)
    const wraps = size > tail;
    const need = size + (wraps ? tail : 0);
    if (need > this.capacity - ((this.written - this.readCache) >>> 0)) {
      this.readCache = Atomics.load(this.header, RING_READ) >>> 0; // observes R: released space
      if (need > this.capacity - ((this.written - this.readCache) >>> 0)) return -1;
    }
    const start = wraps ? 0 : at;
    // One store, or two at a wrap (its marker at `at`, then the length at 0), both through the
    // one store every record runs, so the wrap meets no code without feedback. (Storing a
    // word at `at` and the length at `start` for every record cost ~13% of `micro ring`.)
    let where = at;
    let word = wraps ? WRAP_MARKER : length;
    for (;;) {
      this.view.setUint32(where, word, true);
      if (where === start) break;
      where = start;
      word = length;
    }
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
   * The largest body, up to `wanted` bytes, that {@link reserve} would place at
   * {@link nextBody} now: before the end of the data and within the free space. Less than
   * `wanted` when either is short; 0 when nothing fits.
   */
  room(wanted: number): number {
    const tail = this.capacity - (this.written & this.mask);
    // Loaded for every record: then reserve() loads R only for a full ring, not at the first
    // lap's stale copy (a path first taken after the JIT optimized the publish path).
    this.readCache = Atomics.load(this.header, RING_READ) >>> 0; // observes R: released space
    const free = this.capacity - ((this.written - this.readCache) >>> 0);
    return Math.max(
      0,
      Math.min(wanted, this.maxBody, tail - RECORD_LENGTH_BYTES, free - RECORD_LENGTH_BYTES),
    );
  }

  /**
   * Complete the record last reserved, with a body of `length` bytes: as reserved, or fewer
   * (the rest of the reservation is free again). Local only: the consumer sees it after
   * {@link publish}.
   *
   * @throws NatsError `invalidArgument` when nothing is reserved, or `length` is more than reserved
   */
  commit(length = this.reservedLength): void {
    if (this.reservedEnd < 0) {
      throw new NatsError('invalidArgument', 'ring commit() without a reserve()');
    }
    if (!(length >= 0 && length <= this.reservedLength)) {
      throw new NatsError(
        'invalidArgument',
        `ring commit() of ${length} bytes after a reserve() of ${this.reservedLength}`,
      );
    }
    let end = this.reservedEnd;
    if (length !== this.reservedLength) {
      this.view.setUint32(this.reservedAt, length, true);
      end = (end - recordSize(this.reservedLength) + recordSize(length)) >>> 0;
    }
    this.written = end;
    this.reservedEnd = -1;
  }

  /** Make every committed record visible, then wake the consumer if it sleeps (C.2 waker). */
  publish(): void {
    if (this.written === this.published) return;
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
