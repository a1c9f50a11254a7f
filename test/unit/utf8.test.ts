import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decimalLength,
  decodeString,
  quoteBytes,
  utf8Length,
  writeDecimal,
  writeString,
} from '../../src/shared/protocol/utf8.js';

const encoder = new TextEncoder();

describe('utf8Length', () => {
  it('counts 1, 2, 3 and 4 byte characters', () => {
    expect(utf8Length('')).toBe(0);
    expect(utf8Length('foo.bar')).toBe(7);
    expect(utf8Length('ü')).toBe(2);
    expect(utf8Length('€')).toBe(3);
    expect(utf8Length('😀')).toBe(4);
  });

  it('counts a lone surrogate as the 3-byte U+FFFD', () => {
    expect(utf8Length('\ud800')).toBe(3);
    expect(utf8Length('\udc00x')).toBe(4);
    expect(utf8Length('a\ud800b')).toBe(encoder.encode('a\ud800b').length);
  });

  it('agrees with TextEncoder on any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(utf8Length(s)).toBe(encoder.encode(s).length);
      }),
    );
  });
});

describe('writeString', () => {
  it('writes ASCII at an offset and returns the end', () => {
    const buf = new Uint8Array(10);
    expect(writeString(buf, 2, 'abc')).toBe(5);
    expect([...buf]).toEqual([0, 0, 97, 98, 99, 0, 0, 0, 0, 0]);
  });

  it('matches TextEncoder for any string, including into shared memory', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.nat(8), (s, off) => {
        const expected = encoder.encode(s);
        const buf = new Uint8Array(new SharedArrayBuffer(off + expected.length + 4));
        expect(writeString(buf, off, s)).toBe(off + expected.length);
        expect(buf.subarray(off, off + expected.length)).toEqual(expected);
        expect(buf[off + expected.length]).toBe(0);
      }),
    );
  });
});

describe('decodeString', () => {
  it('decodes short ASCII, long ASCII and non-ASCII ranges', () => {
    const long = 'x'.repeat(100);
    const buf = encoder.encode(`[foo.bar][${long}][ünï]`);
    expect(decodeString(buf, 1, 8)).toBe('foo.bar');
    expect(decodeString(buf, 10, 110)).toBe(long);
    expect(decodeString(buf, 112, 117)).toBe('ünï');
    expect(decodeString(buf, 3, 3)).toBe('');
  });

  it('keeps a leading byte order mark: wire text is read as sent', () => {
    const buf = Uint8Array.of(0xef, 0xbb, 0xbf, 0x61, 0x62, 0x63);
    expect(decodeString(buf, 0, 6)).toBe('\ufeffabc');
    expect(decodeString(buf, 0, 3)).toBe('\ufeff');
  });

  it('round-trips any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        const buf = encoder.encode(`>${s}<`);
        expect(decodeString(buf, 1, buf.length - 1)).toBe(s);
      }),
    );
  });
});

describe('decimal', () => {
  it('measures and writes digits', () => {
    const buf = new Uint8Array(20);
    for (const n of [0, 9, 10, 99, 100, 1024, 65535, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
      const s = String(n);
      expect(decimalLength(n)).toBe(s.length);
      expect(writeDecimal(buf, 1, n)).toBe(1 + s.length);
      expect(new TextDecoder().decode(buf.subarray(1, 1 + s.length))).toBe(s);
    }
  });
});

describe('quoteBytes', () => {
  it('quotes short input and cuts long input at 64 bytes', () => {
    expect(quoteBytes(encoder.encode('a"b'), 0, 3)).toBe('"a\\"b"');
    const long = encoder.encode('y'.repeat(100));
    expect(quoteBytes(long, 0, 100)).toBe(`"${'y'.repeat(64)}"…`);
  });
});
