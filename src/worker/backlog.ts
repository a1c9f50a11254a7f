/**
 * Delivery frames waiting for space in the delivery ring (the main thread is busy), in arrival
 * order. They are framed as in the ring ([u32 length][body][pad to 4]) back to back in private
 * slabs, so waiting costs no allocation per frame, and moving a frame into the ring is a copy
 * of aligned words. A self-publishing client meets this path on every burst; a view or array
 * per frame made it the worker's largest allocator.
 */

import type { RingProducer } from '../shared/ring/ring-producer.js';
import { FrameBytes } from './frame-bytes.js';

/** Bytes per slab; a frame larger than this gets a slab of its own. */
const SLAB_BYTES = 256 * 1024;

/** Frames back to back in memory of their own; written through {@link frames}, as the ring is. */
class Slab {
  readonly frames: FrameBytes;
  /** Offset of the next frame to move out, and of the end of the frames written. */
  read = 0;
  write = 0;

  constructor(size: number) {
    const buffer = new ArrayBuffer(size);
    this.frames = new FrameBytes(new Uint8Array(buffer), new Int32Array(buffer));
  }

  get size(): number {
    return this.frames.bytes.length;
  }

  get words(): Int32Array {
    return this.frames.words;
  }

  /** Move frames into the ring until it is full or this slab is empty; returns how many. */
  moveTo(ring: RingProducer): number {
    const src = this.frames.words;
    const dst = ring.words;
    let moved = 0;
    while (this.read < this.write) {
      const from = this.read >> 2;
      const length = src[from];
      const off = ring.reserve(length);
      if (off < 0) break;
      // Whole words: the last one's padding lands in the record's own padding.
      const words = (length + 3) >> 2;
      const to = off >> 2;
      for (let i = 0; i < words; i++) dst[to + i] = src[from + 1 + i];
      ring.commit();
      this.read += 4 + words * 4;
      moved++;
    }
    return moved;
  }
}

export class Backlog {
  private readonly slabs: Slab[] = [new Slab(SLAB_BYTES)];
  /** Frames waiting. */
  length = 0;
  /** Bytes they take, framed (length words and padding included). */
  bytes = 0;

  /** The slab {@link reserve} returned an offset in; write the body there, then {@link commit}. */
  get target(): FrameBytes {
    return this.slabs[this.slabs.length - 1].frames;
  }

  /** Room for a body of `length` bytes at the end; returns its offset in {@link target}. */
  reserve(length: number): number {
    const size = 4 + ((length + 3) & ~3);
    const last = this.slabs.length - 1;
    let tail = this.slabs[last];
    if (tail.read === tail.write) {
      // Empty, so the only slab (emptied slabs before the tail are dropped): start it over, in
      // a new slab when the frame does not fit or an outsized slab is no longer needed.
      tail.read = 0;
      tail.write = 0;
      if (size > tail.size || (tail.size > SLAB_BYTES && size <= SLAB_BYTES)) {
        tail = new Slab(Math.max(SLAB_BYTES, size));
        this.slabs[last] = tail;
      }
    } else if (tail.write + size > tail.size) {
      tail = new Slab(Math.max(SLAB_BYTES, size));
      this.slabs.push(tail);
    }
    const at = tail.write;
    tail.words[at >> 2] = length;
    tail.write += size;
    this.bytes += size;
    return at + 4;
  }

  /** The body at the last {@link reserve} is written: it waits from now on. */
  commit(): void {
    this.length++;
  }

  /** Calls `visit` with the words of each waiting frame's slab and its body's byte offset. */
  forEach(visit: (words: Int32Array, body: number) => void): void {
    for (const slab of this.slabs) {
      for (let at = slab.read; at < slab.write; at += 4 + ((slab.words[at >> 2] + 3) & ~3)) {
        visit(slab.words, at + 4);
      }
    }
  }

  /**
   * Move frames into the ring, oldest first, until it is full or nothing waits. Returns true
   * when nothing waits any more.
   */
  moveTo(ring: RingProducer): boolean {
    while (this.length > 0) {
      const slab = this.slabs[0];
      const from = slab.read;
      this.length -= slab.moveTo(ring);
      this.bytes -= slab.read - from;
      // Slab switches are rare: outside the loop that moves frames, whose optimized code
      // (on-stack replaced, so re-entered with every call) would otherwise be thrown away
      // each time it first meets one.
      if (slab.read < slab.write || this.slabs.length === 1) break;
      this.slabs.shift();
    }
    return this.length === 0;
  }
}
