// A hostile server (issue 13, "Bounds"): a flood of -ERR, 10,000 connect_urls, a PING flood,
// an endless control line. None may make the client unresponsive, grow its memory without
// bound or flood the caller's thread with events; each is a scripted peer, since a real
// nats-server does none of it.

import { type Client, ConnectOptions } from 'nats-offload';
import { afterEach, describe, expect, it } from 'vitest';
import {
  infoLine,
  type PeerConnection,
  type ScriptedPeer,
  startScriptedPeer,
} from '../helpers/scripted-peer.js';
import { EventLog, waitFor, withTimeout } from '../helpers/wait.js';

let peer: ScriptedPeer | undefined;
let client: Client | undefined;

afterEach(async () => {
  await client?.close();
  client = undefined;
  await peer?.close();
  peer = undefined;
});

/** The worker's bound on events waiting for this thread (src/worker/host-updates.ts). */
const MAX_QUEUED_EVENTS = 1024;

async function handshake(conn: PeerConnection, info: Record<string, unknown> = {}): Promise<void> {
  conn.send(infoLine(info));
  await conn.nextLine((l) => l.startsWith('CONNECT '));
  await conn.nextLine((l) => l === 'PING');
  conn.send('PONG\r\n');
}

/** Answers every PING of the client until the connection goes. */
async function answerPings(conn: PeerConnection): Promise<void> {
  for await (const line of conn.lines()) if (line === 'PING') conn.send('PONG\r\n');
}

/** Blocks this thread until `done()` or `ms` have passed, as a busy application would. */
function blockFor(ms: number, done: () => boolean): void {
  const until = performance.now() + ms;
  while (!done() && performance.now() < until) {}
}

describe('a hostile server', () => {
  it('a flood of -ERR while this thread is blocked: events bounded, the drops counted, still responsive', async () => {
    let flood!: (conn: PeerConnection) => void;
    const flooded = new Promise<PeerConnection>((resolve) => {
      flood = resolve;
    });
    peer = await startScriptedPeer(async (conn) => {
      await handshake(conn);
      flood(conn);
      await answerPings(conn);
    });
    const events = new EventLog();
    client = await new ConnectOptions().eventCallback(events.callback).connect(peer.url);
    await events.next('connected');
    const conn = await flooded;

    const line = '-ERR \'Permissions Violation for Publish to "flood"\'\r\n';
    const count = 20_000;
    const before = client.statistics().inBytes;
    conn.send(line.repeat(count));
    // Busy until the worker has read the whole flood (it counts bytes in shared memory), and a
    // little longer, for it to have parsed the last chunk too.
    const c = client;
    blockFor(5_000, () => c.statistics().inBytes - before >= line.length * count);
    expect(client.statistics().inBytes - before).toBe(line.length * count);
    blockFor(200, () => false);

    await withTimeout(client.flush(), 5_000, 'flush() after the flood');
    const serverErrors = () => events.events.filter((e) => e.type === 'serverError').length;
    const dropped = () =>
      events.events
        .map((e) =>
          e.type === 'clientError' ? /^(\d+) events dropped/.exec(e.error.message) : null,
        )
        .reduce((sum, m) => sum + (m ? Number(m[1]) : 0), 0);
    // Every -ERR is either delivered or counted as dropped.
    await waitFor(() => serverErrors() + dropped() === count, 5_000, 'every -ERR accounted for');
    // A batch already in flight when this thread blocked, and one with what waited since.
    expect(serverErrors()).toBeLessThanOrEqual(2 * MAX_QUEUED_EVENTS);
    expect(dropped()).toBeGreaterThan(0);
    expect(client.connectionState()).toBe('connected');
  });
});
