/**
 * Outbound pump: command ring → socket. Consecutive frames are copied into one write buffer
 * (cheaper than many tiny writes, and the ring space is released at once); SUB/UNSUB update
 * the subscription table as they pass, which gives their wire lines, so the table matches
 * exactly what the server was told.
 * It stops when the socket says its buffer is full, which leaves frames in the ring and lets
 * back-pressure reach the publishers.
 * A message continued across records (command.ts) is copied out part by part and written whole
 * once its last part comes, so nothing else reaches the socket inside it, and a reconnect
 * meanwhile sends it whole on the new connection.
 * Messages were accepted under the max_payload the caller's thread last heard of, and with
 * headers before it heard of a server without them: those the current server cannot take
 * (larger than its max_payload, or with headers it does not take) are left out and counted
 * ({@link takeRefused}), since nats-server would end the connection on them.
 */
import {
  type ControlCommand,
  continuesPub,
  decodeControlCommand,
  isEchoPub,
  isPubFrame,
  pubCount,
  pubWireStart,
  WIRE_VIEW_BYTES,
} from '../shared/frames/command.js';
import { DEFAULT_MAX_PAYLOAD } from '../shared/layout.js';
import { PING } from '../shared/protocol/encode.js';
import {
  isHpubAt,
  pubAt,
  pubReplyAt,
  pubsFor,
  type Refusals,
  type RefusedOp,
} from '../shared/protocol/pub-sizes.js';
import type { RingConsumer } from '../shared/ring/ring-consumer.js';
import type { PingPurpose } from './flow-control.js';
import type { SubscriptionTable } from './subscriptions.js';

/** A FLUSH has no line of its own: only the PING the batch adds after it. */
const NO_BYTES = new Uint8Array(0);

/** Bytes copied per socket write; a single larger frame gets a buffer of its own. */
const BATCH_BYTES = 256 * 1024;
/** Bytes of ring views per batch. */
const VIEW_BYTES = 1024 * 1024;
/** Batches per pump() call before yielding, so reads and timers are not starved. */
const BATCHES_PER_TURN = 8;

export interface OutboundSink {
  /** Write to the socket; false = its buffer is full, stop until drain. */
  write(bytes: Uint8Array): boolean;
  /** Write chunks at once; they may change once this returns (views of the ring). */
  writeAll(chunks: Uint8Array[]): boolean;
  /**
   * A PING is in the batch just handed to write(), for this purpose, after `messagesBefore`
   * of the batch's PUB/HPUB frames.
   */
  pingQueued(purpose: PingPurpose, messagesBefore: number): void;
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

/** A PING a batch carries: why, and how many of the batch's messages precede it on the wire. */
interface QueuedPing {
  purpose: PingPurpose;
  messagesBefore: number;
}

/**
 * A request left out unsent: the subscription its replies would come on, and its id there
 * when that is the shared inbox (-1: its own inbox), so that it fails at once.
 */
export interface RefusedRequest {
  sid: number;
  id: number;
  withHeaders: boolean;
}

export class OutboundPump {
  /** Wire bytes of echo records the last batch took from the ring. */
  private echoBytes = 0;
  /** Copies of the parts of a continued message whose last part has not come yet. */
  private partial: Uint8Array[] = [];
  private partialBytes = 0;
  /** The id of the last flush taken from the ring (0: none yet); later ones are still in it. */
  private lastFlush = 0;
  /** The max_payload of the server written to, and the largest one publishes were checked by. */
  private payloadLimit = DEFAULT_MAX_PAYLOAD;
  private acceptedLimit = DEFAULT_MAX_PAYLOAD;
  /** Whether the server written to takes headers (its INFO). */
  private headers = true;
  /** Left out since {@link takeRefused}, by reason, and the last flush before the first. */
  private refused: Refusals = { tooLarge: 0, withHeaders: 0 };
  private refusedAfterFlush = 0;
  /** Requests among them: where their replies would come, so that they fail at once. */
  private refusedRequests: RefusedRequest[] = [];
  /** The parts of a continued message that is being left out, and why (for its count). */
  private skippingParts = false;
  private skippedReason: Refusals = { tooLarge: 1, withHeaders: 0 };
  private skippedRequest: RefusedRequest | undefined;

  constructor(
    private readonly ring: RingConsumer,
    private readonly subs: SubscriptionTable,
  ) {}

  /**
   * The server written to from now on takes payloads of up to `limit` bytes, and headers or
   * not (its INFO); the caller's thread checks publishes against it from now on too.
   */
  serverTakes(limit: number, headers: boolean): void {
    this.payloadLimit = limit;
    this.acceptedLimit = Math.max(this.acceptedLimit, limit);
    this.headers = headers;
  }

  /** The id of the last flush taken from the ring (0: none yet); later ones are still in it. */
  get lastFlushId(): number {
    return this.lastFlush;
  }

  /**
   * Messages left out since the last call, by reason (larger than their server's max_payload,
   * or with headers for a server without them), the id of the last flush taken before the
   * first of them (later flushes come after them), and the limit; undefined when none.
   */
  takeRefused():
    | (Refusals & { afterFlush: number; limit: number; requests: RefusedRequest[] })
    | undefined {
    const { tooLarge, withHeaders } = this.refused;
    if (tooLarge + withHeaders === 0) return undefined;
    this.refused = { tooLarge: 0, withHeaders: 0 };
    const requests = this.refusedRequests;
    this.refusedRequests = [];
    return {
      tooLarge,
      withHeaders,
      afterFlush: this.refusedAfterFlush,
      limit: this.payloadLimit,
      requests,
    };
  }

  /**
   * Drops the frames left in the ring (close() could not send them) and returns how many
   * messages they held.
   */
  discard(): number {
    const ring = this.ring;
    let messages = 0;
    for (let off = ring.next(); off >= 0; off = ring.next()) {
      if (isPubFrame(ring.bytes, off)) messages += pubCount(ring.view, off);
      ring.advance();
    }
    ring.release();
    this.partial = [];
    this.partialBytes = 0;
    this.skippingParts = false;
    return messages;
  }

  /**
   * Move frames from the ring to the sink until the ring is empty, the sink is full, the turn
   * ends, or the next frame is an echo record once `echoBudget` bytes of them have gone (while
   * there is budget, at least one goes).
   */
  pump(sink: OutboundSink, echoBudget = Number.POSITIVE_INFINITY): PumpResult {
    let left = echoBudget;
    let result: PumpResult;
    let turn = 0;
    // The count goes up on every call, also when one batch ends the pump: a count that only a
    // pump of two batches reached had no type feedback in the code V8 optimized before that,
    // which was thrown away the first time it did.
    do {
      result = this.batch(sink, left);
      left -= this.echoBytes;
    } while (++turn < BATCHES_PER_TURN && result === 'more');
    return result;
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
    const pings: QueuedPing[] = [];
    let echo = 0;
    let gated = false;
    while (off >= 0) {
      const len = ring.length;
      // A PUB record's wire bytes are in the ring; a control command's line is encoded here.
      const control = isPubFrame(ring.bytes, off)
        ? null
        : decodeControlCommand(ring.bytes, off, len);
      const isEcho = control === null && isEchoPub(ring.bytes, off);
      if (isEcho && echo >= echoLimit) {
        gated = true;
        break;
      }
      let wire =
        control === null
          ? ring.bytes.subarray(pubWireStart(off), off + len)
          : control.kind === 'flush'
            ? NO_BYTES
            : this.subs.line(control);
      const continues = control === null && continuesPub(ring.bytes, off);
      let refusedHere: Refusals | null = null;
      let refusedRequests: RefusedRequest[] | undefined;
      if (control === null) {
        if (this.skippingParts || this.continuedRefused(wire, continues)) {
          // A continued message this server cannot take: its parts are passed over.
          this.skippingParts = continues;
          if (!continues) this.refuse(this.skippedReason, [this.skippedRequest]);
          ring.advance();
          off = ring.next();
          continue;
        }
        // An op is never larger than its record: most records need no look inside.
        if (!continues && this.partial.length === 0 && this.mayRefuse(wire.length)) {
          const taken = pubsFor(wire, this.payloadLimit, this.headers);
          if (taken !== null) {
            refusedHere = taken;
            refusedRequests = this.requestsOf(wire, taken.refused);
            wire = Buffer.concat(taken.kept);
            if (wire.length === 0) {
              this.refuse(taken, refusedRequests); // nothing of it is written
              ring.advance();
              off = ring.next();
              continue;
            }
          }
        }
      }
      const wireLen = wire.length;
      if (control === null && (this.partial.length > 0 || continues)) {
        // Part of a continued message: copied out, so the ring gets its space back at once.
        const more = continues;
        this.partial.push(Buffer.from(wire));
        this.partialBytes += wireLen;
        ring.advance();
        off = ring.next();
        if (more) continue;
        if (buf !== null && used > segmentStart) chunks.push(buf.subarray(segmentStart, used));
        segmentStart = used;
        chunks.push(...this.partial);
        if (isEcho) echo += this.partialBytes;
        this.partial = [];
        this.partialBytes = 0;
        pubs++;
        break; // a whole large message is enough for one batch
      }
      const fenced =
        control !== null &&
        (control.kind === 'flush' || (control.kind === 'unsub' && control.max === 0));
      const asView = control === null && wireLen >= WIRE_VIEW_BYTES;
      const copyLen = wireLen + (fenced ? PING.length : 0);
      if (
        asView
          ? viewBytes > 0 && viewBytes + wireLen > VIEW_BYTES
          : buf !== null && used + copyLen > buf.length
      ) {
        break;
      }
      if (control === null) {
        pubs += pubCount(ring.view, off);
        if (refusedHere !== null) {
          // counted once the record goes into this batch
          pubs -= refusedHere.tooLarge + refusedHere.withHeaders;
          this.refuse(refusedHere, refusedRequests);
        }
        if (isEcho) echo += wire.length;
      } else {
        const purpose = this.apply(control);
        if (purpose !== undefined) pings.push({ purpose, messagesBefore: pubs });
      }
      if (asView) {
        if (buf !== null && used > segmentStart) chunks.push(buf.subarray(segmentStart, used));
        segmentStart = used;
        chunks.push(wire);
        viewBytes += wireLen;
      } else {
        // Sized to what is published (up to BATCH_BYTES): a lone request's few hundred bytes
        // come from Node's pool, where a 256 KiB buffer cost ~5 µs per batch. Frames
        // published later go to the next batch.
        buf ??= Buffer.allocUnsafe(
          Math.max(copyLen, Math.min(BATCH_BYTES, ring.contiguousEnd() - off)),
        );
        buf.set(wire, used);
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
    if (chunks.length === 0 && buf === null) {
      ring.release(); // parts of a continued message may have been copied out
      return gated ? 'gated' : 'empty';
    }
    if (buf !== null && used > segmentStart) chunks.push(buf.subarray(segmentStart, used));
    if (pubs > 0) sink.published(pubs);
    if (echo > 0) sink.echoWritten(echo);
    // Ring views are valid until the release: the sink copies what the kernel does not take at
    // once (Transport.writeAll). Several chunks without views: a continued message's parts.
    const writable =
      viewBytes === 0 && chunks.length === 1 ? sink.write(chunks[0]) : sink.writeAll(chunks);
    ring.release();
    for (const ping of pings) sink.pingQueued(ping.purpose, ping.messagesBefore);
    sink.batchDone();
    if (!writable) return 'blocked';
    if (gated) return 'gated';
    return off < 0 ? 'empty' : 'more';
  }

  /**
   * Whether `bytes` of ops may hold one the current server cannot take: against a server
   * without headers, any; else only records larger than its max_payload, and only while that
   * is below what publishes were checked against.
   */
  private mayRefuse(bytes: number): boolean {
    return !this.headers || (this.payloadLimit < this.acceptedLimit && bytes > this.payloadLimit);
  }

  /**
   * Whether the record (`continues`: not the last part) belongs to a continued message the
   * current server cannot take: told by its first part's line, which is either this record
   * or the first of the parts copied out already (they are dropped then). Sets
   * {@link skippedReason}.
   */
  private continuedRefused(wire: Uint8Array, continues: boolean): boolean {
    if (this.payloadLimit >= this.acceptedLimit && this.headers) return false;
    if (this.partial.length === 0) return continues && this.cannotTake(wire);
    if (!this.cannotTake(this.partial[0])) return false;
    this.partial = [];
    this.partialBytes = 0;
    return true;
  }

  /** Whether the current server cannot take the message whose first part is `first`. */
  private cannotTake(first: Uint8Array): boolean {
    const withHeaders = !this.headers && isHpubAt(first, 0);
    if (!withHeaders && pubAt(first, 0).size <= this.payloadLimit) return false;
    this.skippedReason = { tooLarge: withHeaders ? 0 : 1, withHeaders: withHeaders ? 1 : 0 };
    this.skippedRequest = this.requestsOf(first, [{ at: 0, withHeaders }])[0];
    return true;
  }

  /** Messages left out, by reason, and the requests among them. */
  private refuse(count: Refusals, requests: (RefusedRequest | undefined)[] = []): void {
    const refused = this.refused;
    if (refused.tooLarge + refused.withHeaders === 0) this.refusedAfterFlush = this.lastFlush;
    refused.tooLarge += count.tooLarge;
    refused.withHeaders += count.withHeaders;
    for (const request of requests) if (request !== undefined) this.refusedRequests.push(request);
  }

  /** The requests among the ops of `wire` left out: those whose reply has a subscription here. */
  private requestsOf(wire: Uint8Array, ops: RefusedOp[]): RefusedRequest[] {
    const requests: RefusedRequest[] = [];
    for (const { at, withHeaders } of ops) {
      const reply = pubReplyAt(wire, at);
      if (reply === undefined) continue;
      const subject = Buffer.from(wire.buffer, wire.byteOffset + reply[0], reply[1] - reply[0]);
      const target = this.subs.replyTarget(subject.toString());
      if (target !== undefined) requests.push({ ...target, withHeaders });
    }
    return requests;
  }

  /**
   * A control command's line is in the batch: the subscription table takes it (so the table
   * matches what the server was told); a flush or an UNSUB-now gets the PING behind it, whose
   * purpose this returns.
   */
  private apply(cmd: ControlCommand): PingPurpose | undefined {
    switch (cmd.kind) {
      case 'sub':
        this.subs.subscribe(cmd.sid, cmd.subject, cmd.queue, cmd.replies === true);
        return undefined;
      case 'unsub':
        this.subs.unsubscribe(cmd.sid, cmd.max);
        return cmd.max === 0 ? { kind: 'unsubFence', sid: cmd.sid } : undefined;
      case 'flush':
        this.lastFlush = cmd.id;
        return { kind: 'flush', id: cmd.id };
    }
  }
}
