/**
 * Outbound pump: command ring → socket. Consecutive frames are copied into one write buffer
 * (cheaper than many tiny writes, and the ring space is released at once); SUB/UNSUB update
 * the subscription table as they pass, so the table matches exactly what the server was told.
 * It stops when the socket says its buffer is full, which leaves frames in the ring and lets
 * back-pressure reach the publishers.
 */
import {
  CMD_FLAGS,
  CMD_FLUSH,
  CMD_FLUSH_ID,
  CMD_OP,
  CMD_PUB,
  CMD_PUB_COUNT,
  CMD_PUB_ECHO,
  CMD_PUB_WIRE,
  CMD_SID,
  CMD_SUB,
  CMD_SUB_WIRE,
  CMD_UNSUB,
  CMD_UNSUB_MAX,
  CMD_UNSUB_WIRE,
  CMD_VIEW_BYTES,
} from '../shared/layout.js';
import { PING } from '../shared/protocol/encode.js';
import type { RingConsumer } from '../shared/ring/byte-ring.js';
import type { PingPurpose } from './flow-control.js';
import type { SubscriptionTable } from './subscriptions.js';

/** Bytes copied per socket write; a single larger frame gets a buffer of its own. */
const BATCH_BYTES = 256 * 1024;
/** Bytes of ring views per batch. */
const VIEW_BYTES = 1024 * 1024;
/** Batches per pump() call before yielding, so reads and timers are not starved. */
const BATCHES_PER_TURN = 8;

export interface OutboundSink {
  /** Write to the socket; false = its buffer is full, stop until drain. */
  write(bytes: Uint8Array): boolean;
  /** Write chunks at once; `done` when the kernel has them (or the socket failed). */
  writeAll(chunks: Uint8Array[], done: () => void): boolean;
  /** A PING is in the batch just handed to write(), for this purpose. */
  pingQueued(purpose: PingPurpose): void;
  /** PUB/HPUB frames written, for statistics. */
  published(count: number): void;
  /** Bytes of echo records written (flow-control.ts: the send window counts them). */
  echoWritten(bytes: number): void;
  /** A batch and its PINGs are queued: a point where the sink may write a PING of its own. */
  batchDone(): void;
}

/**
 * 'empty': the ring is; 'blocked': the socket's buffer is full (its 'drain' resumes);
 * 'gated': an echo record found no echo budget (flow-control.ts); 'more': the turn ended.
 */
export type PumpResult = 'empty' | 'blocked' | 'gated' | 'more';

export class OutboundPump {
  /**
   * Batches whose ring views a socket still holds, this one or one being ended gracefully
   * (forceReconnect): a socket calls back for every write, once flushed or when destroyed.
   * While any are, the ring holds consumed space back from the publisher (R covers everything
   * consumed before it), so a view's bytes stay put until the kernel has them.
   */
  private viewsInFlight = 0;
  /** Wire bytes of echo records the last batch took from the ring. */
  private echoBytes = 0;

  constructor(
    private readonly ring: RingConsumer,
    private readonly subs: SubscriptionTable,
  ) {}

  /**
   * Drops the frames left in the ring (close() could not send them) and returns how many
   * messages they held.
   */
  discard(): number {
    const ring = this.ring;
    let messages = 0;
    for (let off = ring.next(); off >= 0; off = ring.next()) {
      if (ring.bytes[off + CMD_OP] === CMD_PUB) {
        messages += ring.view.getUint32(off + CMD_PUB_COUNT, true);
      }
      ring.advance();
    }
    ring.release();
    return messages;
  }

  /**
   * Move frames from the ring to the sink until the ring is empty, the sink is full, the turn
   * ends, or the next frame is an echo record once `echoBudget` bytes of them have gone (while
   * there is budget, at least one goes).
   */
  pump(sink: OutboundSink, echoBudget = Number.POSITIVE_INFINITY): PumpResult {
    let left = echoBudget;
    for (let turn = 0; turn < BATCHES_PER_TURN; turn++) {
      const result = this.batch(sink, left);
      left -= this.echoBytes;
      if (result !== 'more') return result;
    }
    return 'more';
  }

  private batch(sink: OutboundSink, echoLimit: number): PumpResult {
    const ring = this.ring;
    let off = ring.next();
    if (off < 0) return 'empty';
    // Copy space, allocated on the first frame that is copied.
    let buf: Buffer | null = null;
    let used = 0;
    let segmentStart = 0;
    let viewBytes = 0;
    const chunks: Uint8Array[] = [];
    let pubs = 0;
    const pings: PingPurpose[] = [];
    let echo = 0;
    let gated = false;
    while (off >= 0) {
      const len = ring.length;
      const op = ring.bytes[off + CMD_OP];
      const isEcho = op === CMD_PUB && (ring.bytes[off + CMD_FLAGS] & CMD_PUB_ECHO) !== 0;
      if (isEcho && echo >= echoLimit) {
        gated = true;
        break;
      }
      const start =
        op === CMD_PUB
          ? off + CMD_PUB_WIRE
          : op === CMD_SUB
            ? off + CMD_SUB_WIRE
            : op === CMD_UNSUB
              ? off + CMD_UNSUB_WIRE
              : off + len; // FLUSH: no wire bytes of its own
      const wireLen = off + len - start;
      const fenced =
        op === CMD_FLUSH ||
        (op === CMD_UNSUB && ring.view.getUint32(off + CMD_UNSUB_MAX, true) === 0);
      const asView = wireLen >= CMD_VIEW_BYTES && !fenced;
      const copyLen = wireLen + (fenced ? PING.length : 0);
      if (
        asView
          ? viewBytes > 0 && viewBytes + wireLen > VIEW_BYTES
          : used > 0 && used + copyLen > BATCH_BYTES
      ) {
        break;
      }
      if (op === CMD_PUB) {
        pubs += ring.view.getUint32(off + CMD_PUB_COUNT, true);
        if (isEcho) echo += wireLen;
      } else if (op === CMD_SUB) {
        this.subs.add(
          ring.view.getUint32(off + CMD_SID, true),
          ring.bytes.subarray(start, off + len),
        );
      } else if (op === CMD_UNSUB) {
        const sid = ring.view.getUint32(off + CMD_SID, true);
        this.subs.unsubscribe(sid, ring.view.getUint32(off + CMD_UNSUB_MAX, true));
        if (fenced) pings.push({ kind: 'unsubFence', sid });
      } else if (op === CMD_FLUSH) {
        pings.push({ kind: 'flush', id: ring.view.getUint32(off + CMD_FLUSH_ID, true) });
      }
      if (asView) {
        if (buf !== null && used > segmentStart) chunks.push(buf.subarray(segmentStart, used));
        segmentStart = used;
        chunks.push(ring.bytes.subarray(start, start + wireLen));
        viewBytes += wireLen;
      } else {
        buf ??= Buffer.allocUnsafe(Math.max(BATCH_BYTES, copyLen));
        buf.set(ring.bytes.subarray(start, start + wireLen), used);
        used += wireLen;
        if (fenced) {
          buf.set(PING, used);
          used += PING.length;
        }
      }
      ring.advance();
      off = ring.next();
    }
    this.echoBytes = echo;
    if (chunks.length === 0 && buf === null) return gated ? 'gated' : 'empty';
    if (buf !== null && used > segmentStart) chunks.push(buf.subarray(segmentStart, used));
    if (pubs > 0) sink.published(pubs);
    if (echo > 0) sink.echoWritten(echo);
    let writable: boolean;
    if (viewBytes === 0) {
      ring.release(); // nothing of this batch is referenced any more (a no-op while held)
      writable = sink.write(chunks[0]);
    } else {
      if (this.viewsInFlight++ === 0) ring.hold();
      writable = sink.writeAll(chunks, () => {
        if (--this.viewsInFlight === 0) ring.unhold();
      });
    }
    for (const purpose of pings) sink.pingQueued(purpose);
    sink.batchDone();
    if (!writable) return 'blocked';
    if (gated) return 'gated';
    return off < 0 ? 'empty' : 'more';
  }
}
