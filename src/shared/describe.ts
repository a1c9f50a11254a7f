/**
 * How error messages name a value the user passed, without running any of the user's code:
 * no `String()`, `toString`, `toJSON`, getters or Proxy traps reach it. `String(Object.create(
 * null))` throws, and so does `${Symbol()}` or an object whose `toString` throws: an error
 * message built that way would replace the `NatsError` the caller should get with a raw
 * `TypeError`. Describing never throws.
 */

/** Characters of a string shown before it is cut. */
const SHOWN_CHARS = 64;

/**
 * A short, safe description of `value`: strings quoted (and cut), numbers and bigints as
 * written, anything else by its type. Never for secrets: see {@link typeName}.
 *
 * @example
 * describe('a b');            // '"a b"'
 * describe(Symbol('x'));      // 'a symbol'
 * describe(Object.create(null)); // 'an object'
 */
export function describe(value: unknown): string {
  switch (typeof value) {
    case 'string': {
      const cut = value.length > SHOWN_CHARS;
      return JSON.stringify(cut ? value.slice(0, SHOWN_CHARS) : value) + (cut ? '…' : '');
    }
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint': {
      const digits = value.toString();
      return digits.length > SHOWN_CHARS ? `a ${digits.length}-digit bigint` : `${digits}n`;
    }
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      return typeName(value);
  }
}

/**
 * The type of `value` only, never its content: for secrets (tokens, passwords, seeds) and for
 * messages that need no more.
 *
 * @example
 * typeName('s3cret'); // 'a string'
 * typeName(new Map()); // 'a Map'
 */
export function typeName(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value === '' ? 'an empty string' : 'a string';
    case 'number':
      return 'a number';
    case 'bigint':
      return 'a bigint';
    case 'boolean':
      return 'a boolean';
    case 'undefined':
      return 'undefined';
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
  }
  if (value === null) return 'null';
  try {
    // Array.isArray and getPrototypeOf run Proxy traps (and throw for a revoked Proxy);
    // `constructor` may be a getter.
    if (Array.isArray(value)) return 'an array';
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto === null || proto === Object.prototype) return 'an object';
    const name = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value?.name;
    return typeof name === 'string' && /^[A-Za-z_$][\w$]{0,40}$/.test(name)
      ? `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}`
      : 'an object';
  } catch {
    return 'an object';
  }
}

/**
 * What a thrown value says, for "… failed: <this>": an Error's name and message (cut), any
 * other value as {@link describe} names it. Reads the Error's fields only if they are plain
 * strings (a getter may throw).
 *
 * @example
 * describeError(new TypeError('x is undefined')); // 'TypeError: x is undefined'
 * describeError(Object.create(null));             // 'an object'
 */
export function describeError(error: unknown): string {
  try {
    if (error instanceof Error) {
      const { name, message } = error;
      if (typeof name === 'string' && typeof message === 'string') {
        const text = message.length > ERROR_CHARS ? `${message.slice(0, ERROR_CHARS)}…` : message;
        return `${name}: ${text}`;
      }
    }
  } catch {
    // a Proxy or a getter that throws: named by its type below
  }
  return describe(error);
}

/** Characters of a thrown Error's message shown before it is cut. */
const ERROR_CHARS = 200;
