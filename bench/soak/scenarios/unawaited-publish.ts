/**
 * Figure 6: 2 GiB published in a loop that never awaits writable() (it ignores publish()'s
 * `false`); past maxPendingBytes a publish throws 'clientCapacity', and the loop then pauses
 * for a millisecond and tries the same message again. The process's RSS (both threads, the
 * rings, the queue on the caller's thread) must stay under maxPendingBytes + 256 MiB, and
 * every accepted message must be sent.
 *
 * 16 KiB messages reach the bound against a live server. Small ones do not (the worker sends
 * them faster than one thread publishes them), so a second phase publishes 64 B messages to a
 * server that reads nothing: the queue on the caller's thread fills to maxPendingBytes with
 * about a million of them, which is where a per-message overhead would show.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type Client, ConnectOptions, NatsError } from '../../../src/main/index.js';
import { startServer } from '../../../test/helpers/nats-server.js';
import { withTimeout } from '../../../test/helpers/wait.js';
import { Checks, type Outcome, type RunOptions, type Scenario } from '../figure.js';
import { collect, MemoryPeak, MiB, mib } from '../process-stats.js';

const TOTAL = 2 * 1024 * MiB;
const QUICK_TOTAL = 256 * MiB;
const SIZE = 16 * 1024;
/** Phase 2: small messages, against a server that reads nothing (SIGSTOP). */
const SMALL = 64;
/** Phase 2 ends after this many refused publishes: the bound has been held for a while. */
const SMALL_REFUSALS = 200;
/** The default (API.md); set explicitly so that the bound below is read from one place. */
const MAX_PENDING = 64 * MiB;
const HEADROOM = 256 * MiB;
/** Sample RSS every this many publishes (and at every pause). */
const SAMPLE_EVERY = 64;

export const unawaitedPublish: Scenario = {
  name: 'unawaited-publish',
  figure:
    "2 GiB published without awaiting writable() (a 'clientCapacity' throw → pause 1 ms): RSS stays under maxPendingBytes + 256 MiB",
  async run({ quick }: RunOptions): Promise<Outcome> {
    const total = quick ? QUICK_TOTAL : TOTAL;
    const server = await startServer();
    const client = await new ConnectOptions().maxPendingBytes(MAX_PENDING).connect(server.url);
    await collect();
    const rssBefore = process.memoryUsage.rss();
    const peak = new MemoryPeak().start();
    const payload = new Uint8Array(SIZE).fill(0x61);
    const started = performance.now();
    let run: Unawaited;
    try {
      run = await publishUnawaited(
        client,
        'soak.unawaited',
        payload,
        peak,
        SAMPLE_EVERY,
        (r) => r.accepted * SIZE >= total,
      );
      await withTimeout(client.flush(), 60_000, 'flush() after the loop');
    } finally {
      peak.stop();
    }
    const { accepted, throws, falses } = run;
    const seconds = (performance.now() - started) / 1000;
    const written = client.statistics().outMessages;
    await client.close();
    const closedWith = await client.closed();
    const small = await fillStoppedServer(server.url, server.pid);
    await server.stop();

    const bound = MAX_PENDING + HEADROOM;
    const checks = new Checks();
    checks.expect(
      'rss',
      peak.rss < bound,
      `peak RSS ${mib(peak.rss)} MiB (target < maxPendingBytes + 256 MiB = ${mib(bound)} MiB)`,
    );
    checks.expect(
      'refused',
      throws > 0,
      `${throws} publishes refused with 'clientCapacity' (the bound was reached)`,
    );
    checks.expect('sent', written === accepted, `${written} of ${accepted} accepted messages sent`);
    checks.expect(
      'closed',
      closedWith === undefined,
      `closed() with ${closedWith?.kind ?? 'undefined'}`,
    );
    checks.expect(
      'rssSmall',
      small.peakRss < bound,
      `${SMALL} B messages to a stopped server: peak RSS ${mib(small.peakRss)} MiB with ${small.accepted} accepted (target < ${mib(bound)} MiB)`,
    );
    return checks.outcome(
      `${mib(accepted * SIZE)} MiB in ${accepted} publishes (${Math.round((accepted * SIZE) / MiB / seconds)} MiB/s), ` +
        `${throws} 'clientCapacity' throws: peak RSS ${mib(peak.rss)} MiB (target < ${mib(bound)} MiB; ${mib(rssBefore)} MiB before); ` +
        `${SMALL} B messages to a stopped server: peak RSS ${mib(small.peakRss)} MiB`,
      {
        bytes: accepted * SIZE,
        size: SIZE,
        accepted,
        written,
        falses,
        throws,
        maxPendingBytes: MAX_PENDING,
        rssBeforeMiB: mib(rssBefore),
        peakRssMiB: mib(peak.rss),
        peakHeapMiB: mib(peak.heapUsed),
        boundMiB: mib(bound),
        seconds: Math.round(seconds * 10) / 10,
        smallMessages: {
          size: SMALL,
          accepted: small.accepted,
          throws: small.throws,
          peakRssMiB: mib(small.peakRss),
          peakHeapMiB: mib(small.peakHeap),
          closedWith: small.closedWith,
        },
      },
    );
  },
};

/**
 * Publishes SMALL-byte messages to a server stopped with SIGSTOP until SMALL_REFUSALS of them
 * were refused; then lets the server go on and closes. What close() could not send in time
 * is counted in 'notSent' (reported, not judged: the server was stopped on purpose).
 */
async function fillStoppedServer(url: string, pid: number) {
  const client = await new ConnectOptions()
    .maxPendingBytes(MAX_PENDING)
    .connectionTimeout(1_000)
    .connect(url);
  await collect();
  const peak = new MemoryPeak().start();
  const payload = new Uint8Array(SMALL);
  process.kill(pid, 'SIGSTOP');
  let run: Unawaited;
  try {
    run = await publishUnawaited(
      client,
      'soak.unawaited.small',
      payload,
      peak,
      SAMPLE_EVERY * 64,
      (r) => r.throws >= SMALL_REFUSALS,
    );
  } finally {
    peak.stop();
    process.kill(pid, 'SIGCONT');
  }
  const { accepted, throws } = run;
  await client.close();
  const closedWith = await client.closed();
  return {
    accepted,
    throws,
    peakRss: peak.rss,
    peakHeap: peak.heapUsed,
    closedWith: closedWith ? `${closedWith.kind}: ${closedWith.count ?? ''}` : null,
  };
}

interface Unawaited {
  accepted: number;
  /** publish() returned false (ignored: nothing here awaits writable()). */
  falses: number;
  /** publish() threw 'clientCapacity'. */
  throws: number;
}

/**
 * Publishes `payload` in a loop that never awaits writable(), until `done`: a 'clientCapacity'
 * throw pauses it for 1 ms and the same message goes again. Samples memory every `sampleEvery`
 * accepted publishes and at every pause.
 */
async function publishUnawaited(
  client: Client,
  subject: string,
  payload: Uint8Array,
  peak: MemoryPeak,
  sampleEvery: number,
  done: (run: Unawaited) => boolean,
): Promise<Unawaited> {
  const run: Unawaited = { accepted: 0, falses: 0, throws: 0 };
  while (!done(run)) {
    try {
      if (!client.publish(subject, payload)) run.falses++;
    } catch (error) {
      if (!(error instanceof NatsError) || error.kind !== 'clientCapacity') throw error;
      run.throws++;
      peak.sample();
      await sleep(1);
      continue;
    }
    if (++run.accepted % sampleEvery === 0) peak.sample();
  }
  return run;
}
