/**
 * The connection loop's line to the caller's thread: the caller's callbacks (a comlink proxy),
 * the batched updates (host-updates.ts: events, INFO and pool, bounded), and the answer
 * start()'s caller waits for.
 */
import type { Remote } from '../shared/comlink.js';
import type { HostCallbacks, StartResult, WireEvent, WireServer } from '../shared/control.js';
import { HostUpdates } from './host-updates.js';

export class CallerLink {
  /** The caller's callbacks, once start() has them. */
  private host: Remote<HostCallbacks> | null = null;
  /** Events, INFO and pool for the caller's thread, batched and bounded. */
  readonly updates: HostUpdates;
  /** start()'s caller, until it has heard whether the client connected. */
  private startWaiter: ((result: StartResult) => void) | null = null;

  constructor(pool: () => WireServer[]) {
    this.updates = new HostUpdates((update) => {
      let taken: Promise<unknown> | undefined;
      this.call((host) => {
        taken = Promise.resolve(host.update(update));
        return taken;
      }, false);
      return taken;
    }, pool);
  }

  /** start(): the caller's callbacks; resolves with what {@link settleStart} is given first. */
  attach(host: Remote<HostCallbacks>): Promise<StartResult> {
    this.host = host;
    return new Promise<StartResult>((resolve) => {
      this.startWaiter = resolve;
    });
  }

  /** The caller's callbacks, once attached. */
  get callbacks(): Remote<HostCallbacks> | null {
    return this.host;
  }

  /** start()'s caller has not heard yet. */
  get starting(): boolean {
    return this.startWaiter !== null;
  }

  /** Answer start()'s caller, once (later answers are dropped). */
  settleStart(result: StartResult): void {
    const done = this.startWaiter;
    this.startWaiter = null;
    done?.(result);
  }

  emit(event: WireEvent): void {
    this.updates.event(event);
  }

  /**
   * Fire-and-forget a host callback; a main thread that went away must not crash the worker.
   * The batched updates go first (same port, so in order), unless this is their own post.
   */
  call(fn: (host: Remote<HostCallbacks>) => unknown, flushFirst = true): void {
    if (!this.host) return;
    if (flushFirst) this.updates.flush();
    try {
      Promise.resolve(fn(this.host)).catch(() => {});
    } catch {
      // the proxy was released: the client is closing
    }
  }
}
