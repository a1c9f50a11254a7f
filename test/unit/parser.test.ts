import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NatsError } from '../../src/shared/errors.js';
import {
  type MsgView,
  Parser,
  type ParserOptions,
  type ParserSink,
} from '../../src/shared/protocol/parser.js';

const enc = new TextEncoder();

/** A byte string: one char per byte, so binary payloads compare exactly. */
function bytes(buf: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]);
  return s;
}

type Event =
  | { op: 'msg'; subject: string; sid: number; reply?: string; header?: string; payload: string }
  | { op: 'info'; info: Record<string, unknown> }
  | { op: 'ping' | 'pong' | 'ok' }
  | { op: 'err'; message: string };

/** Records copies of everything, and checks the view's invariants while it is valid. */
class Recorder implements ParserSink {
  readonly events: Event[] = [];
  readonly bufs: Uint8Array[] = [];
  /** MsgView.repeated of each MSG/HMSG. */
  readonly repeated: boolean[] = [];

  onMsg(m: MsgView): void {
    expect(m.payloadStart).toBe(m.headerEnd);
    expect(m.headerStart <= m.headerEnd && m.payloadStart <= m.payloadEnd).toBe(true);
    if (!m.hasHeaders) expect(m.headerEnd).toBe(m.headerStart);
    const e: Event = {
      op: 'msg',
      subject: bytes(m.buf, m.subjectStart, m.subjectEnd),
      sid: m.sid,
      payload: bytes(m.buf, m.payloadStart, m.payloadEnd),
    };
    if (m.replyEnd > m.replyStart) e.reply = bytes(m.buf, m.replyStart, m.replyEnd);
    if (m.hasHeaders) e.header = bytes(m.buf, m.headerStart, m.headerEnd);
    this.events.push(e);
    this.bufs.push(m.buf);
    this.repeated.push(m.repeated);
  }
  onInfo(info: Record<string, unknown>): void {
    this.events.push({ op: 'info', info });
  }
  onPing(): void {
    this.events.push({ op: 'ping' });
  }
  onPong(): void {
    this.events.push({ op: 'pong' });
  }
  onOk(): void {
    this.events.push({ op: 'ok' });
  }
  onErr(message: string): void {
    this.events.push({ op: 'err', message });
  }
}

/** Feeds `input` cut at `cuts` (sorted offsets) to a fresh parser; returns the recorder. */
function feed(input: Uint8Array, cuts: number[], options?: ParserOptions) {
  const rec = new Recorder();
  const parser = new Parser(rec, options);
  let from = 0;
  for (const cut of [...cuts, input.length]) {
    // Copy each chunk, as a socket would hand over fresh buffers.
    parser.push(input.slice(from, cut));
    from = cut;
  }
  return rec;
}

function byteAtATime(input: Uint8Array): number[] {
  return Array.from({ length: input.length - 1 }, (_, i) => i + 1);
}

const HDR = 'NATS/1.0\r\nA: b\r\nA: c\r\n\r\n';
const STATUS_HDR = 'NATS/1.0 503\r\n\r\n';

const transcript = [
  'INFO {"server_id":"abc","max_payload":1048576,"headers":true}\r\n',
  'PING\r\n',
  'MSG foo.bar 1 5\r\nhello\r\n',
  'MSG foo.bar 22 _INBOX.x.y 3\r\nabc\r\n',
  'MSG zero 3 0\r\n\r\n',
  'MSG tricky 4 17\r\nMSG x 1 2\r\n\r\nPING\r\n',
  `HMSG hdr.sub 5 ${HDR.length} ${HDR.length + 2}\r\n${HDR}hi\r\n`,
  `HMSG hdr.sub 6 reply.to ${STATUS_HDR.length} ${STATUS_HDR.length}\r\n${STATUS_HDR}\r\n`,
  'PONG\r\n',
  '+OK\r\n',
  "-ERR 'Authorization Violation'\r\n",
  'msg lower 7 2\r\nok\r\n',
  'hmsg lower.h 8 12 12\r\nNATS/1.0\r\n\r\n\r\n',
  'ping\r\npong\r\n+ok\r\n',
  'MSG\ttabs \t 9\t  r  1\r\nx\r\n',
  '-err \'Permissions Violation for Publish to "x"\'\r\n',
  'info {"nonce":"n"}\r\n',
  'PING\n',
].join('');

const expected: Event[] = [
  { op: 'info', info: { server_id: 'abc', max_payload: 1048576, headers: true } },
  { op: 'ping' },
  { op: 'msg', subject: 'foo.bar', sid: 1, payload: 'hello' },
  { op: 'msg', subject: 'foo.bar', sid: 22, reply: '_INBOX.x.y', payload: 'abc' },
  { op: 'msg', subject: 'zero', sid: 3, payload: '' },
  { op: 'msg', subject: 'tricky', sid: 4, payload: 'MSG x 1 2\r\n\r\nPING' },
  { op: 'msg', subject: 'hdr.sub', sid: 5, header: HDR, payload: 'hi' },
  { op: 'msg', subject: 'hdr.sub', sid: 6, reply: 'reply.to', header: STATUS_HDR, payload: '' },
  { op: 'pong' },
  { op: 'ok' },
  { op: 'err', message: 'Authorization Violation' },
  { op: 'msg', subject: 'lower', sid: 7, payload: 'ok' },
  { op: 'msg', subject: 'lower.h', sid: 8, header: 'NATS/1.0\r\n\r\n', payload: '' },
  { op: 'ping' },
  { op: 'pong' },
  { op: 'ok' },
  { op: 'msg', subject: 'tabs', sid: 9, reply: 'r', payload: 'x' },
  { op: 'err', message: 'Permissions Violation for Publish to "x"' },
  { op: 'info', info: { nonce: 'n' } },
  { op: 'ping' },
];

describe('Parser on a transcript of every op', () => {
  const input = enc.encode(transcript);

  it('parses it whole, zero-copy', () => {
    const rec = feed(input, []);
    expect(rec.events).toEqual(expected);
    // Whole messages are views into the pushed chunk itself.
    expect(new Set(rec.bufs).size).toBe(1);
    expect(rec.bufs[0].length).toBe(input.length);
  });

  it('parses it split into two chunks at every byte', () => {
    for (let cut = 0; cut <= input.length; cut++) {
      expect(feed(input, [cut]).events).toEqual(expected);
    }
  });

  it('parses it one byte at a time', () => {
    expect(feed(input, byteAtATime(input)).events).toEqual(expected);
  });

  it('parses it one byte at a time from a 1-byte initial buffer', () => {
    expect(feed(input, byteAtATime(input), { initialBufferSize: 1 }).events).toEqual(expected);
  });

  it('reuses one view object for every message', () => {
    const views = new Set<MsgView>();
    const sink = new Recorder();
    sink.onMsg = (m) => views.add(m);
    const parser = new Parser(sink);
    parser.push(input);
    parser.push(input.slice(0, 40));
    parser.push(input.slice(40));
    expect(views.size).toBe(1);
  });
});

/** One op of a random transcript: its wire bytes (as a byte string) and the expected event. */
type Op = { wire: string; event: Event };

const sep = fc.constantFrom(' ', '  ', '\t', ' \t ');
const token = fc.stringMatching(/^[A-Za-z0-9_.*>$-]{1,12}$/);
const body = fc.uint8Array({ maxLength: 40 }).map((b) => bytes(b, 0, b.length));
const casing = fc.boolean();
const name = (word: string, lower: boolean) => (lower ? word.toLowerCase() : word);

const msgOp: fc.Arbitrary<Op> = fc
  .record({
    lower: casing,
    s: fc.array(sep, { minLength: 4, maxLength: 4 }),
    subject: token,
    sid: fc.nat(),
    reply: fc.option(token, { nil: undefined }),
    header: fc.option(body, { nil: undefined }),
    payload: body,
  })
  .map(({ lower, s, subject, sid, reply, header, payload }) => {
    const r = reply === undefined ? '' : `${reply}${s[2]}`;
    const event: Event = { op: 'msg', subject, sid, payload };
    if (reply !== undefined) event.reply = reply;
    if (header === undefined) {
      const wire = `${name('MSG', lower)}${s[0]}${subject}${s[1]}${sid}${s[2]}${r}${payload.length}`;
      return { wire: `${wire}\r\n${payload}\r\n`, event };
    }
    event.header = header;
    const sizes = `${header.length}${s[3]}${header.length + payload.length}`;
    const wire = `${name('HMSG', lower)}${s[0]}${subject}${s[1]}${sid}${s[2]}${r}${sizes}`;
    return { wire: `${wire}\r\n${header}${payload}\r\n`, event };
  });

const otherOp: fc.Arbitrary<Op> = fc.oneof(
  casing.map((l) => ({ wire: `${name('PING', l)}\r\n`, event: { op: 'ping' } as Event })),
  casing.map((l) => ({ wire: `${name('PONG', l)}\r\n`, event: { op: 'pong' } as Event })),
  casing.map((l) => ({ wire: `${name('+OK', l)}\r\n`, event: { op: 'ok' } as Event })),
  fc.stringMatching(/^[A-Za-z0-9 ]{0,30}$/).map((text) => {
    const message = text.trim();
    return { wire: `-ERR '${message}'\r\n`, event: { op: 'err', message } as Event };
  }),
  fc.dictionary(token, fc.oneof(fc.integer(), fc.boolean(), token)).map((info) => {
    return { wire: `INFO ${JSON.stringify(info)}\r\n`, event: { op: 'info', info } as Event };
  }),
);

describe('Parser on random transcripts', () => {
  it('gives the same events for any chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(msgOp, msgOp, otherOp), { maxLength: 25 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (ops, rawCuts) => {
          const input = Uint8Array.from(ops.map((o) => o.wire).join(''), (c) => c.charCodeAt(0));
          const cuts = [...new Set(rawCuts.map((c) => c % (input.length + 1)))];
          cuts.sort((a, b) => a - b);
          const events = ops.map((o) => o.event);
          expect(feed(input, cuts, { initialBufferSize: 16 }).events).toEqual(events);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives the same events when ops repeat (the repeated-line shortcut)', () => {
    // Runs longer than the parser's pause after a miss, so lines are kept, matched and missed.
    const run = fc.tuple(fc.oneof(msgOp, msgOp, otherOp), fc.integer({ min: 1, max: 40 }));
    fc.assert(
      fc.property(
        fc.array(run, { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (runs, rawCuts) => {
          const ops = runs.flatMap(([op, times]) => Array.from({ length: times }, () => op));
          const input = Uint8Array.from(ops.map((o) => o.wire).join(''), (c) => c.charCodeAt(0));
          const cuts = [...new Set(rawCuts.map((c) => c % (input.length + 1)))];
          cuts.sort((a, b) => a - b);
          const rec = feed(input, cuts);
          expect(rec.events).toEqual(ops.map((o) => o.event));
          // `repeated` promises the previous MSG's line: what the line says is the same.
          const lines = rec.events.flatMap((e) =>
            e.op === 'msg' ? [[e.subject, e.sid, e.reply, e.header, e.payload.length]] : [],
          );
          rec.repeated.forEach((repeated, i) => {
            if (repeated) expect(lines[i]).toEqual(lines[i - 1]);
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('marks a MSG whose line repeats the previous one’s, from the line it keeps on', () => {
    const text = `${'MSG a 1 1\r\nx\r\n'.repeat(3)}PING\r\n${'MSG b 1 1\r\nx\r\n'.repeat(19)}`;
    // a: kept, then taken twice (a PING between changes nothing); b: a miss, the pause of 16
    // lines parsed in full, then kept, then taken.
    expect(feed(enc.encode(text), []).repeated).toEqual([
      ...[false, true, true],
      ...Array.from({ length: 17 }, () => false),
      ...[false, true],
    ]);
  });

  it('tells a repeated line from one of the same length with other fields', () => {
    const lines = ['MSG a 12 3\r\nabc\r\n', 'MSG a 21 3\r\nxyz\r\n', 'MSG b 12 3\r\nabc\r\n'];
    const text = lines.flatMap((line) => Array.from({ length: 20 }, () => line)).join('');
    const events = feed(enc.encode(text), []).events as { subject: string; sid: number }[];
    expect(events.map((e) => `${e.subject} ${e.sid}`)).toEqual(
      ['a 12', 'a 21', 'b 12'].flatMap((e) => Array.from({ length: 20 }, () => e)),
    );
  });
});

describe('Parser on malformed input', () => {
  const cases: [string, string, ParserOptions?][] = [
    ['unknown op', 'FOO bar\r\n'],
    ['op prefix', 'MSGX foo 1 1\r\nx\r\n'],
    ['empty line', '\r\n'],
    ['bad sid', 'MSG foo x1 5\r\nhello\r\n'],
    ['negative size', 'MSG foo 1 -5\r\n'],
    ['overlong size', 'MSG foo 1 99999999999999999999\r\n'],
    ['too few args', 'MSG foo 1\r\n'],
    ['too many args', 'MSG foo 1 a b 5\r\nhello\r\n'],
    ['HMSG too many args', 'HMSG foo 1 r 2 2 9\r\n'],
    ['HMSG too few args', 'HMSG foo 1 5\r\nhello\r\n'],
    ['hdrLen > totalLen', 'HMSG foo 1 10 5\r\nhello\r\n'],
    ['missing CRLF after payload', 'MSG foo 1 3\r\nabcXY'],
    ['stray CR', 'MSG foo 1\r 3\r\nabc\r\n'],
    ['LF only after payload', 'MSG foo 1 3\r\nabc\nPING\r\n'],
    ['bad INFO JSON', 'INFO {bad json}\r\n'],
    ['INFO not an object', 'INFO [1,2]\r\n'],
    ['PING with args', 'PING now\r\n'],
    ['size over maxPayload', 'MSG foo 1 11\r\n', { maxPayload: 10 }],
    ['overlong control line', `MSG ${'a'.repeat(100)} 1 1\r\nx\r\n`, { maxControlLine: 32 }],
    ['control line never ends', `-ERR '${'x'.repeat(100)}`, { maxControlLine: 32 }],
    ['INFO line never ends', `INFO ${'{'.repeat(100)}`, { maxControlLine: 16, maxInfoLine: 32 }],
    [
      'INFO line too long',
      `INFO {"a":"${'x'.repeat(100)}"}\r\n`,
      { maxControlLine: 16, maxInfoLine: 32 },
    ],
  ];

  it.each(cases)('rejects %s with a protocol error, whole and byte by byte', (_, text, opts) => {
    const input = enc.encode(text);
    for (const cuts of [[], byteAtATime(input)]) {
      let err: unknown;
      try {
        feed(input, cuts, opts);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(NatsError);
      expect((err as NatsError).kind).toBe('protocol');
      // The message quotes at most ~64 bytes of input.
      expect((err as NatsError).message.length).toBeLessThan(200);
    }
  });

  it('takes an INFO line longer than maxControlLine, up to maxInfoLine, whole and byte by byte', () => {
    const urls = Array.from({ length: 10 }, (_, i) => `10.0.0.${i}:4222`);
    const input = enc.encode(`INFO ${JSON.stringify({ connect_urls: urls })}\r\nPING\r\n`);
    const options = { maxControlLine: 32, maxInfoLine: 1024 };
    for (const cuts of [[], byteAtATime(input)]) {
      expect(feed(input, cuts, options).events).toEqual([
        { op: 'info', info: { connect_urls: urls } },
        { op: 'ping' },
      ]);
    }
  });

  it('quotes the offending input', () => {
    const parser = new Parser(new Recorder());
    expect(() => parser.push(enc.encode('BOGUS 1 2\r\n'))).toThrow(/"BOGUS 1 2"/);
  });

  it('keeps the JSON error as the cause', () => {
    const parser = new Parser(new Recorder());
    try {
      parser.push(enc.encode('INFO {\r\n'));
      expect.unreachable();
    } catch (err) {
      expect((err as NatsError).cause).toBeInstanceOf(SyntaxError);
    }
  });

  it('refuses input after an error until reset, then works again', () => {
    const rec = new Recorder();
    const parser = new Parser(rec);
    expect(() => parser.push(enc.encode('MSG foo 1 2\r\nabcd'))).toThrow(NatsError);
    expect(() => parser.push(enc.encode('PING\r\n'))).toThrow(/reset/);
    parser.reset();
    parser.push(enc.encode('PING\r\nMSG a 1 1\r\nx\r\n'));
    expect(rec.events).toEqual([{ op: 'ping' }, { op: 'msg', subject: 'a', sid: 1, payload: 'x' }]);
  });

  it('forgets a partial op on reset', () => {
    const rec = new Recorder();
    const parser = new Parser(rec);
    parser.push(enc.encode('MSG foo 1 100\r\npartial'));
    parser.reset();
    parser.push(enc.encode('PONG\r\n'));
    expect(rec.events).toEqual([{ op: 'pong' }]);
  });
});
