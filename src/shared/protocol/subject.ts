/**
 * Subject and queue-group checks (API.md, "Errors": `'badSubject'`).
 *
 * Rejected: what would corrupt the wire protocol (a space, tab, CR or LF splits or ends the
 * protocol line), control characters (any unit ≤ 0x20; `skipSubjectValidation(true)` lets
 * these through in publish subjects), and, for subscriptions, what can never match (an empty
 * token).
 */

import { NatsError } from '../errors.js';

/**
 * Throws unless `subject` is a usable publish (or reply) subject: a non-empty string without
 * whitespace or control characters.
 *
 * @param what - how the error message names the argument, e.g. `'reply subject'`.
 * @param strict - false for `skipSubjectValidation(true)`: control characters pass, but never
 *   a space, tab, CR or LF, which would split the protocol line (a subject `a b` went to `a`
 *   with reply `b`; one with CRLF wrote further commands of its own). An empty subject is
 *   refused either way (API.md "Errors"), as async-nats refuses it.
 * @throws NatsError `'invalidArgument'` if `subject` is not a string, `'badSubject'` otherwise.
 * @example
 * validatePublishSubject('orders.new');
 * validatePublishSubject(reply, 'reply subject');
 */
export function validatePublishSubject(subject: string, what = 'subject', strict = true): void {
  if (typeof subject !== 'string') {
    throw new NatsError('invalidArgument', `${what} must be a string, got ${typeof subject}`);
  }
  if (subject.length === 0) {
    throw new NatsError('badSubject', `${what} must not be empty`);
  }
  if (strict ? hasSpaceOrControl(subject) : splitsLine(subject)) {
    throw new NatsError(
      'badSubject',
      strict
        ? `${what} ${JSON.stringify(subject)} must not contain whitespace or control characters (U+0000-U+0020)`
        : `${what} ${JSON.stringify(subject)} must not contain a space, tab, CR or LF, which would split the protocol line`,
    );
  }
}

/**
 * Throws unless `subject` is a usable subscription subject: a publish subject that also has no
 * leading or trailing `.`, no empty token (`..`) and no `>` token but the last (nats-server
 * answers those with -ERR 'Invalid Subject', naming no subscription). Wildcards are allowed.
 *
 * @throws NatsError `'invalidArgument'` if `subject` is not a string, `'badSubject'` otherwise.
 * @example
 * validateSubscribeSubject('orders.*.created');
 */
export function validateSubscribeSubject(subject: string): void {
  validatePublishSubject(subject);
  if (subject.startsWith('.') || subject.endsWith('.')) {
    throw new NatsError(
      'badSubject',
      `subject ${JSON.stringify(subject)} must not start or end with '.'`,
    );
  }
  if (subject.includes('..')) {
    throw new NatsError(
      'badSubject',
      `subject ${JSON.stringify(subject)} must not contain an empty token ('..')`,
    );
  }
  if (subject.startsWith('>.') || subject.includes('.>.')) {
    throw new NatsError(
      'badSubject',
      `subject ${JSON.stringify(subject)} may have '>' only as its last token`,
    );
  }
}

/**
 * Throws unless `queue` is a non-empty string without whitespace or control characters.
 *
 * @throws NatsError `'invalidArgument'` if `queue` is not a string, `'badSubject'` otherwise.
 * @example
 * validateQueueGroup('workers');
 */
export function validateQueueGroup(queue: string): void {
  if (typeof queue !== 'string') {
    throw new NatsError('invalidArgument', `queue group must be a string, got ${typeof queue}`);
  }
  if (queue.length === 0) {
    throw new NatsError('badSubject', 'queue group must not be empty');
  }
  if (hasSpaceOrControl(queue)) {
    throw new NatsError(
      'badSubject',
      `queue group ${JSON.stringify(queue)} must not contain whitespace or control characters`,
    );
  }
}

/** Space and the C0 control characters (tab, CR, LF, NUL, ...): any UTF-16 unit ≤ 0x20. */
export function hasSpaceOrControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) <= 0x20) return true;
  }
  return false;
}

/** What separates a protocol line's arguments or ends it: space, tab, CR, LF. */
function splitsLine(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) return true;
  }
  return false;
}

/**
 * Whether a message published to `subject` matches the subscription subject `pattern`: token
 * by token, `*` matches any one token, a final `>` one or more.
 *
 * @example
 * subjectMatches('orders.*', 'orders.new'); // true
 * subjectMatches('orders.>', 'orders'); // false
 */
export function subjectMatches(pattern: string, subject: string): boolean {
  let p = 0;
  let s = 0;
  for (;;) {
    const pEnd = tokenEnd(pattern, p);
    const sEnd = tokenEnd(subject, s);
    const token = pattern.slice(p, pEnd);
    if (token === '>') return s < subject.length;
    if (token !== '*' && (pEnd - p !== sEnd - s || !subject.startsWith(token, s))) return false;
    const patternDone = pEnd === pattern.length;
    const subjectDone = sEnd === subject.length;
    if (patternDone || subjectDone) return patternDone && subjectDone;
    p = pEnd + 1;
    s = sEnd + 1;
  }
}

function tokenEnd(text: string, from: number): number {
  const dot = text.indexOf('.', from);
  return dot < 0 ? text.length : dot;
}
