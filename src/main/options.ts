/**
 * `ConnectOptions`: the builder users configure a client with (API.md). Every setter checks
 * its value at once (`'invalidOption'` naming the option and the value), copies what it keeps
 * and returns `this`. Secrets (token, password, seeds, JWTs, keys) never show in
 * `util.inspect`, `JSON.stringify` or error messages.
 *
 * This module is the setters; the checks they share are option-checks.ts (TLS: tls-options.ts),
 * what they build, with its defaults and redaction, is resolved-options.ts, and the plain-object
 * form is options-init.ts.
 */
import { inspect } from 'node:util';
import { parseCredentials } from '../shared/creds.js';
import { describe, typeName } from '../shared/describe.js';
import { NatsError } from '../shared/errors.js';
import { READ_BUFFER_MAX, READ_BUFFER_MIN } from '../shared/options.js';
import { type Client, createClient } from './client.js';
import type { Event } from './events.js';
import {
  callback,
  checkSeed,
  duration,
  fileText,
  flag,
  integer,
  localAddress,
  positiveInteger,
  secret,
  text,
} from './option-checks.js';
import { applyInit, type ConnectOptionsInit } from './options-init.js';
import {
  type AuthCallback,
  copyOptions,
  defaultOptions,
  type ReconnectToServerCallback,
  type ResolvedOptions,
  redactedOptions,
  type SignCallback,
} from './resolved-options.js';
import {
  type TlsClientConfig,
  withClientCert,
  withConfig,
  withHandshakeFirst,
  withRequired,
  withRoots,
} from './tls-options.js';

export type { ConnectOptionsInit } from './options-init.js';

/**
 * How to connect: a builder whose setters check their value at once (a bad one throws
 * `'invalidOption'` naming the option) and return `this`. Defaults are async-nats's. Secrets
 * never show in `util.inspect`, `JSON.stringify` or errors.
 *
 * @example
 * const client = await new ConnectOptions()
 *   .name('my-service')
 *   .pingInterval(10_000)
 *   .connect('nats://127.0.0.1:4222');
 */
export class ConnectOptions {
  /** The settings, secrets in clear: private by `#`, so no inspect, JSON or spread reaches them. */
  readonly #o: ResolvedOptions = defaultOptions();

  // ---- authentication (static constructors and setters) ----------------------------------

  /**
   * New options with token authentication; see {@link ConnectOptions.token}.
   *
   * @throws NatsError `'invalidOption'` for a token that is not a non-empty string.
   */
  static withToken(token: string): ConnectOptions {
    return new ConnectOptions().token(token);
  }

  /**
   * New options with user/password authentication; see {@link ConnectOptions.userAndPassword}.
   *
   * @throws NatsError `'invalidOption'` for a user or password that is not a string.
   */
  static withUserAndPassword(user: string, pass: string): ConnectOptions {
    return new ConnectOptions().userAndPassword(user, pass);
  }

  /**
   * New options with NKey authentication; see {@link ConnectOptions.nkey}.
   *
   * @throws NatsError `'invalidOption'` for a seed that is not a valid user seed.
   */
  static withNkey(seed: string): ConnectOptions {
    return new ConnectOptions().nkey(seed);
  }

  /**
   * New options with JWT authentication; see {@link ConnectOptions.jwt}.
   *
   * @throws NatsError `'invalidOption'` for a JWT that is not a non-empty string or a `sign` that is no function.
   */
  static withJwt(jwt: string, sign: SignCallback): ConnectOptions {
    return new ConnectOptions().jwt(jwt, sign);
  }

  /**
   * New options from a `.creds` file; see {@link ConnectOptions.credentialsFile}.
   *
   * @throws (rejects) NatsError `'invalidOption'` naming the path, for a file that is missing,
   * unreadable or not a `.creds` file.
   */
  static withCredentialsFile(path: string): Promise<ConnectOptions> {
    return new ConnectOptions().credentialsFile(path);
  }

  /**
   * New options from the contents of a `.creds` file; see {@link ConnectOptions.credentials}.
   *
   * @throws NatsError `'invalidOption'` for text that is not a `.creds` file (no JWT or no seed).
   */
  static withCredentials(creds: string): ConnectOptions {
    return new ConnectOptions().credentials(creds);
  }

  /**
   * New options with an auth callback; see {@link ConnectOptions.authCallback}.
   *
   * @throws NatsError `'invalidOption'` for a `cb` that is no function.
   */
  static withAuthCallback(cb: AuthCallback): ConnectOptions {
    return new ConnectOptions().authCallback(cb);
  }

  /**
   * Token authentication (`auth_token` in CONNECT). A token in the URL (`nats://token@host`)
   * works too. Redacted in inspect, JSON and errors.
   *
   * @throws NatsError `'invalidOption'` for a token that is not a non-empty string.
   */
  token(token: string): this {
    this.#o.worker.auth.token = secret('token', token);
    return this;
  }

  /**
   * User/password authentication. Credentials in the URL (`nats://user:pass@host`) work too;
   * the password is redacted in inspect, JSON and errors.
   *
   * @throws NatsError `'invalidOption'` for a user or password that is not a string.
   */
  userAndPassword(user: string, pass: string): this {
    this.#o.worker.auth.user = text('user', user);
    this.#o.worker.auth.pass = secret('password', pass);
    return this;
  }

  /**
   * NKey authentication: the worker signs the server nonce with this user seed (`SU…`).
   * The seed never leaves the client.
   *
   * @throws NatsError `'invalidOption'` for a seed that is not a valid user seed.
   */
  nkey(seed: string): this {
    this.#o.worker.auth.seed = checkSeed('nkey seed', seed);
    return this;
  }

  /**
   * JWT authentication: `jwt` is the user JWT; `sign(nonce)` signs the server nonce on this
   * thread (a Uint8Array, or a Promise of one), on every (re)connect, bounded by
   * `connectionTimeout` (then kind `'callback'`).
   *
   * @throws NatsError `'invalidOption'` for a JWT that is not a non-empty string or a `sign` that is no function.
   */
  jwt(jwt: string, sign: SignCallback): this {
    this.#o.worker.auth.jwt = secret('jwt', jwt);
    this.#o.signNonce = callback('jwt sign callback', sign);
    this.#o.worker.auth.signOnCaller = true;
    return this;
  }

  /**
   * Read a `.creds` file (user JWT + NKey seed, as `nsc` writes it) now.
   *
   * @throws (rejects) NatsError `'invalidOption'` naming the path, for a file that is missing,
   * unreadable or not a `.creds` file.
   */
  async credentialsFile(path: string): Promise<this> {
    const content = await fileText('credentialsFile', path);
    return this.setCredentials(content, `credentialsFile ${JSON.stringify(path)}`);
  }

  /**
   * The contents of a `.creds` file (user JWT + NKey seed).
   *
   * @throws NatsError `'invalidOption'` for text that is not a `.creds` file (no JWT or no seed).
   */
  credentials(creds: string): this {
    return this.setCredentials(creds, 'credentials');
  }

  /**
   * `cb(nonce)` runs on this thread on every (re)connect and returns an {@link Auth} whose set
   * fields override the static credentials. Bounded by `connectionTimeout`; a throw or a timeout
   * is a failed attempt (a `clientError` of kind `'callback'`).
   *
   * @throws NatsError `'invalidOption'` for a `cb` that is no function.
   */
  authCallback(cb: AuthCallback): this {
    this.#o.authCallback = callback('authCallback', cb);
    this.#o.worker.auth.authCallback = true;
    return this;
  }

  private setCredentials(content: string, source: string): this {
    const { jwt, seed } = parseCredentials(content, source);
    this.#o.worker.auth.jwt = jwt;
    this.#o.worker.auth.seed = checkSeed(source, seed);
    return this;
  }

  // ---- connection behaviour ----------------------------------------------------------------

  /**
   * Connection name shown by the server (`/connz`). Default: none.
   *
   * @throws NatsError `'invalidOption'` for a name that is not a string.
   */
  name(name: string): this {
    if (typeof name !== 'string')
      throw new NatsError('invalidOption', `name must be a string, got ${typeName(name)}`);
    this.#o.worker.name = name;
    return this;
  }

  /** Do not deliver this connection's own publishes to its subscriptions. Default: off. */
  noEcho(): this {
    this.#o.worker.noEcho = true;
    return this;
  }

  /**
   * Client PING period in ms (default 60000); two unanswered PINGs make the connection stale
   * (`disconnected` with `'timedOut'`, then a reconnect).
   *
   * @throws NatsError `'invalidOption'` for anything but an integer 1..2^31 − 1.
   */
  pingInterval(ms: number): this {
    this.#o.worker.pingInterval = duration('pingInterval', ms, 1);
    return this;
  }

  /**
   * Budget in ms of one connection attempt: TCP, TLS, INFO, CONNECT and the first PONG, and
   * the auth and sign callbacks (default 5000). Also bounds reconnect callbacks and flush/drain
   * while disconnected (2 × this).
   *
   * @throws NatsError `'invalidOption'` for anything but an integer 1..2^31 − 1.
   */
  connectionTimeout(ms: number): this {
    this.#o.worker.connectionTimeout = duration('connectionTimeout', ms, 1);
    return this;
  }

  /**
   * Default timeout in ms of `request` (default 10000); `null`: none.
   *
   * @throws NatsError `'invalidOption'` for anything but `null` or an integer 0..2^31 − 1.
   */
  requestTimeout(ms: number | null): this {
    this.#o.requestTimeout = ms === null ? null : duration('requestTimeout', ms);
    return this;
  }

  /**
   * `connect()` resolves at once (state `'pending'`) and connects in the background, each
   * failed attempt a `clientError` event. Default: off (`connect()` waits and rejects).
   */
  retryOnInitialConnect(): this {
    this.#o.worker.retryOnInitialConnect = true;
    return this;
  }

  /**
   * Servers tried since the last connection, the first pass included, before the client closes
   * with `'maxReconnects'`. Default `null`; `0` and `null`: unlimited.
   *
   * @throws NatsError `'invalidOption'` for anything but `null` or a non-negative integer.
   */
  maxReconnects(n: number | null): this {
    this.#o.worker.maxReconnects =
      n === null ? null : integer('maxReconnects', n, 0, Number.MAX_SAFE_INTEGER);
    return this;
  }

  /**
   * Ignore the cluster members the server announces (INFO `connect_urls`): only the given
   * servers are tried. Default: off (at most 256 discovered servers are kept).
   */
  ignoreDiscoveredServers(): this {
    this.#o.worker.ignoreDiscoveredServers = true;
    return this;
  }

  /** Try the servers in the given order: no shuffle, no sort by failed attempts. Default: off. */
  retainServersOrder(): this {
    this.#o.worker.retainServersOrder = true;
    return this;
  }

  /**
   * `true`: skip the whitespace check of publish subjects (the caller vouches for them).
   * Default `false`.
   *
   * @throws NatsError `'invalidOption'` for a value that is not a boolean.
   */
  skipSubjectValidation(skip: boolean): this {
    this.#o.skipSubjectValidation = flag('skipSubjectValidation', skip);
    return this;
  }

  /**
   * Messages that may wait per subscription (default 65536) before a subscription whose
   * consumer makes no progress drops the rest (a `slowConsumer` event).
   *
   * @throws NatsError `'invalidOption'` for anything but a positive integer.
   */
  subscriptionCapacity(n: number): this {
    this.#o.worker.subscriptionCapacity = positiveInteger('subscriptionCapacity', n);
    return this;
  }

  /**
   * Messages waiting on this thread (beyond the shared ring) from which `publish` returns
   * `false` (default 2048).
   *
   * @throws NatsError `'invalidOption'` for anything but a positive integer.
   */
  clientCapacity(n: number): this {
    this.#o.clientCapacity = positiveInteger('clientCapacity', n);
    return this;
  }

  /**
   * Hard bound on bytes waiting towards the connection (default 64 MiB); a publish past it
   * throws `'clientCapacity'` and is not sent.
   *
   * @throws NatsError `'invalidOption'` for anything but a positive integer.
   */
  maxPendingBytes(n: number): this {
    this.#o.maxPendingBytes = positiveInteger('maxPendingBytes', n);
    return this;
  }

  /**
   * Prefix of `newInbox()` and of the request inbox (default `_INBOX`).
   *
   * @throws NatsError `'invalidOption'` for a prefix that is empty, has wildcards or whitespace, or a leading,
   * trailing or double `.`.
   */
  customInboxPrefix(prefix: string): this {
    if (
      typeof prefix !== 'string' ||
      prefix === '' ||
      /[\s*>]/.test(prefix) ||
      /^\.|\.$|\.\./.test(prefix)
    ) {
      throw new NatsError(
        'invalidOption',
        `customInboxPrefix must be a subject without wildcards or whitespace, got ${describe(prefix)}`,
      );
    }
    this.#o.inboxPrefix = prefix;
    return this;
  }

  /**
   * Initial protocol read buffer in bytes (default 65535), 1 KiB to 64 MiB.
   *
   * @throws NatsError `'invalidOption'` for anything but an integer in that range.
   */
  readBufferCapacity(bytes: number): this {
    this.#o.worker.readBufferCapacity = integer(
      'readBufferCapacity',
      bytes,
      READ_BUFFER_MIN,
      READ_BUFFER_MAX,
    );
    return this;
  }

  /**
   * Local IP address to bind, with or without a port (`addr:port`, `[v6]:port`). Default: none.
   *
   * @throws NatsError `'invalidOption'` for anything but an IP literal (host names are refused).
   */
  localAddress(addr: string): this {
    this.#o.worker.localAddress = localAddress('localAddress', addr);
    return this;
  }

  /**
   * Delay in ms before each connection attempt, the first too, given the attempts so far; runs on
   * this thread and may return a Promise. Default: 0, 2, 4, 8 … ms, at most 4 s, no jitter.
   * Bounded by `connectionTimeout`.
   *
   * @throws NatsError `'invalidOption'` for a `cb` that is no function.
   */
  reconnectDelayCallback(cb: (attempts: number) => number | Promise<number>): this {
    this.#o.reconnectDelayCallback = callback('reconnectDelayCallback', cb);
    this.#o.worker.hasReconnectDelayCallback = true;
    return this;
  }

  /**
   * Choose the server (and the delay) of each attempt; runs on this thread with the pool and the
   * last INFO. `null`, a throw, or an address not in the pool (then a `'serverNotInPool'`
   * `clientError`) fall back to the default choice. Default: none.
   *
   * @throws NatsError `'invalidOption'` for a `cb` that is no function.
   */
  reconnectToServerCallback(cb: ReconnectToServerCallback): this {
    this.#o.reconnectToServerCallback = callback('reconnectToServerCallback', cb);
    this.#o.worker.hasReconnectToServerCallback = true;
    return this;
  }

  /**
   * Receives every {@link Event}, on this thread, in order. What it throws is reported as a
   * `clientError` of kind `'callback'`. Default: none; see also `Client.status()`.
   *
   * @throws NatsError `'invalidOption'` for a `cb` that is no function.
   */
  eventCallback(cb: (event: Event) => void | Promise<void>): this {
    this.#o.eventCallback = callback('eventCallback', cb);
    return this;
  }

  /**
   * Connect with these options to one server or a pool (`nats://`, `tls://`, or `host[:port]`,
   * port 4222 by default); resolves once connected (or at once with `retryOnInitialConnect`).
   *
   * @throws (rejects) NatsError `'invalidOption'` for an empty pool, an address that does not
   * parse, a WebSocket address (not yet supported) or a mixed pool; `'timedOut'`, `'io'`, `'tls'`,
   * `'authorizationViolation'` or `'maxReconnects'` when no server could be connected to.
   */
  async connect(servers: string | string[]): Promise<Client> {
    return createClient(servers, this);
  }

  /**
   * A copy of the settings (the builder stays usable and the client cannot be changed through it).
   *
   * @internal
   */
  resolve(): ResolvedOptions {
    return copyOptions(this.#o);
  }

  /**
   * Options from a plain object whose keys are setter names (see {@link ConnectOptionsInit}),
   * or the given ConnectOptions as they are.
   *
   * @throws (rejects) NatsError `'invalidOption'` for an unknown key or a value its setter refuses.
   */
  static async from(init: ConnectOptions | ConnectOptionsInit): Promise<ConnectOptions> {
    return isConnectOptions(init) ? init : applyInit(new ConnectOptions(), init);
  }

  /** Secrets redacted: what `util.inspect` and `JSON.stringify` show. */
  toJSON(): Record<string, unknown> {
    return redactedOptions(this.#o);
  }

  /** `util.inspect` shows the settings, secrets redacted. */
  [inspect.custom](): string {
    return `ConnectOptions ${inspect(this.toJSON(), { depth: 4 })}`;
  }

  // ---- TLS (checks and file reading in tls-options.ts; the handshake runs in the worker) ----

  /**
   * `true`: always use TLS, even when the server does not ask for it; a server that does not
   * offer TLS fails the connection with kind `'tls'`. (TLS is used anyway when the server
   * requires it or the URL is `tls://`.)
   *
   * @example
   * await new ConnectOptions().requireTls(true).connect('nats://demo.example:4222');
   */
  requireTls(required: boolean): this {
    this.#o.worker.tls = withRequired(this.#o.worker.tls, required);
    return this;
  }

  /**
   * Start TLS right after the TCP connect, before the server's INFO, as servers configured with
   * `handshake_first` (nats-server 2.10+) expect. Implies TLS.
   *
   * @example
   * await new ConnectOptions().tlsFirst().connect('tls://demo.example:4222');
   */
  tlsFirst(): this {
    this.#o.worker.tls = withHandshakeFirst(this.#o.worker.tls);
    return this;
  }

  /**
   * Trust the CA certificate(s) in this PEM file, in addition to Node's default CAs (or to
   * `tlsClientConfig`'s `ca`, when it has one). May be called more than once. The file is read
   * now: a missing or unreadable file, or one without a certificate, is `'invalidOption'`.
   *
   * The server's certificate must name the host of the URL it was dialled by; a server
   * discovered by IP (INFO `connect_urls`) must name the configured host it was announced
   * through. `tlsClientConfig({ servername })` overrides both.
   *
   * @example
   * await new ConnectOptions().addRootCertificates('/etc/nats/ca.pem').connect('tls://nats.internal:4222');
   */
  addRootCertificates(pemPath: string): this {
    this.#o.worker.tls = withRoots(this.#o.worker.tls, pemPath);
    return this;
  }

  /**
   * Present this certificate and key for mutual TLS. Both files are read now and must hold a
   * PEM certificate and its matching private key (an encrypted key takes its passphrase from
   * `tlsClientConfig({ passphrase })`). The key's content never shows in errors or `inspect`.
   *
   * @example
   * new ConnectOptions().addClientCertificate('/etc/nats/client.pem', '/etc/nats/client-key.pem');
   */
  addClientCertificate(certPemPath: string, keyPemPath: string): this {
    this.#o.worker.tls = withClientCert(this.#o.worker.tls, certPemPath, keyPemPath);
    return this;
  }

  /**
   * Node `tls.ConnectionOptions` for the handshake (`ca`, `cert`, `key`, `pfx`, `passphrase`,
   * `minVersion`, `ciphers`, `servername`, `rejectUnauthorized`, ...). They travel to the
   * connection worker by structured clone, so callbacks (`checkServerIdentity`, ...) and class
   * instances other than byte arrays are `'invalidOption'`, as are `socket`, `host`, `port`,
   * `path` and `secureContext`, which the connection sets itself. Setting it again replaces it.
   *
   * When it and the dedicated setters overlap: `addRootCertificates` files are added to its
   * `ca`; `addClientCertificate` replaces its `cert` and `key`; its `servername` replaces the
   * configured host as the name the server certificate is verified against.
   *
   * @example
   * new ConnectOptions().tlsClientConfig({ ca: readFileSync('ca.pem'), minVersion: 'TLSv1.3' });
   */
  tlsClientConfig(options: TlsClientConfig): this {
    this.#o.worker.tls = withConfig(this.#o.worker.tls, options);
    return this;
  }
}

/** `instanceof`, which runs a Proxy's getPrototypeOf trap: one that throws is not options. */
function isConnectOptions(value: unknown): value is ConnectOptions {
  try {
    return value instanceof ConnectOptions;
  } catch {
    return false;
  }
}
