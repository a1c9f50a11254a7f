import type { ServerAddress } from './servers.js';

/**
 * The connection settings the worker runs with: validated, defaults applied, plain data
 * (it travels in `workerData`). Callbacks are not here: they stay on the caller's thread and
 * the worker reaches them through comlink proxies.
 */
export interface WorkerOptions {
  servers: ServerAddress[];
  name?: string;
  noEcho: boolean;
  /** ms between client PINGs; two unanswered ⇒ stale. */
  pingInterval: number;
  /** ms for TCP + TLS + INFO/CONNECT + first PONG. */
  connectionTimeout: number;
  retryOnInitialConnect: boolean;
  /** Servers tried since the last connection before the client closes (≥ 1); null = unlimited. */
  maxReconnects: number | null;
  ignoreDiscoveredServers: boolean;
  retainServersOrder: boolean;
  subscriptionCapacity: number;
  readBufferCapacity: number;
  localAddress?: string;
  /** The caller installed a reconnect delay callback (otherwise the worker's backoff is used). */
  hasReconnectDelayCallback: boolean;
  /** The caller installed a reconnect-to-server callback (otherwise the pool's order is used). */
  hasReconnectToServerCallback: boolean;
  auth: AuthSettings;
  /** TLS material and policy (`requireTls`, `tlsFirst`, certificates); absent = none configured. */
  tls?: TlsSettings;
}

/**
 * TLS as configured on the builder, read and checked there; the worker builds its Node TLS
 * options from it (src/worker/tls.ts). Secrets: `clientCert.key` and `config`'s `key`, `pfx`
 * and `passphrase` hold private material — never log this.
 */
export interface TlsSettings {
  /** `requireTls(true)`: always upgrade; a server that does not offer TLS is an error. */
  required: boolean;
  /** `tlsFirst()`: TLS handshake right after the TCP connect, before the server's INFO. */
  handshakeFirst: boolean;
  /** `addRootCertificates(path)`, in call order: trusted in addition to the default CAs. */
  roots: { path: string; pem: string }[];
  /** `addClientCertificate(certPath, keyPath)`: the certificate offered for mutual TLS. */
  clientCert?: { certPath: string; keyPath: string; cert: string; key: string };
  /** `tlsClientConfig(options)`: Node `tls.ConnectionOptions`, checked to be plain data. */
  config?: Record<string, unknown>;
}

/**
 * Static credentials, plus whether the caller's thread signs or authenticates through a
 * callback. Several may be set at once; all go into CONNECT. Secrets: never log this.
 */
export interface AuthSettings {
  token?: string;
  user?: string;
  pass?: string;
  /** A user JWT (from `.jwt()` or a creds file). */
  jwt?: string;
  /** An NKey seed: the worker signs the server nonce with it (`.nkey()` or a creds file). */
  seed?: string;
  /** `.jwt(jwt, sign)`: the nonce is signed on the caller's thread. */
  signOnCaller: boolean;
  /** `.authCallback(cb)`: called with the nonce on every (re)connect; its fields override. */
  authCallback: boolean;
}

/** What a redacted secret looks like in inspect output, JSON and errors. */
export const REDACTED = '<redacted>';

/**
 * The longest delay a Node timer honours (2^31 − 1 ms, about 24.8 days): above it, Node
 * warns and fires after 1 ms, so a PING interval of 2^31 would PING every millisecond.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Bounds of `readBufferCapacity`: the parser's first buffer is allocated at this size. */
export const READ_BUFFER_MIN = 1024;
export const READ_BUFFER_MAX = 64 * 1024 * 1024;

/** Defaults as in async-nats, in milliseconds. */
export const DEFAULTS = {
  connectionTimeout: 5_000,
  requestTimeout: 10_000,
  pingInterval: 60_000,
  subscriptionCapacity: 65_536,
  clientCapacity: 2_048,
  maxPendingBytes: 64 * 1024 * 1024,
  inboxPrefix: '_INBOX',
  readBufferCapacity: 65_535,
  /** First reconnect delay and its cap; the delay doubles per consecutive failure. */
  reconnectDelayMax: 4_000,
} as const;

/**
 * Default reconnect backoff, async-nats's: attempt 1 at once, then 2, 4, 8 … ms, at most 4 s
 * (attempt 13 on). No jitter, as async-nats: the counter counts every server tried, so a pool
 * of several servers already spreads a fleet's attempts.
 */
export function defaultReconnectDelay(attempts: number): number {
  if (attempts <= 1) return 0;
  return Math.min(2 ** (attempts - 1), DEFAULTS.reconnectDelayMax);
}
