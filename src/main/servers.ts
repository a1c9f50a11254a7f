/**
 * Servers as the caller sees them: the list it gives `connect()` and `setServerPool()`, and
 * what the worker last said of them (the pool `client.serverPool()` shows, the last INFO).
 */
import type { WireServer } from '../shared/control.js';
import { describe, typeName } from '../shared/describe.js';
import { fromWire, NatsError } from '../shared/errors.js';
import type { WorkerOptions } from '../shared/options.js';
import { defaultServerInfo, type ServerInfo, versionAtLeast } from '../shared/server-info.js';
import { parseServerUrl } from '../shared/servers.js';

/** One server of the pool, as `client.serverPool()` shows it. */
export interface Server {
  /** The server's address as given or discovered. */
  url: string;
  /** Failed connection attempts since it last connected. */
  failedAttempts: number;
  /** Whether this client has ever connected to it. */
  didConnect: boolean;
  /** True for a server learnt from INFO `connect_urls`, false for one given. */
  isDiscovered: boolean;
  /** Why the last attempt to it failed, if it did. */
  lastError?: NatsError;
}

export type { ReconnectToServer } from '../shared/control.js';

export function fromWireServer(server: WireServer): Server {
  const { lastError, ...rest } = server;
  return lastError ? { ...rest, lastError: fromWire(lastError) } : rest;
}

/** Parse and check a server list: non-empty, and not mixing WebSocket with other schemes. */
export function resolveServers(servers: string | string[]): WorkerOptions['servers'] {
  const list = serverList(servers);
  if (list.length === 0) throw new NatsError('invalidOption', 'the server list is empty');
  const parsed = list.map(parseServerUrl);
  const ws = parsed.filter((s) => s.scheme === 'ws' || s.scheme === 'wss').length;
  if (ws !== 0 && ws !== parsed.length) {
    throw new NatsError('invalidOption', 'the server list mixes WebSocket and non-WebSocket URLs');
  }
  return parsed;
}

/**
 * The most URLs a pool is given (discovered servers come on top, at most 256): a longer array
 * is refused before it is read, as reading `new Array(1e9)` took seconds of the caller's thread.
 */
export const MAX_GIVEN_SERVERS = 1024;

/** The servers as an array of our own (a Proxy's traps or an array's getters run once, here). */
export function serverList(servers: unknown): string[] {
  if (typeof servers === 'string') return [servers];
  let list: string[] | undefined;
  let length = 0;
  try {
    if (Array.isArray(servers)) {
      const said: unknown = servers.length; // a Proxy's trap may say anything
      length = typeof said === 'number' ? said : Number.NaN;
      if (length <= MAX_GIVEN_SERVERS) {
        const copy: string[] = [];
        for (let i = 0; i < length; i++) copy.push(servers[i]);
        list = copy; // only whole: an element whose reading throws makes no list
      }
    }
  } catch {
    // an array-like whose reading throws is no list of servers either
  }
  if (length > MAX_GIVEN_SERVERS) {
    throw new NatsError(
      'invalidOption',
      `at most ${MAX_GIVEN_SERVERS} server URLs can be given, got an array of ${length}`,
    );
  }
  if (list === undefined) {
    throw new NatsError(
      'invalidOption',
      `servers must be a URL or an array of URLs, got ${typeName(servers)}`,
    );
  }
  return list;
}

/** The pool and the last INFO, as the worker last told this thread. */
export class ServerView {
  /** The last INFO the server sent; undefined before the first. */
  info: ServerInfo | undefined;
  /**
   * As the worker sent it: converted in serverPool(), not per update (a pool of 257 servers
   * with their last errors costs ~2 ms to convert, and a reconnect sweep updates it often).
   */
  private pool: WireServer[];

  constructor(servers: WorkerOptions['servers']) {
    this.pool = servers.map((s) => ({
      url: s.url,
      failedAttempts: 0,
      didConnect: false,
      isDiscovered: false,
    }));
  }

  /** What an update or a 'connected' event carries: a new INFO, a new pool (either may be absent). */
  update(info: ServerInfo | undefined, servers: WireServer[] | undefined): void {
    if (info) this.info = info;
    if (servers) this.pool = servers;
  }

  /** Snapshot of the server pool: explicit and discovered servers with their attempt history. */
  serverPool(): Server[] {
    return this.pool.map(fromWireServer);
  }

  /** The last INFO the server sent; before the first, empty strings and maxPayload 1 MiB. */
  serverInfo(): ServerInfo {
    return { ...(this.info ?? defaultServerInfo()) };
  }

  isServerCompatible(major: number, minor: number, patch: number): boolean {
    for (const [name, n] of [
      ['major', major],
      ['minor', minor],
      ['patch', patch],
    ] as const) {
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
        throw new NatsError(
          'invalidArgument',
          `isServerCompatible: ${name} must be a non-negative integer, got ${describe(n)}`,
        );
      }
    }
    return this.info !== undefined && versionAtLeast(this.info.version, major, minor, patch);
  }
}
