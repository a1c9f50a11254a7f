/**
 * `ConnectOptions`: the builder users configure a client with (API.md). Every setter checks
 * its value at once (`'invalidOption'` naming the option and the value), copies what it keeps
 * and returns `this`. Secrets (token, password, seeds, JWTs, keys) never show in
 * `util.inspect`, `JSON.stringify` or error messages.
 */
import { readFile } from 'node:fs/promises';
import { inspect } from 'node:util';
import { fromSeed } from 'nkeys.js';
import { parseCredentials } from '../shared/creds.js';
import { NatsError } from '../shared/errors.js';
import { DEFAULTS, REDACTED, type WorkerOptions } from '../shared/options.js';
import { parseServerUrl } from '../shared/servers.js';
import type { Auth } from './auth.js';
import { type Client, createClient } from './client.js';
import type { Event } from './events.js';
import { callback, duration, positiveInteger, secret, text } from './option-checks.js';

/** Everything the main thread and the worker need, resolved from a builder. */
export interface ResolvedOptions {
  worker: Omit<WorkerOptions, 'servers'>;
  requestTimeout: number | null;
  skipSubjectValidation: boolean;
  clientCapacity: number;
  maxPendingBytes: number;
  inboxPrefix: string;
  reconnectDelayCallback?: (attempts: number) => number;
  eventCallback?: (event: Event) => void | Promise<void>;
  signNonce?: (nonce: Uint8Array) => Uint8Array | Promise<Uint8Array>;
  authCallback?: (nonce: Uint8Array) => Auth | Promise<Auth>;
}

/** Signs the server nonce with the private key behind a user JWT. */
export type SignCallback = (nonce: Uint8Array) => Uint8Array | Promise<Uint8Array>;
/** Called with the server nonce on every (re)connect; returned fields override static ones. */
export type AuthCallback = (nonce: Uint8Array) => Auth | Promise<Auth>;

const encoder = new TextEncoder();

/**
 * @example
 * const client = await new ConnectOptions()
 *   .name('my-service')
 *   .pingInterval(10_000)
 *   .connect('nats://127.0.0.1:4222');
 */
export class ConnectOptions {
  private readonly o: ResolvedOptions = {
    worker: {
      noEcho: false,
      pingInterval: DEFAULTS.pingInterval,
      connectionTimeout: DEFAULTS.connectionTimeout,
      retryOnInitialConnect: false,
      maxReconnects: null,
      ignoreDiscoveredServers: false,
      retainServersOrder: false,
      subscriptionCapacity: DEFAULTS.subscriptionCapacity,
      readBufferCapacity: DEFAULTS.readBufferCapacity,
      hasReconnectDelayCallback: false,
      auth: { signOnCaller: false, authCallback: false },
    },
    requestTimeout: DEFAULTS.requestTimeout,
    skipSubjectValidation: false,
    clientCapacity: DEFAULTS.clientCapacity,
    maxPendingBytes: DEFAULTS.maxPendingBytes,
    inboxPrefix: DEFAULTS.inboxPrefix,
  };

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
    this.o.worker.auth.token = secret('token', token);
    return this;
  }

  userAndPassword(user: string, pass: string): this {
    this.o.worker.auth.user = text('user', user);
    this.o.worker.auth.pass = secret('password', pass);
    return this;
  }

  /** NKey authentication: the worker signs the server nonce with this seed (`SU…`). */
  nkey(seed: string): this {
    this.o.worker.auth.seed = checkSeed('nkey seed', seed);
    return this;
  }

  /** A user JWT; `sign(nonce)` signs the server nonce on this thread. */
  jwt(jwt: string, sign: SignCallback): this {
    this.o.worker.auth.jwt = secret('jwt', jwt);
    this.o.signNonce = callback('jwt sign callback', sign);
    this.o.worker.auth.signOnCaller = true;
    return this;
  }

  /** Read a `.creds` file (user JWT + NKey seed); a missing or malformed file is `'invalidOption'`. */
  async credentialsFile(path: string): Promise<this> {
    let content: string;
    try {
      content = await readFile(text('credentialsFile', path), 'utf8');
    } catch (cause) {
      if (cause instanceof NatsError) throw cause;
      throw new NatsError(
        'invalidOption',
        `credentialsFile ${JSON.stringify(path)} cannot be read: ${(cause as Error).message}`,
        { cause },
      );
    }
    return this.setCredentials(content, `credentialsFile ${JSON.stringify(path)}`);
  }

  /** The contents of a `.creds` file. */
  credentials(creds: string): this {
    return this.setCredentials(creds, 'credentials');
  }

  /** `cb(nonce)` on every (re)connect; the Auth fields it returns override the static ones. */
  authCallback(cb: AuthCallback): this {
    this.o.authCallback = callback('authCallback', cb);
    this.o.worker.auth.authCallback = true;
    return this;
  }

  private setCredentials(content: string, source: string): this {
    const { jwt, seed } = parseCredentials(content, source);
    this.o.worker.auth.jwt = jwt;
    this.o.worker.auth.seed = checkSeed(source, seed);
    return this;
  }

  // ---- connection behaviour ----------------------------------------------------------------

  /** Connection name shown by the server (`/connz`). */
  name(name: string): this {
    if (typeof name !== 'string')
      throw new NatsError('invalidOption', `name must be a string, got ${typeof name}`);
    this.o.worker.name = name;
    return this;
  }

  /** Do not deliver this connection's own publishes to its subscriptions. */
  noEcho(): this {
    this.o.worker.noEcho = true;
    return this;
  }

  /** Client PING period (ms); two unanswered PINGs make the connection stale. */
  pingInterval(ms: number): this {
    this.o.worker.pingInterval = positiveInteger('pingInterval', duration('pingInterval', ms));
    return this;
  }

  /** Budget (ms) for TCP + TLS + INFO/CONNECT + first PONG. */
  connectionTimeout(ms: number): this {
    this.o.worker.connectionTimeout = positiveInteger(
      'connectionTimeout',
      duration('connectionTimeout', ms),
    );
    return this;
  }

  /** Default timeout (ms) of `request` and `flush`; `null` = none. */
  requestTimeout(ms: number | null): this {
    this.o.requestTimeout = ms === null ? null : duration('requestTimeout', ms);
    return this;
  }

  /** `connect()` returns at once; the connection is made in the background. */
  retryOnInitialConnect(): this {
    this.o.worker.retryOnInitialConnect = true;
    return this;
  }

  /** Consecutive failed attempts before the client closes; `null` = unlimited. */
  maxReconnects(n: number | null): this {
    if (n !== null && (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)) {
      throw new NatsError(
        'invalidOption',
        `maxReconnects must be a non-negative integer or null, got ${String(n)}`,
      );
    }
    this.o.worker.maxReconnects = n;
    return this;
  }

  ignoreDiscoveredServers(): this {
    this.o.worker.ignoreDiscoveredServers = true;
    return this;
  }

  retainServersOrder(): this {
    this.o.worker.retainServersOrder = true;
    return this;
  }

  /** Skip the whitespace check of publish subjects (the caller vouches for them). */
  skipSubjectValidation(skip: boolean): this {
    this.o.skipSubjectValidation = skip === true;
    return this;
  }

  /** Messages buffered per subscription before it is a slow consumer and drops. */
  subscriptionCapacity(n: number): this {
    this.o.worker.subscriptionCapacity = positiveInteger('subscriptionCapacity', n);
    return this;
  }

  /** Messages waiting on the caller's thread at which `publish` starts returning false. */
  clientCapacity(n: number): this {
    this.o.clientCapacity = positiveInteger('clientCapacity', n);
    return this;
  }

  /** Hard bound on bytes waiting towards the connection; a publish past it throws `'clientCapacity'`. */
  maxPendingBytes(n: number): this {
    this.o.maxPendingBytes = positiveInteger('maxPendingBytes', n);
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
        `customInboxPrefix must be a subject without wildcards or whitespace, got ${JSON.stringify(prefix)}`,
      );
    }
    this.o.inboxPrefix = prefix;
    return this;
  }

  /** Initial protocol read buffer (bytes). */
  readBufferCapacity(bytes: number): this {
    this.o.worker.readBufferCapacity = positiveInteger('readBufferCapacity', bytes);
    return this;
  }

  /** Local address (and optional port: `addr:port`, `[v6]:port`) to bind. */
  localAddress(addr: string): this {
    if (typeof addr !== 'string' || addr === '') {
      throw new NatsError(
        'invalidOption',
        `localAddress must be a non-empty string, got ${String(addr)}`,
      );
    }
    this.o.worker.localAddress = addr;
    return this;
  }

  /** Delay (ms) before reconnect attempt `attempts`; runs on this thread. */
  reconnectDelayCallback(cb: (attempts: number) => number): this {
    this.o.reconnectDelayCallback = callback('reconnectDelayCallback', cb);
    this.o.worker.hasReconnectDelayCallback = true;
    return this;
  }

  /** Receives every {@link Event}; runs on this thread. */
  eventCallback(cb: (event: Event) => void | Promise<void>): this {
    this.o.eventCallback = callback('eventCallback', cb);
    return this;
  }

  /** Connect with these options. */
  async connect(servers: string | string[]): Promise<Client> {
    return createClient(servers, this);
  }

  /** A copy of the settings (the builder stays usable and the client cannot be changed through it). */
  resolve(): ResolvedOptions {
    return structuredCloneOptions(this.o);
  }

  /** Build from a plain object whose keys are setter names (see {@link ConnectOptionsInit}). */
  static async from(init: ConnectOptions | ConnectOptionsInit): Promise<ConnectOptions> {
    if (init instanceof ConnectOptions) return init;
    if (init === null || typeof init !== 'object') {
      throw new NatsError(
        'invalidOption',
        `options must be a ConnectOptions or a plain object, got ${String(init)}`,
      );
    }
    const options = new ConnectOptions();
    for (const [key, value] of Object.entries(init)) {
      const setter = SETTERS.has(key)
        ? (options as unknown as Record<string, unknown>)[key]
        : undefined;
      if (typeof setter !== 'function')
        throw new NatsError('invalidOption', `unknown option ${JSON.stringify(key)}`);
      if (value === undefined) continue;
      if (setter.length === 0) {
        if (typeof value !== 'boolean') {
          throw new NatsError(
            'invalidOption',
            `option ${key} takes true or false, got ${typeof value}`,
          );
        }
        if (value) setter.call(options);
      } else if (setter.length > 1) {
        if (!Array.isArray(value)) {
          throw new NatsError(
            'invalidOption',
            `option ${key} takes an array of ${setter.length} arguments`,
          );
        }
        await setter.apply(options, value);
      } else {
        await setter.call(options, value);
      }
    }
    return options;
  }

  /** Secrets redacted: what `util.inspect` and `JSON.stringify` show. */
  toJSON(): Record<string, unknown> {
    const o = structuredCloneOptions(this.o);
    const auth = o.worker.auth as unknown as Record<string, unknown>;
    for (const key of ['token', 'pass', 'seed', 'jwt'] as const)
      if (auth[key] !== undefined) auth[key] = REDACTED;
    return {
      ...o,
      worker: { ...o.worker, ...redactTls(o.worker as unknown as Record<string, unknown>) },
    };
  }

  [inspect.custom](): string {
    return `ConnectOptions ${inspect(this.toJSON(), { depth: 4 })}`;
  }
}

/** Parse and check a server list: non-empty, and not mixing WebSocket with other schemes. */
export function resolveServers(servers: string | string[]): WorkerOptions['servers'] {
  const list = typeof servers === 'string' ? [servers] : servers;
  if (!Array.isArray(list) || list.length === 0) {
    throw new NatsError('invalidOption', 'the server list is empty');
  }
  const parsed = list.map(parseServerUrl);
  const ws = parsed.filter((s) => s.scheme === 'ws' || s.scheme === 'wss').length;
  if (ws !== 0 && ws !== parsed.length) {
    throw new NatsError('invalidOption', 'the server list mixes WebSocket and non-WebSocket URLs');
  }
  return parsed;
}

/** Setter names accepted by {@link ConnectOptions.from}. */
const SETTERS = new Set([
  'token',
  'userAndPassword',
  'nkey',
  'jwt',
  'credentialsFile',
  'credentials',
  'authCallback',
  'requireTls',
  'tlsFirst',
  'addRootCertificates',
  'addClientCertificate',
  'tlsClientConfig',
  'connectionTimeout',
  'requestTimeout',
  'pingInterval',
  'retryOnInitialConnect',
  'maxReconnects',
  'ignoreDiscoveredServers',
  'retainServersOrder',
  'skipSubjectValidation',
  'subscriptionCapacity',
  'clientCapacity',
  'maxPendingBytes',
  'customInboxPrefix',
  'readBufferCapacity',
  'localAddress',
  'noEcho',
  'name',
  'reconnectDelayCallback',
  'reconnectToServerCallback',
  'eventCallback',
]);

type Setter = Exclude<keyof ConnectOptions, 'connect' | 'resolve' | 'toJSON'>;
type Args<K extends Setter> = ConnectOptions[K] extends (...args: infer A) => unknown ? A : never;

/**
 * The plain-object form of the builder: each key is a setter's name; the value is its
 * argument, an array of arguments for two-argument setters (`userAndPassword: ['u', 'p']`),
 * or `true` for setters without one (`noEcho: true`).
 *
 * @example
 * await connect('nats://127.0.0.1:4222', { name: 'svc', token: 's3cret', noEcho: true });
 */
export type ConnectOptionsInit = {
  [K in Setter]?: Args<K> extends [] ? boolean : Args<K> extends [infer One] ? One : Args<K>;
};

function checkSeed(what: string, seed: unknown): string {
  const value = secret(what, seed);
  try {
    fromSeed(encoder.encode(value));
  } catch (cause) {
    throw new NatsError('invalidOption', `${what} is not a valid NKey seed`, { cause });
  }
  return value;
}

/** A deep copy of the data (callbacks shared, not copied). */
function structuredCloneOptions(o: ResolvedOptions): ResolvedOptions {
  return { ...o, worker: { ...o.worker, auth: { ...o.worker.auth } } };
}

/** TLS private keys never show; the TLS options decide what that covers. */
function redactTls(worker: Record<string, unknown>): Record<string, unknown> {
  return 'tls' in worker && worker.tls ? { tls: REDACTED } : {};
}
