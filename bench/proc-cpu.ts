/**
 * CPU time per thread from /proc/<pid>/task/<tid>/stat (Linux only): what a thread spent,
 * whichever thread it was, which process.cpuUsage() (the whole process) cannot say.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Kernel clock ticks per second in /proc/<pid>/task/<tid>/stat (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU milliseconds (user + system) of every thread of `pid`, by thread id. */
export function threadCpu(pid: number): Map<number, number> {
  const cpu = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat (utime, stime), counted from after the command name.
    const ticks = Number(fields[11]) + Number(fields[12]);
    cpu.set(Number(tid), (ticks * 1000) / TICKS_PER_SECOND);
  }
  return cpu;
}

/** Milliseconds each thread spent between two readings (threads born since count from 0). */
export function spent(
  before: Map<number, number>,
  after: Map<number, number>,
): Map<number, number> {
  const out = new Map<number, number>();
  for (const [tid, ms] of after) out.set(tid, ms - (before.get(tid) ?? 0));
  return out;
}

/** CPU milliseconds of this process since `before`: its main thread and all its threads. */
export function ownCpuSince(before: Map<number, number>): { mainMs: number; allMs: number } {
  const byThread = spent(before, threadCpu(process.pid));
  let allMs = 0;
  for (const ms of byThread.values()) allMs += ms;
  return { mainMs: byThread.get(process.pid) ?? 0, allMs };
}
