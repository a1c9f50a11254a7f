/**
 * The last MSG/HMSG control line the parser took apart in full, kept with what it parsed to
 * (offsets relative to the line's start). A flood repeats one line (same subject, sid and
 * size), and comparing its bytes is cheaper than parsing them: 290 → 175 ns per 128 B MSG.
 * After a MSG/HMSG line that differs (inboxes, wildcard subjects) the next {@link PAUSE} are
 * parsed in full before one is kept again, so a varying stream pays ~1/16 of a copy and a
 * compare; other ops in between (PING, PONG) leave the kept line alone.
 */
import type { MsgView } from './parser.js';

/** Longest line kept. */
const LINE_MAX = 128;
/** MSG/HMSG lines parsed in full after a miss before one is kept again. */
const PAUSE = 16;

export class RepeatedLine {
  private readonly line = new Uint8Array(LINE_MAX);
  /** Bytes of the kept line, LF included; 0 = none kept. */
  private length = 0;
  private subjectStart = 0;
  private subjectEnd = 0;
  private replyStart = 0;
  private replyEnd = 0;
  private sid = 0;
  private hasHeaders = false;
  private headerBytes = 0;
  private bodyBytes = 0;
  private pause = 0;

  /** Header length of the kept line's message (HMSG), as {@link apply} reuses it. */
  get hdrLen(): number {
    return this.headerBytes;
  }

  /** Body length (headers and payload) of the kept line's message. */
  get bodyLen(): number {
    return this.bodyBytes;
  }

  /**
   * The kept line's length if `buf[start, limit)` begins with it; -1 if a kept line was
   * compared and differs ({@link parsed} wants to know); 0 if there was nothing to compare.
   */
  match(buf: Uint8Array, start: number, limit: number): number {
    const length = this.length;
    if (length === 0 || start + length > limit) return 0;
    const line = this.line;
    for (let i = 0; i < length; i++) if (buf[start + i] !== line[i]) return -1;
    return length;
  }

  /**
   * Fills `msg` as the kept line parsed, for its copy at `start` (after a {@link match}). A miss
   * forgets the kept line, so a match also says that the previous MSG/HMSG had this line:
   * `msg.repeated`.
   */
  apply(msg: MsgView, start: number): void {
    msg.subjectStart = start + this.subjectStart;
    msg.subjectEnd = start + this.subjectEnd;
    msg.sid = this.sid;
    msg.replyStart = start + this.replyStart;
    msg.replyEnd = start + this.replyEnd;
    msg.hasHeaders = this.hasHeaders;
    msg.repeated = true;
  }

  /**
   * A MSG/HMSG line `buf[start, lf]` was parsed in full into `msg`, `hdrLen` and `bodyLen`
   * (within the parser's limits), after {@link match} said `matched` for it: keep it, or
   * count down the pause after a miss.
   */
  parsed(
    buf: Uint8Array,
    start: number,
    lf: number,
    matched: number,
    msg: MsgView,
    hdrLen: number,
    bodyLen: number,
  ): void {
    if (matched < 0) {
      this.length = 0;
      this.pause = PAUSE;
      return;
    }
    if (this.pause > 0) {
      this.pause--;
      return;
    }
    const length = lf + 1 - start;
    if (length > LINE_MAX) {
      this.length = 0;
      return;
    }
    const line = this.line;
    for (let i = 0; i < length; i++) line[i] = buf[start + i];
    this.length = length;
    this.subjectStart = msg.subjectStart - start;
    this.subjectEnd = msg.subjectEnd - start;
    this.replyStart = msg.replyStart - start;
    this.replyEnd = msg.replyEnd - start;
    this.sid = msg.sid;
    this.hasHeaders = msg.hasHeaders;
    this.headerBytes = hdrLen;
    this.bodyBytes = bodyLen;
  }

  /** Forget the kept line (a new connection). */
  reset(): void {
    this.length = 0;
    this.pause = 0;
  }
}
