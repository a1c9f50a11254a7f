// One session (src/worker/session.ts) over the in-memory transport: read flow control and
// keep-alive, -ERR in and after the handshake, and TLS as a capability of the transport rather
// than of TCP.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConnectOptions } from '../../src/main/options.js';
import { NatsError } from '../../src/shared/errors.js';
import type { WorkerOptions } from '../../src/shared/options.js';
import type { MsgView } from '../../src/shared/protocol/parser.js';
import type { ServerInfo } from '../../src/shared/server-info.js';
import { parseServerUrl } from '../../src/shared/servers.js';
import type { PingPurpose } from '../../src/worker/flow-control.js';
import { MAX_UNANSWERED_PINGS } from '../../src/worker/ping-pong.js';
import { Session, type SessionHost } from '../../src/worker/session.js';
import { MemoryNetwork, type MemoryPeer } from '../helpers/memory-transport.js';
import { infoLine } from '../helpers/scripted-peer.js';
import { settledYet, waitFor } from '../helpers/wait.js';

/** The loop's side of a session, recording what reaches it. */
class Host implements SessionHost {
  readonly options: WorkerOptions;
  inBytes = 0;
  readonly errors: string[] = [];
  readonly pongs: PingPurpose[] = [];
  drains = 0;

  constructor(options: ConnectOptions) {
    this.options = { ...options.resolve().worker, servers: [] };
  }

  opened(_info: ServerInfo): void {}
  message(_msg: MsgView): void {}
  deliversWhileClosing(): boolean {
    return false;
  }
  chunkDone(): void {}
  info(_info: ServerInfo): void {}
  serverError(message: string): void {
    this.errors.push(message);
  }
  ponged(purpose: PingPurpose): void {
    this.pongs.push(purpose);
  }
  drained(): void {
    this.drains++;
  }
  counted(inBytes: number): void {
    this.inBytes += inBytes;
  }
  async authFields(): Promise<Record<string, unknown>> {
    return {};
  }
}

const networks: MemoryNetwork[] = [];
const sessions: Session[] = [];

afterEach(async () => {
  vi.useRealTimers();
  for (const session of sessions.splice(0)) session.fail(new NatsError('closed', 'test over'));
  await Promise.all(networks.splice(0).map((n) => n.close()));
});

function newSession(
  options: ConnectOptions,
  network = new MemoryNetwork(),
): { session: Session; host: Host; network: MemoryNetwork } {
  const host = new Host(options);
  const session = new Session(host, parseServerUrl('nats://memory:4222'), network.factory);
  networks.push(network);
  sessions.push(session);
  return { session, host, network };
}

/** A session through its handshake with a peer that answers nothing after it. */
async function openSession(options: ConnectOptions) {
  const { session, host, network } = newSession(options);
  const opened = session.open();
  const peer = await network.peer(0);
  peer.send(infoLine());
  await peer.nextLine((l) => l.startsWith('CONNECT '));
  expect(await peer.nextLine()).toBe('PING');
  peer.send('PONG\r\n');
  await opened;
  return { session, host, peer };
}

/** Lets the transport hand over what is queued (it does so on later turns, as a socket). */
async function turns(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('read flow control and keep-alive', () => {
  it('holds what the server sends while paused and reads it on resume', async () => {
    const { session, host, peer } = await openSession(new ConnectOptions());
    session.pauseReading();
    expect(peer.paused).toBe(true);
    const before = host.inBytes;
    peer.send('PING\r\n');
    await turns();
    expect(host.inBytes).toBe(before);

    session.resumeReading();
    expect(peer.paused).toBe(false);
    expect(await peer.nextLine()).toBe('PONG');
    expect(host.inBytes).toBe(before + 'PING\r\n'.length);
  });

  it('counts no PING while keep-alive is held, and counts afresh from the release', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { session, peer } = await openSession(new ConnectOptions().pingInterval(1_000));
    vi.advanceTimersByTime(2_000);
    expect(await peer.nextLine()).toBe('PING');
    expect(await peer.nextLine()).toBe('PING');
    // Two unanswered: the next tick would find the connection stale, had we been reading.
    session.pauseReading();
    session.holdKeepAlive(true);
    vi.advanceTimersByTime(60_000);
    await turns();
    expect(await settledYet(session.ended)).toBe(false);

    session.resumeReading(); // still held: the backlog holds what was read
    vi.advanceTimersByTime(60_000);
    await turns();
    expect(await settledYet(session.ended)).toBe(false);

    session.holdKeepAlive(false);
    vi.advanceTimersByTime(2_000);
    expect(await peer.nextLine()).toBe('PING');
    expect(await peer.nextLine()).toBe('PING');
    expect(await settledYet(session.ended)).toBe(false);
    vi.advanceTimersByTime(1_000);
    const error = await session.ended;
    expect(error?.kind).toBe('timedOut');
    expect(error?.message).toContain('stale connection (2 PINGs unanswered)');
    expect(await peer.clientEnded).toBe('destroy');
  });

  it('a PONG answers every outstanding PING', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { session, peer } = await openSession(new ConnectOptions().pingInterval(1_000));
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(2_000);
      expect(await peer.nextLine()).toBe('PING');
      expect(await peer.nextLine()).toBe('PING');
      peer.send('PONG\r\n');
      await turns();
    }
    expect(await settledYet(session.ended)).toBe(false);
  });
});

describe('TLS is the transport’s', () => {
  async function handshakeWith(options: ConnectOptions, network: MemoryNetwork, info = {}) {
    const { session } = newSession(options, network);
    const opened = session.open();
    const peer = await network.peer(0);
    peer.send(infoLine(info));
    return { session, opened, peer };
  }

  it('over a transport that cannot start TLS (ws://), INFO tls_required is not ours: CONNECT follows', async () => {
    // nats-server tells a client of its plain WebSocket listener what its TCP listener requires.
    const { opened, peer } = await handshakeWith(
      new ConnectOptions().tlsClientConfig({}),
      new MemoryNetwork(),
      { tls_required: true },
    );
    await peer.nextLine((l) => l.startsWith('CONNECT '));
    expect(await peer.nextLine()).toBe('PING');
    peer.send('PONG\r\n');
    await expect(opened).resolves.toMatchObject({ tlsRequired: true });
  });

  it("requireTls(true) over a transport that cannot start TLS fails with 'tls'", async () => {
    const { opened } = await handshakeWith(
      new ConnectOptions().requireTls(true),
      new MemoryNetwork(),
    );
    await expect(opened).rejects.toMatchObject({ kind: 'tls' });
  });

  it('a transport encrypted from the start (wss) needs no upgrade, and CONNECT says so', async () => {
    const network = new MemoryNetwork();
    network.encrypted = true;
    const { opened, peer } = await handshakeWith(
      new ConnectOptions().requireTls(true).tlsFirst(),
      network,
      { tls_required: true },
    );
    const connect = await peer.nextLine((l) => l.startsWith('CONNECT '));
    expect(JSON.parse(connect.slice('CONNECT '.length)).tls_required).toBe(true);
    expect(await peer.nextLine()).toBe('PING');
    peer.send('PONG\r\n');
    await expect(opened).resolves.toMatchObject({ tlsRequired: true });
  });
});

describe('-ERR', () => {
  async function refusedWith(message: string) {
    const { session, network } = newSession(new ConnectOptions());
    const opened = session.open();
    const peer: MemoryPeer = await network.peer(0);
    peer.send(infoLine());
    await peer.nextLine((l) => l.startsWith('CONNECT '));
    peer.send(`-ERR '${message}'\r\n`);
    return opened.then(
      () => undefined,
      (error) => error,
    );
  }

  it.each([
    ['Authorization Violation', 'authorizationViolation'],
    ['User Authentication Expired', 'authorizationViolation'],
    ['Unknown Protocol Operation', 'server'],
  ])("'%s' during the handshake fails it with kind %s", async (message, kind) => {
    const error = await refusedWith(message);
    expect(error).toMatchObject({ kind });
    expect(error.message).toContain(message);
  });

  it('once open, reaches the host and leaves the session open', async () => {
    const { session, host, peer } = await openSession(new ConnectOptions());
    peer.send('-ERR \'Permissions Violation for Publish to "x"\'\r\nPING\r\n');
    expect(await peer.nextLine()).toBe('PONG');
    expect(host.errors).toEqual(['Permissions Violation for Publish to "x"']);
    expect(await settledYet(session.ended)).toBe(false);
  });
});

describe('a hostile server: PING and PONG', () => {
  /** Lines the peer received that are `line`, once what the client wrote has arrived. */
  async function count(peer: MemoryPeer, line: string): Promise<number> {
    await turns();
    let n = 0;
    for (;;) {
      const next = await peer.nextLine(() => true, 50).catch(() => undefined);
      if (next === undefined) return n;
      if (next === line) n++;
    }
  }

  it('a PING flood behind a socket that does not drain owes one PONG, sent at the drain', async () => {
    const { session, host, peer } = await openSession(new ConnectOptions());
    peer.stall();
    const before = host.inBytes;
    const chunk = 'PING\r\n'.repeat(1_000);
    for (let i = 0; i < 100; i++) peer.send(chunk); // 100,000 PINGs
    await waitFor(() => host.inBytes - before === 100 * chunk.length, 5_000, 'the flood read');
    // The first PONG found the buffer full; every later PING shares the one owed after it.
    expect(peer.heldBytes).toBe('PONG\r\n'.length);

    peer.unstall();
    expect(await count(peer, 'PONG')).toBe(2);
    expect(await settledYet(session.ended)).toBe(false);
  });

  it('answers the PINGs of one chunk with one PONG', async () => {
    const { peer } = await openSession(new ConnectOptions());
    peer.send('PING\r\n'.repeat(10_000));
    expect(await count(peer, 'PONG')).toBe(1);
    peer.send('PING\r\n');
    expect(await peer.nextLine()).toBe('PONG');
  });

  it('a PONG with no PING outstanding answers nothing, now or later', async () => {
    const { session, host, peer } = await openSession(new ConnectOptions());
    peer.send('PONG\r\nPONG\r\n');
    await turns();
    session.output.writeFirst([], [7], false); // a flush's PING
    expect(await peer.nextLine()).toBe('PING');
    await turns();
    expect(host.pongs).toEqual([]); // not answered by the PONGs that came before it
    peer.send('PONG\r\n');
    await waitFor(() => host.pongs.length > 0, 1_000, 'the flush PONG');
    expect(host.pongs).toEqual([{ kind: 'flush', id: 7 }]);
    expect(await settledYet(session.ended)).toBe(false);
  });

  it(`stops the pump at ${MAX_UNANSWERED_PINGS} unanswered PINGs and restarts it below`, async () => {
    const { session, host, peer } = await openSession(new ConnectOptions());
    // The outbound pump's side of the sink: a batch per write, its PINGs queued after it.
    const ping = new TextEncoder().encode('PING\r\n');
    let sent = 0;
    while (sent < 2 * MAX_UNANSWERED_PINGS) {
      const writable = session.output.write(ping);
      session.output.pingQueued({ kind: 'flush', id: sent++ }, 0);
      if (!writable) break;
    }
    expect(sent).toBe(MAX_UNANSWERED_PINGS + 1);
    expect(session.output.write(ping)).toBe(false); // still full
    session.output.pingQueued({ kind: 'flush', id: sent++ }, 0);

    const drains = host.drains;
    peer.send('PONG\r\n'.repeat(2));
    await waitFor(() => host.pongs.length === 2, 1_000, 'two PONGs');
    expect(host.drains).toBe(drains); // still at the bound
    peer.send('PONG\r\n');
    await waitFor(() => host.drains > drains, 1_000, 'the pump restarted');
    expect(host.pongs.map((p) => (p.kind === 'flush' ? p.id : -1))).toEqual([0, 1, 2]);
    expect(session.output.write(ping)).toBe(true);
  });
});
