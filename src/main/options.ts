/**
 * `ConnectOptions`: the builder users configure a client with (API.md). Every setter checks
 * its value at once (`'invalidOption'` naming the option and the value), copies what it keeps
 * and returns `this`. Authentication and TLS setters arrive with their issues.
 */
import { NatsError } from '../shared/errors.js';
import { DEFAULTS, type WorkerOptions } from '../shared/options.js';
import { parseServerUrl } from '../shared/servers.js';
import { type Client, createClient } from './client.js';
import type { Event } from './events.js';

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
}

function duration(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new NatsError(
      'invalidOption',
      `${option} must be a finite, non-negative number of milliseconds, got ${String(value)}`,
    );
  }
  return value;
}

function positiveInteger(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new NatsError(
      'invalidOption',
      `${option} must be a positive integer, got ${String(value)}`,
    );
  }
  return value;
}

function callback<T>(option: string, value: T): T {
  if (typeof value !== 'function') {
    throw new NatsError('invalidOption', `${option} must be a function, got ${typeof value}`);
  }
  return value;
}

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
    },
    requestTimeout: DEFAULTS.requestTimeout,
    skipSubjectValidation: false,
    clientCapacity: DEFAULTS.clientCapacity,
    maxPendingBytes: DEFAULTS.maxPendingBytes,
    inboxPrefix: DEFAULTS.inboxPrefix,
  };

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
    return { ...this.o, worker: { ...this.o.worker } };
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
