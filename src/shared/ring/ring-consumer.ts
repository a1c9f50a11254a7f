/**
 * Reading side of a byte ring (byte-ring.ts has the layout): walks published records, hands
 * their space back to the producer with one store of R.
 */
import { NatsError } from '../errors.js';
import {
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
 * Reading side of a ring; use it from one thread only.
 *
 * A body at the offset {@link next} returns stays valid until {@link release} hands its space
 * back to the producer.
 *
 * @example
 * ```ts
 * for (let off = consumer.next(); off >= 0; off = consumer.next()) {
 *   handle(consumer.bytes.subarray(off, off + consumer.length));
 *   consumer.advance();
 * }
 * consumer.release(); // once per batch
 * await consumer.waitForData();
 * ```
 */
export class RingConsumer {
  /** View of the data buffer; bodies are read at the offsets {@link next} returns. */
  readonly bytes: Uint8Array;
  /** Same bytes, for little-endian u16/u32 fields. */
  readonly view: DataView;
  /** Data size in bytes. */
  readonly capacity: number;

  private readonly header: Int32Array;
  private readonly mask: number;
  private readonly waker: Waker;
  private readonly sleeper: Sleeper;
  /** Start of the next unconsumed record (u32 counter). */
  private readPos: number;
  /** R as last stored. */
  private released: number;
  /** W as last loaded: published records end here. */
  private writeCache: number;
  /** Counter just past the record next() returned, or -1 when there is none. */
  private recordEnd = -1;
  private recordLength = 0;

  /** Attach to a ring; the counters are taken from the header as they stand. */
  constructor(buffers: RingBuffers) {
    this.header = headerOf(buffers);
    this.bytes = new Uint8Array(buffers.data);
    this.view = new DataView(buffers.data);
    this.capacity = buffers.data.byteLength;
    this.mask = this.capacity - 1;
    this.waker = new Waker(this.header, RING_READ, RING_PRODUCER_SLEEP);
    this.sleeper = new Sleeper(this.header, RING_WRITE, RING_CONSUMER_SLEEP);
    this.readPos = Atomics.load(this.header, RING_READ) >>> 0; // observes R: resume after it
    this.released = this.readPos;
    this.writeCache = Atomics.load(this.header, RING_WRITE) >>> 0; // observes W: published end
  }

  /**
   * Offset of the next record's body in {@link bytes}, or -1 when no published record is
   * waiting. Skips wrap markers; does not consume (call {@link advance}).
   */
  next(): number {
    if (this.readPos === this.writeCache) {
      this.writeCache = Atomics.load(this.header, RING_WRITE) >>> 0; // observes W: new records
      if (this.readPos === this.writeCache) return -1;
    }
    const at = this.readPos & this.mask;
    // At a wrap marker the producer left the tail empty, and a record always follows at 0.
    // Selected, not branched: a branch first taken after the JIT optimized this (the first
    // wrap, ~100k messages in) threw away the optimized code of every caller it was inlined into.
    const wraps = this.view.getUint32(at, true) === WRAP_MARKER;
    const skipped = this.capacity - at;
    const start = wraps ? 0 : at;
    this.readPos = (this.readPos + (wraps ? skipped : 0)) >>> 0;
    const length = this.view.getUint32(start, true);
    this.recordLength = length;
    this.recordEnd = (this.readPos + recordSize(length)) >>> 0;
    return start + RECORD_LENGTH_BYTES;
  }

  /**
   * Offset in {@link bytes} where the published data that follows the record {@link next}
   * returned stops being contiguous: W, or the end of the data when W lies past a wrap. The
   * bytes between hold whole records (and maybe a wrap marker), so a consumer may copy them
   * in one go and read several records from the copy.
   */
  contiguousEnd(): number {
    const at = this.readPos & this.mask;
    return Math.min(at + ((this.writeCache - this.readPos) >>> 0), this.capacity);
  }

  /** W now: where the records published so far end (u32 counter). */
  published(): number {
    return Atomics.load(this.header, RING_WRITE) >>> 0; // observes W
  }

  /** Whether every record before counter `position` (from {@link published}) is consumed. */
  consumedTo(position: number): boolean {
    return ((this.readPos - position) | 0) >= 0;
  }

  /** Body length of the record returned by the last {@link next}. */
  get length(): number {
    return this.recordLength;
  }

  /**
   * Consume the record returned by the last {@link next} (local only until {@link release}).
   *
   * @throws NatsError `invalidArgument` when next() returned no record since the last advance
   */
  advance(): void {
    if (this.recordEnd < 0) {
      throw new NatsError('invalidArgument', 'ring advance() without a record from next()');
    }
    this.readPos = this.recordEnd;
    this.recordEnd = -1;
  }

  /**
   * Consume `bytes` of whole records at once, starting with the one {@link next} returned: for
   * a consumer that walked them in a copy (see {@link contiguousEnd}). Local only until
   * {@link release}. `bytes` must end on a record boundary within the published data.
   *
   * @throws NatsError `invalidArgument` when next() returned no record since the last advance
   */
  consume(bytes: number): void {
    if (this.recordEnd < 0) {
      throw new NatsError('invalidArgument', 'ring consume() without a record from next()');
    }
    this.readPos = (this.readPos + bytes) >>> 0;
    this.recordEnd = -1;
  }

  /** Hand the space of every consumed record back, then wake the producer if it sleeps. */
  release(): void {
    if (this.readPos === this.released) return;
    this.released = this.readPos;
    Atomics.store(this.header, RING_READ, this.readPos | 0); // publishes the consumed space
    this.waker.wake();
  }

  /**
   * Wait for data. Returns undefined if a record is already there, else a promise that
   * resolves when W changes. Releases consumed space first (a producer waiting for it would
   * otherwise never publish). Never blocks.
   */
  waitForData(): Promise<void> | undefined {
    if (this.readPos !== this.writeCache) return undefined;
    const write = Atomics.load(this.header, RING_WRITE) >>> 0; // observes W: newly published
    // Stored either way (unmoved, W is readPos already): a store that ran only when a record
    // raced the wait had no type feedback in code V8 optimized before, and threw it away.
    this.writeCache = write;
    if (write !== this.readPos) return undefined;
    this.release();
    return this.sleeper.sleep(write | 0);
  }
}
