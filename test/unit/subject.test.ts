import { describe, expect, it } from 'vitest';
import { NatsError } from '../../src/shared/errors.js';
import {
  validatePublishSubject,
  validateQueueGroup,
  validateSubscribeSubject,
} from '../../src/shared/protocol/subject.js';

/** Runs `fn` and returns the NatsError it throws (failing if it throws anything else). */
function caught(fn: () => void): NatsError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(NatsError);
    return err as NatsError;
  }
  throw new Error('expected a throw');
}

describe('validatePublishSubject', () => {
  it('accepts ordinary, wildcard-looking and non-ASCII subjects', () => {
    for (const s of ['foo', 'foo.bar', '.foo', 'foo..bar', 'a.*.>', 'ünï.cöde', '_INBOX.x']) {
      expect(() => validatePublishSubject(s)).not.toThrow();
    }
  });

  it('rejects an empty subject', () => {
    expect(caught(() => validatePublishSubject('')).kind).toBe('badSubject');
  });

  it.each([
    ['space', 'foo bar'],
    ['tab', 'foo\tbar'],
    ['CR', 'foo\r'],
    ['LF', '\nfoo'],
    ['NUL', 'fo\u0000o'],
  ])('rejects whitespace or control characters (%s)', (_, subject) => {
    const err = caught(() => validatePublishSubject(subject));
    expect(err.kind).toBe('badSubject');
    expect(err.message).toContain(JSON.stringify(subject));
  });

  it('rejects a non-string with invalidArgument', () => {
    expect(caught(() => validatePublishSubject(42 as unknown as string)).kind).toBe(
      'invalidArgument',
    );
  });

  it('names the argument in the message', () => {
    expect(caught(() => validatePublishSubject('a b', 'reply subject')).message).toMatch(
      /^reply subject "a b"/,
    );
  });
});

describe('validateSubscribeSubject', () => {
  it('accepts wildcards', () => {
    for (const s of ['foo', 'foo.*', 'foo.>', '>', '*.bar', 'a>.b', 'a.b>', '>>.a']) {
      expect(() => validateSubscribeSubject(s)).not.toThrow();
    }
  });

  it('applies the publish rules', () => {
    expect(caught(() => validateSubscribeSubject('')).kind).toBe('badSubject');
    expect(caught(() => validateSubscribeSubject('a b')).kind).toBe('badSubject');
    expect(caught(() => validateSubscribeSubject(null as unknown as string)).kind).toBe(
      'invalidArgument',
    );
  });

  it('rejects a leading dot', () => {
    expect(caught(() => validateSubscribeSubject('.foo')).kind).toBe('badSubject');
  });

  it('rejects a trailing dot', () => {
    expect(caught(() => validateSubscribeSubject('foo.')).kind).toBe('badSubject');
  });

  it("rejects a '>' token before the last (nats-server refuses it with an -ERR)", () => {
    for (const s of ['>.a', 'a.>.b', 'a.*.>.>']) {
      expect(caught(() => validateSubscribeSubject(s)).kind, s).toBe('badSubject');
    }
  });

  it('rejects an empty token', () => {
    const err = caught(() => validateSubscribeSubject('foo..bar'));
    expect(err.kind).toBe('badSubject');
    expect(err.message).toContain('"foo..bar"');
  });
});

describe('validateQueueGroup', () => {
  it('accepts a plain name', () => {
    expect(() => validateQueueGroup('workers')).not.toThrow();
  });

  it('rejects an empty name', () => {
    expect(caught(() => validateQueueGroup('')).kind).toBe('badSubject');
  });

  it('rejects whitespace', () => {
    expect(caught(() => validateQueueGroup('my workers')).kind).toBe('badSubject');
  });

  it('rejects a non-string with invalidArgument', () => {
    expect(caught(() => validateQueueGroup(undefined as unknown as string)).kind).toBe(
      'invalidArgument',
    );
  });
});
