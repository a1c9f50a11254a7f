/**
 * What a scenario reads about its own process: open file descriptors and threads (Linux
 * /proc), memory, a full garbage collection (the soak runs with --expose-gc), and how long
 * the event loop went without ticking.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export const MiB = 1024 * 1024;

/** Open file descriptors of this process (the readdir's own descriptor is not among them). */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length - 1;
}

/** OS threads of this process: main, libuv pool, V8 helpers, and one per live Worker. */
export function threads(): number {
  const match = /^Threads:\s+(\d+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (!match) throw new Error('no Threads: line in /proc/self/status');
  return Number(match[1]);
}

/**
 * Full collections until the heap stops shrinking, with turns of the event loop between them
 * (finalizers, closed handles and weak references are released across turns).
 */
export async function collect(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run node with --expose-gc (npm run soak does)');
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 10; i++) {
    gc();
    await sleep(10);
    const used = process.memoryUsage().heapUsed;
    if (used >= last - 64 * 1024) return;
    last = used;
  }
}

/** Highest RSS and main-thread heap seen between start() and stop(), sampled every `ms`. */
export class MemoryPeak {
  rss = 0;
  heapUsed = 0;
  private timer: NodeJS.Timeout | undefined;

  start(ms = 20): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), ms);
    return this;
  }

  /** Takes a sample now: for loops that do not yield to the timer. */
  sample(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.rss) this.rss = rss;
    const { heapUsed } = process.memoryUsage();
    if (heapUsed > this.heapUsed) this.heapUsed = heapUsed;
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }
}

/**
 * The longest gap between ticks of a 1 ms interval timer: how long the event loop was kept
 * from running (an undici-style event-loop-blocker probe). `longestActiveMs` says how much of
 * that gap the loop spent running callbacks (event-loop utilization): about all of it means
 * work on this thread held it; little means it waited (the OS did not schedule it, or the
 * timer was late), not that this thread was busy.
 */
export class LoopGap {
  longestMs = 0;
  longestActiveMs = 0;
  /** Epoch ms (performance.timeOrigin based) at which the longest gap ended. */
  longestAt = 0;
  ticks = 0;
  private last = 0;
  private lastElu = performance.eventLoopUtilization();
  private timer: NodeJS.Timeout | undefined;

  start(): this {
    this.last = performance.now();
    this.lastElu = performance.eventLoopUtilization();
    this.timer = setInterval(() => {
      const now = performance.now();
      const elu = performance.eventLoopUtilization();
      if (now - this.last > this.longestMs) {
        this.longestMs = now - this.last;
        this.longestActiveMs = performance.eventLoopUtilization(elu, this.lastElu).active;
        this.longestAt = performance.timeOrigin + now;
      }
      this.last = now;
      this.lastElu = elu;
      this.ticks++;
    }, 1);
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

export function mib(bytes: number): number {
  return Math.round((bytes / MiB) * 10) / 10;
}
