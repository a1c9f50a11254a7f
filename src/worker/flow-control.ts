/**
 * Flow control: the one policy for how fast commands leave and deliveries come in, with its
 * constants beside it.
 *
 * Out (command ring → socket)
 * - A plain publish goes at socket speed. Only the socket stops it (`write()` false, until
 *   'drain'); the records then stay in the command ring, and that back-pressure reaches the
 *   publishers on the main thread (overflow, `clientCapacity`, `maxPendingBytes`).
 * - An echo publish (a PUB record the main thread flagged because one of this client's own
 *   subscriptions matches its subject and echo is on) comes back to this client. Left alone, a
 *   self-publishing client fills the socket buffers both ways and the server's queue towards
 *   it, and all of that lands in its delivery backlog when its main thread stalls for a moment.
 *   So echo records also need room in two gates, and the pump stops before one that finds none:
 *   1. the send window ({@link SendWindow}): at most {@link ECHO_WINDOW_BYTES} of echo records
 *      written and not yet acknowledged by a PONG (a PING follows every
 *      {@link PING_EVERY_BYTES} written, of any kind);
 *   2. the delivery credit ({@link DeliveryCredit}): while deliveries back up, echo records go
 *      only as fast as the main thread reads deliveries.
 *   Publishes a client does not receive never wait for its deliveries: gating them would slow
 *   a publisher to its subscriptions' pace and protect nothing.
 *
 * In (socket → delivery ring) ({@link ReceivePolicy})
 * - Deliveries that do not fit in the ring wait in the worker's backlog. A consumer slower than
 *   a burst but making progress loses nothing: past {@link BACKLOG_PAUSE_BYTES} the worker stops
 *   reading the socket (the server buffers, as for any client that reads on demand) and reads
 *   again below {@link BACKLOG_RESUME_BYTES}. Keep-alive knows: the session does not count
 *   unanswered PINGs while a PONG may sit behind what was not read or delivered yet.
 * - A main thread that takes nothing for {@link STALL_MS} while deliveries wait is stalled (a
 *   blocked thread, a callback that never returns). The worker then reads again, so PING/PONG
 *   and INFO keep flowing, and a subscription with `subscriptionCapacity` messages waiting
 *   (ring and backlog together) drops past that, one slowConsumer event per stall; so does
 *   every subscription once the backlog holds {@link BACKLOG_PAUSE_BYTES}. The shared request
 *   inbox has no count bound: its replies are as many as the requests waiting for them. One it
 *   drops past the byte bound is named to the main thread in a small control frame, so that its
 *   request fails at once instead of waiting for its timeout (forever without one): at most
 *   {@link MAX_DROP_NOTICES} wait at a time. One stuck thread cannot stall the connection, and
 *   memory stays bounded in bytes.
 */
import type { RingProducer } from '../shared/ring/ring-producer.js';

// ---- out ------------------------------------------------------------------------------

/** Echo bytes written without an acknowledging PONG, at most. */
export const ECHO_WINDOW_BYTES = 8 * 1024 * 1024;
/**
 * A PING follows every this many bytes written; its PONG acknowledges them (the server answers
 * in order, after everything it read before the PING and sent us because of it): the echo
 * bytes among them for the send window, and the messages among them for 'notSent' (an
 * abandoned socket counts what was written after the last PONG, unflushed.ts).
 */
export const PING_EVERY_BYTES = 1024 * 1024;
/**
 * Messages no PING follows yet get one this long after their batch (one at a time, so at most
 * one per this long): a failure after a pause in publishing then counts none of what the
 * server read as 'notSent' (its PONG came), where PING_EVERY_BYTES alone left the last
 * megabyte unproven until the next heartbeat, a minute later by default.
 */
export const PING_AFTER_QUIET_MS = 20;
/**
 * Deliveries are behind once 1/BEHIND_SHARE of the ring is unread (64 KiB of 4 MiB), and the
 * credit is at most that much at a time. Early on purpose: what a self-publishing client has
 * sent keeps echoing back and must fit in the ring and the backlog. Measured with 2 M
 * self-echoed 128 B messages (pubsub.test.ts "flooding"): at half the ring subscriptionCapacity
 * overran in 2 of 6 runs, at 1/16 in 1 of 17, at 1/64 with a capped credit in none of 6.
 */
const BEHIND_SHARE = 64;

// ---- in -------------------------------------------------------------------------------

/**
 * Backlog bytes past which the worker stops reading the socket. With the 4 MiB ring, 20 MiB of
 * deliveries wait in this worker at most; the rest of a burst waits in the server (64 MiB
 * `max_pending` per client by default) and in the socket buffers.
 */
export const BACKLOG_PAUSE_BYTES = 16 * 1024 * 1024;
/**
 * Notices of dropped replies that may wait in the backlog (12-byte records: 1.5 MiB), counted
 * until it empties: as many as requests may wait at default options (main/call-bound.ts), so
 * that each of them can be named; past that a dropped reply's request waits for its timeout.
 */
export const MAX_DROP_NOTICES = 131_072;
/** Backlog bytes below which a paused worker reads again. */
export const BACKLOG_RESUME_BYTES = BACKLOG_PAUSE_BYTES / 2;
/**
 * A main thread that takes no delivery for this long while some wait is stalled. Longer than a
 * garbage collection or a burst of application work, so a consumer that is only slow never
 * drops; far shorter than the server's write deadline (10 s by default), past which it would
 * cut a client that does not read.
 */
export const STALL_MS = 500;

/** Why a PING was written; the matching PONG (they come back in order) settles it. */
export type PingPurpose =
  | { kind: 'heartbeat' }
  | { kind: 'flush'; id: number }
  | { kind: 'unsubFence'; sid: number }
  | { kind: 'window'; sent: number }
  /** After a replay that follows a control line the server refused (connection.ts). */
  | { kind: 'replayFence' };

/**
 * The send window over echo records, and the PINGs that acknowledge what was written, per
 * connection (a new socket starts with a full window).
 */
export class SendWindow {
  /** Bytes written, and that count at the last PING. */
  private bytes = 0;
  private pingedAtBytes = 0;
  /** Echo bytes written, and that count at the last PONG. */
  private sent = 0;
  private ackedAt = 0;

  /** `bytes` were written, all kinds together. */
  wrote(bytes: number): void {
    this.bytes += bytes;
  }

  /** `bytes` of echo records were written (counted by {@link wrote} too). */
  echoWritten(bytes: number): void {
    this.sent += bytes;
  }

  /** A PING is due: the purpose to write it with (the caller writes PING). */
  duePing(): PingPurpose | undefined {
    return this.bytes - this.pingedAtBytes < PING_EVERY_BYTES ? undefined : this.ping();
  }

  /** A PING goes now, due or not (PING_AFTER_QUIET_MS): the purpose to write it with. */
  ping(): PingPurpose {
    this.pingedAtBytes = this.bytes;
    return { kind: 'window', sent: this.sent };
  }

  /** The PONG of a window PING: every echo byte written before it is acknowledged. */
  acknowledged(sent: number): void {
    this.ackedAt = sent;
  }

  /**
   * Echo bytes that may still be written before the next acknowledgement; ≤ 0: wait for a
   * PONG. One is always on its way then, as long as the writer asks {@link duePing} after every
   * batch (a batch is far smaller than the window, and echo bytes are bytes written).
   */
  room(): number {
    return ECHO_WINDOW_BYTES - (this.sent - this.ackedAt);
  }
}

/**
 * The delivery credit: while the main thread is behind with deliveries, echo records go out
 * only as fast as it reads them. A flood of a client's own echoes then goes at the pace its
 * main thread takes them, instead of adding to a queue that would end in dropped messages.
 */
export class DeliveryCredit {
  /** The ring's R at the last {@link take}. */
  private mark = 0;
  private waiter: (() => void) | null = null;
  private closed = false;

  constructor(
    private readonly ring: RingProducer,
    /** Deliveries wait in the worker's backlog. */
    private readonly backlogged: () => boolean,
  ) {}

  /** Deliveries wait in the backlog, or more than 1/{@link BEHIND_SHARE} of the ring is unread. */
  get behind(): boolean {
    return this.backlogged() || this.ring.usedBytes() * BEHIND_SHARE > this.ring.capacity;
  }

  /**
   * Bytes of deliveries the main thread has taken since the last call, capped: what it took
   * while echo records flowed freely is no credit for now.
   */
  take(): number {
    const released = this.ring.releasedCounter();
    const credit = (released - this.mark) >>> 0;
    this.mark = released;
    return Math.min(credit, this.ring.capacity / BEHIND_SHARE);
  }

  /** Echo bytes that may go now: unbounded while deliveries keep up, else the credit. */
  budget(): number {
    const credit = this.take(); // taken first: what the main thread read meanwhile counts
    return this.behind ? credit : Number.POSITIVE_INFINITY;
  }

  /**
   * Call `then` once, after the main thread next takes deliveries out of the ring. Calls made
   * before that are one wait (the worker asks on every socket chunk while it is gated).
   */
  await(then: () => void): void {
    if (this.waiter !== null || this.closed) return;
    this.waiter = then;
    const wait = this.ring.waitForSpace(); // shares the one wait on R with the backlog's
    if (wait === undefined) queueMicrotask(this.relieved);
    else wait.then(this.relieved);
  }

  close(): void {
    this.closed = true;
  }

  private readonly relieved = (): void => {
    const then = this.waiter;
    this.waiter = null;
    then?.();
  };
}

/** A subscription as the receive policy counts it during a stall. */
export interface Counted {
  /** Messages waiting for it (ring and backlog); counted only while the main thread is stalled. */
  waiting: number;
  /** A slowConsumer event was sent in this stall. */
  slow: boolean;
  /** Not bounded by count, only by the backlog's bytes (the shared request inbox). */
  readonly replies: boolean;
}

/** What the receive policy needs of its owner. */
interface ReceiveControl {
  /** Stop or restart reading the socket. */
  pauseReading(): void;
  resumeReading(): void;
  /**
   * A PONG may sit unread behind deliveries (reading is paused, or the backlog holds what was
   * read), or no longer: keep-alive counts no unanswered PING while it is held.
   */
  holdKeepAlive(held: boolean): void;
  /**
   * The main thread stalled: reset `waiting` and `slow` of every subscription, then count in
   * `waiting` the frames that wait for it (ring and backlog).
   */
  countWaiting(): void;
}

/** Stall detection, the backlog's byte bound, and the drop decision (see the file's top). */
export class ReceivePolicy {
  /** The main thread is stalled: subscriptions past their capacity drop. */
  stalled = false;
  private paused = false;
  private holding = false;
  /** Notices of dropped replies in the backlog, or fewer ({@link noticeDrop}). */
  private notices = 0;
  private lastReleased: number;
  private progressAt: number;
  private stallTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ring: RingProducer,
    /** The worker's backlog (backlog.ts): its byte count is the one this policy bounds. */
    private readonly backlog: { readonly bytes: number },
    private readonly capacity: number,
    private readonly control: ReceiveControl,
    private readonly now: () => number = performance.now.bind(performance),
  ) {
    this.lastReleased = ring.releasedCounter();
    this.progressAt = now();
  }

  /**
   * Before a socket chunk's first message: did the main thread take anything since the last
   * look (or has it nothing to take)? Then it makes progress; after {@link STALL_MS} without,
   * it is stalled.
   */
  observe(): void {
    const released = this.ring.releasedCounter();
    if (released !== this.lastReleased || this.nothingWaits()) {
      this.lastReleased = released;
      this.progressAt = this.now();
      if (this.stalled) this.endStall();
    } else if (!this.stalled && this.now() - this.progressAt >= STALL_MS) {
      this.beginStall();
    }
  }

  /**
   * Whether a message for `sub` may be framed; false: drop it (the caller counts the drop and
   * reports `slowConsumer` when this returns false with `sub.slow` newly set).
   */
  admit(sub: Counted): boolean {
    if (!this.stalled) return true;
    if (this.backlog.bytes >= BACKLOG_PAUSE_BYTES) return false;
    if (sub.waiting >= this.capacity && !sub.replies) return false;
    sub.waiting++;
    return true;
  }

  /**
   * Whether a dropped reply may be named to the main thread ({@link MAX_DROP_NOTICES}); true
   * counts the notice.
   */
  noticeDrop(): boolean {
    if (this.notices >= MAX_DROP_NOTICES) return false;
    this.notices++;
    return true;
  }

  /** More frames wait in the backlog. */
  queued(): void {
    if (!this.stalled && !this.paused && this.backlog.bytes >= BACKLOG_PAUSE_BYTES) this.pause();
    this.holdKeepAlive();
  }

  /** Frames left the backlog for the ring. */
  moved(): void {
    if (this.backlog.bytes === 0) this.notices = 0;
    if (this.paused && this.backlog.bytes < BACKLOG_RESUME_BYTES) this.resume();
    this.holdKeepAlive();
  }

  /** Reading is paused by this policy (the connection applies it to a new socket too). */
  get readingPaused(): boolean {
    return this.paused;
  }

  /** Keep-alive is held by this policy (the connection applies it to a new socket too). */
  get keepAliveHeld(): boolean {
    return this.holding;
  }

  close(): void {
    clearTimeout(this.stallTimer);
    this.paused = false;
  }

  /**
   * Keep-alive is held while what the server sent waits to be read or delivered: a PONG is
   * behind it (the server answers in order, and may have megabytes queued for us). A stalled
   * main thread releases it, as the socket is then read at full speed; a dead server sends
   * nothing, so the backlog empties and counting resumes.
   */
  private holdKeepAlive(): void {
    const held = this.paused || (this.backlog.bytes > 0 && !this.stalled);
    if (held === this.holding) return;
    this.holding = held;
    this.control.holdKeepAlive(held);
  }

  private nothingWaits(): boolean {
    return this.backlog.bytes === 0 && this.ring.usedBytes() === 0;
  }

  private pause(): void {
    this.paused = true;
    this.control.pauseReading();
    this.holdKeepAlive();
    this.armStallCheck();
  }

  private resume(): void {
    this.paused = false;
    clearTimeout(this.stallTimer);
    this.control.resumeReading();
    this.holdKeepAlive();
  }

  /** While paused no chunk comes to call {@link observe}: a timer looks instead. */
  private armStallCheck(): void {
    clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => {
      if (!this.paused) return;
      this.observe();
      if (this.stalled) this.resume();
      else this.armStallCheck();
    }, STALL_MS);
    this.stallTimer.unref(); // the socket keeps the worker alive, not this check
  }

  private beginStall(): void {
    this.stalled = true;
    // Counted afresh per stall: a later stall is a new episode with its own slowConsumer event.
    this.control.countWaiting();
    this.holdKeepAlive();
  }

  private endStall(): void {
    this.stalled = false;
    if (this.backlog.bytes >= BACKLOG_PAUSE_BYTES && !this.paused) this.pause();
    this.holdKeepAlive();
  }
}
