/**
 * Delivery frames: what the connection worker hands the main thread (`ServerOp` in async-nats
 * terms, as far as subscribers see it), one per record body of the delivery ring
 * (ring/byte-ring.ts, framing in layout.ts). This module owns the format: the worker's writer
 * and the main thread's reader sit side by side.
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
 *   END    └──────┴─────────────────────┴──────────┘  unsubscribeAfter limit: nothing follows
 *
 *   (1) subject | reply | header block | filler | payload       (2) subject | filler | payload
 *
 *   flags: SUBJECT_IS_SUB (subject left out, length 0: the MSG's subject bytes are the
 *          subscription's own, so the main thread reuses its string), HAS_REPLY, HAS_HEADERS;
 *          bits 3-5: filler bytes (0-7) before the payload, which put a large payload at its
 *          socket offset mod 8 so its copies run by words (ring/ring-copy.ts).
 */
import type { MsgView } from '../protocol/parser.js';
import { decodeString, utf8Length, writeString } from '../protocol/utf8.js';
import {
  alignPad,
  copyPayloadToShared,
  copyToShared,
  SourceBytes,
  type WordBytes,
} from '../ring/ring-copy.js';

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
  /** The subscription reached its unsubscribeAfter limit in the worker; nothing follows. */
  | { kind: 'subEnd'; sid: number };

export type ControlDelivery = Exclude<Delivery, { kind: 'msg' }>;

const DLV_MSG = 1;
const DLV_FLUSH_ACK = 2;
const DLV_SUB_END = 3;

const DLV_SUBJECT_IS_SUB = 1;
const DLV_HAS_REPLY = 2;
const DLV_HAS_HEADERS = 4;
/** Flags bits 3-5: filler bytes before the payload. */
const DLV_PAD_SHIFT = 3;
const DLV_PAD_MASK = 7 << DLV_PAD_SHIFT;

const DLV_HEAD = 0;
const DLV_SID = 4;
const DLV_REPLY_LEN = 8;
const DLV_HEADER_LEN = 12;
const DLV_PAYLOAD_LEN = 16;
const DLV_MSG_HEADER_BYTES = 20;
/** The short form: 8 bytes less to write and carry across cores per message. */
const DLV_SHORT_PAYLOAD_LEN = 8;
const DLV_SHORT_HEADER_BYTES = 12;
/** FLUSH_ACK and SUB_END frames: op, then their u32 (flush id, sid) here. */
const DLV_CONTROL_VALUE = 4;
const DLV_CONTROL_BYTES = 8;

/** A MSG frame with these flags has the short form (no reply, no header block). */
function isShortMsgFrame(flags: number): boolean {
  return (flags & (DLV_HAS_REPLY | DLV_HAS_HEADERS)) === 0;
}

// ---- the worker's MSG writer: the hot path --------------------------------------------

/**
 * Frames parsed MSG/HMSGs: {@link measure} one, then {@link write} it where the frame goes (the
 * ring, or the backlog while the ring is full). One instance serves every message, so framing
 * allocates nothing.
 */
export class MsgFrameWriter {
  private sid = 0;
  private flags = 0;
  private subjectLen = 0;
  private replyLen = 0;
  private headerLen = 0;
  private payloadLen = 0;
  private length = 0;

  /**
   * Takes `msg` for subscription `sid` and returns its frame's body length without filler.
   * `ownSubject`: the subscription's subject in UTF-8, or null for a wildcard subscription. The
   * subject is left out only when the MSG's subject bytes equal it: the server also sends
   * other subjects on a plain subscription's sid (JetStream deliveries to an inbox).
   */
  measure(msg: MsgView, sid: number, ownSubject: Uint8Array | null): number {
    const own = ownSubject !== null && isOwnSubject(msg, ownSubject);
    this.sid = sid;
    this.subjectLen = own ? 0 : msg.subjectEnd - msg.subjectStart;
    this.replyLen = msg.replyEnd - msg.replyStart;
    this.headerLen = msg.headerEnd - msg.headerStart;
    this.payloadLen = msg.payloadEnd - msg.payloadStart;
    this.flags =
      (own ? DLV_SUBJECT_IS_SUB : 0) |
      (this.replyLen > 0 ? DLV_HAS_REPLY : 0) |
      (msg.hasHeaders ? DLV_HAS_HEADERS : 0);
    this.length =
      (isShortMsgFrame(this.flags) ? DLV_SHORT_HEADER_BYTES : DLV_MSG_HEADER_BYTES) +
      this.subjectLen +
      this.replyLen +
      this.headerLen +
      this.payloadLen;
    return this.length;
  }

  /**
   * Filler for the measured message whose frame body would start at `body`: what puts its
   * payload at its offset in `src` mod 8 (ring-copy.ts alignPad).
   */
  payloadPad(src: SourceBytes, msg: MsgView, body: number): number {
    return alignPad(src, msg.payloadStart, this.payloadLen, body + this.length - this.payloadLen);
  }

  /** The measured message's frame at `dst.bytes[off]`, with `pad` filler bytes before the payload. */
  write(dst: WordBytes, off: number, src: SourceBytes, msg: MsgView, pad: number): void {
    const flags = this.flags | (pad << DLV_PAD_SHIFT);
    const words = dst.words;
    const i = off >> 2;
    words[i + (DLV_HEAD >> 2)] = DLV_MSG | (flags << 8) | (this.subjectLen << 16);
    words[i + (DLV_SID >> 2)] = this.sid;
    let at: number;
    if (isShortMsgFrame(flags)) {
      words[i + (DLV_SHORT_PAYLOAD_LEN >> 2)] = this.payloadLen;
      at = off + DLV_SHORT_HEADER_BYTES;
    } else {
      words[i + (DLV_REPLY_LEN >> 2)] = this.replyLen;
      words[i + (DLV_HEADER_LEN >> 2)] = this.headerLen;
      words[i + (DLV_PAYLOAD_LEN >> 2)] = this.payloadLen;
      at = off + DLV_MSG_HEADER_BYTES;
    }
    if (this.subjectLen > 0) at = copyToShared(src, msg.subjectStart, this.subjectLen, dst, at);
    if (this.replyLen > 0) at = copyToShared(src, msg.replyStart, this.replyLen, dst, at);
    if (this.headerLen > 0) at = copyToShared(src, msg.headerStart, this.headerLen, dst, at);
    copyPayloadToShared(src, msg.payloadStart, this.payloadLen, dst, at + pad);
  }
}

/**
 * Whether the MSG's subject bytes are `own`: lengths first, then bytes from the end (subjects
 * that differ mostly differ late: inbox tokens, a stream's message subjects).
 */
function isOwnSubject(msg: MsgView, own: Uint8Array): boolean {
  const start = msg.subjectStart;
  let i = msg.subjectEnd - start;
  if (i !== own.length) return false;
  const buf = msg.buf;
  while (i > 0) {
    i--;
    if (buf[start + i] !== own[i]) return false;
  }
  return true;
}

// ---- the main thread's reader: the hot path -------------------------------------------

/**
 * One frame as {@link readDelivery} finds it: offsets into the bytes it was read from, so the
 * reader decides what to decode. Reused for every frame.
 */
export class DeliveryView {
  kind: Delivery['kind'] = 'msg';
  /** msg and subEnd: the subscription. */
  sid = 0;
  /** flushAck: the flush. */
  id = 0;
  /** msg: the subject was left out, it is the subscription's own. */
  ownSubject = false;
  subjectStart = 0;
  subjectEnd = 0;
  /** Equal to `replyEnd` when there is no reply. */
  replyStart = 0;
  replyEnd = 0;
  hasHeaders = false;
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
  if (op === DLV_FLUSH_ACK) {
    view.kind = 'flushAck';
    view.id = words[i + (DLV_CONTROL_VALUE >> 2)] >>> 0;
    return;
  }
  if (op === DLV_SUB_END) {
    view.kind = 'subEnd';
    view.sid = words[i + (DLV_CONTROL_VALUE >> 2)] >>> 0;
    return;
  }
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
  view.headerStart = p;
  p += headerLen;
  view.headerEnd = p;
  p += (flags & DLV_PAD_MASK) >> DLV_PAD_SHIFT;
  view.payloadStart = p;
  view.payloadEnd = p + payloadLen;
}

// ---- every delivery: the typed codec --------------------------------------------------

/** Body bytes of the frame {@link encodeDelivery} writes for `d` (with no filler). */
export function deliveryLength(d: Delivery): number {
  if (d.kind !== 'msg') return DLV_CONTROL_BYTES;
  const parsed = asParsed(d);
  return new MsgFrameWriter().measure(parsed.msg, d.sid, parsed.own);
}

/**
 * Writes `d` at `dst.bytes[off]`: {@link deliveryLength} bytes, plus `pad` filler bytes before
 * a MSG's payload. A MSG goes through the worker's {@link MsgFrameWriter}, as if parsed.
 */
export function encodeDelivery(d: Delivery, dst: WordBytes, off: number, pad = 0): void {
  if (d.kind !== 'msg') {
    dst.words[(off + DLV_HEAD) >> 2] = d.kind === 'flushAck' ? DLV_FLUSH_ACK : DLV_SUB_END;
    dst.words[(off + DLV_CONTROL_VALUE) >> 2] = d.kind === 'flushAck' ? d.id : d.sid;
    return;
  }
  const { msg, own } = asParsed(d);
  const writer = new MsgFrameWriter();
  writer.measure(msg, d.sid, own);
  writer.write(dst, off, new SourceBytes(msg.buf), msg, pad);
}

/**
 * The delivery in the frame at `bytes[off]` (`bytes` starting on a 4-byte boundary of its
 * buffer, as the ring's do). A MSG's payload is a view of `bytes`.
 */
export function decodeDelivery(bytes: Uint8Array, off: number): Delivery {
  const v = new DeliveryView();
  readDelivery(new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2), off, v);
  if (v.kind === 'flushAck') return { kind: 'flushAck', id: v.id };
  if (v.kind === 'subEnd') return { kind: 'subEnd', sid: v.sid };
  const d: Delivery = {
    kind: 'msg',
    sid: v.sid,
    payload: bytes.subarray(v.payloadStart, v.payloadEnd),
  };
  if (!v.ownSubject) d.subject = decodeString(bytes, v.subjectStart, v.subjectEnd);
  if (v.replyEnd > v.replyStart) d.reply = decodeString(bytes, v.replyStart, v.replyEnd);
  if (v.hasHeaders) d.headers = bytes.slice(v.headerStart, v.headerEnd);
  return d;
}

/**
 * A MSG delivery as the parser would have handed it over: subject, reply, header block and
 * payload back to back, and the subscription subject that leaves the subject out (an empty
 * one, when `subject` is absent).
 */
function asParsed(d: Extract<Delivery, { kind: 'msg' }>): {
  msg: MsgView;
  own: Uint8Array | null;
} {
  const subject = d.subject ?? '';
  const reply = d.reply ?? '';
  const headers = d.headers ?? new Uint8Array(0);
  const subjectEnd = utf8Length(subject);
  const replyEnd = subjectEnd + utf8Length(reply);
  const headerEnd = replyEnd + headers.length;
  const buf = new Uint8Array(headerEnd + d.payload.length);
  writeString(buf, 0, subject);
  writeString(buf, subjectEnd, reply);
  buf.set(headers, replyEnd);
  buf.set(d.payload, headerEnd);
  const msg: MsgView = {
    buf,
    subjectStart: 0,
    subjectEnd,
    sid: d.sid,
    replyStart: subjectEnd,
    replyEnd,
    headerStart: replyEnd,
    headerEnd,
    payloadStart: headerEnd,
    payloadEnd: buf.length,
    hasHeaders: d.headers !== undefined,
  };
  return { msg, own: d.subject === undefined ? buf.subarray(0, 0) : null };
}
