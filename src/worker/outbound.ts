/**
 * Outbound pump: command ring → socket. Consecutive frames are copied into one write buffer
 * (cheaper than many tiny writes, and the ring space is released at once); SUB/UNSUB update
 * the subscription table as they pass, so the table matches exactly what the server was told.
 * It stops when the socket says its buffer is full, which leaves frames in the ring and lets
 * back-pressure reach the publishers.
 */
import {
  CMD_FLUSH,
  CMD_FLUSH_ID,
  CMD_HEADER_BYTES,
  CMD_HPUB,
  CMD_OP,
  CMD_PUB,
  CMD_SID,
  CMD_SUB,
  CMD_SUB_WIRE,
  CMD_UNSUB,
  CMD_UNSUB_MAX,
  CMD_UNSUB_WIRE,
} from '../shared/layout.js';
import { PING } from '../shared/protocol/encode.js';
import type { RingConsumer } from '../shared/ring/byte-ring.js';
import type { SubscriptionTable } from './subscriptions.js';

/** Bytes gathered per socket write; a single larger frame gets a buffer of its own. */
const BATCH_BYTES = 256 * 1024;
/** Batches per pump() call before yielding, so reads and timers are not starved. */
const BATCHES_PER_TURN = 8;

/**
 * Why a PING was written; its PONG (they come back in order) settles it. A flush is acked to
 * the main thread; an unsubscribe fence ends the subscription for good, because every
 * message the server sent before it handled the UNSUB arrives before that PONG.
 */
export type PingPurpose =
  | { kind: 'heartbeat' }
  | { kind: 'flush'; id: number }
  | { kind: 'unsubFence'; sid: number };

export interface OutboundSink {
  /** Write to the socket; false = its buffer is full, stop until drain. */
  write(bytes: Uint8Array): boolean;
  /** A PING is in the batch just handed to write(), for this purpose. */
  pingQueued(purpose: PingPurpose): void;
  /** PUB/HPUB frames written, for statistics. */
  published(count: number): void;
}

export type PumpResult = 'empty' | 'blocked' | 'more';

export class OutboundPump {
  constructor(
    private readonly ring: RingConsumer,
    private readonly subs: SubscriptionTable,
  ) {}

  /** Move frames from the ring to the sink until the ring is empty, the sink is full, or the turn ends. */
  pump(sink: OutboundSink): PumpResult {
    for (let turn = 0; turn < BATCHES_PER_TURN; turn++) {
      const result = this.batch(sink);
      if (result !== 'more') return result;
    }
    return 'more';
  }

  private batch(sink: OutboundSink): PumpResult {
    const ring = this.ring;
    let off = ring.next();
    if (off < 0) return 'empty';
    let buf = Buffer.allocUnsafe(Math.max(BATCH_BYTES, ring.length));
    let used = 0;
    let pubs = 0;
    const pings: PingPurpose[] = [];
    while (off >= 0) {
      const len = ring.length;
      const op = ring.bytes[off + CMD_OP];
      const start =
        op === CMD_SUB
          ? off + CMD_SUB_WIRE
          : op === CMD_UNSUB
            ? off + CMD_UNSUB_WIRE
            : off + CMD_HEADER_BYTES;
      const wireLen = op === CMD_FLUSH ? 0 : off + len - start;
      const fenced =
        op === CMD_FLUSH ||
        (op === CMD_UNSUB && ring.view.getUint32(off + CMD_UNSUB_MAX, true) === 0);
      if (used + wireLen + (fenced ? PING.length : 0) > buf.length) break;
      if (op === CMD_PUB || op === CMD_HPUB) {
        pubs++;
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
      buf.set(ring.bytes.subarray(start, start + wireLen), used);
      used += wireLen;
      if (fenced) {
        buf.set(PING, used);
        used += PING.length;
      }
      ring.advance();
      off = ring.next();
    }
    ring.release();
    if (used < buf.length) buf = buf.subarray(0, used);
    if (pubs > 0) sink.published(pubs);
    const writable = sink.write(buf);
    for (const purpose of pings) sink.pingQueued(purpose);
    if (!writable) return 'blocked';
    return off < 0 ? 'empty' : 'more';
  }
}
