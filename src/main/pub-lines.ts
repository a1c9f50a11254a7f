/**
 * The control line `PUB <subject> [<reply>] <size>\r\n` of the last message, kept while
 * messages repeat it, in up to eight forms: 0-7 extra blanks before the size (the publisher's
 * alignment of large payloads). A cached line goes into the ring with one set(), or, when it
 * is short, as a few word stores, cheaper still: encoding it there byte by byte cost ~130 ns a
 * message, as single-byte stores into shared memory are slow. A line is built only once a
 * (subject, reply, size) repeats the one before it, so a stream of changing subjects (request
 * inboxes) pays one comparison per message and no allocation.
 */
import { encodePubLine, pubLineWords } from '../shared/protocol/encode.js';

/**
 * Lines up to this long are also kept as words (writePubWithLineWords): 8 stores beat one
 * set() of the bytes; at 40 bytes the two broke even.
 */
const LINE_WORDS_MAX = 32;

/** A cached line, and its words when it is short and its payload not empty. */
export interface PubLine {
  readonly bytes: Uint8Array;
  readonly words: Int32Array | null;
}

export class PubLineCache {
  private subject: string | undefined;
  private reply: string | undefined;
  private size = -1;
  /** The line by its count of extra blanks (0-7, see Publisher's alignment), each built once. */
  private readonly lines: (PubLine | undefined)[] = new Array(8).fill(undefined);
  /** Some line in {@link lines} is set. */
  private built = false;

  /**
   * The line for this message, with `pad` extra blanks before the size, if the message repeats
   * the previous one's subject, reply and size; undefined the first time.
   */
  get(subject: string, reply: string | undefined, size: number, pad: number): PubLine | undefined {
    if (subject === this.subject && reply === this.reply && size === this.size) {
      return this.lines[pad] ?? this.build(subject, reply, size, pad);
    }
    this.subject = subject;
    this.reply = reply;
    this.size = size;
    // Requests change their reply every time: clear only what was built (fill() is a builtin
    // call, ~1 % of the caller's thread with 100 requests in flight).
    if (this.built) {
      this.lines.fill(undefined);
      this.built = false;
    }
    return undefined;
  }

  /** Kept apart from get(), so that get() is small enough to be inlined into a publish. */
  private build(subject: string, reply: string | undefined, size: number, pad: number): PubLine {
    const bytes = encodePubLine(subject, reply, size, pad);
    // The last word spills into the payload's place: only a payload overwrites it.
    const words = size > 0 && bytes.length <= LINE_WORDS_MAX ? pubLineWords(bytes) : null;
    const line = { bytes, words };
    this.lines[pad] = line;
    this.built = true;
    return line;
  }
}
