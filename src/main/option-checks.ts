/**
 * Table-friendly checks for ConnectOptions setters: each throws `'invalidOption'` naming the
 * option and the value (never the value of a secret).
 */
import { fromSeed } from 'nkeys.js';
import { NatsError } from '../shared/errors.js';

const encoder = new TextEncoder();

export function duration(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new NatsError(
      'invalidOption',
      `${option} must be a finite, non-negative number of milliseconds, got ${String(value)}`,
    );
  }
  return value;
}

export function positiveInteger(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new NatsError(
      'invalidOption',
      `${option} must be a positive integer, got ${String(value)}`,
    );
  }
  return value;
}

export function callback<T>(option: string, value: T): T {
  if (typeof value !== 'function') {
    throw new NatsError('invalidOption', `${option} must be a function, got ${typeof value}`);
  }
  return value;
}

/** A non-empty string that must not be echoed (tokens, passwords, seeds, JWTs). */
export function secret(option: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw new NatsError(
      'invalidOption',
      `${option} must be a non-empty string, got ${value === '' ? 'an empty string' : typeof value}`,
    );
  }
  return value;
}

export function text(option: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw new NatsError(
      'invalidOption',
      `${option} must be a non-empty string, got ${JSON.stringify(value) ?? String(value)}`,
    );
  }
  return value;
}

/** A valid NKey seed (checked by decoding it; the seed itself is never quoted). */
export function checkSeed(what: string, seed: unknown): string {
  const value = secret(what, seed);
  try {
    fromSeed(encoder.encode(value));
  } catch (cause) {
    throw new NatsError('invalidOption', `${what} is not a valid NKey seed`, { cause });
  }
  // Clients authenticate as users: an account or operator seed would only be refused later.
  if (!value.startsWith('SU')) {
    throw new NatsError('invalidOption', `${what} is not a user NKey seed (SU…)`);
  }
  return value;
}
