/**
 * Single-producer/single-consumer byte ring over two SharedArrayBuffers (MECHANICS C.1–C.3).
 *
 *   header SAB (RING_HEADER_BYTES, Int32Array; offsets in layout.ts)
 *     [RING_WRITE]           W   bytes committed and published     writer: producer
 *     [RING_READ]            R   bytes released                    writer: consumer
 *     [RING_CONSUMER_SLEEP]  consumer sleep sequence (odd: on W)   writer: consumer
 *     [RING_PRODUCER_SLEEP]  producer sleep sequence (odd: on R)   writer: producer
 *
 *   data SAB (capacity bytes, a power of two; position = counter & (capacity - 1))
 *     ┌─────────┬──────────────┬─────┬─────────┬──────┬─ … ─┬────────────┬──────────────┐
 *     │ len u32 │ body         │ pad │ len u32 │ body │     │ FFFFFFFF   │ (skipped)    │
 *     └─────────┴──────────────┴─────┴─────────┴──────┴─ … ─┴────────────┴──────────────┘
 *     records are 4-byte aligned and never straddle the end: a record that does not fit
 *     before the end leaves a WRAP_MARKER length word there and starts again at offset 0.
 *
 * Each side keeps private copies of the counters and touches the shared ones only to publish
 * (one `Atomics.store` per batch) or when its cached copy says empty/full (one `Atomics.load`).
 * The producer writes bodies with plain stores before its store of W, and the consumer reads
 * them after its load of W, so the sequentially consistent pair orders them; the same holds
 * for R and the space it hands back. No method allocates, except the promise of a wait.
 */
import { NatsError } from '../errors.js';
import {
  DEFAULT_RING_CAPACITY,
  maxRecordBody,
  RECORD_ALIGN,
  RECORD_LENGTH_BYTES,
  RING_CONSUMER_SLEEP,
  RING_HEADER_BYTES,
  RING_PRODUCER_SLEEP,
  RING_READ,
  RING_WRITE,
  WRAP_MARKER,
} from '../layout.js';
import { notifyAll, Sleeper, Waker } from './wake.js';

/** Smallest data size: below this, maxRecordBody leaves no room for useful frames. */
const MIN_CAPACITY = 1024;
/** Largest data size: keeps every position and `counter | 0` arithmetic within int32. */
const MAX_CAPACITY = 1 << 30;

/** The two SharedArrayBuffers of one ring; plain data, so it can go through workerData. */
export interface RingBuffers {
  header: SharedArrayBuffer;
  data: SharedArrayBuffer;
}

function checkCapacity(capacity: number): void {
  if (
    !Number.isInteger(capacity) ||
    capacity < MIN_CAPACITY ||
    capacity > MAX_CAPACITY ||
    (capacity & (capacity - 1)) !== 0
  ) {
    throw new NatsError(
      'invalidArgument',
      `ring capacity must be a power of two from ${MIN_CAPACITY} to ${MAX_CAPACITY} bytes, ` +
        `got ${capacity}`,
    );
  }
}

/**
 * Allocate the header and data buffers of one ring, zeroed (empty, both sides awake).
 *
 * @param capacity data size in bytes: a power of two, at least 1024
 * @throws NatsError `invalidArgument` for any other capacity
 * @example
 * ```ts
 * const commands = createRingBuffers(64 * 1024);
 * new Worker(url, { workerData: { commands } });
 * const producer = new RingProducer(commands);
 * ```
 */
export function createRingBuffers(capacity: number = DEFAULT_RING_CAPACITY): RingBuffers {
  checkCapacity(capacity);
  return {
    header: new SharedArrayBuffer(RING_HEADER_BYTES),
    data: new SharedArrayBuffer(capacity),
  };
}

function headerOf(buffers: RingBuffers): Int32Array {
  if (buffers.header.byteLength < RING_HEADER_BYTES) {
    throw new NatsError(
      'invalidArgument',
      `ring header must be ${RING_HEADER_BYTES} bytes, got ${buffers.header.byteLength}`,
    );
  }
  checkCapacity(buffers.data.byteLength);
  return new Int32Array(buffers.header, 0, RING_HEADER_BYTES / 4);
}

/** Whole bytes a record with a body of `length` bytes occupies (length word, body, padding). */
export function recordSize(length: number): number {
  return RECORD_LENGTH_BYTES + ((length + RECORD_ALIGN - 1) & -RECORD_ALIGN);
}

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
  private held = false;
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
    for (;;) {
      if (this.readPos === this.writeCache) {
        this.writeCache = Atomics.load(this.header, RING_WRITE) >>> 0; // observes W: new records
        if (this.readPos === this.writeCache) return -1;
      }
      const at = this.readPos & this.mask;
      const length = this.view.getUint32(at, true);
      if (length !== WRAP_MARKER) {
        this.recordLength = length;
        this.recordEnd = (this.readPos + recordSize(length)) >>> 0;
        return at + RECORD_LENGTH_BYTES;
      }
      // The producer left the tail empty; a record always follows the marker at offset 0.
      this.readPos = (this.readPos + this.capacity - at) >>> 0;
    }
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

  /**
   * Keep consumed space from the producer until {@link unhold}: release() (and the release in
   * waitForData) do nothing meanwhile. For a consumer that hands views of records to someone
   * who reads them later (the worker's zero-copy socket writes).
   */
  hold(): void {
    this.held = true;
  }

  /** End a {@link hold} and release what was consumed during it. */
  unhold(): void {
    this.held = false;
    this.release();
  }

  /** Hand the space of every consumed record back, then wake the producer if it sleeps. */
  release(): void {
    if (this.held || this.readPos === this.released) return;
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
    if (write !== this.readPos) {
      this.writeCache = write;
      return undefined;
    }
    this.release();
    return this.sleeper.sleep(write | 0);
  }
}

/**
 * Wake every waiter on both W and R, so no waitForData/waitForSpace promise stays pending
 * (shutdown). Woken sides re-check the ring and may wait again.
 */
export function wakeAll(buffers: RingBuffers): void {
  const header = new Int32Array(buffers.header, 0, RING_HEADER_BYTES / 4);
  notifyAll(header, RING_WRITE);
  notifyAll(header, RING_READ);
}
