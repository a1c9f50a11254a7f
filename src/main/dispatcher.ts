/**
 * Drains the delivery ring on the caller's thread and hands messages to subscribers.
 *
 * It sleeps on the ring with Atomics.waitAsync (keeps nothing alive, never blocks), and
 * drains in slices (≤ {@link SLICE_FRAMES} frames or ~{@link SLICE_MS} ms) before yielding
 * with setImmediate, so a flood cannot starve the application's timers and I/O.
 */
import {
  DLV_FLAGS,
  DLV_FLUSH_ACK,
  DLV_FLUSH_ID,
  DLV_HAS_HEADERS,
  DLV_HEADER_LEN,
  DLV_MSG_HEADER_BYTES,
  DLV_OP,
  DLV_PAYLOAD_LEN,
  DLV_REPLY_LEN,
  DLV_SID,
  DLV_SUBJECT_IS_SUB,
  DLV_SUBJECT_LEN,
} from '../shared/layout.js';
import { type DecodedHeaders, decodeHeaders } from '../shared/protocol/headers.js';
import { decodeString } from '../shared/protocol/utf8.js';
import type { RingConsumer } from '../shared/ring/byte-ring.js';
import { Message } from './message.js';
import type { Subscriber } from './subscriber.js';

const SLICE_FRAMES = 4096;
const SLICE_MS = 1;
/** Frames between clock reads and between releases of ring space to the worker. */
const CHECK_EVERY = 256;
/** Payloads up to this size get their own on-heap copy (cheap); larger ones share a slab. */
const SMALL_PAYLOAD = 64;
const SLAB_BYTES = 64 * 1024;

export interface DispatchTarget {
  subscription(sid: number): Subscriber | undefined;
  flushAcked(id: number): void;
  /** A user callback threw, or a header block could not be decoded. */
  deliveryError(error: unknown, sub: Subscriber): void;
}

export class Dispatcher {
  private stopped = false;
  private slab = new Uint8Array(SLAB_BYTES);
  private slabUsed = 0;

  constructor(
    private readonly ring: RingConsumer,
    private readonly target: DispatchTarget,
  ) {}

  start(): void {
    this.drain();
  }

  /** No more dispatching; a pending wait is released by the owner's wakeAll. */
  stop(): void {
    this.stopped = true;
  }

  private readonly drain = (): void => {
    if (this.stopped) return;
    const ring = this.ring;
    const deadline = performance.now() + SLICE_MS;
    let n = 0;
    let off = ring.next();
    while (off >= 0) {
      this.dispatch(off);
      ring.advance();
      if (++n % CHECK_EVERY === 0) {
        ring.release();
        if (n >= SLICE_FRAMES || performance.now() >= deadline || this.stopped) break;
      }
      off = ring.next();
    }
    ring.release();
    if (this.stopped) return;
    if (off >= 0) {
      setImmediate(this.drain); // more waiting: yield to the event loop first
      return;
    }
    const wait = ring.waitForData();
    if (wait === undefined) {
      setImmediate(this.drain);
    } else {
      wait.then(this.drain);
    }
  };

  private dispatch(off: number): void {
    const { bytes, view } = this.ring;
    if (bytes[off + DLV_OP] === DLV_FLUSH_ACK) {
      this.target.flushAcked(view.getUint32(off + DLV_FLUSH_ID, true));
      return;
    }
    const sub = this.target.subscription(view.getUint32(off + DLV_SID, true));
    if (sub === undefined || sub.isClosed) return;
    const flags = bytes[off + DLV_FLAGS];
    const subjectLen = view.getUint16(off + DLV_SUBJECT_LEN, true);
    const replyLen = view.getUint16(off + DLV_REPLY_LEN, true);
    const headerLen = view.getUint32(off + DLV_HEADER_LEN, true);
    const payloadLen = view.getUint32(off + DLV_PAYLOAD_LEN, true);
    let p = off + DLV_MSG_HEADER_BYTES;
    const subject =
      flags & DLV_SUBJECT_IS_SUB ? sub.subject : decodeString(bytes, p, p + subjectLen);
    p += subjectLen;
    const reply = replyLen > 0 ? decodeString(bytes, p, p + replyLen) : undefined;
    p += replyLen;
    let decoded: DecodedHeaders | undefined;
    if (flags & DLV_HAS_HEADERS) {
      try {
        decoded = decodeHeaders(bytes, p, p + headerLen);
      } catch (error) {
        this.target.deliveryError(error, sub);
        return;
      }
    }
    p += headerLen;
    const msg = new Message(
      subject,
      reply,
      this.copyPayload(p, payloadLen),
      decoded?.headers,
      decoded?.status,
      decoded?.description,
    );
    try {
      sub.push(msg);
    } catch (error) {
      this.target.deliveryError(error, sub);
    }
  }

  /** The payload leaves shared memory: small ones on-heap, larger ones in a pooled slab. */
  private copyPayload(from: number, length: number): Uint8Array {
    const bytes = this.ring.bytes;
    if (length <= SMALL_PAYLOAD || length > SLAB_BYTES / 4) return bytes.slice(from, from + length);
    if (this.slabUsed + length > SLAB_BYTES) {
      this.slab = new Uint8Array(SLAB_BYTES);
      this.slabUsed = 0;
    }
    const at = this.slabUsed;
    this.slab.set(bytes.subarray(from, from + length), at);
    this.slabUsed = (at + length + 7) & ~7;
    return this.slab.subarray(at, at + length);
  }
}
