/**
 * The control plane between the main thread and the connection worker (comlink), and the
 * data that crosses it. The hot path (publish, subscribe, deliveries, flush) never comes here:
 * it travels through the rings declared in layout.ts.
 */
import type { MessagePort } from 'node:worker_threads';
import type { WireError } from './errors.js';
import type { WorkerOptions } from './options.js';
import type { RingBuffers } from './ring/byte-ring.js';
import type { ServerInfo } from './server-info.js';
import type { ServerAddress } from './servers.js';

/** What the worker is started with (`workerData`). */
export interface WorkerData {
  options: WorkerOptions;
  command: RingBuffers;
  delivery: RingBuffers;
  state: SharedArrayBuffer;
  /** The dedicated port the worker exposes {@link WorkerApi} on (not parentPort: both ends can be closed). */
  control: MessagePort;
}

/**
 * Connection events; `E` is the error type: {@link WireError} as they cross from the worker,
 * `NatsError` once the main thread has turned them back into errors.
 */
export type EventOf<E> =
  | { type: 'connected' }
  /** `error`: why the connection was lost (absent when it was ended on purpose). */
  | { type: 'disconnected'; error?: E }
  | { type: 'lameDuckMode' }
  | { type: 'draining' }
  | { type: 'closed' }
  | { type: 'slowConsumer'; sid: number }
  | { type: 'serverError'; error: E }
  | { type: 'clientError'; error: E };

/**
 * An event as it crosses from the worker. 'connected' carries the INFO and the pool of the
 * connection it announces: the main thread applies both before its listeners run, so
 * `serverInfo()` and `serverPool()` describe that connection when they do. They are absent
 * only from a 'connected' followed by a newer one in the same batch (worker/host-updates.ts).
 */
export type WireEvent =
  | Exclude<EventOf<WireError>, { type: 'connected' | 'serverError' }>
  /**
   * `connection`: the worker's count of connections at this one (statistics().connects): the
   * caller's thread tells from it whether its INFO and pool describe the connection that is up.
   */
  | { type: 'connected'; connection: number; info?: ServerInfo; servers?: WireServer[] }
  /**
   * `flushesAcked`: the id of the last flush whose PONG came before this -ERR (0: none). What
   * was published before that flush reached the server before the -ERR's cause did, so a
   * permissions -ERR is not about it (main/request-mux.ts `denied`).
   */
  | { type: 'serverError'; error: WireError; flushesAcked: number };

/**
 * A batch of what the worker tells the caller's thread (worker/host-updates.ts): the latest
 * INFO of the open connection and pool snapshot, when they changed, applied first; then the
 * events, in order.
 */
export interface HostUpdate {
  info?: ServerInfo;
  /** The connection (as {@link WireEvent} 'connected' counts them) whose INFO `info` is. */
  infoOf?: number;
  servers?: WireServer[];
  events: WireEvent[];
}

/** Callbacks the main thread hands to the worker once, at start (comlink proxies). */
export interface HostCallbacks {
  /** Events, INFO and pool changes (attempt, connect, discovery, setServerPool), batched. */
  update(update: HostUpdate): void;
  /** The worker ended the connection by itself (e.g. maxReconnects); the host tears down. */
  ended(error: WireError): void;
  reconnectDelay?(attempts: number): number | Promise<number>;
  /** `.jwt(jwt, sign)`: sign the server nonce on the caller's thread. */
  signNonce?(nonce: Uint8Array): Promise<Uint8Array>;
  /** `.authCallback(cb)`: credentials for this (re)connect, given the server nonce. */
  authenticate?(nonce: Uint8Array): Promise<AuthFields>;
  /** `.reconnectToServerCallback(cb)`: pick the server (and delay) of a reconnect. */
  reconnectToServer?(servers: WireServer[], info: ServerInfo): Promise<ReconnectToServer | null>;
}

/** One server of the pool, as `client.serverPool()` shows it (credentials never included). */
export interface WireServer {
  url: string;
  failedAttempts: number;
  didConnect: boolean;
  isDiscovered: boolean;
  lastError?: WireError;
}

/** A reconnect callback's choice: `addr` as in the pool (URL or host:port), `delay` in ms. */
export interface ReconnectToServer {
  /** The server to try: an address of the pool, as its URL or `host:port`. */
  addr: string;
  /** ms to wait before the attempt; default: what `reconnectDelayCallback` gives. */
  delay?: number;
}

/** The fields of a user's `Auth` as they cross threads (plain data). */
export interface AuthFields {
  /** A user JWT, sent in CONNECT with the nonce's signature. */
  jwt?: string;
  /** A public NKey, sent in CONNECT with the nonce's signature. */
  nkey?: string;
  /** The server's nonce signed with the user's seed. */
  signature?: Uint8Array;
  /** User name, sent with `password`. */
  username?: string;
  /** Password for `username`. */
  password?: string;
  /** An auth token. */
  token?: string;
}

/**
 * Results cross as data: comlink would flatten a thrown NatsError into a plain Error. A
 * connected start carries what its 'connected' event does; the caller waits for that event
 * (it comes on another port) before connect() resolves, and applies INFO and pool from it.
 */
export type StartResult =
  | { ok: true; info?: ServerInfo; servers?: WireServer[] }
  | { ok: false; error: WireError };

/** What the worker exposes on its control port. */
export interface WorkerApi {
  /** Start the connection loop; resolves once connected (or at once with retryOnInitialConnect). */
  start(host: HostCallbacks): Promise<StartResult>;
  /**
   * Send what the command ring holds, close the socket, stop the loop, within `withinMs` (the
   * rest of close()'s connectionTimeout); the worker then exits. Resolves with how many
   * accepted messages were not sent (API.md 'notSent').
   */
  close(withinMs: number): Promise<number>;
  /** Drop the current connection; the loop reconnects as after any loss. */
  forceReconnect(): Promise<void>;
  /** Replace the pool (validated by the caller), keeping state of servers in both. */
  /** Resolves with the new pool, so the caller's serverPool() is current when its call resolves. */
  setServerPool(servers: ServerAddress[]): Promise<WireServer[]>;
}
