/**
 * Deliveries: parsed MSG/HMSG → delivery ring frames (shared/frames/delivery.ts). When the
 * ring is full (the main thread is busy or blocked) the socket keeps being read, so PING/PONG
 * and INFO keep flowing; messages wait in a {@link Backlog} in arrival order, at most
 * `subscriptionCapacity` per subscription. Past that a subscription's messages are dropped,
 * with one coalesced slowConsumer event until it has caught up.
 */
import {
  type ControlDelivery,
  deliveryLength,
  encodeDelivery,
  MsgFrameWriter,
} from '../shared/frames/delivery.js';
import type { MsgView } from '../shared/protocol/parser.js';
import type { RingProducer } from '../shared/ring/byte-ring.js';
import { SourceBytes } from '../shared/ring/ring-copy.js';
import { Backlog } from './backlog.js';
import type { Subscription } from './subscriptions.js';

/**
 * Deliveries are "behind" once this share of the ring is unread (64 KiB of 4 MiB); commands
 * then go out only as fast as the main thread reads (a credit of the bytes it took, at most
 * this share at a time). Early on purpose: what a self-publishing client has already sent
 * keeps echoing back (socket buffers both ways, the server's queue), and must fit in the ring
 * and the per-subscription backlog. 2 M self-echoed 128 B messages (pubsub.test.ts
 * "flooding") overran subscriptionCapacity in 2 of 6 runs at half the ring, 1 of 17 at 1/16,
 * none of 19 at 1/64 with commands held outright, none of 6 with the capped credit; without
 * the cap, 1 of 1. The credit is what lets a busy service's replies out ("a busy service").
 */
const BEHIND_SHARE = 64;

export interface InboundEvents {
  slowConsumer(sid: number): void;
  /** A single message too large for the delivery ring: it cannot be delivered. */
  oversized(sid: number, bytes: number): void;
  /** Every waiting frame is in the ring again. */
  caughtUp(): void;
}

export class Inbound {
  private readonly backlog = new Backlog();
  /** Frames waiting per subscription, against `subscriptionCapacity`. */
  private readonly waitingBySid = new Map<number, number>();
  private waitingForSpace = false;
  /** What {@link awaitRelief} calls at the main thread's next release, or null. */
  private reliefWaiter: (() => void) | null = null;
  /** The ring's R at the last {@link takeCredit}. */
  private creditMark = 0;
  private closed = false;
  /** The buffer messages are being copied from (a socket chunk), with a view made once for it. */
  private source = new SourceBytes(new Uint8Array(0));
  private readonly frame = new MsgFrameWriter();

  constructor(
    private readonly ring: RingProducer,
    private readonly capacity: number,
    private readonly events: InboundEvents,
  ) {}

  /** Frame one message. Visible to the main thread at the next publish(). */
  deliver(msg: MsgView, sub: Subscription): void {
    if (msg.buf !== this.source.bytes) {
      this.source = new SourceBytes(msg.buf);
    }
    const frame = this.frame;
    const length = frame.measure(msg, this.source, sub.wildcard ? null : sub.ownSubject);
    if (length > this.ring.maxBody) {
      this.events.oversized(sub.sid, length);
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
        frame.write(this.ring, off, this.source, msg, sub.sid, pad);
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
    const off = this.backlog.reserve(length);
    frame.write(this.backlog.target, off, this.source, msg, sub.sid, 0);
    this.backlog.commit(sub);
    this.waitingBySid.set(sub.sid, queued + 1);
    this.awaitSpace();
  }

  /** Acknowledge a flush, in order with the messages before it. */
  flushAck(id: number): void {
    this.control({ kind: 'flushAck', id });
  }

  /** A subscription reached its unsubscribeAfter limit: tell the main thread, after its messages. */
  subscriptionEnded(sid: number): void {
    this.control({ kind: 'subEnd', sid });
  }

  /** A small control frame, in order with the messages before it; never dropped. */
  private control(d: ControlDelivery): void {
    const length = deliveryLength(d);
    if (this.backlog.length === 0) {
      const off = this.ring.reserve(length);
      if (off >= 0) {
        encodeDelivery(d, this.ring, off);
        this.ring.commit();
        return;
      }
    }
    const off = this.backlog.reserve(length);
    encodeDelivery(d, this.backlog.target, off);
    this.backlog.commit(null);
    this.awaitSpace();
  }

  /**
   * The main thread is behind with deliveries: frames wait here, or more than
   * 1/{@link BEHIND_SHARE} of the ring is unread. The worker then sends this client's commands
   * only as fast as its main thread reads deliveries ({@link takeCredit}): a client that
   * receives its own publishes would otherwise keep adding to a queue that ends in dropped
   * messages.
   */
  get behind(): boolean {
    return this.backlog.length > 0 || this.ring.usedBytes() * BEHIND_SHARE > this.ring.capacity;
  }

  /**
   * Bytes of deliveries the main thread has taken out of the ring since the last call. While
   * {@link behind}, the worker lets commands through up to this much: a flood of a client's
   * own echoes then goes at the pace its main thread reads them, and a busy service's replies
   * still go out, one for each request it has taken.
   */
  takeCredit(): number {
    const released = this.ring.releasedCounter();
    const credit = (released - this.creditMark) >>> 0;
    this.creditMark = released;
    // What the main thread took while commands were flowing freely is no credit for now.
    return Math.min(credit, this.ring.capacity / BEHIND_SHARE);
  }

  /**
   * Call `then` once, after the main thread next takes deliveries out of the ring. Calls made
   * before that are one wait: the worker asks on every socket chunk while it is behind.
   */
  awaitRelief(then: () => void): void {
    if (this.reliefWaiter !== null || this.closed) return;
    this.reliefWaiter = then;
    const wait = this.ring.waitForSpace(); // shares the one wait on the ring with awaitSpace
    if (wait === undefined) queueMicrotask(this.relieved);
    else wait.then(this.relieved);
  }

  private readonly relieved = (): void => {
    const then = this.reliefWaiter;
    this.reliefWaiter = null;
    then?.();
  };

  /** Make every framed delivery visible to the main thread (once per socket chunk). */
  publish(): void {
    if (this.ring.hasUnpublished) this.ring.publish();
  }

  /** Stop waiting for ring space (the connection is closing; the main thread stops reading). */
  close(): void {
    this.closed = true;
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
    this.drainWaiting();
  };

  private drainWaiting(): void {
    const empty = this.backlog.moveTo(this.ring, this.moved);
    this.publish();
    if (empty) this.events.caughtUp();
    else this.awaitSpace();
  }

  private readonly moved = (sub: Subscription | null): void => {
    if (sub !== null) this.release(sub);
  };

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
