/**
 * The caller's side of the command ring. Every command (PUB, HPUB, SUB, UNSUB, FLUSH) is
 * written as a frame (shared/frames/command.ts), in call order, straight into shared memory;
 * publish W is batched (every {@link PUBLISH_EVERY} frames, and in a microtask for the tail of
 * a burst).
 *
 * When the ring is full, frames wait on this thread in order (overflow.ts) until it has room.
 * publish returns `false` once `clientCapacity` messages wait (stream.write convention); a
 * PUB that would take the pending bytes past `maxPendingBytes` throws `'clientCapacity'` and
 * is not queued. Control frames (SUB, UNSUB, FLUSH) count towards the pending bytes too, but
 * have {@link CONTROL_ALLOWANCE_BYTES} more: API.md keeps 'clientCapacity' for publishes, so
 * publishes that fill the bound must not fail a flush() or a subscribe(). Past that too, SUB,
 * FLUSH and UNSUB with a count throw `'clientCapacity'` (nothing queued, nothing registered):
 * memory stays bounded. A plain UNSUB always queues: ending a subscription must not fail, and
 * there is at most one per subscription.
 */
import { NatsError } from '../shared/errors.js';
import {
  type ControlCommand,
  commandLength,
  encodeCommand,
  pubFrameLength,
  writePubPartHeader,
} from '../shared/frames/command.js';
import { CONTINUED_WIRE_OVER, PUB_PART_BYTES, WireParts } from '../shared/frames/pub-parts.js';
import { ALIGN_PAYLOAD_MIN, PUB_GROW_BYTES, PubRecords } from '../shared/frames/pub-records.js';
import {
  encodeHpubLine,
  encodePubLine,
  hpubLength,
  pubLength,
  writeHpub,
  writePub,
  writePubWithLine,
  writePubWithLineWords,
} from '../shared/protocol/encode.js';
import type { RingProducer } from '../shared/ring/ring-producer.js';
import { Overflow } from './overflow.js';
import { type PubLine, PubLineCache } from './pub-lines.js';
import { byteOffsetOf, plainView } from './user-bytes.js';

/** Bytes of control frames that may wait past maxPendingBytes (~2,000 SUBs, ~8,000 FLUSHes). */
const CONTROL_ALLOWANCE_BYTES = 64 * 1024;

/** Frames committed before W is published (committing per 64 frames doubled ring throughput). */
const PUBLISH_EVERY = 64;
/**
 * Requests (PUBs with a reply subject) committed before W is published; else at the microtask
 * tail. A request's reply comes back in the socket read its request's batch brings, so requests
 * made from replies keep the batch sizes they were sent in: 100 requests in flight split at 64
 * stayed split through the server and the responder (64 + 36 per write, 1.3× the server's CPU).
 */
const REQUESTS_PER_PUBLISH = 1024;

export class Publisher {
  /** Where the message being written goes: the ring's bytes or a frame for the overflow. */
  private frame: Uint8Array;
  private readonly records: PubRecords;
  private readonly lines = new PubLineCache();
  /** Wire bytes from which a message is continued across records (pub-parts.ts). */
  private readonly continuedOver: number;
  private readonly overflow: Overflow;
  private waitingForSpace = false;
  /** A publish was refused for bytes while frames waited here: writable() waits them out. */
  private refusedForBytes = false;
  /**
   * maxPendingBytes is below what the ring alone holds: a publish into the ring is checked
   * against it too (with the default 64 MiB over a 4 MiB ring, only what waits here can pass it).
   */
  private readonly ringOverBound: boolean;
  private unpublished = 0;
  /** Requests among the frames not published yet: they wait for a larger batch. */
  private unpublishedRequests = 0;
  private publishQueued = false;
  private writableWaiters: { resolve(): void; reject(error: NatsError): void }[] = [];
  /**
   * What writable() calls share while messages wait here: they all settle at once, and a call
   * made without being awaited must not hold memory of its own (a million held 418 MB).
   */
  private writableWait: Promise<void> | undefined;
  private closedError: NatsError | null = null;

  constructor(
    private readonly ring: RingProducer,
    private readonly clientCapacity: number,
    private readonly maxPendingBytes: number,
  ) {
    this.frame = ring.bytes;
    this.ringOverBound = maxPendingBytes < ring.capacity;
    this.records = new PubRecords(ring);
    this.overflow = new Overflow(Math.min(pubFrameLength(PUB_GROW_BYTES - 1), ring.maxBody));
    this.continuedOver = Math.min(CONTINUED_WIRE_OVER, this.records.maxWire);
  }

  /** Messages (and control frames) waiting on this thread because the ring was full. */
  get waiting(): number {
    return this.overflow.count;
  }

  /** Messages alone (no control frames) waiting on this thread: what close() may not send. */
  get waitingMessages(): number {
    return this.overflow.count - this.overflow.controls;
  }

  pub(
    subject: string,
    subjectBytes: number,
    reply: string | undefined,
    replyBytes: number,
    payload: Uint8Array,
    echo: boolean,
    /** The payload's real length (user-bytes.ts): a caller's own `length` may lie. */
    size = payload.length,
  ): boolean {
    const wire = pubLength(subjectBytes, replyBytes, size);
    if (wire > this.continuedOver) {
      const line = encodePubLine(subject, reply, size);
      return this.continued([line, plainView(payload, size), CRLF], echo);
    }
    // Small payloads are not aligned (the test here saves a call). While messages wait off the
    // ring a new one waits too, in private memory: no alignment.
    const waiting = this.overflow.active;
    const pad =
      size < ALIGN_PAYLOAD_MIN || waiting
        ? 0
        : this.records.alignPad(wire - size - 2, wire, byteOffsetOf(payload));
    const line = this.lines.get(subject, reply, size, pad);
    if (this.ringOverBound && !waiting) this.assertRingRoom(pubFrameLength(wire + pad));
    const at = waiting ? -1 : this.records.reserve(wire + pad, echo);
    if (at < 0) {
      return this.pubWaiting(subject, reply, payload, size, line, wire + pad, pad, echo);
    }
    const frame = this.ring.bytes;
    if (line === undefined) writePub(frame, at, subject, reply, payload, pad, size);
    else if (line.words !== null) {
      const { view } = this.ring;
      writePubWithLineWords(frame, view, at, line.bytes.length, line.words, payload, size);
    } else writePubWithLine(frame, at, line.bytes, payload, size);
    return this.inRing(reply !== undefined);
  }

  hpub(
    subject: string,
    subjectBytes: number,
    reply: string | undefined,
    replyBytes: number,
    headerBlock: Uint8Array,
    payload: Uint8Array,
    echo: boolean,
    /** As in pub(). */
    size = payload.length,
  ): boolean {
    const wire = hpubLength(subjectBytes, replyBytes, headerBlock.length, size);
    if (wire > this.continuedOver) {
      const line = encodeHpubLine(subject, reply, headerBlock.length, size);
      return this.continued([line, headerBlock, plainView(payload, size), CRLF], echo);
    }
    const at = this.wireSpace(wire, echo);
    writeHpub(this.frame, at, subject, reply, headerBlock, payload, size);
    return this.committed(this.frame, reply !== undefined);
  }

  /** SUB, UNSUB or FLUSH, in order with the publishes around it. */
  control(cmd: ControlCommand): Uint8Array | undefined {
    const bounded = cmd.kind !== 'unsub' || cmd.max !== 0;
    const [target, off] = this.reserveControl(commandLength(cmd), bounded);
    encodeCommand(cmd, target, off);
    const queued = this.controlCommitted(target, cmd.kind === 'sub');
    // A flush is waited on: don't hold it back for batching.
    if (cmd.kind === 'flush') this.publishNow();
    return queued;
  }

  /**
   * Takes back a SUB frame {@link control} returned, if it still waits on this thread (the
   * subscription ends before the worker heard of it: it owes the server nothing).
   */
  withdraw(frame: Uint8Array): boolean {
    if (!this.overflow.withdraw(frame)) return false;
    if (!this.overflow.active) this.writableAgain();
    return true;
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
    if (!this.overflow.active) {
      // Refused while only the ring held bytes: wait for the worker to take some.
      this.refusedForBytes = false;
      this.records.close();
      return this.ring.waitForSpace() ?? Promise.resolve();
    }
    this.writableWait ??= new Promise((resolve, reject) =>
      this.writableWaiters.push({ resolve, reject }),
    );
    return this.writableWait;
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
    this.unpublishedRequests = 0;
    this.records.close();
    this.ring.publish();
  }

  /** Frames still waiting are not sent; waiters on writable() fail with `error`. */
  close(error: NatsError): void {
    this.closedError = error;
    this.overflow.clear();
    this.writableWait = undefined;
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
    if (parts.frameBytes > this.maxPendingBytes) {
      // Never sendable at this setting (a server max_payload above it): say what to change.
      throw new NatsError(
        'clientCapacity',
        `publish of ${parts.frameBytes} bytes is larger than maxPendingBytes (${this.maxPendingBytes}): raise maxPendingBytes to send it; not sent`,
      );
    }
    this.assertPublishRoom(parts.frameBytes);
    this.records.close(); // parts are records of their own: nothing may grow into them
    let queued = false;
    while (parts.remaining > 0) {
      const length = pubFrameLength(parts.nextLength);
      const last = parts.remaining === parts.nextLength;
      let [target, view] = [ring.bytes, ring.view];
      let off = this.overflow.active ? -1 : ring.reserve(length);
      if (off < 0) {
        target = new Uint8Array(length);
        view = new DataView(target.buffer);
        off = 0;
        // The last part, which counts the message, waits here.
        this.overflow.push(target, last ? 'message' : 'uncounted');
        queued = true;
      }
      parts.copyNext(target, writePubPartHeader(target, view, off, echo, last));
      if (target === ring.bytes) {
        ring.commit();
        this.committed(target);
      }
    }
    return queued ? this.queued() : true;
  }

  /**
   * Room for one message's wire bytes (PUB or HPUB): in the open PUB record when it has room
   * (the worker then takes many messages in one record), else in a new PUB record, else in a
   * new frame that waits here. Sets {@link frame} to the array the bytes go into and returns
   * their offset in it; throws past maxPendingBytes. `echo`: this client
   * receives the message itself, which flags its record (flow-control.ts gates such records).
   */
  private wireSpace(wireLength: number, echo: boolean): number {
    this.frame = this.ring.bytes;
    if (this.ringOverBound && !this.overflow.active)
      this.assertRingRoom(pubFrameLength(wireLength));
    const at = this.overflow.active ? -1 : this.records.reserve(wireLength, echo);
    return at >= 0 ? at : this.waitingSpace(wireLength, echo);
  }

  /** {@link wireSpace} off the ring: the ring is full, or frames wait here already. */
  private waitingSpace(wireLength: number, echo: boolean): number {
    this.assertPublishRoom(pubFrameLength(wireLength));
    const at = this.overflow.queueWire(wireLength, echo);
    this.frame = this.overflow.target;
    return at;
  }

  /**
   * A PUB that waits here (see {@link waitingSpace}). Its own method, reached from pub() by one
   * call: the first full ring of a burst comes after V8 optimized pub(), and each path first
   * taken there throws that code away (and its callers'); one call site costs one such round.
   */
  private pubWaiting(
    subject: string,
    reply: string | undefined,
    payload: Uint8Array,
    size: number,
    line: PubLine | undefined,
    wireLength: number,
    pad: number,
    echo: boolean,
  ): boolean {
    const at = this.waitingSpace(wireLength, echo);
    if (line === undefined) writePub(this.frame, at, subject, reply, payload, pad, size);
    else writePubWithLine(this.frame, at, line.bytes, payload, size);
    return this.queued();
  }

  /** Bytes written and not yet taken by the worker: in the ring, and waiting here. */
  private pendingBytes(): number {
    this.records.close(); // its bytes count once committed
    return this.overflow.bytes + this.ring.usedBytes();
  }

  /** Throws `'clientCapacity'` (and remembers it) when a publish of `length` bytes must wait. */
  private assertPublishRoom(length: number, pending = this.pendingBytes()): void {
    if (pending + length > this.maxPendingBytes) {
      this.refusedForBytes = true;
      throw new NatsError(
        'clientCapacity',
        `publish of ${length} bytes would take pending bytes past maxPendingBytes (${this.maxPendingBytes}); not sent`,
      );
    }
  }

  /**
   * {@link assertPublishRoom} for a publish into the ring ({@link ringOverBound}): the open PUB
   * record's bytes are counted as they stand, not committed, so its batching goes on.
   */
  private assertRingRoom(length: number): void {
    this.assertPublishRoom(
      length,
      this.overflow.bytes + this.ring.usedBytes() + this.records.openBytes,
    );
  }

  /**
   * Throws `'clientCapacity'` when control frames of `length` bytes in all might be refused
   * (past maxPendingBytes and the control allowance): checked before frames that must go together.
   */
  assertControlRoom(length: number): void {
    if (!this.controlFits(length)) {
      throw new NatsError(
        'clientCapacity',
        `${length} bytes of subscription commands would take pending bytes past maxPendingBytes (${this.maxPendingBytes}) and the ${CONTROL_ALLOWANCE_BYTES} bytes control commands may add; not sent`,
      );
    }
  }

  private controlFits(length: number): boolean {
    return this.pendingBytes() + length <= this.maxPendingBytes + CONTROL_ALLOWANCE_BYTES;
  }

  private reserveControl(length: number, bounded: boolean): [Uint8Array, number] {
    if (length > this.ring.maxBody) {
      // Checked here, synchronously: queued, it would only fail later inside a microtask.
      throw new NatsError(
        'invalidArgument',
        `a ${length}-byte subscription command exceeds the command ring's record limit of ${this.ring.maxBody} bytes`,
      );
    }
    this.records.close(); // later messages go after this frame, not into the record before it
    if (!this.overflow.active) {
      const off = this.ring.reserve(length);
      if (off >= 0) return [this.ring.bytes, off];
    }
    if (bounded && !this.controlFits(length)) {
      throw new NatsError(
        'clientCapacity',
        `a ${length}-byte subscription or flush command would take pending bytes past maxPendingBytes (${this.maxPendingBytes}) and the ${CONTROL_ALLOWANCE_BYTES} bytes control commands may add; not sent`,
      );
    }
    return [new Uint8Array(length), 0];
  }

  /**
   * Finish a SUB, UNSUB or FLUSH frame: commit it in the ring, or queue it (and return it, if
   * `withdrawable`, for {@link withdraw}).
   */
  private controlCommitted(target: Uint8Array, withdrawable: boolean): Uint8Array | undefined {
    const queued = target !== this.ring.bytes;
    if (queued) {
      this.overflow.push(target, 'control', withdrawable);
    } else {
      this.ring.commit();
    }
    this.committed(target);
    return queued && withdrawable ? target : undefined;
  }

  /**
   * A frame is complete: count it towards the next publish of W when it is in the ring
   * (committed already, or in the open PUB record that publishNow commits), or queue it when
   * it was built off-ring.
   */
  private committed(target: Uint8Array, request = false): boolean {
    return target === this.ring.bytes ? this.inRing(request) : this.queued();
  }

  /** A frame in the ring ({@link committed}): W is published per batch, or at the microtask tail. */
  private inRing(request: boolean): boolean {
    if (
      request
        ? ++this.unpublishedRequests >= REQUESTS_PER_PUBLISH
        : ++this.unpublished >= PUBLISH_EVERY
    ) {
      this.publishNow();
    } else if (!this.publishQueued) {
      this.publishQueued = true;
      queueMicrotask(this.publishTail);
    }
    return true;
  }

  private readonly publishTail = (): void => {
    this.publishQueued = false;
    if (this.unpublished > 0 || this.unpublishedRequests > 0) this.publishNow();
  };

  /** A frame went to (or grew in) the overflow: have it moved once the ring has room. */
  private queued(): boolean {
    this.awaitSpace();
    return this.overflow.count < this.clientCapacity;
  }

  private awaitSpace(): void {
    if (this.waitingForSpace || this.closedError) return;
    this.records.close();
    const wait = this.ring.waitForSpace(); // publishes what is committed: the worker can only free what it sees
    this.unpublished = 0;
    this.unpublishedRequests = 0;
    this.waitingForSpace = true;
    if (wait === undefined) queueMicrotask(this.spaceFreed);
    else wait.then(this.spaceFreed);
  }

  private readonly spaceFreed = (): void => {
    this.waitingForSpace = false;
    if (this.closedError) return;
    this.records.close(); // what moves goes after it
    const empty = this.overflow.moveTo(this.ring);
    this.publishNow();
    if (!empty) {
      this.awaitSpace();
      return;
    }
    this.writableAgain();
  };

  /** Nothing waits on this thread any more: writable() calls resolve. */
  private writableAgain(): void {
    this.refusedForBytes = false;
    this.writableWait = undefined;
    const waiters = this.writableWaiters;
    this.writableWaiters = [];
    for (const w of waiters) w.resolve();
  }
}

const CRLF = Uint8Array.of(0x0d, 0x0a);
