// API.md "Guarantees": secrets never leave. Each secret is a sentinel string (or a real seed or
// JWT) searched for in every way a user or a log might show what the library hands out:
// util.inspect (deep, hidden properties too), JSON.stringify, a spread, error messages, stacks
// and every cause down the chain, events and the server pool.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { type Client, ConnectOptions, connect } from 'nats-offload';
import { createUser } from 'nkeys.js';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { makeTestCerts } from '../helpers/certs.js';
import { rejection, thrown } from '../helpers/errors.js';
import { credsFile, makeTrustChain } from '../helpers/jwt.js';
import { type NatsServer, startServer, stopAll } from '../helpers/nats-server.js';
import { EventLog } from '../helpers/wait.js';

/** Letters and digits only: valid in a token, a password and a URL, found by plain search. */
const SENTINEL = `S3NT1NEL${randomBytes(6).toString('hex')}`;
const decoder = new TextDecoder();

const clients: Client[] = [];
const servers: NatsServer[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

afterAll(stopAll);

/** Every way `value` may be shown, each named. */
function shown(value: unknown): Record<string, string> {
  const views: Record<string, string> = {
    inspect: inspect(value, { depth: Number.POSITIVE_INFINITY, showHidden: true }),
    'inspect without custom': inspect(value, {
      depth: 8,
      showHidden: true,
      customInspect: false,
    }),
    spread:
      value !== null && typeof value === 'object'
        ? inspect({ ...value }, { depth: Number.POSITIVE_INFINITY })
        : '',
  };
  try {
    views.json = JSON.stringify(value) ?? '';
  } catch (error) {
    views.json = `JSON.stringify threw ${(error as Error).name}`;
  }
  let depth = 0;
  for (let e: unknown = value; e instanceof Error && depth < 10; e = e.cause, depth++) {
    views[`message ${depth}`] = e.message;
    views[`stack ${depth}`] = e.stack ?? '';
    views[`String ${depth}`] = String(e);
    views[`inspect cause ${depth}`] = inspect(e, { depth: Number.POSITIVE_INFINITY });
  }
  return views;
}

/** The views of `value` in which one of `secrets` appears (or that could not be made). */
function leaks(value: unknown, secrets: string[]): string[] {
  return Object.entries(shown(value))
    .filter(([, text]) => secrets.some((s) => text.includes(s)) || text.includes('threw'))
    .map(([view]) => view);
}

describe('secrets never leave', () => {
  it.each([
    ['a # in the password, bare host', `user:pa#${SENTINEL}@127.0.0.1`],
    ['a / in the password', `nats://u:pa/${SENTINEL}@127.0.0.1`],
    ['a ? in the password', `nats://u:pa?${SENTINEL}@127.0.0.1`],
    ['an @ in the password', `nats://u:p@${SENTINEL}@ho st`],
    ['a bad host after user:pass', `nats://u:${SENTINEL}@ho st`],
    ['a bad host after a token', `nats://${SENTINEL}@ho st`],
    ['a bad port after user:pass', `tls://u:${SENTINEL}@host:99x`],
  ])('in the error for a URL that does not parse: %s', async (_, url) => {
    const error = await rejection(connect(url));
    expect(error.kind).toBe('invalidOption');
    expect(leaks(error, [SENTINEL])).toEqual([]);
    // The URL is still shown, for the user to find the mistake.
    expect(error.message).toMatch(/\*\*\*@/);
  });

  it('in options built with every kind of secret', () => {
    const seed = decoder.decode(createUser().getSeed());
    const jwt = `eyJ${SENTINEL}.eyJ${SENTINEL}.${SENTINEL}`;
    const options = new ConnectOptions()
      .token(SENTINEL)
      .userAndPassword('user', SENTINEL)
      .nkey(seed)
      .jwt(jwt, () => new Uint8Array())
      .tlsClientConfig({ passphrase: SENTINEL });
    const creds = ConnectOptions.withCredentials(credsFile(makeTrustChain().user.jwt, seed));
    expect(leaks(options, [SENTINEL, seed])).toEqual([]);
    expect(leaks(creds, [seed])).toEqual([]);
    expect(leaks(options.toJSON(), [SENTINEL, seed])).toEqual([]);
  });

  it.each([
    ['an invalid seed', () => new ConnectOptions().nkey(`SU${SENTINEL}`)],
    ['a seed that is not a user seed', () => new ConnectOptions().nkey(`SA${SENTINEL}`)],
    ['creds text without a seed', () => new ConnectOptions().credentials(`a.b.c ${SENTINEL}`)],
    [
      'a TLS key Node refuses',
      () => new ConnectOptions().tlsClientConfig({ key: SENTINEL, cert: SENTINEL }),
    ],
  ])('in the error for %s', (_, fn) => {
    expect(leaks(thrown(fn), [SENTINEL])).toEqual([]);
  });

  it('in the error for creds text given as a creds file path', async () => {
    const seed = decoder.decode(createUser().getSeed());
    const text = credsFile(makeTrustChain().user.jwt, seed);
    const error = await rejection(new ConnectOptions().credentialsFile(text));
    expect(leaks(error, [seed])).toEqual([]);
  });

  it('in the error for a JWT given as a creds file path', async () => {
    const jwt = makeTrustChain().user.jwt;
    expect(leaks(await rejection(new ConnectOptions().credentialsFile(jwt)), [jwt])).toEqual([]);
    expect(leaks(await rejection(ConnectOptions.withCredentialsFile(jwt)), [jwt])).toEqual([]);
  });

  it('in the error for a PEM key given where a path goes, and in a cert field holding a key', async () => {
    const pem = `-----BEGIN PRIVATE KEY-----\n${SENTINEL}\n-----END PRIVATE KEY-----\n`;
    const calls = [
      () => new ConnectOptions().addClientCertificate('/no/such/cert.pem', pem),
      () => new ConnectOptions().addClientCertificate(pem, '/no/such/key.pem'),
      () => new ConnectOptions().addRootCertificates(pem),
    ];
    for (const call of calls) expect(leaks(thrown(call), [SENTINEL])).toEqual([]);
    // One file holding certificate and key, given as the cert too: shown redacted.
    const certs = await makeTestCerts();
    try {
      const key = readFileSync(certs.client.key, 'utf8');
      const combined = readFileSync(certs.client.cert, 'utf8') + key;
      const body = key.split('\n')[1]; // a line of the key's base64
      const options = new ConnectOptions().tlsClientConfig({ cert: combined, key });
      expect(leaks(options, [body])).toEqual([]);
      const inArray = new ConnectOptions().tlsClientConfig({ cert: [combined], key });
      expect(leaks(inArray, [body])).toEqual([]);
    } finally {
      await certs.remove();
    }
  });

  it('in a client connected with a password in its URL, its subscriber, events and pool', async () => {
    const server = await startServer({
      config: `authorization { user: alice, password: ${SENTINEL} }`,
    });
    servers.push(server);
    const log = new EventLog();
    const client = await new ConnectOptions()
      .eventCallback(log.callback)
      .connect(`nats://alice:${SENTINEL}@127.0.0.1:${server.port}`);
    clients.push(client);
    const sub = client.subscribe('secret.sub', { callback: () => {} });
    await client.flush();
    for (const [what, value] of Object.entries({
      client,
      sub,
      events: log.events,
      pool: client.serverPool(),
    })) {
      expect(leaks(value, [SENTINEL]), what).toEqual([]);
    }
    expect(JSON.parse(JSON.stringify(client))).toMatchObject({ state: 'connected' });
  });

  it('in a client connected with a JWT and seed (creds)', async () => {
    const { user, config } = makeTrustChain();
    const server = await startServer({ config });
    servers.push(server);
    const client = await new ConnectOptions()
      .credentials(credsFile(user.jwt, user.seed))
      .connect(server.url);
    clients.push(client);
    await client.flush();
    expect(leaks(client, [user.jwt, user.seed])).toEqual([]);
  });

  it('in the error and events of a refused token', async () => {
    const server = await startServer({ config: 'authorization { token: "right" }' });
    servers.push(server);
    const log = new EventLog();
    const error = await rejection(
      new ConnectOptions().token(SENTINEL).eventCallback(log.callback).connect(server.url),
    );
    expect(error.kind).toBe('authorizationViolation');
    expect(leaks(error, [SENTINEL])).toEqual([]);
    expect(leaks(log.events, [SENTINEL])).toEqual([]);
  });
});
