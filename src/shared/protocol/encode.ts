/**
 * Client wire operations (`ClientOp` in async-nats terms): PUB, HPUB, SUB, UNSUB, CONNECT,
 * PING, PONG.
 *
 * PUB and HPUB are written in place into a caller-sized buffer (a ring frame), with no
 * allocation: the caller sizes the frame with {@link pubLength}/{@link hpubLength} first. The
 * rare control ops return fresh arrays. Nothing here validates; see `subject.ts`.
 */

import { decimalLength, utf8Length, writeDecimal, writeString } from './utf8.js';

const SPACE = 0x20;
const CR = 0x0d;
const LF = 0x0a;

const encoder = new TextEncoder();

/** `PING\r\n`. Shared; never mutate. */
export const PING: Uint8Array = encoder.encode('PING\r\n');

/** `PONG\r\n`. Shared; never mutate. */
export const PONG: Uint8Array = encoder.encode('PONG\r\n');

const UNSUB_PREFIX = encoder.encode('UNSUB ');

/**
 * Exact byte length of `PUB <subject> [<reply>] <len>\r\n<payload>\r\n`.
 *
 * @param replyBytes - UTF-8 length of the reply subject; 0 means no reply.
 * @param pad - extra blanks before `<len>` (see {@link writePub}).
 * @example
 * pubLength(utf8Length('foo'), 0, 2); // 'PUB foo 2\r\nhi\r\n'.length === 15
 */
export function pubLength(
  subjectBytes: number,
  replyBytes: number,
  payloadBytes: number,
  pad = 0,
): number {
  // 'PUB ' + subject + [' ' + reply] + ' ' + pad + digits + CRLF + payload + CRLF
  return (
    4 +
    subjectBytes +
    (replyBytes > 0 ? replyBytes + 1 : 0) +
    1 +
    pad +
    decimalLength(payloadBytes) +
    2 +
    payloadBytes +
    2
  );
}

/**
 * Writes `PUB <subject> [<reply>] <len>\r\n<payload>\r\n` at `buf[off]` and returns the end
 * offset. An empty or undefined `reply` means no reply. The caller guarantees
 * {@link pubLength} bytes of room. `pad` more blanks before `<len>` (the protocol reads a run
 * of blanks as one separator) move the payload: a caller places it on an alignment.
 *
 * @example
 * const n = pubLength(utf8Length(subject), 0, payload.length);
 * const end = writePub(frame, 0, subject, undefined, payload); // end === n
 */
export function writePub(
  buf: Uint8Array,
  off: number,
  subject: string,
  reply: string | undefined,
  payload: Uint8Array,
  pad = 0,
  payloadBytes = payload.length,
): number {
  const p = writePubLine(buf, off, subject, reply, payloadBytes, pad);
  return writePayload(buf, p, payload, payloadBytes);
}

/**
 * Writes a line from {@link encodePubLine}, then `<payload>\r\n`, at `buf[off]`; returns the
 * end offset. The caller guarantees `line.length + payload.length + 2` bytes of room.
 */
export function writePubWithLine(
  buf: Uint8Array,
  off: number,
  line: Uint8Array,
  payload: Uint8Array,
  payloadBytes = payload.length,
): number {
  buf.set(line, off);
  return writePayload(buf, off + line.length, payload, payloadBytes);
}

/**
 * {@link writePubWithLine} with the line given as the little-endian 32-bit words of
 * {@link pubLineWords}, stored through `view` (over the same buffer as `buf`, from its byte 0):
 * for a short line a few word stores into shared memory cost less than one set(). The last
 * word runs up to 3 bytes past the line, where the payload and its CRLF go: `payload` must not
 * be empty.
 */
export function writePubWithLineWords(
  buf: Uint8Array,
  view: DataView,
  off: number,
  lineLength: number,
  words: Int32Array,
  payload: Uint8Array,
  payloadBytes = payload.length,
): number {
  for (let i = 0; i < words.length; i++) view.setInt32(off + 4 * i, words[i], true);
  return writePayload(buf, off + lineLength, payload, payloadBytes);
}

/** `line` as little-endian 32-bit words for {@link writePubWithLineWords}, the last one padded with zeros. */
export function pubLineWords(line: Uint8Array): Int32Array {
  const words = new Int32Array(Math.ceil(line.length / 4));
  for (let i = 0; i < line.length; i++) words[i >> 2] |= line[i] << ((i & 3) * 8);
  return words;
}

/**
 * `PUB <subject> [<reply>] <size>\r\n` (with `pad` more blanks before `<size>`): the control
 * line alone, for a caller that writes the same line before many payloads.
 *
 * @example
 * encodePubLine('foo', undefined, 2); // 'PUB foo 2\r\n'
 */
export function encodePubLine(
  subject: string,
  reply: string | undefined,
  size: number,
  pad = 0,
): Uint8Array {
  const replyBytes = reply ? utf8Length(reply) : 0;
  const line = new Uint8Array(pubLength(utf8Length(subject), replyBytes, size, pad) - size - 2);
  writePubLine(line, 0, subject, reply, size, pad);
  return line;
}

/** Writes `PUB <subject> [<reply>] <pad blanks><size>\r\n` at `buf[off]`; returns the offset after it. */
function writePubLine(
  buf: Uint8Array,
  off: number,
  subject: string,
  reply: string | undefined,
  size: number,
  pad: number,
): number {
  buf[off] = 0x50; // P
  buf[off + 1] = 0x55; // U
  buf[off + 2] = 0x42; // B
  buf[off + 3] = SPACE;
  let p = writeSubjects(buf, off + 4, subject, reply);
  for (let i = 0; i < pad; i++) buf[p++] = SPACE;
  p = writeDecimal(buf, p, size);
  buf[p] = CR;
  buf[p + 1] = LF;
  return p + 2;
}

/**
 * Exact byte length of `HPUB <subject> [<reply>] <hdrLen> <totalLen>\r\n<hdr><payload>\r\n`.
 *
 * @param replyBytes - UTF-8 length of the reply subject; 0 means no reply.
 * @example
 * hpubLength(3, 0, headerBlock.length, payload.length);
 */
export function hpubLength(
  subjectBytes: number,
  replyBytes: number,
  headerBytes: number,
  payloadBytes: number,
): number {
  const total = headerBytes + payloadBytes;
  // 'HPUB ' + subject + [' ' + reply] + ' ' + hdrLen + ' ' + totalLen + CRLF + body + CRLF
  return (
    5 +
    subjectBytes +
    (replyBytes > 0 ? replyBytes + 1 : 0) +
    1 +
    decimalLength(headerBytes) +
    1 +
    decimalLength(total) +
    2 +
    total +
    2
  );
}

/**
 * Writes `HPUB <subject> [<reply>] <hdrLen> <totalLen>\r\n<headerBlock><payload>\r\n` at
 * `buf[off]` and returns the end offset. `headerBlock` is the output of `encodeHeaders`. The
 * caller guarantees {@link hpubLength} bytes of room.
 *
 * @example
 * const end = writeHpub(frame, 0, 'orders', undefined, encodeHeaders(headers), payload);
 */
export function writeHpub(
  buf: Uint8Array,
  off: number,
  subject: string,
  reply: string | undefined,
  headerBlock: Uint8Array,
  payload: Uint8Array,
  payloadBytes = payload.length,
): number {
  const p = writeHpubLine(buf, off, subject, reply, headerBlock.length, payloadBytes);
  return writeBody(buf, p, headerBlock, payload, payloadBytes);
}

/**
 * `HPUB <subject> [<reply>] <hdrLen> <totalLen>\r\n` alone, for a message whose body is
 * copied separately (a large one, continued across ring records).
 */
export function encodeHpubLine(
  subject: string,
  reply: string | undefined,
  headerBytes: number,
  payloadBytes: number,
): Uint8Array {
  const replyBytes = reply ? utf8Length(reply) : 0;
  const length = hpubLength(utf8Length(subject), replyBytes, headerBytes, payloadBytes);
  const line = new Uint8Array(length - headerBytes - payloadBytes - 2);
  const end = writeHpubLine(line, 0, subject, reply, headerBytes, payloadBytes);
  line[end] = CR;
  line[end + 1] = LF;
  return line;
}

/** `HPUB <subject> [<reply>] <hdrLen> <totalLen>` at `buf[off]`; returns the end offset. */
function writeHpubLine(
  buf: Uint8Array,
  off: number,
  subject: string,
  reply: string | undefined,
  headerBytes: number,
  payloadBytes: number,
): number {
  buf[off] = 0x48; // H
  buf[off + 1] = 0x50; // P
  buf[off + 2] = 0x55; // U
  buf[off + 3] = 0x42; // B
  buf[off + 4] = SPACE;
  let p = writeSubjects(buf, off + 5, subject, reply);
  p = writeDecimal(buf, p, headerBytes);
  buf[p++] = SPACE;
  return writeDecimal(buf, p, headerBytes + payloadBytes);
}

/** Bytes of the SUB line {@link encodeSub} writes. */
export function subLength(subject: string, queue: string | undefined, sid: number): number {
  const queueBytes = queue ? utf8Length(queue) + 1 : 0;
  return 4 + utf8Length(subject) + queueBytes + 1 + decimalLength(sid) + 2;
}

/**
 * `SUB <subject> [<queue>] <sid>\r\n`.
 *
 * @example
 * encodeSub('orders.*', 'workers', 7); // 'SUB orders.* workers 7\r\n'
 */
export function encodeSub(subject: string, queue: string | undefined, sid: number): Uint8Array {
  const out = new Uint8Array(subLength(subject, queue, sid));
  out[0] = 0x53; // S
  out[1] = 0x55; // U
  out[2] = 0x42; // B
  out[3] = SPACE;
  let p = writeSubjects(out, 4, subject, queue);
  p = writeDecimal(out, p, sid);
  out[p] = CR;
  out[p + 1] = LF;
  return out;
}

/**
 * `UNSUB <sid> [<max>]\r\n`; with `max`, the server removes the subscription after that many
 * more messages.
 *
 * @example
 * encodeUnsub(7);     // 'UNSUB 7\r\n'
 * encodeUnsub(7, 10); // 'UNSUB 7 10\r\n'
 */
export function encodeUnsub(sid: number, max?: number): Uint8Array {
  const maxBytes = max === undefined ? 0 : decimalLength(max) + 1;
  const out = new Uint8Array(UNSUB_PREFIX.length + decimalLength(sid) + maxBytes + 2);
  out.set(UNSUB_PREFIX);
  let p = writeDecimal(out, UNSUB_PREFIX.length, sid);
  if (max !== undefined) {
    out[p++] = SPACE;
    p = writeDecimal(out, p, max);
  }
  out[p] = CR;
  out[p + 1] = LF;
  return out;
}

/**
 * `CONNECT <json>\r\n`. Fields whose value is `undefined` are left out (as `JSON.stringify`
 * does).
 *
 * @example
 * encodeConnect({ verbose: false, pedantic: false, name: undefined });
 * // 'CONNECT {"verbose":false,"pedantic":false}\r\n'
 */
export function encodeConnect(fields: Record<string, unknown>): Uint8Array {
  return encoder.encode(`CONNECT ${JSON.stringify(fields)}\r\n`);
}

/** Writes `<subject> [<second> ]` (second = reply or queue group, skipped when empty). */
function writeSubjects(
  buf: Uint8Array,
  off: number,
  subject: string,
  second: string | undefined,
): number {
  let p = writeString(buf, off, subject);
  buf[p++] = SPACE;
  if (second) {
    p = writeString(buf, p, second);
    buf[p++] = SPACE;
  }
  return p;
}

/** Writes `\r\n[<header>]<payload>\r\n`. */
function writeBody(
  buf: Uint8Array,
  off: number,
  header: Uint8Array | undefined,
  payload: Uint8Array,
  payloadBytes: number,
): number {
  buf[off] = CR;
  buf[off + 1] = LF;
  let p = off + 2;
  if (header !== undefined) {
    buf.set(header, p);
    p += header.length;
  }
  return writePayload(buf, p, payload, payloadBytes);
}

/**
 * Writes `<payload>\r\n`, `payloadBytes` being the payload's real length (never read from the
 * array here: a caller's array may lie, see main/user-bytes.ts); an empty payload skips set(),
 * whose fixed cost into shared memory is the larger part.
 */
function writePayload(
  buf: Uint8Array,
  off: number,
  payload: Uint8Array,
  payloadBytes: number,
): number {
  if (payloadBytes > 0) buf.set(payload, off);
  const p = off + payloadBytes;
  buf[p] = CR;
  buf[p + 1] = LF;
  return p + 2;
}
