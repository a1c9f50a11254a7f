import { describe, expect, it } from 'vitest';
import { NatsError } from '../../src/shared/errors.js';
import { toServerInfo, versionAtLeast } from '../../src/shared/server-info.js';
import { parseServerUrl, redactUrl } from '../../src/shared/servers.js';

describe('parseServerUrl', () => {
  it("keeps a WebSocket URL's query apart from the URL it shows", () => {
    const address = parseServerUrl('wss://proxy.example/nats?token=s3cret');
    expect(address.url).toBe('wss://proxy.example:443/nats');
    expect(address.query).toBe('?token=s3cret');
    expect(parseServerUrl('nats://a.example?x=1').query).toBeUndefined();
  });

  it.each([
    [
      'nats://a.example:4333',
      { scheme: 'nats', host: 'a.example', port: 4333, url: 'nats://a.example:4333' },
    ],
    ['tls://a.example', { scheme: 'tls', host: 'a.example', port: 4222 }],
    ['ws://a.example', { scheme: 'ws', host: 'a.example', port: 80 }],
    ['wss://a.example', { scheme: 'wss', host: 'a.example', port: 443 }],
    ['127.0.0.1', { scheme: 'nats', host: '127.0.0.1', port: 4222, url: 'nats://127.0.0.1:4222' }],
    ['localhost:5000', { scheme: 'nats', host: 'localhost', port: 5000 }],
    ['[::1]:4223', { scheme: 'nats', host: '::1', port: 4223, url: 'nats://[::1]:4223' }],
    ['nats://[fe80::1]', { host: 'fe80::1', port: 4222 }],
    [
      'wss://a.example/nats?x=1',
      { host: 'a.example', url: 'wss://a.example:443/nats', query: '?x=1' },
    ],
    ['ws://a.example:8080/', { url: 'ws://a.example:8080' }],
    ['nats://a.example/ignored', { url: 'nats://a.example:4222' }],
  ])('%s', (input, expected) => {
    expect(parseServerUrl(input)).toMatchObject(expected);
  });

  it('takes user and password from the URL and keeps them out of url', () => {
    const s = parseServerUrl('nats://alice:s%40cret@host:4222');
    expect(s).toMatchObject({ user: 'alice', pass: 's@cret', url: 'nats://host:4222' });
    expect(s.token).toBeUndefined();
  });

  it.each([
    ['a % in the password', 'nats://u:50%off@host', { user: 'u', pass: '50%off' }],
    ['a bad escape in the user', 'nats://u%zz:p@host', { user: 'u%zz', pass: 'p' }],
    ['a % in a token', 'nats://t%ok@host', { token: 't%ok' }],
    ['a good escape next to a bad one', 'nats://u:%41%@host', { pass: '%41%' }],
  ])('takes %s as written when it is not percent-encoding', (_, url, expected) => {
    expect(parseServerUrl(url)).toMatchObject(expected);
  });

  it('takes a lone user part as a token', () => {
    const s = parseServerUrl('nats://tok123@host');
    expect(s.token).toBe('tok123');
    expect(s.user).toBeUndefined();
  });

  it.each([
    '',
    '   ',
    'http://host',
    'nats://',
    'nats://ho st',
    // A bare address with a path is a mistyped URL: these dialled nats:4222 and localhost:4222.
    'nats:/127.0.0.1:4222',
    'localhost:/x',
    'host:4222?x=1',
    'host#4223',
    `nats://${'a'.repeat(254)}:4222`,
  ])('rejects %j with invalidOption', (input) => {
    const error = (() => {
      try {
        parseServerUrl(input);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(NatsError);
    expect((error as NatsError).kind).toBe('invalidOption');
  });

  it.each([
    [
      'user:pass with IPv6',
      'nats://u:p@[::1]:4223',
      { user: 'u', pass: 'p', host: '::1', port: 4223 },
    ],
    ['token with IPv6', 'nats://tok@[fe80::1]', { token: 'tok', host: 'fe80::1', port: 4222 }],
    [
      'user:pass on a bare host:port',
      'alice:pw@host:5000',
      { user: 'alice', pass: 'pw', port: 5000 },
    ],
    ['token on a bare host', 'tok@host', { token: 'tok', host: 'host', scheme: 'nats' }],
    ['user:pass on tls://', 'tls://u:p@host', { scheme: 'tls', user: 'u', pass: 'p' }],
    [
      'user:pass on ws://',
      'ws://u:p@host:8080',
      { scheme: 'ws', user: 'u', pass: 'p', port: 8080 },
    ],
    ['token on wss://', 'wss://tok@host', { scheme: 'wss', token: 'tok', port: 443 }],
    [
      'percent-encoded ":" and "@" in user and pass',
      'nats://a%3Ab:c%40d@h',
      { user: 'a:b', pass: 'c@d' },
    ],
    ['a percent-encoded token', 'nats://t%2Fo%40k@h', { token: 't/o@k' }],
    [
      'user with an empty password (user:@host) is a user, not a token',
      'nats://bob:@h',
      { user: 'bob', pass: '' },
    ],
    ['a password without a user (:pass@host) is kept', 'nats://:pw@h', { user: '', pass: 'pw' }],
  ])('credentials: %s', (_label, input, expected) => {
    expect(parseServerUrl(input)).toMatchObject(expected);
  });

  it.each([
    ['nats://u:p@[::1]:4223', 'nats://[::1]:4223'],
    ['nats://tok@[::1]', 'nats://[::1]:4222'],
    ['alice:pw@host:5000', 'nats://host:5000'],
    ['wss://tok@host', 'wss://host:443'],
  ])('keeps the credentials of %s out of url', (input, url) => {
    expect(parseServerUrl(input).url).toBe(url);
  });

  it('a token URL has no user or pass', () => {
    expect(parseServerUrl('nats://tok@host')).not.toHaveProperty('pass');
  });

  it('a URL without credentials has none', () => {
    const s = parseServerUrl('nats://host:4222');
    expect([s.user, s.pass, s.token]).toEqual([undefined, undefined, undefined]);
  });

  it('never echoes a token in its error', () => {
    expect(() => parseServerUrl('nats://tok-s3cret@ho st')).toThrow(/^(?!.*tok-s3cret)/);
  });

  it('never echoes credentials in its error', () => {
    expect(() => parseServerUrl('nats://bob:hunter2@ho st')).toThrow(/^(?!.*hunter2)/);
  });
});

describe('redactUrl', () => {
  it.each([
    ['nats://u:pa/ss@host:4222', 'nats://***@host:4222'],
    ['nats://u:pa#ss@host', 'nats://***@host'],
    ['user:pa#ss@host', '***@host'],
    ['u:p@ss@host', '***@host'],
    ['tls://tok@[::1]:4222', 'tls://***@[::1]:4222'],
    ['nats://host:4222', 'nats://host:4222'],
    ['ws://host:99999/nats?token=s3cret', 'ws://host:99999/nats?***'],
    ['wss://u:p?w@host/nats?token=s3cret', 'wss://***@host/nats?***'],
  ])('%s → %s', (input, shown) => {
    expect(redactUrl(input)).toBe(shown);
  });
});

describe('server INFO', () => {
  it('camelCases known and unknown fields', () => {
    const info = toServerInfo({
      server_id: 'X',
      version: '2.9.10',
      max_payload: 1024,
      headers: true,
      connect_urls: ['10.0.0.1:4222'],
      ldm: true,
      some_new_field: 7,
    });
    expect(info).toMatchObject({
      serverId: 'X',
      version: '2.9.10',
      maxPayload: 1024,
      headers: true,
      connectUrls: ['10.0.0.1:4222'],
      lameDuckMode: true,
      someNewField: 7,
    });
  });

  it('keeps unknown fields nested up to 32 deep, drops deeper ones: the info must cross threads', () => {
    const nest = (depth: number): unknown => (depth === 0 ? 1 : { a: nest(depth - 1) });
    const raw = JSON.parse(
      `{"server_id":"X","shallow":${JSON.stringify(nest(32))},"deep":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`,
    );
    const info = toServerInfo(raw);
    expect(info.serverId).toBe('X');
    expect(info.shallow).toEqual(nest(32));
    expect('deep' in info).toBe(false);
    expect(structuredClone(info)).toEqual(info);
  });

  it.each([
    ['missing', undefined, 1024 * 1024],
    ['a string', '1048576', 1024 * 1024],
    ['NaN-like', 'abc', 1024 * 1024],
    ['zero', 0, 1024 * 1024],
    ['negative', -5, 1024 * 1024],
    ['2^31', 2 ** 31, 2 ** 31 - 1],
    ['2^53', 2 ** 53, 2 ** 31 - 1],
    ['fractional', 1000.5, 1000],
    ['8 MiB', 8 * 1024 * 1024, 8 * 1024 * 1024],
  ])('max_payload %s gives a limit publish can check against', (_, raw, expected) => {
    expect(toServerInfo({ max_payload: raw }).maxPayload).toBe(expected);
  });

  it.each([
    ['2.9.10', [2, 9, 0], true],
    ['2.9.10', [2, 9, 10], true],
    ['2.9.10', [2, 9, 11], false],
    ['2.9.10', [2, 10, 0], false],
    ['2.10.0-beta', [2, 9, 99], true],
    ['1.4.0', [2, 0, 0], false],
  ] as const)('%s at least %j: %s', (version, [a, b, c], expected) => {
    expect(versionAtLeast(version, a, b, c)).toBe(expected);
  });
});

describe('toServerInfo of a hostile INFO', () => {
  it('reads fields of the wrong type as empty instead of throwing', () => {
    const hostile = { toString: 1, valueOf: 1 };
    const info = toServerInfo({
      server_id: hostile,
      server_name: hostile,
      version: hostile,
      host: hostile,
      proto: hostile,
      port: hostile,
      connect_urls: ['nats://a:4222', hostile, 7],
    } as Record<string, unknown>);
    expect(info.serverId).toBe('');
    expect(info.version).toBe('');
    expect(info.port).toBe(0);
    expect(info.connectUrls).toEqual(['nats://a:4222']);
  });
});
