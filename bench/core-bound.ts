/**
 * The core-bound model the CPU rows are read with: a pipeline of busy threads on C cores
 * carries at most C / (CPU per message summed over every thread of every process) messages per
 * second, and never more than its heaviest thread alone can (1 / its CPU per message).
 */

/** CPU µs per message (or request) of each part of a measurement, as cpu-window.ts reports it. */
export interface PartCosts {
  main: number;
  worker: number;
  /** V8's GC and compiler threads: spread over several threads, never the one bottleneck. */
  helpers: number;
  server: number;
  peer: number;
}

export function totalCost(parts: PartCosts): number {
  return parts.main + parts.worker + parts.helpers + parts.server + parts.peer;
}

/** Messages per second `cores` cores can carry at these costs. */
export function predictedRate(parts: PartCosts, cores: number): number {
  const heaviest = Math.max(parts.main, parts.worker, parts.server, parts.peer);
  return Math.min(cores / totalCost(parts), 1 / heaviest) * 1e6;
}
