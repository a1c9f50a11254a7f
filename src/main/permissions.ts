/**
 * API.md "Errors reach the call they concern": the server's 'Permissions Violation' -ERR names
 * a subject; a denied subscription to it ends with 'permissionsViolation' (its iterator throws
 * it), and requests whose publish to it was denied reject with it at once instead of timing out.
 * nats-server names the queue group of a denied queue subscription (`… to "s" using queue "q"`)
 * and, when a config reload revokes a subscription, its sid (`… (sid 3)`): only the
 * subscriptions these name end. A denied request inbox fails its requests. So does a
 * subscription the server refused for the length of its line.
 */
import { describe } from '../shared/describe.js';
import { NatsError } from '../shared/errors.js';
import type { RequestMux } from './request-mux.js';
import type { Subscriber } from './subscriber.js';
import type { Subscriptions } from './subscriptions.js';

/** What a subscription -ERR names besides its subject. */
interface DeniedSubscription {
  subject: string;
  /** The queue group it names; undefined when it names none. */
  queue: string | undefined;
  /** The sid it names (a reload's revocation); undefined when it names none. */
  sid: number | undefined;
  /** Too many tokens: the subject alone is at fault, whatever the queue group. */
  anyQueue: boolean;
}

/**
 * A subscription whose SUB line the server refused as longer than its max_control_line (the
 * worker dropped it after a connection ended on it: connection.ts) ends with 'badSubject'; so
 * does any later subscription with a line as long, at once.
 */
export function endRefused(
  sub: Subscriber | undefined,
  subs: Subscriptions,
  mux: RequestMux,
): void {
  if (sub === undefined) return;
  subs.lineRefused(sub); // as long a line is refused at once from now on
  const queue = sub.queueGroup === undefined ? '' : ` in queue group ${describe(sub.queueGroup)}`;
  const error = new NatsError(
    'badSubject',
    `subscription to ${describe(sub.subject)}${queue} refused: its SUB line is longer than the server's max_control_line`,
  );
  if (mux.isSharedInbox(sub)) mux.inboxDenied(error);
  else sub.fail(error);
}

/**
 * Routes one -ERR. `flushesAcked`: the last flush acknowledged before it (0: none); requests
 * published before that one are not what it denied.
 */
export function routePermissionViolation(
  message: string,
  flushesAcked: number,
  mux: RequestMux,
  subs: readonly Subscriber[],
): void {
  const denied = /Permissions Violation for (Subscription|Publish) to "/i.exec(message);
  if (denied === null) return;
  const subject = unquoteGo(message, denied.index + denied[0].length);
  if (subject === undefined) return;
  const error = new NatsError('permissionsViolation', message);
  if (denied[1].toLowerCase() === 'publish') {
    mux.denied(subject.text, error, flushesAcked);
    return;
  }
  const named = readSubscription(message, subject);
  if (named === undefined) return;
  for (const sub of deniedSubscriptions(named, subs)) {
    if (mux.isSharedInbox(sub)) mux.inboxDenied(error);
    else sub.fail(error);
  }
}

/**
 * The rest of a subscription -ERR after its quoted subject, which ends at `subject.end`;
 * undefined when it names a queue group that cannot be read (then no subscription is ended).
 */
function readSubscription(
  message: string,
  subject: { text: string; end: number },
): DeniedSubscription | undefined {
  let rest = message.slice(subject.end);
  let queue: string | undefined;
  const using = /^ using queue "/i.exec(rest);
  if (using !== null) {
    const quoted = unquoteGo(rest, using[0].length);
    if (quoted === undefined) return undefined; // a queue group it names but we cannot read
    queue = quoted.text;
    rest = rest.slice(quoted.end);
  }
  const sid = /^ \(sid "?(\d+)"?\)/i.exec(rest);
  return {
    subject: subject.text,
    queue,
    sid: sid === null ? undefined : Number(sid[1]),
    anyQueue: /^, too many tokens/i.test(rest),
  };
}

/**
 * The subscriptions an -ERR denies, on its subject: the one with the sid it names; all of
 * them for too many tokens; else those in the queue group it names, or the plain ones when it
 * names none.
 */
function deniedSubscriptions(
  denied: DeniedSubscription,
  subs: readonly Subscriber[],
): Subscriber[] {
  const onSubject = subs.filter((sub) => sub.subject === denied.subject);
  if (denied.sid !== undefined) return onSubject.filter((sub) => sub.sid === denied.sid);
  if (denied.anyQueue) return onSubject;
  return onSubject.filter((sub) => sub.queueGroup === denied.queue);
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
 * print as `\xHH`, `\uHHHH` or `\UHHHHHHHH`; and where the text goes on after the closing quote.
 * Undefined if it does not end.
 */
function unquoteGo(text: string, from: number): { text: string; end: number } | undefined {
  let out = '';
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === '"') return { text: out, end: i + 1 };
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
