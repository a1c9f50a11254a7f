/**
 * Delivery frames: what the connection worker hands the main thread (`ServerOp` in async-nats
 * terms, as far as subscribers see it), one per record body of the delivery ring
 * (ring/byte-ring.ts, framing in layout.ts). This module owns the format: the worker's writer
 * and the main thread's reader sit side by side. Beside it: own-subject.ts (the subject
 * comparison that decides whether a MSG frame leaves its subject out), msg-assembly.ts (a
 * continued message put back together on the main thread), delivery-codec.ts (a typed codec
 * for tests and tools).
 *
 *   writer: worker (Inbound, its Backlog)     reader: main thread (Dispatcher)
 *
 * Fields are 32-bit words in the host's byte order (both ends run in one process): the worker
 * stores them whole, the cheapest store into shared memory. Offsets are in bytes; the first
 * word is `op | flags << 8 | subject length << 16` (bytes as drawn on a little-endian host).
 *
 *   byte   0      1       2             4          8            12           16            20
 *          ┌──────┬───────┬─────────────┬──────────┬────────────┬────────────┬─────────────┬─────┐
 *   MSG    │ op 1 │ flags │ subject len │ u32 sid  │ reply len  │ header len │ payload len │ (1) │
 *          ├──────┼───────┼─────────────┼──────────┼────────────┼─────┬──────┴─────────────┴─────┘
 *   short  │ op 1 │ flags │ subject len │ u32 sid  │ payload len│ (2) │  neither HAS_REPLY nor
 *   MSG    ├──────┼───────┴─────────────┼──────────┼────────────┴─────┘  HAS_HEADERS (most MSGs)
 *   FLUSH  │ op 2 │ 0                   │ u32 id   │  a flush's PING was answered
 *   ACK    ├──────┼─────────────────────┼──────────┤
 *   SUB    │ op 3 │ 0                   │ u32 sid  │  the worker reached the subscription's
 *   END    ├──────┼─────────────────────┼──────────┤  limit (ops 5-7 alike: flush lost, SUB refused)
 *   REPLY  │ op 8 │ H | id bits 32-54   │ id bits  │  a reply to the shared inbox's request
 *   DROPPED├──────┼─────────────────────┤ 0-31     │  `id` was dropped (flow-control.ts); ops 9,
 *          │      │                     │          │  10: a request refused unsent (id or sid;
 *          │      │                     │          │  H, bit 8: for its headers)
 *          ├──────┼─────────────────────┼──────────┴───────────────────────────────────────
 *   PART   │ op 4 │ 0                   │ bytes of a continued message, to the body's end
 *          └──────┴─────────────────────┘
 *
 *   (1) subject | reply | header block | filler | payload       (2) subject | filler | payload
 *
 *   flags: SUBJECT_IS_SUB (subject left out, length 0: the MSG's subject bytes are the
 *          subscription's own, so the main thread reuses its string), HAS_REPLY, HAS_HEADERS;
 *          bits 3-5: filler bytes (0-7) before the payload, which put a large payload at its
 *          socket offset mod 8 so its copies run by words (ring/ring-copy.ts); bit 6: CONTINUED.
 *
 * A message whose frame would exceed {@link CONTINUED_FRAME_OVER} bytes is continued: its MSG
 * frame has CONTINUED and carries subject and reply only (its lengths are the whole message's),
 * and its header block and payload follow, back to back, in PART frames of at most
 * {@link MSG_PART_BYTES}, with nothing between them. So a message may be far larger than the
 * ring (up to the server's max_payload), and the main thread copies it into memory of its own
 * one part at a time (msg-assembly.ts), in as many dispatch slices as it takes.
 */
import type { MsgView } from '../protocol/parser.js';
import {
  alignPad,
  copyPayloadToShared,
  copyToShared,
  type SourceBytes,
  type WordBytes,
} from '../ring/ring-copy.js';
import type { OwnSubject } from './own-subject.js';

/** What the worker hands the main thread, as the frames carry it. */
export type Delivery =
  /**
   * A MSG or HMSG for subscription `sid`. `subject` absent: the subscription's own. `headers`
   * is the raw header block (`NATS/1.0…\r\n\r\n`). Once decoded, `payload` is a view of the
   * frame's bytes.
   */
  | {
      kind: 'msg';
      sid: number;
      subject?: string;
      reply?: string;
      headers?: Uint8Array;
      payload: Uint8Array;
    }
  /** A flush's PING was answered: everything before it has been delivered. */
  | { kind: 'flushAck'; id: number }
  /**
   * A flush's connection failed before a PONG acknowledged everything published before it:
   * that cannot be proven any more (those messages are counted as not sent).
   */
  | { kind: 'flushLost'; id: number }
  /**
   * A failed connection may have lost messages it had taken (counted as not sent): every flush
   * after flush `id` that it had not taken yet, and so comes after them, is lost with them.
   */
  | { kind: 'flushesLostAfter'; id: number }
  /** The subscription reached its unsubscribeAfter limit in the worker; nothing follows. */
  | { kind: 'subEnd'; sid: number }
  /**
   * The server refused the subscription's SUB line as longer than its max_control_line (it
   * ended a connection on it); the worker has dropped it. Nothing follows.
   */
  | { kind: 'subRefused'; sid: number }
  /**
   * A reply on the shared request inbox was dropped (the byte bound of a stalled main thread,
   * flow-control.ts): `id` is its request's (shared/protocol/request-id.ts, below 2^52).
   */
  | { kind: 'replyDropped'; id: number }
  /**
   * The worker left out a request to the shared inbox's `id` (accepted before the server said
   * it cannot take it: larger than its max_payload, or `withHeaders` and it takes none).
   */
  | { kind: 'requestRefused'; id: number; withHeaders: boolean }
  /** The same for a request whose replies come on subscription `sid`, its own inbox. */
  | { kind: 'inboxRefused'; sid: number; withHeaders: boolean };

export type ControlDelivery = Exclude<Delivery, { kind: 'msg' }>;

const DLV_MSG = 1;
const DLV_FLUSH_ACK = 2;
const DLV_SUB_END = 3;
const DLV_PART = 4;
const DLV_FLUSH_LOST = 5;
const DLV_FLUSHES_LOST_AFTER = 6;
const DLV_SUB_REFUSED = 7;
const DLV_REPLY_DROPPED = 8;
const DLV_REQUEST_REFUSED = 9;
const DLV_INBOX_REFUSED = 10;
const TWO_32 = 2 ** 32;
/** Control frames' head word: bit 8 says "with headers" (refusals), bits 9-31 an id's bits 32-54. */
const DLV_WITH_HEADERS = 1 << 8;
const DLV_ID_HIGH_SHIFT = 9;

const DLV_SUBJECT_IS_SUB = 1;
const DLV_HAS_REPLY = 2;
const DLV_HAS_HEADERS = 4;
/** Flags bits 3-5: filler bytes before the payload. */
const DLV_PAD_SHIFT = 3;
const DLV_PAD_MASK = 7 << DLV_PAD_SHIFT;
/** The header block and payload follow in PART frames. */
const DLV_CONTINUED = 1 << 6;

const DLV_HEAD = 0;
const DLV_SID = 4;
const DLV_REPLY_LEN = 8;
const DLV_HEADER_LEN = 12;
const DLV_PAYLOAD_LEN = 16;
const DLV_MSG_HEADER_BYTES = 20;
/** The short form: 8 bytes less to write and carry across cores per message. */
const DLV_SHORT_PAYLOAD_LEN = 8;
const DLV_SHORT_HEADER_BYTES = 12;
/** Control frames (FLUSH_ACK, SUB_END, REPLY_DROPPED…): op, then their u32 here. */
const DLV_CONTROL_VALUE = 4;
const DLV_CONTROL_BYTES = 8;
/** PART frames: op, then the bytes from here. */
const DLV_PART_BYTES = 4;

/**
 * Frame bytes from which a message is continued across frames: a record holds at most half
 * the ring, and a smaller frame keeps each copy on the main thread short.
 */
export const CONTINUED_FRAME_OVER = 1024 * 1024;
/**
 * Header block and payload bytes per PART frame (the last one may hold fewer): with its frame
 * and record headers a PART frame fits one 256 KiB slab of the worker's backlog (backlog.ts)
 * instead of taking an outsized one of its own.
 */
const MSG_PART_BYTES = 256 * 1024 - 64;

/** A MSG frame with these flags has the short form (no reply, no header block). */
function isShortMsgFrame(flags: number): boolean {
  return (flags & (DLV_HAS_REPLY | DLV_HAS_HEADERS)) === 0;
}

// ---- the worker's MSG writer: the hot path --------------------------------------------

/**
 * Frames parsed MSG/HMSGs: {@link measure} one, then {@link write} it where the frame goes (the
 * ring, or the backlog while the ring is full). One instance serves every message, so framing
 * allocates nothing. It keeps of the measured message only what write cannot take from the
 * view again (the subject decision): with every length kept here, delivery ran slower (micro).
 */
export class MsgFrameWriter {
  /**
   * Of the measured message's frame: subject bytes (0 when it is the subscription's own), and
   * flags and body length without filler.
   */
  private subjectLen = 0;
  private flags = 0;
  private length = 0;
  /**
   * The subscription subject of the message measured last, and whether that message's
   * subject was it. A MSG whose line repeats the previous one's (MsgView.repeated) has its sid,
   * so its subscription (a sid is never reused), and its subject bytes: it takes the answer
   * instead of comparing again, as nearly every message of a flood to one subject does.
   */
  private lastOwnSubject: OwnSubject | null = null;
  private lastOwn = false;

  /**
   * Takes `msg` (its bytes are `src`) and returns its frame's body length without filler.
   * `ownSubject`: the subject of the message's subscription, or null for a wildcard
   * subscription. The subject is left out only when the MSG's subject bytes equal it: the
   * server also sends other subjects on a plain subscription's sid (JetStream deliveries to an
   * inbox).
   */
  measure(msg: MsgView, src: SourceBytes, ownSubject: OwnSubject | null): number {
    const own =
      ownSubject !== null &&
      (msg.repeated && ownSubject === this.lastOwnSubject
        ? this.lastOwn
        : ownSubject.isIn(src, msg.subjectStart, msg.subjectEnd));
    this.lastOwnSubject = ownSubject;
    this.lastOwn = own;
    const subjectLen = own ? 0 : msg.subjectEnd - msg.subjectStart;
    const replyLen = msg.replyEnd - msg.replyStart;
    const flags =
      (own ? DLV_SUBJECT_IS_SUB : 0) |
      (replyLen > 0 ? DLV_HAS_REPLY : 0) |
      (msg.hasHeaders ? DLV_HAS_HEADERS : 0);
    const length =
      (isShortMsgFrame(flags) ? DLV_SHORT_HEADER_BYTES : DLV_MSG_HEADER_BYTES) +
      subjectLen +
      replyLen +
      (msg.payloadEnd - msg.headerStart); // header block and payload
    this.subjectLen = subjectLen;
    this.flags = flags;
    this.length = length;
    return length;
  }

  /**
   * Filler for the measured message whose frame body would start at `body`: what puts its
   * payload at its offset in `src` mod 8 (ring-copy.ts alignPad).
   */
  payloadPad(src: SourceBytes, msg: MsgView, body: number): number {
    const payloadLen = msg.payloadEnd - msg.payloadStart;
    return alignPad(src, msg.payloadStart, payloadLen, body + this.length - payloadLen);
  }

  /**
   * The measured message's frame for subscription `sid` at `dst.bytes[off]`, with `pad` filler
   * bytes before the payload.
   */
  write(
    dst: WordBytes,
    off: number,
    src: SourceBytes,
    msg: MsgView,
    sid: number,
    pad: number,
  ): void {
    let at = this.writeHead(dst, off, src, msg, sid, this.flags | (pad << DLV_PAD_SHIFT));
    const headerLen = msg.headerEnd - msg.headerStart;
    if (headerLen > 0) at = copyToShared(src, msg.headerStart, headerLen, dst, at);
    copyPayloadToShared(src, msg.payloadStart, msg.payloadEnd - msg.payloadStart, dst, at + pad);
  }

  /**
   * The measured message as a continued one (its length is over {@link CONTINUED_FRAME_OVER}):
   * its MSG frame, then its header block and payload in PART frames of at most `maxBody`
   * bytes (the ring's record limit), each placed by `space`.
   */
  writeContinued(
    space: FrameSpace,
    src: SourceBytes,
    msg: MsgView,
    sid: number,
    maxBody: number,
  ): void {
    let off = space.reserve(this.length - (msg.payloadEnd - msg.headerStart));
    this.writeHead(space.target, off, src, msg, sid, this.flags | DLV_CONTINUED);
    space.commit();
    const partBytes = Math.min(MSG_PART_BYTES, maxBody - DLV_PART_BYTES);
    // At least one PART frame, even for no bytes: the message is complete on a PART frame.
    let from = msg.headerStart;
    do {
      const n = Math.min(partBytes, msg.payloadEnd - from);
      off = space.reserve(DLV_PART_BYTES + n);
      const dst = space.target;
      dst.words[off >> 2] = DLV_PART;
      copyToShared(src, from, n, dst, off + DLV_PART_BYTES);
      space.commit();
      from += n;
    } while (from < msg.payloadEnd);
  }

  /** The fields, subject and reply of the measured message's frame; returns where they end. */
  private writeHead(
    dst: WordBytes,
    off: number,
    src: SourceBytes,
    msg: MsgView,
    sid: number,
    flags: number,
  ): number {
    const subjectLen = this.subjectLen;
    const replyLen = msg.replyEnd - msg.replyStart;
    const words = dst.words;
    const i = off >> 2;
    words[i + (DLV_HEAD >> 2)] = DLV_MSG | (flags << 8) | (subjectLen << 16);
    words[i + (DLV_SID >> 2)] = sid;
    let at: number;
    if (isShortMsgFrame(flags)) {
      words[i + (DLV_SHORT_PAYLOAD_LEN >> 2)] = msg.payloadEnd - msg.payloadStart;
      at = off + DLV_SHORT_HEADER_BYTES;
    } else {
      words[i + (DLV_REPLY_LEN >> 2)] = replyLen;
      words[i + (DLV_HEADER_LEN >> 2)] = msg.headerEnd - msg.headerStart;
      words[i + (DLV_PAYLOAD_LEN >> 2)] = msg.payloadEnd - msg.payloadStart;
      at = off + DLV_MSG_HEADER_BYTES;
    }
    if (subjectLen > 0) at = copyToShared(src, msg.subjectStart, subjectLen, dst, at);
    if (replyLen > 0) at = copyToShared(src, msg.replyStart, replyLen, dst, at);
    return at;
  }
}

/**
 * Where frames go one after another: reserve room for a body, write it into `target` at the
 * offset returned, commit. The delivery ring, or the worker's backlog while the ring is full.
 */
export interface FrameSpace {
  reserve(length: number): number;
  /** What the offset {@link reserve} returned is in. */
  readonly target: WordBytes;
  commit(): void;
}

// ---- the main thread's reader: the hot path -------------------------------------------

/**
 * One frame as {@link readDelivery} finds it: offsets into the bytes it was read from, so the
 * reader decides what to decode. Reused for every frame.
 */
export class DeliveryView {
  /** 'part': a PART frame, whose bytes start at `payloadStart` and run to the body's end. */
  kind: Delivery['kind'] | 'part' = 'msg';
  /** msg, subEnd, subRefused and inboxRefused: the subscription. */
  sid = 0;
  /** flushAck, flushLost, flushesLostAfter: the flush; replyDropped, requestRefused: the request. */
  id = 0;
  /** requestRefused, inboxRefused: refused for its headers (else for its size). */
  withHeaders = false;
  /** msg: the subject was left out, it is the subscription's own. */
  ownSubject = false;
  subjectStart = 0;
  subjectEnd = 0;
  /** Equal to `replyEnd` when there is no reply. */
  replyStart = 0;
  replyEnd = 0;
  hasHeaders = false;
  /**
   * msg: the header block and payload follow in PART frames; their lengths are
   * `headerEnd - headerStart` and `payloadEnd - payloadStart`, their offsets mean nothing.
   */
  continued = false;
  headerStart = 0;
  headerEnd = 0;
  payloadStart = 0;
  payloadEnd = 0;
}

/**
 * Reads the frame whose body starts at byte `off` of the bytes `words` covers (4-aligned, as
 * records are) into `view`.
 */
export function readDelivery(words: Int32Array, off: number, view: DeliveryView): void {
  const i = off >> 2;
  const head = words[i + (DLV_HEAD >> 2)];
  const op = head & 0xff;
  if (op !== DLV_MSG && readOtherFrame(words, i, head, view)) return; // MSGs: one compare
  const flags = (head >>> 8) & 0xff;
  const short = isShortMsgFrame(flags);
  const replyLen = short ? 0 : words[i + (DLV_REPLY_LEN >> 2)];
  const headerLen = short ? 0 : words[i + (DLV_HEADER_LEN >> 2)];
  const payloadLen = words[i + ((short ? DLV_SHORT_PAYLOAD_LEN : DLV_PAYLOAD_LEN) >> 2)];
  let p = off + (short ? DLV_SHORT_HEADER_BYTES : DLV_MSG_HEADER_BYTES);
  view.kind = 'msg';
  view.sid = words[i + (DLV_SID >> 2)] >>> 0;
  view.ownSubject = (flags & DLV_SUBJECT_IS_SUB) !== 0;
  view.subjectStart = p;
  p += head >>> 16;
  view.subjectEnd = p;
  view.replyStart = p;
  p += replyLen;
  view.replyEnd = p;
  view.hasHeaders = (flags & DLV_HAS_HEADERS) !== 0;
  view.continued = (flags & DLV_CONTINUED) !== 0;
  view.headerStart = p;
  p += headerLen;
  view.headerEnd = p;
  p += (flags & DLV_PAD_MASK) >> DLV_PAD_SHIFT;
  view.payloadStart = p;
  view.payloadEnd = p + payloadLen;
}

/** {@link readDelivery} for a frame that is no MSG; false for an op it does not know. */
function readOtherFrame(words: Int32Array, i: number, head: number, view: DeliveryView): boolean {
  const op = head & 0xff;
  if (op === DLV_PART) {
    view.kind = 'part';
    view.payloadStart = (i << 2) + DLV_PART_BYTES;
    return true;
  }
  const kind = CONTROL_KINDS[op];
  if (kind === undefined) return false;
  const value = words[i + (DLV_CONTROL_VALUE >> 2)] >>> 0;
  view.kind = kind;
  view.withHeaders = (head & DLV_WITH_HEADERS) !== 0;
  if (kind === 'subEnd' || kind === 'subRefused' || kind === 'inboxRefused') view.sid = value;
  else view.id = (head >>> DLV_ID_HIGH_SHIFT) * TWO_32 + value; // a flush's high bits are 0
  return true;
}

/** The sid of the MSG frame whose body starts at byte `off` of `words`; -1 for a control frame. */
export function msgFrameSid(words: Int32Array, off: number): number {
  const i = off >> 2;
  return (words[i + (DLV_HEAD >> 2)] & 0xff) === DLV_MSG ? words[i + (DLV_SID >> 2)] >>> 0 : -1;
}

// ---- control frames: the worker's writer ------------------------------------------------

/** Body bytes of a control frame (every frame but MSG and PART). */
export const CONTROL_DELIVERY_BYTES = DLV_CONTROL_BYTES;

const CONTROL_OPS: Record<ControlDelivery['kind'], number> = {
  flushAck: DLV_FLUSH_ACK,
  flushLost: DLV_FLUSH_LOST,
  flushesLostAfter: DLV_FLUSHES_LOST_AFTER,
  subEnd: DLV_SUB_END,
  subRefused: DLV_SUB_REFUSED,
  replyDropped: DLV_REPLY_DROPPED,
  requestRefused: DLV_REQUEST_REFUSED,
  inboxRefused: DLV_INBOX_REFUSED,
};

/** The kind of each control op, by op. */
const CONTROL_KINDS: (ControlDelivery['kind'] | undefined)[] = [];
for (const [kind, op] of Object.entries(CONTROL_OPS)) {
  CONTROL_KINDS[op] = kind as ControlDelivery['kind'];
}

/**
 * Writes control frame `d` at `dst.bytes[off]` ({@link CONTROL_DELIVERY_BYTES} bytes). A
 * request id's bits above 32 and a refusal's reason go into the head word's upper bits.
 */
export function writeControlDelivery(d: ControlDelivery, dst: WordBytes, off: number): void {
  const value = 'sid' in d ? d.sid : d.id;
  const high = 'sid' in d ? 0 : Math.floor(d.id / TWO_32);
  const withHeaders = 'withHeaders' in d && d.withHeaders;
  dst.words[(off + DLV_HEAD) >> 2] =
    CONTROL_OPS[d.kind] | (withHeaders ? DLV_WITH_HEADERS : 0) | (high << DLV_ID_HIGH_SHIFT);
  dst.words[(off + DLV_CONTROL_VALUE) >> 2] = value % TWO_32;
}
