import { describe, expect, it } from 'vitest';
import { ConnectOptions } from '../../src/main/options.js';
import { MAX_GIVEN_SERVERS, resolveServers } from '../../src/main/servers.js';
import { NatsError } from '../../src/shared/errors.js';

function kindOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof NatsError ? e.kind : `not a NatsError: ${String(e)}`;
  }
  return undefined;
}

describe('ConnectOptions defaults (as async-nats)', () => {
  const o = new ConnectOptions().resolve();
  it.each([
    ['connectionTimeout', o.worker.connectionTimeout, 5000],
    ['requestTimeout', o.requestTimeout, 10000],
    ['pingInterval', o.worker.pingInterval, 60000],
    ['maxReconnects', o.worker.maxReconnects, null],
    ['subscriptionCapacity', o.worker.subscriptionCapacity, 65536],
    ['clientCapacity', o.clientCapacity, 2048],
    ['maxPendingBytes', o.maxPendingBytes, 64 * 1024 * 1024],
    ['inboxPrefix', o.inboxPrefix, '_INBOX'],
    ['readBufferCapacity', o.worker.readBufferCapacity, 65535],
    ['noEcho', o.worker.noEcho, false],
    ['retryOnInitialConnect', o.worker.retryOnInitialConnect, false],
    ['skipSubjectValidation', o.skipSubjectValidation, false],
  ])('%s', (_name, actual, expected) => {
    expect(actual).toBe(expected);
  });
});

describe('ConnectOptions validation', () => {
  it.each([
    ['pingInterval(-1)', () => new ConnectOptions().pingInterval(-1)],
    ['pingInterval(NaN)', () => new ConnectOptions().pingInterval(Number.NaN)],
    [
      'connectionTimeout(Infinity)',
      () => new ConnectOptions().connectionTimeout(Number.POSITIVE_INFINITY),
    ],
    ['requestTimeout(-5)', () => new ConnectOptions().requestTimeout(-5)],
    ['subscriptionCapacity(0)', () => new ConnectOptions().subscriptionCapacity(0)],
    ['clientCapacity(0)', () => new ConnectOptions().clientCapacity(0)],
    ['maxPendingBytes(1.5)', () => new ConnectOptions().maxPendingBytes(1.5)],
    ['maxReconnects(-1)', () => new ConnectOptions().maxReconnects(-1)],
    ['maxReconnects(0)', () => new ConnectOptions().maxReconnects(0)],
    ['customInboxPrefix("a.*")', () => new ConnectOptions().customInboxPrefix('a.*')],
    ['customInboxPrefix("a b")', () => new ConnectOptions().customInboxPrefix('a b')],
    ['customInboxPrefix("")', () => new ConnectOptions().customInboxPrefix('')],
    // A control character passed the setter; every request then failed 'badSubject'.
    ['customInboxPrefix("a\\0b")', () => new ConnectOptions().customInboxPrefix('a\0b')],
    [
      'customInboxPrefix("_INBOX\\x1f")',
      () => new ConnectOptions().customInboxPrefix('_INBOX\x1f'),
    ],
    ['eventCallback(1)', () => new ConnectOptions().eventCallback(1 as never)],
    ['empty server list', () => resolveServers([])],
    ['mixed ws/non-ws list', () => resolveServers(['ws://a:80', 'nats://b:4222'])],
    ['unknown scheme', () => resolveServers('http://a:80')],
    ['a list longer than MAX_GIVEN_SERVERS', () => resolveServers(new Array(1025).fill('a:1'))],
    [
      'a list whose second element throws (not the first alone)',
      () =>
        resolveServers(
          Object.defineProperty(['a:1', 'b:2'], 1, {
            get: () => {
              throw new Error('hostile');
            },
          }),
        ),
    ],
    ['a sparse list of 2^32 − 1', () => resolveServers(new Array(2 ** 32 - 1))],
    [
      'a Proxy whose length is 1e9',
      () => resolveServers(new Proxy(['a:1'], { get: (_t, k) => (k === 'length' ? 1e9 : 'a:1') })),
    ],
    [
      'a Proxy whose length is a Symbol',
      () => resolveServers(new Proxy([], { get: (t, k) => (k === 'length' ? Symbol() : t) })),
    ],
  ])('%s throws invalidOption', (_name, fn) => {
    expect(kindOf(fn)).toBe('invalidOption');
  });

  it('names the option and the value in the message', () => {
    expect(() => new ConnectOptions().pingInterval(-7)).toThrow(/pingInterval.*-7/);
  });

  it('accepts valid values and returns the builder', () => {
    const b = new ConnectOptions();
    expect(b.pingInterval(1000).requestTimeout(null).maxReconnects(3).name('svc')).toBe(b);
    const o = b.resolve();
    expect(o.worker.pingInterval).toBe(1000);
    expect(o.requestTimeout).toBeNull();
    expect(o.worker.maxReconnects).toBe(3);
    expect(o.worker.name).toBe('svc');
  });

  it('stores -0 as 0', () => {
    const o = new ConnectOptions().requestTimeout(-0).pingInterval(-0).resolve();
    expect(Object.is(o.requestTimeout, 0)).toBe(true);
    expect(Object.is(o.worker.pingInterval, 0)).toBe(true);
  });

  it('resolve() hands out a copy the builder cannot change afterwards', () => {
    const b = new ConnectOptions().name('a');
    const o = b.resolve();
    b.name('b');
    expect(o.worker.name).toBe('a');
  });

  it('takes MAX_GIVEN_SERVERS URLs', () => {
    expect(resolveServers(new Array(MAX_GIVEN_SERVERS).fill('a:1'))).toHaveLength(
      MAX_GIVEN_SERVERS,
    );
  });

  it("does not mutate the caller's server list", () => {
    const list = ['nats://a:1', 'b:2'];
    const copy = [...list];
    resolveServers(list);
    expect(list).toEqual(copy);
  });
});
