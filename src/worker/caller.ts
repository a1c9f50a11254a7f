/**
 * Calls into the caller's thread (comlink proxies of the user's callbacks). comlink never
 * settles a call the other side leaves hanging, so the worker bounds each one: a callback that
 * throws or does not settle in time is kind 'callback' (API.md "Every promise settles").
 *
 * The call itself stays pending as long as the callback does; so each kind of callback has at
 * most one call outstanding: while one has not settled, the next attempt does not call again
 * and fails at once (kind 'callback', a failed attempt as a timeout is). A callback that never
 * settles costs one pending call, not one per connection attempt.
 */
import { describeError } from '../shared/describe.js';
import { NatsError } from '../shared/errors.js';

export class CallerCalls {
  /** Kinds of callback with a call that has not settled. */
  private readonly pending = new Set<string>();

  /**
   * `call()`'s answer; rejects with kind 'callback' when it throws, takes more than `ms`, or
   * the previous call of `what` has not settled yet (then it is not called).
   */
  async answer<T>(what: string, call: () => Promise<T>, ms: number): Promise<T> {
    if (this.pending.has(what)) {
      throw new NatsError('callback', `${what} has not settled since an earlier call`);
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new NatsError('callback', `${what} did not settle within ${ms} ms`)),
        ms,
      );
    });
    try {
      const answer = Promise.resolve(call()); // a plain value too (a host in the same thread)
      this.pending.add(what);
      const settled = () => this.pending.delete(what);
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
