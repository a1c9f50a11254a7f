/**
 * The sizes of PUB/HPUB ops as this client wrote them (encode.ts), read back from their wire
 * bytes: for messages accepted under one server's max_payload that wait for a server whose
 * max_payload is smaller. nats-server ends the connection on such an op, so the worker leaves
 * them out (and counts them) instead of sending them.
 */

const CR = 0x0d;
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

/**
 * The ops of `wire` (whole PUB/HPUB ops back to back) whose size is at most `limit`, as views
 * of `wire`, and how many were larger. Null when none is larger (the common case: no copy).
 */
export function pubsWithin(
  wire: Uint8Array,
  limit: number,
): { kept: Uint8Array[]; refused: number } | null {
  const kept: Uint8Array[] = [];
  let refused = 0;
  let runStart = 0;
  for (let at = 0; at < wire.length; ) {
    const { size, end } = pubAt(wire, at);
    if (size > limit) {
      if (at > runStart) kept.push(wire.subarray(runStart, at));
      runStart = end;
      refused++;
    }
    at = end;
  }
  if (refused === 0) return null;
  if (wire.length > runStart) kept.push(wire.subarray(runStart));
  return { kept, refused };
}
