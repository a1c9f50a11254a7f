/**
 * The sizes and kinds of PUB/HPUB ops as this client wrote them (encode.ts), read back from
 * their wire bytes, for messages accepted while a server that cannot take them was not known
 * yet: larger than the max_payload of a server that came next, or with headers for a server
 * without them. nats-server ends the connection on such an op, so the worker leaves them out
 * (and counts them) instead of sending them.
 */

const CR = 0x0d;
const SPACE = 0x20;
/** The first byte of an HPUB op (a PUB's is 'P'). */
const H = 0x48;
const ZERO = 0x30;
const NINE = 0x39;

/**
 * The size the server checks against max_payload of the op starting at `wire[at]`: the last
 * token of its line (a PUB's payload length, an HPUB's total length), and where its bytes end.
 * The op must be whole and well formed, as the encoder writes them; bytes without a line end
 * read as one op of size 0 running to the end.
 */
export function pubAt(wire: Uint8Array, at: number): { size: number; end: number } {
  let cr = at;
  while (cr < wire.length && wire[cr] !== CR) cr++;
  if (cr === wire.length) return { size: 0, end: wire.length };
  let start = cr;
  while (start > at && wire[start - 1] >= ZERO && wire[start - 1] <= NINE) start--;
  let size = 0;
  for (let i = start; i < cr; i++) size = size * 10 + (wire[i] - ZERO);
  return { size, end: cr + 2 + size + 2 };
}

/** Whether the op starting at `wire[at]` is an HPUB (a message with headers). */
export function isHpubAt(wire: Uint8Array, at: number): boolean {
  return wire[at] === H;
}

/** Ops a server cannot take, by reason; see {@link pubsFor}. */
export interface Refusals {
  /** Ops larger than the limit (those with headers counted below when headers are refused). */
  tooLarge: number;
  /** HPUB ops, when the server takes no headers. */
  withHeaders: number;
}

/** An op left out: where it starts in its wire bytes, and whether for its headers. */
export interface RefusedOp {
  at: number;
  withHeaders: boolean;
}

/**
 * The ops of `wire` (whole PUB/HPUB ops back to back) that a server whose max_payload is
 * `limit` and which takes headers or not (`headers`) can take, as views of `wire`, and how
 * many it cannot, by reason, and where each of those starts. Null when it can take all (the
 * common case: no copy).
 */
export function pubsFor(
  wire: Uint8Array,
  limit: number,
  headers: boolean,
): ({ kept: Uint8Array[]; refused: RefusedOp[] } & Refusals) | null {
  const kept: Uint8Array[] = [];
  const refused: RefusedOp[] = [];
  let tooLarge = 0;
  let withHeaders = 0;
  let runStart = 0;
  for (let at = 0; at < wire.length; ) {
    const { size, end } = pubAt(wire, at);
    const refusedHeaders = !headers && isHpubAt(wire, at);
    if (refusedHeaders || size > limit) {
      if (at > runStart) kept.push(wire.subarray(runStart, at));
      runStart = end;
      if (refusedHeaders) withHeaders++;
      else tooLarge++;
      refused.push({ at, withHeaders: refusedHeaders });
    }
    at = end;
  }
  if (tooLarge + withHeaders === 0) return null;
  if (wire.length > runStart) kept.push(wire.subarray(runStart));
  return { kept, refused, tooLarge, withHeaders };
}

/**
 * The reply subject's bytes `[start, end)` of the op starting at `wire[at]` (its line's third
 * token, when the line has one more than a line without a reply), or undefined without one.
 */
export function pubReplyAt(wire: Uint8Array, at: number): [number, number] | undefined {
  const tokens: number[] = []; // where each token starts and ends
  let i = at;
  while (i < wire.length && wire[i] !== CR) {
    while (wire[i] === SPACE) i++;
    const start = i;
    while (i < wire.length && wire[i] !== SPACE && wire[i] !== CR) i++;
    if (i > start) tokens.push(start, i);
  }
  const withReply = isHpubAt(wire, at) ? 5 : 4;
  return tokens.length === 2 * withReply ? [tokens[4], tokens[5]] : undefined;
}
