/**
 * NATS message headers: the {@link HeaderMap} users fill and read, and the `NATS/1.0` header
 * block that HPUB sends and HMSG carries.
 *
 * ```
 * NATS/1.0[ <status>[ <description>]]\r\n
 * Name: value\r\n            (once per value)
 * \r\n
 * ```
 */

import { typeName } from '../describe.js';
import { NatsError } from '../errors.js';
import { isBlank, skipBlank, trimEnd } from './scan.js';
import { decodeString, utf8Length, writeString } from './utf8.js';

const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const COLON = 0x3a;
const DEL = 0x7f;

const VERSION = 'NATS/1.0';
const encoder = new TextEncoder();
const VERSION_BYTES = encoder.encode(VERSION);

/** The status of a reply that says no one is subscribed to the request subject. */
export const NO_RESPONDERS = 503;

/**
 * Multi-valued, case-preserving NATS headers. Names match exactly (`Foo` and `foo` are two
 * headers), as in async-nats.
 *
 * Iteration yields one `[name, value]` pair per value: names in the order they were first
 * added, each name's values in the order they were added.
 *
 * @example
 * const headers = new HeaderMap();
 * headers.insert('Content-Type', 'application/json');
 * headers.append('Trace', 'a');
 * headers.append('Trace', 'b');
 * headers.getAll('Trace'); // ['a', 'b']
 * for (const [name, value] of headers) console.log(name, value);
 */
export class HeaderMap implements Iterable<[string, string]> {
  private readonly map = new Map<string, string[]>();

  /**
   * Builds a map from a record (a string or an array of strings per name) or from
   * `[name, value]` pairs (for example another HeaderMap).
   *
   * @throws NatsError `'invalidArgument'` for a bad name or value.
   * @example
   * HeaderMap.from({ 'X-Id': '1', Trace: ['a', 'b'] });
   */
  static from(init: Record<string, string | string[]> | Iterable<[string, string]>): HeaderMap {
    if (init === null || typeof init !== 'object') {
      throw new NatsError(
        'invalidArgument',
        `HeaderMap.from takes a record or [name, value] pairs, got ${typeName(init)}`,
      );
    }
    const headers = new HeaderMap();
    try {
      fill(headers, init);
    } catch (cause) {
      if (cause instanceof NatsError) throw cause;
      // The caller's iterator, getters or Proxy traps threw, or a pair was no pair.
      throw new NatsError('invalidArgument', 'HeaderMap.from could not read its argument', {
        cause,
      });
    }
    return headers;
  }

  /** Number of distinct names. */
  get size(): number {
    return this.map.size;
  }

  /**
   * Sets `name` to the single `value`, replacing any values it had.
   *
   * @throws NatsError `'invalidArgument'` for a bad name or value.
   */
  insert(name: string, value: string): void {
    checkName(name);
    checkValue(name, value);
    this.map.set(name, [value]);
  }

  /**
   * Adds `value` after the values `name` already has.
   *
   * @throws NatsError `'invalidArgument'` for a bad name or value.
   */
  append(name: string, value: string): void {
    checkName(name);
    checkValue(name, value);
    const values = this.map.get(name);
    if (values === undefined) this.map.set(name, [value]);
    else values.push(value);
  }

  /** The first value of `name`, or `undefined`. */
  get(name: string): string | undefined {
    return this.map.get(name)?.[0];
  }

  /** Every value of `name` (a copy), in order; empty if absent. */
  getAll(name: string): string[] {
    return this.map.get(name)?.slice() ?? [];
  }

  /** Whether `name` has at least one value. */
  has(name: string): boolean {
    return this.map.has(name);
  }

  /** Removes every value of `name`; true if it was present. */
  delete(name: string): boolean {
    return this.map.delete(name);
  }

  /** The distinct names, in first-added order. */
  keys(): IterableIterator<string> {
    return this.map.keys();
  }

  /** Calls `callback` once per value, in iteration order, without allocating pairs. */
  forEach(callback: (value: string, name: string) => void): void {
    if (typeof callback !== 'function') {
      throw new NatsError(
        'invalidArgument',
        `HeaderMap.forEach takes a function, got ${typeName(callback)}`,
      );
    }
    for (const [name, values] of this.map) {
      for (const value of values) callback(value, name);
    }
  }

  /** One `[name, value]` pair per value, in the order described above. */
  *[Symbol.iterator](): Iterator<[string, string]> {
    for (const [name, values] of this.map) {
      for (const value of values) yield [name, value];
    }
  }
}

/**
 * Encodes `headers` as the header block of an HPUB: `NATS/1.0\r\n`, `Name: value\r\n` per
 * value, then `\r\n`.
 *
 * @example
 * encodeHeaders(HeaderMap.from({ 'X-Id': '1' })); // 'NATS/1.0\r\nX-Id: 1\r\n\r\n'
 */
export function encodeHeaders(headers: HeaderMap): Uint8Array {
  const status = statusLines.get(headers);
  let length = VERSION_BYTES.length + (status?.length ?? 0) + 2 + 2;
  headers.forEach((value, name) => {
    length += utf8Length(name) + 2 + utf8Length(value) + 2;
  });
  const out = new Uint8Array(length);
  out.set(VERSION_BYTES);
  let p = VERSION_BYTES.length;
  if (status !== undefined) {
    out.set(status, p);
    p += status.length;
  }
  out[p++] = CR;
  out[p++] = LF;
  headers.forEach((value, name) => {
    p = writeString(out, p, name);
    out[p++] = COLON;
    out[p++] = SPACE;
    p = writeString(out, p, value);
    out[p++] = CR;
    out[p++] = LF;
  });
  out[p] = CR;
  out[p + 1] = LF;
  return out;
}

/**
 * The status a block sends after `NATS/1.0` (` 503 No Responders`), by HeaderMap: set only by
 * {@link setStatusLine}, for nats.js's `headers(code, description)` (the compat layer); held
 * apart so that nothing a user can reach writes a first line.
 */
const statusLines = new WeakMap<HeaderMap, Uint8Array>();

/**
 * Makes `headers` send the status line `NATS/1.0 <code> <description>`.
 *
 * @throws NatsError `'invalidArgument'` unless `code` is a 3-digit integer and `description`
 *   a string without CR or LF.
 */
export function setStatusLine(headers: HeaderMap, code: number, description: string): void {
  if (!Number.isInteger(code) || code < 100 || code > 999) {
    throw new NatsError('invalidArgument', `a header status must be 3 digits, got ${code}`);
  }
  if (typeof description !== 'string' || /[\r\n]/.test(description)) {
    throw new NatsError(
      'invalidArgument',
      'a header status description must be a string without CR or LF',
    );
  }
  const line = description === '' ? ` ${code}` : ` ${code} ${description}`;
  statusLines.set(headers, encoder.encode(line));
}

/** What {@link decodeHeaders} found in a header block. */
export interface DecodedHeaders {
  headers: HeaderMap;
  /** Header lines decoded into `headers` (see {@link decodedHeaderBytes}). */
  lines: number;
  /** The 3-digit status of the `NATS/1.0` line, e.g. 503 for "no responders". */
  status?: number;
  /** The text after the status, e.g. `Request Timeout`. */
  description?: string;
}

/**
 * Decodes the header block `buf[start, end)` of an HMSG, leniently (as nats.js): a message is
 * never dropped for its headers (API.md "Guarantees"). A first line `NATS/1.0[ <status>[
 * <description>]]` gives the status; every other line that reads as `name: value` with a
 * valid name is a header, and what does not (no colon, an empty or blank name, an unknown
 * first line) is skipped. Lines end at CRLF, LF or a bare CR; values lose their leading blanks;
 * bytes that are not UTF-8 decode to U+FFFD.
 *
 * @example
 * const { headers, status } = decodeHeaders(view.buf, view.headerStart, view.headerEnd);
 */
export function decodeHeaders(buf: Uint8Array, start: number, end: number): DecodedHeaders {
  const result: DecodedHeaders = { headers: new HeaderMap(), lines: 0 };
  let p = start;
  while (p < end) {
    // The line [p, eol), and its first ':' (or -1).
    let eol = p;
    let colon = -1;
    for (; eol < end; eol++) {
      const b = buf[eol];
      if (b === CR || b === LF) break;
      if (b === COLON && colon < 0) colon = eol;
    }
    if (p === start && isStatusLine(buf, p, eol)) {
      parseStatusLine(buf, p, eol, result);
    } else if (colon > p && isName(buf, p, colon)) {
      // By construction the value holds no CR or LF and the name only valid bytes; should
      // append refuse one all the same, the line is skipped, never the message.
      const v = skipBlank(buf, colon + 1, eol);
      try {
        result.headers.append(decodeString(buf, p, colon), decodeString(buf, v, eol));
        result.lines++;
      } catch {
        // a line that does not parse
      }
    }
    p = eol + (buf[eol] === CR && eol + 1 < end && buf[eol + 1] === LF ? 2 : 1);
  }
  return result;
}

/**
 * About how many bytes a header block of `blockBytes` decoded into `lines` headers holds on the
 * heap: its text as UTF-16, and per header a Map entry, an array and two strings. Memory
 * bounds count this, not the block's bytes: 1 MiB of 156,000 tiny headers decoded into ~17 MB
 * (outside probe, 2026-12-07).
 */
export function decodedHeaderBytes(blockBytes: number, lines: number): number {
  return 2 * blockBytes + 96 * lines;
}

/** `NATS/1.0` followed by a blank or the end of the line. */
function isStatusLine(buf: Uint8Array, start: number, end: number): boolean {
  const after = start + VERSION_BYTES.length;
  if (after > end) return false;
  for (let i = 0; i < VERSION_BYTES.length; i++) {
    if (buf[start + i] !== VERSION_BYTES[i]) return false;
  }
  return after === end || isBlank(buf[after]);
}

/**
 * Reads `[ <status>[ <description>]]` after `NATS/1.0` in `buf[start, end)` into `result`; a
 * status that is not three digits is left out (the message is still delivered).
 */
function parseStatusLine(
  buf: Uint8Array,
  start: number,
  end: number,
  result: DecodedHeaders,
): void {
  const p = skipBlank(buf, start + VERSION_BYTES.length, end);
  const digitsEnd = p + 3;
  if (
    digitsEnd > end ||
    !isDigit(buf[p]) ||
    !isDigit(buf[p + 1]) ||
    !isDigit(buf[p + 2]) ||
    (digitsEnd < end && !isBlank(buf[digitsEnd]))
  ) {
    return;
  }
  result.status = (buf[p] - 0x30) * 100 + (buf[p + 1] - 0x30) * 10 + (buf[p + 2] - 0x30);
  const from = skipBlank(buf, digitsEnd, end);
  const to = trimEnd(buf, from, end);
  if (to > from) result.description = decodeString(buf, from, to);
}

/** A header name: not empty, no blanks, control characters or DEL (':' ends it already). */
function isName(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    if (buf[i] <= SPACE || buf[i] === DEL) return false;
  }
  return end > start;
}

function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) {
    throw new NatsError('invalidArgument', 'header name must be a non-empty string');
  }
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c <= SPACE || c === DEL || c === COLON) {
      throw new NatsError(
        'invalidArgument',
        `header name ${JSON.stringify(name)} must not contain ':', whitespace or control characters`,
      );
    }
  }
}

function checkValue(name: string, value: string): void {
  if (typeof value !== 'string') {
    throw new NatsError('invalidArgument', `header ${JSON.stringify(name)} value must be a string`);
  }
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === CR || c === LF) {
      throw new NatsError(
        'invalidArgument',
        `header ${JSON.stringify(name)} value must not contain CR or LF`,
      );
    }
  }
}

function fill(
  headers: HeaderMap,
  init: Record<string, string | string[]> | Iterable<[string, string]>,
): void {
  if (isIterable(init)) {
    for (const [name, value] of init) headers.append(name, value);
    return;
  }
  for (const name of Object.keys(init)) {
    const values = init[name];
    if (Array.isArray(values)) {
      for (const value of values) headers.append(name, value);
    } else {
      headers.append(name, values);
    }
  }
}

function isIterable(value: object): value is Iterable<[string, string]> {
  return typeof (value as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function';
}
