/**
 * Spawns the connection worker and keeps its control plane honest: comlink never rejects a
 * call to a dead worker (it would hang forever), so every call here races the worker's exit.
 */
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import * as Comlink from '../shared/comlink.js';
import type { WorkerApi, WorkerData } from '../shared/control.js';
import { NatsError } from '../shared/errors.js';

/** How long shutdown waits for the worker to leave by itself before terminate(). */
const EXIT_TIMEOUT_MS = 3_000;

// The worker entry sits beside this module's folder in the built package (dist/src/worker).
const WORKER_URL = new URL('../worker/entry.js', import.meta.url);

/** What a client asks of its worker (a {@link WorkerHost}, or warm-up.ts's stand-in). */
export interface WorkerLink {
  /** Resolves with the reason once the worker has exited, however it exited. */
  readonly exited: Promise<NatsError>;
  /**
   * Run a control call; rejects with 'workerExited' instead of hanging if the worker is gone.
   *
   * @internal (comlink's types need the DOM lib: they stay out of the declarations)
   */
  call<T>(fn: (api: Comlink.Remote<WorkerApi>) => Promise<T>): Promise<T>;
  /** Kill the worker now (test hooks only: what a crash would do). */
  terminate(): Promise<number>;
  /** Close our end of the control port and wait (bounded) for the worker to exit by itself. */
  shutdown(): Promise<void>;
}

/** The data a worker starts with, less its control port (which the host makes). */
export type WorkerStart = Omit<WorkerData, 'control'>;

export class WorkerHost implements WorkerLink {
  /**
   * Strong reference to the wrap() result (comlink #692: a collected proxy drops replies).
   *
   * @internal
   */
  readonly api: Comlink.Remote<WorkerApi>;
  /** Resolves with the reason once the worker has exited, however it exited. */
  readonly exited: Promise<NatsError>;
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private hasExited = false;
  /**
   * How to reject each call in progress: the worker's exit rejects them. (Racing each call
   * with `exited` would leave a reaction on it per call until the worker exits: ~700 bytes
   * each, for the client's life.)
   */
  private readonly inProgress = new Set<(error: NatsError) => void>();

  constructor(data: WorkerStart) {
    const { port1, port2 } = new MessageChannel();
    this.worker = spawnWorker({ ...data, control: port2 }, port2);
    this.port = port1;
    let lastError: Error | undefined;
    this.worker.on('error', (err) => {
      lastError = err;
    });
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', (code) => {
        this.hasExited = true;
        const error = new NatsError(
          'workerExited',
          lastError
            ? `connection worker failed: ${lastError.message}`
            : `connection worker exited (code ${code})`,
          lastError ? { cause: lastError } : undefined,
        );
        resolve(error);
        for (const reject of this.inProgress) reject(error);
        this.inProgress.clear();
      });
    });
    this.api = Comlink.wrap<WorkerApi>(port1 as unknown as Comlink.Endpoint);
  }

  /** @internal (see WorkerLink.call) */
  call<T>(fn: (api: Comlink.Remote<WorkerApi>) => Promise<T>): Promise<T> {
    if (this.hasExited) return this.exited.then((error) => Promise.reject(error));
    return new Promise<T>((resolve, reject) => {
      this.inProgress.add(reject);
      const settled = (): void => {
        this.inProgress.delete(reject);
      };
      fn(this.api).then(
        (value) => {
          settled();
          resolve(value);
        },
        (error: unknown) => {
          settled();
          reject(error);
        },
      );
    });
  }

  /** Kill the worker now (test hooks only: what a crash would do). */
  terminate(): Promise<number> {
    return this.worker.terminate();
  }

  /** Close our end of the control port and wait (bounded) for the worker to exit by itself. */
  async shutdown(): Promise<void> {
    this.api[Comlink.releaseProxy]();
    this.port.close();
    if (this.hasExited) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), EXIT_TIMEOUT_MS);
    });
    const late = await Promise.race([this.exited.then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) await this.worker.terminate();
  }
}

/**
 * Starts the worker with the process's Node flags where it can take them. Inherited flags are
 * all accepted (V8 and process-wide ones such as --max-old-space-size included); flags given
 * explicitly are refused when they are V8 or process-wide ones. So the worker inherits unless
 * the main script's own flags (`-e`, `--input-type`) must go; then it gets the rest explicitly,
 * less those a worker refuses.
 */
function spawnWorker(workerData: WorkerData, port: MessagePort): Worker {
  const options = { workerData, transferList: [port] };
  const execArgv = withoutScriptFlags(process.execArgv);
  if (execArgv === undefined) return new Worker(WORKER_URL, options);
  try {
    return new Worker(WORKER_URL, { ...options, execArgv });
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
    // Node names the refused flags only in its message ("…flags: --a, --b"): keep the rest
    // (--import, --require, --conditions, …), or start with none if that fails too.
    const refused = new Set(
      String((error as Error).message)
        .split(': ')[1]
        ?.split(', '),
    );
    try {
      return new Worker(WORKER_URL, {
        ...options,
        execArgv: execArgv.filter((flag) => !refused.has(flag)),
      });
    } catch {
      return new Worker(WORKER_URL, { ...options, execArgv: [] });
    }
  }
}

/**
 * The process's flags minus those that belong to the main script only (`-e <code>`,
 * `--input-type`: inherited, they stop a worker from starting); undefined when there are none.
 */
function withoutScriptFlags(argv: readonly string[]): string[] | undefined {
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (/^(-e|-p|--eval|--print)$/.test(arg))
      i++; // and its code argument
    else if (!/^--(input-type|eval|print)(=|$)/.test(arg)) kept.push(arg);
  }
  return kept.length === argv.length ? undefined : kept;
}
