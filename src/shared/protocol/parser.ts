/**
 * Incremental parser for server wire operations (`ServerOp` in async-nats terms): MSG, HMSG,
 * INFO, PING, PONG, +OK and -ERR.
 *
 * Input may be split at any byte. A message that sits whole in the pushed chunk is reported as
 * a view into that chunk (no copy, no allocation); only an op split across chunks is copied into
 * the parser's own growable buffer (the stash), which never holds more than that one op.
 * This module is that framing (states, stash, line limits, the repeated-line shortcut of
 * repeated-line.ts); what each op's control line says is read by op-lines.ts.
 *
 * Grammar, as nats-server writes it and a little more leniently:
 * - op names are case-insensitive; arguments are separated by one or more spaces or tabs;
 * - control lines end with CRLF; a bare LF is accepted too;
 * - a MSG/HMSG body must be followed by exactly CRLF.
 */

import { NatsError } from '../errors.js';
import { OpLines, W_INFO } from './op-lines.js';
import { RepeatedLine } from './repeated-line.js';
import { asciiBytes, matchOp } from './scan.js';
import { quoteBytes } from './utf8.js';

/**
 * One MSG or HMSG, as offsets into `buf`. The parser reuses this object for every message, and
 * `buf` may be the caller's chunk or the parser's own buffer, so it is valid only during
 * {@link ParserSink.onMsg}: copy what must outlive the call.
 */
export interface MsgView {
  buf: Uint8Array;
  subjectStart: number;
  subjectEnd: number;
  sid: number;
  /** Equal to `replyEnd` when there is no reply. */
  replyStart: number;
  replyEnd: number;
  /** Equal to `headerEnd` for MSG (no headers). */
  headerStart: number;
  headerEnd: number;
  /** Always equal to `headerEnd`. */
  payloadStart: number;
  payloadEnd: number;
  /** True for HMSG. */
  hasHeaders: boolean;
  /**
   * The control line is byte for byte the previous MSG/HMSG's (the repeated-line shortcut
   * took it): same subject, sid, reply and sizes.
   */
  repeated: boolean;
}

/** Receives the ops a {@link Parser} finds, in wire order. */
export interface ParserSink {
  onMsg(msg: MsgView): void;
  /** The parsed JSON body of INFO. */
  onInfo(info: Record<string, unknown>): void;
  onPing(): void;
  onPong(): void;
  onOk(): void;
  /** The `-ERR` text without its surrounding single quotes. */
  onErr(message: string): void;
}

/** Limits and sizing of a {@link Parser}. */
export interface ParserOptions {
  /** Longest accepted control line, CRLF included. Default 64 KiB. */
  maxControlLine?: number;
  /**
   * Longest accepted INFO line, CRLF included: its `connect_urls` grow with the cluster (10,000
   * of them take ~200 KB). Default {@link DEFAULT_MAX_INFO_LINE}, and never below
   * `maxControlLine`.
   */
  maxInfoLine?: number;
  /** Largest accepted MSG/HMSG body (headers + payload). Default 64 MiB. */
  maxPayload?: number;
  /** Initial size of the buffer that holds an op split across chunks. Default 65535. */
  initialBufferSize?: number;
}

const CR = 0x0d;
const LF = 0x0a;

// Parser states: what the stash holds between pushes.
const IDLE = 0; // nothing; the next byte starts an op
const LINE = 1; // the start of a control line, no LF yet
const BODY = 2; // a whole MSG/HMSG control line and part of its body
const FAILED = 3; // a protocol error was thrown; only reset() leaves this state

/** Default {@link ParserOptions.maxInfoLine}: a line the server never ends fails at this size. */
export const DEFAULT_MAX_INFO_LINE = 1024 * 1024;

const EMPTY = new Uint8Array(0);
const W_MSG = asciiBytes('msg');
const W_HMSG = asciiBytes('hmsg');

/** Stash bytes kept after a message that needed more (a larger one is given back). */
const LARGE_STASH = 1024 * 1024;

/**
 * Turns server bytes into {@link ParserSink} calls.
 *
 * `push` throws `NatsError('protocol')` on malformed input; the parser must then be `reset()`
 * before it is used again (a push without it throws again).
 *
 * @example
 * const parser = new Parser(sink, { maxPayload: info.max_payload });
 * socket.on('data', (chunk) => parser.push(chunk));
 * socket.on('close', () => parser.reset());
 */
export class Parser {
  private readonly sink: ParserSink;
  private readonly maxControlLine: number;
  private readonly maxInfoLine: number;
  private readonly maxPayload: number;
  private readonly initialBufferSize: number;
  /** The one view handed to every onMsg. */
  private readonly msg: MsgView = {
    buf: EMPTY,
    subjectStart: 0,
    subjectEnd: 0,
    sid: 0,
    replyStart: 0,
    replyEnd: 0,
    headerStart: 0,
    headerEnd: 0,
    payloadStart: 0,
    payloadEnd: 0,
    hasHeaders: false,
    repeated: false,
  };
  private state = IDLE;
  private stash: Uint8Array;
  private stashLen = 0;
  /** Of the MSG/HMSG whose control line was parsed last: body length and header length. */
  private bodyLen = 0;
  private hdrLen = 0;
  /** In BODY: where the body starts in the stash, and how many bytes (body + CRLF) are missing. */
  private bodyStart = 0;
  private need = 0;
  /** The last MSG/HMSG line parsed in full: a flood's lines are matched against it, not parsed. */
  private readonly repeated = new RepeatedLine();
  /** What each op's control line says (op-lines.ts). */
  private readonly lines: OpLines;

  constructor(sink: ParserSink, options: ParserOptions = {}) {
    this.sink = sink;
    this.maxControlLine = options.maxControlLine ?? 64 * 1024;
    this.maxInfoLine = Math.max(options.maxInfoLine ?? DEFAULT_MAX_INFO_LINE, this.maxControlLine);
    this.maxPayload = options.maxPayload ?? 64 * 1024 * 1024;
    this.initialBufferSize = options.initialBufferSize ?? 65535;
    this.stash = new Uint8Array(this.initialBufferSize);
    this.lines = new OpLines(this.msg, sink, this.maxPayload, (message, cause) =>
      this.fail(message, cause),
    );
  }

  /**
   * Parses `chunk`, calling the sink once per complete op. Bytes of an incomplete op at the end
   * are kept until the next push. The chunk is not retained after the call.
   *
   * @throws NatsError `'protocol'` on malformed input.
   */
  push(chunk: Uint8Array): void {
    if (this.state === FAILED) {
      throw new NatsError('protocol', 'parser used after a protocol error without reset()');
    }
    let pos = 0;
    if (this.state === LINE) pos = this.continueLine(chunk);
    if (this.state === BODY) pos = this.continueBody(chunk, pos);
    if (this.state === IDLE) this.scan(chunk, pos);
  }

  /** Forgets any partial op (for a new connection) and gives back an oversized buffer. */
  reset(): void {
    this.state = IDLE;
    this.stashLen = 0;
    this.need = 0;
    this.repeated.reset();
    this.msg.buf = EMPTY;
    if (this.stash.length > this.initialBufferSize) {
      this.stash = new Uint8Array(this.initialBufferSize);
    }
  }

  /** The fast path: ops that sit whole in `buf` are parsed in place. */
  private scan(buf: Uint8Array, pos: number): void {
    const len = buf.length;
    while (pos < len) {
      const start = pos;
      const nl = this.parseOp(buf, start, len);
      if (nl < 0) {
        this.stashLen = 0;
        this.append(buf, start, len);
        this.state = LINE;
        return;
      }
      pos = nl + 1;
      if (this.bodyLen < 0) continue;
      const bodyEnd = pos + this.bodyLen;
      if (bodyEnd + 2 <= len) {
        this.emit(buf, pos, bodyEnd);
        pos = bodyEnd + 2;
        continue;
      }
      // Split message: keep its control line and the body so far, with offsets rebased.
      const m = this.msg;
      m.subjectStart -= start;
      m.subjectEnd -= start;
      m.replyStart -= start;
      m.replyEnd -= start;
      this.stashLen = 0;
      this.reserve(bodyEnd + 2 - start);
      this.append(buf, start, len);
      this.bodyStart = pos - start;
      this.need = bodyEnd + 2 - len;
      this.state = BODY;
      return;
    }
  }

  /** LINE state: completes the stashed control line; returns the chunk offset after it. */
  private continueLine(chunk: Uint8Array): number {
    const lf = chunk.indexOf(LF);
    if (lf < 0) {
      // Searching the chunk rather than re-parsing the stash keeps a long line linear.
      this.append(chunk, 0, chunk.length);
      if (
        this.stashLen >= this.maxControlLine &&
        this.stashLen >= this.lineLimit(this.stash, 0, this.stashLen)
      ) {
        throw this.lineTooLong(this.stash, 0, this.stashLen);
      }
      return chunk.length;
    }
    this.append(chunk, 0, lf + 1);
    this.parseOp(this.stash, 0, this.stashLen);
    if (this.bodyLen < 0) {
      this.stashLen = 0;
      this.state = IDLE;
    } else {
      this.bodyStart = this.stashLen;
      this.need = this.bodyLen + 2;
      this.reserve(this.stashLen + this.need);
      this.state = BODY;
    }
    return lf + 1;
  }

  /** BODY state: adds body bytes from `chunk[pos]`; emits once complete. */
  private continueBody(chunk: Uint8Array, pos: number): number {
    const take = Math.min(this.need, chunk.length - pos);
    this.append(chunk, pos, pos + take);
    this.need -= take;
    if (this.need === 0) {
      this.state = IDLE;
      this.emit(this.stash, this.bodyStart, this.stashLen - 2);
      this.stashLen = 0;
      // A message of up to max_payload (64 MiB) needed it; the next one may not.
      if (this.stash.length > Math.max(this.initialBufferSize, LARGE_STASH)) {
        this.stash = new Uint8Array(this.initialBufferSize);
      }
    }
    return pos + take;
  }

  /**
   * Room for `size` bytes in the stash, keeping what it holds: a split message's exact size at
   * once, instead of doubling up to it with a copy per step.
   */
  private reserve(size: number): void {
    if (size <= this.stash.length) return;
    const grown = new Uint8Array(size);
    grown.set(this.stash.subarray(0, this.stashLen));
    this.stash = grown;
  }

  private append(src: Uint8Array, from: number, to: number): void {
    const required = this.stashLen + (to - from);
    if (required > this.stash.length) {
      const grown = new Uint8Array(Math.max(required, this.stash.length * 2));
      grown.set(this.stash.subarray(0, this.stashLen));
      this.stash = grown;
    }
    this.stash.set(src.subarray(from, to), this.stashLen);
    this.stashLen = required;
  }

  /** Completes `msg` for the body `buf[bodyStart, bodyEnd)` and hands it to the sink. */
  private emit(buf: Uint8Array, bodyStart: number, bodyEnd: number): void {
    const m = this.msg;
    if (buf[bodyEnd] !== CR || buf[bodyEnd + 1] !== LF) {
      const op = m.hasHeaders ? 'HMSG' : 'MSG';
      const subject = quoteBytes(buf, m.subjectStart, m.subjectEnd);
      throw this.fail(`${op} body on ${subject} is not followed by CRLF`);
    }
    m.buf = buf;
    m.headerStart = bodyStart;
    m.headerEnd = bodyStart + this.hdrLen;
    m.payloadStart = m.headerEnd;
    m.payloadEnd = bodyEnd;
    this.sink.onMsg(m);
  }

  /**
   * Parses the op starting at `buf[start]`, looking no further than `limit`. Returns the index
   * of the LF ending its control line, or -1 if there is none before `limit` yet. For MSG/HMSG,
   * fills `msg`, `hdrLen` and `bodyLen` (the body the caller must wait for); other ops go to the
   * sink at once and set `bodyLen` to -1.
   */
  private parseOp(buf: Uint8Array, start: number, limit: number): number {
    const repeated = this.repeated;
    const matched = repeated.match(buf, start, limit);
    if (matched > 0) {
      repeated.apply(this.msg, start);
      this.hdrLen = repeated.hdrLen;
      this.bodyLen = repeated.bodyLen;
      return start + matched - 1;
    }
    const c = buf[start] | 0x20;
    const isMsg = c === 0x6d && matchOp(buf, start, limit, W_MSG);
    const isHmsg = !isMsg && c === 0x68 && matchOp(buf, start, limit, W_HMSG);
    let lf: number;
    if (isMsg || isHmsg) {
      // MSG is the hot op: one pass finds the line end and the arguments together.
      lf = this.lines.parseMsg(buf, start, limit, isHmsg);
    } else {
      lf = buf.indexOf(LF, start);
      if (lf >= limit) lf = -1;
    }
    // Checked against maxControlLine first: the INFO bound is looked up only past it.
    if (lf < 0) {
      if (
        limit - start >= this.maxControlLine &&
        limit - start >= this.lineLimit(buf, start, limit)
      ) {
        throw this.lineTooLong(buf, start, limit);
      }
      return -1;
    }
    if (lf + 1 - start > this.maxControlLine && lf + 1 - start > this.lineLimit(buf, start, lf)) {
      throw this.lineTooLong(buf, start, lf);
    }
    if (isMsg || isHmsg) {
      this.hdrLen = this.lines.hdrLen;
      this.bodyLen = this.lines.bodyLen;
      repeated.parsed(buf, start, lf, matched, this.msg, this.hdrLen, this.bodyLen);
    }
    if (!isMsg && !isHmsg) {
      this.bodyLen = -1;
      this.lines.parseOther(buf, start, lf > start && buf[lf - 1] === CR ? lf - 1 : lf);
    }
    return lf;
  }

  /** The longest line allowed for the op at `buf[start]`: INFO has a bound of its own. */
  private lineLimit(buf: Uint8Array, start: number, end: number): number {
    return matchOp(buf, start, end, W_INFO) ? this.maxInfoLine : this.maxControlLine;
  }

  private lineTooLong(buf: Uint8Array, start: number, end: number): NatsError {
    return this.fail(
      `control line longer than ${this.lineLimit(buf, start, end)} bytes: ${quoteBytes(buf, start, end)}`,
    );
  }

  /** Makes the protocol error and poisons the parser until reset(). */
  private fail(message: string, cause?: unknown): NatsError {
    this.state = FAILED;
    return new NatsError('protocol', message, cause === undefined ? undefined : { cause });
  }
}
