/**
 * The caller's read-only view of the state block (layout.ts) the worker writes: connection
 * state, the server's max_payload and the statistics, read with no round trip.
 */
import {
  DEFAULT_MAX_PAYLOAD,
  ST_CONNECTS,
  ST_COUNTER_COUNT,
  ST_COUNTERS_BYTE_OFFSET,
  ST_DROPPED_MESSAGES,
  ST_IN_BYTES,
  ST_IN_MESSAGES,
  ST_MAX_PAYLOAD,
  ST_NO_HEADERS,
  ST_OUT_BYTES,
  ST_OUT_MESSAGES,
  ST_PONGS,
  ST_STATE,
  STATE_BLOCK_BYTES,
  STATE_CONNECTED,
  STATE_DISCONNECTED,
  STATE_PENDING,
} from '../shared/layout.js';
import type { State } from './events.js';

/**
 * Counters of the connection since the client was created, as `Client.statistics()` reads
 * them from shared memory (no round trip).
 */
export interface Statistics {
  /** Bytes read from the socket, protocol included. */
  inBytes: number;
  /** Bytes written to the socket, protocol included. */
  outBytes: number;
  /** MSG/HMSG received. */
  inMessages: number;
  /** PUB/HPUB sent. */
  outMessages: number;
  /** Successful connections, the first included (reconnects = connects − 1). */
  connects: number;
  /**
   * Received messages the client dropped: a slow consumer's, in the worker's backlog or in an
   * iterator's queue on this thread.
   */
  droppedMessages: number;
}

export class SharedState {
  readonly buffer = new SharedArrayBuffer(STATE_BLOCK_BYTES);
  private readonly words = new Int32Array(this.buffer);
  private readonly counters = new BigInt64Array(
    this.buffer,
    ST_COUNTERS_BYTE_OFFSET,
    ST_COUNTER_COUNT,
  );

  constructor() {
    // The one write from this side, before the worker exists: the limit until the first INFO.
    Atomics.store(this.words, ST_MAX_PAYLOAD, DEFAULT_MAX_PAYLOAD);
  }

  /** The worker's last transition (Atomics.load observes its Atomics.store). */
  state(): State {
    switch (Atomics.load(this.words, ST_STATE)) {
      case STATE_PENDING:
        return 'pending';
      case STATE_CONNECTED:
        return 'connected';
      case STATE_DISCONNECTED:
        return 'disconnected';
      default:
        return 'closed';
    }
  }

  /** Whether the server takes headers: true until an INFO says it has none. */
  serverHeaders(): boolean {
    return Atomics.load(this.words, ST_NO_HEADERS) === 0;
  }

  /** PONGs the connections answered after their handshakes (wraps): proof of an answering one. */
  pongs(): number {
    return Atomics.load(this.words, ST_PONGS);
  }

  /** Connections the worker has made, the first included (statistics().connects). */
  connects(): number {
    return Number(Atomics.load(this.counters, ST_CONNECTS));
  }

  /** The last INFO's max_payload. */
  maxPayload(): number {
    return Atomics.load(this.words, ST_MAX_PAYLOAD);
  }

  statistics(): Statistics {
    const c = this.counters;
    return {
      inBytes: Number(Atomics.load(c, ST_IN_BYTES)),
      outBytes: Number(Atomics.load(c, ST_OUT_BYTES)),
      inMessages: Number(Atomics.load(c, ST_IN_MESSAGES)),
      outMessages: Number(Atomics.load(c, ST_OUT_MESSAGES)),
      connects: this.connects(),
      droppedMessages: Number(Atomics.load(c, ST_DROPPED_MESSAGES)),
    };
  }
}
