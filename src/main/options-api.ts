/**
 * What a `ConnectOptions` builder offers, documented once: each setter with its default,
 * what it accepts and the error it raises. options.ts holds the implementation.
 */
import type { Client } from './client.js';
import type { Event } from './events.js';
import type { AuthCallback, ReconnectToServerCallback, SignCallback } from './resolved-options.js';
import type { TlsClientConfig } from './tls-options.js';

export interface ConnectOptionsApi {
  /**
   * Token authentication (`auth_token` in CONNECT). A token in the URL (`nats://token@host`)
   * works too. Redacted in inspect, JSON and errors.
   *
   * @throws NatsError `'invalidOption'` for a token that is not a non-empty string.
   */
  token(token: string): this;

  /**
   * User/password authentication. Credentials in the URL (`nats://user:pass@host`) work too;
   * the password is redacted in inspect, JSON and errors.
   *
   * @throws NatsError `'invalidOption'` for a user or password that is not a string.
   */
  userAndPassword(user: string, pass: string): this;

  /**
   * NKey authentication: the worker signs the server nonce with this user seed (`SU…`).
   * The seed never leaves the client.
   *
   * @throws NatsError `'invalidOption'` for a seed that is not a valid user seed.
   */
  nkey(seed: string): this;

  /**
   * JWT authentication: `jwt` is the user JWT; `sign(nonce)` signs the server nonce on this
   * thread (a Uint8Array, or a Promise of one), on every (re)connect, bounded by
   * `connectionTimeout` (then kind `'callback'`).
   *
   * @throws NatsError `'invalidOption'` for a JWT that is not a non-empty string or a `sign` that is no function.
   */
  jwt(jwt: string, sign: SignCallback): this;

  /**
   * Read a `.creds` file (user JWT + NKey seed, as `nsc` writes it) now.
   *
   * @throws (rejects) NatsError `'invalidOption'` naming the path, for a file that is missing,
   * unreadable or not a `.creds` file.
   */
  credentialsFile(path: string): Promise<this>;

  /**
   * The contents of a `.creds` file (user JWT + NKey seed).
   *
   * @throws NatsError `'invalidOption'` for text that is not a `.creds` file (no JWT or no seed).
   */
  credentials(creds: string): this;

  /**
   * `cb(nonce)` runs on this thread on every (re)connect and returns an {@link Auth} whose set
   * fields override the static credentials. Bounded by `connectionTimeout`; a throw or a timeout
   * is a failed attempt (a `clientError` of kind `'callback'`).
   *
   * @throws NatsError `'invalidOption'` for a `cb` that is no function.
   */
  authCallback(cb: AuthCallback): this;

  /**
   * Connection name shown by the server (`/connz`). Default: none.
   *
   * @throws NatsError `'invalidOption'` for a name that is not a string.
   */
  name(name: string): this;

  /** Do not deliver this connection's own publishes to its subscriptions. Default: off. */
  noEcho(): this;

  /**
   * Client PING period in ms (default 60000); two unanswered PINGs make the connection stale
   * (`disconnected` with `'timedOut'`, then a reconnect). 0: no client PINGs, so no stale
   * detection (flush() and rtt() still send theirs, and one goes every MiB written).
   *
   * @throws NatsError `'invalidOption'` for anything but an integer 0..2^31 − 1.
   */
  pingInterval(ms: number): this;

  /**
   * Budget in ms of one connection attempt: TCP, TLS, INFO, CONNECT and the first PONG, and
   * the auth and sign callbacks (default 5000). Also bounds reconnect callbacks and flush/drain
   * while disconnected (2 × this). 0 is taken literally, as async-nats and nats.js do: every
   * attempt times out before it can finish.
   *
   * @throws NatsError `'invalidOption'` for anything but an integer 0..2^31 − 1.
   */
  connectionTimeout(ms: number): this;

  /**
   * Default timeout in ms of `request` (default 10000); `null`: none.
   *
   * @throws NatsError `'invalidOption'` for anything but `null` or an integer 0..2^31 − 1.
   */
  requestTimeout(ms: number | null): this;

  /**
   * `connect()` resolves at once (state `'pending'`) and connects in the background, each
   * failed attempt a `clientError` event. Default: off (`connect()` waits and rejects).
   */
  retryOnInitialConnect(): this;

  /**
   * Servers tried since the last connection, the first pass included, before the client closes
   * with `'maxReconnects'`. Default `null`: unlimited. `0` is refused rather than read as
   * async-nats's "unlimited" or nats.js's "give up at once" (its `maxReconnectAttempts: -1`
   * is `null` here).
   *
   * @throws NatsError `'invalidOption'` for anything but `null` or an integer ≥ 1.
   */
  maxReconnects(n: number | null): this;

  /**
   * Ignore the cluster members the server announces (INFO `connect_urls`): only the given
   * servers are tried. Default: off (at most 256 discovered servers are kept).
   */
  ignoreDiscoveredServers(): this;

  /** Try the servers in the given order: no shuffle, no sort by failed attempts. Default: off. */
  retainServersOrder(): this;

  /**
   * `true`: skip the control-character check of publish and reply subjects (the caller
   * vouches for them); a space, tab, CR or LF is refused all the same, as it would split the
   * protocol line. Default `false`.
   *
   * @throws NatsError `'invalidOption'` for a value that is not a boolean.
   */
  skipSubjectValidation(skip: boolean): this;

  /**
   * Messages that may wait per subscription (default 65536) before a subscription whose
   * consumer makes no progress drops the rest (a `slowConsumer` event).
   *
   * @throws NatsError `'invalidOption'` for anything but a positive integer.
   */
  subscriptionCapacity(n: number): this;

  /**
   * Messages waiting on this thread (beyond the shared ring) from which `publish` returns
   * `false` (default 2048).
   *
   * @throws NatsError `'invalidOption'` for anything but a positive integer.
   */
  clientCapacity(n: number): this;

  /**
   * Hard bound on bytes waiting towards the connection (default 64 MiB); a publish past it
   * throws `'clientCapacity'` and is not sent.
   *
   * @throws NatsError `'invalidOption'` for anything but a positive integer.
   */
  maxPendingBytes(n: number): this;

  /**
   * Prefix of `newInbox()` and of the request inbox (default `_INBOX`).
   *
   * @throws NatsError `'invalidOption'` for a prefix that is empty, has wildcards or whitespace, or a leading,
   * trailing or double `.`.
   */
  customInboxPrefix(prefix: string): this;

  /**
   * Initial protocol read buffer in bytes (default 65535), 1 KiB to 64 MiB.
   *
   * @throws NatsError `'invalidOption'` for anything but an integer in that range.
   */
  readBufferCapacity(bytes: number): this;

  /**
   * Local IP address to bind, with or without a port (`addr:port`, `[v6]:port`). Default: none.
   *
   * @throws NatsError `'invalidOption'` for anything but an IP literal (host names are refused).
   */
  localAddress(addr: string): this;

  /**
   * Delay in ms before each connection attempt, the first too, given the attempts so far; runs on
   * this thread and may return a Promise. Default: 0, 2, 4, 8 … ms, at most 4 s, no jitter.
   * Bounded by `connectionTimeout`.
   *
   * @throws NatsError `'invalidOption'` for a `cb` that is no function.
   */
  reconnectDelayCallback(cb: (attempts: number) => number | Promise<number>): this;

  /**
   * Choose the server (and the delay) of each attempt; runs on this thread with the pool and the
   * last INFO. `null`, a throw, or an address not in the pool (then a `'serverNotInPool'`
   * `clientError`) fall back to the default choice. Default: none.
   *
   * @throws NatsError `'invalidOption'` for a `cb` that is no function.
   */
  reconnectToServerCallback(cb: ReconnectToServerCallback): this;

  /**
   * Receives every {@link Event}, on this thread, in order. What it throws is reported as a
   * `clientError` of kind `'callback'`. Default: none; see also `Client.status()`. The first
   * connection's `'connected'` (and every event before it) has been handed to it when
   * `connect()` resolves, unless `retryOnInitialConnect` made `connect()` resolve at once.
   *
   * @throws NatsError `'invalidOption'` for a `cb` that is no function.
   */
  eventCallback(cb: (event: Event) => void | Promise<void>): this;

  /**
   * Connect with these options to one server or a pool (`nats://`, `tls://`, or `host[:port]`,
   * port 4222 by default); resolves once connected (or at once with `retryOnInitialConnect`).
   *
   * @throws (rejects) NatsError `'invalidOption'` for an empty pool, an address that does not
   * parse, or a pool mixing WebSocket and non-WebSocket addresses; `'timedOut'`, `'io'`, `'tls'`,
   * `'authorizationViolation'` or `'maxReconnects'` when no server could be connected to.
   */
  connect(servers: string | string[]): Promise<Client>;

  /**
   * `true`: always use TLS, even when the server does not ask for it; a server that does not
   * offer TLS fails the connection with kind `'tls'`. (TLS is used anyway when the server
   * requires it or the URL is `tls://`.)
   *
   * @example
   * await new ConnectOptions().requireTls(true).connect('nats://demo.example:4222');
   */
  requireTls(required: boolean): this;

  /**
   * Start TLS right after the TCP connect, before the server's INFO, as servers configured with
   * `handshake_first` (nats-server 2.10+) expect. Implies TLS.
   *
   * @example
   * await new ConnectOptions().tlsFirst().connect('tls://demo.example:4222');
   */
  tlsFirst(): this;

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
  addRootCertificates(pemPath: string): this;

  /**
   * Present this certificate and key for mutual TLS. Both files are read now and must hold a
   * PEM certificate and its matching private key (an encrypted key takes its passphrase from
   * `tlsClientConfig({ passphrase })`). The key's content never shows in errors or `inspect`.
   *
   * @example
   * new ConnectOptions().addClientCertificate('/etc/nats/client.pem', '/etc/nats/client-key.pem');
   */
  addClientCertificate(certPemPath: string, keyPemPath: string): this;

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
  tlsClientConfig(options: TlsClientConfig): this;
}
