/**
 * `ConnectOptions`: the builder users configure a client with (API.md). Every setter checks
 * its value at once (`'invalidOption'` naming the option and the value), copies what it keeps
 * and returns `this`. Secrets (token, password, seeds, JWTs, keys) never show in
 * `util.inspect`, `JSON.stringify` or error messages.
 *
 * This module is the setters (documented once, in options-api.ts); the checks they share are option-checks.ts (TLS: tls-options.ts),
 * what they build, with its defaults and redaction, is resolved-options.ts, and the plain-object
 * form is options-init.ts.
 */
import { inspect } from 'node:util';
import { parseCredentials } from '../shared/creds.js';
import { describe, typeName } from '../shared/describe.js';
import { NatsError } from '../shared/errors.js';
import { READ_BUFFER_MAX, READ_BUFFER_MIN } from '../shared/options.js';
import { hasSpaceOrControl } from '../shared/protocol/subject.js';
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
import type { ConnectOptionsApi } from './options-api.js';
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
export class ConnectOptions implements ConnectOptionsApi {
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

  token(token: string): this {
    this.#o.worker.auth.token = secret('token', token);
    return this;
  }

  userAndPassword(user: string, pass: string): this {
    this.#o.worker.auth.user = text('user', user);
    this.#o.worker.auth.pass = secret('password', pass);
    return this;
  }

  nkey(seed: string): this {
    this.#o.worker.auth.seed = checkSeed('nkey seed', seed);
    return this;
  }

  jwt(jwt: string, sign: SignCallback): this {
    this.#o.worker.auth.jwt = secret('jwt', jwt);
    this.#o.signNonce = callback('jwt sign callback', sign);
    this.#o.worker.auth.signOnCaller = true;
    return this;
  }

  async credentialsFile(path: string): Promise<this> {
    const content = await fileText('credentialsFile', path);
    return this.setCredentials(content, `credentialsFile ${JSON.stringify(path)}`);
  }

  credentials(creds: string): this {
    return this.setCredentials(creds, 'credentials');
  }

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

  name(name: string): this {
    if (typeof name !== 'string')
      throw new NatsError('invalidOption', `name must be a string, got ${typeName(name)}`);
    this.#o.worker.name = name;
    return this;
  }

  noEcho(): this {
    this.#o.worker.noEcho = true;
    return this;
  }

  pingInterval(ms: number): this {
    this.#o.worker.pingInterval = duration('pingInterval', ms);
    return this;
  }

  connectionTimeout(ms: number): this {
    this.#o.worker.connectionTimeout = duration('connectionTimeout', ms);
    return this;
  }

  requestTimeout(ms: number | null): this {
    this.#o.requestTimeout = ms === null ? null : duration('requestTimeout', ms);
    return this;
  }

  retryOnInitialConnect(): this {
    this.#o.worker.retryOnInitialConnect = true;
    return this;
  }

  maxReconnects(n: number | null): this {
    // 0 is unlimited in async-nats and "give up at the first failure" in nats.js (whose
    // unlimited is -1): either reading would surprise the other camp, so 0 is refused.
    this.#o.worker.maxReconnects =
      n === null
        ? null
        : integer(
            'maxReconnects',
            n,
            1,
            Number.MAX_SAFE_INTEGER,
            'null (unlimited; async-nats 0, nats.js -1) or an integer',
          );
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

  skipSubjectValidation(skip: boolean): this {
    this.#o.skipSubjectValidation = flag('skipSubjectValidation', skip);
    return this;
  }

  subscriptionCapacity(n: number): this {
    this.#o.worker.subscriptionCapacity = positiveInteger('subscriptionCapacity', n);
    return this;
  }

  clientCapacity(n: number): this {
    this.#o.clientCapacity = positiveInteger('clientCapacity', n);
    return this;
  }

  maxPendingBytes(n: number): this {
    this.#o.maxPendingBytes = positiveInteger('maxPendingBytes', n);
    return this;
  }

  customInboxPrefix(prefix: string): this {
    if (
      typeof prefix !== 'string' ||
      prefix === '' ||
      /[\s*>]/.test(prefix) ||
      hasSpaceOrControl(prefix) || // control characters too: a subject check refuses them later
      /^\.|\.$|\.\./.test(prefix)
    ) {
      throw new NatsError(
        'invalidOption',
        `customInboxPrefix must be a subject without wildcards, whitespace or control characters, got ${describe(prefix)}`,
      );
    }
    this.#o.inboxPrefix = prefix;
    return this;
  }

  readBufferCapacity(bytes: number): this {
    this.#o.worker.readBufferCapacity = integer(
      'readBufferCapacity',
      bytes,
      READ_BUFFER_MIN,
      READ_BUFFER_MAX,
    );
    return this;
  }

  localAddress(addr: string): this {
    this.#o.worker.localAddress = localAddress('localAddress', addr);
    return this;
  }

  reconnectDelayCallback(cb: (attempts: number) => number | Promise<number>): this {
    this.#o.reconnectDelayCallback = callback('reconnectDelayCallback', cb);
    this.#o.worker.hasReconnectDelayCallback = true;
    return this;
  }

  reconnectToServerCallback(cb: ReconnectToServerCallback): this {
    this.#o.reconnectToServerCallback = callback('reconnectToServerCallback', cb);
    this.#o.worker.hasReconnectToServerCallback = true;
    return this;
  }

  eventCallback(cb: (event: Event) => void | Promise<void>): this {
    this.#o.eventCallback = callback('eventCallback', cb);
    return this;
  }

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

  requireTls(required: boolean): this {
    this.#o.worker.tls = withRequired(this.#o.worker.tls, required);
    return this;
  }

  tlsFirst(): this {
    this.#o.worker.tls = withHandshakeFirst(this.#o.worker.tls);
    return this;
  }

  addRootCertificates(pemPath: string): this {
    this.#o.worker.tls = withRoots(this.#o.worker.tls, pemPath);
    return this;
  }

  addClientCertificate(certPemPath: string, keyPemPath: string): this {
    this.#o.worker.tls = withClientCert(this.#o.worker.tls, certPemPath, keyPemPath);
    return this;
  }

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
