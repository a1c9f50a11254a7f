/**
 * Figure 4: 100 forceReconnect() calls while a client publishes numbered 16 KiB messages as
 * fast as writable() lets it (so that the socket's write queue and the ring views it holds are
 * rarely empty when the reconnect is forced: a paced stream leaves nothing in flight to lose);
 * a second client, whose connection is never touched, receives them. API.md: what was
 * accepted before forceReconnect() goes out on the old connection or the new one, never
 * dropped; the server is not killed, so every message must arrive, once. Order is checked
 * too: the next connection is dialled once the old socket has closed (connection.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ConnectOptions, connect } from '../../../src/main/index.js';
import { startServer } from '../../../test/helpers/nats-server.js';
import { waitFor, withTimeout } from '../../../test/helpers/wait.js';
import { Checks, type Outcome, type RunOptions, type Scenario } from '../figure.js';
import { PacedPublisher, SeqRecorder } from '../sequence.js';

const RECONNECTS = 100;
const QUICK_RECONNECTS = 10;
/** Publishing between two forced reconnects. */
const GAP_MS = 30;
/** As fast as writable() allows. */
const RATE = 0;
const SIZE = 16 * 1024;
const SUBJECT = 'soak.force';

export const forceReconnect: Scenario = {
  name: 'force-reconnect',
  figure:
    'Forced reconnects: 100 forceReconnect() calls during a publish stream: 0 lost (a receiver sees every sequence number once, in order)',
  async run({ quick }: RunOptions): Promise<Outcome> {
    const target = quick ? QUICK_RECONNECTS : RECONNECTS;
    const server = await startServer();
    let slowConsumers = 0;
    const receiver = await new ConnectOptions()
      .eventCallback((e) => {
        if (e.type === 'slowConsumer') slowConsumers++;
      })
      .connect(server.url);
    const recorder = new SeqRecorder();
    receiver.subscribe(SUBJECT, { callback: recorder.onMessage });
    await receiver.flush();
    const client = await connect(server.url);

    const started = performance.now();
    const publisher = new PacedPublisher(client, SUBJECT, RATE, SIZE);
    let forced = 0;
    let slowestReconnectMs = 0;
    try {
      for (; forced < target; forced++) {
        await Promise.race([sleep(GAP_MS), publisher.done]);
        const connects = client.statistics().connects;
        const t = performance.now();
        await client.forceReconnect();
        await waitFor(() => client.statistics().connects > connects, 10_000, 'the reconnect');
        slowestReconnectMs = Math.max(slowestReconnectMs, performance.now() - t);
      }
      await Promise.race([sleep(GAP_MS), publisher.done]);
    } finally {
      await publisher.stop();
    }
    const seconds = (performance.now() - started) / 1000;
    const accepted = publisher.accepted;
    await withTimeout(client.flush(), 10_000, 'flush() after the last reconnect');
    const connects = client.statistics().connects;
    await client.close();
    const closedWith = await client.closed();
    // Everything reached the server: the receiver's own flush round trip comes after it all.
    await withTimeout(receiver.flush(), 10_000, "the receiver's flush");
    await waitFor(() => recorder.received >= accepted, 10_000, 'every message').catch(() => {});
    await receiver.close();
    await server.stop();

    const lost = accepted - recorder.received;
    const notSent = closedWith?.kind === 'notSent' ? (closedWith.count ?? 0) : 0;
    const checks = new Checks();
    checks.expect(
      'reconnects',
      connects === target + 1,
      `${connects - 1} reconnects (target ${target})`,
    );
    checks.expect('lost', lost === 0, `${lost} of ${accepted} lost (target 0)`);
    checks.expect(
      'once',
      recorder.duplicates === 0,
      `${recorder.duplicates} duplicates (target 0)`,
    );
    checks.expect(
      'order',
      recorder.outOfOrder === 0,
      `${recorder.outOfOrder} arrived after a higher number (target 0: the next connection waits for the old socket's close)`,
    );
    checks.expect(
      'notSent',
      closedWith === undefined,
      `closed() with ${closedWith?.kind ?? 'undefined'} (target undefined)`,
    );
    checks.expect(
      'noDrops',
      slowConsumers === 0,
      `${slowConsumers} slowConsumer events at the receiver (target 0)`,
    );
    return checks.outcome(
      `${forced} forced reconnects during ${accepted} publishes (${Math.round(accepted / seconds)} msgs/s): ` +
        `${recorder.received} received, ${lost} lost, ${recorder.duplicates} duplicates, ` +
        `${recorder.outOfOrder} out of order`,
      {
        forced,
        connects,
        accepted,
        received: recorder.received,
        lost,
        notSent,
        duplicates: recorder.duplicates,
        outOfOrder: recorder.outOfOrder,
        closedWith: closedWith ? `${closedWith.kind}: ${closedWith.message}` : null,
        slowestReconnectMs: Math.round(slowestReconnectMs),
        blockedInWritableMs: Math.round(publisher.blockedMs),
        seconds: Math.round(seconds * 10) / 10,
      },
    );
  },
};
