/**
 * Read and write system calls per message (or request) over one measurement window, for the
 * client's process (all its threads), the nats-server and the peer: how many messages each
 * socket read or write carries. Fewer messages per call cost every process on the path more
 * CPU per message (the server and the peer too, for the same traffic). The counts are the
 * kernel's per process (/proc/<pid>/io `syscr`, `syscw`): every read-like and write-like call,
 * socket or not — nats-offload's threads wake each other through an eventfd, one read and one
 * write per wake-up, and those are in its counts. Linux only; elsewhere, and for a server the
 * bench did not start (--url), NaN.
 */
import { readFileSync } from 'node:fs';
import type { Metric, Metrics } from './scenarios/types.js';

interface Calls {
  reads: number;
  writes: number;
}

const UNKNOWN: Calls = { reads: Number.NaN, writes: Number.NaN };

/** The metrics a window reports, per message or per request. */
export function syscallMetrics(unit: 'msg' | 'req'): Metric[] {
  const per = (key: string, label: string): Metric => ({
    key,
    label: `${label} calls/${unit}`,
    better: 'lower',
  });
  return [
    per('clientReadsPerMsg', 'client read'),
    per('clientWritesPerMsg', 'client write'),
    per('serverReadsPerMsg', 'nats-server read'),
    per('serverWritesPerMsg', 'nats-server write'),
    per('peerReadsPerMsg', 'peer read'),
    per('peerWritesPerMsg', 'peer write'),
  ];
}

export class SyscallWindow {
  private readonly before: Calls[];

  /** Starts counting now, for the processes `client`, `server` (if known) and `peer`. */
  constructor(private readonly pids: readonly [number, number | undefined, number]) {
    this.before = pids.map(read);
  }

  /** The calls since the start, per `units` messages (or requests) handled in the window. */
  close(units: number): Metrics {
    const [client, server, peer] = this.pids.map((pid, i) => {
      const now = read(pid);
      return {
        reads: now.reads - this.before[i].reads,
        writes: now.writes - this.before[i].writes,
      };
    });
    return {
      clientReadsPerMsg: client.reads / units,
      clientWritesPerMsg: client.writes / units,
      serverReadsPerMsg: server.reads / units,
      serverWritesPerMsg: server.writes / units,
      peerReadsPerMsg: peer.reads / units,
      peerWritesPerMsg: peer.writes / units,
    };
  }
}

function read(pid: number | undefined): Calls {
  if (process.platform !== 'linux' || pid === undefined) return UNKNOWN;
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1]);
    return { reads: field('syscr'), writes: field('syscw') };
  } catch {
    return UNKNOWN; // a process that has ended, or one this user may not read
  }
}
