/**
 * Gathered socket writes whose chunks the caller may change once the call returns (views of the
 * command ring, whose space the publisher reuses). Node hands a write's memory to libuv, which
 * keeps pointers into it until the kernel has taken all of it: as long as the server takes to
 * read, minutes for one that is alive but stopped. So only what the kernel takes at once is
 * written from the chunks themselves (a non-blocking writev on the socket's descriptor, as
 * libuv's own first attempt is), and the rest is copied; no socket outlives its session holding
 * command-ring space.
 */
import { writevSync } from 'node:fs';
import type net from 'node:net';

/**
 * Writes what the kernel takes of `chunks` now and returns a copy of the rest, for the caller to
 * queue on `socket` (null: the kernel took everything). Only when nothing is queued on the
 * socket (the bytes would overtake it) and it has a descriptor of its own (plain TCP; TLS
 * encrypts into buffers of its own anyway); otherwise everything is copied.
 */
export function writeNow(socket: net.Socket, chunks: Uint8Array[]): Uint8Array | null {
  const written = socket.writableLength === 0 ? tryWritev(socket, chunks) : 0;
  return copyFrom(chunks, written);
}

/** Bytes of `chunks` the kernel took at once; 0 when it took none or the socket has no fd. */
function tryWritev(socket: net.Socket, chunks: Uint8Array[]): number {
  // libuv's stream handle exposes its descriptor on Unix (-1 elsewhere); TLS has none.
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return 0;
  try {
    return writevSync(fd, chunks);
  } catch {
    // EAGAIN: the kernel's buffer is full. Anything else: the copy's write reports it.
    return 0;
  }
}

/** The bytes of `chunks` after the first `skip`, in one new buffer; null when there are none. */
export function copyFrom(chunks: Uint8Array[], skip: number): Uint8Array | null {
  let total = 0;
  for (const chunk of chunks) total += chunk.byteLength;
  if (skip >= total) return null;
  const copy = Buffer.allocUnsafe(total - skip);
  let at = 0;
  let left = skip;
  for (const chunk of chunks) {
    if (left >= chunk.byteLength) {
      left -= chunk.byteLength;
      continue;
    }
    // Buffer.copy out of shared memory is the fast copy (MECHANICS.md: ~14 GB/s).
    const source = Buffer.from(chunk.buffer, chunk.byteOffset + left, chunk.byteLength - left);
    at += source.copy(copy, at);
    left = 0;
  }
  return copy;
}
