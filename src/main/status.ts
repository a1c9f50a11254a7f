/**
 * `Client.status()`: every event from the moment it is called, for any number of readers.
 * Each reader holds at most {@link READER_CAPACITY} events it has not taken yet; one that falls
 * further behind loses the oldest (API.md). All readers end when the client closes.
 */
import type { Event } from './events.js';

/** Undelivered events a reader holds before it loses the oldest. */
export const READER_CAPACITY = 1024;

export class StatusReaders {
  private readonly readers = new Set<Reader>();
  private ended = false;

  /** A new reader of every event from now on. */
  open(): AsyncIterableIterator<Event> {
    const reader = new Reader(() => this.readers.delete(reader));
    if (this.ended) reader.end();
    else this.readers.add(reader);
    return reader;
  }

  push(event: Event): void {
    for (const reader of this.readers) reader.push(event);
  }

  /** The client closed: every reader ends once it has taken what it holds. */
  end(): void {
    this.ended = true;
    for (const reader of this.readers) reader.end();
    this.readers.clear();
  }
}

class Reader implements AsyncIterableIterator<Event> {
  private readonly queue: Event[] = [];
  private waiter: ((result: IteratorResult<Event>) => void) | null = null;
  private done = false;

  constructor(private readonly detach: () => void) {}

  push(event: Event): void {
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = null;
      waiter({ value: event, done: false });
      return;
    }
    this.queue.push(event);
    if (this.queue.length > READER_CAPACITY) this.queue.shift();
  }

  end(): void {
    this.done = true;
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<Event>> {
    const event = this.queue.shift();
    if (event !== undefined) return Promise.resolve({ value: event, done: false });
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  return(): Promise<IteratorResult<Event>> {
    this.detach();
    this.queue.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Event> {
    return this;
  }
}
