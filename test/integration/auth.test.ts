// Every authentication method against a real nats-server configured for it at test time:
// token, user/password (builder, plain object, URL), NKey users, JWT operator mode with a MEMORY
// resolver, creds file and string, the auth callback (on every connect and reconnect), several
// methods at once, and rejected credentials failing connect() at once.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { Auth, type Client, ConnectOptions, connect, NatsError } from 'nats-offload';
import { createUser, fromPublic, type KeyPair } from 'nkeys.js';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { credsFile, makeTrustChain } from '../helpers/jwt.js';
import { type NatsServer, startServer, stopAll } from '../helpers/nats-server.js';
import { infoLine, startScriptedPeer } from '../helpers/scripted-peer.js';
import { EventLog } from '../helpers/wait.js';

// Rejected credentials must fail connect() at once: far below connectionTimeout (5 s default)
// times any retry. Measured, not slept.
const PROMPT_REJECTION_MS = 3_000;
const decoder = new TextDecoder();

const clients: Client[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await stopAll();
});

/** A nats-server with `config`, stopped after the test; its log is printed if it fails to start. */
async function serverWith(config: string): Promise<NatsServer> {
  const server = await startServer({ config });
  cleanups.push(() => server.stop());
  return server;
}

async function open(
  servers: string | string[],
  options: ConnectOptions | Parameters<typeof connect>[1],
): Promise<Client> {
  const client = await connect(servers, options);
  clients.push(client);
  return client;
}

/** Proves the connection is usable and authorized: a message makes the round trip. */
async function roundTrip(client: Client): Promise<string> {
  const subject = `auth.check.${Math.random().toString(36).slice(2)}`;
  const subscriber = await client.subscribe(subject);
  await client.flush();
  client.publish(subject, 'ok');
  for await (const msg of subscriber) {
    await subscriber.unsubscribe();
    return msg.string();
  }
  throw new Error('subscription ended without a message');
}

/** The error `promise` rejects with, and how long it took; fails if it resolves. */
async function timedRejection(
  promise: Promise<unknown>,
): Promise<{ error: NatsError; ms: number }> {
  const start = performance.now();
  try {
    const value = await promise;
    if (value && typeof (value as Client).close === 'function') clients.push(value as Client);
  } catch (error) {
    if (!(error instanceof NatsError)) throw error;
    return { error, ms: performance.now() - start };
  }
  throw new Error('expected connect() to reject');
}

function urlWithCredentials(server: NatsServer, credentials: string): string {
  return `nats://${credentials}@${server.host}:${server.port}`;
}

function nkeyUsersConfig(...publicKeys: string[]): string {
  return `authorization { users: [ ${publicKeys.map((k) => `{ nkey: ${k} }`).join(', ')} ] }`;
}

function seedOf(kp: KeyPair): string {
  return decoder.decode(kp.getSeed());
}

describe('token', () => {
  const token = 'tok-5ecret';
  const config = `authorization { token: "${token}" }`;

  it('withToken is accepted', async () => {
    const server = await serverWith(config);
    const client = await open(server.url, ConnectOptions.withToken(token));
    expect(await roundTrip(client)).toBe('ok');
  });

  it('the plain-object form { token } is accepted', async () => {
    const server = await serverWith(config);
    const client = await open(server.url, { token });
    expect(await roundTrip(client)).toBe('ok');
  });

  it('a token in the URL (nats://token@host) is used', async () => {
    const server = await serverWith(config);
    const client = await open(urlWithCredentials(server, token), new ConnectOptions());
    expect(await roundTrip(client)).toBe('ok');
  });

  it('a wrong token is an authorizationViolation', async () => {
    const server = await serverWith(config);
    const { error } = await timedRejection(open(server.url, ConnectOptions.withToken('nope')));
    expect(error.kind).toBe('authorizationViolation');
  });
});

describe('user and password', () => {
  const user = 'alice';
  const pass = 'p@ss:w/rd';
  const config = `authorization { users: [ { user: ${user}, password: "${pass}" } ] }`;

  it('withUserAndPassword is accepted', async () => {
    const server = await serverWith(config);
    const client = await open(server.url, ConnectOptions.withUserAndPassword(user, pass));
    expect(await roundTrip(client)).toBe('ok');
  });

  it("the plain-object form { userAndPassword: ['u', 'p'] } is accepted", async () => {
    const server = await serverWith(config);
    const client = await open(server.url, { userAndPassword: [user, pass] });
    expect(await roundTrip(client)).toBe('ok');
  });

  it('credentials in the URL (nats://user:pass@host, percent-encoded) are used', async () => {
    const server = await serverWith(config);
    const url = urlWithCredentials(server, `${user}:${encodeURIComponent(pass)}`);
    const client = await open(url, new ConnectOptions());
    expect(await roundTrip(client)).toBe('ok');
  });

  it('credentials in the URL do not show in the server pool snapshot', async () => {
    const server = await serverWith(config);
    const url = urlWithCredentials(server, `${user}:${encodeURIComponent(pass)}`);
    const client = await open(url, new ConnectOptions());
    const snapshot = JSON.stringify(client.serverPool());
    expect([pass, encodeURIComponent(pass)].filter((p) => snapshot.includes(p))).toEqual([]);
  });

  it('a frozen URL list with credentials is accepted and left as it was', async () => {
    const server = await serverWith(config);
    const urls = Object.freeze([urlWithCredentials(server, `${user}:${encodeURIComponent(pass)}`)]);
    const before = [...urls];
    await open(urls as string[], new ConnectOptions());
    expect(urls).toEqual(before);
  });

  it('explicit options take precedence over credentials in the URL', async () => {
    const server = await serverWith(config);
    const url = urlWithCredentials(server, 'mallory:wrong');
    const client = await open(url, ConnectOptions.withUserAndPassword(user, pass));
    expect(await roundTrip(client)).toBe('ok');
  });

  it('a wrong password is an authorizationViolation', async () => {
    const server = await serverWith(config);
    const { error } = await timedRejection(
      open(server.url, ConnectOptions.withUserAndPassword(user, 'wrong-pass')),
    );
    expect(error.kind).toBe('authorizationViolation');
  });

  it('a wrong password rejects promptly', async () => {
    const server = await serverWith(config);
    const { ms } = await timedRejection(
      open(server.url, ConnectOptions.withUserAndPassword(user, 'wrong-pass')),
    );
    expect(ms).toBeLessThan(PROMPT_REJECTION_MS);
  });

  it('a wrong password does not go on to the next server of the pool (no retry loop)', async () => {
    // The second server never sends INFO: trying it would cost a whole connectionTimeout.
    const server = await serverWith(config);
    const silent = await startScriptedPeer(() => {});
    cleanups.push(() => silent.close());
    const options = ConnectOptions.withUserAndPassword(user, 'wrong-pass').retainServersOrder();
    const { error, ms } = await timedRejection(open([server.url, silent.url], options));
    expect({
      kind: error.kind,
      prompt: ms < PROMPT_REJECTION_MS,
      dialled: silent.connections.length,
    }).toEqual({ kind: 'authorizationViolation', prompt: true, dialled: 0 });
  });

  it('the rejection message does not contain the password', async () => {
    const server = await serverWith(config);
    const secret = 'hunter2-wrong';
    const { error } = await timedRejection(
      open(server.url, ConnectOptions.withUserAndPassword(user, secret)),
    );
    expect(error.message).not.toContain(secret);
  });
});

describe('NKey users', () => {
  it('withNkey signs the nonce in the worker and is accepted', async () => {
    const kp = createUser();
    const server = await serverWith(nkeyUsersConfig(kp.getPublicKey()));
    const client = await open(server.url, ConnectOptions.withNkey(seedOf(kp)));
    expect(await roundTrip(client)).toBe('ok');
  });

  it('the plain-object form { nkey } is accepted', async () => {
    const kp = createUser();
    const server = await serverWith(nkeyUsersConfig(kp.getPublicKey()));
    const client = await open(server.url, { nkey: seedOf(kp) });
    expect(await roundTrip(client)).toBe('ok');
  });

  it('an unknown nkey is an authorizationViolation', async () => {
    const server = await serverWith(nkeyUsersConfig(createUser().getPublicKey()));
    const { error } = await timedRejection(
      open(server.url, ConnectOptions.withNkey(seedOf(createUser()))),
    );
    expect(error.kind).toBe('authorizationViolation');
  });

  it('an unknown nkey rejects promptly', async () => {
    const server = await serverWith(nkeyUsersConfig(createUser().getPublicKey()));
    const { ms } = await timedRejection(
      open(server.url, ConnectOptions.withNkey(seedOf(createUser()))),
    );
    expect(ms).toBeLessThan(PROMPT_REJECTION_MS);
  });

  it('the rejection message does not contain the seed', async () => {
    const server = await serverWith(nkeyUsersConfig(createUser().getPublicKey()));
    const seed = seedOf(createUser());
    const { error } = await timedRejection(open(server.url, ConnectOptions.withNkey(seed)));
    expect(error.message).not.toContain(seed);
  });
});

describe('JWT (operator mode, MEMORY resolver)', () => {
  it('withJwt(jwt, sign) is accepted', async () => {
    const { user, config } = makeTrustChain();
    const server = await serverWith(config);
    const client = await open(
      server.url,
      ConnectOptions.withJwt(user.jwt, (nonce) => user.kp.sign(nonce)),
    );
    expect(await roundTrip(client)).toBe('ok');
  });

  it("the sign callback receives this connection's server nonce", async () => {
    const { user, config } = makeTrustChain();
    const server = await serverWith(config);
    const nonces: string[] = [];
    const client = await open(
      server.url,
      ConnectOptions.withJwt(user.jwt, (nonce) => {
        nonces.push(decoder.decode(nonce));
        return user.kp.sign(nonce);
      }),
    );
    expect(nonces).toEqual([client.serverInfo().nonce]);
  });

  it("the sign callback runs on the caller's thread", async () => {
    const { user, config } = makeTrustChain();
    const server = await serverWith(config);
    const threads: boolean[] = [];
    await open(
      server.url,
      ConnectOptions.withJwt(user.jwt, async (nonce) => {
        threads.push(isMainThread);
        return user.kp.sign(nonce);
      }),
    );
    expect(threads).toEqual([true]);
  });

  it('a signature made with another key is an authorizationViolation', async () => {
    const { user, config } = makeTrustChain();
    const server = await serverWith(config);
    const impostor = createUser();
    const { error } = await timedRejection(
      open(
        server.url,
        ConnectOptions.withJwt(user.jwt, (nonce) => impostor.sign(nonce)),
      ),
    );
    expect(error.kind).toBe('authorizationViolation');
  });

  it('an expired user JWT is an authorizationViolation', async () => {
    const { user, config } = makeTrustChain({ expires: Math.floor(Date.now() / 1000) - 60 });
    const server = await serverWith(config);
    const { error } = await timedRejection(
      open(
        server.url,
        ConnectOptions.withJwt(user.jwt, (nonce) => user.kp.sign(nonce)),
      ),
    );
    expect(error.kind).toBe('authorizationViolation');
  });

  it('an expired user JWT rejects promptly', async () => {
    const { user, config } = makeTrustChain({ expires: Math.floor(Date.now() / 1000) - 60 });
    const server = await serverWith(config);
    const { ms } = await timedRejection(
      open(
        server.url,
        ConnectOptions.withJwt(user.jwt, (nonce) => user.kp.sign(nonce)),
      ),
    );
    expect(ms).toBeLessThan(PROMPT_REJECTION_MS);
  });

  it('a user of an account the server does not know is an authorizationViolation', async () => {
    const { config } = makeTrustChain();
    const stranger = makeTrustChain().user;
    const server = await serverWith(config);
    const { error } = await timedRejection(
      open(
        server.url,
        ConnectOptions.withJwt(stranger.jwt, (nonce) => stranger.kp.sign(nonce)),
      ),
    );
    expect(error.kind).toBe('authorizationViolation');
  });
});

describe('creds', () => {
  async function tempDir(): Promise<string> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'nats-offload-creds-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  it('withCredentialsFile(path) is accepted', async () => {
    const { user, config } = makeTrustChain();
    const server = await serverWith(config);
    const file = path.join(await tempDir(), 'user.creds');
    await writeFile(file, credsFile(user.jwt, user.seed), { mode: 0o600 });
    const client = await open(server.url, await ConnectOptions.withCredentialsFile(file));
    expect(await roundTrip(client)).toBe('ok');
  });

  it('a creds file with CRLF line ends is accepted', async () => {
    const { user, config } = makeTrustChain();
    const server = await serverWith(config);
    const file = path.join(await tempDir(), 'user.creds');
    await writeFile(file, credsFile(user.jwt, user.seed, '\r\n'), { mode: 0o600 });
    const client = await open(server.url, await ConnectOptions.withCredentialsFile(file));
    expect(await roundTrip(client)).toBe('ok');
  });

  it('the plain-object form { credentialsFile } is accepted', async () => {
    const { user, config } = makeTrustChain();
    const server = await serverWith(config);
    const file = path.join(await tempDir(), 'user.creds');
    await writeFile(file, credsFile(user.jwt, user.seed), { mode: 0o600 });
    const client = await open(server.url, { credentialsFile: file });
    expect(await roundTrip(client)).toBe('ok');
  });

  it('withCredentials(text) is accepted', async () => {
    const { user, config } = makeTrustChain();
    const server = await serverWith(config);
    const client = await open(
      server.url,
      ConnectOptions.withCredentials(credsFile(user.jwt, user.seed)),
    );
    expect(await roundTrip(client)).toBe('ok');
  });

  it('creds of an expired user are an authorizationViolation', async () => {
    const { user, config } = makeTrustChain({ expires: Math.floor(Date.now() / 1000) - 60 });
    const server = await serverWith(config);
    const { error } = await timedRejection(
      open(server.url, ConnectOptions.withCredentials(credsFile(user.jwt, user.seed))),
    );
    expect(error.kind).toBe('authorizationViolation');
  });
});

describe('auth callback', () => {
  /** An NKey user server and a callback that signs with the user's key, recording each nonce. */
  async function callbackSetUp() {
    const kp = createUser();
    const server = await serverWith(nkeyUsersConfig(kp.getPublicKey()));
    const nonces: Uint8Array[] = [];
    const events = new EventLog();
    const options = ConnectOptions.withAuthCallback(async (nonce) => {
      nonces.push(nonce);
      const auth = new Auth();
      auth.nkey = kp.getPublicKey();
      auth.signature = kp.sign(nonce);
      return auth;
    }).eventCallback(events.callback);
    return { server, nonces, events, options };
  }

  /** Forces a reconnect and waits for 'disconnected' and then 'connected' again. */
  async function reconnect(client: Client, events: EventLog): Promise<void> {
    const from = events.events.length;
    await client.forceReconnect();
    const dropped = await events.next('disconnected', from);
    await events.next('connected', dropped + 1);
  }

  it('is accepted (its Auth fields go into CONNECT)', async () => {
    const { server, options } = await callbackSetUp();
    const client = await open(server.url, options);
    expect(await roundTrip(client)).toBe('ok');
  });

  it('receives the nonce as a Uint8Array', async () => {
    const { server, nonces, options } = await callbackSetUp();
    await open(server.url, options);
    expect(nonces[0]).toBeInstanceOf(Uint8Array);
  });

  it("receives this connection's server nonce", async () => {
    const { server, nonces, options } = await callbackSetUp();
    const client = await open(server.url, options);
    expect(nonces.map((n) => decoder.decode(n))).toEqual([client.serverInfo().nonce]);
  });

  it('is called again after a forced reconnect', async () => {
    const { server, nonces, events, options } = await callbackSetUp();
    const client = await open(server.url, options);
    await reconnect(client, events);
    expect(nonces.length).toBe(2);
  });

  it("receives the new connection's nonce after a forced reconnect", async () => {
    const { server, nonces, events, options } = await callbackSetUp();
    const client = await open(server.url, options);
    await reconnect(client, events);
    expect(decoder.decode(nonces[1])).toBe(client.serverInfo().nonce);
  });

  it('gets a fresh nonce on each connection', async () => {
    const { server, nonces, events, options } = await callbackSetUp();
    const client = await open(server.url, options);
    await reconnect(client, events);
    expect(decoder.decode(nonces[1])).not.toBe(decoder.decode(nonces[0]));
  });

  it('the connection is usable after the forced reconnect', async () => {
    const { server, events, options } = await callbackSetUp();
    const client = await open(server.url, options);
    await reconnect(client, events);
    expect(await roundTrip(client)).toBe('ok');
  });

  it("runs on the caller's thread", async () => {
    const kp = createUser();
    const server = await serverWith(nkeyUsersConfig(kp.getPublicKey()));
    const threads: boolean[] = [];
    await open(
      server.url,
      ConnectOptions.withAuthCallback((nonce) => {
        threads.push(isMainThread);
        return new Auth({ nkey: kp.getPublicKey(), signature: kp.sign(nonce) });
      }),
    );
    expect(threads).toEqual([true]);
  });

  it('its fields override the static ones', async () => {
    const server = await serverWith('authorization { token: "right-token" }');
    const options = ConnectOptions.withToken('wrong-token').authCallback(() => {
      const auth = new Auth();
      auth.token = 'right-token';
      return auth;
    });
    const client = await open(server.url, options);
    expect(await roundTrip(client)).toBe('ok');
  });

  it('a callback whose signature does not verify is an authorizationViolation', async () => {
    const kp = createUser();
    const server = await serverWith(nkeyUsersConfig(kp.getPublicKey()));
    const options = ConnectOptions.withAuthCallback((nonce) => {
      const auth = new Auth();
      auth.nkey = kp.getPublicKey();
      auth.signature = createUser().sign(nonce);
      return auth;
    });
    const { error } = await timedRejection(open(server.url, options));
    expect(error.kind).toBe('authorizationViolation');
  });
});

describe('an auth callback whose answer cannot be used', () => {
  it('null fields are unset, as in an Auth read from JSON', async () => {
    const server = await serverWith('authorization { token: "right-token" }');
    const options = ConnectOptions.withAuthCallback(
      () => ({ token: 'right-token', jwt: null, username: null }) as unknown as Auth,
    );
    const client = await open(server.url, options);
    expect(await roundTrip(client)).toBe('ok');
  });

  // The token server accepts only right-token: what the callback returned must not be dropped
  // and a CONNECT without credentials sent instead (that failed 'authorizationViolation', naming
  // no callback; on a server with no_auth_user it connected as the default user).
  it.each<[string, () => unknown, string]>([
    ['undefined', () => undefined, 'must return an Auth, got undefined'],
    ['null', () => null, 'must return an Auth, got null'],
    ['a string', () => 'right-token', 'must return an Auth, got a string'],
    [
      'a token that is a number',
      () => ({ token: 42 }),
      'Auth.token must be a string, got a number',
    ],
    [
      'a signature that is a string (as nats.js takes it)',
      () => new Auth({ nkey: 'UABC', signature: 'c2ln' as unknown as Uint8Array }),
      'Auth.signature must be a Uint8Array, got a string',
    ],
  ])('%s: connect() rejects with kind callback', async (_, answer, text) => {
    const server = await serverWith('authorization { token: "right-token" }');
    const options = ConnectOptions.withAuthCallback(answer as () => Auth);
    const { error } = await timedRejection(open(server.url, options));
    expect(error.kind).toBe('callback');
    expect(error.message).toContain(text);
    expect(error.message).not.toContain('right-token');
  });

  it.each<[string, () => unknown, string]>([
    ['a symbol', () => Symbol('thrown'), 'a symbol'],
    ['a function', () => () => 0, 'a function'],
    [
      'an Error whose message getter throws',
      () =>
        Object.defineProperty(new Error(), 'message', {
          get: () => {
            throw new Error('no');
          },
        }),
      'an Error',
    ],
    [
      'an Error whose stack getter throws',
      () =>
        Object.defineProperty(new Error('m'), 'stack', {
          get: () => {
            throw new Error('no');
          },
        }),
      'Error: m',
    ],
  ])('throwing %s: kind callback, naming what it threw', async (_, thrown, text) => {
    const server = await serverWith('authorization { token: "right-token" }');
    const options = ConnectOptions.withAuthCallback(() => {
      throw thrown();
    });
    const { error } = await timedRejection(open(server.url, options));
    expect(error.kind).toBe('callback');
    expect(error.message).toContain(`authCallback failed: Error: it threw ${text}`);
    expect(error.message).not.toContain('Unserializable');
  });
});

describe('several methods at once', () => {
  it('token and user/password configured: a user/password server accepts the pair', async () => {
    const server = await serverWith('authorization { users: [ { user: bob, password: bobpw } ] }');
    const options = ConnectOptions.withToken('some-token').userAndPassword('bob', 'bobpw');
    const client = await open(server.url, options);
    expect(await roundTrip(client)).toBe('ok');
  });

  it('token and user/password configured: a token server accepts the token', async () => {
    const server = await serverWith('authorization { token: "the-token" }');
    const options = ConnectOptions.withUserAndPassword('bob', 'bobpw').token('the-token');
    const client = await open(server.url, options);
    expect(await roundTrip(client)).toBe('ok');
  });

  it('user/password and nkey configured: an NKey server accepts the nkey', async () => {
    const kp = createUser();
    const server = await serverWith(nkeyUsersConfig(kp.getPublicKey()));
    const options = ConnectOptions.withUserAndPassword('bob', 'bobpw').nkey(seedOf(kp));
    const client = await open(server.url, options);
    expect(await roundTrip(client)).toBe('ok');
  });

  it('a token and an nkey in the plain-object form: an NKey server accepts the nkey', async () => {
    const kp = createUser();
    const server = await serverWith(nkeyUsersConfig(kp.getPublicKey()));
    const client = await open(server.url, { token: 'unused', nkey: seedOf(kp) });
    expect(await roundTrip(client)).toBe('ok');
  });
});

describe('CONNECT fields (scripted server)', () => {
  const NONCE = 'scripted-nonce-4f2a';

  /** Connects `options` to a peer that sends INFO with a nonce; resolves with the CONNECT JSON. */
  async function connectFields(options: ConnectOptions): Promise<Record<string, unknown>> {
    let connectLine = '';
    const peer = await startScriptedPeer(async (conn) => {
      conn.send(infoLine({ nonce: NONCE, auth_required: true }));
      connectLine = await conn.nextLine((l) => l.startsWith('CONNECT '));
      await conn.nextLine((l) => l === 'PING');
      conn.send('PONG\r\n');
      for await (const _ of conn.lines()) {
        // read until the client closes
      }
    });
    cleanups.push(() => peer.close());
    await open(peer.url, options);
    return JSON.parse(connectLine.slice('CONNECT '.length));
  }

  function verifies(publicKey: string, signature: unknown): boolean {
    const sig = Buffer.from(String(signature), 'base64url');
    return fromPublic(publicKey).verify(new TextEncoder().encode(NONCE), sig);
  }

  it('token, user/password and nkey configured together all go into CONNECT', async () => {
    const kp = createUser();
    const fields = await connectFields(
      ConnectOptions.withToken('t0k').userAndPassword('bob', 'pw').nkey(seedOf(kp)),
    );
    expect(fields).toMatchObject({
      auth_token: 't0k',
      user: 'bob',
      pass: 'pw',
      nkey: kp.getPublicKey(),
    });
  });

  it('the nkey signature in CONNECT is of the INFO nonce, made with the seed', async () => {
    const kp = createUser();
    const fields = await connectFields(ConnectOptions.withNkey(seedOf(kp)));
    expect(verifies(kp.getPublicKey(), fields.sig)).toBe(true);
  });

  it('with withJwt, CONNECT carries the JWT and the signature the callback made', async () => {
    const kp = createUser();
    const fields = await connectFields(ConnectOptions.withJwt('a.b.c', (n) => kp.sign(n)));
    expect({ jwt: fields.jwt, verified: verifies(kp.getPublicKey(), fields.sig) }).toEqual({
      jwt: 'a.b.c',
      verified: true,
    });
  });

  it("the auth callback's fields override the static ones in CONNECT", async () => {
    const options = ConnectOptions.withToken('static-token')
      .userAndPassword('static-user', 'static-pass')
      .authCallback(
        () => new Auth({ token: 'cb-token', username: 'cb-user', password: 'cb-pass' }),
      );
    const fields = await connectFields(options);
    expect(fields).toMatchObject({ auth_token: 'cb-token', user: 'cb-user', pass: 'cb-pass' });
  });
});
