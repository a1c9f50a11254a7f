import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NatsError } from '../../src/shared/errors.js';
import {
  decodeHeaders,
  encodeHeaders,
  HeaderMap,
  setStatusLine,
} from '../../src/shared/protocol/headers.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

function decodeText(text: string) {
  const buf = enc.encode(`xx${text}yy`);
  return decodeHeaders(buf, 2, buf.length - 2);
}

function kindOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(NatsError);
    return (err as NatsError).kind;
  }
  throw new Error('expected a throw');
}

describe('HeaderMap', () => {
  it('keeps several values per name, in order', () => {
    const h = new HeaderMap();
    h.append('Trace', 'a');
    h.append('Trace', 'b');
    expect(h.get('Trace')).toBe('a');
    expect(h.getAll('Trace')).toEqual(['a', 'b']);
    expect(h.size).toBe(1);
  });

  it('replaces every value on insert', () => {
    const h = HeaderMap.from({ A: ['1', '2'] });
    h.insert('A', '3');
    expect(h.getAll('A')).toEqual(['3']);
  });

  it('preserves case and matches names exactly', () => {
    const h = new HeaderMap();
    h.insert('Content-Type', 'x');
    h.insert('content-type', 'y');
    expect(h.get('Content-Type')).toBe('x');
    expect(h.get('content-type')).toBe('y');
    expect(h.has('CONTENT-TYPE')).toBe(false);
    expect([...h.keys()]).toEqual(['Content-Type', 'content-type']);
  });

  it('iterates one pair per value: names in first-added order, values in added order', () => {
    const h = new HeaderMap();
    h.insert('B', '1');
    h.append('A', '2');
    h.append('B', '3');
    expect([...h]).toEqual([
      ['B', '1'],
      ['B', '3'],
      ['A', '2'],
    ]);
  });

  it('deletes names and reports absence', () => {
    const h = HeaderMap.from([
      ['A', '1'],
      ['B', '2'],
    ]);
    expect(h.delete('A')).toBe(true);
    expect(h.delete('A')).toBe(false);
    expect(h.has('A')).toBe(false);
    expect(h.get('A')).toBeUndefined();
    expect(h.getAll('A')).toEqual([]);
  });

  it('returns a copy from getAll', () => {
    const h = HeaderMap.from({ A: '1' });
    h.getAll('A').push('2');
    expect(h.getAll('A')).toEqual(['1']);
  });

  it('copies another HeaderMap with from()', () => {
    const h = HeaderMap.from({ A: ['1', '2'], B: '3' });
    expect([...HeaderMap.from(h)]).toEqual([...h]);
  });

  it.each([
    ['empty', ''],
    ['colon', 'A:B'],
    ['space', 'A B'],
    ['tab', 'A\tB'],
    ['newline', 'A\n'],
    ['control character', 'A\u0001'],
  ])('rejects a name with %s', (_, name) => {
    expect(kindOf(() => new HeaderMap().insert(name, 'v'))).toBe('invalidArgument');
    expect(kindOf(() => new HeaderMap().append(name, 'v'))).toBe('invalidArgument');
  });

  it.each([
    ['CR', 'a\rb'],
    ['LF', 'a\nb'],
  ])('rejects a value with %s', (_, value) => {
    expect(kindOf(() => new HeaderMap().insert('A', value))).toBe('invalidArgument');
    expect(kindOf(() => HeaderMap.from({ A: value }))).toBe('invalidArgument');
  });

  it('rejects non-string names and values', () => {
    expect(kindOf(() => new HeaderMap().insert(1 as unknown as string, 'v'))).toBe(
      'invalidArgument',
    );
    expect(kindOf(() => new HeaderMap().append('A', 1 as unknown as string))).toBe(
      'invalidArgument',
    );
  });
});

describe('encodeHeaders', () => {
  it('writes a status line set by setStatusLine, and refuses one that is no status', () => {
    const h = HeaderMap.from({ 'X-Id': '1' });
    setStatusLine(h, 503, 'No Responders');
    expect(dec.decode(encodeHeaders(h))).toBe('NATS/1.0 503 No Responders\r\nX-Id: 1\r\n\r\n');
    const bare = new HeaderMap();
    setStatusLine(bare, 100, '');
    expect(dec.decode(encodeHeaders(bare))).toBe('NATS/1.0 100\r\n\r\n');
    for (const [code, text] of [
      [99, 'x'],
      [1000, 'x'],
      [503.5, 'x'],
      [503, 'a\r\nX-Evil: 1'],
    ] as const) {
      expect(() => setStatusLine(new HeaderMap(), code, text)).toThrow(NatsError);
    }
  });

  it('writes the version line, one line per value and a blank line', () => {
    const h = HeaderMap.from({ 'X-Id': '1', Trace: ['a', 'b'] });
    expect(dec.decode(encodeHeaders(h))).toBe(
      'NATS/1.0\r\nX-Id: 1\r\nTrace: a\r\nTrace: b\r\n\r\n',
    );
  });

  it('encodes an empty map', () => {
    expect(dec.decode(encodeHeaders(new HeaderMap()))).toBe('NATS/1.0\r\n\r\n');
  });

  it('writes non-ASCII values as UTF-8', () => {
    expect(dec.decode(encodeHeaders(HeaderMap.from({ Ü: 'ünï 😀' })))).toBe(
      'NATS/1.0\r\nÜ: ünï 😀\r\n\r\n',
    );
  });
});

describe('decodeHeaders', () => {
  it('round-trips multi-valued, case-distinct headers', () => {
    const h = new HeaderMap();
    h.append('Foo', 'one');
    h.append('foo', 'two');
    h.append('Foo', 'three: with colon');
    h.append('Empty', '');
    const out = decodeHeaders(encodeHeaders(h), 0, encodeHeaders(h).length);
    expect([...out.headers]).toEqual([...h]);
    expect(out.status).toBeUndefined();
    expect(out.description).toBeUndefined();
  });

  it('round-trips any valid map', () => {
    const name = fc.stringMatching(/^[!-9;-~]{1,10}$/);
    const value = fc.stringMatching(/^[^\s][^\r\n]{0,20}$|^$/);
    fc.assert(
      fc.property(fc.array(fc.tuple(name, value), { maxLength: 10 }), (pairs) => {
        const h = HeaderMap.from(pairs);
        const block = encodeHeaders(h);
        expect([...decodeHeaders(block, 0, block.length).headers]).toEqual([...h]);
      }),
    );
  });

  it('reads a bare status', () => {
    const out = decodeText('NATS/1.0 503\r\n\r\n');
    expect(out.status).toBe(503);
    expect(out.description).toBeUndefined();
    expect(out.headers.size).toBe(0);
  });

  it('reads a status with a description and headers', () => {
    const out = decodeText('NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\n\r\n');
    expect(out).toMatchObject({ status: 408, description: 'Request Timeout' });
    expect(out.headers.get('Nats-Pending-Messages')).toBe('1');
  });

  it('trims leading whitespace from values and accepts bare LF', () => {
    const out = decodeText('NATS/1.0\nA:\t  x y\nB:z\n\n');
    expect([...out.headers]).toEqual([
      ['A', 'x y'],
      ['B', 'z'],
    ]);
  });

  // Lenient, as nats.js: what does not parse is skipped, the rest is kept, nothing throws.
  it.each([
    ['a line without a colon', 'NATS/1.0\r\nNoColon\r\nA: 1\r\n\r\n', [['A', '1']]],
    ['an empty name', 'NATS/1.0\r\n: v\r\nA: 1\r\n\r\n', [['A', '1']]],
    ['a name with a space', 'NATS/1.0\r\nA B: v\r\nC: 1\r\n\r\n', [['C', '1']]],
    ['a name with a control character', 'NATS/1.0\r\nA\u0001: v\r\nC: 1\r\n\r\n', [['C', '1']]],
    [
      'a bare CR inside a line',
      'NATS/1.0\r\nA: x\ry\r\nB: 2\r\n\r\n',
      [
        ['A', 'x'],
        ['B', '2'],
      ],
    ],
    [
      'bare CRs as line ends',
      'NATS/1.0\rA: 1\rB: 2\r\r',
      [
        ['A', '1'],
        ['B', '2'],
      ],
    ],
    [
      'bare LFs and a CR before the LF',
      'NATS/1.0\nA: 1\r\nB: 2\n\n',
      [
        ['A', '1'],
        ['B', '2'],
      ],
    ],
    [
      'an empty line in the middle',
      'NATS/1.0\r\nA: 1\r\n\r\nB: 2\r\n\r\n',
      [
        ['A', '1'],
        ['B', '2'],
      ],
    ],
    [
      'no status line',
      'A: 1\r\nB: 2\r\n\r\n',
      [
        ['A', '1'],
        ['B', '2'],
      ],
    ],
    ['another first line', 'HTTP/1.1 200\r\nA: 1\r\n\r\n', [['A', '1']]],
    ['a glued version', 'NATS/1.01\r\nA: 1\r\n\r\n', [['A', '1']]],
    ['no final empty line', 'NATS/1.0\r\nA: 1', [['A', '1']]],
    ['nothing at all', '', []],
  ])('%s: what does not parse is skipped, the rest kept', (_, text, pairs) => {
    const out = decodeText(text);
    expect([...out.headers]).toEqual(pairs);
    expect(out.status).toBeUndefined();
  });

  it.each([
    ['a bad status', 'NATS/1.0 50x\r\nA: 1\r\n\r\n'],
    ['a short status', 'NATS/1.0 50\r\nA: 1\r\n\r\n'],
    ['a long status', 'NATS/1.0 5030 Busy\r\nA: 1\r\n\r\n'],
  ])('leaves out %s, keeps the headers', (_, text) => {
    const out = decodeText(text);
    expect(out.status).toBeUndefined();
    expect(out.description).toBeUndefined();
    expect([...out.headers]).toEqual([['A', '1']]);
  });

  it('decodes bytes that are not UTF-8 to U+FFFD', () => {
    const bytes = Uint8Array.from([
      ...enc.encode('NATS/1.0\r\nX-'),
      0xff,
      ...enc.encode(': a'),
      0xc3,
      0x28,
      ...enc.encode('\r\nB: 2\r\n\r\n'),
    ]);
    const out = decodeHeaders(bytes, 0, bytes.length);
    expect([...out.headers]).toEqual([
      ['X-\ufffd', 'a\ufffd('],
      ['B', '2'],
    ]);
  });

  it('keeps the status of NATS/1.0 408 Request Timeout with bare LFs and trailing blanks', () => {
    const out = decodeText('NATS/1.0   408   Request Timeout  \nA: 1\n\n');
    expect(out).toMatchObject({ status: 408, description: 'Request Timeout' });
    expect([...out.headers]).toEqual([['A', '1']]);
  });

  it('never throws, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const out = decodeHeaders(bytes, 0, bytes.length);
        for (const [name, value] of out.headers) {
          // The rule of HeaderMap's names: no ':', ASCII blank, control or DEL. `\s` would also
          // match Unicode spaces such as U+00A0, which a name may hold (bytes C2 A0 3A failed so).
          const bad = [...name].some((c) => c <= ' ' || c === '\x7f' || c === ':');
          expect(bad, JSON.stringify(name)).toBe(false);
          expect(value).not.toMatch(/[\r\n]/);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
