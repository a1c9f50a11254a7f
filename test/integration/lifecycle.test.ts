// A client's life: connect (and the ways it fails), state and events, flush, close, process
// exit, and reconnecting after a server restart.

import net from 'node:net';
import { type Client, ConnectOptions, connect, type Message } from 'nats-offload';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runNodeScript } from '../helpers/child.js';
import { rejection } from '../helpers/errors.js';
import { freePort, type NatsServer, startServer, stopAll } from '../helpers/nats-server.js';
import { handshake, type ScriptedPeer, startScriptedPeer } from '../helpers/scripted-peer.js';
import { EventLog, settledYet, waitFor, withTimeout } from '../helpers/wait.js';

let server: NatsServer;
/** The built package, for scripts run in a process of their own. */
const ENTRY = new URL('../../dist/src/main/index.js', import.meta.url).href;
const clients: Client[] = [];
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  server = await startServer();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await server?.stop();
  await stopAll();
});

async function open(url: string, options = new ConnectOptions()): Promise<Client> {
  const client = await options.connect(url);
  clients.push(client);
  return client;
}

/** A fresh server for a test that stops or restarts it. */
async function ownServer(): Promise<NatsServer> {
  const s = await startServer();
  cleanups.push(() => s.stop());
  return s;
}

describe('state, events and close', () => {
  it("is 'connected' after connect and 'closed' after close; closed() resolves undefined", async () => {
    const events = new EventLog();
    const client = await open(server.url, new ConnectOptions().eventCallback(events.callback));
    expect(client.connectionState()).toBe('connected');
    await events.next('connected');

    let closedWith: unknown = 'pending';
    const closed = client.closed().then((value) => {
      closedWith = value;
    });
    expect(await settledYet(client.closed())).toBe(false);

    await client.close();
    await withTimeout(closed, 2_000, 'closed()');
    expect(closedWith).toBeUndefined();
    expect(client.connectionState()).toBe('closed');
    expect(events.types()).toEqual(['connected', 'closed']);
    expect(client.statistics().connects).toBe(1);
  });

  it('close() sends what was published before it', async () => {
    const receiver = await open(server.url);
    const got: string[] = [];
    receiver.subscribe('life.close', { callback: (m) => got.push(m.string()) });
    await receiver.flush();

    const sender = await open(server.url);
    for (let i = 0; i < 100; i++) sender.publish('life.close', String(i));
    await sender.close();
    // The server had every PUB before the socket closed; the receiver's PONG follows them.
    await receiver.flush();
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
  });
});

describe('before the first INFO', () => {
  it('serverInfo() has empty strings and maxPayload 1 MiB, and does not throw', async () => {
    const port = await freePort();
    const client = await open(
      `nats://127.0.0.1:${port}`,
      new ConnectOptions().retryOnInitialConnect(),
    );
    expect(client.connectionState()).toBe('pending');
    expect(client.serverInfo()).toMatchObject({
      serverId: '',
      serverName: '',
      version: '',
      host: '',
      maxPayload: 1024 * 1024,
      connectUrls: [],
      lameDuckMode: false,
    });
    expect(client.maxPayload()).toBe(1024 * 1024);
    expect(client.isServerCompatible(0, 0, 0)).toBe(false);
  });
});

describe('connect failures', () => {
  // API.md: every error the library raises is a NatsError; a runtime without shared memory or
  // worker threads gave a plain ReferenceError or ERR_ACCESS_DENIED.
  it.each([
    ['without SharedArrayBuffer', ['--no-harmony-sharedarraybuffer']],
    ['without Atomics', ['--no-harmony-atomics']],
    [
      'under a permission model without --allow-worker',
      ['--experimental-permission', '--allow-fs-read=*'],
    ],
  ])("rejects with 'unsupported' %s", async (_, nodeFlags) => {
    const result = await runNodeScript(
      `
      import { connect, NatsError } from ${JSON.stringify(ENTRY)};
      try { await connect('nats://127.0.0.1:1'); console.log('connected'); }
      catch (e) { console.log(e instanceof NatsError, e.kind); }
      `,
      { nodeFlags },
    );
    expect(result.stdout.trim()).toBe('true unsupported');
    expect(result.code).toBe(0);
  });

  it("rejects with 'io' when nothing listens, well within connectionTimeout", async () => {
    const port = await freePort();
    const started = performance.now();
    const error = await rejection(
      connect(`nats://127.0.0.1:${port}`, new ConnectOptions().connectionTimeout(3_000)),
    );
    expect(error.kind).toBe('io');
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it("rejects with 'timedOut' when the server accepts TCP but never sends INFO", async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    silent.listen(0, '127.0.0.1');
    await new Promise((resolve) => silent.once('listening', resolve));
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });
    const { port } = silent.address() as net.AddressInfo;

    const started = performance.now();
    const error = await rejection(
      connect(`nats://127.0.0.1:${port}`, new ConnectOptions().connectionTimeout(500)),
    );
    const elapsed = performance.now() - started;
    expect(error.kind).toBe('timedOut');
    expect(sockets.size).toBe(1); // the TCP connection was made: the timeout was the handshake's
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(3_000);
  });
});

describe('flush', () => {
  let peer: ScriptedPeer | undefined;

  afterEach(async () => {
    await peer?.close();
    peer = undefined;
  });

  it('resolves only once the server has answered its PING', async () => {
    let releasePong!: () => void;
    const pongAllowed = new Promise<void>((resolve) => {
      releasePong = resolve;
    });
    let flushPingSeen!: () => void;
    const flushPing = new Promise<void>((resolve) => {
      flushPingSeen = resolve;
    });
    peer = await startScriptedPeer(async (conn) => {
      await handshake(conn);
      await conn.nextLine((l) => l === 'PING', 10_000);
      flushPingSeen();
      await pongAllowed;
      conn.send('PONG\r\n');
      for await (const _ of conn.lines()) {
        // keep reading until the client closes
      }
    });
    const client = await open(peer.url);

    const flushed = client.flush();
    await withTimeout(flushPing, 5_000, "the flush's PING at the peer");
    expect(await settledYet(flushed)).toBe(false);

    releasePong();
    await withTimeout(flushed, 5_000, 'flush() after the PONG');
  });

  it('resolves against a real server', async () => {
    const client = await open(server.url);
    const before = client.statistics().outBytes; // CONNECT and the handshake's PING
    await withTimeout(client.flush(), 5_000, 'flush()');
    // Its PING went out (and its PONG came back): the connection's counters were always > 0.
    expect(client.statistics().outBytes - before).toBe('PING\r\n'.length);
  });

  it("on a dead connection rejects with 'timedOut' past its time", async () => {
    const own = await ownServer();
    const events = new EventLog();
    const client = await open(
      own.url,
      new ConnectOptions().requestTimeout(500).eventCallback(events.callback),
    );
    await client.flush();

    await own.stop();
    await events.next('disconnected', 0, 5_000);
    expect(client.connectionState()).toBe('disconnected');

    const started = performance.now();
    const error = await rejection(client.flush());
    const elapsed = performance.now() - started;
    expect(error.kind).toBe('timedOut');
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(3_000);
  });
});

describe('process exit', () => {
  // Module files: the worker then inherits the process's flags untouched (the `-e` form, which
  // has flags to filter out, is covered in package.test.ts).

  it('a script that closes its client exits by itself with code 0', async () => {
    const result = await runNodeScript(
      `
      import { connect } from ${JSON.stringify(ENTRY)};
      const client = await connect(${JSON.stringify(server.url)});
      let n = 0;
      client.subscribe('exit.test', { callback: () => { n++; } });
      await client.flush();
      for (let i = 0; i < 1000; i++) client.publish('exit.test', 'm' + i);
      await client.flush();
      if (n !== 1000) { console.log('received ' + n); process.exitCode = 2; }
      await client.close();
      console.log('done');
      `,
      { timeoutMs: 10_000, asFile: true },
    );
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('done');
    expect(result.timedOut).toBe(false);
    expect(result.code).toBe(0);
  });

  it('control calls leave nothing behind: 20,000 setServerPool() calls keep the heap flat', async () => {
    // Each call raced the worker's exit, which kept a reaction on it until the worker exited.
    const result = await runNodeScript(
      `
      import { connect } from ${JSON.stringify(ENTRY)};
      const client = await connect(${JSON.stringify(server.url)});
      const call = () => client.setServerPool([${JSON.stringify(server.url)}]);
      for (let i = 0; i < 2_000; i++) await call();
      globalThis.gc();
      const before = process.memoryUsage().heapUsed;
      for (let i = 0; i < 20_000; i++) await call();
      globalThis.gc();
      console.log(Math.round((process.memoryUsage().heapUsed - before) / 20_000));
      await client.close();
      `,
      { timeoutMs: 60_000, asFile: true, nodeFlags: ['--expose-gc'] },
    );
    expect(result.stderr).toBe('');
    // Bytes of heap per call: ~700 before.
    expect(Number(result.stdout.trim())).toBeLessThan(100);
  }, 70_000);

  it('a script that does not close its client keeps running (the exit above is meaningful)', async () => {
    const result = await runNodeScript(
      `
      import { connect } from ${JSON.stringify(ENTRY)};
      const client = await connect(${JSON.stringify(server.url)});
      client.subscribe('exit.never', { callback: () => {} });
      await client.flush();
      console.log('connected');
      // An unref'd timer fires only while something else keeps the process alive: the client.
      setTimeout(() => {
        console.log('still running');
        process.exit(0);
      }, 1_000).unref();
      `,
      { timeoutMs: 20_000, asFile: true },
    );
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual(['connected', 'still running']);
    expect(result.timedOut).toBe(false);
  });

  it('a script whose connect failed, or whose pending client was closed, exits by itself', async () => {
    const port = await freePort();
    const url = JSON.stringify(`nats://127.0.0.1:${port}`);
    const result = await runNodeScript(
      `
      import { connect, ConnectOptions } from ${JSON.stringify(ENTRY)};
      try {
        await connect(${url});
        console.log('connected?');
      } catch (error) {
        console.log('rejected ' + error.kind);
      }
      const pending = await new ConnectOptions().retryOnInitialConnect().connect(${url});
      console.log(pending.connectionState());
      await pending.close();
      console.log('done');
      `,
      { timeoutMs: 10_000, asFile: true },
    );
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual(['rejected io', 'pending', 'done']);
    expect(result.timedOut).toBe(false);
    expect(result.code).toBe(0);
  });
});

describe('reconnect', () => {
  it('reconnects by itself after a restart and replays its subscriptions', async () => {
    const own = await ownServer();
    const events = new EventLog();
    const client = await open(own.url, new ConnectOptions().eventCallback(events.callback));
    await events.next('connected');
    const got: Message[] = [];
    client.subscribe('re.sub', { callback: (m) => got.push(m) });
    client.subscribe('re.>', { callback: (m) => got.push(m) });
    await client.flush();
    client.publish('re.sub', 'before');
    await client.flush();
    expect(got.map((m) => m.string())).toEqual(['before', 'before']);

    const mark = events.events.length;
    const oldPid = own.pid;
    await own.restart!();
    expect(own.pid).not.toBe(oldPid);
    const down = await events.next('disconnected', mark, 10_000);
    await events.next('connected', down + 1, 15_000);
    expect(client.connectionState()).toBe('connected');
    expect(client.statistics().connects).toBe(2);

    // The new server process only delivers these if the SUBs were replayed to it.
    client.publish('re.sub', 'after');
    await client.flush();
    const other = await open(own.url);
    other.publish('re.sub', 'from other');
    await other.flush();
    await client.flush();
    expect(got.map((m) => `${m.subject}:${m.string()}`)).toEqual([
      're.sub:before',
      're.sub:before',
      're.sub:after',
      're.sub:after',
      're.sub:from other',
      're.sub:from other',
    ]);
  });

  it('keeps unsubscribeAfter(n) exact across a restart', async () => {
    const own = await ownServer();
    const events = new EventLog();
    const client = await open(own.url, new ConnectOptions().eventCallback(events.callback));
    const got: string[] = [];
    const sub = client.subscribe('re.limited', { callback: (m) => got.push(m.string()) });
    await sub.unsubscribeAfter(5);
    await client.flush();
    client.publish('re.limited', 'a0');
    client.publish('re.limited', 'a1');
    await client.flush();
    expect(got).toEqual(['a0', 'a1']);

    const mark = events.events.length;
    await own.restart!();
    const down = await events.next('disconnected', mark, 10_000);
    await events.next('connected', down + 1, 15_000);

    for (let i = 0; i < 10; i++) client.publish('re.limited', `b${i}`);
    await client.flush();
    expect(got).toEqual(['a0', 'a1', 'b0', 'b1', 'b2']);
  });

  it('tells a new server only the rest of unsubscribeAfter(n) given after a restart', async () => {
    const own = await ownServer();
    const events = new EventLog();
    const client = await open(own.url, new ConnectOptions().eventCallback(events.callback));
    const got: string[] = [];
    const sub = client.subscribe('re.late', { callback: (m) => got.push(m.string()) });
    await client.flush();
    client.publish('re.late', 'a0');
    client.publish('re.late', 'a1');
    await client.flush();

    const mark = events.events.length;
    await own.restart!();
    const down = await events.next('disconnected', mark, 10_000);
    await events.next('connected', down + 1, 15_000);

    // The new server has sent nothing on this sid: it may send 3 more, not 5.
    await sub.unsubscribeAfter(5);
    const before = client.statistics().inMessages;
    for (let i = 0; i < 10; i++) client.publish('re.late', `b${i}`);
    await client.flush();
    expect(got).toEqual(['a0', 'a1', 'b0', 'b1', 'b2']);
    expect(client.statistics().inMessages - before).toBe(3);
  });
});

describe("close() with publishes still waiting on the caller's thread", () => {
  it('sends every message publish() accepted before the socket ends', async () => {
    const s = await startServer();
    try {
      const receiver = await connect(s.url);
      let got = 0;
      receiver.subscribe('close.backlog', {
        callback: () => {
          got++;
        },
      });
      await receiver.flush();
      const sender = await connect(s.url);
      const payload = new Uint8Array(64 * 1024);
      let accepted = 0;
      // 200 x 64 KiB: more than the 4 MiB ring, so part of it waits on this thread. Every
      // call returns (true or false): each message is accepted, none may be lost.
      for (let i = 0; i < 200; i++) {
        sender.publish('close.backlog', payload);
        accepted++;
      }
      await sender.close();
      await waitFor(() => got === accepted, 10_000, `all ${accepted} messages (got ${got})`);
      expect(got).toBe(200);
      await receiver.close();
    } finally {
      await s.stop();
    }
  });
});
