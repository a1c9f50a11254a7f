import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeConnect,
  encodePubLine,
  encodeSub,
  encodeUnsub,
  hpubLength,
  PING,
  PONG,
  pubLength,
  pubLineWords,
  writeHpub,
  writePub,
  writePubWithLine,
  writePubWithLineWords,
} from '../../src/shared/protocol/encode.js';
import { utf8Length } from '../../src/shared/protocol/utf8.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Sizes with pubLength, writes at an offset between canaries, returns the written text. */
function pub(subject: string, reply: string | undefined, payload: string): string {
  const body = enc.encode(payload);
  const n = pubLength(utf8Length(subject), reply ? utf8Length(reply) : 0, body.length);
  const buf = new Uint8Array(n + 6).fill(0xee);
  expect(writePub(buf, 3, subject, reply, body)).toBe(3 + n);
  expect([buf[2], buf[n + 3]]).toEqual([0xee, 0xee]);
  return dec.decode(buf.subarray(3, 3 + n));
}

function hpub(subject: string, reply: string | undefined, header: string, payload: string) {
  const hdr = enc.encode(header);
  const body = enc.encode(payload);
  const replyBytes = reply ? utf8Length(reply) : 0;
  const n = hpubLength(utf8Length(subject), replyBytes, hdr.length, body.length);
  const buf = new Uint8Array(n + 6).fill(0xee);
  expect(writeHpub(buf, 3, subject, reply, hdr, body)).toBe(3 + n);
  expect([buf[2], buf[n + 3]]).toEqual([0xee, 0xee]);
  return dec.decode(buf.subarray(3, 3 + n));
}

describe('PUB', () => {
  it('a cached line (encodePubLine + writePubWithLine) writes what writePub writes', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.option(fc.string({ minLength: 1, maxLength: 40 }), { nil: undefined }),
        fc.uint8Array({ maxLength: 300 }),
        fc.integer({ min: 0, max: 7 }),
        (subject, reply, payload, pad) => {
          const replyBytes = reply ? utf8Length(reply) : 0;
          const n = pubLength(utf8Length(subject), replyBytes, payload.length, pad);
          const whole = new Uint8Array(n + 6).fill(0xee);
          expect(writePub(whole, 3, subject, reply, payload, pad)).toBe(3 + n);
          const line = encodePubLine(subject, reply, payload.length, pad);
          const cached = new Uint8Array(n + 6).fill(0xee);
          expect(writePubWithLine(cached, 3, line, payload)).toBe(3 + n);
          expect(cached).toEqual(whole);
        },
      ),
    );
  });

  it('a line stored as words (writePubWithLineWords) writes what writePub writes, nothing past it', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.option(fc.string({ minLength: 1, maxLength: 40 }), { nil: undefined }),
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        fc.integer({ min: 0, max: 7 }),
        fc.nat(7),
        (subject, reply, payload, pad, off) => {
          const replyBytes = reply ? utf8Length(reply) : 0;
          const n = pubLength(utf8Length(subject), replyBytes, payload.length, pad);
          const whole = new Uint8Array(n + 16).fill(0xee);
          writePub(whole, off, subject, reply, payload, pad);
          const line = encodePubLine(subject, reply, payload.length, pad);
          const words = new Uint8Array(n + 16).fill(0xee);
          const view = new DataView(words.buffer);
          const end = writePubWithLineWords(
            words,
            view,
            off,
            line.length,
            pubLineWords(line),
            payload,
          );
          expect(end).toBe(off + n);
          expect(words).toEqual(whole);
        },
      ),
    );
  });

  it('writes PUB without a reply', () => {
    expect(pub('foo.bar', undefined, 'hello')).toBe('PUB foo.bar 5\r\nhello\r\n');
  });

  it('pads with blanks before the size, nowhere else', () => {
    const body = enc.encode('hi');
    const n = pubLength(3, 0, 2, 5);
    const buf = new Uint8Array(n);
    expect(writePub(buf, 0, 'foo', undefined, body, 5)).toBe(n);
    expect(dec.decode(buf)).toBe('PUB foo      2\r\nhi\r\n');
  });

  it('writes PUB with a reply', () => {
    expect(pub('foo', '_INBOX.abc', 'hi')).toBe('PUB foo _INBOX.abc 2\r\nhi\r\n');
  });

  it('treats an empty reply as none', () => {
    expect(pub('foo', '', 'hi')).toBe('PUB foo 2\r\nhi\r\n');
  });

  it('writes an empty payload', () => {
    expect(pub('foo', undefined, '')).toBe('PUB foo 0\r\n\r\n');
  });

  it('writes non-ASCII subjects and payloads as UTF-8', () => {
    expect(pub('ünï.😀', 'rép', 'çà')).toBe('PUB ünï.😀 rép 4\r\nçà\r\n');
  });

  it('writes multi-digit lengths', () => {
    const payload = 'x'.repeat(1234);
    expect(pub('a', undefined, payload)).toBe(`PUB a 1234\r\n${payload}\r\n`);
  });

  it('pubLength equals the bytes written for any input', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', minLength: 1 }),
        fc.option(fc.string({ unit: 'grapheme', minLength: 1 }), { nil: undefined }),
        fc.uint8Array({ maxLength: 2000 }),
        (subject, reply, payload) => {
          const n = pubLength(utf8Length(subject), reply ? utf8Length(reply) : 0, payload.length);
          const buf = new Uint8Array(n + 16);
          expect(writePub(buf, 7, subject, reply, payload)).toBe(7 + n);
          const replyPart = reply ? `${reply} ` : '';
          const head = enc.encode(`PUB ${subject} ${replyPart}${payload.length}\r\n`);
          expect(buf.subarray(7, 7 + head.length)).toEqual(head);
          expect(buf.subarray(7 + head.length, 5 + n)).toEqual(payload);
        },
      ),
    );
  });
});

describe('HPUB', () => {
  const header = 'NATS/1.0\r\nA: b\r\n\r\n';

  it('writes HPUB without a reply', () => {
    expect(hpub('foo', undefined, header, 'hello')).toBe(`HPUB foo 18 23\r\n${header}hello\r\n`);
  });

  it('writes HPUB with a reply', () => {
    expect(hpub('foo', 'bar', header, '')).toBe(`HPUB foo bar 18 18\r\n${header}\r\n`);
  });

  it('writes non-ASCII subjects', () => {
    expect(hpub('ü', 'é', header, 'x')).toBe(`HPUB ü é 18 19\r\n${header}x\r\n`);
  });

  it('hpubLength equals the bytes written for any input', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', minLength: 1 }),
        fc.option(fc.string({ unit: 'grapheme', minLength: 1 }), { nil: undefined }),
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ maxLength: 2000 }),
        (subject, reply, hdr, payload) => {
          const replyBytes = reply ? utf8Length(reply) : 0;
          const n = hpubLength(utf8Length(subject), replyBytes, hdr.length, payload.length);
          const buf = new Uint8Array(n);
          expect(writeHpub(buf, 0, subject, reply, hdr, payload)).toBe(n);
          expect(buf.subarray(n - 2)).toEqual(enc.encode('\r\n'));
        },
      ),
    );
  });
});

describe('control ops', () => {
  it('encodes SUB with and without a queue group', () => {
    expect(dec.decode(encodeSub('foo.*', undefined, 1))).toBe('SUB foo.* 1\r\n');
    expect(dec.decode(encodeSub('foo.>', 'workers', 42))).toBe('SUB foo.> workers 42\r\n');
    expect(dec.decode(encodeSub('ünï', 'q', 7))).toBe('SUB ünï q 7\r\n');
  });

  it('encodes UNSUB with and without a max', () => {
    expect(dec.decode(encodeUnsub(1))).toBe('UNSUB 1\r\n');
    expect(dec.decode(encodeUnsub(12, 100))).toBe('UNSUB 12 100\r\n');
    expect(dec.decode(encodeUnsub(3, 0))).toBe('UNSUB 3 0\r\n');
  });

  it('encodes CONNECT as JSON without undefined fields', () => {
    const bytes = encodeConnect({ verbose: false, name: undefined, lang: 'node', echo: true });
    expect(dec.decode(bytes)).toBe('CONNECT {"verbose":false,"lang":"node","echo":true}\r\n');
  });

  it('has PING and PONG', () => {
    expect(dec.decode(PING)).toBe('PING\r\n');
    expect(dec.decode(PONG)).toBe('PONG\r\n');
  });
});
