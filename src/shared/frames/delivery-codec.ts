/**
 * The delivery ring's frames as a typed codec (delivery.ts owns the format and the hot-path
 * writer and reader this goes through): any {@link Delivery} encoded and decoded, for tests and
 * tools; a MSG goes through the worker's MsgFrameWriter as if parsed.
 */
import type { MsgView } from '../protocol/parser.js';
import { decodeString, utf8Length, writeString } from '../protocol/utf8.js';
import { SourceBytes, type WordBytes } from '../ring/ring-copy.js';
import {
  CONTROL_DELIVERY_BYTES,
  type Delivery,
  DeliveryView,
  type FrameSpace,
  MsgFrameWriter,
  readDelivery,
  writeControlDelivery,
} from './delivery.js';
import { OwnSubject } from './own-subject.js';

/** Body bytes of the frame {@link encodeDelivery} writes for `d` (with no filler). */
export function deliveryLength(d: Delivery): number {
  if (d.kind !== 'msg') return CONTROL_DELIVERY_BYTES;
  const { msg, own } = asParsed(d);
  return new MsgFrameWriter().measure(msg, new SourceBytes(msg.buf), own);
}

/**
 * Writes `d` at `dst.bytes[off]`: {@link deliveryLength} bytes, plus `pad` filler bytes before
 * a MSG's payload. A MSG goes through the worker's {@link MsgFrameWriter}, as if parsed.
 */
export function encodeDelivery(d: Delivery, dst: WordBytes, off: number, pad = 0): void {
  if (d.kind !== 'msg') {
    writeControlDelivery(d, dst, off);
    return;
  }
  const { msg, own } = asParsed(d);
  const src = new SourceBytes(msg.buf);
  const writer = new MsgFrameWriter();
  writer.measure(msg, src, own);
  writer.write(dst, off, src, msg, d.sid, pad);
}

/**
 * Writes MSG `d` as a continued message, as the worker does with one over
 * {@link CONTINUED_FRAME_OVER}: its MSG frame, then PART frames of at most `maxBody` bytes,
 * each placed by `space`. The main thread reads them with {@link readDelivery} and
 * MsgAssembly (msg-assembly.ts).
 */
export function encodeContinued(
  d: Extract<Delivery, { kind: 'msg' }>,
  space: FrameSpace,
  maxBody: number,
): void {
  const { msg, own } = asParsed(d);
  const src = new SourceBytes(msg.buf);
  const writer = new MsgFrameWriter();
  writer.measure(msg, src, own);
  writer.writeContinued(space, src, msg, d.sid, maxBody);
}

/**
 * The delivery in the frame at `bytes[off]` (`bytes` starting on a 4-byte boundary of its
 * buffer, as the ring's do). A MSG's payload is a view of `bytes`.
 */
export function decodeDelivery(bytes: Uint8Array, off: number): Delivery {
  const v = new DeliveryView();
  readDelivery(new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2), off, v);
  if (
    v.kind === 'flushAck' ||
    v.kind === 'flushLost' ||
    v.kind === 'flushesLostAfter' ||
    v.kind === 'replyDropped'
  ) {
    return { kind: v.kind, id: v.id };
  }
  if (v.kind === 'subEnd' || v.kind === 'subRefused') return { kind: v.kind, sid: v.sid };
  if (v.kind === 'requestRefused') return { kind: v.kind, id: v.id, withHeaders: v.withHeaders };
  if (v.kind === 'inboxRefused') return { kind: v.kind, sid: v.sid, withHeaders: v.withHeaders };
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
  own: OwnSubject | null;
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
    repeated: false,
  };
  return { msg, own: d.subject === undefined ? new OwnSubject('') : null };
}
