/** Pieces several end-to-end scenarios share. */
import { type BenchClient, CLIENTS } from '../clients/types.js';
import { type Peer, startPeer } from '../peers/launch.js';
import { countFor, type Metric, type Metrics, type PlanOptions, type Variant } from './types.js';

/** Message size when the command line gives none: the size the targets are set at. */
export const DEFAULT_SIZE = 128;

export const MSGS_PER_SEC: Metric = { key: 'msgsPerSec', label: 'msgs/s', better: 'higher' };
export const MB_PER_SEC: Metric = { key: 'mbPerSec', label: 'MB/s', better: 'higher' };

const MAX_COUNT = 1_000_000;
/**
 * Bytes per measurement for large messages: nats.js queues whatever a publishing loop hands it
 * in memory (it has no back-pressure signal), and a flood must end in seconds, so the default
 * count shrinks as the size grows (1 M up to 512 B, 32 Ki messages at 16 KiB).
 */
const MAX_BYTES = 512 * 1024 * 1024;

/** Default messages per measurement for messages of `size` bytes. */
export function messageCount(size: number): number {
  return Math.min(MAX_COUNT, Math.floor(MAX_BYTES / size));
}

/** A receiver that sees nothing new for this long has stalled: fail rather than hang. */
const STALL_MS = 10_000;

export function payloadOf(size: number): Uint8Array {
  return new Uint8Array(size).fill(0x61);
}

export function sizeLabel(size: number): string {
  const MiB = 1024 * 1024;
  if (size >= MiB && size % MiB === 0) return `${size / MiB} MiB`;
  return size >= 1024 && size % 1024 === 0 ? `${size / 1024} KiB` : `${size} B`;
}

export function throughput(count: number, size: number, ms: number): Metrics {
  const perSecond = count / (ms / 1000);
  return { msgsPerSec: perSecond, mbPerSec: (perSecond * size) / 1e6 };
}

/** Publishes `count` messages, pausing whenever the client asks for it (nats-offload). */
export async function publishAll(
  client: BenchClient,
  subject: string,
  payload: Uint8Array,
  count: number,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    if (!client.publish(subject, payload)) await client.writable();
  }
}

/**
 * Counts messages up to `target`: `done` resolves at the last one, and rejects when the
 * messages stop coming (STALL_MS) or carry other than `size` bytes each.
 */
export class Receiver {
  received = 0;
  bytes = 0;
  /** performance.now() of the first and the last message. */
  first = 0;
  last = 0;
  readonly done: Promise<void>;
  private finish!: () => void;
  private fail!: (error: Error) => void;
  private readonly watchdog: NodeJS.Timeout;

  constructor(
    private readonly target: number,
    private readonly size: number,
  ) {
    this.done = new Promise<void>((resolve, reject) => {
      this.finish = resolve;
      this.fail = reject;
    });
    let seen = -1;
    this.watchdog = setInterval(() => {
      if (this.received === seen) {
        this.fail(
          new Error(
            `stalled: ${this.received} of ${target} messages after ${STALL_MS} ms without one`,
          ),
        );
      }
      seen = this.received;
    }, STALL_MS);
    this.done.then(this.stop, this.stop);
  }

  /** Ends the watchdog; done by itself once `done` settles. */
  readonly stop = (): void => clearInterval(this.watchdog);

  readonly onMessage = (size: number): void => {
    this.bytes += size;
    if (this.received++ === 0) this.first = performance.now();
    if (this.received === this.target) {
      this.last = performance.now();
      if (this.bytes === this.target * this.size) this.finish();
      else
        this.fail(new Error(`received ${this.bytes} bytes, expected ${this.target * this.size}`));
    }
  };
}

/** Resolves with `work`, or rejects with the first failure of the client or a peer. */
export function guarded<T>(work: Promise<T>, ...failures: Promise<never>[]): Promise<T> {
  return Promise.race([work, ...failures]);
}

/** How long a publisher process may take to start and deliver its first message. */
const FIRST_MESSAGE_MS = 10_000;

/** Counts the messages of a steady stream; `first` resolves at the first one. */
export class Tally {
  count = 0;
  readonly first: Promise<void>;
  private arrived!: () => void;

  constructor() {
    this.first = new Promise<void>((resolve) => {
      this.arrived = resolve;
    });
  }

  readonly onMessage = (): void => {
    if (++this.count === 1) this.arrived();
  };
}

/**
 * Starts a publisher process that sends `rate` messages per second of `size` bytes to
 * `subject` (the client has subscribed, counting into `tally`) and resolves once the first has
 * arrived. The stream then lasts at least `ms`, however long the process took to start (a
 * loaded host can take seconds); stop it when done with it.
 */
export async function startStream(
  client: BenchClient,
  tally: Tally,
  stream: { url: string; subject: string; size: number; rate: number; ms: number },
): Promise<Peer> {
  const { url, subject, size, rate, ms } = stream;
  const count = Math.ceil((rate * (FIRST_MESSAGE_MS + ms)) / 1000);
  const publisher = await startPeer('flood', [url, subject, count, size, rate], true);
  publisher.go();
  try {
    await guarded(tally.first, client.failed, publisher.failed, noFirstMessage());
  } catch (error) {
    await publisher.stop();
    throw error;
  }
  return publisher;
}

/** Rejects after FIRST_MESSAGE_MS (the timer does not keep the process alive). */
function noFirstMessage(): Promise<never> {
  return new Promise((_, reject) => {
    setTimeout(
      () => reject(new Error(`no message within ${FIRST_MESSAGE_MS} ms of starting the publisher`)),
      FIRST_MESSAGE_MS,
    ).unref();
  });
}

/**
 * A short burst, next to the long run: users' bursts are often 100k–300k messages, where the
 * JIT warm-up of two threads shows.
 */
export const SHORT_BURST = 300_000;

/**
 * The variants of a receiving scenario (`sub`, `pubsub`): N messages of the chosen size, and a
 * short burst of {@link SHORT_BURST} when N is larger and the command line gave no count.
 */
export function receiveVariants(
  name: 'sub' | 'pubsub',
  options: PlanOptions,
  extraMetrics: Metric[] = [],
): Variant[] {
  const size = options.size ?? DEFAULT_SIZE;
  const long = messageCount(size);
  const base = {
    scenario: name,
    clients: CLIENTS,
    needsServer: true,
    metrics: [MSGS_PER_SEC, MB_PER_SEC, ...extraMetrics],
    timeoutMs: 120_000,
  };
  const variants: Variant[] = [
    {
      ...base,
      id: name,
      label: `${name} ${sizeLabel(size)}`,
      params: { size, count: countFor(options, long) },
    },
  ];
  if (options.count === undefined && long > SHORT_BURST) {
    variants.push({
      ...base,
      id: `${name}-short`,
      label: `${name} ${sizeLabel(size)}, ${SHORT_BURST / 1000}k burst`,
      params: { size, count: countFor(options, SHORT_BURST) },
    });
  }
  return variants;
}
