// The shared inbox's reply tokens (src/shared/protocol/request-id.ts): the worker reads the id
// out of a dropped reply's subject and hands its low 32 bits to the main thread, which finds
// the request again from its newest id.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  lastTokenRequestId,
  requestIdFrom,
  requestIdLow,
} from '../../src/shared/protocol/request-id.js';

const MAX_ID = 36 ** 10 - 1; // ten base-36 digits: the longest token the multiplexer writes

function subject(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

describe('request ids in reply subjects', () => {
  it('reads the id back from the last token of any subject the multiplexer writes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_ID }), fc.string({ maxLength: 20 }), (id, pre) => {
        const bytes = subject(`_INBOX.${pre.replaceAll('.', '')}.${id.toString(36)}`);
        expect(lastTokenRequestId(bytes, 0, bytes.length)).toBe(id);
      }),
    );
  });

  it('reads nothing from tokens the multiplexer never writes', () => {
    for (const text of [
      '_INBOX.x.',
      '_INBOX.x.0',
      '_INBOX.x.01',
      '_INBOX.x.A',
      'abc',
      '_INBOX.x.-1',
    ]) {
      const bytes = subject(text);
      expect(lastTokenRequestId(bytes, 0, bytes.length), text).toBe(-1);
    }
    const long = subject(`_INBOX.x.${'z'.repeat(11)}`);
    expect(lastTokenRequestId(long, 0, long.length)).toBe(-1);
  });

  it('reads only within the bounds it is given', () => {
    const bytes = subject('MSG _INBOX.p.1z sid');
    expect(lastTokenRequestId(bytes, 4, 15)).toBe(71);
  });

  it('finds the id from its low 32 bits and the newest id, up to 2^32 - 1 requests apart', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 53 - 2 ** 32 }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        (id, later) => {
          expect(requestIdFrom(requestIdLow(id), id + later)).toBe(id);
        },
      ),
    );
  });

  it('carries the low bits through a 32-bit word as a delivery frame does', () => {
    const word = new Int32Array(1);
    for (const id of [1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 7, MAX_ID]) {
      word[0] = requestIdLow(id);
      expect(requestIdFrom(word[0] >>> 0, id + 5)).toBe(id);
    }
  });
});
