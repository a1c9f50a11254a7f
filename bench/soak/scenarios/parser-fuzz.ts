/**
 * Figure 2, in process: random and mutated server streams, split anywhere, through the
 * worker's Parser and what the client then decodes of each op (INFO → ServerInfo, subject,
 * reply, headers). One parser serves every case, reset between them as a session resets it
 * between connections; after a protocol error the rest of the stream is fed too, so the parser
 * also starts mid-op. Counted: cases, protocol errors, and any other throw (a failure).
 */
import fc from 'fast-check';
import { NatsError } from '../../../src/shared/errors.js';
import { decodeHeaders } from '../../../src/shared/protocol/headers.js';
import { type MsgView, Parser, type ParserSink } from '../../../src/shared/protocol/parser.js';
import { decodeString } from '../../../src/shared/protocol/utf8.js';
import { toServerInfo } from '../../../src/shared/server-info.js';
import { Checks, type Outcome, type RunOptions, type Scenario } from '../figure.js';
import { collect, MemoryPeak, MiB, mib } from '../process-stats.js';
import { chunksOf, type ServerStream, serverStream } from '../streams.js';

const CASES = 1_000_000;
const QUICK_CASES = 10_000;
const BATCHES = 10;
/** Heap after the run, after a full GC, may exceed the heap before it by this much at most. */
const HEAP_BOUND = 4 * MiB;
/** Failing inputs kept for the report (the shortest ones). */
const SAMPLES = 5;
const SEED = 0x50a4;

interface Failure {
  origin: 'parser' | 'decode';
  error: string;
  /** The stream, latin1, and its cuts: enough to replay it. */
  input: string;
  cuts: number[];
}

/** Does with each op what the session and the dispatcher do with it, on any thread. */
class DecodingSink implements ParserSink {
  ops = 0;
  /** Set when a decoder threw: the throw came from the sink, not the parser. */
  decodeThrew = false;

  onMsg(m: MsgView): void {
    this.ops++;
    this.decoding(() => {
      decodeString(m.buf, m.subjectStart, m.subjectEnd);
      if (m.replyEnd > m.replyStart) decodeString(m.buf, m.replyStart, m.replyEnd);
      if (m.hasHeaders) decodeHeaders(m.buf, m.headerStart, m.headerEnd);
    });
  }
  onInfo(info: Record<string, unknown>): void {
    this.ops++;
    this.decoding(() => toServerInfo(info));
  }
  onPing(): void {
    this.ops++;
  }
  onPong(): void {
    this.ops++;
  }
  onOk(): void {
    this.ops++;
  }
  onErr(): void {
    this.ops++;
  }

  private decoding(fn: () => unknown): void {
    try {
      fn();
    } catch (error) {
      this.decodeThrew = true;
      throw error;
    }
  }
}

export const parserFuzz: Scenario = {
  name: 'parser-fuzz',
  figure:
    'Parser fuzz: ≥ 10^6 fast-check cases of random and mutated server streams, split anywhere: ' +
    "0 throws other than NatsError 'protocol', heap after ≤ heap before + 4 MiB",
  async run({ quick }: RunOptions): Promise<Outcome> {
    const cases = quick ? QUICK_CASES : CASES;
    const sink = new DecodingSink();
    const parser = new Parser(sink);
    const count = {
      cases: 0,
      bytes: 0,
      /** Unmutated (valid) streams, and those of them the parser rejected: the harness's check. */
      unmutated: 0,
      unmutatedRejected: 0,
      /** Cases whose first throw was the parser's protocol error. */
      rejected: 0,
      protocolErrors: 0,
      /** Throws from the parser other than a protocol error: what the figure counts. */
      parserThrows: 0,
      /** Throws from the client's decoding of what the parser reported (the session's sink). */
      decoderThrows: 0,
    };
    const samples: Failure[] = [];

    const feed = (stream: ServerStream): void => {
      count.cases++;
      count.bytes += stream.bytes.length;
      if (stream.valid) count.unmutated++;
      parser.reset();
      let first: 'protocol' | 'other' | undefined;
      for (const chunk of chunksOf(stream)) {
        sink.decodeThrew = false;
        try {
          parser.push(chunk);
        } catch (error) {
          if (sink.decodeThrew) {
            count.decoderThrows++;
            keep(samples, stream, 'decode', error);
            first ??= 'other';
          } else if (error instanceof NatsError && error.kind === 'protocol') {
            count.protocolErrors++;
            first ??= 'protocol';
          } else {
            count.parserThrows++;
            keep(samples, stream, 'parser', error);
            first ??= 'other';
          }
          parser.reset(); // as the session does for the next connection; the rest goes on
        }
      }
      if (first === 'protocol') {
        count.rejected++;
        if (stream.valid) count.unmutatedRejected++;
      }
    };

    await collect();
    const heapBefore = process.memoryUsage().heapUsed;
    const peak = new MemoryPeak();
    const started = performance.now();
    const cpu = process.cpuUsage();
    const heapAfterBatch: number[] = [];
    for (let batch = 0; batch < BATCHES; batch++) {
      const numRuns = Math.ceil(cases / BATCHES);
      fc.assert(
        fc.property(serverStream, (stream) => {
          feed(stream);
        }),
        { numRuns, seed: SEED + batch },
      );
      peak.sample();
      heapAfterBatch.push(mib(process.memoryUsage().heapUsed));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const seconds = (performance.now() - started) / 1000;
    const { user, system } = process.cpuUsage(cpu);
    parser.reset();
    await collect();
    const heapAfter = process.memoryUsage().heapUsed;

    const c = count;
    const checks = new Checks();
    checks.expect('cases', c.cases >= cases, `${c.cases} cases (target ≥ ${cases})`);
    checks.expect(
      'harness',
      c.unmutatedRejected === 0,
      `${c.unmutatedRejected} of ${c.unmutated} unmutated streams rejected (a check on the generator; target 0)`,
    );
    checks.expect(
      'parserThrows',
      c.parserThrows === 0,
      `${c.parserThrows} throws from the parser other than NatsError 'protocol' (target 0)`,
    );
    checks.expect(
      'decoderThrows',
      c.decoderThrows === 0,
      `${c.decoderThrows} throws from decoding what the parser reported (INFO, subject, headers; target 0)`,
    );
    checks.expect(
      'heap',
      heapAfter <= heapBefore + HEAP_BOUND,
      `heap ${mib(heapBefore)} → ${mib(heapAfter)} MiB after GC (bound + ${mib(HEAP_BOUND)} MiB)`,
    );
    return checks.outcome(
      `${c.cases} cases (${mib(c.bytes)} MiB, ${Math.round(c.cases / seconds)}/s): ${c.rejected} rejected with 'protocol', ` +
        `${c.parserThrows} other parser throws, ${c.decoderThrows} decoder throws; heap ${mib(heapBefore)} → ${mib(heapAfter)} MiB after GC`,
      {
        ...c,
        seeds: Array.from({ length: BATCHES }, (_, i) => SEED + i),
        ops: sink.ops,
        samples,
        heapBeforeMiB: mib(heapBefore),
        heapAfterMiB: mib(heapAfter),
        heapAfterBatchMiB: heapAfterBatch,
        peakHeapMiB: mib(peak.heapUsed),
        peakRssMiB: mib(peak.rss),
        seconds: Math.round(seconds * 10) / 10,
        cpuSeconds: Math.round((user + system) / 1e5) / 10,
      },
    );
  },
};

/** Keeps the shortest failing inputs, one per distinct message. */
function keep(samples: Failure[], stream: ServerStream, origin: Failure['origin'], error: unknown) {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const same = samples.findIndex((s) => s.error === text);
  const input = Buffer.from(stream.bytes).toString('latin1');
  const failure: Failure = { origin, error: text, input, cuts: stream.cuts };
  if (same >= 0) {
    if (input.length < samples[same].input.length) samples[same] = failure;
    return;
  }
  if (samples.length < SAMPLES) samples.push(failure);
}
