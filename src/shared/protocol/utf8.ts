/**
 * UTF-8 and decimal helpers over `Uint8Array`, tuned for the publish and delivery hot paths.
 *
 * Subjects, reply subjects and length digits are almost always short ASCII. A manual loop costs
 * ~12–56 ns for them, while `TextEncoder`/`TextDecoder` cost ~700 ns per call, so the codecs
 * only serve non-ASCII or long input.
 */

const encoder = new TextEncoder();
/** Wire text is read as sent: a leading byte order mark is kept (a header name of only one was ''). */
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Most input bytes {@link quoteBytes} shows. */
const QUOTE_MAX = 64;

/** Above this many bytes, `TextDecoder` beats a `fromCharCode` loop. */
const MANUAL_DECODE_MAX = 24;

/**
 * Byte length of the UTF-8 encoding of `s`, without encoding it.
 *
 * A lone surrogate counts as 3 bytes, the size of the U+FFFD that `TextEncoder` writes for it.
 *
 * @example
 * utf8Length('foo.bar'); // 7
 * utf8Length('ü');       // 2
 */
export function utf8Length(s: string): number {
  const len = s.length;
  let bytes = 0;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      bytes += 1;
    } else if (c < 0x800) {
      bytes += 2;
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < len) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else {
        bytes += 3;
      }
    } else {
      bytes += 3;
    }
  }
  return bytes;
}

/**
 * Writes `s` as UTF-8 at `buf[off]` and returns the offset after it.
 *
 * The caller guarantees room for {@link utf8Length}(s) bytes. ASCII is copied by a manual loop;
 * from the first non-ASCII character on, the rest goes through `TextEncoder.encodeInto`.
 *
 * @example
 * const end = writeString(buf, 4, 'foo.bar'); // end === 11
 */
export function writeString(buf: Uint8Array, off: number, s: string): number {
  const len = s.length;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) {
      const { written } = encoder.encodeInto(s.slice(i), buf.subarray(off + i));
      return off + i + written;
    }
    buf[off + i] = c;
  }
  return off + len;
}

/**
 * Decodes `buf[start, end)` as UTF-8.
 *
 * Short pure-ASCII ranges (the common subject) are built by a manual loop; anything else goes
 * to `TextDecoder`, which replaces malformed sequences with U+FFFD.
 *
 * @example
 * decodeString(bytes, 0, 7); // 'foo.bar'
 */
export function decodeString(buf: Uint8Array, start: number, end: number): string {
  if (end - start <= MANUAL_DECODE_MAX) {
    let s = '';
    let i = start;
    for (; i < end; i++) {
      const b = buf[i];
      if (b >= 0x80) break;
      s += String.fromCharCode(b);
    }
    if (i === end) return s;
  }
  return decoder.decode(buf.subarray(start, end));
}

/**
 * Number of decimal digits of the non-negative integer `n`.
 *
 * @example
 * decimalLength(0);    // 1
 * decimalLength(1024); // 4
 */
export function decimalLength(n: number): number {
  // Compares against powers of ten: a division per digit cost ~10 ns a publish.
  let digits = 1;
  for (let power = 10; n >= power; power *= 10) digits++;
  return digits;
}

/**
 * Writes the non-negative integer `n` as ASCII decimal at `buf[off]` and returns the offset
 * after it. The caller guarantees room for {@link decimalLength}(n) bytes.
 *
 * @example
 * writeDecimal(buf, 0, 1024); // 4; buf starts with '1024'
 */
export function writeDecimal(buf: Uint8Array, off: number, n: number): number {
  const end = off + decimalLength(n);
  let p = end;
  do {
    const q = Math.floor(n / 10);
    buf[--p] = 0x30 + (n - q * 10);
    n = q;
  } while (n > 0);
  return end;
}

/**
 * JSON-quotes at most 64 bytes of `buf[start, end)` (with `…` when cut) for an error message
 * about malformed input.
 *
 * @example
 * throw new NatsError('protocol', `unknown operation ${quoteBytes(buf, start, end)}`);
 */
export function quoteBytes(buf: Uint8Array, start: number, end: number): string {
  const cut = Math.min(end, start + QUOTE_MAX);
  return JSON.stringify(decodeString(buf, start, cut)) + (cut < end ? '…' : '');
}
