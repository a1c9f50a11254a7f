/**
 * A caller's Uint8Array read through the typed-array intrinsics, never through its own
 * properties: a subclass or an own property may make `length`, `byteOffset` or `buffer` say
 * anything (and something else at each read), while set() copies the array's real bytes. A
 * frame sized by a lying `length` sent stale ring bytes, cut other messages or killed the
 * worker (API.md "Guarantees": every input, however hostile). A message's size is read here
 * once and handed on.
 */

const typedArray: object = Object.getPrototypeOf(Uint8Array.prototype);

function intrinsicGetter<T>(name: string): (this: Uint8Array) => T {
  const getter = Object.getOwnPropertyDescriptor(typedArray, name)?.get;
  if (getter === undefined) throw new Error(`no %TypedArray%.prototype.${name} getter`);
  return getter as (this: Uint8Array) => T;
}

const lengthGetter = intrinsicGetter<number>('length');
const byteOffsetGetter = intrinsicGetter<number>('byteOffset');
const bufferGetter = intrinsicGetter<ArrayBufferLike>('buffer');

/** The array's real length (0 once its buffer is detached); throws a TypeError for a look-alike. */
export function lengthOf(bytes: Uint8Array): number {
  return lengthGetter.call(bytes);
}

/** The array's real offset in its buffer. */
export function byteOffsetOf(bytes: Uint8Array): number {
  return byteOffsetGetter.call(bytes);
}

const EMPTY = new Uint8Array(0);

/** A plain view of the array's first `length` real bytes, for code that reads `length` itself. */
export function plainView(bytes: Uint8Array, length: number): Uint8Array {
  // A detached buffer (length 0) can have no view made of it.
  if (length === 0) return EMPTY;
  return new Uint8Array(bufferGetter.call(bytes), byteOffsetOf(bytes), length);
}
