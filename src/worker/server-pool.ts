/**
 * The servers to (re)connect to: the configured ones plus, unless ignored, those the cluster
 * announces in INFO `connect_urls`. Each attempt shuffles the pool (unless the order is to be
 * kept) and then prefers the servers with the fewest failed attempts; success resets a count.
 */
import { isIP } from 'node:net';
import type { WireServer } from '../shared/control.js';
import { type NatsError, toWire } from '../shared/errors.js';
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

  /**
   * Add the servers an INFO announced (`host:port` entries), with the scheme of the one we are
   * on. Servers announce themselves by IP, which their certificates rarely name: one discovered
   * by IP through a server configured by name verifies its TLS certificate against that name
   * (`tlsName`, inherited along a chain of discoveries), as nats.go does.
   */
  discovered(connectUrls: readonly string[], current: ServerAddress): void {
    if (this.ignoreDiscovered) return;
    const name = current.tlsName ?? (isIP(current.host) ? undefined : current.host);
    for (const hostPort of connectUrls) {
      let address: ServerAddress;
      try {
        address = parseServerUrl(`${current.scheme}://${hostPort}`);
      } catch {
        continue; // a malformed announcement must not break the pool
      }
      if (name !== undefined && isIP(address.host)) address.tlsName = name;
      if (this.entries.some((e) => e.address.url === address.url)) continue;
      this.entries.push({ address, failedAttempts: 0, didConnect: false, isDiscovered: true });
    }
  }

  /** The entry for `addr` (a URL or host:port, as parseServerUrl reads it), if in the pool. */
  find(addr: string): PoolEntry | undefined {
    let url: string;
    try {
      url = parseServerUrl(addr).url;
    } catch {
      return undefined;
    }
    return this.entries.find((e) => e.address.url === url);
  }

  /** setServerPool: the new list, explicit; servers in both keep their counts and history. */
  replace(servers: ServerAddress[]): void {
    this.entries = servers.map((address) => {
      const known = this.entries.find((e) => e.address.url === address.url);
      return known
        ? { ...known, address, isDiscovered: false }
        : { address, failedAttempts: 0, didConnect: false, isDiscovered: false };
    });
  }

  /** Plain data for the caller's thread; credentials stay out (they are not in `url`). */
  snapshot(): WireServer[] {
    return this.entries.map((e) => ({
      url: e.address.url,
      failedAttempts: e.failedAttempts,
      didConnect: e.didConnect,
      isDiscovered: e.isDiscovered,
      ...(e.lastError ? { lastError: toWire(e.lastError) } : {}),
    }));
  }
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
