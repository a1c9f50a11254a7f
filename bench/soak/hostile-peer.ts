/**
 * The hostile server of the hostile-server scenario, in a process of its own so that its work
 * (building 10,000-address INFOs, writing floods) neither blocks the measured event loop nor
 * counts in the measured memory. Forked with a JSON {@link HostilePlan}; sends
 * `{ url }` once listening, then `{ done: HostileReport }` once the client has gone through
 * every phase and reached the well-behaved third connection.
 *
 * Connection 0: INFO after INFO with 10,000 connect_urls each, a -ERR every millisecond, a
 * PING flood, then a control line that never ends. Connection 1: an INFO line that never
 * ends. Connection 2 on: a well-behaved server.
 */
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  infoLine,
  type PeerConnection,
  startScriptedPeer,
} from '../../test/helpers/scripted-peer.js';
import { exitWithParent } from '../peers/raw.js';
import { emptyReport, type HostilePlan } from './hostile-plan.js';

const CHUNK = 64 * 1024;
const ERR_LINE = '-ERR \'Permissions Violation for Publish to "hostile"\'\r\n';

exitWithParent();
const plan = JSON.parse(process.argv[2]) as HostilePlan;
const report = emptyReport();
const phase = (name: string) =>
  report.phases.push({ name, at: performance.timeOrigin + performance.now() });
const send = (conn: PeerConnection, data: string | Buffer): boolean => {
  report.bytes += data.length;
  return conn.socket.write(data);
};
// Built before anyone connects: the INFOs are ready when the flood starts.
const infos = Array.from({ length: plan.infos }, (_, i) =>
  infoLine({ server_name: `hostile-${i}`, connect_urls: urls(i * plan.urls, plan.urls) }),
);

const peer = await startScriptedPeer(async (conn) => {
  if (conn.index === 0) {
    phase('connectUrls');
    for (const [i, info] of infos.entries()) {
      send(conn, info);
      report.infos++;
      report.urls += plan.urls;
      if (i > 0) continue;
      await conn.nextLine((l) => l === 'PING', 10_000); // the handshake, on the first
      send(conn, 'PONG\r\n');
    }
    await roundTrip(conn);
    phase('errs');
    const from = performance.now();
    while (report.errs < plan.errMs) {
      const due = Math.min(plan.errMs, Math.floor(performance.now() - from)) - report.errs;
      if (due > 0) {
        send(conn, ERR_LINE.repeat(due));
        report.errs += due;
      }
      await sleep(1);
    }
    await roundTrip(conn);
    phase('pings');
    const perChunk = Math.floor(CHUNK / 6);
    const flood = Buffer.from('PING\r\n'.repeat(perChunk));
    while (report.pings < plan.pings) {
      const n = Math.min(perChunk, plan.pings - report.pings);
      report.pings += n;
      if (!send(conn, n === perChunk ? flood : flood.subarray(0, n * 6))) {
        await once(conn.socket, 'drain');
      }
    }
    phase('endlessMsgLine');
    await endless(conn, 'MSG hostile 1 ');
  } else if (conn.index === 1) {
    await handshake(conn);
    phase('endlessInfoLine');
    await endless(conn, 'INFO {"connect_urls":[');
  } else {
    await handshake(conn);
    if (conn.index === 2) {
      phase('wellBehaved');
      process.send?.({ done: report });
    }
    for await (const line of conn.lines()) if (line === 'PING') send(conn, 'PONG\r\n');
  }
});
process.send?.({ url: peer.url });

/**
 * Distinct loopback addresses on port 1: the client keeps 256 of them in its pool and dials
 * them when it reconnects, and each refuses at once (an unroutable address would cost
 * connectionTimeout per attempt, which is not what is measured).
 */
function urls(from: number, count: number): string[] {
  return Array.from(
    { length: count },
    (_, k) =>
      `127.${((from + k) >> 16) & 255}.${((from + k) >> 8) & 255}.${((from + k) & 255) | 1}:1`,
  );
}

async function handshake(conn: PeerConnection): Promise<void> {
  send(conn, infoLine());
  await conn.nextLine((l) => l === 'PING', 10_000);
  send(conn, 'PONG\r\n');
}

/** A PING, and the client's PONG: it has read everything sent before. */
async function roundTrip(conn: PeerConnection): Promise<void> {
  send(conn, 'PING\r\n');
  await conn.nextLine((l) => l === 'PONG', 30_000);
}

/** `start`, then 64 KiB at a time of a line that never ends, until the client hangs up. */
async function endless(conn: PeerConnection, start: string): Promise<void> {
  report.endlessLines++;
  send(conn, start);
  const chunk = '"1.2.3.4:5",'.repeat(Math.ceil(CHUNK / 12)).slice(0, CHUNK);
  while (!conn.socket.destroyed && conn.socket.writable) {
    if (!send(conn, chunk)) await once(conn.socket, 'drain').catch(() => {});
  }
}
