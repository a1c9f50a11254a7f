/**
 * Random server byte streams for the parser fuzz (fast-check arbitraries): a transcript of
 * valid ops as nats-server writes them (and a little more leniently: case, blanks, bare LF),
 * then mutated (bytes flipped, inserted, deleted, duplicated, numbers swapped for hostile
 * ones, the stream cut short) and split into chunks at random points.
 */
import fc from 'fast-check';

/** One case: the bytes a server sends, and where the socket cuts them into chunks. */
export interface ServerStream {
  bytes: Uint8Array;
  /** No mutation was applied: the stream is valid protocol (a check on this generator). */
  valid: boolean;
  /** Sorted chunk boundaries inside `bytes` (0 < cut < length), without repeats. */
  cuts: number[];
}

const enc = new TextEncoder();

const SUBJECT_CHARS = 'abcxyzABC019._-*>$'.split('');
const subject = fc.oneof(
  fc.constantFrom('foo', 'fuzz.a', 'fuzz.b.c', '_INBOX.abc.1', '$JS.API.INFO', '>'),
  fc.string({ unit: fc.constantFrom(...SUBJECT_CHARS), minLength: 1, maxLength: 12 }),
);
/** sids 1..3 are the end-to-end client's subscriptions; any other is unknown to it. */
const sid = fc.oneof(fc.constantFrom(1, 2, 3), fc.nat());
const blank = fc.constantFrom(' ', ' ', ' ', '\t', '  ', ' \t');
const eol = fc.constantFrom('\r\n', '\r\n', '\r\n', '\n');
const upper = fc.boolean();

/**
 * Mostly small payloads; now and then one larger than the parser's initial buffer (64 KiB),
 * so that its growth and reset are exercised too.
 */
const payload = fc.oneof(
  { weight: 40, arbitrary: fc.uint8Array({ maxLength: 48 }) },
  { weight: 1, arbitrary: fc.integer({ min: 60_000, max: 70_000 }).map((n) => new Uint8Array(n)) },
);

const headerName = fc.constantFrom('Nats-Msg-Id', 'X', 'a b', '', ':', 'Nats-Expected-Stream');
const headerLine = fc.oneof(
  fc.tuple(headerName, fc.constantFrom('', ' v', ': 1', ':  x y', '\u00ff')).map(([n, v]) => n + v),
  fc.string({ maxLength: 16 }),
);
const statusLine = fc.constantFrom(
  'NATS/1.0',
  'NATS/1.0 503',
  'NATS/1.0 408 Request Timeout',
  'NATS/1.0 100 Idle Heartbeat',
  'NATS/2.0',
  'HTTP/1.1 200 OK',
  '',
);
const headerBlock = fc
  .tuple(statusLine, fc.array(headerLine, { maxLength: 4 }), eol)
  .map(([status, lines, nl]) => enc.encode(`${[status, ...lines].join(nl)}${nl}${nl}`));

const infoValue = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 12 }),
  fc.array(fc.string({ maxLength: 12 }), { maxLength: 4 }),
  // Keys an object's conversion to a string or number looks up, too.
  fc.dictionary(
    fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('toString', 'valueOf')),
    fc.integer(),
    {
      maxKeys: 3,
    },
  ),
);
const INFO_KEYS = [
  'server_id',
  'server_name',
  'version',
  'proto',
  'host',
  'port',
  'max_payload',
  'headers',
  'auth_required',
  'tls_required',
  'tls_available',
  'connect_urls',
  'nonce',
  'ldm',
  'client_id',
  'client_ip',
  'cluster',
  'jetstream',
  '__proto__',
  'constructor',
  'toString',
];
const infoJson = fc.oneof(
  { weight: 4, arbitrary: fc.dictionary(fc.constantFrom(...INFO_KEYS), infoValue, { maxKeys: 8 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), infoValue, { maxKeys: 4 }) },
  {
    weight: 1,
    arbitrary: fc
      .array(
        fc.oneof(
          fc.constantFrom('nats://10.0.0.1:4222', '10.0.0.2:4222', '[::1]:4222', 'x', ''),
          infoValue,
        ),
        { maxLength: 50 },
      )
      .map((urls) => ({ connect_urls: urls, max_payload: 1048576 })),
  },
);

const ERRORS = [
  '\'Permissions Violation for Publish to "foo"\'',
  "'Stale Connection'",
  "'Authorization Violation'",
  "'Maximum Payload Violation'",
  "'Unknown Protocol Operation'",
  "'Slow Consumer'",
  "''",
  "'",
  '',
];

/** The op name as written: upper or lower case. */
const name = (op: string, up: boolean): string => (up ? op : op.toLowerCase());
const text = (s: string): Uint8Array => enc.encode(s);

const msgOp = fc
  .record({
    up: upper,
    b: fc.array(blank, { minLength: 4, maxLength: 4 }),
    subject,
    sid,
    reply: fc.option(subject, { nil: undefined }),
    payload,
    nl: eol,
  })
  .map(({ up, b, subject, sid, reply, payload, nl }) => {
    const r = reply === undefined ? '' : `${reply}${b[2]}`;
    const line = `${name('MSG', up)}${b[0]}${subject}${b[1]}${sid}${b[2]}${r}${payload.length}${nl}`;
    return concat([text(line), payload, text('\r\n')]);
  });

const hmsgOp = fc
  .record({
    up: upper,
    b: fc.array(blank, { minLength: 5, maxLength: 5 }),
    subject,
    sid,
    reply: fc.option(subject, { nil: undefined }),
    headers: headerBlock,
    payload,
    nl: eol,
  })
  .map(({ up, b, subject, sid, reply, headers, payload, nl }) => {
    const r = reply === undefined ? '' : `${reply}${b[2]}`;
    const sizes = `${headers.length}${b[3]}${headers.length + payload.length}`;
    const line = `${name('HMSG', up)}${b[0]}${subject}${b[1]}${sid}${b[2]}${r}${sizes}${nl}`;
    return concat([text(line), headers, payload, text('\r\n')]);
  });

const otherOp = fc.oneof(
  fc.tuple(upper, eol).map(([up, nl]) => text(`${name('PING', up)}${nl}`)),
  fc.tuple(upper, eol).map(([up, nl]) => text(`${name('PONG', up)}${nl}`)),
  fc.tuple(upper, eol).map(([up, nl]) => text(`${name('+OK', up)}${nl}`)),
  fc
    .tuple(upper, fc.oneof(fc.constantFrom(...ERRORS), fc.string({ maxLength: 24 })), eol)
    .map(([up, message, nl]) => text(`${name('-ERR', up)} ${message}${nl}`)),
  fc
    .tuple(upper, blank, infoJson, eol)
    .map(([up, b, info, nl]) => text(`${name('INFO', up)}${b}${JSON.stringify(info)}${nl}`)),
);

/** A transcript of valid ops (MSG and HMSG most often). */
export const transcript: fc.Arbitrary<Uint8Array> = fc
  .array(
    fc.oneof(
      { weight: 4, arbitrary: msgOp },
      { weight: 2, arbitrary: hmsgOp },
      { weight: 3, arbitrary: otherOp },
    ),
    { maxLength: 16 },
  )
  .map(concat);

/** Bytes a mutation may insert: protocol fragments, hostile numbers, line ends. */
const FRAGMENTS = [
  '\r\n',
  '\r',
  '\n',
  ' ',
  '\t',
  '\0',
  'MSG ',
  'HMSG ',
  'INFO ',
  'PING\r\n',
  '-ERR ',
  '{',
  '"',
  '99999999999999999999',
  '4294967296',
  '9007199254740993',
  '-1',
  '0',
  '\u00ff\u00fe',
].map(text);

type Mutation =
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'duplicate'; at: number; length: number }
  | { kind: 'truncate'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('set' as const),
    at: fc.nat(),
    byte: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x0d, 0x0a, 0x20, 0x30)),
  }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.oneof(fc.constantFrom(...FRAGMENTS), fc.uint8Array({ minLength: 1, maxLength: 8 })),
  }),
  fc.record({
    kind: fc.constant('delete' as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 16 }),
  }),
  fc.record({
    kind: fc.constant('duplicate' as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 64 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

function mutate(input: Uint8Array, m: Mutation): Uint8Array {
  const at = input.length === 0 ? 0 : m.at % (input.length + 1);
  switch (m.kind) {
    case 'set': {
      if (input.length === 0) return input;
      const out = input.slice();
      out[at % input.length] = m.byte;
      return out;
    }
    case 'insert':
      return concat([input.subarray(0, at), m.bytes, input.subarray(at)]);
    case 'delete':
      return concat([input.subarray(0, at), input.subarray(at + m.length)]);
    case 'duplicate':
      return concat([input.subarray(0, at + m.length), input.subarray(at)]);
    case 'truncate':
      return input.subarray(0, at);
  }
}

/**
 * A transcript, left valid in one case of five, otherwise mutated one to four times, cut into
 * chunks at up to 16 random points (or byte by byte, when it is short).
 */
export const serverStream: fc.Arbitrary<ServerStream> = fc
  .record({
    ops: transcript,
    mutations: fc.oneof(
      { weight: 1, arbitrary: fc.constant([] as Mutation[]) },
      { weight: 4, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 4 }) },
    ),
    cuts: fc.array(fc.nat(), { maxLength: 16 }),
    byteByByte: fc.nat(15).map((n) => n === 0),
  })
  .map(({ ops, mutations, cuts, byteByByte }) => {
    const bytes = mutations.reduce(mutate, ops);
    const valid = mutations.length === 0;
    if (byteByByte && bytes.length <= 512) {
      const every = Array.from({ length: Math.max(0, bytes.length - 1) }, (_, i) => i + 1);
      return { bytes, valid, cuts: every };
    }
    const inside = cuts.map((c) => c % (bytes.length + 1)).filter((c) => c > 0 && c < bytes.length);
    return { bytes, valid, cuts: [...new Set(inside)].sort((a, b) => a - b) };
  });

/** The chunks of `stream`, as fresh copies (a socket hands over new buffers). */
export function chunksOf(stream: ServerStream): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const cut of [...stream.cuts, stream.bytes.length]) {
    if (cut > from) chunks.push(stream.bytes.slice(from, cut));
    from = cut;
  }
  return chunks;
}

function concat(parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
