/**
 * CPU time per thread from /proc (Linux only): what a thread spent, whichever thread it was,
 * which process, which process.cpuUsage() (the whole process) cannot say. Nanosecond figures
 * from /proc/<pid>/task/<tid>/schedstat where the kernel keeps them, else 10 ms ticks from stat.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/** Kernel clock ticks per second in /proc stat files (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;
const MS_PER_TICK = 1000 / TICKS_PER_SECOND;

/** What one thread has spent since it started, in milliseconds. */
export interface ThreadTime {
  /** On a core (user + system). */
  cpuMs: number;
  /** Runnable but waiting for a core (NaN where the kernel keeps no schedstat). */
  waitMs: number;
}

const SCHEDSTAT = existsSync(`/proc/${process.pid}/task/${process.pid}/schedstat`);

/** Ids of the threads `pid` has now. */
export function threadIds(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map(Number);
}

/** Times of every thread of `pid`, by thread id; a thread that ends while read is left out. */
export function threadTimes(pid: number): Map<number, ThreadTime> {
  const times = new Map<number, ThreadTime>();
  for (const tid of threadIds(pid)) {
    try {
      times.set(tid, SCHEDSTAT ? fromSchedstat(pid, tid) : fromStat(pid, tid));
    } catch {
      // ended between the listing and the read: it has no more CPU to count
    }
  }
  return times;
}

/** `<ns on cpu> <ns waiting on a run queue> <timeslices>` */
function fromSchedstat(pid: number, tid: number): ThreadTime {
  const [cpuNs, waitNs] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ');
  return { cpuMs: Number(cpuNs) / 1e6, waitMs: Number(waitNs) / 1e6 };
}

function fromStat(pid: number, tid: number): ThreadTime {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat (utime, stime), counted from after the command name.
  return { cpuMs: (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK, waitMs: Number.NaN };
}

/** CPU milliseconds of every thread of `pid`, by thread id. */
export function threadCpu(pid: number): Map<number, number> {
  return new Map([...threadTimes(pid)].map(([tid, time]) => [tid, time.cpuMs]));
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

/**
 * CPU milliseconds all cores of the host have spent busy (anything but idle and I/O wait), by
 * any process: /proc/stat, in 10 ms ticks per core.
 */
export function hostBusyMs(): number {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  // user nice system idle iowait irq softirq steal (guest time is already inside user)
  const [user, nice, system, , , irq, softirq] = fields.map(Number);
  return (user + nice + system + irq + softirq) * MS_PER_TICK;
}
