/**
 * `Client.status()`: every event from the moment it is called, for any number of readers.
 * Each reader holds at most {@link READER_CAPACITY} events it has not taken yet; one that falls
 * further behind loses the oldest (API.md). All readers end when the client closes.
 *
 * A reader is held weakly unless its next() is waiting: one its user dropped unread (no
 * `return()`) must not keep its events for the client's life (API.md "Memory is bounded"). A
 * waiting one is held, as only its own pending promise would refer to it: a `for await` loop
 * nobody else keeps must still get its events.
 */
import type { Event } from './events.js';

/** Undelivered events a reader holds before it loses the oldest. */
export const READER_CAPACITY = 1024;

/** What a reader asks of the readers it belongs to. */
interface ReaderOwner {
  /** Hold `reader` strongly while its next() waits (`waiting`), weakly otherwise. */
  waiting(reader: Reader, waiting: boolean): void;
  detach(reader: Reader): void;
}

export class StatusReaders implements ReaderOwner {
  private readonly readers = new Set<WeakRef<Reader>>();
  /** Forgets a collected reader's WeakRef at once: many dropped between two events add up. */
  private readonly collected = new FinalizationRegistry<WeakRef<Reader>>((ref) =>
    this.readers.delete(ref),
  );
  /** Readers whose next() waits for an event. */
  private readonly held = new Set<Reader>();
  private ended = false;

  /** A new reader of every event from now on. */
  open(): AsyncIterableIterator<Event> {
    const reader = new Reader(this);
    if (this.ended) reader.end();
    else {
      this.readers.add(reader.ref);
      this.collected.register(reader, reader.ref);
    }
    return reader;
  }

  push(event: Event): void {
    for (const ref of this.readers) {
      const reader = ref.deref();
      if (reader === undefined)
        this.readers.delete(ref); // dropped by its user
      else reader.push(event);
    }
  }

  /** The client closed: every reader ends once it has taken what it holds. */
  end(): void {
    this.ended = true;
    for (const ref of this.readers) ref.deref()?.end();
    this.readers.clear();
    this.held.clear();
  }

  waiting(reader: Reader, waiting: boolean): void {
    if (waiting) this.held.add(reader);
    else this.held.delete(reader);
  }

  detach(reader: Reader): void {
    this.readers.delete(reader.ref);
    this.held.delete(reader);
  }
}

class Reader implements AsyncIterableIterator<Event> {
  readonly ref = new WeakRef(this);
  private readonly queue: Event[] = [];
  /** next() calls waiting, oldest first (a caller may ask again before an answer). */
  private readonly waiters: ((result: IteratorResult<Event>) => void)[] = [];
  private done = false;

  constructor(private readonly owner: ReaderOwner) {}

  push(event: Event): void {
    if (this.waiters.length > 0) {
      this.settle({ value: event, done: false });
      return;
    }
    this.queue.push(event);
    if (this.queue.length > READER_CAPACITY) this.queue.shift();
  }

  end(): void {
    this.done = true;
    while (this.waiters.length > 0) this.settle({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<Event>> {
    const event = this.queue.shift();
    if (event !== undefined) return Promise.resolve({ value: event, done: false });
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.owner.waiting(this, true);
    });
  }

  return(): Promise<IteratorResult<Event>> {
    this.owner.detach(this);
    this.queue.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Event> {
    return this;
  }

  /** Answers the oldest waiting next(). */
  private settle(result: IteratorResult<Event>): void {
    const waiter = this.waiters.shift();
    if (waiter === undefined) return;
    if (this.waiters.length === 0) this.owner.waiting(this, false);
    waiter(result);
  }
}
