/**
 * Every SharedArrayBuffer offset in the project outside the frame bodies, declared once, each
 * with its single writer. A ring record's body is a frame, whose format (kinds, field offsets,
 * writers and readers) has one owner per ring: frames/command.ts and frames/delivery.ts.
 *
 * A connection shares three blocks between the main thread and its worker:
 *
 *   command ring   main ──► worker   PUB/HPUB/SUB/UNSUB/FLUSH frames, in publish order
 *   delivery ring  worker ──► main   MSG/HMSG deliveries and FLUSH acknowledgements
 *   state block    worker ──► main   connection state, server max_payload, statistics
 *
 * ## Ring header (256 bytes, one Int32Array; one 64-byte cache line per word)
 *
 *   byte   0  W               free-running u32 write counter     writer: producer
 *   byte  64  R               free-running u32 read counter      writer: consumer
 *   byte 128  consumer sleep  odd = consumer is (about to be) asleep on W   writer: consumer
 *   byte 192  producer sleep  odd = producer is (about to be) asleep on R   writer: producer
 *
 * W and R count bytes and wrap at 2^32; the data size is a power of two so `counter & mask`
 * is the position, and `(W - R) >>> 0` the fill level.
 *
 * ## Ring data (power-of-two bytes)
 *
 *   record := u32 bodyLen (LE) | body (bodyLen bytes) | pad to 4
 *
 * Records are 4-byte aligned and never straddle the end: when one does not fit before the
 * end, the producer writes {@link WRAP_MARKER} as the length word and continues at 0. A body
 * may not exceed half the capacity ({@link maxRecordBody}).
 */

// ---- ring header (Int32Array indices) -------------------------------------------------
export const RING_HEADER_BYTES = 256;
/** W: bytes committed by the producer. Writer: producer (Atomics.store after the bytes). */
export const RING_WRITE = 0;
/** R: bytes released by the consumer. Writer: consumer (Atomics.store after it is done reading). */
export const RING_READ = 16;
/** Consumer sleep sequence (odd = sleeping on W). Writer: consumer. */
export const RING_CONSUMER_SLEEP = 32;
/** Producer sleep sequence (odd = sleeping on R). Writer: producer. */
export const RING_PRODUCER_SLEEP = 48;

// ---- ring data ------------------------------------------------------------------------
export const RECORD_ALIGN = 4;
export const RECORD_LENGTH_BYTES = 4;
/** Length word meaning "nothing more before the end; continue at offset 0". */
export const WRAP_MARKER = 0xffffffff;
/** Default data size of each ring: burst tolerance, not speed. */
export const DEFAULT_RING_CAPACITY = 4 * 1024 * 1024;

export function maxRecordBody(capacity: number): number {
  return capacity / 2 - RECORD_LENGTH_BYTES;
}

// ---- state block (worker ──► main, read without a round trip) ---------------------------
//
//   Int32Array view:
//     [0]  connection state (STATE_*)       writer: worker
//     [1]  server max_payload               writer: worker (from each INFO)
//     [2]  1: the server has no headers     writer: worker (from each INFO)
//     [3]  PONGs after handshakes (wraps)   writer: worker
//   BigInt64Array view, from byte 64:
//     [0] inBytes  [1] outBytes  [2] inMessages  [3] outMessages  [4] connects
//     [5] droppedMessages (by the worker; the main thread adds its own)
//                                            writer: worker (Atomics.store once per batch)
export const STATE_BLOCK_BYTES = 128;
export const ST_STATE = 0;
export const ST_MAX_PAYLOAD = 1;
export const ST_NO_HEADERS = 2;
export const ST_PONGS = 3;
export const ST_COUNTERS_BYTE_OFFSET = 64;
export const ST_IN_BYTES = 0;
export const ST_OUT_BYTES = 1;
export const ST_IN_MESSAGES = 2;
export const ST_OUT_MESSAGES = 3;
export const ST_CONNECTS = 4;
export const ST_DROPPED_MESSAGES = 5;
export const ST_COUNTER_COUNT = 6;

export const STATE_PENDING = 0;
export const STATE_CONNECTED = 1;
export const STATE_DISCONNECTED = 2;
export const STATE_CLOSED = 3;

/** max_payload assumed before the first INFO (1 MiB, the server default). */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
