// Waiting on conditions and events in integration tests, never on bare sleeps: a poller for a
// condition that has no event of its own, a deadline for a promise, and a recorder for the
// client's eventCallback.

import type { Event } from 'nats-offload';

const POLL_MS = 5;

/**
 * Resolves once `predicate()` is true; rejects after `timeoutMs` with `what` in the message.
 * The predicate is checked at once and then every few milliseconds.
 */
export async function waitFor(
  predicate: () => boolean,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) {
      throw new Error(`waitFor: ${what} not met within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** {@link waitFor} with a predicate that asks the server (one call at a time). */
export async function waitForAsync(
  predicate: () => Promise<boolean>,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await predicate())) {
    if (performance.now() > deadline) {
      throw new Error(`waitForAsync: ${what} not met within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** `promise`, or a rejection naming `what` once `timeoutMs` has passed first. */
export async function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`withTimeout: ${what} not settled within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether `promise` has settled by the next turn of the event loop (its own callbacks and every
 * microtask queued before have run by then). For asserting that something is still pending.
 */
export async function settledYet(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

/** Records every event a client emits; pass `log.callback` to `ConnectOptions.eventCallback`. */
export class EventLog {
  readonly events: Event[] = [];
  readonly callback = (event: Event): void => {
    this.events.push(event);
  };

  types(): string[] {
    return this.events.map((e) => e.type);
  }

  /** Index of the first event of `type` at or after `from`, or -1. */
  indexOf(type: Event['type'], from = 0): number {
    for (let i = from; i < this.events.length; i++) {
      if (this.events[i].type === type) return i;
    }
    return -1;
  }

  /** Waits for an event of `type` at or after index `from`; resolves with its index. */
  async next(type: Event['type'], from = 0, timeoutMs = 5_000): Promise<number> {
    await waitFor(
      () => this.indexOf(type, from) !== -1,
      timeoutMs,
      `event '${type}' (from #${from}; seen: ${this.types().join(', ')})`,
    );
    return this.indexOf(type, from);
  }
}
