/**
 * Figure 7: a hostile server (hostile-peer.js, a process of its own) in turn sends INFO after
 * INFO with 10,000 connect_urls each, a -ERR every millisecond for 2 s, a flood of PINGs, and
 * a control line that never ends; on the next connection an INFO line that never ends; then
 * it behaves. This thread meanwhile runs a 1 ms timer (its longest gap says whether the event
 * loop kept ticking, and when), samples memory, and counts eventCallback calls and the
 * deliveries they came in (the events of one delivery from the worker arrive in one macrotask).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { ConnectOptions, type Event } from '../../../src/main/index.js';
import { waitFor, withTimeout } from '../../../test/helpers/wait.js';
import { Checks, type Outcome, type RunOptions, type Scenario } from '../figure.js';
import type { HostilePlan, HostileReport } from '../hostile-peer.js';
import { collect, LoopGap, MemoryPeak, MiB, mib } from '../process-stats.js';

const PLAN: HostilePlan = { infos: 20, urls: 10_000, errMs: 2_000, pings: 2_000_000 };
const QUICK_PLAN: HostilePlan = { infos: 5, urls: 10_000, errMs: 500, pings: 200_000 };
const MAX_GAP_MS = 100;
/** Peak RSS over the baseline (taken before connecting), at most. */
const RSS_BOUND = 128 * MiB;
/** Heap after a GC, once it is over, over the baseline, at most. */
const HEAP_BOUND = 8 * MiB;
/**
 * "≪": eventCallback calls (and deliveries of events to this thread) at most a fifth of the
 * occurrences. (The worker posts at most once per 10 ms, so a -ERR per ms comes in deliveries
 * of about ten: a bound of a tenth would be met only just.)
 */
const COALESCE_RATIO = 5;
const PEER_JS = fileURLToPath(new URL('../hostile-peer.js', import.meta.url));

export const hostileServer: Scenario = {
  name: 'hostile-server',
  figure:
    'Hostile server: 10,000 connect_urls per INFO, a -ERR per ms for 2 s, a PING flood, an endless line: ' +
    '1 ms timer gap < 100 ms, memory bounded, events coalesced (eventCallback calls ≪ occurrences)',
  async run({ quick }: RunOptions): Promise<Outcome> {
    const plan = quick ? QUICK_PLAN : PLAN;
    const peer = fork(PEER_JS, [JSON.stringify(plan)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: [],
    });
    try {
      const { url } = await message<{ url: string }>(peer, 'url');
      return await measure(url, message<{ done: HostileReport }>(peer, 'done'));
    } finally {
      peer.kill();
    }
  },
};

async function measure(url: string, peerDone: Promise<{ done: HostileReport }>): Promise<Outcome> {
  await collect();
  const heapBefore = process.memoryUsage().heapUsed;
  const rssBefore = process.memoryUsage.rss();
  const memory = new MemoryPeak().start(10);
  const gap = new LoopGap().start();
  const calls: Record<string, number> = {};
  let deliveries = 0;
  let inDelivery = false;
  let lastEventAt = 0;
  const onEvent = (event: Event) => {
    const key = event.type === 'clientError' ? `clientError:${event.error.kind}` : event.type;
    calls[key] = (calls[key] ?? 0) + 1;
    lastEventAt = performance.now();
    // The events of one delivery are handed over in one synchronous loop.
    if (!inDelivery) {
      deliveries++;
      inDelivery = true;
      queueMicrotask(() => {
        inDelivery = false;
      });
    }
  };
  const client = await new ConnectOptions()
    .eventCallback(onEvent)
    .reconnectDelayCallback(() => 0)
    .connect(url);
  let error: string | undefined;
  let sent: HostileReport | undefined;
  try {
    sent = (await withTimeout(peerDone, 60_000, 'the hostile phases')).done;
    await withTimeout(client.flush(), 10_000, 'flush() on the well-behaved connection');
    // Events already on their way (the last deliveries) are let in before counting.
    await waitFor(() => performance.now() - lastEventAt > 100, 5_000, 'events to settle');
  } catch (e) {
    error = (e as Error).message;
  } finally {
    gap.stop();
    memory.stop();
  }
  const connected = client.connectionState() === 'connected';
  const pool = client.serverPool().length;
  await client.close();
  await collect();
  const heapAfter = process.memoryUsage().heapUsed;

  const s = sent ?? { infos: 0, urls: 0, errs: 0, pings: 0, endlessLines: 0, bytes: 0, phases: [] };
  const eventCalls = Object.values(calls).reduce((a, b) => a + b, 0);
  // Hostile ops that could each have become an event (PINGs are answered, not reported).
  const occurrences = s.infos + s.errs + s.endlessLines;
  const longestIn = phaseAt(s.phases, gap.longestAt);
  const checks = new Checks();
  checks.expect(
    'finished',
    error === undefined && connected,
    error ?? 'the client ends connected to the well-behaved connection',
  );
  checks.expect(
    'loop',
    gap.longestMs < MAX_GAP_MS,
    `longest gap of a 1 ms timer ${Math.round(gap.longestMs)} ms, during ${longestIn} (target < ${MAX_GAP_MS} ms)`,
    'timing',
  );
  checks.expect(
    'rss',
    memory.rss - rssBefore < RSS_BOUND,
    `peak RSS ${mib(rssBefore)} → ${mib(memory.rss)} MiB while ${mib(s.bytes)} MiB arrived (target + < ${mib(RSS_BOUND)} MiB)`,
  );
  checks.expect(
    'heap',
    heapAfter - heapBefore < HEAP_BOUND,
    `heap ${mib(heapBefore)} → ${mib(heapAfter)} MiB after GC (target + < ${mib(HEAP_BOUND)} MiB)`,
  );
  checks.expect('pool', pool <= 1 + 256, `server pool ${pool} (target ≤ 1 + 256 discovered)`);
  checks.expect(
    'deliveries',
    deliveries * COALESCE_RATIO <= occurrences,
    `${deliveries} deliveries of events to this thread for ${occurrences} occurrences (target ≤ 1/${COALESCE_RATIO})`,
  );
  checks.expect(
    'eventCallbackCalls',
    eventCalls * COALESCE_RATIO <= occurrences,
    `${eventCalls} eventCallback calls for ${occurrences} occurrences (target ≤ 1/${COALESCE_RATIO})`,
  );
  return checks.outcome(
    `${s.infos} INFOs × ${s.infos ? s.urls / s.infos : 0} urls, ${s.errs} -ERRs, ${s.pings} PINGs, ${s.endlessLines} endless lines ` +
      `(${mib(s.bytes)} MiB): longest timer gap ${Math.round(gap.longestMs)} ms, peak RSS +${mib(memory.rss - rssBefore)} MiB, ` +
      `${eventCalls} eventCallback calls in ${deliveries} deliveries for ${occurrences} occurrences`,
    {
      sent: { ...s, phases: undefined },
      occurrences,
      eventCallbackCalls: eventCalls,
      eventsByType: calls,
      deliveries,
      longestGapMs: Math.round(gap.longestMs * 10) / 10,
      longestGapDuring: longestIn,
      longestGapActiveMs: Math.round(gap.longestActiveMs * 10) / 10,
      ticks: gap.ticks,
      rssBeforeMiB: mib(rssBefore),
      peakRssMiB: mib(memory.rss),
      heapBeforeMiB: mib(heapBefore),
      peakHeapMiB: mib(memory.heapUsed),
      heapAfterMiB: mib(heapAfter),
      serverPool: pool,
      phasesMs: durations(s.phases),
      error: error ?? null,
    },
  );
}

/** The next IPC message of `child` that has `key`; rejects if the child exits first. */
function message<T>(child: ChildProcess, key: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown) => {
      if (m && typeof m === 'object' && key in m) {
        child.off('message', onMessage);
        resolve(m as T);
      }
    };
    child.on('message', onMessage);
    void once(child, 'exit').then(([code]) =>
      reject(new Error(`the hostile peer exited (${code})`)),
    );
  });
}

/** The phase (by the peer's epoch timestamps) that `at` (epoch ms) fell in. */
function phaseAt(phases: HostileReport['phases'], at: number): string {
  let name = 'the connect';
  for (const p of phases) if (p.at <= at) name = p.name;
  return name;
}

function durations(phases: HostileReport['phases']): Record<string, number> {
  const out: Record<string, number> = {};
  phases.forEach((p, i) => {
    if (i + 1 < phases.length) out[p.name] = Math.round(phases[i + 1].at - p.at);
  });
  return out;
}
