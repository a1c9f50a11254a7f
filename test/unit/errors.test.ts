import { describe, expect, it } from 'vitest';
import { type ErrorKind, fromWire, NatsError, toWire } from '../../src/shared/errors.js';

describe('NatsError across threads', () => {
  it('keeps kind, message and cause chain through plain data', () => {
    const inner = new NatsError('io', 'connection refused');
    const outer = new NatsError('maxReconnects', 'gave up', { cause: inner });
    const wire = structuredClone(toWire(outer)); // what postMessage does to it
    const back = fromWire(wire);
    expect(back).toBeInstanceOf(NatsError);
    expect(back.kind).toBe('maxReconnects');
    expect(back.message).toBe('gave up');
    expect(back.cause).toBeInstanceOf(NatsError);
    expect((back.cause as NatsError).kind).toBe('io');
  });

  it('turns a foreign Error into kind io with its message', () => {
    expect(toWire(new Error('boom'))).toEqual({ kind: 'io', message: 'boom' });
    expect(toWire('text')).toEqual({ kind: 'io', message: 'text' });
  });

  it('is an Error named NatsError', () => {
    const e = new NatsError('closed', 'x');
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('NatsError');
  });
});

describe('ErrorKind', () => {
  it('has every kind API.md "Errors" lists', () => {
    // A kind missing from the union fails `npm run typecheck` here.
    const kinds = [
      'timedOut',
      'noResponders',
      'authorizationViolation',
      'maxReconnects',
      'tls',
      'badSubject',
      'maxPayloadExceeded',
      'invalidOption',
      'invalidArgument',
      'closed',
      'clientCapacity',
      'notSent',
      'workerExited',
      'callback',
      'draining',
      'permissionsViolation',
    ] satisfies ErrorKind[];
    for (const kind of kinds) expect(new NatsError(kind, 'x').kind).toBe(kind);
  });
});
