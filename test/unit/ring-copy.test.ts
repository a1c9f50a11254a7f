import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { copyToShared, SourceBytes } from '../../src/shared/ring/ring-copy.js';

/** A source as a socket gives it: a view at some offset into a larger buffer. */
function source(bytes: number[], offset: number) {
  const backing = new Uint8Array(offset + bytes.length + 8).fill(0xee);
  backing.set(bytes, offset);
  const view = backing.subarray(offset, offset + bytes.length);
  return new SourceBytes(view);
}

function sharedDestination(size: number) {
  const buffer = new SharedArrayBuffer(size);
  return { bytes: new Uint8Array(buffer), words: new Int32Array(buffer) };
}

describe('copyToShared', () => {
  it('copies exactly the range, at any alignment of source and destination, short and long', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 700 }),
        fc.nat(7),
        fc.nat(700),
        fc.nat(700),
        fc.nat(64),
        (data, srcOffset, fromSeed, lengthSeed, at) => {
          const src = source(data, srcOffset);
          const from = data.length === 0 ? 0 : fromSeed % data.length;
          const length = Math.min(lengthSeed, data.length - from);
          const dst = sharedDestination(1024);
          dst.bytes.fill(0x55);
          const end = copyToShared(src, from, length, dst, at);
          expect(end).toBe(at + length);
          expect([...dst.bytes.subarray(at, end)]).toEqual(data.slice(from, from + length));
          // Nothing written around the range, although whole words are stored.
          expect(dst.bytes.subarray(0, at).every((b) => b === 0x55)).toBe(true);
          expect(dst.bytes.subarray(end).every((b) => b === 0x55)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});
