/**
 * Servers as the caller sees them: the list it gives `connect()` and `setServerPool()`, and
 * the pool `client.serverPool()` shows.
 */
import type { WireServer } from '../shared/control.js';
import { typeName } from '../shared/describe.js';
import { fromWire, NatsError } from '../shared/errors.js';
import type { WorkerOptions } from '../shared/options.js';
import { parseServerUrl } from '../shared/servers.js';

/** One server of the pool, as `client.serverPool()` shows it. */
export interface Server {
  url: string;
  failedAttempts: number;
  didConnect: boolean;
  isDiscovered: boolean;
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

/** The servers as an array of our own (a Proxy's traps or an array's getters run once, here). */
function serverList(servers: unknown): string[] {
  if (typeof servers === 'string') return [servers];
  let list: string[] | undefined;
  try {
    list = Array.isArray(servers) ? Array.from(servers) : undefined;
  } catch {
    // an array-like whose reading throws is no list of servers either
  }
  if (list === undefined) {
    throw new NatsError(
      'invalidOption',
      `servers must be a URL or an array of URLs, got ${typeName(servers)}`,
    );
  }
  return list;
}
