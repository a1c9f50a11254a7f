/**
 * Command frames waiting on the caller's thread because the command ring was full, in call
 * order, until the ring has room for them. Small publishes are gathered into PUB frames of up
 * to PUB_GROW_BYTES, as in the ring: one allocation and one ring record per run (under a
 * publish flood a quarter of all messages pass through here). What waits is counted in
 * messages and bytes: the publisher's `clientCapacity` and `maxPendingBytes` bounds.
 */
import {
  isPubFrame,
  markEchoPub,
  pubCount,
  pubFrameLength,
  setPubCount,
  WIRE_VIEW_BYTES,
  writePubHeader,
} from '../shared/frames/command.js';
import type { RingProducer } from '../shared/ring/ring-producer.js';

const EMPTY = new Uint8Array(0);

export class Overflow {
  /**
   * Starts with an element so that its elements kind is the one it keeps (the constructor
   * empties it): an empty literal changes kind at the first push, which threw away the
   * optimized code of every publish that had read {@link active} before the ring first filled.
   */
  private readonly frames: Uint8Array[] = [EMPTY];
  /** Index of the oldest frame still waiting. */
  private head = 0;
  /** Bytes of the waiting frames. */
  bytes = 0;
  /** Messages and control frames waiting. */
  count = 0;
  /** Control frames (SUB, UNSUB, FLUSH) among them. */
  controls = 0;
  /** Index of the PUB frame later publishes may grow, or -1. */
  private openChunk = -1;
  /** Bytes and messages in that frame (its array is chunkMax long until it is closed). */
  private chunkBytes = 0;
  private chunkCount = 0;
  /** The array {@link queueWire} last gave room in. */
  target: Uint8Array = EMPTY;
  /** SUB frames waiting here that {@link withdraw} may still take back. */
  private readonly withdrawable = new Set<Uint8Array>();
  /** Frames taken back: passed over when their turn comes. */
  private readonly withdrawn = new Set<Uint8Array>();

  /** `chunkMax`: the largest PUB frame small publishes grow (a ring record must hold it). */
  constructor(private readonly chunkMax: number) {
    // Stored again at once, so that V8 never takes these fields for constants: the first
    // store after optimization (the ring's first full moment) otherwise deoptimizes publish.
    this.clear();
  }

  /** Frames wait here: a new one must wait behind them. */
  get active(): boolean {
    return this.head !== this.frames.length;
  }

  /**
   * Room for one message's wire bytes: in the open PUB frame when it may grow, else in a new
   * one. Sets {@link target} to the array and returns the bytes' offset in it.
   */
  queueWire(wireLength: number, echo: boolean): number {
    this.count++;
    this.bytes += wireLength;
    const grown = this.chunkBytes + wireLength;
    // Only small messages are gathered: a large one goes to the socket as a view anyway, and
    // gathering it would cost copies as the frame grows (pub 16 KiB −20 %).
    const small = wireLength < WIRE_VIEW_BYTES;
    if (small && this.openChunk >= 0 && grown <= this.chunkMax) {
      const at = this.chunkBytes;
      this.target = this.frames[this.openChunk];
      if (echo) markEchoPub(this.target, 0);
      this.chunkBytes = grown;
      this.chunkCount++;
      return at;
    }
    this.closeChunk();
    const length = pubFrameLength(wireLength);
    this.bytes += length - wireLength;
    // Full size at once: growing by doubling cost a copy per message under a flood.
    this.target = new Uint8Array(small ? this.chunkMax : length);
    this.frames.push(this.target);
    if (small) {
      this.openChunk = this.frames.length - 1;
      this.chunkBytes = length;
      this.chunkCount = 1;
    }
    return writePubHeader(this.target, new DataView(this.target.buffer), 0, echo);
  }

  /**
   * A frame built whole (a SUB, UNSUB or FLUSH, or a part of a continued message) waits:
   * `counted` says whether it counts as one more waiting message or control frame.
   */
  push(
    frame: Uint8Array,
    counted: 'control' | 'message' | 'uncounted',
    withdrawable = false,
  ): void {
    this.closeChunk();
    this.frames.push(frame);
    this.bytes += frame.length;
    if (counted !== 'uncounted') this.count++;
    if (counted === 'control') this.controls++;
    if (withdrawable) this.withdrawable.add(frame);
  }

  /**
   * Takes back control frame `frame` (pushed withdrawable) if it still waits here: it is never
   * sent. False once it has moved into the ring. Withdrawn frames at the queue's end go at once
   * (a subscription ended soon after it was made, newest or oldest first); the others are passed
   * over when their turn comes, and count until then: they hold memory.
   */
  withdraw(frame: Uint8Array): boolean {
    if (!this.withdrawable.delete(frame)) return false;
    this.withdrawn.add(frame);
    while (this.frames.length > this.head) {
      const last = this.frames[this.frames.length - 1];
      if (!this.withdrawn.delete(last)) break;
      this.frames.pop();
      this.uncount(last);
    }
    if (this.head === this.frames.length) this.clear();
    return true;
  }

  /** A withdrawn control frame waits no more. */
  private uncount(frame: Uint8Array): void {
    this.bytes -= frame.length;
    this.count--;
    this.controls--;
  }

  /**
   * Moves frames into `ring` (committed, W not published), oldest first, until it is full or
   * nothing waits. Returns true when nothing waits any more.
   */
  moveTo(ring: RingProducer): boolean {
    while (this.head < this.frames.length) {
      if (this.head === this.openChunk) this.closeChunk();
      const frame = this.frames[this.head];
      if (this.withdrawn.size > 0 && this.withdrawn.delete(frame)) {
        this.frames[this.head++] = EMPTY;
        this.uncount(frame);
        continue;
      }
      const off = ring.reserve(frame.length);
      if (off < 0) break;
      ring.bytes.set(frame, off);
      ring.commit();
      this.frames[this.head++] = EMPTY;
      this.bytes -= frame.length;
      if (isPubFrame(ring.bytes, off)) {
        this.count -= pubCount(ring.view, off);
      } else {
        this.count--;
        this.controls--;
        if (this.withdrawable.size > 0) this.withdrawable.delete(frame);
      }
    }
    if (this.head === this.frames.length) {
      this.clear();
      return true;
    }
    if (this.head >= 1024 && this.head * 2 >= this.frames.length) {
      this.frames.splice(0, this.head);
      if (this.openChunk >= 0) this.openChunk -= this.head;
      this.head = 0;
    }
    return false;
  }

  /** Nothing waits any more (what waited is dropped). */
  clear(): void {
    this.withdrawable.clear();
    this.withdrawn.clear();
    this.frames.length = 0;
    this.head = 0;
    this.bytes = 0;
    this.count = 0;
    this.controls = 0;
    this.openChunk = -1;
  }

  /**
   * Trim the open PUB frame to its bytes and set its message count; no more growth. A mostly
   * empty array is copied out, so what waits is what maxPendingBytes counts.
   */
  private closeChunk(): void {
    const at = this.openChunk;
    if (at < 0) return;
    this.openChunk = -1;
    const array = this.frames[at];
    const used = this.chunkBytes;
    const frame = used * 2 < array.length ? array.slice(0, used) : array.subarray(0, used);
    setPubCount(new DataView(frame.buffer), 0, this.chunkCount);
    this.frames[at] = frame;
  }
}
