/**
 * CPU per message over one measurement window, split by thread and by process: the client's
 * main thread, its connection worker (nats-offload's; none for nats.js and raw), its other
 * threads (V8's GC and compiler), the nats-server, the peer process (publisher or responder),
 * their total, how many cores that kept busy, how busy the host's cores were with everyone's
 * work, and how long those threads waited for a core. On a host with fewer cores than busy
 * threads, throughput ≈ cores / total CPU per message: these rows are what that is read from.
 * Linux /proc only; elsewhere, and for a server the bench did not start (--url), NaN.
 */
import { hostBusyMs, type ThreadTime, threadTimes } from './proc-cpu.js';
import type { Metric, Metrics } from './scenarios/types.js';

/** What the measurement process knows about where the CPU of a measurement goes. */
export interface CpuSources {
  /** The bench's own nats-server; undefined with --url. */
  serverPid?: number;
  /** Threads of this process born while the client connected: nats-offload's worker. */
  workerTids: ReadonlySet<number>;
}

type Reading = Map<number, ThreadTime> | undefined;

const LINUX = process.platform === 'linux';

/** Every metric a window reports, per message or per request; `peer` only where there is one. */
export function cpuMetrics(unit: 'msg' | 'req', peer: boolean): Metric[] {
  const perUnit = (key: string, label: string): Metric => ({
    key,
    label: `${label} CPU µs/${unit}`,
    better: 'lower',
  });
  return [
    perUnit('mainUsPerMsg', 'main'),
    perUnit('workerUsPerMsg', 'worker'),
    perUnit('helpersUsPerMsg', 'other threads'),
    perUnit('allUsPerMsg', 'all threads'),
    perUnit('serverUsPerMsg', 'nats-server'),
    ...(peer ? [perUnit('peerUsPerMsg', 'peer')] : []),
    perUnit('totalUsPerMsg', 'total'),
    { key: 'coresBusy', label: 'cores busy', better: 'lower' },
    { key: 'hostCoresBusy', label: 'host cores busy', better: 'lower' },
    { key: 'waitUsPerMsg', label: `core wait µs/${unit}`, better: 'lower' },
    { key: 'mainWaitUsPerMsg', label: `main core wait µs/${unit}`, better: 'lower' },
  ];
}

export class CpuWindow {
  private readonly started = performance.now();
  private readonly host = LINUX ? hostBusyMs() : 0;
  private readonly own: Reading;
  private readonly server: Reading;
  private readonly peers: Reading[];

  /** Starts counting now; `peerPids` are the peer processes of this measurement. */
  constructor(
    private readonly sources: CpuSources,
    private readonly peerPids: readonly number[] = [],
  ) {
    this.own = read(process.pid);
    this.server = read(sources.serverPid);
    this.peers = peerPids.map(read);
  }

  /** The figures since the start, per `units` messages (or requests) handled in the window. */
  close(units: number): Metrics {
    if (!LINUX) return Object.fromEntries(METRIC_KEYS.map((key) => [key, Number.NaN]));
    const wallMs = performance.now() - this.started;
    const host = hostBusyMs() - this.host;
    const own = since(this.own, read(process.pid));
    const main = own.get(process.pid) ?? UNKNOWN;
    const isWorker = ([tid]: [number, ThreadTime]) => this.sources.workerTids.has(tid);
    const worker = sum([...own].filter(isWorker));
    const helpers = sum([...own].filter((entry) => entry[0] !== process.pid && !isWorker(entry)));
    const all = add(add(main, worker), helpers);
    const server = sum([...since(this.server, read(this.sources.serverPid))]);
    const peers = this.peerPids.map((pid, i) => sum([...since(this.peers[i], read(pid))]));
    const peer = peers.reduce((a, b) => add(a, b), NO_TIME);
    const total = add(add(all, server), peer);
    const perUnit = (ms: number) => (ms * 1000) / units;
    return {
      mainUsPerMsg: perUnit(main.cpuMs),
      workerUsPerMsg: perUnit(worker.cpuMs),
      helpersUsPerMsg: perUnit(helpers.cpuMs),
      allUsPerMsg: perUnit(all.cpuMs),
      serverUsPerMsg: perUnit(server.cpuMs),
      peerUsPerMsg: perUnit(peer.cpuMs),
      totalUsPerMsg: perUnit(total.cpuMs),
      coresBusy: total.cpuMs / wallMs,
      hostCoresBusy: host / wallMs,
      waitUsPerMsg: perUnit(total.waitMs),
      mainWaitUsPerMsg: perUnit(main.waitMs),
    };
  }
}

const METRIC_KEYS = cpuMetrics('msg', true).map((m) => m.key);
const NO_TIME: ThreadTime = { cpuMs: 0, waitMs: 0 };
const UNKNOWN: ThreadTime = { cpuMs: Number.NaN, waitMs: Number.NaN };

/** A process that is not there (--url's server, or one that ended early) reads as unknown. */
function read(pid: number | undefined): Reading {
  if (!LINUX || pid === undefined) return undefined;
  try {
    return threadTimes(pid);
  } catch {
    return undefined;
  }
}

/** Each thread's time between two readings; a thread born since counts from 0. */
function since(before: Reading, after: Reading): Map<number, ThreadTime> {
  if (!before || !after) return new Map([[-1, UNKNOWN]]);
  const out = new Map<number, ThreadTime>();
  for (const [tid, time] of after) {
    const earlier = before.get(tid) ?? NO_TIME;
    out.set(tid, { cpuMs: time.cpuMs - earlier.cpuMs, waitMs: time.waitMs - earlier.waitMs });
  }
  return out;
}

function add(a: ThreadTime, b: ThreadTime): ThreadTime {
  return { cpuMs: a.cpuMs + b.cpuMs, waitMs: a.waitMs + b.waitMs };
}

function sum(entries: [number, ThreadTime][]): ThreadTime {
  return entries.reduce((total, [, time]) => add(total, time), NO_TIME);
}
