/**
 * The grammar of each server control line (`ServerOp` in async-nats terms), for the parser
 * (parser.ts), which owns the framing: chunks, the stash, line and body states and the line
 * limits. `MSG`/`HMSG` arguments are scanned in the same pass that finds the line's end and
 * land in the parser's one {@link MsgView}; INFO, PING, PONG, +OK and -ERR, on a whole line,
 * go to the sink at once. Malformed lines are reported through the parser's `fail`, which
 * also stops it until `reset()`.
 */
import type { NatsError } from '../errors.js';
import type { MsgView, ParserSink } from './parser.js';
import { asciiBytes, matchOp, parseUint, skipBlank, trimEnd } from './scan.js';
import { decodeString, quoteBytes } from './utf8.js';

const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const TAB = 0x09;

export const W_INFO = asciiBytes('info');
const W_PING = asciiBytes('ping');
const W_PONG = asciiBytes('pong');
const W_OK = asciiBytes('+ok');
const W_ERR = asciiBytes('-err');

/** Makes the protocol error to throw (the parser's: it poisons the parser until reset()). */
export type Fail = (message: string, cause?: unknown) => NatsError;

/** Reads the control lines of one parser, into its view and its sink. */
export class OpLines {
  /** Of the MSG/HMSG line parsed last: header length and body length (headers + payload). */
  hdrLen = 0;
  bodyLen = 0;

  constructor(
    /** The parser's one view, filled in by {@link parseMsg}. */
    private readonly msg: MsgView,
    private readonly sink: ParserSink,
    private readonly maxPayload: number,
    private readonly fail: Fail,
  ) {}

  /** Any op but MSG/HMSG, on the control line `buf[start, end)` (line terminator excluded). */
  parseOther(buf: Uint8Array, start: number, end: number): void {
    switch (buf[start] | 0x20) {
      case 0x70: // p
        if (matchOp(buf, start, end, W_PING)) {
          this.expectNoArgs(buf, start, end, W_PING.length);
          this.sink.onPing();
          return;
        }
        if (matchOp(buf, start, end, W_PONG)) {
          this.expectNoArgs(buf, start, end, W_PONG.length);
          this.sink.onPong();
          return;
        }
        break;
      case 0x69: // i
        if (matchOp(buf, start, end, W_INFO)) {
          this.parseInfo(buf, start, end);
          return;
        }
        break;
      case 0x2b: // +
        if (matchOp(buf, start, end, W_OK)) {
          this.expectNoArgs(buf, start, end, W_OK.length);
          this.sink.onOk();
          return;
        }
        break;
      case 0x2d: // -
        if (matchOp(buf, start, end, W_ERR)) {
          this.parseErr(buf, start, end);
          return;
        }
        break;
    }
    throw this.fail(`unknown protocol operation ${quoteBytes(buf, start, end)}`);
  }

  /**
   * `MSG <subject> <sid> [reply] <size>` or `HMSG <subject> <sid> [reply] <hdrLen> <total>`,
   * scanned once up to its LF (the parser's `parseOp`). Arguments are kept in locals, not an
   * array, and numbers are read straight from the bytes: nothing is allocated.
   */
  parseMsg(buf: Uint8Array, start: number, limit: number, headers: boolean): number {
    let s0 = 0;
    let e0 = 0;
    let s1 = 0;
    let e1 = 0;
    let s2 = 0;
    let e2 = 0;
    let s3 = 0;
    let e3 = 0;
    let s4 = 0;
    let e4 = 0;
    let n = 0;
    let p = start + (headers ? 4 : 3);
    let b = 0;
    for (;;) {
      if (p === limit) return -1;
      b = buf[p];
      if (b === SPACE || b === TAB) {
        p++;
        continue;
      }
      if (b === CR || b === LF) break;
      if (n === 5) break; // a sixth argument: reported below as a wrong count
      const from = p;
      do {
        if (++p === limit) return -1;
        b = buf[p];
      } while (b > SPACE || (b !== SPACE && b !== TAB && b !== CR && b !== LF));
      switch (n++) {
        case 0:
          s0 = from;
          e0 = p;
          break;
        case 1:
          s1 = from;
          e1 = p;
          break;
        case 2:
          s2 = from;
          e2 = p;
          break;
        case 3:
          s3 = from;
          e3 = p;
          break;
        default:
          s4 = from;
          e4 = p;
      }
    }
    let lf = p;
    if (b === CR) {
      if (p + 1 === limit) return -1;
      if (buf[p + 1] !== LF) throw this.fail(`stray CR in ${quoteBytes(buf, start, p + 1)}`);
      lf = p + 1;
    }
    const op = headers ? 'HMSG' : 'MSG';
    const minArgs = headers ? 4 : 3;
    if (n < minArgs || n > minArgs + 1 || (b !== CR && b !== LF)) {
      throw this.fail(
        `${op} needs ${minArgs} or ${minArgs + 1} arguments: ${quoteBytes(buf, start, p)}`,
      );
    }
    const sid = parseUint(buf, s1, e1);
    if (sid < 0) throw this.fail(`invalid ${op} sid: ${quoteBytes(buf, start, p)}`);
    const hasReply = n > minArgs;
    // The sizes are the last one (MSG) or two (HMSG) arguments.
    const total =
      n === 3 ? parseUint(buf, s2, e2) : n === 4 ? parseUint(buf, s3, e3) : parseUint(buf, s4, e4);
    if (total < 0) throw this.fail(`invalid ${op} size: ${quoteBytes(buf, start, p)}`);
    if (total > this.maxPayload) {
      throw this.fail(
        `${op} size ${total} exceeds the limit of ${this.maxPayload}: ${quoteBytes(buf, start, p)}`,
      );
    }
    let hdrLen = 0;
    if (headers) {
      hdrLen = hasReply ? parseUint(buf, s3, e3) : parseUint(buf, s2, e2);
      if (hdrLen < 0 || hdrLen > total) {
        throw this.fail(`invalid HMSG header length: ${quoteBytes(buf, start, p)}`);
      }
    }
    const m = this.msg;
    m.subjectStart = s0;
    m.subjectEnd = e0;
    m.sid = sid;
    m.replyStart = hasReply ? s2 : e0;
    m.replyEnd = hasReply ? e2 : e0;
    m.hasHeaders = headers;
    m.repeated = false;
    this.hdrLen = hdrLen;
    this.bodyLen = total;
    return lf;
  }

  private parseInfo(buf: Uint8Array, start: number, end: number): void {
    const from = skipBlank(buf, start + W_INFO.length, end);
    const to = trimEnd(buf, from, end);
    let info: unknown;
    try {
      info = JSON.parse(decodeString(buf, from, to));
    } catch (cause) {
      throw this.fail(`invalid INFO JSON: ${quoteBytes(buf, from, to)}`, cause);
    }
    if (typeof info !== 'object' || info === null || Array.isArray(info)) {
      throw this.fail(`INFO body is not a JSON object: ${quoteBytes(buf, from, to)}`);
    }
    this.sink.onInfo(info as Record<string, unknown>);
  }

  private parseErr(buf: Uint8Array, start: number, end: number): void {
    let from = skipBlank(buf, start + W_ERR.length, end);
    let to = trimEnd(buf, from, end);
    if (to - from >= 2 && buf[from] === 0x27 && buf[to - 1] === 0x27) {
      from++;
      to--;
    }
    this.sink.onErr(decodeString(buf, from, to));
  }

  private expectNoArgs(buf: Uint8Array, start: number, end: number, opLength: number): void {
    if (skipBlank(buf, start + opLength, end) !== end) {
      throw this.fail(`unexpected arguments: ${quoteBytes(buf, start, end)}`);
    }
  }
}
