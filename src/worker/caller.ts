/**
 * Calls into the caller's thread (comlink proxies of the user's callbacks). comlink never
 * settles a call the other side leaves hanging, so the worker bounds each one: a callback that
 * throws or does not settle in time is kind 'callback' (API.md "Every promise settles").
 *
 * The call itself stays pending as long as the callback does; so each kind of callback has at
 * most {@link MAX_UNSETTLED} calls outstanding: past that, the next attempt does not call again
 * and fails at once (kind 'callback', a failed attempt as a timeout is). A callback that never
 * settles costs that many pending calls, not one per connection attempt; one that hung a few
 * times and answers again is still called.
 */
import { describeError } from '../shared/describe.js';
import { NatsError } from '../shared/errors.js';

/** Unsettled calls of one kind of callback before further attempts stop calling it. */
export const MAX_UNSETTLED = 4;

export class CallerCalls {
  /** Calls that have not settled, by kind of callback. */
  private readonly pending = new Map<string, number>();

  /**
   * `call()`'s answer; rejects with kind 'callback' when it throws, takes more than `ms`, or
   * {@link MAX_UNSETTLED} earlier calls of `what` have not settled (then it is not called).
   */
  async answer<T>(what: string, call: () => Promise<T>, ms: number): Promise<T> {
    if ((this.pending.get(what) ?? 0) >= MAX_UNSETTLED) {
      throw new NatsError('callback', `${what} has not settled in ${MAX_UNSETTLED} earlier calls`);
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      // Unref'd: the control port keeps the worker up while it is open; once close() has
      // closed it, a callback still pending must not hold the thread (shutdown then waited
      // EXIT_TIMEOUT_MS for it to exit, its answer never coming through the closed port).
      timer = setTimeout(
        () => reject(new NatsError('callback', `${what} did not settle within ${ms} ms`)),
        ms,
      ).unref();
    });
    try {
      const answer = Promise.resolve(call()); // a plain value too (a host in the same thread)
      this.pending.set(what, (this.pending.get(what) ?? 0) + 1);
      const settled = () => {
        const left = (this.pending.get(what) ?? 1) - 1;
        if (left === 0) this.pending.delete(what);
        else this.pending.set(what, left);
      };
      answer.then(settled, settled);
      return await Promise.race([answer, late]);
    } catch (cause) {
      if (cause instanceof NatsError && cause.kind === 'callback') throw cause;
      throw new NatsError('callback', `${what} failed: ${describeError(cause)}`, { cause });
    } finally {
      clearTimeout(timer);
    }
  }
}
