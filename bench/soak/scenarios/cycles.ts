/**
 * Figure 5: 1,000 connect/close cycles against one nats-server (each: connect, subscribe,
 * publish, flush, close). Afterwards the process's open file descriptors and OS threads must
 * be back at their baseline and the heap (after a full GC) within 2 MiB of it: each cycle
 * spawns a worker thread, a socket and SharedArrayBuffers, and must give all of them back.
 * The baseline is taken after a warm-up, once modules, the libuv pool and JIT code exist.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from '../../../src/main/index.js';
import { startServer } from '../../../test/helpers/nats-server.js';
import { Checks, type Outcome, type RunOptions, type Scenario } from '../figure.js';
import { collect, MiB, mib, openFds, threads } from '../process-stats.js';

const CYCLES = 1_000;
const QUICK_CYCLES = 10;
const WARM_UP = 20;
const QUICK_WARM_UP = 3;
const SAMPLES = 10;
const HEAP_TOLERANCE = 2 * MiB;
/** Threads of exited workers may take a moment to be joined: wait this long for the count. */
const SETTLE_MS = 5_000;

interface Snapshot {
  cycle: number;
  fds: number;
  threads: number;
  heapKiB: number;
  rssMiB: number;
}

export const cycles: Scenario = {
  name: 'cycles',
  figure:
    '1,000 connect/close cycles: open file descriptors and threads back to baseline, heap within 2 MiB of it after a GC',
  async run({ quick }: RunOptions): Promise<Outcome> {
    const count = quick ? QUICK_CYCLES : CYCLES;
    const server = await startServer();
    const cycle = async (i: number) => {
      const client = await connect(server.url);
      client.subscribe(`soak.cycle.${i}`, { callback: () => {} });
      client.publish(`soak.cycle.${i}`, 'x');
      await client.flush();
      await client.close();
    };
    const warmUp = quick ? QUICK_WARM_UP : WARM_UP;
    for (let i = 0; i < warmUp; i++) await cycle(i);
    const baseline = await snapshot(0);
    const samples: Snapshot[] = [baseline];
    const started = performance.now();
    for (let i = 1; i <= count; i++) {
      await cycle(i);
      if (i % Math.ceil(count / SAMPLES) === 0 && i < count) samples.push(await snapshot(i));
    }
    const seconds = (performance.now() - started) / 1000;
    // Exited workers' threads are joined asynchronously: give them a moment, then measure.
    const settleBy = performance.now() + SETTLE_MS;
    while (threads() > baseline.threads && performance.now() < settleBy) await sleep(50);
    const after = await snapshot(count);
    samples.push(after);
    await server.stop();

    const checks = new Checks();
    checks.expect(
      'fds',
      after.fds <= baseline.fds,
      `fds ${baseline.fds} → ${after.fds} (target ≤ baseline)`,
    );
    checks.expect(
      'threads',
      after.threads <= baseline.threads,
      `threads ${baseline.threads} → ${after.threads} (target ≤ baseline)`,
    );
    checks.expect(
      'heap',
      after.heapKiB <= baseline.heapKiB + HEAP_TOLERANCE / 1024,
      `heap ${baseline.heapKiB} → ${after.heapKiB} KiB after GC (target ≤ baseline + ${mib(HEAP_TOLERANCE)} MiB)`,
    );
    return checks.outcome(
      `${count} cycles (${Math.round(count / seconds)}/s): fds ${baseline.fds} → ${after.fds}, threads ` +
        `${baseline.threads} → ${after.threads}, heap ${baseline.heapKiB} → ${after.heapKiB} KiB, ` +
        `rss ${baseline.rssMiB} → ${after.rssMiB} MiB`,
      { cycles: count, warmUp, baseline, after, samples, seconds: Math.round(seconds * 10) / 10 },
    );
  },
};

async function snapshot(cycle: number): Promise<Snapshot> {
  await collect();
  return {
    cycle,
    fds: openFds(),
    threads: threads(),
    heapKiB: Math.round(process.memoryUsage().heapUsed / 1024),
    rssMiB: mib(process.memoryUsage.rss()),
  };
}
