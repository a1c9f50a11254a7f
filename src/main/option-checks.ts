/**
 * Table-friendly checks for ConnectOptions setters (and the read of a file one names): each
 * throws `'invalidOption'` naming the option and the value (never the value of a secret).
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type * as NKeys from 'nkeys.js';
import { describe, typeName } from '../shared/describe.js';
import { NatsError } from '../shared/errors.js';
import { lazyPackage } from '../shared/lazy-package.js';
import { MAX_TIMER_MS } from '../shared/options.js';

const encoder = new TextEncoder();
const nkeys = lazyPackage<typeof NKeys>('nkeys.js');

/** An integer number of milliseconds from `min` to {@link MAX_TIMER_MS}. */
export function duration(option: string, value: unknown, min = 0): number {
  return integer(option, value, min, MAX_TIMER_MS, 'an integer number of milliseconds');
}

export function positiveInteger(option: string, value: unknown): number {
  return integer(option, value, 1, Number.MAX_SAFE_INTEGER);
}

/** An integer from `min` to `max`; `what` says what it counts in the error message. */
export function integer(
  option: string,
  value: unknown,
  min: number,
  max: number,
  what = 'an integer',
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new NatsError(
      'invalidOption',
      `${option} must be ${what} from ${min} to ${max}, got ${describe(value)}`,
    );
  }
  return value + 0; // -0 is stored as 0 (it passes every check above, and Object.is tells them apart)
}

export function callback<T>(option: string, value: T): T {
  if (typeof value !== 'function') {
    throw new NatsError('invalidOption', `${option} must be a function, got ${typeName(value)}`);
  }
  return value;
}

export function flag(option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw new NatsError('invalidOption', `${option} takes true or false, got ${typeName(value)}`);
  }
  return value;
}

/** A non-empty string that must not be echoed (tokens, passwords, seeds, JWTs). */
export function secret(option: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw new NatsError(
      'invalidOption',
      `${option} must be a non-empty string, got ${typeName(value)}`,
    );
  }
  return value;
}

export function text(option: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw new NatsError(
      'invalidOption',
      `${option} must be a non-empty string, got ${describe(value)}`,
    );
  }
  return value;
}

/**
 * An IP literal with an optional port: `10.0.0.1`, `10.0.0.1:0`, `::1`, `[::1]`, `[::1]:5000`.
 * A host name is refused here: Node would throw for it inside the connection worker, where
 * the dial runs.
 */
export function localAddress(option: string, value: unknown): string {
  const addr = text(option, value);
  const match = /^\[([^\]]+)\](?::(\d{1,5}))?$|^([^:]+)(?::(\d{1,5}))?$/.exec(addr);
  const ip = match ? (match[1] ?? match[3]) : addr;
  const port = match ? (match[2] ?? match[4]) : undefined;
  const family = isIP(ip);
  if (
    family === 0 ||
    (match?.[1] !== undefined && family !== 6) ||
    (port !== undefined && Number(port) > 65_535)
  ) {
    throw new NatsError(
      'invalidOption',
      `${option} must be an IP address with an optional port (10.0.0.1:5000, [::1]:5000), got ${describe(value)}`,
    );
  }
  return addr;
}

/** A valid NKey seed (checked by decoding it; the seed itself is never quoted). */
export function checkSeed(what: string, seed: unknown): string {
  const value = secret(what, seed);
  try {
    nkeys().fromSeed(encoder.encode(value));
  } catch (cause) {
    throw new NatsError('invalidOption', `${what} is not a valid NKey seed`, { cause });
  }
  // Clients authenticate as users: an account or operator seed would only be refused later.
  if (!value.startsWith('SU')) {
    throw new NatsError('invalidOption', `${what} is not a user NKey seed (SU…)`);
  }
  return value;
}

/**
 * The text of the file at `path` (a `.creds` file). A missing or unreadable file is
 * `'invalidOption'`; neither the path nor Node's error (which repeats it) is shown when the
 * "path" looks like the credentials themselves, an easy mistake that would leak the seed.
 */
export async function fileText(option: string, path: string): Promise<string> {
  try {
    return await readFile(text(option, path), 'utf8');
  } catch (cause) {
    if (cause instanceof NatsError) throw cause;
    const code = (cause as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new NatsError(
      'invalidOption',
      looksLikeSecretText(path)
        ? `${option} was given credentials text, not a path (${code})`
        : `${option} ${JSON.stringify(path)} cannot be read (${code})`,
    );
  }
}

/**
 * Whether a "path" that could not be read is secret text given in its place, which an error
 * must not quote (API.md "Secrets never leave"): a multi-line or PEM block, an NKey seed, a JWT.
 */
export function looksLikeSecretText(path: string): boolean {
  return /[\r\n]|BEGIN|SU[A-Z2-7]{20}|eyJ[\w-]+\.[\w-]+\./.test(path);
}
