/**
 * The servers to (re)connect to: the configured ones plus, unless ignored, those the cluster
 * announces in INFO `connect_urls`. Each attempt shuffles the pool (unless the order is to be
 * kept) and then prefers the servers with the fewest failed attempts; success resets a count.
 */
import type { NatsError } from '../shared/errors.js';
import { parseServerUrl, type ServerAddress } from '../shared/servers.js';

export interface PoolEntry {
  address: ServerAddress;
  failedAttempts: number;
  didConnect: boolean;
  isDiscovered: boolean;
  lastError?: NatsError;
}

export class ServerPool {
  private entries: PoolEntry[];

  constructor(
    servers: ServerAddress[],
    private readonly retainOrder: boolean,
    private readonly ignoreDiscovered: boolean,
  ) {
    this.entries = servers.map((address) => ({
      address,
      failedAttempts: 0,
      didConnect: false,
      isDiscovered: false,
    }));
  }

  get size(): number {
    return this.entries.length;
  }

  /** The server for the next attempt. */
  next(): PoolEntry {
    const order = this.retainOrder ? [...this.entries] : shuffle([...this.entries]);
    // Array.prototype.sort is stable: equal counts keep the shuffled (or configured) order.
    order.sort((a, b) => a.failedAttempts - b.failedAttempts);
    return order[0];
  }

  failed(entry: PoolEntry, error: NatsError): void {
    entry.failedAttempts++;
    entry.lastError = error;
  }

  connected(entry: PoolEntry): void {
    entry.failedAttempts = 0;
    entry.didConnect = true;
    entry.lastError = undefined;
  }

  /** Add the servers an INFO announced (`host:port` entries), with the scheme of the one we are on. */
  discovered(connectUrls: readonly string[], current: ServerAddress): void {
    if (this.ignoreDiscovered) return;
    for (const hostPort of connectUrls) {
      let address: ServerAddress;
      try {
        address = parseServerUrl(`${current.scheme}://${hostPort}`);
      } catch {
        continue; // a malformed announcement must not break the pool
      }
      if (this.entries.some((e) => e.address.url === address.url)) continue;
      this.entries.push({ address, failedAttempts: 0, didConnect: false, isDiscovered: true });
    }
  }

  snapshot(): PoolEntry[] {
    return this.entries.map((e) => ({ ...e }));
  }
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
