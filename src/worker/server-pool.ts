/**
 * The servers to (re)connect to: the configured ones plus, unless ignored, those the cluster
 * announces in INFO `connect_urls`. Each attempt shuffles the pool (unless the order is to be
 * kept) and then prefers the servers with the fewest failed attempts; success resets a count.
 *
 * Bounded whatever a server announces (API.md "Memory is bounded"): at most
 * {@link MAX_DISCOVERED} discovered servers, each INFO looked at for at most
 * {@link MAX_EXAMINED} entries, de-duplicated through a map (linear in the INFO, not in
 * INFO × pool).
 */
import { isIP } from 'node:net';
import type { WireServer } from '../shared/control.js';
import { type NatsError, toWire } from '../shared/errors.js';
import { parseServerUrl, type ServerAddress } from '../shared/servers.js';

/**
 * Discovered servers kept at most. Overflow policy: servers already in the pool stay (explicit
 * ones always, discovered ones too: they may have connected and carry history); of the new ones
 * an INFO brings, the first that fit are kept in INFO order and the rest are dropped. Nothing is
 * evicted: a later INFO cannot push out a server we know.
 */
export const MAX_DISCOVERED = 256;
/**
 * `connect_urls` entries of one INFO looked at, at most: a real cluster announces far fewer;
 * past this a list is hostile, and parsing it (a failed URL parse costs several µs) would only
 * burn the worker's time, INFO after INFO, for servers it could not keep anyway.
 */
export const MAX_EXAMINED = 4 * MAX_DISCOVERED;

export interface PoolEntry {
  address: ServerAddress;
  failedAttempts: number;
  didConnect: boolean;
  isDiscovered: boolean;
  lastError?: NatsError;
}

export class ServerPool {
  private entries: PoolEntry[];
  /** The same entries by normalised URL: de-duplication and find() without a scan. */
  private byUrl = new Map<string, PoolEntry>();
  private discoveredCount = 0;

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
    this.index();
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
   * on, within {@link MAX_DISCOVERED}; true when the pool changed. Servers announce themselves
   * by IP, which their certificates rarely name: one discovered by IP through a server
   * configured by name verifies its TLS certificate against that name (`tlsName`, inherited
   * along a chain of discoveries), as nats.go does. Credentials the current server's URL
   * carried (`nats://user:pass@…`, `nats://token@…`) go with it to the servers it announces,
   * as nats.go copies a URL's user info to implicit servers: a cluster shares its accounts, and
   * without them a failover to an announced server fails its authorization.
   */
  discovered(connectUrls: readonly string[], current: ServerAddress): boolean {
    if (this.ignoreDiscovered) return false;
    const name = current.tlsName ?? (isIP(current.host) ? undefined : current.host);
    const examined = Math.min(connectUrls.length, MAX_EXAMINED);
    // A WebSocket server announces host:port only; behind a proxy its path is the one we came
    // through (nats-server itself takes the upgrade on any path). Never the query: a token for
    // one proxy is not sent to other hosts.
    const path = current.scheme === 'ws' || current.scheme === 'wss' ? pathOf(current.url) : '';
    let changed = false;
    for (let i = 0; i < examined && this.discoveredCount < MAX_DISCOVERED; i++) {
      let address: ServerAddress;
      try {
        address = parseServerUrl(`${current.scheme}://${connectUrls[i]}${path}`);
      } catch {
        continue; // a malformed announcement must not break the pool
      }
      if (this.byUrl.has(address.url)) continue;
      if (name !== undefined && isIP(address.host)) address.tlsName = name;
      inheritCredentials(address, current);
      const entry = { address, failedAttempts: 0, didConnect: false, isDiscovered: true };
      this.entries.push(entry);
      this.byUrl.set(address.url, entry);
      this.discoveredCount++;
      changed = true;
    }
    return changed;
  }

  /**
   * The entry for `addr` (a URL, or host:port read with the pool's scheme), if in the pool; a
   * WebSocket server matches by scheme, host and port whatever its path.
   */
  find(addr: string): PoolEntry | undefined {
    let wanted: ServerAddress;
    try {
      const scheme = this.entries[0]?.address.scheme;
      wanted = parseServerUrl(addr.includes('://') || !scheme ? addr : `${scheme}://${addr}`);
    } catch {
      return undefined;
    }
    const exact = this.byUrl.get(wanted.url);
    if (exact || (wanted.scheme !== 'ws' && wanted.scheme !== 'wss')) return exact;
    return this.entries.find(
      ({ address: a }) =>
        a.scheme === wanted.scheme && a.host === wanted.host && a.port === wanted.port,
    );
  }

  /**
   * setServerPool: the new list, explicit (the caller's, so not bounded here); servers in both
   * keep their counts and history.
   */
  replace(servers: ServerAddress[]): void {
    this.entries = servers.map((address) => {
      const known = this.byUrl.get(address.url);
      return known
        ? { ...known, address, isDiscovered: false }
        : { address, failedAttempts: 0, didConnect: false, isDiscovered: false };
    });
    this.index();
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

  /** Rebuild the URL map and the discovered count from `entries` (a list may repeat a URL). */
  private index(): void {
    this.byUrl = new Map();
    this.discoveredCount = 0;
    for (const entry of this.entries) {
      if (!this.byUrl.has(entry.address.url)) this.byUrl.set(entry.address.url, entry);
      if (entry.isDiscovered) this.discoveredCount++;
    }
  }
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** The path of a normalised URL (`wss://h:443/nats` → `/nats`), or '' when it has none. */
function pathOf(url: string): string {
  const start = url.indexOf('/', url.indexOf('://') + 3);
  return start < 0 ? '' : url.slice(start);
}

/** The URL credentials of `from` on `to`, unless `to` names its own. */
function inheritCredentials(to: ServerAddress, from: ServerAddress): void {
  if (to.user !== undefined || to.pass !== undefined || to.token !== undefined) return;
  if (from.token !== undefined) to.token = from.token;
  if (from.user !== undefined) to.user = from.user;
  if (from.pass !== undefined) to.pass = from.pass;
}
