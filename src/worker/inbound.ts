/**
 * Deliveries: parsed MSG/HMSG → delivery ring frames (shared/frames/delivery.ts). When the ring is full (the
 * main thread is busy or blocked) messages wait in a {@link Backlog} in arrival order; what
 * happens then (reading paused past a byte bound, drops when the main thread stalls) is the
 * receive policy of flow-control.ts. A message too large for one frame is continued across
 * frames (delivery.ts), so any message the parser accepts (up to max_payload) is delivered.
 */
import {
  CONTINUED_FRAME_OVER,
  CONTROL_DELIVERY_BYTES,
  type ControlDelivery,
  type FrameSpace,
  MsgFrameWriter,
  msgFrameSid,
  writeControlDelivery,
} from '../shared/frames/delivery.js';
import type { MsgView } from '../shared/protocol/parser.js';
import { lastTokenRequestId } from '../shared/protocol/request-id.js';
import { SourceBytes } from '../shared/ring/ring-copy.js';
import type { RingProducer } from '../shared/ring/ring-producer.js';
import { Backlog } from './backlog.js';
import { DeliveryCredit, ReceivePolicy } from './flow-control.js';
import { FrameBytes } from './frame-bytes.js';
import type { RefusedRequest } from './outbound.js';
import type { Subscription } from './subscriptions.js';

/** No chunk: the next message's buffer is a new one to {@link Inbound.deliver}. */
const NO_SOURCE = new SourceBytes(new Uint8Array(0));

export interface InboundEvents {
  slowConsumer(sid: number): void;
  /** A message was dropped (a slow consumer's), for statistics().droppedMessages. */
  dropped(): void;
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
  /**
   * The buffer messages are being copied from (a socket chunk, or the parser's own buffer for a
   * message split across chunks), with a view made once for it; {@link NO_SOURCE} after a chunk.
   */
  private source = NO_SOURCE;
  private readonly frame = new MsgFrameWriter();
  /** The ring's bytes as frames are written into them: the class backlog slabs have too. */
  private readonly ringBytes: FrameBytes;
  /** Frames that must stay in order with whatever waits: control frames, continued messages. */
  private readonly space: DeliverySpace;
  /** Frame bytes from which a message is continued across frames. */
  private readonly continuedOver: number;

  constructor(
    private readonly ring: RingProducer,
    capacity: number,
    private readonly events: InboundEvents,
  ) {
    this.ringBytes = new FrameBytes(ring.bytes, ring.words);
    this.credit = new DeliveryCredit(ring, () => this.backlog.length > 0);
    this.policy = new ReceivePolicy(ring, this.backlog, capacity, {
      pauseReading: () => events.pauseReading(),
      resumeReading: () => events.resumeReading(),
      holdKeepAlive: (held) => events.holdKeepAlive(held),
      countWaiting: () => this.countWaiting(),
    });
    this.space = new DeliverySpace(ring, this.ringBytes, this.backlog, () => {
      this.policy.queued();
      this.awaitSpace();
    });
    this.continuedOver = Math.min(CONTINUED_FRAME_OVER, ring.maxBody);
  }

  /** Frame one message. Visible to the main thread at the next publish(). */
  deliver(msg: MsgView, sub: Subscription): void {
    if (msg.buf !== this.source.bytes) {
      // The chunk's first message: has the main thread taken anything since the last chunk?
      this.source = new SourceBytes(msg.buf);
      this.policy.observe();
    }
    const frame = this.frame;
    const length = frame.measure(msg, this.source, sub.wildcard ? null : sub.ownSubject);
    if (!this.policy.admit(sub)) {
      this.events.dropped();
      if (!sub.slow) {
        sub.slow = true;
        this.events.slowConsumer(sub.sid);
      }
      if (sub.replies) this.replyDropped(msg);
      return;
    }
    if (length > this.continuedOver) {
      frame.writeContinued(this.space, this.source, msg, sub.sid, this.ring.maxBody);
      return;
    }
    if (this.backlog.length === 0) {
      // Filler for where the payload lands if the record fits before the ring's end.
      let pad = frame.payloadPad(this.source, msg, this.ring.nextBody());
      if (length + pad > this.ring.maxBody) pad = 0;
      let off = this.ring.reserve(length + pad);
      if (off < 0 && pad > 0) {
        pad = 0; // the filler must not send a message that fits to the backlog
        off = this.ring.reserve(length);
      }
      if (off >= 0) {
        frame.write(this.ringBytes, off, this.source, msg, sub.sid, pad);
        this.ring.commit();
        return;
      }
    }
    const off = this.backlog.reserve(length);
    frame.write(this.backlog.target, off, this.source, msg, sub.sid, 0);
    this.backlog.commit();
    this.policy.queued();
    this.awaitSpace();
  }

  /** Acknowledge a flush, in order with the messages before it. */
  flushAck(id: number): void {
    this.control({ kind: 'flushAck', id });
  }

  /** A flush whose messages a failed connection may have lost (Session.unansweredFlushes). */
  flushLost(id: number): void {
    this.control({ kind: 'flushLost', id });
    this.publish();
  }

  /**
   * A failed connection may have lost messages: the flushes after flush `id`, which it had not
   * taken, are lost with them.
   */
  flushesLostAfter(id: number): void {
    this.control({ kind: 'flushesLostAfter', id });
    this.publish();
  }

  /** A subscription reached its unsubscribeAfter limit: tell the main thread, after its messages. */
  subscriptionEnded(sid: number): void {
    this.control({ kind: 'subEnd', sid });
  }

  /** A request was left out unsent (Outbound.takeRefused): it fails at once. */
  requestRefused({ sid, id, withHeaders }: RefusedRequest): void {
    this.control(
      id >= 0
        ? { kind: 'requestRefused', id, withHeaders }
        : { kind: 'inboxRefused', sid, withHeaders },
    );
  }

  /** The server refused a subscription's SUB line (connection.ts): tell the main thread now. */
  subscriptionRefused(sid: number): void {
    this.control({ kind: 'subRefused', sid });
    this.publish();
  }

  /** Name the request whose reply `msg` was, so that it fails now rather than at its timeout. */
  private replyDropped(msg: MsgView): void {
    const id = lastTokenRequestId(msg.buf, msg.subjectStart, msg.subjectEnd);
    if (id >= 0 && this.policy.noticeDrop()) this.control({ kind: 'replyDropped', id });
  }

  /** A small control frame, in order with the messages before it; never dropped. */
  private control(d: ControlDelivery): void {
    const off = this.space.reserve(CONTROL_DELIVERY_BYTES);
    writeControlDelivery(d, this.space.target, off);
    this.space.commit();
  }

  /**
   * A socket chunk's ops are handled: publish its deliveries, and look at the main thread's
   * progress at the next chunk's first message, even one from the same buffer (the parser
   * hands every message split across chunks over from one buffer of its own).
   */
  chunkDone(): void {
    this.source = NO_SOURCE;
    this.publish();
  }

  /** Make every framed delivery visible to the main thread. */
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
      const sid = msgFrameSid(words, body);
      const sub = sid < 0 ? undefined : this.events.subscription(sid);
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
    const empty = this.backlog.moveTo(this.ring);
    this.publish();
    this.policy.moved();
    if (empty) this.events.caughtUp();
    else this.awaitSpace();
  };
}

/** Frames in arrival order: into the ring while nothing waits and it has room, else the backlog. */
class DeliverySpace implements FrameSpace {
  target: FrameBytes;
  private inRing = true;

  constructor(
    private readonly ring: RingProducer,
    private readonly ringBytes: FrameBytes,
    private readonly backlog: Backlog,
    /** A frame waits in the backlog. */
    private readonly queued: () => void,
  ) {
    this.target = ringBytes;
  }

  reserve(length: number): number {
    if (this.backlog.length === 0) {
      const off = this.ring.reserve(length);
      this.inRing = off >= 0;
      if (this.inRing) {
        this.target = this.ringBytes;
        return off;
      }
    }
    this.inRing = false;
    const off = this.backlog.reserve(length);
    this.target = this.backlog.target;
    return off;
  }

  commit(): void {
    if (this.inRing) {
      this.ring.commit();
      return;
    }
    this.backlog.commit();
    this.queued();
  }
}
