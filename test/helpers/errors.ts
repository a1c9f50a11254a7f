// The NatsError a call ends with, for tests that look at it; anything else fails the test.

import { NatsError } from 'nats-offload';
import { expect } from 'vitest';

/** The NatsError `promise` rejects with. */
export async function rejection(promise: Promise<unknown>): Promise<NatsError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(NatsError);
    return error as NatsError;
  }
  throw new Error('expected a rejection');
}

/** The NatsError `fn` throws synchronously. */
export function thrown(fn: () => unknown): NatsError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(NatsError);
    return error as NatsError;
  }
  throw new Error('expected a throw');
}

/** The kind of NatsError `promise` rejects with; undefined when it resolves. */
export async function kindOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (e) {
    return e instanceof NatsError ? e.kind : `not a NatsError: ${String(e)}`;
  }
  return undefined;
}
