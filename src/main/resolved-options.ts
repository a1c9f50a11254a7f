/**
 * What a `ConnectOptions` builder resolves to (options.ts has the setters): the settings the
 * client and its worker run with, their defaults, the copy a client takes, and the form
 * `util.inspect` and `JSON.stringify` show, secrets redacted.
 */
import { DEFAULTS, REDACTED, type TlsSettings, type WorkerOptions } from '../shared/options.js';
import type { ServerInfo } from '../shared/server-info.js';
import type { Auth } from './auth.js';
import type { Event } from './events.js';
import type { ReconnectToServer, Server } from './servers.js';
import { redactTlsSettings } from './tls-options.js';

/** Everything the main thread and the worker need, resolved from a builder. */
export interface ResolvedOptions {
  worker: Omit<WorkerOptions, 'servers'>;
  requestTimeout: number | null;
  skipSubjectValidation: boolean;
  clientCapacity: number;
  maxPendingBytes: number;
  inboxPrefix: string;
  reconnectDelayCallback?: (attempts: number) => number | Promise<number>;
  reconnectToServerCallback?: ReconnectToServerCallback;
  eventCallback?: (event: Event) => void | Promise<void>;
  signNonce?: (nonce: Uint8Array) => Uint8Array | Promise<Uint8Array>;
  authCallback?: (nonce: Uint8Array) => Auth | Promise<Auth>;
}

/** Picks the server (and delay) of each reconnect; `null` = the default choice. */
export type ReconnectToServerCallback = (
  servers: Server[],
  info: ServerInfo,
) => ReconnectToServer | null | Promise<ReconnectToServer | null>;

/** Signs the server nonce with the private key behind a user JWT. */
export type SignCallback = (nonce: Uint8Array) => Uint8Array | Promise<Uint8Array>;
/** Called with the server nonce on every (re)connect; returned fields override static ones. */
export type AuthCallback = (nonce: Uint8Array) => Auth | Promise<Auth>;

/** The settings of a builder nothing was set on. */
export function defaultOptions(): ResolvedOptions {
  return {
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
      hasReconnectToServerCallback: false,
      auth: { signOnCaller: false, authCallback: false },
    },
    requestTimeout: DEFAULTS.requestTimeout,
    skipSubjectValidation: false,
    clientCapacity: DEFAULTS.clientCapacity,
    maxPendingBytes: DEFAULTS.maxPendingBytes,
    inboxPrefix: DEFAULTS.inboxPrefix,
  };
}

/** A deep copy of the data (callbacks shared, not copied). */
export function copyOptions(o: ResolvedOptions): ResolvedOptions {
  return { ...o, worker: { ...o.worker, auth: { ...o.worker.auth } } };
}

/** The settings with every secret redacted: what `util.inspect` and `JSON.stringify` show. */
export function redactedOptions(options: ResolvedOptions): Record<string, unknown> {
  const o = copyOptions(options);
  const auth = o.worker.auth as unknown as Record<string, unknown>;
  for (const key of ['token', 'pass', 'seed', 'jwt'] as const)
    if (auth[key] !== undefined) auth[key] = REDACTED;
  return {
    ...o,
    worker: { ...o.worker, ...redactTls(o.worker as unknown as Record<string, unknown>) },
  };
}

/** TLS private keys never show; the TLS options decide what that covers. */
function redactTls(worker: Record<string, unknown>): Record<string, unknown> {
  return worker.tls ? { tls: redactTlsSettings(worker.tls as TlsSettings) } : {};
}
