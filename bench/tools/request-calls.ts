/**
 * Requests in flight, thread by thread: `count` 128 B requests (`--in-flight N` outstanding,
 * default 100) to the bench's raw-socket responder through a fresh local nats-server, and per
 * request, for each thread of this process (main, nats-offload's worker, the rest) and for the
 * server and the responder: read calls, write calls, voluntary context switches (wake-ups) and
 * CPU µs (of which in the kernel: in 10 ms clock ticks, so read it over ≥ 100k requests), from
 * /proc (Linux only) around the run, after a warm-up of a tenth. The reqrep bench
 * gives the same per process; this splits the client by thread, where the main thread's calls
 * are its eventfd wake-ups of the worker and the worker's are its socket's plus those.
 * `--rounds R` measures R runs of `count` one after the other in the same process, each printed
 * on its own: how the costs settle as V8 finishes compiling (the bench's reqrep window is the
 * first 50k requests after 5k). `--warm-client N`: another client of the same kind first makes N
 * requests and closes, so the measured client meets this thread's code compiled (a warm
 * process, a new client).
 *
 *   node dist/bench/tools/request-calls.js <nats-offload|raw> [count] [--in-flight N] [--rounds R]
 *     [--warm-client N]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { connectClient } from '../clients/types.js';
import { startPeer } from '../peers/launch.js';
import { concurrent, SUBJECT } from '../scenarios/reqrep.js';
import { startServer } from '../support/nats-server.js';
import { takeNumber } from './tool-args.js';

interface Counts {
  reads: number;
  writes: number;
  wakes: number;
  cpuUs: number;
  kernelUs: number;
}

const args = process.argv.slice(2);
const inFlight = takeNumber(args, '--in-flight', 100);
const rounds = takeNumber(args, '--rounds', 1);
const warmClient = takeNumber(args, '--warm-client', 0);
const [which, countText = '100000'] = args;
const count = Number(countText);
if (
  (which !== 'nats-offload' && which !== 'raw') ||
  !(count > 0) ||
  !(inFlight > 0) ||
  !Number.isInteger(rounds) ||
  rounds < 1 ||
  !Number.isInteger(warmClient) ||
  warmClient < 0
) {
  throw new Error(
    'usage: request-calls.js <nats-offload|raw> [count] [--in-flight N] [--rounds R] [--warm-client N]',
  );
}

const payload = new Uint8Array(128);
const server = await startServer();
const responder = await startPeer('responder', [server.url, SUBJECT], true);
if (warmClient > 0) {
  const first = await connectClient(which, server.url);
  await concurrent(first, payload, warmClient, inFlight);
  await first.close();
}
const before = new Set(threads(process.pid));
const client = await connectClient(which, server.url);
const worker = threads(process.pid).filter((tid) => !before.has(tid));

await concurrent(client, payload, Math.ceil(count / 10), inFlight);
const pids = { client: process.pid, server: server.pid, responder: responder.pid };
const per = (c: Counts) =>
  `reads ${(c.reads / count).toFixed(4)} writes ${(c.writes / count).toFixed(4)} ` +
  `wakes ${(c.wakes / count).toFixed(4)} cpu µs ${(c.cpuUs / count).toFixed(2)} ` +
  `(kernel ${(c.kernelUs / count).toFixed(2)})`;
for (let round = 1; round <= rounds; round++) {
  const start = new Map(Object.values(pids).map((pid) => [pid, read(pid)]));
  const t0 = performance.now();
  await concurrent(client, payload, count, inFlight);
  const rate = ((count / (performance.now() - t0)) * 1000).toFixed(0);
  const title = rounds > 1 ? `${which} round ${round}/${rounds}` : which;
  console.log(`${title}: ${count} requests, ${inFlight} in flight, ${rate} req/s`);
  for (const [name, pid] of Object.entries(pids)) {
    const spent = since(start.get(pid) as Map<number, Counts>, read(pid));
    console.log(`  ${name.padEnd(9)} ${per(sum([...spent.values()]))}`);
    if (pid !== process.pid) continue;
    const isWorker = (tid: number) => worker.includes(tid);
    console.log(`    main    ${per(spent.get(pid) ?? sum([]))}`);
    if (worker.length > 0) {
      console.log(
        `    worker  ${per(sum([...spent].filter(([t]) => isWorker(t)).map(([, c]) => c)))}`,
      );
    }
    const rest = [...spent].filter(([t]) => t !== pid && !isWorker(t)).map(([, c]) => c);
    console.log(`    others  ${per(sum(rest))}`);
  }
}
await client.close();
await responder.stop();
await server.stop();

function threads(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map(Number);
}

/** Each thread's counts so far; a thread that ends while read is left out. */
function read(pid: number): Map<number, Counts> {
  const out = new Map<number, Counts>();
  for (const tid of threads(pid)) {
    try {
      const dir = `/proc/${pid}/task/${tid}`;
      const io = readFileSync(`${dir}/io`, 'utf8');
      const status = readFileSync(`${dir}/status`, 'utf8');
      const field = (text: string, name: string) =>
        Number(new RegExp(`^${name}:\\s+(\\d+)$`, 'm').exec(text)?.[1]);
      out.set(tid, {
        reads: field(io, 'syscr'),
        writes: field(io, 'syscw'),
        wakes: field(status, 'voluntary_ctxt_switches'),
        cpuUs: Number(readFileSync(`${dir}/schedstat`, 'utf8').split(' ')[0]) / 1000,
        kernelUs: kernelUs(readFileSync(`${dir}/stat`, 'utf8')),
      });
    } catch {
      // ended between the listing and the read
    }
  }
  return out;
}

function since(a: Map<number, Counts>, b: Map<number, Counts>): Map<number, Counts> {
  const out = new Map<number, Counts>();
  for (const [tid, x] of b) {
    const y = a.get(tid) ?? { reads: 0, writes: 0, wakes: 0, cpuUs: 0, kernelUs: 0 };
    out.set(tid, {
      reads: x.reads - y.reads,
      writes: x.writes - y.writes,
      wakes: x.wakes - y.wakes,
      cpuUs: x.cpuUs - y.cpuUs,
      kernelUs: x.kernelUs - y.kernelUs,
    });
  }
  return out;
}

function sum(list: Counts[]): Counts {
  return list.reduce(
    (t, c) => ({
      reads: t.reads + c.reads,
      writes: t.writes + c.writes,
      wakes: t.wakes + c.wakes,
      cpuUs: t.cpuUs + c.cpuUs,
      kernelUs: t.kernelUs + c.kernelUs,
    }),
    { reads: 0, writes: 0, wakes: 0, cpuUs: 0, kernelUs: 0 },
  );
}

/** A thread's CPU µs in the kernel so far: its stat line's stime (field 15), in 10 ms ticks. */
function kernelUs(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[12]) * 10_000;
}
