/**
 * Copying message bytes from a socket chunk into the delivery ring's shared memory, without
 * allocating.
 *
 * `dst.set(src.subarray(…))` allocates a view per copy (~100–190 B of garbage per message; the
 * collector then runs on helper threads that compete for the same two cores), and single-byte
 * stores into a SharedArrayBuffer cost ~2 ns each. Whole aligned 32-bit stores are cheap, so
 * short runs go a word at a time: read from the source through a DataView (any alignment),
 * stored through an Int32Array over the ring. At 128 B: ~75 ns against ~190 ns for set() of a
 * subarray of a socket Buffer at an arbitrary offset; set() wins from a few hundred bytes on.
 * A payload over 128 B gets filler before it ({@link alignPad}) so set() finds both sides
 * agreeing mod 8 and copies by 8-byte words; that wins from there on (framing a delivery, one
 * thread: 160 B ~20 %, 240 B ~15 % faster than the word loop; 128 B even).
 *
 * The other direction (command ring → socket buffer) stays with set(): there the word loop,
 * storing through a DataView into the private buffer, measured slower (240 vs 150 ns a frame).
 */

/** Runs up to this long are copied by words; longer ones with set(). */
const WORD_COPY_MAX = 256;
/** Payloads over this length get filler that aligns them for set(). */
const ALIGNED_COPY_OVER = 128;

/** DataView reads in host byte order, so an Int32Array store puts the bytes back in order. */
const HOST_LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** The destination (the delivery ring, or a backlog slab): bytes, and the same bytes as words. */
export interface WordBytes {
  readonly bytes: Uint8Array;
  /** `bytes` as whole words; `bytes.byteOffset` must be a multiple of 4. */
  readonly words: Int32Array;
}

/**
 * The source: bytes (a socket chunk) and a DataView of the same bytes, made once per chunk. A
 * class, so that its hidden class is its own and not shared with other literals that start
 * with `bytes` (see backlog.ts's Slab).
 */
export class SourceBytes {
  readonly view: DataView;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset);
  }
}

/**
 * Filler bytes (0-7) to put before a copy of `length` bytes from `src.bytes[from]` that
 * would start at `at`, so that set() finds source and destination agreeing mod 8: V8 copies
 * shared memory by 8-byte words only then, else byte by byte (1 KiB: 0.2 against 0.8 µs).
 * 0 for runs short enough to go by words anyway.
 */
export function alignPad(src: SourceBytes, from: number, length: number, at: number): number {
  return length > ALIGNED_COPY_OVER ? (src.bytes.byteOffset + from - at) & 7 : 0;
}

/**
 * Copies a payload placed by {@link alignPad} to `dst.bytes[at…]`: by set() when it is long
 * enough to have been aligned (a payload in the backlog, which gets no filler, then goes
 * unaligned), else as {@link copyToShared}.
 */
export function copyPayloadToShared(
  src: SourceBytes,
  from: number,
  length: number,
  dst: WordBytes,
  at: number,
): void {
  if (length > ALIGNED_COPY_OVER) dst.bytes.set(src.bytes.subarray(from, from + length), at);
  else copyToShared(src, from, length, dst, at);
}

/** Copies `src.bytes[from, from + length)` to `dst.bytes[at…]`; returns the offset after it. */
export function copyToShared(
  src: SourceBytes,
  from: number,
  length: number,
  dst: WordBytes,
  at: number,
): number {
  const end = at + length;
  if (length > WORD_COPY_MAX) {
    dst.bytes.set(src.bytes.subarray(from, from + length), at);
    return end;
  }
  const s = src.bytes;
  const d = dst.bytes;
  while ((at & 3) !== 0 && at < end) d[at++] = s[from++];
  const view = src.view;
  const words = dst.words;
  for (const wordEnd = end & ~3; at < wordEnd; at += 4, from += 4) {
    words[at >> 2] = view.getInt32(from, HOST_LITTLE_ENDIAN);
  }
  while (at < end) d[at++] = s[from++];
  return end;
}
