/**
 * Statistics counters: plain numbers on the worker, copied into the state block once per
 * socket chunk or write batch so the main thread reads them without a round trip.
 */
import {
  ST_CONNECTS,
  ST_COUNTER_COUNT,
  ST_COUNTERS_BYTE_OFFSET,
  ST_DROPPED_MESSAGES,
  ST_IN_BYTES,
  ST_IN_MESSAGES,
  ST_OUT_BYTES,
  ST_OUT_MESSAGES,
} from '../shared/layout.js';

export class Stats {
  inBytes = 0;
  outBytes = 0;
  inMessages = 0;
  outMessages = 0;
  connects = 0;
  /** Received messages dropped here (slow consumers); statistics() adds the main thread's. */
  droppedMessages = 0;
  private readonly counters: BigInt64Array;

  constructor(state: SharedArrayBuffer) {
    this.counters = new BigInt64Array(state, ST_COUNTERS_BYTE_OFFSET, ST_COUNTER_COUNT);
  }

  /** Publish the counters (Atomics.store: the main thread's Atomics.load sees whole values). */
  store(): void {
    const c = this.counters;
    Atomics.store(c, ST_IN_BYTES, BigInt(this.inBytes));
    Atomics.store(c, ST_OUT_BYTES, BigInt(this.outBytes));
    Atomics.store(c, ST_IN_MESSAGES, BigInt(this.inMessages));
    Atomics.store(c, ST_OUT_MESSAGES, BigInt(this.outMessages));
    Atomics.store(c, ST_CONNECTS, BigInt(this.connects));
    Atomics.store(c, ST_DROPPED_MESSAGES, BigInt(this.droppedMessages));
  }
}
