/**
 * The shared request inbox's reply tokens (main/request-mux.ts): a reply subject is the inbox
 * prefix followed by the request's number in base 36. The worker reads them too, to name the
 * request whose reply it had to drop (a 'replyDropped' delivery frame).
 */

/**
 * The request id that the reply subject's bytes `bytes[from, end)` spell (its last token, `from`
 * being the prefix's length), or -1 when they are not an id as the multiplexer writes them: base
 * 36 in lower case, no leading zero, at most 10 digits (exact as a number).
 */
export function requestIdAt(bytes: Uint8Array, from: number, end: number): number {
  const length = end - from;
  if (length < 1 || length > 10 || bytes[from] === 0x30) return -1;
  let id = 0;
  for (let i = from; i < end; i++) {
    const c = bytes[i];
    const digit = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x7a ? c - 0x57 : -1;
    if (digit < 0) return -1;
    id = id * 36 + digit;
  }
  return id;
}

/** {@link requestIdAt} of the subject `bytes[start, end)`'s last token (-1: none, or no id). */
export function lastTokenRequestId(bytes: Uint8Array, start: number, end: number): number {
  let from = end;
  while (from > start && bytes[from - 1] !== 0x2e) from--;
  return from === start ? -1 : requestIdAt(bytes, from, end);
}
