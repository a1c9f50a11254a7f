/**
 * One timer for many deadlines (the requests waiting for replies). A Node timer per request
 * cost an arm and a clear on every round trip; here a request costs a heap insert and
 * removal, and the one timer is re-armed only when a deadline earlier than the armed one
 * comes. A removed deadline leaves the timer be: when it fires early for nothing it re-arms
 * for the earliest deadline left, if any.
 *
 * The timer is unref'd: the open client's worker keeps the process alive, not a timeout.
 * Deadlines are told once what had reached the worker when their timer ran is dispatched (at
 * most ~100 ms later): a reply that waited while this thread was busy settles its request.
 */

/** Something that expires at a time; {@link Deadlines} owns its two fields. */
export interface Deadline {
  /** performance.now() at which it expires, in whole ms (rounded up). */
  at: number;
  /** Position in the heap, or -1 when not in it. */
  slot: number;
  expire(): void;
}

export class Deadlines {
  constructor(
    /** Runs the expiry once what arrived by then is dispatched (Dispatcher.afterArrived). */
    private readonly afterArrived: (run: () => void) => void,
  ) {}

  /** Min-heap on `at`. */
  private readonly heap: Deadline[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** When the timer fires (Infinity when none is armed). */
  private armedAt = Number.POSITIVE_INFINITY;

  /** `deadline` expires in `ms` milliseconds, unless removed first. */
  add(deadline: Deadline, ms: number): void {
    const now = performance.now();
    // Whole ms, as timers count: an integer field needs no box of its own per deadline.
    deadline.at = Math.ceil(now + ms);
    deadline.slot = this.heap.length;
    this.heap.push(deadline);
    this.up(deadline.slot);
    if (deadline.at < this.armedAt) this.arm(deadline.at, deadline.at - now);
  }

  /** `deadline` will not expire (no-op when it is not waiting). */
  remove(deadline: Deadline): void {
    const slot = deadline.slot;
    if (slot < 0) return;
    deadline.slot = -1;
    const last = this.heap.pop() as Deadline;
    if (slot === this.heap.length) return;
    this.heap[slot] = last;
    last.slot = slot;
    this.down(slot);
    this.up(last.slot);
  }

  /** When the last deadline waiting expires (performance.now() time), or -Infinity for none. */
  latest(): number {
    let latest = Number.NEGATIVE_INFINITY;
    for (const deadline of this.heap) if (deadline.at > latest) latest = deadline.at;
    return latest;
  }

  /** Forget every deadline and stop the timer (the owner is closing). */
  clear(): void {
    for (const deadline of this.heap) deadline.slot = -1;
    this.heap.length = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
  }

  private arm(at: number, ms: number): void {
    clearTimeout(this.timer);
    this.armedAt = at;
    // Node's timers count whole milliseconds from a clock read at the loop turn's start, so
    // they may fire a little early: fire() re-arms for what is not due yet.
    this.timer = setTimeout(this.fire, Math.max(1, Math.ceil(ms)));
    this.timer.unref();
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    const heap = this.heap;
    // Expired first, then told: an expire() that adds or removes deadlines sees a consistent heap.
    const due: Deadline[] = [];
    while (heap.length > 0 && heap[0].at <= now) {
      const first = heap[0];
      this.remove(first);
      due.push(first);
    }
    if (heap.length > 0) this.arm(heap[0].at, heap[0].at - now);
    if (due.length === 0) return;
    // Out of the heap now: what settles them meanwhile (a reply) finds nothing to remove.
    this.afterArrived(() => {
      for (const deadline of due) deadline.expire();
    });
  };

  private up(slot: number): void {
    const heap = this.heap;
    const item = heap[slot];
    while (slot > 0) {
      const parent = (slot - 1) >> 1;
      if (heap[parent].at <= item.at) break;
      heap[slot] = heap[parent];
      heap[slot].slot = slot;
      slot = parent;
    }
    heap[slot] = item;
    item.slot = slot;
  }

  private down(slot: number): void {
    const heap = this.heap;
    const item = heap[slot];
    const n = heap.length;
    for (;;) {
      let child = 2 * slot + 1;
      if (child >= n) break;
      if (child + 1 < n && heap[child + 1].at < heap[child].at) child++;
      if (heap[child].at >= item.at) break;
      heap[slot] = heap[child];
      heap[slot].slot = slot;
      slot = child;
    }
    heap[slot] = item;
    item.slot = slot;
  }
}
