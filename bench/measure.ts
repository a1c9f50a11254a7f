/**
 * One measurement, in its own process so that no JIT state, heap or leftover handle of an
 * earlier one can colour it: `fork('dist/bench/measure.js', [JSON job])`. Reports to its
 * parent over IPC: the stage it is in, then the metrics or the error.
 *
 * After a result it does not call process.exit(): the parent checks that it ends on its own
 * once the client is closed (a client that keeps the process alive is itself a finding).
 */
import { type ClientName, connectClient } from './clients/types.js';
import { CpuWindow } from './cpu-window.js';
import { threadIds } from './proc-cpu.js';
import { SCENARIOS } from './scenarios/index.js';
import type { Metrics, Variant } from './scenarios/types.js';
import { SyscallWindow } from './syscall-window.js';

export interface Job {
  variant: Variant;
  client: ClientName;
  url: string;
  /** For a TLS variant: the CA file the client trusts (the URL stays `nats://`, for the peers). */
  ca?: string;
  /** Where the measured client connects when not `url` (a WebSocket variant's `ws://`). */
  clientUrl?: string;
  /** The bench's own nats-server, whose CPU time is read; none with --url. */
  serverPid?: number;
}

export type ChildMessage =
  | { type: 'stage'; stage: string }
  | { type: 'result'; metrics: Metrics }
  | { type: 'error'; error: string };

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) throw new Error('measure.js runs only as a child of the bench runner');
    process.send(message, () => resolve());
  });
}

const job = JSON.parse(process.argv[2]) as Job;
// The runner went away (interrupted or killed): nobody will read this measurement.
const orphaned = () => process.exit(1);
process.once('disconnect', orphaned);
const scenario = SCENARIOS.find((s) => s.name === job.variant.scenario);
try {
  if (!scenario) throw new Error(`unknown scenario ${job.variant.scenario}`);
  await send({ type: 'stage', stage: 'connecting' });
  const workerTids = new Set<number>();
  const metrics = await scenario.measure(job.variant, {
    url: job.url,
    client: job.client,
    async connect() {
      const before = process.platform === 'linux' ? threadIds(process.pid) : [];
      const client = await connectClient(job.client, job.clientUrl ?? job.url, job.ca);
      // A thread born while connecting is the client's own: nats-offload's connection worker.
      if (before.length) {
        for (const tid of threadIds(process.pid)) if (!before.includes(tid)) workerTids.add(tid);
      }
      return client;
    },
    cpuWindow: (peers = []) =>
      new CpuWindow(
        { serverPid: job.serverPid, workerTids },
        peers.map((p) => p.pid),
      ),
    syscallWindow: (peer) => new SyscallWindow([process.pid, job.serverPid, peer.pid]),
    stage: (stage) => void send({ type: 'stage', stage }),
  });
  await send({ type: 'result', metrics });
  process.off('disconnect', orphaned);
  process.disconnect();
} catch (error) {
  await send({ type: 'error', error: error instanceof Error ? error.message : String(error) });
  // Whatever failed may still hold the process open (a client, a timer): end it here.
  process.exit(1);
}
