/**
 * Calls into the caller's thread (comlink proxies of the user's callbacks). comlink never
 * settles a call the other side leaves hanging, so the worker bounds each one: a callback that
 * throws or does not settle in time is kind 'callback' (API.md "Every promise settles").
 */
import { describeError } from '../shared/describe.js';
import { NatsError } from '../shared/errors.js';

/** `call()`'s answer; rejects with kind 'callback' when it throws or takes more than `ms`. */
export async function answerWithin<T>(
  what: string,
  call: () => Promise<T>,
  ms: number,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new NatsError('callback', `${what} did not settle within ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([call(), late]);
  } catch (cause) {
    if (cause instanceof NatsError && cause.kind === 'callback') throw cause;
    throw new NatsError('callback', `${what} failed: ${describeError(cause)}`, { cause });
  } finally {
    clearTimeout(timer);
  }
}
