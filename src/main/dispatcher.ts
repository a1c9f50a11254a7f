/**
 * Drains the delivery ring on the caller's thread and hands messages to subscribers.
 *
 * It sleeps on the ring with Atomics.waitAsync (keeps nothing alive, never blocks), and
 * drains in slices (≤ {@link SLICE_FRAMES} frames or ~{@link SLICE_MS} ms) before yielding
 * with setImmediate, so a flood cannot starve the application's timers and I/O. A message
 * continued across frames (delivery.ts) is copied part by part from the ring into its own
 * memory, the parts counted as frames of the slices, so a 64 MiB message takes many slices.
 */
import { DeliveryView, readDelivery } from '../shared/frames/delivery.js';
import { MsgAssembly } from '../shared/frames/msg-assembly.js';
import { RECORD_ALIGN, RECORD_LENGTH_BYTES, WRAP_MARKER } from '../shared/layout.js';
import {
  type DecodedHeaders,
  decodedHeaderBytes,
  decodeHeaders,
} from '../shared/protocol/headers.js';
import { decodeString } from '../shared/protocol/utf8.js';
import type { RingConsumer } from '../shared/ring/ring-consumer.js';
import { Message, type Responder } from './message.js';
import type { Subscriber } from './subscriber.js';

const SLICE_FRAMES = 4096;
const SLICE_MS = 1;
/** Frames between clock reads within a run: a slow callback overruns a slice by at most this many. */
const CLOCK_EVERY = 16;
/**
 * How long a timeout waits at most for the frames that were in the ring when its timer ran
 * (afterArrived): a backlog behind slow callbacks must not hold a timeout up for seconds.
 */
const ARRIVED_WAIT_MS = 100;
/**
 * Frames are read from private copies of the ring of at most this many bytes: one copy per
 * run of frames instead of one per payload, and each payload is a view of the copy.
 */
const SPAN_BYTES = 64 * 1024;
/**
 * Runs are copied into slabs of this size. A slab is never written again once full: a message
 * that has not copied its payload out yet (Message.payload) still reads it, and keeps it alive.
 */
const SLAB_BYTES = 256 * 1024;

/** A continued message whose PART frames are being copied in. */
interface Assembly {
  readonly sid: number;
  readonly subject: string | undefined;
  readonly reply: string | undefined;
  readonly parts: MsgAssembly;
}

export interface DispatchTarget {
  subscription(sid: number): Subscriber | undefined;
  flushAcked(id: number): void;
  /** A flush's connection failed before what was published before it was acknowledged. */
  flushLost(id: number): void;
  /** A connection failed with messages it may have lost: so are the flushes after flush `id`. */
  flushesLostAfter(id: number): void;
  /** The server refused subscription `sid`'s SUB line as too long; the worker dropped it. */
  subscriptionRefused(sid: number): void;
  /** The worker dropped a reply to the shared inbox's request `id`. */
  replyDropped(id: number): void;
  /**
   * The worker left out a request unsent (the server cannot take it): the shared inbox's
   * request `id`, or (`sid`) the one whose replies come on that subscription.
   */
  requestRefused(id: number, withHeaders: boolean): void;
  inboxRefused(sid: number, withHeaders: boolean): void;
  /** A user callback threw. */
  deliveryError(error: unknown, sub: Subscriber): void;
  /** What Message.respond publishes with. */
  readonly respond?: Responder;
}

export class Dispatcher {
  private stopped = false;
  /** The current run: a private copy of ring bytes, and a view of it. */
  private span = new Uint8Array(0);
  /** The slab span lies in, and where: a message's payload is `spanSource[spanOffset + p…]`. */
  private spanSource: Buffer<ArrayBuffer> = Buffer.alloc(0);
  private spanOffset = 0;
  private spanView = new DataView(this.span.buffer);
  /** The same bytes as words, for the frames' fields (host byte order). */
  private spanWords = new Int32Array(0);
  /** The frame being dispatched. */
  private readonly frame = new DeliveryView();
  private slab: Buffer<ArrayBuffer> = Buffer.alloc(0);
  /** Starts "full", so the first run allocates the first slab. */
  private slabUsed = SLAB_BYTES;
  /** The ring's bytes as words, for reading PART frames in place. */
  private readonly ringWords: Int32Array;
  private assembly: Assembly | null = null;
  /** Slices that copied parts of the message being assembled, and of the last one completed. */
  private assemblySlices = 0;
  /** @internal For tests (test-hooks.ts): slices the last continued message took. */
  lastAssemblySlices = 0;
  /** A frame was left in the ring for a full iterator's reader: the slice ends there. */
  private givingTurn = false;
  /**
   * {@link afterArrived}'s callbacks, in order, each with the ring position it waits for and
   * the time it waits until at most.
   */
  private fenced: { position: number; until: number; run: () => void }[] = [];

  constructor(
    private readonly ring: RingConsumer,
    private readonly target: DispatchTarget,
  ) {
    this.ringWords = new Int32Array(ring.bytes.buffer, ring.bytes.byteOffset, ring.capacity >> 2);
  }

  start(): void {
    this.drain();
  }

  /** No more dispatching; a pending wait is released by the owner's wakeAll. */
  stop(): void {
    this.stopped = true;
    const fenced = this.fenced;
    this.fenced = [];
    runEach(fenced);
  }

  /**
   * Run `run` once every frame in the ring now has been dispatched (at once when none waits),
   * or {@link ARRIVED_WAIT_MS} from now if that comes first: where a timeout is decided, so
   * that a reply, message or flush acknowledgement that reached the worker before the timer
   * ran, but waited in the ring while this thread was busy, counts as arrived.
   */
  afterArrived(run: () => void): void {
    const position = this.ring.published();
    if (this.stopped || this.ring.consumedTo(position)) run();
    else this.fenced.push({ position, until: performance.now() + ARRIVED_WAIT_MS, run });
  }

  /** The {@link afterArrived} callbacks whose frames have all been dispatched, or whose wait is over. */
  private runArrived(): void {
    const now = performance.now();
    let done = 0;
    for (const f of this.fenced) {
      if (!this.ring.consumedTo(f.position) && f.until > now) break;
      done++;
    }
    if (done > 0) runEach(this.fenced.splice(0, done));
  }

  private readonly drain = (): void => {
    if (this.stopped) return;
    const ring = this.ring;
    const deadline = performance.now() + SLICE_MS;
    let n = 0;
    let off = ring.next();
    if (off >= 0 && this.assembly !== null) this.assemblySlices++;
    this.givingTurn = false;
    while (off >= 0) {
      n += this.assembly === null ? this.dispatchRun(off, deadline) : this.assemble(off);
      off = ring.next();
      if (n >= SLICE_FRAMES || performance.now() >= deadline || this.stopped || this.givingTurn) {
        break;
      }
    }
    if (this.stopped) return;
    if (this.fenced.length > 0) this.runArrived();
    if (off >= 0) {
      setImmediate(this.drain); // more waiting: yield to the event loop first
      return;
    }
    const wait = ring.waitForData();
    if (wait === undefined) {
      setImmediate(this.drain);
    } else {
      wait.then(this.drain);
    }
  };

  /**
   * Copy the published records from the one at ring offset `body` on (up to {@link SPAN_BYTES},
   * at least that record) into the slab, dispatch them from the copy, then hand their space
   * back. Walking the private copy spares a shared-memory read per record. Stops early once
   * the slice's `deadline` has passed (callbacks may be slow); the rest stays in the ring.
   * Returns how many it dispatched.
   */
  private dispatchRun(body: number, deadline: number): number {
    const ring = this.ring;
    const from = body - RECORD_LENGTH_BYTES;
    const first = RECORD_LENGTH_BYTES + ((ring.length + RECORD_ALIGN - 1) & -RECORD_ALIGN);
    const end = Math.min(ring.contiguousEnd(), from + Math.max(SPAN_BYTES, first));
    this.copyRun(from, end);
    const view = this.spanView;
    const limit = end - from;
    let pos = 0;
    let frames = 0;
    while (pos + RECORD_LENGTH_BYTES <= limit) {
      const length = view.getUint32(pos, true);
      if (length === WRAP_MARKER) break; // the ring continues at 0: next() goes there
      const next = pos + RECORD_LENGTH_BYTES + ((length + RECORD_ALIGN - 1) & -RECORD_ALIGN);
      if (next > limit) break; // cut by the run's end: it starts the next run
      // A full iterator whose reader is moving: this frame and the rest wait for a turn.
      if (!this.dispatch(pos + RECORD_LENGTH_BYTES)) {
        this.givingTurn = true;
        break;
      }
      pos = next;
      frames++;
      // A continued message began: its parts are copied from the ring, not from a run.
      if (this.assembly !== null) break;
      if (frames % CLOCK_EVERY === 0 && performance.now() >= deadline) break;
    }
    ring.consume(pos);
    ring.release();
    return frames;
  }

  /**
   * Copy ring bytes [from, to) into the slab (a fresh one when it is full) and make them the
   * current run. set() into unzeroed memory: slice() from shared memory copies ~6x slower,
   * and one slab per many runs spares an allocation per wake-up. The copy starts at the
   * ring offset's remainder mod 8: V8 copies shared memory by 8-byte words only when source
   * and destination agree mod 8, else byte by byte (3-5x slower).
   */
  private copyRun(from: number, to: number): void {
    const n = to - from;
    const skew = from & 7;
    if (skew + n > SLAB_BYTES / 2) {
      this.spanSource = Buffer.allocUnsafeSlow(skew + n);
      this.spanOffset = skew;
    } else {
      if (this.slabUsed + skew + n > SLAB_BYTES || this.slab.byteLength === 0) {
        this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
        this.slabUsed = 0;
      }
      this.spanSource = this.slab;
      this.spanOffset = this.slabUsed + skew;
      this.slabUsed = (this.slabUsed + skew + n + 7) & ~7;
    }
    // allocUnsafeSlow: a buffer of its own, at offset 0 of it.
    this.span = new Uint8Array(this.spanSource.buffer, this.spanOffset, n);
    this.span.set(this.ring.bytes.subarray(from, to));
    this.spanView = new DataView(this.span.buffer, this.span.byteOffset, n);
    this.spanWords = new Int32Array(this.span.buffer, this.span.byteOffset, n >> 2);
  }

  /** A frame that is no MSG: for flushes, a subscription's end or refusal, a request's loss. */
  private control(f: DeliveryView): void {
    switch (f.kind) {
      case 'flushAck':
        this.target.flushAcked(f.id);
        return;
      case 'flushLost':
        this.target.flushLost(f.id);
        return;
      case 'flushesLostAfter':
        this.target.flushesLostAfter(f.id);
        return;
      case 'subEnd':
        this.target.subscription(f.sid)?.end();
        return;
      case 'subRefused':
        this.target.subscriptionRefused(f.sid);
        return;
      case 'replyDropped':
        this.target.replyDropped(f.id);
        return;
      case 'requestRefused':
        this.target.requestRefused(f.id, f.withHeaders);
        return;
      case 'inboxRefused':
        this.target.inboxRefused(f.sid, f.withHeaders);
        return;
      default:
        return; // a PART frame: never without its MSG frame before it (assemble() takes them)
    }
  }

  /** Dispatch the frame at `off` of the run; false when it must wait in the ring (push()). */
  private dispatch(off: number): boolean {
    const f = this.frame;
    // Frames start on words (4-aligned records), and so does the copy.
    readDelivery(this.spanWords, off, f);
    if (f.kind !== 'msg') {
      this.control(f);
      return true;
    }
    const bytes = this.span;
    if (f.continued) {
      // A message for a subscription that has ended is skipped part by part, not assembled.
      const taker = this.target.subscription(f.sid);
      this.assembly = {
        sid: f.sid,
        subject: f.ownSubject ? undefined : decodeString(bytes, f.subjectStart, f.subjectEnd),
        reply:
          f.replyEnd > f.replyStart ? decodeString(bytes, f.replyStart, f.replyEnd) : undefined,
        parts: new MsgAssembly(f, taker !== undefined && !taker.isClosed),
      };
      this.assemblySlices = 1;
      return true;
    }
    const sub = this.target.subscription(f.sid);
    if (sub === undefined || sub.isClosed) return true;
    const subject = f.ownSubject
      ? sub.subject
      : (sub.knownSubjects?.subjectAt(bytes, f.subjectStart, f.subjectEnd) ??
        decodeString(bytes, f.subjectStart, f.subjectEnd));
    const reply =
      f.replyEnd > f.replyStart ? decodeString(bytes, f.replyStart, f.replyEnd) : undefined;
    // Lenient (API.md): lines that do not parse are skipped, never the message.
    const decoded = f.hasHeaders ? decodeHeaders(bytes, f.headerStart, f.headerEnd) : undefined;
    const source = this.spanSource;
    const start = this.spanOffset + f.payloadStart;
    return this.push(
      sub,
      subject,
      reply,
      decoded,
      f.headerEnd - f.headerStart,
      source,
      start,
      f.payloadEnd - f.payloadStart,
      undefined,
      true,
    );
  }

  /**
   * Copy the PART frame at ring offset `body` into the message being assembled, straight from
   * the ring, and deliver the message once it is whole. Returns the frames taken (1), or 0 when
   * the frame is no PART frame (the assembly is dropped; the frame is dispatched as usual).
   */
  private assemble(body: number): number {
    const ring = this.ring;
    const a = this.assembly as Assembly;
    const f = this.frame;
    readDelivery(this.ringWords, body, f);
    this.assembly = null;
    if (f.kind !== 'part') return 0;
    const done = a.parts.add(ring.bytes, f.payloadStart, body + ring.length);
    ring.advance();
    ring.release();
    if (!done) {
      this.assembly = a;
      return 1;
    }
    this.lastAssemblySlices = this.assemblySlices;
    const sub = this.target.subscription(a.sid);
    if (sub === undefined || sub.isClosed) return 1;
    const { headers, payload } = a.parts;
    const decoded = headers.length > 0 ? decodeHeaders(headers, 0, headers.length) : undefined;
    const source = Buffer.from(payload.buffer, payload.byteOffset, payload.length);
    // Its parts are consumed: it cannot wait in the ring (a full iterator drops it).
    this.push(
      sub,
      a.subject ?? sub.subject,
      a.reply,
      decoded,
      headers.length,
      source,
      0,
      payload.length,
      payload,
      false,
    );
    return 1;
  }

  /**
   * Hand a message to `sub`: its payload is `source[start, start + length)`; `owned`: the
   * same bytes in an array of their own, when they have one; `headerBytes`: its header block's
   * (decoded, they hold more: decodedHeaderBytes).
   * False when it waits in the ring (`mayWait`: a full iterator whose reader is moving,
   * Subscriber.push).
   */
  private push(
    sub: Subscriber,
    subject: string,
    reply: string | undefined,
    decoded: DecodedHeaders | undefined,
    headerBytes: number,
    source: Buffer<ArrayBuffer>,
    start: number,
    length: number,
    owned: Uint8Array<ArrayBuffer> | undefined,
    mayWait: boolean,
  ): boolean {
    const msg = new Message(
      subject,
      reply,
      source,
      start,
      length,
      owned,
      decoded?.headers,
      decoded?.status,
      decoded?.description,
      this.target.respond,
    );
    // What a queue holds it by besides the payload: headers, and subjects of its own.
    const headers = decoded === undefined ? 0 : decodedHeaderBytes(headerBytes, decoded.lines);
    const extra = headers + (subject === sub.subject ? 0 : subject.length) + (reply?.length ?? 0);
    try {
      return sub.push(msg, mayWait, extra);
    } catch (error) {
      this.target.deliveryError(error, sub);
      return true;
    }
  }
}

/**
 * Runs each callback. They settle promises and do not throw; one that did must neither keep
 * the others from running nor stop the dispatcher, which schedules its next slice after them.
 */
function runEach(callbacks: readonly { run: () => void }[]): void {
  for (const { run } of callbacks) {
    try {
      run();
    } catch {
      // nothing to hand it to: the decision it made is lost, the rest go on
    }
  }
}
