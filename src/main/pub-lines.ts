/**
 * The control line `PUB <subject> [<reply>] <size>\r\n` of the last message, kept while
 * messages repeat it, in up to eight forms: 0-7 extra blanks before the size (the publisher's
 * alignment of large payloads). A cached line goes into the ring with one set(); encoding it
 * there byte by byte cost ~130 ns a message, as single-byte stores into shared memory are
 * slow. A line is built only once a (subject, reply, size) repeats the one before it, so a
 * stream of changing subjects (request inboxes) pays one comparison per message and no
 * allocation.
 */
import { encodePubLine } from '../shared/protocol/encode.js';

export class PubLineCache {
  private subject: string | undefined;
  private reply: string | undefined;
  private size = -1;
  /** The line by its count of extra blanks (0-7, see Publisher's alignment), each built once. */
  private readonly lines: (Uint8Array | undefined)[] = new Array(8).fill(undefined);

  /**
   * The line for this message, with `pad` extra blanks before the size, if the message repeats
   * the previous one's subject, reply and size; undefined the first time.
   */
  get(
    subject: string,
    reply: string | undefined,
    size: number,
    pad: number,
  ): Uint8Array | undefined {
    if (subject === this.subject && reply === this.reply && size === this.size) {
      this.lines[pad] ??= encodePubLine(subject, reply, size, pad);
      return this.lines[pad];
    }
    this.subject = subject;
    this.reply = reply;
    this.size = size;
    this.lines.fill(undefined);
    return undefined;
  }
}
