/**
 * Single-producer/single-consumer byte ring over two SharedArrayBuffers (MECHANICS C.1–C.3):
 * the layout both sides share and the helpers they both use. The writing side is
 * `RingProducer` (ring-producer.ts), the reading side `RingConsumer` (ring-consumer.ts); each
 * is used from one thread only.
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
 * (one `Atomics.store` per batch) or when its cached copy says empty/full (one `Atomics.load`;
 * `RingProducer.room`, called once per grown PUB record, loads R too).
 * The producer writes bodies with plain stores before its store of W, and the consumer reads
 * them after its load of W, so the sequentially consistent pair orders them; the same holds
 * for R and the space it hands back. No method allocates, except the promise of a wait.
 */
import { NatsError } from '../errors.js';
import {
  DEFAULT_RING_CAPACITY,
  RECORD_ALIGN,
  RECORD_LENGTH_BYTES,
  RING_HEADER_BYTES,
  RING_READ,
  RING_WRITE,
} from '../layout.js';
import { notifyAll } from './wake.js';

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

/**
 * The header of a ring as the two sides use it, after checking both buffers' sizes.
 *
 * @throws NatsError `invalidArgument` for a header that is too small or a bad data size
 */
export function headerOf(buffers: RingBuffers): Int32Array {
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
 * Wake every waiter on both W and R, so no waitForData/waitForSpace promise stays pending
 * (shutdown). Woken sides re-check the ring and may wait again.
 */
export function wakeAll(buffers: RingBuffers): void {
  const header = new Int32Array(buffers.header, 0, RING_HEADER_BYTES / 4);
  notifyAll(header, RING_WRITE);
  notifyAll(header, RING_READ);
}
