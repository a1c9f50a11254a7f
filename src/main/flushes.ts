/**
 * A client's pending flushes. Each writes a flush frame into the command ring (so its PING is
 * ordered with publishes) and waits for the acknowledgement the delivery ring brings back (so
 * it is ordered with deliveries). API.md "Every promise settles": a flush rejects 'timedOut'
 * past requestTimeout, or, even with requestTimeout(null), when it is not acknowledged within
 * 2 × connectionTimeout of the first disconnection it saw and no connection answered a PING
 * meanwhile (then it waits as long again, and so on), connectionTimeout more once if a
 * connection is up then. A reconnect alone does not stop that clock: connections that open and
 * then answer nothing would carry it for ever; a slow one that answers does.
 */
import { NatsError } from '../shared/errors.js';
import { type Deadline, Deadlines } from './deadlines.js';

/** A flush waiting for its acknowledgement; as a {@link Deadline}, its requestTimeout. */
class PendingFlush implements Deadline {
  at = 0;
  slot = -1;
  /** While parked ({@link Flushes.park}): when it resolves all the same. */
  parkTimer?: NodeJS.Timeout;
  /**
   * When it fails unless acknowledged: 2 × connectionTimeout after it first saw no connection
   * (later while connections answer PINGs, and once {@link graced}).
   */
  disconnectDeadline?: number;
  /** PONGs the connections had answered when the deadline was set. */
  pongsAt?: number;
  /** Its deadline came while connected, and was put off by connectionTimeout once. */
  graced?: boolean;

  constructor(
    readonly id: number,
    readonly resolve: () => void,
    readonly reject: (e: NatsError) => void,
    private readonly owner: Flushes,
  ) {}

  expire(): void {
    this.owner.timedOut(this);
  }
}

export class Flushes {
  private readonly flushes = new Map<number, PendingFlush>();
  private nextFlushId = 0;
  /** When the client was last seen without a connection (null while connected). */
  private notConnectedSince: number | null = performance.now();
  /** Fails the pending flushes whose {@link PendingFlush.disconnectDeadline} has come. */
  private disconnectBound: NodeJS.Timeout | undefined;
  /** When it fires (infinity: not armed). */
  private disconnectBoundAt = Number.POSITIVE_INFINITY;
  /**
   * Acknowledged by a connection this thread has not heard of yet (its 'connected' event, which
   * brings its INFO, comes apart from the delivery ring): resolved once it has, so that what a
   * resolved flush proves, connectionState() and serverInfo() already say.
   */
  private ackedEarly: PendingFlush[] = [];
  private heard = 0;
  /**
   * Pending flushes with messages before them that were not sent ({@link lostAfter}): they
   * fail when their PONG comes, not before, so that one still fences what preceded it.
   */
  private readonly doomed = new Set<number>();
  /** The requestTimeouts, on one timer: a Node timer per flush was ~300 B more while it waited. */
  private readonly deadlines: Deadlines;

  constructor(
    /** Writes the flush frame for `id` into the command ring; throws when it cannot. */
    private readonly send: (id: number) => void,
    private readonly requestTimeout: number | null,
    private readonly connectionTimeout: number,
    /** The shared state word says connected (the 'connected' update may still be on its way). */
    private readonly connectedNow: () => boolean,
    /** Connections the worker has made, from shared memory (statistics().connects). */
    private readonly connects: () => number,
    /** PONGs the connections answered after their handshakes, from shared memory (wraps). */
    private readonly pongs: () => number,
    /** Runs `run` once what arrived by now is dispatched (Dispatcher.afterArrived). */
    private readonly afterArrived: (run: () => void) => void,
  ) {
    this.deadlines = new Deadlines(afterArrived);
  }

  /**
   * The connection (the worker's count, statistics().connects) this thread has heard of last,
   * whose INFO and pool serverInfo() and serverPool() hold; 0: none yet. The worker counts a
   * connection before its event and its acks.
   */
  get heardConnection(): number {
    return this.heard;
  }

  /** Flushes not settled yet (CallBound counts them). */
  get waiting(): number {
    return this.flushes.size + this.ackedEarly.length;
  }

  /** Resolves when everything published before it has reached the server. */
  flush(): Promise<void> {
    const id = ++this.nextFlushId >>> 0;
    return new Promise<void>((resolve, reject) => {
      // First: when the frame cannot be queued ('clientCapacity'), nothing is registered.
      this.send(id);
      const entry = new PendingFlush(id, resolve, reject, this);
      // Decided once what reached the worker by then is dispatched (Deadlines): an
      // acknowledgement that waited while this thread was busy still resolves it.
      if (this.requestTimeout !== null) this.deadlines.add(entry, this.requestTimeout);
      this.flushes.set(id, entry);
      // Not while the worker is connected already (its event on its way): bound from its loss.
      if (this.notConnectedSince !== null && !this.connectedNow()) {
        entry.pongsAt = this.pongs();
        entry.disconnectDeadline = this.notConnectedSince + 2 * this.connectionTimeout;
        this.armDisconnectBound(entry.disconnectDeadline);
      }
    });
  }

  /** @internal Flush `entry`'s requestTimeout passed (PendingFlush.expire). */
  timedOut(entry: PendingFlush): void {
    if (this.flushes.get(entry.id) !== entry) return; // settled meanwhile
    this.flushes.delete(entry.id);
    this.doomed.delete(entry.id);
    entry.reject(
      new NatsError('timedOut', `flush not acknowledged within ${this.requestTimeout} ms`),
    );
  }

  /** The acknowledgement of flush `id` came through the delivery ring. */
  acked(id: number): void {
    const entry = this.flushes.get(id);
    if (!entry) return;
    this.flushes.delete(id);
    this.deadlines.remove(entry);
    if (this.doomed.delete(id)) {
      entry.reject(notSentBefore());
      return;
    }
    // Only a connection whose event is still on its way waits it out: that event comes, and
    // connectionTimeout bounds the wait all the same (API.md "Every promise settles").
    if (this.heard < this.connects()) this.park(entry);
    else entry.resolve();
  }

  private park(entry: PendingFlush): void {
    this.ackedEarly.push(entry);
    entry.parkTimer = setTimeout(() => {
      this.ackedEarly = this.ackedEarly.filter((parked) => parked !== entry);
      entry.resolve(); // the server acknowledged it
    }, this.connectionTimeout);
    entry.parkTimer.unref();
  }

  /**
   * Flush `id`'s connection failed before a PONG acknowledged what was published before it:
   * the failed socket may have taken some of it (counted as not sent), so the flush cannot
   * resolve.
   */
  lost(id: number): void {
    const entry = this.flushes.get(id);
    if (!entry) return;
    this.flushes.delete(id);
    this.doomed.delete(id);
    this.deadlines.remove(entry);
    entry.reject(notSentBefore());
  }

  /**
   * Messages published before every flush after flush `id` (the worker had not taken those
   * yet) were not sent: a failed connection may have lost them, or the server's max_payload
   * left them out. The ones pending now cannot resolve, and fail at their PONG. Flushes made
   * after this thread heard of it are judged on what follows (closed() counts what was lost).
   */
  lostAfter(id: number): void {
    for (const pending of this.flushes.keys()) {
      if (((pending - id) | 0) > 0) this.doomed.add(pending); // ids are u32 and wrap
    }
  }

  /**
   * The client is connected, this thread heard of its `connection`th connection: flushes made
   * from now on have no bound while it stays so.
   */
  connected(connection: number): void {
    this.heard = connection;
    this.notConnectedSince = null;
    for (const entry of this.ackedEarly.splice(0)) {
      clearTimeout(entry.parkTimer);
      entry.resolve();
    }
  }

  /** The client lost its connection: pending flushes (and later ones) are bound from now. */
  disconnected(): void {
    const now = performance.now();
    this.notConnectedSince = now;
    for (const entry of this.flushes.values()) {
      if (entry.disconnectDeadline !== undefined) continue;
      entry.disconnectDeadline = now + 2 * this.connectionTimeout;
      entry.pongsAt = this.pongs();
    }
    this.armDisconnectBound(this.nextDisconnectDeadline());
  }

  /** The client closed: every pending flush fails, with `died` when the worker died. */
  close(died: NatsError | undefined): void {
    clearTimeout(this.disconnectBound);
    this.deadlines.clear();
    for (const entry of this.ackedEarly.splice(0)) {
      clearTimeout(entry.parkTimer);
      entry.resolve(); // the server answered them
    }
    for (const [id, entry] of this.flushes) {
      entry.reject(
        died ??
          (this.doomed.has(id)
            ? notSentBefore()
            : new NatsError('closed', 'client closed before the flush completed')),
      );
    }
    this.flushes.clear();
    this.doomed.clear();
  }

  /**
   * API.md "Every promise settles": flushes (and so drain) reject 'timedOut' at their
   * disconnect deadline, even with requestTimeout(null); decided once what reached the worker
   * by then is dispatched (an acknowledgement that waited in the ring still resolves).
   */
  private armDisconnectBound(deadline: number): void {
    if (deadline >= this.disconnectBoundAt) return; // one as early is armed
    clearTimeout(this.disconnectBound);
    this.disconnectBoundAt = deadline;
    if (deadline === Number.POSITIVE_INFINITY) return;
    this.disconnectBound = setTimeout(
      () => {
        this.disconnectBoundAt = Number.POSITIVE_INFINITY;
        this.afterArrived(() => this.failPastDeadline());
      },
      Math.max(0, deadline - performance.now()),
    );
    this.disconnectBound.unref(); // the worker keeps the process alive, not this bound
  }

  private nextDisconnectDeadline(): number {
    let next = Number.POSITIVE_INFINITY;
    for (const entry of this.flushes.values()) {
      if (entry.disconnectDeadline !== undefined && entry.disconnectDeadline < next) {
        next = entry.disconnectDeadline;
      }
    }
    return next;
  }

  private failPastDeadline(): void {
    const now = performance.now();
    const bound = 2 * this.connectionTimeout;
    const pongs = this.pongs();
    for (const [id, entry] of this.flushes) {
      if (entry.disconnectDeadline === undefined || entry.disconnectDeadline > now) continue;
      if (pongs !== entry.pongsAt) {
        // A connection answers (behind a long upload, say): its turn may come yet.
        entry.pongsAt = pongs;
        entry.disconnectDeadline = now + bound;
        continue;
      }
      if (!entry.graced && this.connectedNow()) {
        // A connection has just come back: its answer may be on its way.
        entry.graced = true;
        entry.disconnectDeadline = now + this.connectionTimeout;
        continue;
      }
      this.flushes.delete(id);
      this.doomed.delete(id);
      this.deadlines.remove(entry);
      entry.reject(
        new NatsError(
          'timedOut',
          `flush not acknowledged since it lost its connection: no connection answered a PING for ${bound} ms (2 × connectionTimeout)`,
        ),
      );
    }
    this.armDisconnectBound(this.nextDisconnectDeadline());
  }
}

/** A flush with messages before it that were not sent ('io'): its lost() and lostAfter(). */
function notSentBefore(): NatsError {
  return new NatsError(
    'io',
    'flush failed: messages published before it may not have reached the server (a failed connection may have lost them, or they exceeded its max_payload; closed() counts them as not sent)',
  );
}
