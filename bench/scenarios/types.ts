/**
 * What a scenario is: a list of variants (one line of the results per metric) and the code
 * that measures one variant once, for one client, inside a fresh measurement process.
 */
import type { BenchClient, ClientName } from '../clients/types.js';
import type { CpuWindow } from '../cpu-window.js';
import type { Peer } from '../peers/launch.js';
import type { SyscallWindow } from '../syscall-window.js';

export interface Metric {
  key: string;
  /** Column text, unit included: 'msgs/s', 'p50 ms'. */
  label: string;
  /** Which way is better; the ratio nats-offload / nats.js is read against it. */
  better: 'higher' | 'lower';
  /** A yes/no per sample (1 or 0), e.g. "every message arrived": counted over the reps, not a median. */
  flag?: boolean;
}

export type Metrics = Record<string, number>;

/** What the command line chose; each scenario turns it into its variants. */
export interface PlanOptions {
  /** Message size for every scenario that sends messages (pub then runs that size only). */
  size?: number;
  /**
   * Messages (or requests) per measurement, replacing every scenario's default (reqrep's
   * 16 MiB round trips take at most their default).
   */
  count?: number;
  /** The short run of `npm run demo`: default counts and windows divided by {@link QUICK}. */
  quick: boolean;
}

/** Divisor of counts and time windows in a quick run. */
export const QUICK = 4;

export interface Variant {
  /** Unique across scenarios: 'pub-128', 'reqrep-seq'. */
  id: string;
  scenario: string;
  /** Shown in the table: 'pub 128 B'. */
  label: string;
  clients: readonly ClientName[];
  /** False for in-process micro benchmarks: no nats-server is started for them. */
  needsServer: boolean;
  /**
   * Over TLS: the server serves the run's certificates (and still takes the plain peers), the
   * client connects over TLS trusting the run's CA. Needs the bench's own server, not `--url`.
   */
  tls?: boolean;
  /** The bench's own server runs with JetStream on (a temp store dir). */
  jetstream?: boolean;
  /**
   * Over WebSocket: the server also listens for WebSocket clients and the measured client
   * connects there (`ws://`); the peers stay on TCP. Needs the bench's own server, not `--url`.
   */
  ws?: boolean;
  /** Extra nats-server config text for this variant's server (e.g. a larger `max_payload`). */
  serverConfig?: string;
  /** Everything the measurement needs; plain numbers, as they cross a process boundary. */
  params: Record<string, number>;
  /** The first metric is the headline, shown on the progress line. */
  metrics: readonly Metric[];
  /** The measurement process is killed (a failed sample) after this long. */
  timeoutMs: number;
}

export interface MeasureContext {
  url: string;
  client: ClientName;
  connect(): Promise<BenchClient>;
  /** Starts counting CPU (after connect()): this process, the server and these peers. */
  cpuWindow(peers?: readonly Peer[]): CpuWindow;
  /** Starts counting read and write calls: this process, the server and `peer`. */
  syscallWindow(peer: Peer): SyscallWindow;
  /** Names the step under way; a measurement killed by its timeout reports the last one. */
  stage(name: string): void;
}

export interface Scenario {
  name: string;
  /** One line for `--help` and the README. */
  summary: string;
  variants(options: PlanOptions): Variant[];
  measure(variant: Variant, ctx: MeasureContext): Promise<Metrics>;
}

/** `value` unless the command line gave a count; divided by {@link QUICK} in a quick run. */
export function countFor(options: PlanOptions, value: number): number {
  if (options.count !== undefined) return options.count;
  return options.quick ? Math.max(1, Math.round(value / QUICK)) : value;
}
