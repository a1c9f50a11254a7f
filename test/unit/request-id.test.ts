// The shared inbox's reply tokens (src/shared/protocol/request-id.ts): the worker reads the id
// out of a dropped reply's subject and names that request to the main thread.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lastTokenRequestId } from '../../src/shared/protocol/request-id.js';

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
});
