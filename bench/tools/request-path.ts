/**
 * Single-thread cost of the caller's request path, without the other thread, a socket or a
 * server: Client.request → Publisher → command ring, and a reply frame in the delivery ring →
 * Dispatcher → request multiplexer → the request's promise, with the bench's own loop
 * (reqrep.ts `concurrent`: N requests in flight, each answered one makes the next). A stand-in
 * in the worker's place, on this thread, takes the command ring's PUB frames once per turn of
 * the event loop and answers each with a MSG frame on its reply subject carrying the request's
 * payload, framed by the worker's own frame writer: a wave of requests per turn, as the worker
 * delivers a socket read's replies at once.
 *
 * Prints, per build, the main thread's CPU ns per request less the stand-in's share (its time
 * measured apart), so the figure is what the caller's thread pays per request in the bench's
 * 100-in-flight row once its code is compiled. Each reply's payload is read as the bench's
 * client reads it (`Message.payload`, a copy the caller owns); `--length-only` reads only its
 * length (no copy): the difference is the owned payload's cost. Builds run in fresh processes,
 * interleaved round by round, so a shared host's phases spread over all of them.
 *
 *   node dist/bench/tools/request-path.js [--rounds 10] [--count 200000] [--in-flight 100]
 *     [--length-only] <dist>…
 *
 * A build is a `dist` directory; its client must take a worker factory (since `3438032`).
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { threadCpu } from '../proc-cpu.js';
import { concurrent } from '../scenarios/reqrep.js';
import { median } from '../stats.js';
import { takeFlag, takeNumber } from './tool-args.js';

const WARM_UP = 200_000;
const PAYLOAD_BYTES = 128;
const SPACE = 0x20;
const CR = 0x0d;

// biome-ignore lint/suspicious/noExplicitAny: modules of any build, whatever their types were
type Module = any;

/** `--name value` out of `args`, or `fallback`: a whole number. */
function option(args: string[], name: string, fallback: number): number {
  const value = takeNumber(args, name, fallback);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number`);
  return value;
}

/** In a fresh process: one build's ns per request, and the stand-in's. */
async function child(
  dist: string,
  count: number,
  inFlight: number,
  lengthOnly: boolean,
): Promise<void> {
  const load = (path: string): Promise<Module> =>
    import(pathToFileURL(resolve(dist, 'src', path)).href);
  const { Client } = await load('main/client.js');
  const { ConnectOptions } = await load('main/options.js');
  const { resolveServers } = await load('main/servers.js');
  const standIn = await StandIn.load(load);
  const client = new Client(
    resolveServers('127.0.0.1'),
    new ConnectOptions().resolve(),
    (data: unknown) => standIn.start(data),
  );
  client.parts.dispatcher.start();
  const payload = new Uint8Array(PAYLOAD_BYTES);
  // As the bench's client (clients/offload.ts): the reply's payload, copied out of the ring;
  // or the message itself, whose length the bench's check reads without a copy.
  const bench = {
    request: lengthOnly
      ? (subject: string, data: Uint8Array) => client.request(subject, data)
      : async (subject: string, data: Uint8Array) => (await client.request(subject, data)).payload,
  };
  const run = async (n: number): Promise<void> => {
    let done = false;
    const requests = concurrent(bench, payload, n, inFlight).finally(() => {
      done = true;
    });
    while (!done) {
      standIn.answer();
      await new Promise<void>((next) => setImmediate(next));
    }
    await requests;
  };
  const mainCpu = () => threadCpu(process.pid).get(process.pid) ?? 0;
  await run(WARM_UP);
  const before = mainCpu();
  standIn.spentMs = 0;
  await run(count);
  const totalNs = (mainCpu() - before) * 1e6;
  const standInNs = standIn.spentMs * 1e6;
  process.stdout.write(
    `${((totalNs - standInNs) / count).toFixed(1)} ${(standInNs / count).toFixed(1)}\n`,
  );
  process.exit(0);
}

/**
 * The worker's place: takes the command ring's frames (the multiplexer's SUB gives the sid of
 * its inbox) and answers each request's PUB with a MSG on its reply subject.
 */
class StandIn {
  spentMs = 0;
  private commands: Module;
  private deliveries: Module;
  private target: Module;
  private source: Module;
  private inboxSid = -1;
  private readonly writer: Module;
  private readonly view = {
    buf: new Uint8Array(0),
    subjectStart: 0,
    subjectEnd: 0,
    sid: 0,
    replyStart: 0,
    replyEnd: 0,
    headerStart: 0,
    headerEnd: 0,
    payloadStart: 0,
    payloadEnd: 0,
    hasHeaders: false,
    repeated: false,
  };

  private constructor(private readonly m: Record<string, Module>) {
    this.writer = new m.MsgFrameWriter();
  }

  static async load(load: (path: string) => Promise<Module>): Promise<StandIn> {
    return new StandIn({
      ...(await load('shared/ring/ring-consumer.js')),
      ...(await load('shared/ring/ring-producer.js')),
      ...(await load('shared/ring/ring-copy.js')),
      ...(await load('shared/frames/delivery.js')),
      ...(await load('shared/frames/command.js')),
      ...(await load('shared/layout.js')),
    });
  }

  /** The client's worker factory: this stand-in, connected. */
  start(data: Module): Module {
    const m = this.m;
    this.commands = new m.RingConsumer(data.command);
    this.deliveries = new m.RingProducer(data.delivery);
    this.target = { bytes: this.deliveries.bytes, words: this.deliveries.words };
    this.source = new m.SourceBytes(this.commands.bytes);
    this.view.buf = this.commands.bytes;
    Atomics.store(new Int32Array(data.state), m.ST_STATE, m.STATE_CONNECTED);
    return {
      exited: new Promise(() => {}),
      call: () => Promise.reject(new Error('no worker')),
      terminate: async () => 0,
      shutdown: async () => {},
    };
  }

  /** Answers every request the command ring holds. */
  answer(): void {
    const t0 = performance.now();
    const m = this.m;
    const ring = this.commands;
    for (let off = ring.next(); off >= 0; off = ring.next()) {
      if (m.isPubFrame(ring.bytes, off)) {
        this.answerPubs(m.pubWireStart(off), off + ring.length);
      } else {
        const cmd = m.decodeControlCommand(ring.bytes, off, ring.length);
        if (cmd.kind === 'sub' && cmd.subject.endsWith('.*')) this.inboxSid = cmd.sid;
      }
      ring.advance();
    }
    ring.release();
    this.deliveries.publish();
    this.spentMs += performance.now() - t0;
  }

  /** `PUB <subject> <reply> <size>\r\n<payload>\r\n`, one after the other in [at, end). */
  private answerPubs(at: number, end: number): void {
    const bytes: Uint8Array = this.commands.bytes;
    const view = this.view;
    while (at < end) {
      let p = at + 4; // after "PUB "
      while (bytes[p] !== SPACE) p++;
      view.subjectStart = ++p; // the reply subject: the answer's subject
      while (bytes[p] !== SPACE) p++;
      view.subjectEnd = p++;
      let size = 0;
      while (bytes[p] !== CR) size = size * 10 + bytes[p++] - 0x30;
      view.replyStart =
        view.replyEnd =
        view.headerStart =
        view.headerEnd =
        view.payloadStart =
          p + 2;
      view.payloadEnd = p + 2 + size;
      const length = this.writer.measure(view, this.source, null);
      const off = this.deliveries.reserve(length);
      if (off < 0) throw new Error('delivery ring full');
      this.writer.write(this.target, off, this.source, view, this.inboxSid, 0);
      this.deliveries.commit();
      at = view.payloadEnd + 2;
    }
  }
}

const args = process.argv.slice(2);
if (args[0] === '--child') {
  await child(args[1], Number(args[2]), Number(args[3]), args[4] === 'length-only');
} else {
  const lengthOnly = takeFlag(args, '--length-only');
  const rounds = option(args, '--rounds', 10);
  const count = option(args, '--count', 200_000);
  const inFlight = option(args, '--in-flight', 100);
  if (args.length === 0 || rounds < 1 || count < 1 || inFlight < 1) {
    process.stderr.write(
      'usage: node dist/bench/tools/request-path.js [--rounds N] [--count N] [--in-flight N] [--length-only] <dist>…\n',
    );
    process.exit(2);
  }
  const self = fileURLToPath(import.meta.url);
  const results = new Map<string, { client: number[]; standIn: number[] }>(
    args.map((dist) => [dist, { client: [], standIn: [] }]),
  );
  for (let round = 1; round <= rounds; round++) {
    for (const dist of args) {
      const out = spawnSync(
        process.execPath,
        [
          self,
          '--child',
          dist,
          String(count),
          String(inFlight),
          lengthOnly ? 'length-only' : 'payload',
        ],
        { encoding: 'utf8' },
      );
      if (out.status !== 0) throw new Error(`${dist}: ${out.stderr.slice(-2000)}`);
      const [client, standIn] = out.stdout.trim().split(' ').map(Number);
      results.get(dist)?.client.push(client);
      results.get(dist)?.standIn.push(standIn);
    }
    process.stderr.write(`round ${round}/${rounds} done\n`);
  }
  console.log(
    `request path, ${PAYLOAD_BYTES} B, ${lengthOnly ? 'replies read by length' : 'reply payloads read'}, ${inFlight} in flight, ${count} requests per run after ${WARM_UP}, ${rounds} interleaved rounds`,
  );
  console.log('build | median main-thread ns/request | range | stand-in ns/request (median)');
  for (const [dist, r] of results) {
    console.log(
      `${dist} | ${median(r.client).toFixed(1)} | ${Math.min(...r.client)}–${Math.max(...r.client)} | ${median(r.standIn).toFixed(1)}`,
    );
  }
}
