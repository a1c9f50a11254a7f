/**
 * The caller's side of the command ring. Every command (PUB, HPUB, SUB, UNSUB, FLUSH) is
 * written as a frame (shared/frames/command.ts), in call order, straight into shared memory;
 * publish W is batched (every {@link PUBLISH_EVERY} frames, and in a microtask for the tail of
 * a burst).
 *
 * When the ring is full, frames wait here in order (the overflow), small publishes again
 * gathered into PUB records of up to PUB_GROW_BYTES (one allocation and one ring record per
 * run, as in the ring: under a publish flood a quarter of all messages pass through here).
 * publish returns `false` once `clientCapacity` messages wait (stream.write convention); a
 * PUB that would take the pending bytes past `maxPendingBytes` throws `'clientCapacity'` and
 * is not queued. Control frames (SUB, UNSUB, FLUSH) count towards maxPendingBytes too, and
 * past it SUB, FLUSH and UNSUB with a count throw `'clientCapacity'` (nothing queued, nothing
 * registered: the caller hears it, as for a publish). A plain UNSUB always queues: ending a
 * subscription must not fail, and there is at most one per subscription.
 */
import { NatsError } from '../shared/errors.js';
import {
  type ControlCommand,
  commandLength,
  encodeCommand,
  isPubFrame,
  markEchoPub,
  pubCount,
  pubFrameLength,
  setPubCount,
  WIRE_VIEW_BYTES,
  writePubHeader,
  writePubPartHeader,
} from '../shared/frames/command.js';
import { CONTINUED_WIRE_OVER, PUB_PART_BYTES, WireParts } from '../shared/frames/pub-parts.js';
import { PUB_GROW_BYTES, PubRecords } from '../shared/frames/pub-records.js';
import {
  encodeHpubLine,
  encodePubLine,
  hpubLength,
  pubLength,
  writeHpub,
  writePub,
  writePubWithLine,
} from '../shared/protocol/encode.js';
import type { RingProducer } from '../shared/ring/ring-producer.js';
import { PubLineCache } from './pub-lines.js';

/** Frames committed before W is published (committing per 64 frames doubled ring throughput). */
const PUBLISH_EVERY = 64;

export class Publisher {
  /** Where the message being written goes: the ring's bytes or a frame for the overflow. */
  private frame: Uint8Array;
  private readonly records: PubRecords;
  private readonly lines = new PubLineCache();
  /** Largest overflow PUB frame small publishes grow (a ring record must hold it). */
  private readonly chunkMax: number;
  /** Wire bytes from which a message is continued across records (pub-parts.ts). */
  private readonly continuedOver: number;
  private readonly overflow: Uint8Array[] = [];
  private head = 0;
  private overflowBytes = 0;
  /** Messages and control frames in the overflow. */
  private overflowCount = 0;
  /** Control frames (SUB, UNSUB, FLUSH) among them. */
  private overflowControls = 0;
  /** Index in the overflow of the PUB frame later publishes may grow, or -1. */
  private openChunk = -1;
  /** Bytes and messages in that frame (its array is chunkMax long until it is closed). */
  private chunkBytes = 0;
  private chunkCount = 0;
  private waitingForSpace = false;
  /** A publish was refused for bytes while frames waited here: writable() waits them out. */
  private refusedForBytes = false;
  private unpublished = 0;
  private publishQueued = false;
  private writableWaiters: { resolve(): void; reject(error: NatsError): void }[] = [];
  private closedError: NatsError | null = null;

  constructor(
    private readonly ring: RingProducer,
    private readonly clientCapacity: number,
    private readonly maxPendingBytes: number,
  ) {
    this.frame = ring.bytes;
    this.records = new PubRecords(ring);
    this.chunkMax = Math.min(pubFrameLength(PUB_GROW_BYTES - 1), ring.maxBody);
    this.continuedOver = Math.min(CONTINUED_WIRE_OVER, this.records.maxWire);
  }

  /** Messages (and control frames) waiting on this thread because the ring was full. */
  get waiting(): number {
    return this.overflowCount;
  }

  /** Messages alone (no control frames) waiting on this thread: what close() may not send. */
  get waitingMessages(): number {
    return this.overflowCount - this.overflowControls;
  }

  pub(
    subject: string,
    subjectBytes: number,
    reply: string | undefined,
    replyBytes: number,
    payload: Uint8Array,
    echo: boolean,
  ): boolean {
    const size = payload.length;
    const wire = pubLength(subjectBytes, replyBytes, size);
    if (wire > this.continuedOver) {
      return this.continued([encodePubLine(subject, reply, size), payload, CRLF], echo);
    }
    // While messages wait off the ring a new one waits too, in private memory: no alignment.
    const pad = this.overflowing ? 0 : this.records.alignPad(wire - size - 2, wire, payload);
    const line = this.lines.get(subject, reply, size, pad);
    const at = this.wireSpace(wire + pad, echo);
    if (line === undefined) writePub(this.frame, at, subject, reply, payload, pad);
    else writePubWithLine(this.frame, at, line, payload);
    return this.committed(this.frame);
  }

  hpub(
    subject: string,
    subjectBytes: number,
    reply: string | undefined,
    replyBytes: number,
    headerBlock: Uint8Array,
    payload: Uint8Array,
    echo: boolean,
  ): boolean {
    const wire = hpubLength(subjectBytes, replyBytes, headerBlock.length, payload.length);
    if (wire > this.continuedOver) {
      const line = encodeHpubLine(subject, reply, headerBlock.length, payload.length);
      return this.continued([line, headerBlock, payload, CRLF], echo);
    }
    const at = this.wireSpace(wire, echo);
    writeHpub(this.frame, at, subject, reply, headerBlock, payload);
    return this.committed(this.frame);
  }

  /** SUB, UNSUB or FLUSH, in order with the publishes around it. */
  control(cmd: ControlCommand): void {
    const bounded = cmd.kind !== 'unsub' || cmd.max !== 0;
    const [target, off] = this.reserveControl(commandLength(cmd), bounded);
    encodeCommand(cmd, target, off);
    this.controlCommitted(target);
    // A flush is waited on: don't hold it back for batching.
    if (cmd.kind === 'flush') this.publishNow();
  }

  /**
   * Resolves when publishing may go on: at once unless `clientCapacity` messages wait on this
   * thread or a publish was refused for bytes since they began waiting, else when nothing waits
   * here any more.
   */
  writable(): Promise<void> {
    if (this.closedError) return Promise.reject(this.closedError);
    // After a publish refused for bytes, it waits for what waits here: retrying sooner would be
    // refused again.
    if (this.waiting < this.clientCapacity && !this.refusedForBytes) return Promise.resolve();
    if (!this.overflowing) {
      // Refused while only the ring held bytes: wait for the worker to take some.
      this.refusedForBytes = false;
      return this.ring.waitForSpace() ?? Promise.resolve();
    }
    return new Promise((resolve, reject) => this.writableWaiters.push({ resolve, reject }));
  }

  /** Resolves once nothing waits on this thread, or after `timeoutMs` (close() uses it). */
  drained(timeoutMs: number): Promise<void> {
    if (this.waiting === 0 || this.closedError) return Promise.resolve();
    return new Promise<void>((resolve) => {
      // A plain timer, cleared at once: it must not keep a closing process alive.
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.writableWaiters.push({ resolve: done, reject: done });
    });
  }

  /** Publish W now (before a control call that must see every frame, e.g. close). */
  publishNow(): void {
    this.unpublished = 0;
    this.ring.publish();
  }

  /** Frames still waiting are not sent; waiters on writable() fail with `error`. */
  close(error: NatsError): void {
    this.closedError = error;
    this.overflow.length = 0;
    this.head = 0;
    this.overflowBytes = 0;
    this.overflowCount = 0;
    this.overflowControls = 0;
    this.openChunk = -1;
    const waiters = this.writableWaiters;
    this.writableWaiters = [];
    for (const w of waiters) w.reject(error);
  }

  // ---- internals ------------------------------------------------------------------------

  /**
   * A message too large for one record (pub-parts.ts CONTINUED_WIRE_OVER): its wire bytes in
   * consecutive part records, in the ring while they fit and nothing waits, the rest in the
   * overflow, in order. All or nothing: past maxPendingBytes it throws before writing any.
   */
  private continued(segments: Uint8Array[], echo: boolean): boolean {
    const ring = this.ring;
    const parts = new WireParts(segments, Math.min(PUB_PART_BYTES, this.records.maxWire));
    const pending = this.overflowBytes + ring.usedBytes();
    if (parts.frameBytes > this.maxPendingBytes) {
      // Never sendable at this setting (a server max_payload above it): say what to change.
      throw new NatsError(
        'clientCapacity',
        `publish of ${parts.frameBytes} bytes is larger than maxPendingBytes (${this.maxPendingBytes}): raise maxPendingBytes to send it; not sent`,
      );
    }
    if (pending + parts.frameBytes > this.maxPendingBytes) {
      this.refusedForBytes = true;
      throw new NatsError(
        'clientCapacity',
        `publish of ${parts.frameBytes} bytes would take pending bytes past maxPendingBytes (${this.maxPendingBytes}); not sent`,
      );
    }
    this.records.close(); // parts are records of their own: nothing may grow into them
    let queued = false;
    while (parts.remaining > 0) {
      const length = pubFrameLength(parts.nextLength);
      const last = parts.remaining === parts.nextLength;
      let [target, view] = [ring.bytes, ring.view];
      let off = this.overflowing ? -1 : ring.reserve(length);
      if (off < 0) {
        this.closeChunk();
        target = new Uint8Array(length);
        view = new DataView(target.buffer);
        off = 0;
        this.overflow.push(target);
        this.overflowBytes += length;
        queued = true;
      }
      parts.copyNext(target, writePubPartHeader(target, view, off, echo, last));
      if (target === ring.bytes) {
        ring.commit();
        this.committed(target);
      }
    }
    if (!queued) return true;
    this.overflowCount++; // the last part, which counts the message, waits here
    return this.queued();
  }

  /**
   * Room for one message's wire bytes (PUB or HPUB): appended to the open PUB record when
   * there is one (the worker then takes many messages in one record), else in a new PUB
   * record, else in a new frame that waits here. Sets {@link frame} to the array the bytes go
   * into and returns their offset in it; throws past maxPendingBytes. `echo`: this client
   * receives the message itself, which flags its record (flow-control.ts gates such records).
   */
  private wireSpace(wireLength: number, echo: boolean): number {
    const ring = this.ring;
    const length = pubFrameLength(wireLength);
    this.frame = ring.bytes;
    if (!this.overflowing) {
      const at = this.records.reserve(wireLength, echo);
      if (at >= 0) return at;
    }
    const pending = this.overflowBytes + ring.usedBytes();
    if (pending + length > this.maxPendingBytes) {
      this.refusedForBytes = true;
      throw new NatsError(
        'clientCapacity',
        `publish of ${length} bytes would take pending bytes past maxPendingBytes (${this.maxPendingBytes}); not sent`,
      );
    }
    return this.queueWire(wireLength, echo);
  }

  /** Frames wait on this thread: a new one must wait behind them. */
  private get overflowing(): boolean {
    return this.head !== this.overflow.length;
  }

  /** {@link wireSpace} off the ring: grow the open overflow PUB frame, or queue a new one. */
  private queueWire(wireLength: number, echo: boolean): number {
    this.overflowCount++;
    this.overflowBytes += wireLength;
    const grown = this.chunkBytes + wireLength;
    // Only small messages are gathered: a large one goes to the socket as a view anyway, and
    // gathering it would cost copies as the frame grows (pub 16 KiB −20 %).
    const small = wireLength < WIRE_VIEW_BYTES;
    if (small && this.openChunk >= 0 && grown <= this.chunkMax) {
      const at = this.chunkBytes;
      this.frame = this.overflow[this.openChunk];
      if (echo) markEchoPub(this.frame, 0);
      this.chunkBytes = grown;
      this.chunkCount++;
      return at;
    }
    this.closeChunk();
    const length = pubFrameLength(wireLength);
    this.overflowBytes += length - wireLength;
    // Full size at once: growing by doubling cost a copy per message under a flood.
    this.frame = new Uint8Array(small ? this.chunkMax : length);
    this.overflow.push(this.frame);
    if (small) {
      this.openChunk = this.overflow.length - 1;
      this.chunkBytes = length;
      this.chunkCount = 1;
    }
    return writePubHeader(this.frame, new DataView(this.frame.buffer), 0, echo);
  }

  /**
   * Trim the open overflow PUB frame to its bytes and set its message count; no more growth.
   * A mostly empty array is copied out, so what waits is what maxPendingBytes counts.
   */
  private closeChunk(): void {
    const at = this.openChunk;
    if (at < 0) return;
    this.openChunk = -1;
    const array = this.overflow[at];
    const used = this.chunkBytes;
    const frame = used * 2 < array.length ? array.slice(0, used) : array.subarray(0, used);
    setPubCount(new DataView(frame.buffer), 0, this.chunkCount);
    this.overflow[at] = frame;
  }

  /**
   * Throws `'clientCapacity'` when control frames of `length` bytes in all might be refused
   * (the pending bytes would pass maxPendingBytes): checked before frames that must go together.
   */
  assertControlRoom(length: number): void {
    if (this.overflowBytes + this.ring.usedBytes() + length > this.maxPendingBytes) {
      throw new NatsError(
        'clientCapacity',
        `${length} bytes of subscription commands would take pending bytes past maxPendingBytes (${this.maxPendingBytes}); not sent`,
      );
    }
  }

  private reserveControl(length: number, bounded: boolean): [Uint8Array, number] {
    if (length > this.ring.maxBody) {
      // Checked here, synchronously: queued, it would only fail later inside a microtask.
      throw new NatsError(
        'invalidArgument',
        `a ${length}-byte subscription command exceeds the command ring's record limit of ${this.ring.maxBody} bytes`,
      );
    }
    if (!this.overflowing) {
      const off = this.ring.reserve(length);
      if (off >= 0) return [this.ring.bytes, off];
    }
    if (bounded && this.overflowBytes + this.ring.usedBytes() + length > this.maxPendingBytes) {
      throw new NatsError(
        'clientCapacity',
        `a ${length}-byte subscription or flush command would take pending bytes past maxPendingBytes (${this.maxPendingBytes}); not sent`,
      );
    }
    return [new Uint8Array(length), 0];
  }

  /** Finish a SUB, UNSUB or FLUSH frame: commit it in the ring, or queue it. */
  private controlCommitted(target: Uint8Array): void {
    this.records.close(); // later messages go after this frame, not into the record before it
    if (target !== this.ring.bytes) {
      this.closeChunk();
      this.overflow.push(target);
      this.overflowBytes += target.length;
      this.overflowCount++;
      this.overflowControls++;
    } else {
      this.ring.commit();
    }
    this.committed(target);
  }

  /**
   * A frame is complete: count it towards the next publish of W when it is in the ring
   * (committed already), or queue it when it was built off-ring.
   */
  private committed(target: Uint8Array): boolean {
    if (target !== this.ring.bytes) return this.queued();
    if (++this.unpublished >= PUBLISH_EVERY) {
      this.publishNow();
    } else if (!this.publishQueued) {
      this.publishQueued = true;
      queueMicrotask(this.publishTail);
    }
    return true;
  }

  private readonly publishTail = (): void => {
    this.publishQueued = false;
    if (this.unpublished > 0) this.publishNow();
  };

  /** A frame went to (or grew in) the overflow: have it moved once the ring has room. */
  private queued(): boolean {
    this.awaitSpace();
    return this.overflowCount < this.clientCapacity;
  }

  private awaitSpace(): void {
    if (this.waitingForSpace || this.closedError) return;
    const wait = this.ring.waitForSpace(); // publishes what is committed: the worker can only free what it sees
    this.unpublished = 0;
    this.waitingForSpace = true;
    if (wait === undefined) queueMicrotask(this.spaceFreed);
    else wait.then(this.spaceFreed);
  }

  private readonly spaceFreed = (): void => {
    this.waitingForSpace = false;
    if (this.closedError) return;
    const ring = this.ring;
    while (this.head < this.overflow.length) {
      if (this.head === this.openChunk) this.closeChunk();
      const frame = this.overflow[this.head];
      const off = ring.reserve(frame.length);
      if (off < 0) break;
      ring.bytes.set(frame, off);
      ring.commit();
      this.records.close();
      this.overflow[this.head++] = EMPTY;
      this.overflowBytes -= frame.length;
      if (isPubFrame(ring.bytes, off)) {
        this.overflowCount -= pubCount(ring.view, off);
      } else {
        this.overflowCount--;
        this.overflowControls--;
      }
    }
    this.publishNow();
    if (this.head < this.overflow.length) {
      if (this.head >= 1024 && this.head * 2 >= this.overflow.length) {
        this.overflow.splice(0, this.head);
        if (this.openChunk >= 0) this.openChunk -= this.head;
        this.head = 0;
      }
      this.awaitSpace();
      return;
    }
    this.refusedForBytes = false;
    this.overflow.length = 0;
    this.head = 0;
    const waiters = this.writableWaiters;
    this.writableWaiters = [];
    for (const w of waiters) w.resolve();
  };
}

const EMPTY = new Uint8Array(0);
const CRLF = Uint8Array.of(0x0d, 0x0a);
