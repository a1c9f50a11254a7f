/**
 * API.md "Errors reach the call they concern": the server's 'Permissions Violation' -ERR names
 * a subject; a denied subscription to it ends with 'permissionsViolation' (its iterator throws
 * it), and requests whose publish to it was denied reject with it at once instead of timing out.
 */
import { NatsError } from '../shared/errors.js';
import type { RequestMux } from './request-mux.js';
import type { Subscriber } from './subscriber.js';

export function routePermissionViolation(
  message: string,
  mux: RequestMux,
  subs: readonly Subscriber[],
): void {
  const denied = /Permissions Violation for (Subscription|Publish) to "/i.exec(message);
  if (denied === null) return;
  const subject = unquoteGo(message, denied.index + denied[0].length);
  if (subject === undefined) return;
  const error = new NatsError('permissionsViolation', message);
  if (denied[1].toLowerCase() === 'publish') {
    mux.denied(subject, error);
    return;
  }
  for (const sub of subs) if (sub.subject === subject && !mux.owns(sub)) sub.fail(error);
}

/** Go's escapes with one character after the backslash (strconv.Quote). */
const GO_ESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

/**
 * The string the server quoted with Go's `%q`, from just after its opening quote at
 * `text[from]`: `"`, `\` and control characters come escaped, and characters Go does not
 * print as `\xHH`, `\uHHHH` or `\UHHHHHHHH`. Undefined if it does not end.
 */
function unquoteGo(text: string, from: number): string | undefined {
  let out = '';
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === '"') return out;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = text[++i];
    const digits = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
    if (digits === 0) {
      if (!Object.hasOwn(GO_ESCAPES, e)) return undefined;
      out += GO_ESCAPES[e];
      continue;
    }
    const code = Number.parseInt(text.slice(i + 1, i + 1 + digits), 16);
    if (!(code >= 0 && code <= 0x10ffff)) return undefined;
    out += String.fromCodePoint(code);
    i += digits;
  }
  return undefined;
}
