/**
 * Figure 1: the connection worker dies (killed through the package's test hook, as a crash
 * would) while calls wait on it: flush, request (shared inbox and own inbox), writable() behind
 * a full ring, drain(), closed(), a subscription's iterator and a callback subscription. Each
 * must settle with 'workerExited' (the iterator: end) within 1 s of the kill, and the client
 * must emit one clientError and one closed event.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type Client, ConnectOptions, type Event, NatsError } from '../../../src/main/index.js';
import { terminateWorker } from '../../../src/main/test-hooks.js';
import {
  infoLine,
  type ScriptedPeer,
  startScriptedPeer,
} from '../../../test/helpers/scripted-peer.js';
import { settledYet, waitFor, withTimeout } from '../../../test/helpers/wait.js';
import { Checks, type Outcome, type RunOptions, type Scenario } from '../figure.js';

const REPS = 20;
const QUICK_REPS = 5;
const TARGET_MS = 1_000;
/** Payload of the publishes that fill the socket, the ring and then the caller's queue. */
const FILL_SIZE = 64 * 1024;
/** writable() still pending this long after publish() said false: the queue is stuck. */
const STILL_FULL_MS = 20;

/** How one pending call ended: its kind ('resolved', 'ended' for an iterator) and when. */
interface Settled {
  call: string;
  outcome: string;
  ms: number;
}

export const workerDeath: Scenario = {
  name: 'worker-death',
  figure:
    "Worker death: the worker is killed with flush/request/drain/writable()/closed() pending; every pending call settles with 'workerExited' within 1 s",
  async run({ quick }: RunOptions): Promise<Outcome> {
    // A server that completes the handshake, then neither reads nor answers: everything waits.
    const peer = await startScriptedPeer(async (conn) => {
      conn.send(infoLine());
      await conn.nextLine((l) => l === 'PING');
      conn.send('PONG\r\n');
      conn.socket.pause();
    });
    const reps = quick ? QUICK_REPS : REPS;
    const runs: Awaited<ReturnType<typeof killOnce>>[] = [];
    try {
      for (let i = 0; i < reps; i++) runs.push(await killOnce(peer));
    } finally {
      await peer.close();
    }

    const all = runs.flatMap((r) => r.settled);
    const slowest = all.reduce((max, s) => Math.max(max, s.ms), 0);
    const wrong = all.filter((s) => s.outcome !== expected(s.call));
    const notPending = runs.flatMap((r) => r.pendingBefore);
    // API.md: one clientError ('workerExited') and one closed event. A 'notSent' clientError
    // for publishes that waited on this thread is reported beside it (measured.notSentEvents).
    const badEnds = runs.filter(
      (r) =>
        r.ends.filter((e) => e === 'clientError:workerExited').length !== 1 ||
        r.ends.filter((e) => e === 'closed').length !== 1 ||
        r.ends.at(-1) !== 'closed',
    );
    const checks = new Checks();
    checks.expect(
      'pending',
      notPending.length === 0,
      `${notPending.length} calls settled before the kill (target 0)${notPending.length ? `: ${notPending.slice(0, 3).join(', ')}` : ''}`,
    );
    checks.expect(
      'outcomes',
      wrong.length === 0,
      `${wrong.length} of ${all.length} calls settled otherwise than 'workerExited'${listed(wrong)}`,
    );
    checks.expect(
      'within1s',
      slowest < TARGET_MS,
      `slowest settled ${Math.round(slowest)} ms after the kill (target < ${TARGET_MS} ms)`,
      'timing',
    );
    checks.expect(
      'events',
      badEnds.length === 0,
      `${badEnds.length} of ${reps} kills without exactly one clientError 'workerExited' and one 'closed' last`,
    );
    const byCall: Record<string, number> = {};
    for (const s of all) byCall[s.call] = Math.max(byCall[s.call] ?? 0, Math.round(s.ms * 10) / 10);
    return checks.outcome(
      `${reps} kills × ${runs[0]?.settled.length ?? 0} pending calls: ${all.length - wrong.length} settled 'workerExited', slowest ${Math.round(slowest)} ms (target < ${TARGET_MS} ms)`,
      {
        kills: reps,
        slowestMsByCall: byCall,
        wrong,
        notPending,
        badEnds: badEnds.map((r) => r.ends),
        eventsOfFirstKill: runs[0]?.ends,
        notSentEvents: runs.map((r) => r.notSent),
      },
    );
  },
};

/** The first few of `wrong`, for the check's text. */
function listed(wrong: Settled[]): string {
  if (wrong.length === 0) return '';
  return ` (${wrong
    .slice(0, 3)
    .map((w) => `${w.call}: ${w.outcome}`)
    .join(', ')})`;
}

/** What each call must settle with. */
function expected(call: string): string {
  return call === 'iterator.next' ? 'ended' : 'workerExited';
}

async function killOnce(peer: ScriptedPeer) {
  const events: Event[] = [];
  const client = await new ConnectOptions()
    .requestTimeout(null)
    .clientCapacity(4)
    .eventCallback((e) => {
      events.push(e);
    })
    .connect(peer.url);
  try {
    const iterated = client.subscribe('soak.it');
    const callbackSub = client.subscribe('soak.cb', { callback: () => {} });
    // First, so that drain() below finds publishes waiting on this thread.
    const { writable } = await fillUntilNotWritable(client);
    const calls: [string, Promise<unknown>][] = [
      ['iterator.next', iterated[Symbol.asyncIterator]().next()],
      ['iterator.closed', iterated.closed],
      ['callback.closed', callbackSub.closed],
      ['flush', client.flush()],
      ['request', client.request('soak.svc')],
      ['request.ownInbox', client.sendRequest('soak.svc', { inbox: client.newInbox() })],
      ['writable', writable],
      ['drain', client.drain()],
      ['closed', client.closed()],
    ];
    const pendingBefore: string[] = [];
    for (const [name, promise] of calls) {
      promise.catch(() => {}); // observed below
      if (await settledYet(promise)) pendingBefore.push(name);
    }
    const killedAt = performance.now();
    const settled = calls.map(([call, promise]) =>
      promise.then<Settled, Settled>(
        (value) => ({ call, outcome: resolvedAs(value), ms: performance.now() - killedAt }),
        (error: unknown) => ({ call, outcome: kindOf(error), ms: performance.now() - killedAt }),
      ),
    );
    void terminateWorker(client);
    // Waited for well past the target, so that a slow settle is measured, not just missed.
    const results = await withTimeout(Promise.all(settled), 10 * TARGET_MS, 'every pending call');
    await waitFor(() => events.some((e) => e.type === 'closed'), 5_000, "the 'closed' event");
    const ends = events
      .filter((e) => e.type === 'clientError' || e.type === 'closed')
      .map((e) => (e.type === 'clientError' ? `clientError:${e.error.kind}` : e.type));
    const notSent = events.flatMap((e) =>
      e.type === 'clientError' && e.error.kind === 'notSent' ? [e.error.count ?? 0] : [],
    );
    return { settled: results, ends, pendingBefore, notSent };
  } finally {
    await client.close();
  }
}

/**
 * Publishes until publish() returns false and writable() stays pending: the peer reads
 * nothing, so once the socket's buffers and the ring are full, clientCapacity messages wait
 * on this thread. (A first `false` can come while the worker still moves the ring into a
 * socket that takes more; then writable() resolves and filling goes on.)
 */
async function fillUntilNotWritable(client: Client): Promise<{ writable: Promise<void> }> {
  const payload = new Uint8Array(FILL_SIZE);
  for (let i = 0; i < 10_000; i++) {
    if (client.publish('soak.fill', payload)) continue;
    const writable = client.writable();
    const written = client.statistics().outBytes;
    await sleep(STILL_FULL_MS);
    // Still pending, and the socket took nothing meanwhile: a worker that lags on a loaded
    // host could otherwise still free ring space between the checks and the kill.
    const still = client.statistics().outBytes === written;
    if (!(await settledYet(writable)) && still) return { writable }; // wrapped: not awaited here
  }
  throw new Error('writable() never stayed pending');
}

function resolvedAs(value: unknown): string {
  if (value instanceof NatsError) return value.kind; // closed() and sub.closed resolve with it
  if (value && typeof value === 'object' && 'done' in value) return value.done ? 'ended' : 'value';
  return 'resolved';
}

function kindOf(error: unknown): string {
  return error instanceof NatsError ? error.kind : `not a NatsError: ${String(error)}`;
}
