/**
 * Deliveries: parsed MSG/HMSG → delivery ring frames (layout.ts). When the ring is full (the
 * main thread is busy or blocked) messages wait in a {@link Backlog} in arrival order; what
 * happens then (reading paused past a byte bound, drops when the main thread stalls) is the
 * receive policy of flow-control.ts.
 */
import {
  DLV_CONTROL_BYTES,
  DLV_CONTROL_VALUE,
  DLV_FLUSH_ACK,
  DLV_HAS_HEADERS,
  DLV_HAS_REPLY,
  DLV_HEAD,
  DLV_HEADER_LEN,
  DLV_MSG,
  DLV_MSG_HEADER_BYTES,
  DLV_PAD_SHIFT,
  DLV_PAYLOAD_LEN,
  DLV_REPLY_LEN,
  DLV_SHORT_HEADER_BYTES,
  DLV_SHORT_PAYLOAD_LEN,
  DLV_SID,
  DLV_SUB_END,
  DLV_SUBJECT_IS_SUB,
  isShortMsgFrame,
} from '../shared/layout.js';
import type { MsgView } from '../shared/protocol/parser.js';
import { type RingProducer, recordSize } from '../shared/ring/byte-ring.js';
import { Backlog } from './backlog.js';
import { DeliveryCredit, ReceivePolicy } from './flow-control.js';
import {
  alignPad,
  copyPayloadToShared,
  copyToShared,
  SourceBytes,
  type WordBytes,
} from './ring-copy.js';
import type { Subscription } from './subscriptions.js';

export interface InboundEvents {
  slowConsumer(sid: number): void;
  /** A single message too large for the delivery ring: it cannot be delivered. */
  oversized(sid: number, bytes: number): void;
  /** Every waiting frame is in the ring again. */
  caughtUp(): void;
  /** Stop or restart reading the socket (ReceivePolicy: the backlog's byte bound). */
  pauseReading(): void;
  resumeReading(): void;
  /** Keep-alive may not count unanswered PINGs (ReceivePolicy). */
  holdKeepAlive(held: boolean): void;
  /** Every live subscription, for counting what waits for each when the main thread stalls. */
  subscription(sid: number): Subscription | undefined;
  subscriptions(): Iterable<Subscription>;
}

export class Inbound {
  private readonly backlog = new Backlog();
  /** Echo records go out only as fast as the main thread reads deliveries (flow-control.ts). */
  readonly credit: DeliveryCredit;
  private readonly policy: ReceivePolicy;
  private waitingForSpace = false;
  private closed = false;
  /** The buffer messages are being copied from (a socket chunk), with a view made once for it. */
  private source = new SourceBytes(new Uint8Array(0));

  constructor(
    private readonly ring: RingProducer,
    capacity: number,
    private readonly events: InboundEvents,
  ) {
    this.credit = new DeliveryCredit(ring, () => this.backlog.length > 0);
    this.policy = new ReceivePolicy(ring, capacity, {
      pauseReading: () => events.pauseReading(),
      resumeReading: () => events.resumeReading(),
      holdKeepAlive: (held) => events.holdKeepAlive(held),
      countWaiting: () => this.countWaiting(),
    });
  }

  /** Frame one message. Visible to the main thread at the next publish(). */
  deliver(msg: MsgView, sub: Subscription): void {
    const length = msgFrameLength(msg, sub);
    if (length > this.ring.maxBody) {
      this.events.oversized(sub.sid, length);
      return;
    }
    if (msg.buf !== this.source.bytes) {
      // A new socket chunk: has the main thread taken anything since the last one?
      this.source = new SourceBytes(msg.buf);
      this.policy.observe();
    }
    if (!this.policy.admit(sub)) {
      if (!sub.slow) {
        sub.slow = true;
        this.events.slowConsumer(sub.sid);
      }
      return;
    }
    if (this.backlog.length === 0) {
      // Filler for where the payload lands if the record fits before the ring's end.
      const payloadLen = msg.payloadEnd - msg.payloadStart;
      const payloadAt = this.ring.nextBody() + length - payloadLen;
      let pad = alignPad(this.source, msg.payloadStart, payloadLen, payloadAt);
      if (length + pad > this.ring.maxBody) pad = 0;
      let off = this.ring.reserve(length + pad);
      if (off < 0 && pad > 0) {
        pad = 0; // the filler must not send a message that fits to the backlog
        off = this.ring.reserve(length);
      }
      if (off >= 0) {
        writeMsg(this.ring, off, this.source, msg, sub, pad);
        this.ring.commit();
        return;
      }
    }
    const off = this.backlog.reserve(length);
    writeMsg(this.backlog.target, off, this.source, msg, sub, 0);
    this.backlog.commit();
    this.policy.queued(recordSize(length));
    this.awaitSpace();
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
    if (this.backlog.length === 0) {
      const off = this.ring.reserve(DLV_CONTROL_BYTES);
      if (off >= 0) {
        writeControl(this.ring, off, op, value);
        this.ring.commit();
        return;
      }
    }
    const off = this.backlog.reserve(DLV_CONTROL_BYTES);
    writeControl(this.backlog.target, off, op, value);
    this.backlog.commit();
    this.policy.queued(recordSize(DLV_CONTROL_BYTES));
    this.awaitSpace();
  }

  /** Make every framed delivery visible to the main thread (once per socket chunk). */
  publish(): void {
    if (this.ring.hasUnpublished) this.ring.publish();
  }

  /** The policy has paused reading: a new socket starts paused too. */
  get readingPaused(): boolean {
    return this.policy.readingPaused;
  }

  /** The policy holds keep-alive: a new socket starts so too. */
  get keepAliveHeld(): boolean {
    return this.policy.keepAliveHeld;
  }

  /** Stop waiting for ring space (the connection is closing; the main thread stops reading). */
  close(): void {
    this.closed = true;
    this.credit.close();
    this.policy.close();
  }

  /** ReceivePolicy, when the main thread stalls: how many frames wait for each subscription. */
  private countWaiting(): void {
    for (const sub of this.events.subscriptions()) {
      sub.waiting = 0;
      sub.slow = false;
    }
    const count = (words: Int32Array, body: number): void => {
      const i = body >> 2;
      if ((words[i + (DLV_HEAD >> 2)] & 0xff) !== DLV_MSG) return;
      const sub = this.events.subscription(words[i + (DLV_SID >> 2)] >>> 0);
      if (sub !== undefined) sub.waiting++;
    };
    this.ring.forEachUnread((body) => count(this.ring.words, body));
    this.backlog.forEach(count);
  }

  private awaitSpace(): void {
    if (this.waitingForSpace || this.closed) return;
    this.waitingForSpace = true;
    const wait = this.ring.waitForSpace();
    if (wait === undefined) queueMicrotask(this.spaceFreed);
    else wait.then(this.spaceFreed);
  }

  private readonly spaceFreed = (): void => {
    this.waitingForSpace = false;
    if (this.closed) return;
    const before = this.backlog.bytes;
    const empty = this.backlog.moveTo(this.ring);
    this.publish();
    this.policy.moved(before - this.backlog.bytes);
    if (empty) this.events.caughtUp();
    else this.awaitSpace();
  };
}

/** Bytes of a MSG frame: the subject is left out when it is the subscription's own. */
function msgFrameLength(msg: MsgView, sub: Subscription): number {
  const subjectLen = sub.wildcard ? msg.subjectEnd - msg.subjectStart : 0;
  return (
    (isShortMsgFrame(msgFlags(msg, subjectLen)) ? DLV_SHORT_HEADER_BYTES : DLV_MSG_HEADER_BYTES) +
    subjectLen +
    (msg.replyEnd - msg.replyStart) +
    (msg.headerEnd - msg.headerStart) +
    (msg.payloadEnd - msg.payloadStart)
  );
}

function msgFlags(msg: MsgView, subjectLen: number): number {
  return (
    (subjectLen === 0 ? DLV_SUBJECT_IS_SUB : 0) |
    (msg.replyEnd > msg.replyStart ? DLV_HAS_REPLY : 0) |
    (msg.hasHeaders ? DLV_HAS_HEADERS : 0)
  );
}

/** A MSG frame at `dst.bytes[off]`, with `pad` filler bytes before the payload. */
function writeMsg(
  dst: WordBytes,
  off: number,
  src: SourceBytes,
  msg: MsgView,
  sub: Subscription,
  pad: number,
): void {
  const subjectLen = sub.wildcard ? msg.subjectEnd - msg.subjectStart : 0;
  const replyLen = msg.replyEnd - msg.replyStart;
  const headerLen = msg.headerEnd - msg.headerStart;
  const payloadLen = msg.payloadEnd - msg.payloadStart;
  const flags = msgFlags(msg, subjectLen) | (pad << DLV_PAD_SHIFT);
  const words = dst.words;
  const i = off >> 2;
  words[i + (DLV_HEAD >> 2)] = DLV_MSG | (flags << 8) | (subjectLen << 16);
  words[i + (DLV_SID >> 2)] = sub.sid;
  let at: number;
  if (isShortMsgFrame(flags)) {
    words[i + (DLV_SHORT_PAYLOAD_LEN >> 2)] = payloadLen;
    at = off + DLV_SHORT_HEADER_BYTES;
  } else {
    words[i + (DLV_REPLY_LEN >> 2)] = replyLen;
    words[i + (DLV_HEADER_LEN >> 2)] = headerLen;
    words[i + (DLV_PAYLOAD_LEN >> 2)] = payloadLen;
    at = off + DLV_MSG_HEADER_BYTES;
  }
  if (subjectLen > 0) at = copyToShared(src, msg.subjectStart, subjectLen, dst, at);
  if (replyLen > 0) at = copyToShared(src, msg.replyStart, replyLen, dst, at);
  if (headerLen > 0) at = copyToShared(src, msg.headerStart, headerLen, dst, at);
  copyPayloadToShared(src, msg.payloadStart, payloadLen, dst, at + pad);
}

/** FLUSH_ACK and SUB_END: an op and a u32 (flush id or sid). */
function writeControl(dst: WordBytes, off: number, op: number, value: number): void {
  dst.words[(off + DLV_HEAD) >> 2] = op;
  dst.words[(off + DLV_CONTROL_VALUE) >> 2] = value;
}
