/**
 * The caller's side of the command ring. Every command (PUB, HPUB, SUB, UNSUB, FLUSH) is
 * written as one frame (layout.ts), in call order, straight into shared memory; publish W
 * is batched (every {@link PUBLISH_EVERY} frames, and in a microtask for the tail of a burst).
 *
 * When the ring is full, frames wait here in order (the overflow), small publishes again
 * gathered into PUB records of up to CMD_PUB_GROW_BYTES (one allocation and one ring record per
 * run, as in the ring: under a publish flood a quarter of all messages pass through here).
 * publish returns `false` once `clientCapacity` messages wait (stream.write convention); a
 * PUB that would take the pending bytes past `maxPendingBytes` throws `'clientCapacity'` and
 * is not queued. Control frames (SUB, UNSUB, FLUSH) are tiny and always queued, so a
 * subscription is never lost.
 */
import { NatsError } from '../shared/errors.js';
import {
  CMD_FLAGS,
  CMD_FLUSH,
  CMD_FLUSH_BYTES,
  CMD_FLUSH_ID,
  CMD_OP,
  CMD_PUB,
  CMD_PUB_COUNT,
  CMD_PUB_ECHO,
  CMD_PUB_GROW_BYTES,
  CMD_PUB_WIRE,
  CMD_SID,
  CMD_SUB,
  CMD_SUB_WIRE,
  CMD_UNSUB,
  CMD_UNSUB_MAX,
  CMD_UNSUB_WIRE,
  CMD_VIEW_BYTES,
} from '../shared/layout.js';
import {
  hpubLength,
  pubLength,
  writeHpub,
  writePub,
  writePubWithLine,
} from '../shared/protocol/encode.js';
import type { RingProducer } from '../shared/ring/byte-ring.js';
import { PubLineCache } from './pub-lines.js';

/**
 * Payloads from this size on are aligned in the ring (see Publisher.alignPad): the copy of
 * 512 B then costs ~20 % less and 16 KiB ~55 % less; at 128 B no gain showed.
 */
const ALIGN_PAYLOAD_MIN = 256;

/**
 * Lines longer than this get no blanks: nats-server checks its max_control_line (4 KiB by
 * default, not in INFO) on a control line that its reads split, and blanks must not push one
 * over it.
 */
const ALIGN_LINE_MAX = 256;

/** Frames committed before W is published (committing per 64 frames doubled ring throughput). */
const PUBLISH_EVERY = 64;

export class Publisher {
  /** Where the message being written goes: the ring's bytes or a frame for the overflow. */
  private frame: Uint8Array;
  /** Body offset of the PUB record later publishes may grow (RingProducer.append), or -1. */
  private openPub = -1;
  /** Messages and wire bytes in that record. */
  private openPubCount = 0;
  private openPubBytes = 0;
  private readonly lines = new PubLineCache();
  /** Largest overflow PUB frame small publishes grow (a ring record must hold it). */
  private readonly chunkMax: number;
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
    this.chunkMax = Math.min(CMD_PUB_WIRE + CMD_PUB_GROW_BYTES - 1, ring.maxBody);
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
    const pad = this.alignPad(wire - size - 2, wire, payload);
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
    const at = this.wireSpace(
      hpubLength(subjectBytes, replyBytes, headerBlock.length, payload.length),
      echo,
    );
    writeHpub(this.frame, at, subject, reply, headerBlock, payload);
    return this.committed(this.frame);
  }

  sub(sid: number, wire: Uint8Array): void {
    const [target, off] = this.reserveControl(CMD_SUB_WIRE + wire.length);
    target[off + CMD_OP] = CMD_SUB;
    new DataView(target.buffer, target.byteOffset).setUint32(off + CMD_SID, sid, true);
    target.set(wire, off + CMD_SUB_WIRE);
    this.controlCommitted(target);
  }

  unsub(sid: number, max: number, wire: Uint8Array): void {
    const [target, off] = this.reserveControl(CMD_UNSUB_WIRE + wire.length);
    const view = new DataView(target.buffer, target.byteOffset);
    target[off + CMD_OP] = CMD_UNSUB;
    view.setUint32(off + CMD_SID, sid, true);
    view.setUint32(off + CMD_UNSUB_MAX, max, true);
    target.set(wire, off + CMD_UNSUB_WIRE);
    this.controlCommitted(target);
  }

  flush(id: number): void {
    const [target, off] = this.reserveControl(CMD_FLUSH_BYTES);
    target[off + CMD_OP] = CMD_FLUSH;
    new DataView(target.buffer, target.byteOffset).setUint32(off + CMD_FLUSH_ID, id, true);
    this.controlCommitted(target);
    this.publishNow(); // a flush is waited on: don't hold it back for batching
  }

  /** Resolves when nothing waits on this thread any more (at once if publish would return true). */
  writable(): Promise<void> {
    if (this.closedError) return Promise.reject(this.closedError);
    if (this.waiting < this.clientCapacity) return Promise.resolve();
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
   * Room for one message's wire bytes (PUB or HPUB): appended to the open PUB record when
   * there is one (the worker then takes many messages in one record), else in a new PUB
   * record, else in a new frame that waits here. Sets {@link frame} to the array the bytes go
   * into and returns their offset in it; throws past maxPendingBytes. `echo`: this client
   * receives the message itself, which flags its record (flow-control.ts gates such records).
   */
  private wireSpace(wireLength: number, echo: boolean): number {
    const ring = this.ring;
    const length = CMD_PUB_WIRE + wireLength;
    if (length > ring.maxBody) {
      throw new NatsError(
        'maxPayloadExceeded',
        `message of ${length} bytes exceeds the command ring's record limit of ${ring.maxBody} bytes`,
      );
    }
    this.frame = ring.bytes;
    if (this.head === this.overflow.length) {
      const appended = this.mayGrowOpenPub(wireLength) ? ring.append(this.openPub, wireLength) : -1;
      if (appended >= 0) {
        ring.view.setUint32(this.openPub + CMD_PUB_COUNT, ++this.openPubCount, true);
        if (echo) ring.bytes[this.openPub + CMD_FLAGS] = CMD_PUB_ECHO;
        this.openPubBytes += wireLength;
        return appended;
      }
      const off = ring.reserve(length);
      if (off >= 0) {
        this.openPub = off;
        this.openPubCount = 1;
        this.openPubBytes = wireLength;
        writePubHeader(ring.bytes, ring.view, off, echo);
        ring.commit(); // committed before its bytes are written: the worker sees neither before publish
        return off + CMD_PUB_WIRE;
      }
    }
    const pending = this.overflowBytes + ring.usedBytes();
    if (pending + length > this.maxPendingBytes) {
      throw new NatsError(
        'clientCapacity',
        `publish of ${length} bytes would take pending bytes past maxPendingBytes (${this.maxPendingBytes}); not sent`,
      );
    }
    return this.queueWire(wireLength, echo);
  }

  /**
   * Extra blanks for a PUB line that put its payload at the payload's own offset mod 8 in the
   * ring: V8 copies into shared memory by 8-byte words only when source and destination agree
   * mod 8, else byte by byte (a 16 KiB copy: 2.5 against 12.5 µs). 0 for small payloads, long
   * lines, messages within 7 bytes of the ring's record limit (blanks must not make one too
   * large), and while messages wait off the ring (a new one waits too, in private memory).
   */
  private alignPad(lineLength: number, wireLength: number, payload: Uint8Array): number {
    if (payload.length < ALIGN_PAYLOAD_MIN || lineLength > ALIGN_LINE_MAX) return 0;
    if (CMD_PUB_WIRE + wireLength + 7 > this.ring.maxBody) return 0;
    const at = this.nextWireOffset(wireLength + 7);
    return at < 0 ? 0 : (payload.byteOffset - at - lineLength) & 7;
  }

  /**
   * Where {@link wireSpace} will put a message of at most `wireLength` bytes, or -1 when it
   * will wait off the ring. A guess, wrong when the ring turns out full or wraps: the message
   * then goes unaligned.
   */
  private nextWireOffset(wireLength: number): number {
    if (this.head !== this.overflow.length) return -1;
    if (this.mayGrowOpenPub(wireLength)) {
      const at = this.ring.appendOffset(this.openPub); // -1 once W has been published
      if (at >= 0) return at;
    }
    return this.ring.nextBody() + CMD_PUB_WIRE;
  }

  /** Whether a message of `wireLength` bytes may join the open PUB record (if the ring lets it). */
  private mayGrowOpenPub(wireLength: number): boolean {
    return this.openPub >= 0 && this.openPubBytes + wireLength < CMD_PUB_GROW_BYTES;
  }

  /** {@link wireSpace} off the ring: grow the open overflow PUB frame, or queue a new one. */
  private queueWire(wireLength: number, echo: boolean): number {
    this.overflowCount++;
    this.overflowBytes += wireLength;
    const grown = this.chunkBytes + wireLength;
    // Only small messages are gathered: a large one goes to the socket as a view anyway, and
    // gathering it would cost copies as the frame grows (pub 16 KiB −20 %).
    const small = wireLength < CMD_VIEW_BYTES;
    if (small && this.openChunk >= 0 && grown <= this.chunkMax) {
      const at = this.chunkBytes;
      this.frame = this.overflow[this.openChunk];
      if (echo) this.frame[CMD_FLAGS] = CMD_PUB_ECHO;
      this.chunkBytes = grown;
      this.chunkCount++;
      return at;
    }
    this.closeChunk();
    const length = CMD_PUB_WIRE + wireLength;
    this.overflowBytes += CMD_PUB_WIRE;
    // Full size at once: growing by doubling cost a copy per message under a flood.
    this.frame = new Uint8Array(small ? this.chunkMax : length);
    writePubHeader(this.frame, new DataView(this.frame.buffer), 0, echo);
    this.overflow.push(this.frame);
    if (small) {
      this.openChunk = this.overflow.length - 1;
      this.chunkBytes = length;
      this.chunkCount = 1;
    }
    return CMD_PUB_WIRE;
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
    new DataView(frame.buffer).setUint32(CMD_PUB_COUNT, this.chunkCount, true);
    this.overflow[at] = frame;
  }

  private reserveControl(length: number): [Uint8Array, number] {
    if (length > this.ring.maxBody) {
      // Checked here, synchronously: queued, it would only fail later inside a microtask.
      throw new NatsError(
        'invalidArgument',
        `a ${length}-byte subscription command exceeds the command ring's record limit of ${this.ring.maxBody} bytes`,
      );
    }
    if (this.head === this.overflow.length) {
      const off = this.ring.reserve(length);
      if (off >= 0) return [this.ring.bytes, off];
    }
    return [new Uint8Array(length), 0];
  }

  /** Finish a SUB, UNSUB or FLUSH frame: commit it in the ring, or queue it. */
  private controlCommitted(target: Uint8Array): void {
    this.openPub = -1; // later messages go after this frame, not into the record before it
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
      this.openPub = -1;
      this.overflow[this.head++] = EMPTY;
      this.overflowBytes -= frame.length;
      if (frame[CMD_OP] === CMD_PUB) {
        this.overflowCount -= ring.view.getUint32(off + CMD_PUB_COUNT, true);
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
    this.overflow.length = 0;
    this.head = 0;
    const waiters = this.writableWaiters;
    this.writableWaiters = [];
    for (const w of waiters) w.resolve();
  };
}

/** Op, flags and message count 1 of a new PUB record. */
function writePubHeader(bytes: Uint8Array, view: DataView, off: number, echo: boolean): void {
  bytes[off + CMD_OP] = CMD_PUB;
  bytes[off + CMD_FLAGS] = echo ? CMD_PUB_ECHO : 0;
  view.setUint32(off + CMD_PUB_COUNT, 1, true);
}

const EMPTY = new Uint8Array(0);
