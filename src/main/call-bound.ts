/**
 * API.md "Memory is bounded by bytes": a flush(), rtt() or request waiting for its answer holds
 * ~450-650 B of this thread's heap (its promise, its entry, its deadline) while its frame counts a
 * few bytes towards maxPendingBytes. Made without being awaited while no server answers, such
 * calls grew until the process ran out of heap. So the calls waiting at once are bounded too,
 * at {@link CALL_BYTES} each, by maxPendingBytes (never below its default: 131,072 calls): past
 * it a new one rejects 'clientCapacity'. Publishes do not count them; the client's own flushes
 * (drain's) count but are never refused.
 */
import { NatsError } from '../shared/errors.js';
import { DEFAULTS } from '../shared/options.js';

/** What a waiting call is counted as: its heap, measured at ~450-650 B (request, flush, rtt). */
export const CALL_BYTES = 512;

export class CallBound {
  /** Calls that may wait for their answers at once. */
  readonly max: number;

  constructor(
    maxPendingBytes: number,
    /** Flushes, rtt()s and requests waiting for their answers now. */
    private readonly waiting: () => number,
  ) {
    this.max = Math.floor(Math.max(maxPendingBytes, DEFAULTS.maxPendingBytes) / CALL_BYTES);
  }

  /** Throws `'clientCapacity'` when a `what` would be one call too many (nothing is sent). */
  assertRoom(what: string): void {
    if (this.waiting() < this.max) return;
    throw new NatsError(
      'clientCapacity',
      `${what} not sent: ${this.max} flushes, rtt() calls and requests wait for their answers already (each counted as ${CALL_BYTES} bytes against maxPendingBytes); await some first`,
    );
  }
}
