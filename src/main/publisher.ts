/**
 * The caller's side of the command ring. Every command (PUB, HPUB, SUB, UNSUB, FLUSH) is
 * written as one frame (layout.ts), in call order, straight into shared memory; publish W
 * is batched (every {@link PUBLISH_EVERY} frames, and in a microtask for the tail of a burst).
 *
 * When the ring is full, frames wait here in order (the overflow). publish returns `false`
 * once `clientCapacity` frames wait (stream.write convention); a PUB that would take the
 * pending bytes past `maxPendingBytes` throws `'clientCapacity'` and is not queued. Control
 * frames (SUB, UNSUB, FLUSH) are tiny and always queued, so a subscription is never lost.
 */
import { NatsError } from '../shared/errors.js';
import {
  CMD_FLUSH,
  CMD_FLUSH_BYTES,
  CMD_FLUSH_ID,
  CMD_HEADER_BYTES,
  CMD_HPUB,
  CMD_OP,
  CMD_PUB,
  CMD_SID,
  CMD_SUB,
  CMD_SUB_WIRE,
  CMD_UNSUB,
  CMD_UNSUB_MAX,
  CMD_UNSUB_WIRE,
} from '../shared/layout.js';
import { hpubLength, pubLength, writeHpub, writePub } from '../shared/protocol/encode.js';
import type { RingProducer } from '../shared/ring/byte-ring.js';

/** Frames committed before W is published (committing per 64 frames doubled ring throughput). */
const PUBLISH_EVERY = 64;

export class Publisher {
  private readonly overflow: Uint8Array[] = [];
  private head = 0;
  private overflowBytes = 0;
  private waitingForSpace = false;
  private unpublished = 0;
  private publishQueued = false;
  private writableWaiters: { resolve(): void; reject(error: NatsError): void }[] = [];
  private closedError: NatsError | null = null;

  constructor(
    private readonly ring: RingProducer,
    private readonly clientCapacity: number,
    private readonly maxPendingBytes: number,
  ) {}

  /** Frames waiting on this thread because the ring was full. */
  get waiting(): number {
    return this.overflow.length - this.head;
  }

  pub(
    subject: string,
    subjectBytes: number,
    reply: string | undefined,
    replyBytes: number,
    payload: Uint8Array,
  ): boolean {
    const length = CMD_HEADER_BYTES + pubLength(subjectBytes, replyBytes, payload.length);
    let off = this.reservePub(length);
    let target = this.ring.bytes;
    if (off < 0) {
      target = new Uint8Array(length);
      off = 0;
    }
    target[off + CMD_OP] = CMD_PUB;
    writePub(target, off + CMD_HEADER_BYTES, subject, reply, payload);
    return this.committed(target);
  }

  hpub(
    subject: string,
    subjectBytes: number,
    reply: string | undefined,
    replyBytes: number,
    headerBlock: Uint8Array,
    payload: Uint8Array,
  ): boolean {
    const length =
      CMD_HEADER_BYTES + hpubLength(subjectBytes, replyBytes, headerBlock.length, payload.length);
    let off = this.reservePub(length);
    let target = this.ring.bytes;
    if (off < 0) {
      target = new Uint8Array(length);
      off = 0;
    }
    target[off + CMD_OP] = CMD_HPUB;
    writeHpub(target, off + CMD_HEADER_BYTES, subject, reply, headerBlock, payload);
    return this.committed(target);
  }

  sub(sid: number, wire: Uint8Array): void {
    const [target, off] = this.reserveControl(CMD_SUB_WIRE + wire.length);
    target[off + CMD_OP] = CMD_SUB;
    new DataView(target.buffer, target.byteOffset).setUint32(off + CMD_SID, sid, true);
    target.set(wire, off + CMD_SUB_WIRE);
    this.committed(target);
  }

  unsub(sid: number, max: number, wire: Uint8Array): void {
    const [target, off] = this.reserveControl(CMD_UNSUB_WIRE + wire.length);
    const view = new DataView(target.buffer, target.byteOffset);
    target[off + CMD_OP] = CMD_UNSUB;
    view.setUint32(off + CMD_SID, sid, true);
    view.setUint32(off + CMD_UNSUB_MAX, max, true);
    target.set(wire, off + CMD_UNSUB_WIRE);
    this.committed(target);
  }

  flush(id: number): void {
    const [target, off] = this.reserveControl(CMD_FLUSH_BYTES);
    target[off + CMD_OP] = CMD_FLUSH;
    new DataView(target.buffer, target.byteOffset).setUint32(off + CMD_FLUSH_ID, id, true);
    this.committed(target);
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
    const waiters = this.writableWaiters;
    this.writableWaiters = [];
    for (const w of waiters) w.reject(error);
  }

  // ---- internals ------------------------------------------------------------------------

  /** Ring offset for a PUB frame, or -1 to queue it here; throws past maxPendingBytes. */
  private reservePub(length: number): number {
    if (length > this.ring.maxBody) {
      throw new NatsError(
        'maxPayloadExceeded',
        `message of ${length} bytes exceeds the command ring's record limit of ${this.ring.maxBody} bytes`,
      );
    }
    if (this.head === this.overflow.length) {
      const off = this.ring.reserve(length);
      if (off >= 0) return off;
    }
    const pending = this.overflowBytes + this.ring.usedBytes();
    if (pending + length > this.maxPendingBytes) {
      throw new NatsError(
        'clientCapacity',
        `publish of ${length} bytes would take pending bytes past maxPendingBytes (${this.maxPendingBytes}); not sent`,
      );
    }
    return -1;
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

  /** Finish a frame: commit it in the ring, or queue it when it was built off-ring. */
  private committed(target: Uint8Array): boolean {
    if (target !== this.ring.bytes) return this.enqueue(target);
    this.ring.commit();
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

  private enqueue(frame: Uint8Array): boolean {
    this.overflow.push(frame);
    this.overflowBytes += frame.length;
    this.awaitSpace();
    return this.waiting < this.clientCapacity;
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
      const frame = this.overflow[this.head];
      const off = ring.reserve(frame.length);
      if (off < 0) break;
      ring.bytes.set(frame, off);
      ring.commit();
      this.overflow[this.head++] = EMPTY;
      this.overflowBytes -= frame.length;
    }
    this.publishNow();
    if (this.head < this.overflow.length) {
      if (this.head >= 1024 && this.head * 2 >= this.overflow.length) {
        this.overflow.splice(0, this.head);
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

const EMPTY = new Uint8Array(0);
