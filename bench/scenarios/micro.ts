/**
 * micro: the hot-path building blocks in-process with tinybench, no server. Each task handles
 * a batch of frames; frames/s and GB/s come from the median batch time.
 *   encoder — writePub of `PUB <subject> <len>` + payload into a buffer
 *   parser  — Parser.push over one chunk of many MSGs (the sink only touches each view)
 *   ring    — RingProducer copies bodies in, RingConsumer reads them back, same thread
 *   publish — the main thread's Publisher writes PUBs into the command ring (line cache,
 *             records, alignment), the worker's side reads them back, same thread
 *   delivery — both ends of a delivery on one thread: the worker's Inbound frames parsed MSGs
 *              into the delivery ring, the Dispatcher turns them into Messages for a callback
 */
import { Dispatcher } from '../../src/main/dispatcher.js';
import { Publisher } from '../../src/main/publisher.js';
import { HeldSlabs, Subscriber } from '../../src/main/subscriber.js';
import { pubLength, writePub } from '../../src/shared/protocol/encode.js';
import type { MsgView } from '../../src/shared/protocol/parser.js';
import { Parser } from '../../src/shared/protocol/parser.js';
import { utf8Length } from '../../src/shared/protocol/utf8.js';
import { createRingBuffers } from '../../src/shared/ring/byte-ring.js';
import { RingConsumer } from '../../src/shared/ring/ring-consumer.js';
import { RingProducer } from '../../src/shared/ring/ring-producer.js';
import { Inbound } from '../../src/worker/inbound.js';
import { newSubscription } from '../../src/worker/subscriptions.js';
import { DEFAULT_SIZE, payloadOf, sizeLabel } from './common.js';
import type { Metric, Metrics, Scenario, Variant } from './types.js';

const SUBJECT = 'bench.micro';
const FRAMES_PER_BATCH = 1024;
const PARSER_CHUNK_BYTES = 256 * 1024;
const RING_CAPACITY = 4 * 1024 * 1024;
/**
 * Frames of up to `frameBytes` (payload and framing) in a batch through a ring: at most half the
 * ring, so a batch always fits after the previous one is released.
 */
function framesPerRingBatch(frameBytes: number): number {
  return Math.max(1, Math.min(FRAMES_PER_BATCH, Math.floor(RING_CAPACITY / 2 / frameBytes)));
}

const METRICS: Metric[] = [
  { key: 'framesPerSec', label: 'frames/s', better: 'higher' },
  { key: 'gbPerSec', label: 'GB/s', better: 'higher' },
];

/** One batch of work; returns how many frames and bytes it handled. */
type BatchFactory = (size: number) => { run(): void; frames: number; bytes: number };

const TASKS: Record<string, BatchFactory> = {
  encoder(size) {
    const payload = payloadOf(size);
    const frame = pubLength(utf8Length(SUBJECT), 0, size);
    const out = new Uint8Array(frame * FRAMES_PER_BATCH);
    return {
      frames: FRAMES_PER_BATCH,
      bytes: frame * FRAMES_PER_BATCH,
      run() {
        let off = 0;
        for (let i = 0; i < FRAMES_PER_BATCH; i++)
          off = writePub(out, off, SUBJECT, undefined, payload);
      },
    };
  },
  parser(size) {
    const one = Buffer.concat([
      Buffer.from(`MSG ${SUBJECT} 1 ${size}\r\n`),
      Buffer.from(payloadOf(size)),
      Buffer.from('\r\n'),
    ]);
    const frames = Math.max(16, Math.floor(PARSER_CHUNK_BYTES / one.length));
    const chunk = new Uint8Array(Buffer.concat(Array.from({ length: frames }, () => one)));
    let touched = 0;
    const parser = new Parser({
      onMsg: (msg) => {
        touched += msg.payloadEnd - msg.payloadStart;
      },
      onInfo() {},
      onPing() {},
      onPong() {},
      onOk() {},
      onErr() {},
    });
    return {
      frames,
      bytes: chunk.length,
      run() {
        parser.push(chunk);
        if (touched < 0) throw new Error('unreachable: keeps the sink from being optimised out');
      },
    };
  },
  ring(size) {
    const buffers = createRingBuffers(RING_CAPACITY);
    const producer = new RingProducer(buffers);
    const consumer = new RingConsumer(buffers);
    const payload = payloadOf(size);
    const frames = framesPerRingBatch(size + 8);
    let touched = 0;
    return {
      frames,
      bytes: frames * size,
      run() {
        for (let i = 0; i < frames; i++) {
          const off = producer.reserve(size);
          producer.bytes.set(payload, off);
          producer.commit();
        }
        producer.publish();
        for (let off = consumer.next(); off >= 0; off = consumer.next()) {
          touched += consumer.bytes[off + consumer.length - 1];
          consumer.advance();
        }
        consumer.release();
        if (touched < 0) throw new Error('unreachable: keeps the reads from being optimised out');
      },
    };
  },
  publish(size) {
    const buffers = createRingBuffers(RING_CAPACITY);
    const publisher = new Publisher(new RingProducer(buffers), 1 << 30, 1 << 30);
    const consumer = new RingConsumer(buffers);
    // At an odd offset of its buffer, as a slice of a larger one often is.
    const payload = new Uint8Array(size + 1).subarray(1);
    const frames = framesPerRingBatch(size + 64);
    const subjectBytes = utf8Length(SUBJECT);
    return {
      frames,
      bytes: frames * size,
      run() {
        for (let i = 0; i < frames; i++)
          publisher.pub(SUBJECT, subjectBytes, undefined, 0, payload, false);
        publisher.publishNow();
        for (let off = consumer.next(); off >= 0; off = consumer.next()) consumer.advance();
        consumer.release();
        if (publisher.waiting > 0) throw new Error('a batch did not fit the command ring');
      },
    };
  },
  delivery,
};

/** Inbound → delivery ring → Dispatcher → a callback, for `frames` messages a batch. */
function delivery(size: number): { run(): void; frames: number; bytes: number } {
  const buffers = createRingBuffers(RING_CAPACITY);
  const inbound = new Inbound(new RingProducer(buffers), Number.MAX_SAFE_INTEGER, {
    slowConsumer() {},
    dropped() {},
    caughtUp() {},
    pauseReading() {},
    resumeReading() {},
    holdKeepAlive() {},
    subscription: () => undefined,
    subscriptions: () => [],
  });
  const wire = Buffer.from(`MSG ${SUBJECT} 1 ${size}\r\n${'a'.repeat(size)}\r\n`);
  const payloadStart = wire.length - size - 2;
  // What the parser hands the worker for that line: offsets into the socket chunk.
  const msg: MsgView = {
    buf: new Uint8Array(wire.buffer, wire.byteOffset, wire.length),
    subjectStart: 4,
    subjectEnd: 4 + SUBJECT.length,
    sid: 1,
    replyStart: 4 + SUBJECT.length,
    replyEnd: 4 + SUBJECT.length,
    headerStart: payloadStart,
    headerEnd: payloadStart,
    payloadStart,
    payloadEnd: payloadStart + size,
    hasHeaders: false,
    // A flood of one line: the parser's repeated-line shortcut takes all but the first.
    repeated: true,
  };
  const subscription = newSubscription(1, SUBJECT, undefined);
  let received = 0;
  const owner = {
    isClosed: () => false,
    unsubscribe() {},
    slowConsumer() {},
    dropped() {},
    drainSubscription: () => Promise.resolve(),
    callbackFailed() {},
    callbackStarted() {},
    callbackSettled() {},
    afterArrived: (run: () => void) => run(),
    heldSlabs: new HeldSlabs(),
  };
  const subscriber = new Subscriber(
    owner,
    1,
    SUBJECT,
    undefined,
    (m) => {
      received += m.payload.length;
    },
    1,
  );
  const dispatcher = new Dispatcher(new RingConsumer(buffers), {
    subscription: () => subscriber,
    flushAcked() {},
    flushLost() {},
    flushesLostAfter() {},
    subscriptionRefused() {},
    replyDropped() {},
    requestRefused() {},
    inboxRefused() {},
    deliveryError(error) {
      throw error;
    },
  });
  // A batch must fit the ring: what does not waits in the worker's backlog for a later turn.
  const frames = framesPerRingBatch(size + 64);
  return {
    frames,
    bytes: frames * size,
    run() {
      const before = received;
      for (let i = 0; i < frames; i++) inbound.deliver(msg, subscription);
      inbound.publish();
      // start() drains at once, in slices of ~1 ms: a slow (cold) slice leaves the rest.
      for (let slices = 0; received - before < frames * size; slices++) {
        if (slices === 100) {
          throw new Error(`delivered ${(received - before) / size} of ${frames}`);
        }
        dispatcher.start();
      }
    },
  };
}

function variant(task: string, size: number, quick: boolean): Variant {
  return {
    id: `micro-${task}`,
    scenario: 'micro',
    label: `micro ${task} ${sizeLabel(size)}`,
    clients: ['nats-offload'],
    needsServer: false,
    params: { size, timeMs: quick ? 200 : 1000 },
    metrics: METRICS,
    timeoutMs: 60_000,
  };
}

export const micro: Scenario = {
  name: 'micro',
  summary:
    'in-process tinybench of the PUB encoder, the MSG parser, the SAB ring, a publish and a delivery: frames/s, GB/s',
  variants: (options) =>
    Object.keys(TASKS).map((task) => variant(task, options.size ?? DEFAULT_SIZE, options.quick)),

  async measure(v): Promise<Metrics> {
    const task = v.id.slice('micro-'.length);
    const batch = TASKS[task](v.params.size);
    // Loaded here: tinybench is optional in the published bench (see optional.ts).
    const { Bench } = await import('tinybench');
    const bench = new Bench({ time: v.params.timeMs, warmupTime: v.params.timeMs / 4 });
    bench.add(task, batch.run);
    const [result] = (await bench.run()).map((t) => t.result);
    if (result.state !== 'completed') {
      throw new Error(
        `tinybench ${task}: ${result.state === 'errored' ? result.error.message : result.state}`,
      );
    }
    const seconds = result.latency.p50 / 1000;
    return { framesPerSec: batch.frames / seconds, gbPerSec: batch.bytes / seconds / 1e9 };
  },
};
