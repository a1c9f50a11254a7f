// The server pool's bounds (src/worker/server-pool.ts): however many servers an INFO announces,
// at most MAX_DISCOVERED are kept, explicit ones always, and an INFO costs work bounded by
// MAX_EXAMINED entries, not by its length times the pool's.

import { describe, expect, it } from 'vitest';
import { parseServerUrl } from '../../src/shared/servers.js';
import { MAX_DISCOVERED, MAX_EXAMINED, ServerPool } from '../../src/worker/server-pool.js';

const current = parseServerUrl('nats://127.0.0.1:4222');
const explicit = [current, parseServerUrl('nats://b.example:4222')];

/** `n` distinct `host:port` announcements. */
function announced(n: number, from = 0): string[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:4222`;
  });
}

/** `list`, counting how many of its entries are read. */
function counted(list: string[]): { list: string[]; reads: () => number } {
  let reads = 0;
  const proxy = new Proxy(list, {
    get(target, key, receiver) {
      if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
      return Reflect.get(target, key, receiver);
    },
  });
  return { list: proxy, reads: () => reads };
}

describe('ServerPool bounds', () => {
  it('keeps the explicit servers and the first MAX_DISCOVERED new ones of 10,000 announced', () => {
    const pool = new ServerPool(explicit, true, false);
    const urls = announced(10_000);
    expect(pool.discovered(urls, current)).toBe(true);
    const snapshot = pool.snapshot();
    expect(snapshot).toHaveLength(explicit.length + MAX_DISCOVERED);
    expect(snapshot.slice(0, 2).map((s) => [s.url, s.isDiscovered])).toEqual([
      ['nats://127.0.0.1:4222', false],
      ['nats://b.example:4222', false],
    ]);
    expect(snapshot.slice(2).map((s) => s.url)).toEqual(
      urls.slice(0, MAX_DISCOVERED).map((u) => `nats://${u}`),
    );
  });

  it('evicts nothing for a later INFO: known servers stay, new ones find no room', () => {
    const pool = new ServerPool(explicit, true, false);
    pool.discovered(announced(MAX_DISCOVERED), current);
    const before = pool.snapshot();
    expect(pool.discovered(announced(500, MAX_DISCOVERED), current)).toBe(false);
    expect(pool.snapshot()).toEqual(before);
    expect(pool.find(`10.0.0.${MAX_DISCOVERED - 1}:4222`)).toBeDefined();
    expect(pool.find(`10.0.${MAX_DISCOVERED >> 8}.0:4222`)).toBeUndefined();
  });

  it('reads at most MAX_EXAMINED entries of an INFO, and no more once the pool is full', () => {
    const pool = new ServerPool(explicit, true, false);
    // Malformed entries are skipped without taking room: the worst case for a scan.
    const malformed = counted(Array.from({ length: 10_000 }, () => 'not a url:x'));
    expect(pool.discovered(malformed.list, current)).toBe(false);
    expect(malformed.reads()).toBe(MAX_EXAMINED);

    pool.discovered(announced(MAX_DISCOVERED), current);
    const again = counted(announced(10_000));
    expect(pool.discovered(again.list, current)).toBe(false);
    expect(again.reads()).toBe(0);
  });

  it('tells whether the pool changed: the same INFO twice changes it once', () => {
    const pool = new ServerPool(explicit, true, false);
    const urls = ['10.0.0.2:4222', '10.0.0.2:4222', '127.0.0.1:4222', '10.0.0.3:4222'];
    expect(pool.discovered(urls, current)).toBe(true);
    expect(pool.snapshot().map((s) => s.url)).toEqual([
      'nats://127.0.0.1:4222',
      'nats://b.example:4222',
      'nats://10.0.0.2:4222',
      'nats://10.0.0.3:4222',
    ]);
    expect(pool.discovered(urls, current)).toBe(false);
  });

  it('setServerPool makes servers explicit and frees their room for discovery', () => {
    const pool = new ServerPool(explicit, true, false);
    const first = announced(MAX_DISCOVERED);
    pool.discovered(first, current);
    pool.replace([current, parseServerUrl(`nats://${first[0]}`)]);
    expect(pool.snapshot().map((s) => [s.url, s.isDiscovered])).toEqual([
      ['nats://127.0.0.1:4222', false],
      [`nats://${first[0]}`, false],
    ]);
    expect(pool.discovered(announced(MAX_DISCOVERED + 10, 1_000), current)).toBe(true);
    expect(pool.size).toBe(2 + MAX_DISCOVERED);
  });

  it('adds nothing when discovery is ignored', () => {
    const pool = new ServerPool(explicit, true, true);
    expect(pool.discovered(announced(10), current)).toBe(false);
    expect(pool.size).toBe(explicit.length);
  });
});

describe('ServerPool over WebSocket', () => {
  const through = parseServerUrl('wss://proxy.example/nats?token=s3cret');

  it('dials discovered servers on the path it came through, without its query', () => {
    const pool = new ServerPool([through], true, false);
    expect(pool.discovered(['10.0.0.2:443'], through)).toBe(true);
    const found = pool.find('10.0.0.2:443');
    expect(found?.address.url).toBe('wss://10.0.0.2:443/nats');
    expect(found?.address.query).toBeUndefined();
  });

  it('finds a server given as host:port with the pool’s scheme, whatever its path', () => {
    const pool = new ServerPool([through], true, false);
    expect(pool.find('proxy.example:443')?.address).toBe(through);
    expect(pool.find('wss://proxy.example:443/other')?.address).toBe(through);
    expect(pool.find('proxy.example:4222')).toBeUndefined();
  });
});

function addressOf(pool: ServerPool, hostPort: string) {
  const entry = pool.find(hostPort);
  if (!entry) throw new Error(`${hostPort} is not in the pool`);
  return entry.address;
}

describe('ServerPool discovered servers', () => {
  it("take the current server's URL credentials, and never show them", () => {
    const withUser = parseServerUrl('nats://al1ce:p%40ss@127.0.0.1:4222');
    const pool = new ServerPool([withUser], true, false);
    pool.discovered(['10.0.0.1:4222', 'us3r2:pw2@10.0.0.2:4222'], withUser);
    const inherited = addressOf(pool, '10.0.0.1:4222');
    const own = addressOf(pool, '10.0.0.2:4222');
    expect([inherited.user, inherited.pass, inherited.token]).toEqual(['al1ce', 'p@ss', undefined]);
    expect([own.user, own.pass]).toEqual(['us3r2', 'pw2']);
    expect(JSON.stringify(pool.snapshot())).not.toMatch(/al1ce|p@ss|us3r2|pw2/);

    const withToken = parseServerUrl('nats://s3cret@127.0.0.1:4222');
    const tokenPool = new ServerPool([withToken], true, false);
    tokenPool.discovered(['10.0.0.1:4222'], withToken);
    const byToken = addressOf(tokenPool, '10.0.0.1:4222');
    expect([byToken.token, byToken.user]).toEqual(['s3cret', undefined]);

    const bare = new ServerPool([current], true, false);
    bare.discovered(['10.0.0.1:4222'], current);
    const none = addressOf(bare, '10.0.0.1:4222');
    expect([none.user, none.pass, none.token]).toEqual([undefined, undefined, undefined]);
  });
});
