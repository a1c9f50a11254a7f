// The connection loop (src/worker/connection.ts) without a server: a scripted NATS peer over the
// in-memory transport, the caller's thread played by a recording host, the state word read as
// the main thread reads it. Between them these walk every edge of connection-state.ts.

import { afterEach, describe, expect, it } from 'vitest';
import { ConnectOptions } from '../../src/main/options.js';
import { SharedState } from '../../src/main/shared-state.js';
import type { Remote } from '../../src/shared/comlink.js';
import type {
  HostCallbacks,
  HostUpdate,
  StartResult,
  WireEvent,
  WireServer,
} from '../../src/shared/control.js';
import type { WireError } from '../../src/shared/errors.js';
import { createRingBuffers, type RingBuffers, wakeAll } from '../../src/shared/ring/byte-ring.js';
import type { ServerInfo } from '../../src/shared/server-info.js';
import { parseServerUrl } from '../../src/shared/servers.js';
import { Connection } from '../../src/worker/connection.js';
import { MemoryNetwork, type MemoryPeer } from '../helpers/memory-transport.js';
import { infoLine } from '../helpers/scripted-peer.js';
import { settledYet, waitFor, withTimeout } from '../helpers/wait.js';

/** The caller's thread as the worker sees it: what it was told, in order. */
class RecordingHost implements HostCallbacks {
  readonly events: WireEvent[] = [];
  /** Every INFO and pool the caller applied, from a batch or a 'connected' event. */
  readonly infos: ServerInfo[] = [];
  readonly pools: WireServer[][] = [];
  readonly endings: WireError[] = [];
  readonly delays: number[] = [];
  /** Batches received: comlink calls the events took. */
  batches = 0;

  constructor(private readonly delay?: (attempts: number) => number) {}

  update(update: HostUpdate): void {
    this.batches++;
    if (update.info) this.infos.push(update.info);
    if (update.servers) this.pools.push(update.servers);
    for (const event of update.events) {
      if (event.type === 'connected' && event.info) this.infos.push(event.info);
      if (event.type === 'connected' && event.servers) this.pools.push(event.servers);
      this.events.push(event);
    }
  }
  ended(error: WireError): void {
    this.endings.push(error);
  }
  reconnectDelay(attempts: number): number {
    this.delays.push(attempts);
    return this.delay?.(attempts) ?? 0;
  }

  types(): string[] {
    return this.events.map((e) => e.type);
  }

  /** Index of the first event of `type` at or after `from`, once there is one. */
  async next(type: WireEvent['type'], from = 0): Promise<number> {
    const find = () => this.events.findIndex((e, i) => i >= from && e.type === type);
    await waitFor(() => find() !== -1, 5_000, `event '${type}' (seen: ${this.types()})`);
    return find();
  }
}

interface Loop {
  network: MemoryNetwork;
  connection: Connection;
  host: RecordingHost;
  /** The state block as the main thread reads it. */
  shared: SharedState;
  started: Promise<StartResult>;
  rings: { command: RingBuffers; delivery: RingBuffers };
}

const loops: Loop[] = [];

afterEach(async () => {
  for (const { connection, network, rings } of loops.splice(0)) {
    await connection.close();
    // No wait of the worker's on a ring outlives the test.
    wakeAll(rings.command);
    wakeAll(rings.delivery);
    await network.close();
  }
});

/** A started loop over the in-memory network; `script` runs per accepted connection. */
function startLoop(
  options: ConnectOptions,
  script?: (peer: MemoryPeer) => void | Promise<void>,
  {
    servers = ['nats://memory:4222'],
    delay,
    refuse = false,
  }: { servers?: string[]; delay?: (attempts: number) => number; refuse?: boolean } = {},
): Loop {
  const network = new MemoryNetwork(script);
  network.refuse = refuse;
  const shared = new SharedState();
  const rings = { command: createRingBuffers(1 << 16), delivery: createRingBuffers(1 << 16) };
  const connection = new Connection(
    {
      options: { ...options.resolve().worker, servers: servers.map((s) => parseServerUrl(s)) },
      ...rings,
      state: shared.buffer,
    },
    network.factory,
  );
  const host = new RecordingHost(delay);
  const started = connection.start(host as unknown as Remote<HostCallbacks>);
  const loop = { network, connection, host, shared, started, rings };
  loops.push(loop);
  return loop;
}

/** A server that accepts: INFO, then the PONG to the handshake's PING. */
async function handshake(peer: MemoryPeer, info: Record<string, unknown> = {}): Promise<string> {
  peer.send(infoLine(info));
  const connect = await peer.nextLine((l) => l.startsWith('CONNECT '));
  expect(await peer.nextLine()).toBe('PING');
  peer.send('PONG\r\n');
  return connect;
}

/** Answers every PING until the connection goes. */
async function answerPings(peer: MemoryPeer): Promise<void> {
  for await (const line of peer.lines()) if (line === 'PING') peer.send('PONG\r\n');
}

async function serving(peer: MemoryPeer): Promise<void> {
  await handshake(peer);
  await answerPings(peer);
}

describe('handshake', () => {
  it('answers INFO with CONNECT and PING, and is connected at the PONG with that INFO and pool', async () => {
    const loop = startLoop(new ConnectOptions().name('loop'));
    const peer = await loop.network.peer(0);
    peer.send(infoLine({ server_name: 'first' }));
    const connect = JSON.parse(
      (await peer.nextLine((l) => l.startsWith('CONNECT '))).slice('CONNECT '.length),
    );
    expect(connect).toMatchObject({
      verbose: false,
      protocol: 1,
      headers: true,
      no_responders: true,
      name: 'loop',
      tls_required: false,
    });
    expect(await peer.nextLine()).toBe('PING');
    expect(await settledYet(loop.started)).toBe(false);
    expect(loop.shared.state()).toBe('pending');
    expect(loop.host.events).toEqual([]);

    peer.send('PONG\r\n');
    const result = await loop.started;
    expect(result.ok && result.info?.serverName).toBe('first');
    expect(loop.shared.state()).toBe('connected');
    expect(loop.shared.statistics().connects).toBe(1);
    // Events reach the caller in batches, after the turn that made them.
    const event = loop.host.events[await loop.host.next('connected')];
    expect(loop.host.types()).toEqual(['connected']);
    if (event.type !== 'connected') return;
    expect(event.info?.serverName).toBe('first');
    expect(event.servers).toEqual([
      { url: 'nats://memory:4222', failedAttempts: 0, didConnect: true, isDiscovered: false },
    ]);
    expect(result.ok && result.servers).toEqual(event.servers);
  });

  it('announces the servers an INFO discovered with the connection', async () => {
    const loop = startLoop(new ConnectOptions(), async (peer) => {
      await handshake(peer, { connect_urls: ['10.0.0.2:4222'] });
    });
    await loop.started;
    const event = loop.host.events[await loop.host.next('connected')];
    expect(event.type === 'connected' && event.servers?.map((s) => s.url)).toEqual([
      'nats://memory:4222',
      'nats://10.0.0.2:4222',
    ]);
  });

  it('what follows the PONG in the same chunk finds the connection already taken', async () => {
    const loop = startLoop(new ConnectOptions());
    const peer = await loop.network.peer(0);
    peer.send(infoLine());
    await peer.nextLine((l) => l.startsWith('CONNECT '));
    await peer.nextLine();
    peer.send(
      `PONG\r\n${infoLine({ connect_urls: ['10.0.0.3:4222'] })}-ERR 'Permissions Violation for Subscription to "x"'\r\nPING\r\n`,
    );
    expect(await peer.nextLine()).toBe('PONG');
    expect(loop.host.types()).toEqual(['connected', 'serverError']);
    expect(loop.host.infos.map((i) => i.connectUrls)).toEqual([['10.0.0.3:4222']]);
    expect(loop.host.pools.at(-1)?.map((s) => s.url)).toContain('nats://10.0.0.3:4222');
  });

  it("fails at connectionTimeout with 'timedOut' when no INFO comes", async () => {
    const loop = startLoop(new ConnectOptions().connectionTimeout(50));
    const result = await loop.started;
    expect(!result.ok && result.error.kind).toBe('timedOut');
    expect(loop.shared.state()).toBe('closed');
    expect((await loop.network.peer(0)).open).toBe(false);
  });

  it("gives up after one pass over the pool when nothing listens, with 'io'", async () => {
    const loop = startLoop(new ConnectOptions(), undefined, {
      servers: ['nats://a:4222', 'nats://b:4222'],
      refuse: true,
    });
    const result = await loop.started;
    expect(!result.ok && result.error.kind).toBe('io');
    expect(loop.network.dials).toBe(2);
    expect(loop.shared.state()).toBe('closed');
  });
});

describe('-ERR', () => {
  it("before CONNECT is accepted: 'Authorization Violation' fails connect, with no retry", async () => {
    const loop = startLoop(new ConnectOptions(), undefined, {
      servers: ['nats://a:4222', 'nats://b:4222'],
    });
    const peer = await loop.network.peer(0);
    peer.send(infoLine({ auth_required: true }));
    await peer.nextLine((l) => l.startsWith('CONNECT '));
    peer.send("-ERR 'Authorization Violation'\r\n");
    const result = await loop.started;
    expect(!result.ok && result.error.kind).toBe('authorizationViolation');
    expect(!result.ok && result.error.message).toContain('Authorization Violation');
    expect(loop.network.dials).toBe(1);
    expect(loop.shared.state()).toBe('closed');
    expect(loop.host.events).toEqual([]);
  });

  it("once connected: a permissions violation is a 'serverError' event, the connection stays", async () => {
    const loop = startLoop(new ConnectOptions());
    const peer = await loop.network.peer(0);
    await handshake(peer);
    await loop.started;
    peer.send('-ERR \'Permissions Violation for Subscription to "secret"\'\r\n');
    // The client answers a PING after it: the -ERR was handled and the connection is alive.
    peer.send('PING\r\n');
    expect(await peer.nextLine()).toBe('PONG');
    const event = loop.host.events[await loop.host.next('serverError')];
    expect(event.type === 'serverError' && event.error.message).toContain(
      'Permissions Violation for Subscription to "secret"',
    );
    expect(loop.host.types()).toEqual(['connected', 'serverError']);
    expect(loop.shared.state()).toBe('connected');
  });
});

describe('reconnect', () => {
  it('after the peer drops: disconnected, then connected again on a new connection', async () => {
    let releaseSecond!: () => void;
    const second = new Promise<void>((resolve) => {
      releaseSecond = resolve;
    });
    const loop = startLoop(new ConnectOptions(), async (peer) => {
      if (peer.index === 1) await second;
      await serving(peer);
    });
    await loop.started;
    (await loop.network.peer(0)).drop();

    const down = await loop.host.next('disconnected');
    await loop.network.peer(1);
    expect(loop.shared.state()).toBe('disconnected'); // handshaking, after a connection
    releaseSecond();
    const up = await loop.host.next('connected', down);
    expect(loop.host.types()).toEqual(['connected', 'disconnected', 'connected']);
    expect(up).toBe(2);
    expect(loop.shared.state()).toBe('connected');
    expect(loop.shared.statistics().connects).toBe(2);
  });

  it('forceReconnect ends the connection gracefully (what was written still arrives) and makes a new one', async () => {
    const loop = startLoop(new ConnectOptions(), serving);
    await loop.started;
    loop.connection.forceReconnect();
    await loop.host.next('connected', 1);
    expect(loop.host.types()).toEqual(['connected', 'disconnected', 'connected']);
    expect(await (await loop.network.peer(0)).clientEnded).toBe('end');
  });

  it('finds a peer that leaves two PINGs unanswered stale, and reconnects', async () => {
    let unanswered = 0;
    const loop = startLoop(new ConnectOptions().pingInterval(20), async (peer) => {
      await handshake(peer);
      if (peer.index > 0) return answerPings(peer);
      for await (const line of peer.lines()) if (line === 'PING') unanswered++;
    });
    await loop.started;
    await loop.host.next('connected', 1);
    expect(loop.host.types()).toEqual(['connected', 'disconnected', 'connected']);
    expect(unanswered).toBe(2);
    expect(await (await loop.network.peer(0)).clientEnded).toBe('destroy');
  });

  it('with retryOnInitialConnect, gives up after maxReconnects failed attempts', async () => {
    const loop = startLoop(
      new ConnectOptions().retryOnInitialConnect().maxReconnects(2),
      undefined,
      {
        refuse: true,
      },
    );
    expect(await loop.started).toEqual({ ok: true });
    await waitFor(() => loop.host.endings.length > 0, 5_000, 'ended');
    expect(loop.host.endings.map((e) => e.kind)).toEqual(['maxReconnects']);
    expect(loop.network.dials).toBe(2);
    expect(loop.shared.state()).toBe('closed');
    expect(loop.host.pools.at(-1)?.[0].failedAttempts).toBe(2);
  });
});

describe('close', () => {
  it('before start: closed at once', async () => {
    const network = new MemoryNetwork();
    const shared = new SharedState();
    const connection = new Connection(
      {
        options: { ...new ConnectOptions().resolve().worker, servers: [] },
        command: createRingBuffers(1 << 16),
        delivery: createRingBuffers(1 << 16),
        state: shared.buffer,
      },
      network.factory,
    );
    await connection.close();
    expect(shared.state()).toBe('closed');
    expect(network.dials).toBe(0);
  });

  it('while connected: ends the connection gracefully; closed, with no event of its own', async () => {
    const loop = startLoop(new ConnectOptions(), serving);
    await loop.started;
    const closing = loop.connection.close();
    expect(loop.connection.close()).toBe(closing);
    await closing;
    expect(await (await loop.network.peer(0)).clientEnded).toBe('end');
    expect(loop.shared.state()).toBe('closed');
    expect(loop.host.types()).toEqual(['connected']);
  });

  it('while disconnected, during a handshake: ends it and dials no more', async () => {
    const loop = startLoop(new ConnectOptions(), async (peer) => {
      if (peer.index === 0) await serving(peer); // the next one never sends INFO
    });
    await loop.started;
    (await loop.network.peer(0)).drop();
    const silent = await loop.network.peer(1);
    await loop.connection.close();
    expect(await silent.clientEnded).toBe('destroy');
    expect(loop.shared.state()).toBe('closed');
    expect(loop.host.types()).toEqual(['connected', 'disconnected']);
    expect(loop.network.dials).toBe(2);
  });

  it('during a backoff delay: ends it at once and dials no more', async () => {
    const loop = startLoop(
      new ConnectOptions().reconnectDelayCallback(() => 0),
      serving,
      {
        // The callback is asked before every attempt: the first connect and the first
        // reconnect (attempt 1 each time) go at once, the one after a refusal in a minute.
        delay: (attempts) => (attempts > 1 ? 60_000 : 0),
      },
    );
    await loop.started;
    loop.network.refuse = true;
    (await loop.network.peer(0)).drop();
    await waitFor(() => loop.host.delays.length >= 3, 5_000, 'the delay callback');
    expect(loop.host.delays).toEqual([1, 1, 2]);
    await withTimeout(loop.connection.close(), 1_000, 'close() during the backoff');
    expect(loop.shared.state()).toBe('closed');
    expect(loop.network.dials).toBe(2);
  });

  it('before the first connection (retryOnInitialConnect): closed, start already settled', async () => {
    const loop = startLoop(new ConnectOptions().retryOnInitialConnect());
    await loop.network.peer(0);
    expect(loop.shared.state()).toBe('pending');
    await loop.connection.close();
    expect(await loop.started).toEqual({ ok: true });
    expect(loop.shared.state()).toBe('closed');
  });
});

describe('a hostile server', () => {
  it('a flood of -ERR reaches the caller in a few batches, bounded, and the connection stays', async () => {
    const loop = startLoop(new ConnectOptions());
    const peer = await loop.network.peer(0);
    await handshake(peer);
    await loop.started;
    await loop.host.next('connected');
    const before = loop.host.batches;
    // 10,000 distinct ones in one chunk (one turn), then one per millisecond for 100 ms.
    peer.send(Array.from({ length: 10_000 }, (_, i) => `-ERR 'flood ${i}'\r\n`).join(''));
    const start = performance.now();
    for (let i = 0; i < 100; i++) {
      peer.send("-ERR 'trickle'\r\n");
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    peer.send('PING\r\n');
    expect(await peer.nextLine()).toBe('PONG');
    // Repeats within a batch are one event with a count.
    const trickled = () =>
      loop.host.events
        .map((e) => (e.type === 'serverError' && e.error.message === 'trickle' ? e.error : null))
        .reduce((sum, error) => sum + (error ? (error.count ?? 1) : 0), 0);
    await waitFor(() => trickled() === 100, 5_000, 'every -ERR of the trickle');
    const elapsed = performance.now() - start;
    const batches = loop.host.batches - before;
    // At most one batch per MIN_POST_INTERVAL_MS (10 ms), not one per -ERR.
    expect(batches).toBeLessThanOrEqual(elapsed / 10 + 3);
    const errors = loop.host.events.filter((e) => e.type === 'serverError');
    expect(errors.length).toBeLessThanOrEqual(1_024 + 100);
    const notice = loop.host.events.find((e) => e.type === 'clientError');
    expect(notice?.type === 'clientError' && notice.error.message).toMatch(/events dropped/);
    expect(loop.shared.state()).toBe('connected');
  });
});

describe('a hostile server: 10,000 connect_urls', () => {
  const urls = (n: number, from = 0) =>
    Array.from({ length: n }, (_, k) => `10.${((from + k) >> 8) & 255}.${(from + k) & 255}.1:4222`);

  it('connects with at most 256 discovered servers, and INFO after INFO posts the pool once', async () => {
    const loop = startLoop(new ConnectOptions());
    const peer = await loop.network.peer(0);
    await handshake(peer, { connect_urls: urls(10_000) });
    await loop.started;
    const connected = loop.host.events[await loop.host.next('connected')];
    expect(connected.type === 'connected' && connected.servers?.length).toBe(1 + 256);

    const pools = loop.host.pools.length;
    for (let i = 0; i < 50; i++) {
      peer.send(infoLine({ server_name: `info-${i}`, connect_urls: urls(10_000, i) }));
    }
    peer.send('PING\r\n');
    expect(await peer.nextLine()).toBe('PONG'); // every INFO before it was handled
    await waitFor(() => loop.host.infos.at(-1)?.serverName === 'info-49', 5_000, 'the last INFO');
    // The pool was full: no INFO changed it, none posted it.
    expect(loop.host.pools.length).toBe(pools);
    // 50 INFOs, a few batches: the latest INFO wins.
    expect(loop.host.infos.length).toBeLessThan(50);
    expect(loop.host.infos.at(-1)?.connectUrls).toHaveLength(10_000);
    expect(loop.shared.state()).toBe('connected');
  });
});
