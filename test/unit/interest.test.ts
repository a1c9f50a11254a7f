import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SubjectInterest } from '../../src/main/interest.js';
import { Outgoing } from '../../src/main/outgoing.js';
import type { Publisher } from '../../src/main/publisher.js';
import { subjectMatches } from '../../src/shared/protocol/subject.js';

describe('subjectMatches', () => {
  it.each([
    ['a.b', 'a.b', true],
    ['a.b', 'a.c', false],
    ['a.b', 'a.b.c', false],
    ['a.b.c', 'a.b', false],
    ['a.*', 'a.b', true],
    ['a.*', 'a', false],
    ['a.*', 'a.b.c', false],
    ['*.b', 'a.b', true],
    ['a.>', 'a.b', true],
    ['a.>', 'a.b.c', true],
    ['a.>', 'a', false],
    ['>', 'a', true],
    ['>', 'a.b.c', true],
    ['a.*.c', 'a.b.c', true],
    ['a.*.c', 'a.b.d', false],
    ['ab.*', 'a.b', false],
    ['a.*', 'ab.c', false],
  ])('%s against %s: %s', (pattern, subject, expected) => {
    expect(subjectMatches(pattern, subject)).toBe(expected);
  });

  it('agrees with a token-by-token reference on random subjects', () => {
    const token = fc.constantFrom('a', 'b', 'cc');
    const patternToken = fc.constantFrom('a', 'b', 'cc', '*');
    fc.assert(
      fc.property(
        fc.array(patternToken, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        fc.array(token, { minLength: 1, maxLength: 5 }),
        (tokens, tail, subjectTokens) => {
          const pattern = [...tokens, ...(tail ? ['>'] : [])].join('.');
          const reference =
            (tail
              ? subjectTokens.length > tokens.length
              : subjectTokens.length === tokens.length) &&
            tokens.every((t, i) => t === '*' || t === subjectTokens[i]);
          expect(subjectMatches(pattern, subjectTokens.join('.'))).toBe(reference);
        },
      ),
    );
  });
});

describe('SubjectInterest', () => {
  it('knows the subjects its subscriptions receive, until they end', () => {
    const interest = new SubjectInterest(true);
    expect(interest.receives('orders.new')).toBe(false);
    interest.add('orders.*');
    expect(interest.receives('orders.new')).toBe(true);
    expect(interest.receives('orders.new.eu')).toBe(false);
    interest.add('prices');
    interest.add('prices');
    interest.remove('prices');
    expect(interest.receives('prices')).toBe(true); // one of two remains
    interest.remove('prices');
    expect(interest.receives('prices')).toBe(false);
    interest.remove('orders.*');
    expect(interest.receives('orders.new')).toBe(false);
  });

  it('tells every listener when a subscription comes or goes', () => {
    const interest = new SubjectInterest(true);
    const heard: string[] = [];
    interest.onChange(() => heard.push('first'));
    interest.onChange(() => heard.push('second'));
    interest.add('a.b');
    interest.remove('a.b');
    expect(heard).toEqual(['first', 'second', 'first', 'second']);
  });

  it('with noEcho nothing comes back', () => {
    const interest = new SubjectInterest(false);
    interest.add('>');
    expect(interest.receives('anything')).toBe(false);
  });
});

describe('Outgoing', () => {
  it('flags a repeated subject as coming back once a subscription takes it, not after it ends', () => {
    const interest = new SubjectInterest(true);
    const echoes: boolean[] = [];
    const publisher = {
      pub: (...args: Parameters<Publisher['pub']>) => echoes.push(args[5]) > 0,
    } as unknown as Publisher;
    const outgoing = new Outgoing(
      publisher,
      true,
      () => 1024,
      interest,
      () => true,
    );
    const send = () => outgoing.send('orders.new', undefined, undefined, 'x');
    send();
    interest.add('orders.*');
    send();
    send();
    interest.remove('orders.*');
    send();
    expect(echoes).toEqual([false, true, true, false]);
  });
});
