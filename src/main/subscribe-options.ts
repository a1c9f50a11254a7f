/**
 * subscribe()'s options as the caller gave them, read once and checked (API.md: any value gives a
 * NatsError, never a raw TypeError): the callback, and the max and timeout to apply.
 */
import { describe, typeName } from '../shared/describe.js';
import { NatsError } from '../shared/errors.js';
import { MAX_TIMER_MS } from '../shared/options.js';
import { MAX_UNSUBSCRIBE_AFTER, type SubscribeOptions } from './subscriber.js';

/** subscribe's options, checked: a callback, and the max / timeout to apply after subscribing. */
export function subscribeOptionsOf(opts: SubscribeOptions | undefined): {
  callback: SubscribeOptions['callback'];
  max: number | undefined;
  timeout: number | undefined;
} {
  const callback = callbackOf(opts);
  if (opts === undefined || opts === null) return { callback, max: undefined, timeout: undefined };
  let max: unknown;
  let timeout: unknown;
  try {
    max = opts.max;
    timeout = opts.timeout;
  } catch (cause) {
    throw new NatsError('invalidArgument', 'subscribe options could not be read', { cause });
  }
  if (max !== undefined && !isIntegerIn(max, 1, MAX_UNSUBSCRIBE_AFTER)) {
    throw new NatsError(
      'invalidArgument',
      `subscribe max must be an integer from 1 to ${MAX_UNSUBSCRIBE_AFTER}, got ${describe(max)}`,
    );
  }
  if (timeout !== undefined && !isIntegerIn(timeout, 0, MAX_TIMER_MS)) {
    throw new NatsError(
      'invalidArgument',
      `subscribe timeout must be an integer number of ms from 0 to ${MAX_TIMER_MS}, got ${describe(timeout)}`,
    );
  }
  return { callback, max: max as number | undefined, timeout: timeout as number | undefined };
}

function isIntegerIn(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** `opts.callback`, read once; options that cannot be read, or a callback that is no function, are 'invalidArgument'. */
function callbackOf(opts: SubscribeOptions | undefined): SubscribeOptions['callback'] {
  if (opts === undefined || opts === null) return undefined;
  if (typeof opts !== 'object') {
    throw new NatsError(
      'invalidArgument',
      `subscribe options must be an object, got ${typeName(opts)}`,
    );
  }
  let cb: unknown;
  try {
    cb = opts.callback;
  } catch (cause) {
    throw new NatsError('invalidArgument', 'subscribe options could not be read', { cause });
  }
  if (cb !== undefined && typeof cb !== 'function') {
    throw new NatsError('invalidArgument', `callback must be a function, got ${typeName(cb)}`);
  }
  return cb as SubscribeOptions['callback'];
}
