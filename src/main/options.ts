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

  static withToken(token: string): ConnectOptions {
    return new ConnectOptions().token(token);
  }

  static withUserAndPassword(user: string, pass: string): ConnectOptions {
    return new ConnectOptions().userAndPassword(user, pass);
  }

  static withNkey(seed: string): ConnectOptions {
    return new ConnectOptions().nkey(seed);
  }

  static withJwt(jwt: string, sign: SignCallback): ConnectOptions {
    return new ConnectOptions().jwt(jwt, sign);
  }

  static withCredentialsFile(path: string): Promise<ConnectOptions> {
    return new ConnectOptions().credentialsFile(path);
  }

  static withCredentials(creds: string): ConnectOptions {
    return new ConnectOptions().credentials(creds);
  }

  static withAuthCallback(cb: AuthCallback): ConnectOptions {
    return new ConnectOptions().authCallback(cb);
  }

  /** Token authentication (`auth_token`). */
  token(token: string): this {
    this.#o.worker.auth.token = secret('token', token);
    return this;
  }

  userAndPassword(user: string, pass: string): this {
    this.#o.worker.auth.user = text('user', user);
    this.#o.worker.auth.pass = secret('password', pass);
    return this;
  }

  /** NKey authentication: the worker signs the server nonce with this seed (`SU…`). */
  nkey(seed: string): this {
    this.#o.worker.auth.seed = checkSeed('nkey seed', seed);
    return this;
  }

  /** A user JWT; `sign(nonce)` signs the server nonce on this thread. */
  jwt(jwt: string, sign: SignCallback): this {
    this.#o.worker.auth.jwt = secret('jwt', jwt);
    this.#o.signNonce = callback('jwt sign callback', sign);
    this.#o.worker.auth.signOnCaller = true;
    return this;
  }

  /** Read a `.creds` file (user JWT + NKey seed); a missing or malformed file is `'invalidOption'`. */
  async credentialsFile(path: string): Promise<this> {
    const content = await fileText('credentialsFile', path);
    return this.setCredentials(content, `credentialsFile ${JSON.stringify(path)}`);
  }

  /** The contents of a `.creds` file. */
  credentials(creds: string): this {
    return this.setCredentials(creds, 'credentials');
  }

  /** `cb(nonce)` on every (re)connect; the Auth fields it returns override the static ones. */
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

  /** Connection name shown by the server (`/connz`). */
  name(name: string): this {
    if (typeof name !== 'string')
      throw new NatsError('invalidOption', `name must be a string, got ${typeName(name)}`);
    this.#o.worker.name = name;
    return this;
  }

  /** Do not deliver this connection's own publishes to its subscriptions. */
  noEcho(): this {
    this.#o.worker.noEcho = true;
    return this;
  }

  /** Client PING period (ms); two unanswered PINGs make the connection stale. */
  pingInterval(ms: number): this {
    this.#o.worker.pingInterval = duration('pingInterval', ms, 1);
    return this;
  }

  /** Budget (ms) for TCP + TLS + INFO/CONNECT + first PONG. */
  connectionTimeout(ms: number): this {
    this.#o.worker.connectionTimeout = duration('connectionTimeout', ms, 1);
    return this;
  }

  /** Default timeout (ms) of `request` and `flush`; `null` = none. */
  requestTimeout(ms: number | null): this {
    this.#o.requestTimeout = ms === null ? null : duration('requestTimeout', ms);
    return this;
  }

  /** `connect()` returns at once; the connection is made in the background. */
  retryOnInitialConnect(): this {
    this.#o.worker.retryOnInitialConnect = true;
    return this;
  }

  /** Consecutive failed attempts before the client closes; `null` = unlimited. */
  maxReconnects(n: number | null): this {
    this.#o.worker.maxReconnects =
      n === null ? null : integer('maxReconnects', n, 0, Number.MAX_SAFE_INTEGER);
    return this;
  }

  ignoreDiscoveredServers(): this {
    this.#o.worker.ignoreDiscoveredServers = true;
    return this;
  }

  retainServersOrder(): this {
    this.#o.worker.retainServersOrder = true;
    return this;
  }

  /** Skip the whitespace check of publish subjects (the caller vouches for them). */
  skipSubjectValidation(skip: boolean): this {
    this.#o.skipSubjectValidation = flag('skipSubjectValidation', skip);
    return this;
  }

  /** Messages buffered per subscription before it is a slow consumer and drops. */
  subscriptionCapacity(n: number): this {
    this.#o.worker.subscriptionCapacity = positiveInteger('subscriptionCapacity', n);
    return this;
  }

  /** Messages waiting on the caller's thread at which `publish` starts returning false. */
  clientCapacity(n: number): this {
    this.#o.clientCapacity = positiveInteger('clientCapacity', n);
    return this;
  }

  /** Hard bound on bytes waiting towards the connection; a publish past it throws `'clientCapacity'`. */
  maxPendingBytes(n: number): this {
    this.#o.maxPendingBytes = positiveInteger('maxPendingBytes', n);
    return this;
  }

  /** Prefix of `newInbox()` and of the request multiplexer. */
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

  /** Initial protocol read buffer (bytes), 1 KiB to 64 MiB. */
  readBufferCapacity(bytes: number): this {
    this.#o.worker.readBufferCapacity = integer(
      'readBufferCapacity',
      bytes,
      READ_BUFFER_MIN,
      READ_BUFFER_MAX,
    );
    return this;
  }

  /** Local IP address (and optional port: `addr:port`, `[v6]:port`) to bind. */
  localAddress(addr: string): this {
    this.#o.worker.localAddress = localAddress('localAddress', addr);
    return this;
  }

  /** Delay (ms) before reconnect attempt `attempts`; runs on this thread. */
  reconnectDelayCallback(cb: (attempts: number) => number | Promise<number>): this {
    this.#o.reconnectDelayCallback = callback('reconnectDelayCallback', cb);
    this.#o.worker.hasReconnectDelayCallback = true;
    return this;
  }

  /**
   * Choose the server (and the delay) of each reconnect; runs on this thread. An address not
   * in the pool, `null`, or a throw fall back to the default choice.
   */
  reconnectToServerCallback(cb: ReconnectToServerCallback): this {
    this.#o.reconnectToServerCallback = callback('reconnectToServerCallback', cb);
    this.#o.worker.hasReconnectToServerCallback = true;
    return this;
  }

  /** Receives every {@link Event}; runs on this thread. */
  eventCallback(cb: (event: Event) => void | Promise<void>): this {
    this.#o.eventCallback = callback('eventCallback', cb);
    return this;
  }

  /** Connect with these options. */
  async connect(servers: string | string[]): Promise<Client> {
    return createClient(servers, this);
  }

  /** A copy of the settings (the builder stays usable and the client cannot be changed through it). */
  resolve(): ResolvedOptions {
    return copyOptions(this.#o);
  }

  /** Build from a plain object whose keys are setter names (see {@link ConnectOptionsInit}). */
  static async from(init: ConnectOptions | ConnectOptionsInit): Promise<ConnectOptions> {
    return isConnectOptions(init) ? init : applyInit(new ConnectOptions(), init);
  }

  /** Secrets redacted: what `util.inspect` and `JSON.stringify` show. */
  toJSON(): Record<string, unknown> {
    return redactedOptions(this.#o);
  }

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
