/**
 * Figure 2, end to end: a real client and its worker against a scripted peer that sends the
 * fuzz's mutated streams, one per connection, in the chunks the case chose, then hangs up. Every
 * other connection gets a valid handshake first (so the stream reaches an open session); the
 * rest start with the stream itself (so a mutated INFO meets the handshake). The client
 * reconnects at once each time. Counted: worker deaths, uncaught errors on this thread, and the
 * errors the client reported; at the end a valid server must find it working.
 */
import fc from 'fast-check';
import { ConnectOptions, type Event, type Message } from '../../../src/main/index.js';
import {
  infoLine,
  type PeerConnection,
  startScriptedPeer,
} from '../../../test/helpers/scripted-peer.js';
import { waitFor, withTimeout } from '../../../test/helpers/wait.js';
import { Checks, type Outcome, type RunOptions, type Scenario } from '../figure.js';
import { chunksOf, serverStream } from '../streams.js';

const CONNECTIONS = 20_000;
const QUICK_CONNECTIONS = 200;
const SEED = 0x50a5;
/** The whole run may take this long per connection before it counts as stuck. */
const MS_PER_CONNECTION = 200;

export const fuzzClient: Scenario = {
  name: 'fuzz-client',
  figure:
    'Parser fuzz end to end: mutated server streams through a real client (scripted peer): ' +
    "0 worker deaths (closed() never 'workerExited'), 0 uncaught errors, the client still works",
  async run({ quick }: RunOptions): Promise<Outcome> {
    const n = quick ? QUICK_CONNECTIONS : CONNECTIONS;
    const streams = fc.sample(serverStream, { numRuns: n, seed: SEED });
    const uncaught: string[] = [];
    const onUncaught = (error: unknown) => uncaught.push(String(error));
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);

    let streamed = 0;
    const peer = await startScriptedPeer(async (conn) => {
      const i = conn.index - 1;
      if (i < 0) {
        // The client's first connect: valid, until its last subscription is in.
        await handshake(conn);
        await conn.nextLine((l) => l.startsWith('SUB foo '), 10_000);
        conn.socket.end();
        return;
      }
      if (i >= n) return serveValid(conn);
      const stream = streams[i];
      try {
        if (i % 2 === 0) await handshake(conn);
        for (const chunk of chunksOf(stream)) {
          conn.send(chunk);
          await new Promise((resolve) => setImmediate(resolve));
        }
      } catch {
        // the client hung up first (a protocol error): that is the point
      } finally {
        streamed++;
        conn.socket.end();
      }
    });

    const kinds: Record<string, number> = {};
    const rawErrors: string[] = [];
    const onEvent = (event: Event) => {
      const key =
        event.type === 'clientError' || event.type === 'serverError'
          ? `${event.type}:${event.error.kind}`
          : event.type;
      kinds[key] = (kinds[key] ?? 0) + 1;
      if (
        event.type === 'clientError' &&
        /\b(Type|Range|Reference|Syntax)Error\b/.test(event.error.message)
      ) {
        if (rawErrors.length < 5) rawErrors.push(event.error.message.slice(0, 200));
        kinds.rawJsErrors = (kinds.rawJsErrors ?? 0) + 1;
      }
    };
    const client = await new ConnectOptions()
      .reconnectDelayCallback(() => 0)
      .ignoreDiscoveredServers() // discovered addresses from mutated INFOs would be dialled
      .connectionTimeout(2_000)
      .eventCallback(onEvent)
      .connect(peer.url);
    let diedEarly: string | undefined;
    void client.closed().then((error) => {
      diedEarly ??= `closed() settled during the run: ${error?.kind ?? 'undefined'}: ${error?.message}`;
    });
    let delivered = 0;
    const read = (m: Message) => {
      delivered++;
      void m.string();
      void m.headers?.get('Nats-Msg-Id');
      void m.status;
    };
    client.subscribe('fuzz.>', { callback: read }); // sid 1
    const iterated = client.subscribe('>'); // sid 2
    const reading = (async () => {
      for await (const m of iterated) read(m);
    })();
    client.queueSubscribe('foo', 'q', { callback: read }); // sid 3

    const started = performance.now();
    let worksAfter = false;
    let finalError: string | undefined;
    try {
      await waitFor(
        () => streamed >= n || diedEarly !== undefined,
        n * MS_PER_CONNECTION + 10_000,
        `${n} fuzzed connections (${streamed} so far)`,
      );
      // The next connection is a valid server: the client must come back to it and work.
      if (diedEarly === undefined) {
        await withTimeout(client.flush(), 10_000, 'flush() on a valid server after the fuzz');
        worksAfter = client.connectionState() === 'connected';
      }
    } catch (error) {
      finalError = (error as Error).message;
    }
    const seconds = (performance.now() - started) / 1000;
    const earlyEnd = diedEarly;
    await client.close();
    const closedWith = await client.closed();
    await reading.catch(() => {});
    await peer.close().catch(() => {});
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);

    const workerDeaths = closedWith?.kind === 'workerExited' ? 1 : 0;
    const stats = client.statistics();
    const checks = new Checks();
    checks.expect('connections', streamed >= n, `${streamed} fuzzed connections (target ${n})`);
    checks.expect(
      'workerDeaths',
      workerDeaths === 0 && earlyEnd === undefined,
      earlyEnd ?? `${workerDeaths} worker deaths (target 0)`,
    );
    checks.expect(
      'uncaught',
      uncaught.length === 0,
      `${uncaught.length} uncaught errors on the caller's thread (target 0)`,
    );
    checks.expect(
      'worksAfter',
      worksAfter,
      `a valid server afterwards: ${worksAfter ? 'flush() answered' : (finalError ?? 'not connected')}`,
    );
    return checks.outcome(
      `${streamed} connections fed mutated streams in ${Math.round(seconds)} s: ${workerDeaths} worker deaths, ` +
        `${uncaught.length} uncaught, ${stats.connects} connects, ${delivered} messages delivered, ` +
        `${kinds['clientError:protocol'] ?? 0} protocol errors reported`,
      {
        connections: streamed,
        seed: SEED,
        seconds: Math.round(seconds * 10) / 10,
        workerDeaths,
        uncaught: uncaught.slice(0, 5),
        closedWith: closedWith ? `${closedWith.kind}: ${closedWith.message}` : null,
        events: kinds,
        rawJsErrorSamples: rawErrors,
        delivered,
        statistics: stats,
        worksAfter,
        error: finalError ?? null,
      },
    );
  },
};

async function handshake(conn: PeerConnection): Promise<void> {
  conn.send(infoLine());
  await conn.nextLine((l) => l === 'PING', 5_000);
  conn.send('PONG\r\n');
}

/** A well-behaved server: handshake, then a PONG for every PING until the client goes. */
async function serveValid(conn: PeerConnection): Promise<void> {
  await handshake(conn);
  for await (const line of conn.lines()) if (line === 'PING') conn.send('PONG\r\n');
}
