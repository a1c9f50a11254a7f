// Authentication options without a server: validation of every auth setter and static
// constructor, ConnectOptions.from (the plain-object form), redaction of secrets in inspect,
// JSON and errors, never mutating the caller's input, and .creds parsing.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { createAccount, createUser } from 'nkeys.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Auth } from '../../src/main/auth.js';
import { ConnectOptions, type ConnectOptionsInit } from '../../src/main/options.js';
import { parseCredentials } from '../../src/shared/creds.js';
import { NatsError } from '../../src/shared/errors.js';
import { credsFile } from '../helpers/jwt.js';

const decoder = new TextDecoder();
const seedOf = (kp: ReturnType<typeof createUser>) => decoder.decode(kp.getSeed());

// Secrets with distinctive text, so a leak is found by a plain substring search.
const TOKEN = 'tok-LEAKCHECK-7f3a';
const PASSWORD = 'pw-LEAKCHECK-91bd';
const USER_KP = createUser();
const SEED = seedOf(USER_KP);
// Shaped like a JWT (three base64url parts); parsing does not decode it.
const JWT = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJMRUFLQ0hFQ0sifQ.c2lnLUxFQUtDSEVDSw';
/** A user seed with a broken checksum: the right shape, not a valid key. */
const BAD_SEED = `${SEED.slice(0, -4)}${SEED.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
const sign = (nonce: Uint8Array) => USER_KP.sign(nonce);

/** The error `fn` throws (or its promise rejects with); fails the test if there is none. */
async function errorOf(fn: () => unknown): Promise<NatsError> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof NatsError) return error;
    throw new Error(`expected a NatsError, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected an error, got none');
}

/** Every message of an error and its cause chain, plus its inspect output. */
function everythingShown(error: unknown): string {
  const parts: string[] = [inspect(error, { depth: 8 })];
  for (let e: unknown = error; e instanceof Error; e = e.cause) parts.push(e.message);
  return parts.join('\n');
}

type Row = [label: string, fn: () => unknown];

// ---- validation ----------------------------------------------------------------------------

describe('auth setters and statics reject bad values with invalidOption', () => {
  const rows: Row[] = [
    ['token(42)', () => new ConnectOptions().token(42 as never)],
    ["token('')", () => new ConnectOptions().token('')],
    ['token(undefined)', () => new ConnectOptions().token(undefined as never)],
    ['withToken(null)', () => ConnectOptions.withToken(null as never)],
    ["userAndPassword(1, 'p')", () => new ConnectOptions().userAndPassword(1 as never, 'p')],
    ["userAndPassword('', 'p')", () => new ConnectOptions().userAndPassword('', 'p')],
    ["userAndPassword('u', '')", () => new ConnectOptions().userAndPassword('u', '')],
    ["userAndPassword('u', 5)", () => new ConnectOptions().userAndPassword('u', 5 as never)],
    ["withUserAndPassword('u')", () => (ConnectOptions.withUserAndPassword as any)('u')],
    ["nkey('')", () => new ConnectOptions().nkey('')],
    ['nkey(7)', () => new ConnectOptions().nkey(7 as never)],
    ["nkey('not a seed')", () => new ConnectOptions().nkey('not a seed')],
    ['nkey(seed with a bad checksum)', () => new ConnectOptions().nkey(BAD_SEED)],
    ['nkey(a public key)', () => new ConnectOptions().nkey(USER_KP.getPublicKey())],
    [
      'nkey(an account seed)',
      () => new ConnectOptions().nkey(new TextDecoder().decode(createAccount().getSeed())),
    ],
    ['withNkey(bytes)', () => ConnectOptions.withNkey(USER_KP.getSeed() as never)],
    ["jwt('', sign)", () => new ConnectOptions().jwt('', sign)],
    ['jwt(5, sign)', () => new ConnectOptions().jwt(5 as never, sign)],
    ['jwt(jwt, a string)', () => new ConnectOptions().jwt(JWT, 'sign' as never)],
    ['jwt(jwt, undefined)', () => new ConnectOptions().jwt(JWT, undefined as never)],
    ['withJwt(jwt, {})', () => ConnectOptions.withJwt(JWT, {} as never)],
    ["credentials('')", () => new ConnectOptions().credentials('')],
    ['credentials(3)', () => new ConnectOptions().credentials(3 as never)],
    ["credentials('garbage')", () => new ConnectOptions().credentials('garbage')],
    ['credentials(jwt only)', () => new ConnectOptions().credentials(credsFile(JWT, ''))],
    ['credentials(seed only)', () => new ConnectOptions().credentials(credsFile('', SEED))],
    [
      'withCredentials(seed with a bad checksum)',
      () => ConnectOptions.withCredentials(credsFile(JWT, BAD_SEED)),
    ],
    ["credentialsFile('')", () => new ConnectOptions().credentialsFile('')],
    ['credentialsFile(1)', () => new ConnectOptions().credentialsFile(1 as never)],
    ['withCredentialsFile(missing)', () => ConnectOptions.withCredentialsFile('/nonexistent/x')],
    ['authCallback(5)', () => new ConnectOptions().authCallback(5 as never)],
    ["authCallback('cb')", () => new ConnectOptions().authCallback('cb' as never)],
    ['withAuthCallback(undefined)', () => ConnectOptions.withAuthCallback(undefined as never)],
  ];

  it.each(rows)('%s', async (_label, fn) => {
    expect((await errorOf(fn)).kind).toBe('invalidOption');
  });
});

describe('the error names the option', () => {
  const rows: [label: string, fn: () => unknown, option: RegExp][] = [
    ['token', () => new ConnectOptions().token(''), /token/],
    ['user', () => new ConnectOptions().userAndPassword('', 'p'), /user/],
    ['password', () => new ConnectOptions().userAndPassword('u', ''), /password/],
    ['nkey', () => new ConnectOptions().nkey('nope'), /nkey/i],
    ['jwt', () => new ConnectOptions().jwt('', sign), /jwt/],
    ['jwt sign callback', () => new ConnectOptions().jwt(JWT, 1 as never), /jwt sign callback/],
    ['credentials', () => new ConnectOptions().credentials('garbage'), /credentials/],
    ['credentialsFile', () => new ConnectOptions().credentialsFile(''), /credentialsFile/],
    ['authCallback', () => new ConnectOptions().authCallback(1 as never), /authCallback/],
  ];

  it.each(rows)('%s', async (_label, fn, option) => {
    expect((await errorOf(fn)).message).toMatch(option);
  });
});

describe('errors never show the secret', () => {
  const rows: [label: string, fn: () => unknown, secret: string][] = [
    ['an invalid seed (nkey)', () => new ConnectOptions().nkey(BAD_SEED), BAD_SEED],
    [
      'an invalid seed in creds',
      () => new ConnectOptions().credentials(credsFile(JWT, BAD_SEED)),
      BAD_SEED,
    ],
    ['a JWT in creds without a seed', () => new ConnectOptions().credentials(`${JWT}\n`), JWT],
    ['a seed in creds without a JWT', () => new ConnectOptions().credentials(`${SEED}\n`), SEED],
    [
      'a password given with a bad user',
      () => new ConnectOptions().userAndPassword('', PASSWORD),
      PASSWORD,
    ],
    [
      'a token of the wrong shape (array)',
      () => new ConnectOptions().token([TOKEN] as never),
      TOKEN,
    ],
    [
      'a token given to from() as a tuple',
      () => ConnectOptions.from({ token: [TOKEN, TOKEN] as never }),
      TOKEN,
    ],
    [
      'a password given to from() as a string',
      () => ConnectOptions.from({ userAndPassword: PASSWORD as never }),
      PASSWORD,
    ],
    // A common mistake: the creds text passed where a path is expected. The "path" is quoted in
    // the error, and with it the seed.
    [
      'creds text passed to credentialsFile',
      () => ConnectOptions.withCredentialsFile(credsFile(JWT, SEED)),
      SEED,
    ],
  ];

  it.each(rows)('%s', async (_label, fn, secret) => {
    expect(everythingShown(await errorOf(fn))).not.toContain(secret);
  });
});

describe('auth setters keep what they were given', () => {
  it('the defaults carry no credentials and no callbacks', () => {
    expect(new ConnectOptions().resolve().worker.auth).toEqual({
      signOnCaller: false,
      authCallback: false,
    });
  });

  it.each([
    ['withToken', () => ConnectOptions.withToken(TOKEN), { token: TOKEN }],
    [
      'withUserAndPassword',
      () => ConnectOptions.withUserAndPassword('alice', PASSWORD),
      { user: 'alice', pass: PASSWORD },
    ],
    ['withNkey', () => ConnectOptions.withNkey(SEED), { seed: SEED }],
    ['withJwt', () => ConnectOptions.withJwt(JWT, sign), { jwt: JWT, signOnCaller: true }],
    [
      'withCredentials',
      () => ConnectOptions.withCredentials(credsFile(JWT, SEED)),
      { jwt: JWT, seed: SEED },
    ],
    [
      'withAuthCallback',
      () => ConnectOptions.withAuthCallback(() => new Auth()),
      { authCallback: true },
    ],
  ] as const)('%s', (_label, build, expected) => {
    expect(build().resolve().worker.auth).toMatchObject(expected);
  });

  it('jwt(jwt, sign) keeps the sign callback for the caller thread', () => {
    expect(ConnectOptions.withJwt(JWT, sign).resolve().signNonce).toBe(sign);
  });

  it('authCallback(cb) keeps the callback for the caller thread', () => {
    const cb = () => new Auth();
    expect(ConnectOptions.withAuthCallback(cb).resolve().authCallback).toBe(cb);
  });

  it.each([
    ['token', (o: ConnectOptions) => o.token(TOKEN)],
    ['userAndPassword', (o: ConnectOptions) => o.userAndPassword('u', PASSWORD)],
    ['nkey', (o: ConnectOptions) => o.nkey(SEED)],
    ['jwt', (o: ConnectOptions) => o.jwt(JWT, sign)],
    ['credentials', (o: ConnectOptions) => o.credentials(credsFile(JWT, SEED))],
    ['authCallback', (o: ConnectOptions) => o.authCallback(() => new Auth())],
  ])('%s returns the builder', (_label, set) => {
    const options = new ConnectOptions();
    expect(set(options)).toBe(options);
  });

  it('several methods may be configured at once', () => {
    const auth = ConnectOptions.withToken(TOKEN).userAndPassword('u', PASSWORD).nkey(SEED).resolve()
      .worker.auth;
    expect(auth).toMatchObject({ token: TOKEN, user: 'u', pass: PASSWORD, seed: SEED });
  });
});

describe('credentialsFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'nats-offload-creds-unit-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the JWT and seed from a file', async () => {
    const file = path.join(dir, 'ok.creds');
    await writeFile(file, credsFile(JWT, SEED));
    const options = await ConnectOptions.withCredentialsFile(file);
    expect(options.resolve().worker.auth).toMatchObject({ jwt: JWT, seed: SEED });
  });

  it('resolves to the builder it was called on', async () => {
    const file = path.join(dir, 'same.creds');
    await writeFile(file, credsFile(JWT, SEED));
    const options = new ConnectOptions();
    expect(await options.credentialsFile(file)).toBe(options);
  });

  it('a missing path is invalidOption', async () => {
    const missing = path.join(dir, 'missing.creds');
    expect((await errorOf(() => ConnectOptions.withCredentialsFile(missing))).kind).toBe(
      'invalidOption',
    );
  });

  it('a missing path is named in the error', async () => {
    const missing = path.join(dir, 'missing.creds');
    expect((await errorOf(() => ConnectOptions.withCredentialsFile(missing))).message).toContain(
      missing,
    );
  });

  it('a directory is invalidOption', async () => {
    expect((await errorOf(() => ConnectOptions.withCredentialsFile(dir))).kind).toBe(
      'invalidOption',
    );
  });

  it('a file without creds is invalidOption', async () => {
    const file = path.join(dir, 'garbage.creds');
    await writeFile(file, 'not a creds file\n');
    expect((await errorOf(() => ConnectOptions.withCredentialsFile(file))).kind).toBe(
      'invalidOption',
    );
  });

  it('a file without creds is named in the error', async () => {
    const file = path.join(dir, 'garbage2.creds');
    await writeFile(file, 'not a creds file\n');
    expect((await errorOf(() => ConnectOptions.withCredentialsFile(file))).message).toContain(file);
  });

  it("a file with a JWT but no seed does not show the file's content", async () => {
    const file = path.join(dir, 'jwt-only.creds');
    await writeFile(file, credsFile(JWT, ''));
    expect(
      everythingShown(await errorOf(() => ConnectOptions.withCredentialsFile(file))),
    ).not.toContain(JWT);
  });

  it('is a rejection, not a synchronous throw', () => {
    let threw = false;
    let result: Promise<unknown> | undefined;
    try {
      result = ConnectOptions.withCredentialsFile(path.join(dir, 'missing.creds'));
    } catch {
      threw = true;
    }
    result?.catch(() => {});
    expect(threw).toBe(false);
  });
});

// ---- ConnectOptions.from -------------------------------------------------------------------

describe('ConnectOptions.from', () => {
  it('returns the same instance for a builder', async () => {
    const builder = ConnectOptions.withToken(TOKEN);
    expect(await ConnectOptions.from(builder)).toBe(builder);
  });

  it('builds a ConnectOptions from a plain object', async () => {
    expect(await ConnectOptions.from({ token: TOKEN })).toBeInstanceOf(ConnectOptions);
  });

  it('an unknown key is invalidOption', async () => {
    expect((await errorOf(() => ConnectOptions.from({ tokn: TOKEN } as never))).kind).toBe(
      'invalidOption',
    );
  });

  it('an unknown key is named in the error', async () => {
    expect((await errorOf(() => ConnectOptions.from({ tokn: TOKEN } as never))).message).toContain(
      'tokn',
    );
  });

  it.each([
    ['an inherited Object method name', { toString: 'x' }],
    ['a non-setter method name', { connect: 'x' }],
    ['a static method name', { withToken: 'x' }],
  ])('%s is not an option', async (_label, init) => {
    expect((await errorOf(() => ConnectOptions.from(init as never))).kind).toBe('invalidOption');
  });

  it.each([
    ['null', null],
    ['a number', 5],
    ['a string', 'token'],
  ])('%s is invalidOption', async (_label, init) => {
    expect((await errorOf(() => ConnectOptions.from(init as never))).kind).toBe('invalidOption');
  });

  it.each([
    ['token', { token: TOKEN }, { token: TOKEN }],
    [
      'userAndPassword as a tuple',
      { userAndPassword: ['u', PASSWORD] },
      { user: 'u', pass: PASSWORD },
    ],
    ['nkey', { nkey: SEED }, { seed: SEED }],
    ['jwt as a tuple', { jwt: [JWT, sign] }, { jwt: JWT, signOnCaller: true }],
    ['credentials', { credentials: credsFile(JWT, SEED) }, { jwt: JWT, seed: SEED }],
    ['authCallback', { authCallback: () => new Auth() }, { authCallback: true }],
  ] as [string, ConnectOptionsInit, object][])('%s', async (_label, init, expected) => {
    expect((await ConnectOptions.from(init)).resolve().worker.auth).toMatchObject(expected);
  });

  it('a two-argument setter given a single value is invalidOption', async () => {
    expect((await errorOf(() => ConnectOptions.from({ userAndPassword: 'u' as never }))).kind).toBe(
      'invalidOption',
    );
  });

  it('a tuple missing its second value is invalidOption', async () => {
    expect(
      (await errorOf(() => ConnectOptions.from({ userAndPassword: ['u'] as never }))).kind,
    ).toBe('invalidOption');
  });

  it('a value is checked as its setter checks it', async () => {
    expect((await errorOf(() => ConnectOptions.from({ token: '' }))).kind).toBe('invalidOption');
  });

  it('a flag given true turns the option on', async () => {
    expect((await ConnectOptions.from({ noEcho: true })).resolve().worker.noEcho).toBe(true);
  });

  it('a flag given false leaves the option off', async () => {
    expect((await ConnectOptions.from({ noEcho: false })).resolve().worker.noEcho).toBe(false);
  });

  it('a flag given a non-boolean is invalidOption', async () => {
    expect((await errorOf(() => ConnectOptions.from({ noEcho: 1 as never }))).kind).toBe(
      'invalidOption',
    );
  });

  it('a key given undefined is skipped', async () => {
    expect((await ConnectOptions.from({ token: undefined })).resolve().worker.auth.token).toBe(
      undefined,
    );
  });

  it('credentialsFile is read (awaited) too', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'nats-offload-from-'));
    try {
      const file = path.join(dir, 'u.creds');
      await writeFile(file, credsFile(JWT, SEED));
      const options = await ConnectOptions.from({ credentialsFile: file });
      expect(options.resolve().worker.auth.seed).toBe(SEED);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('accepts a deeply frozen object (it never writes to it)', async () => {
    const init = deepFreeze({
      userAndPassword: ['u', PASSWORD],
      jwt: [JWT, sign],
      name: 'svc',
      noEcho: true,
    }) as ConnectOptionsInit;
    expect(await ConnectOptions.from(init)).toBeInstanceOf(ConnectOptions);
  });

  it('leaves the object it was given as it was', async () => {
    const pair: [string, string] = ['u', PASSWORD];
    const init = { userAndPassword: pair, token: TOKEN, noEcho: true };
    const before = JSON.stringify(init);
    await ConnectOptions.from(init);
    expect(JSON.stringify(init)).toBe(before);
  });

  it('later changes to the object do not reach the options', async () => {
    const init: ConnectOptionsInit = { token: TOKEN };
    const options = await ConnectOptions.from(init);
    init.token = 'changed';
    expect(options.resolve().worker.auth.token).toBe(TOKEN);
  });
});

// ---- redaction -----------------------------------------------------------------------------

describe('secrets are redacted', () => {
  const options = ConnectOptions.withToken(TOKEN)
    .userAndPassword('alice', PASSWORD)
    .nkey(SEED)
    .jwt(JWT, sign);
  const fromCreds = ConnectOptions.withCredentials(credsFile(JWT, SEED));

  it.each([
    ['token', TOKEN],
    ['password', PASSWORD],
    ['seed', SEED],
    ['JWT', JWT],
  ])('util.inspect does not show the %s', (_label, secret) => {
    expect(inspect(options, { depth: Number.POSITIVE_INFINITY })).not.toContain(secret);
  });

  it.each([
    ['token', TOKEN],
    ['password', PASSWORD],
    ['seed', SEED],
    ['JWT', JWT],
  ])('JSON.stringify does not show the %s', (_label, secret) => {
    expect(JSON.stringify(options)).not.toContain(secret);
  });

  it.each([
    ['seed', SEED],
    ['JWT', JWT],
  ])('options from creds: neither inspect nor JSON shows the %s', (_label, secret) => {
    expect(`${inspect(fromCreds, { depth: null })}\n${JSON.stringify(fromCreds)}`).not.toContain(
      secret,
    );
  });

  it('shows that a secret is set (redacted), not that it is absent', () => {
    expect(JSON.parse(JSON.stringify(options)).worker.auth.token).toBe('<redacted>');
  });

  it('the user name, not a secret, is shown', () => {
    expect(inspect(options, { depth: null })).toContain('alice');
  });

  it('redacting does not change what the connection gets', () => {
    JSON.stringify(options);
    inspect(options);
    expect(options.resolve().worker.auth).toMatchObject({
      token: TOKEN,
      pass: PASSWORD,
      seed: SEED,
    });
  });
});

describe('Auth', () => {
  function fullAuth(): Auth {
    const auth = new Auth();
    auth.jwt = JWT;
    auth.nkey = USER_KP.getPublicKey();
    auth.signature = new TextEncoder().encode('SIGNATURE-LEAKCHECK');
    auth.username = 'alice';
    auth.password = PASSWORD;
    auth.token = TOKEN;
    return auth;
  }

  it('new Auth() followed by assigning fields works', () => {
    const auth = new Auth();
    auth.token = TOKEN;
    expect(auth.token).toBe(TOKEN);
  });

  it.each([
    ['token', TOKEN],
    ['password', PASSWORD],
    ['JWT', JWT],
    ['signature', 'SIGNATURE-LEAKCHECK'],
  ])('util.inspect does not show the %s', (_label, secret) => {
    expect(inspect(fullAuth(), { depth: null })).not.toContain(secret);
  });

  it.each([
    ['token', TOKEN],
    ['password', PASSWORD],
    ['JWT', JWT],
  ])('JSON.stringify does not show the %s', (_label, secret) => {
    expect(JSON.stringify(fullAuth())).not.toContain(secret);
  });

  it('redaction leaves the fields themselves intact', () => {
    const auth = fullAuth();
    JSON.stringify(auth);
    inspect(auth);
    expect(auth.password).toBe(PASSWORD);
  });
});

// ---- .creds parsing ------------------------------------------------------------------------

describe('parseCredentials', () => {
  const accountSeed = decoder.decode(createAccount().getSeed());
  const decorated = credsFile(JWT, SEED);

  it.each([
    ['decorated blocks (as nsc writes them)', decorated],
    ['decorated blocks with CRLF line ends', credsFile(JWT, SEED, '\r\n')],
    ['decorated blocks with CR line ends', credsFile(JWT, SEED, '\r')],
    ['decorated blocks, seed block first', seedFirst(JWT, SEED)],
    ['decorated blocks, indented', indent(decorated)],
    ['decorated blocks without a final newline', decorated.trimEnd()],
    ['decorated blocks with trailing spaces on the values', credsFile(`${JWT}  `, `${SEED}\t`)],
    ['undecorated lines', `${JWT}\n${SEED}\n`],
    ['undecorated lines with CRLF', `${JWT}\r\n${SEED}\r\n`],
    ['undecorated lines with CR', `${JWT}\r${SEED}\r`],
    ['undecorated lines with blank lines and spaces', `\n  ${JWT}  \n\n  ${SEED}  \n`],
  ])('%s', (_label, text) => {
    expect(parseCredentials(text)).toEqual({ jwt: JWT, seed: SEED });
  });

  it.each([
    ['missing JWT', credsFile('', SEED)],
    ['missing seed', credsFile(JWT, '')],
    ['an account seed instead of a user seed', credsFile(JWT, accountSeed)],
    ['garbage', 'hello, this is not a creds file at all'],
    ['empty text', ''],
    ['a number', 42 as never],
  ])('%s is invalidOption', async (_label, text) => {
    expect((await errorOf(() => parseCredentials(text))).kind).toBe('invalidOption');
  });

  it.each([
    ['missing JWT (the seed is not quoted)', credsFile('', SEED), SEED],
    ['missing seed (the JWT is not quoted)', credsFile(JWT, ''), JWT],
    ['garbage (the text is not quoted)', 'GARBAGE-LEAKCHECK-12345', 'GARBAGE-LEAKCHECK-12345'],
  ])('%s', async (_label, text, secret) => {
    expect(everythingShown(await errorOf(() => parseCredentials(text)))).not.toContain(secret);
  });

  it.each([
    ['dashes', '-'.repeat(200_000)],
    ['a BEGIN line of dashes', `---BEGIN${'-'.repeat(200_000)}`],
    ['BEGIN markers only', '---BEGIN---\n'.repeat(50_000)],
    ['a long line of JWT characters', 'a'.repeat(200_000)],
  ])('refuses %s in linear time (no regex backtracking)', async (_label, text) => {
    const started = performance.now();
    expect((await errorOf(() => parseCredentials(text))).kind).toBe('invalidOption');
    // ~10 ms here; 1,000 dashes took ~0.5 s and 10,000 minutes with the old whole-block regex.
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('names its source in the error', async () => {
    expect((await errorOf(() => parseCredentials('garbage', 'my.creds'))).message).toContain(
      'my.creds',
    );
  });
});

function seedFirst(jwt: string, seed: string): string {
  return [
    '-----BEGIN USER NKEY SEED-----',
    seed,
    '------END USER NKEY SEED------',
    '',
    '-----BEGIN NATS USER JWT-----',
    jwt,
    '------END NATS USER JWT------',
    '',
  ].join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
