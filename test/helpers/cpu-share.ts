// Whether work stays off this thread, measured in CPU time rather than against a wall clock (a
// loaded host stretches wall time at random, CPU time hardly): this thread's share of the
// process's CPU time while something happens. The connection worker's work counts only in the
// process's total; a client that does the work on this thread, or busies it, raises the share.

import { readFileSync } from 'node:fs';

/** CPU time this thread has run, in µs (Linux: /proc/thread-self/schedstat gives ns). */
function threadCpuMicros(): number {
  return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1_000;
}

function processCpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** This thread's share (0..1) of the process's CPU time while `work` runs. */
export async function thisThreadsCpuShare(work: () => Promise<void>): Promise<number> {
  const thread = threadCpuMicros();
  const total = processCpuMicros();
  await work();
  return (threadCpuMicros() - thread) / Math.max(1, processCpuMicros() - total);
}
