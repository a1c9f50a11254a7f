/**
 * Deliveries: parsed MSG/HMSG → delivery ring frames (layout.ts). When the ring is full (the
 * main thread is busy or blocked) the socket keeps being read, so PING/PONG and INFO keep
 * flowing; messages wait here in arrival order, at most `subscriptionCapacity` per
 * subscription. Past that a subscription's messages are dropped, with one
 * coalesced slowConsumer event until it has caught up.
 */
import {
  DLV_CONTROL_BYTES,
  DLV_CONTROL_VALUE,
  DLV_FLAGS,
  DLV_FLUSH_ACK,
  DLV_HAS_HEADERS,
  DLV_HAS_REPLY,
  DLV_HEADER_LEN,
  DLV_MSG,
  DLV_MSG_HEADER_BYTES,
  DLV_OP,
  DLV_PAYLOAD_LEN,
  DLV_REPLY_LEN,
  DLV_SID,
  DLV_SUB_END,
  DLV_SUBJECT_IS_SUB,
  DLV_SUBJECT_LEN,
} from '../shared/layout.js';
import type { MsgView } from '../shared/protocol/parser.js';
import type { RingProducer } from '../shared/ring/byte-ring.js';
import { copyToShared, type SharedBytes, type SourceBytes } from './ring-copy.js';
import type { Subscription } from './subscriptions.js';

/** A frame waiting for ring space; `sub` is null for frames that are not a subscription's (flush acks). */
interface Waiting {
  sub: Subscription | null;
  body: Uint8Array;
}

export interface InboundEvents {
  slowConsumer(sid: number): void;
  /** A single message too large for the delivery ring: it cannot be delivered. */
  oversized(sid: number, bytes: number): void;
  /** Every waiting frame is in the ring again. */
  caughtUp(): void;
}

export class Inbound {
  private readonly waiting: Waiting[] = [];
  private head = 0;
  /** Frames waiting per subscription, against `subscriptionCapacity`. */
  private readonly waitingBySid = new Map<number, number>();
  private waitingForSpace = false;
  private closed = false;
  /** The buffer messages are being copied from (a socket chunk), with a view made once for it. */
  private source: SourceBytes = {
    bytes: new Uint8Array(0),
    view: new DataView(new ArrayBuffer(0)),
  };

  constructor(
    private readonly ring: RingProducer,
    private readonly capacity: number,
    private readonly events: InboundEvents,
  ) {}

  /** Frame one message. Visible to the main thread at the next publish(). */
  deliver(msg: MsgView, sub: Subscription): void {
    const length = msgFrameLength(msg, sub);
    if (length > this.ring.maxBody) {
      this.events.oversized(sub.sid, length);
      return;
    }
    if (msg.buf !== this.source.bytes) {
      this.source = { bytes: msg.buf, view: new DataView(msg.buf.buffer, msg.buf.byteOffset) };
    }
    if (this.head === this.waiting.length) {
      const off = this.ring.reserve(length);
      if (off >= 0) {
        writeMsg(this.ring, this.ring.view, off, this.source, msg, sub);
        this.ring.commit();
        return;
      }
    }
    const queued = this.waitingBySid.get(sub.sid) ?? 0;
    if (queued >= this.capacity) {
      if (!sub.slow) {
        sub.slow = true;
        this.events.slowConsumer(sub.sid);
      }
      return;
    }
    const body = new Uint8Array(length);
    const words = new Int32Array(body.buffer, 0, length >> 2);
    writeMsg({ bytes: body, words }, new DataView(body.buffer), 0, this.source, msg, sub);
    this.waitingBySid.set(sub.sid, queued + 1);
    this.enqueue({ sub, body });
  }

  /** Acknowledge a flush, in order with the messages before it. */
  flushAck(id: number): void {
    this.control(DLV_FLUSH_ACK, id);
  }

  /** A subscription reached its unsubscribeAfter limit: tell the main thread, after its messages. */
  subscriptionEnded(sid: number): void {
    this.control(DLV_SUB_END, sid);
  }

  /** An 8-byte control frame (op + u32), in order with the messages before it; never dropped. */
  private control(op: number, value: number): void {
    if (this.head === this.waiting.length) {
      const off = this.ring.reserve(DLV_CONTROL_BYTES);
      if (off >= 0) {
        writeControl(this.ring.bytes, this.ring.view, off, op, value);
        this.ring.commit();
        return;
      }
    }
    const body = new Uint8Array(DLV_CONTROL_BYTES);
    writeControl(body, new DataView(body.buffer), 0, op, value);
    this.enqueue({ sub: null, body });
  }

  /** Frames wait here: the delivery ring is full because the main thread is busy. */
  get backlogged(): boolean {
    return this.head < this.waiting.length;
  }

  /** Make every framed delivery visible to the main thread (once per socket chunk). */
  publish(): void {
    if (this.ring.hasUnpublished) this.ring.publish();
  }

  /** Stop waiting for ring space (the connection is closing; the main thread stops reading). */
  close(): void {
    this.closed = true;
  }

  private enqueue(item: Waiting): void {
    this.waiting.push(item);
    this.awaitSpace();
  }

  private awaitSpace(): void {
    if (this.waitingForSpace || this.closed) return;
    const wait = this.ring.waitForSpace();
    if (wait === undefined) {
      queueMicrotask(() => this.drainWaiting());
      return;
    }
    this.waitingForSpace = true;
    wait.then(() => {
      this.waitingForSpace = false;
      this.drainWaiting();
    });
  }

  private drainWaiting(): void {
    const ring = this.ring;
    while (this.head < this.waiting.length) {
      const item = this.waiting[this.head];
      const off = ring.reserve(item.body.length);
      if (off < 0) break;
      ring.bytes.set(item.body, off);
      ring.commit();
      this.head++;
      if (item.sub !== null) this.release(item.sub);
    }
    if (this.head === this.waiting.length) {
      this.waiting.length = 0;
      this.head = 0;
      this.publish();
      this.events.caughtUp();
      return;
    }
    if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting.splice(0, this.head);
      this.head = 0;
    }
    this.publish();
    this.awaitSpace();
  }

  private release(sub: Subscription): void {
    const left = (this.waitingBySid.get(sub.sid) ?? 1) - 1;
    if (left > 0) {
      this.waitingBySid.set(sub.sid, left);
    } else {
      this.waitingBySid.delete(sub.sid);
      // Caught up: a later overflow is a new episode with its own slowConsumer event.
      sub.slow = false;
    }
  }
}

/** Bytes of a MSG frame: the subject is left out when it is the subscription's own. */
function msgFrameLength(msg: MsgView, sub: Subscription): number {
  const subjectLen = sub.wildcard ? msg.subjectEnd - msg.subjectStart : 0;
  return (
    DLV_MSG_HEADER_BYTES +
    subjectLen +
    (msg.replyEnd - msg.replyStart) +
    (msg.headerEnd - msg.headerStart) +
    (msg.payloadEnd - msg.payloadStart)
  );
}

function writeMsg(
  dst: SharedBytes,
  view: DataView,
  off: number,
  src: SourceBytes,
  msg: MsgView,
  sub: Subscription,
): void {
  const subjectLen = sub.wildcard ? msg.subjectEnd - msg.subjectStart : 0;
  const replyLen = msg.replyEnd - msg.replyStart;
  const headerLen = msg.headerEnd - msg.headerStart;
  const payloadLen = msg.payloadEnd - msg.payloadStart;
  const flags =
    (subjectLen === 0 ? DLV_SUBJECT_IS_SUB : 0) |
    (replyLen > 0 ? DLV_HAS_REPLY : 0) |
    (msg.hasHeaders ? DLV_HAS_HEADERS : 0);
  const bytes = dst.bytes;
  bytes[off + DLV_OP] = DLV_MSG;
  bytes[off + DLV_FLAGS] = flags;
  view.setUint16(off + DLV_SUBJECT_LEN, subjectLen, true);
  view.setUint32(off + DLV_SID, sub.sid, true);
  view.setUint16(off + DLV_REPLY_LEN, replyLen, true);
  view.setUint32(off + DLV_HEADER_LEN, headerLen, true);
  view.setUint32(off + DLV_PAYLOAD_LEN, payloadLen, true);
  let at = off + DLV_MSG_HEADER_BYTES;
  if (subjectLen > 0) at = copyToShared(src, msg.subjectStart, subjectLen, dst, at);
  if (replyLen > 0) at = copyToShared(src, msg.replyStart, replyLen, dst, at);
  if (headerLen > 0) at = copyToShared(src, msg.headerStart, headerLen, dst, at);
  copyToShared(src, msg.payloadStart, payloadLen, dst, at);
}

/** FLUSH_ACK and SUB_END: an op and a u32 (flush id or sid). */
function writeControl(
  bytes: Uint8Array,
  view: DataView,
  off: number,
  op: number,
  value: number,
): void {
  bytes[off + DLV_OP] = op;
  view.setUint32(off + DLV_CONTROL_VALUE, value, true);
}
