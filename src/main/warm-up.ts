/**
 * A rehearsal of this thread's hot paths, once per process, while the first client's worker
 * starts: a client of its own whose worker is a stand-in here (no thread, no socket) publishes
 * through Client.publish, fills its command ring until publishes wait, and receives through its
 * dispatcher and a subscription's callback the MSG frames the stand-in writes as a worker
 * would. V8 compiles code only once it has run hot: unrehearsed, a burst right after connect()
 * ran in the interpreter while TurboFan compiled these paths on helper threads, which on two
 * cores took the cores the burst needed (docs/benchmarks-issue16.md, "Warming up before the
 * first burst"). The rehearsal goes through the client's own code, built where a real client's
 * is, so the type feedback it leaves is what real traffic leaves. Main-thread code is shared by
 * the process's clients: later clients find it compiled.
 */

import { NatsError } from '../shared/errors.js';
import { decodeControlCommand, isPubFrame } from '../shared/frames/command.js';
import {
  CONTROL_DELIVERY_BYTES,
  type ControlDelivery,
  MsgFrameWriter,
  writeControlDelivery,
} from '../shared/frames/delivery.js';
import { OwnSubject } from '../shared/frames/own-subject.js';
import {
  DEFAULT_RING_CAPACITY,
  ST_STATE,
  STATE_CONNECTED,
  STATE_DISCONNECTED,
} from '../shared/layout.js';
import type { MsgView } from '../shared/protocol/parser.js';
import { RingConsumer } from '../shared/ring/ring-consumer.js';
import { SourceBytes, type WordBytes } from '../shared/ring/ring-copy.js';
import { RingProducer } from '../shared/ring/ring-producer.js';
import { Client } from './client.js';
import { ConnectOptions } from './options.js';
import { resolveServers } from './servers.js';
import type { WorkerLink, WorkerStart } from './worker-host.js';

/**
 * Rehearsal clients, one after the other: the second meets code the first made hot, as a
 * later real client does (fields still unset, closures of its own).
 */
const CLIENTS = 2;
/** Rounds per client, with a turn of the event loop after each. */
const ROUNDS = 3;
/** Publishes per payload size per round, in groups a microtask apart (the tail's publish). */
const PUBLISHES = 2000;
const GROUP = 100;
/** MSG frames per round. */
const DELIVERIES = 3000;
/** A round ends with FILL_PUBLISHES of FILL_BYTES: the client's ring (4 MiB) is full. */
const FILL_BYTES = 16 * 1024;
const FILL_PUBLISHES = DEFAULT_RING_CAPACITY / FILL_BYTES;
/** Publishes that wait for ring space at the end of each round. */
const WAITING = 1000;
const PAYLOAD_SIZES = [16, 128, 1024];
const SUBJECT = '_WARM_UP.own';
/** Turns of the event loop a rehearsal waits for one thing at most. */
const MAX_TURNS = 100;

let rehearsal: Promise<void> | undefined;

/** Runs the rehearsal the first time it is called; every call returns its end. Never rejects. */
export function warmUp(): Promise<void> {
  rehearsal ??= (async () => {
    for (let i = 0; i < CLIENTS; i++) await rehearse();
  })().catch(() => {
    // A rehearsal that fails leaves the code as cold as it was: nothing to report.
  });
  return rehearsal;
}

async function rehearse(): Promise<void> {
  let worker: StandIn | undefined;
  const client = new Client(resolveServers('127.0.0.1'), new ConnectOptions().resolve(), (data) => {
    worker = new StandIn(data);
    return worker;
  });
  const standIn = worker as unknown as StandIn;
  // biome-ignore lint/complexity/useLiteralKeys: element access reaches the private field on purpose
  const parts = client['parts'];
  parts.dispatcher.start();
  let received = 0;
  const sub = client.subscribe(SUBJECT, {
    callback: (msg) => {
      received += msg.length >= 0 ? 1 : 0;
    },
  });
  const payloads = PAYLOAD_SIZES.map((size) => new Uint8Array(size));
  const fill = new Uint8Array(FILL_BYTES);
  for (let round = 0; round < ROUNDS; round++) {
    for (const payload of payloads) {
      for (let i = 0; i < PUBLISHES; i += GROUP) {
        publishMany(client, payload, GROUP);
        standIn.takeCommands();
        await Promise.resolve();
      }
    }
    // The ring filled (large payloads: few publishes) until publishes wait on this thread for
    // room, as when the worker is slower than the caller.
    publishMany(client, fill, FILL_PUBLISHES);
    for (let i = 0; parts.publisher.waiting < WAITING && i < 2 * FILL_PUBLISHES + WAITING; i++) {
      client.publish(SUBJECT, payloads[i % payloads.length]);
    }
    // The flush's frame is behind the waiting publishes: its acknowledgement means they moved.
    await standIn.serve(client.flush());
    standIn.deliver(sub.sid, DELIVERIES);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  standIn.takeCommands();
  // Disconnected first, so that the shutdown does not wait (up to connectionTimeout) for
  // publishes still waiting here should a flush above have been given up.
  standIn.hangUp();
  await parts.life.shutdown(new NatsError('closed', `warm-up done (${received} delivered)`), false);
}

/**
 * The rehearsal's loops are short functions of their own: a long loop in rehearse() would have
 * V8 compile all of that async function, with the client's code inlined into it (~0.1 s of
 * compiler time that could run into the caller's first burst), for nothing any caller runs.
 */
function publishMany(client: Client, payload: Uint8Array, count: number): void {
  for (let i = 0; i < count; i++) client.publish(SUBJECT, payload);
}

/**
 * The worker's place in the rehearsal: takes what the command ring holds (a FLUSH answered at
 * once), writes MSG frames into the delivery ring as the worker's frame writer does, and says
 * "connected" in the state block.
 */
class StandIn implements WorkerLink {
  readonly exited = new Promise<NatsError>(() => {});
  private readonly commands: RingConsumer;
  private readonly deliveries: RingProducer;
  private readonly target: WordBytes;
  private readonly writer = new MsgFrameWriter();
  private readonly own = new OwnSubject(SUBJECT);
  private readonly wire = wireMessages();
  private readonly state: Int32Array;

  constructor(data: WorkerStart) {
    this.commands = new RingConsumer(data.command);
    this.deliveries = new RingProducer(data.delivery);
    this.target = { bytes: this.deliveries.bytes, words: this.deliveries.words };
    this.state = new Int32Array(data.state);
    Atomics.store(this.state, ST_STATE, STATE_CONNECTED);
  }

  hangUp(): void {
    Atomics.store(this.state, ST_STATE, STATE_DISCONNECTED);
  }

  call<T>(): Promise<T> {
    return Promise.reject(new NatsError('closed', 'no worker in the warm-up'));
  }

  async terminate(): Promise<number> {
    return 0;
  }

  async shutdown(): Promise<void> {}

  /** Takes commands as the worker would until `promise` settles (its own result ignored). */
  async serve(promise: Promise<unknown>): Promise<void> {
    let settled = false;
    const mark = (): void => {
      settled = true;
    };
    promise.then(mark, mark);
    for (let turn = 0; !settled && turn < MAX_TURNS; turn++) {
      this.takeCommands();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  takeCommands(): void {
    const ring = this.commands;
    for (let off = ring.next(); off >= 0; off = ring.next()) {
      if (!isPubFrame(ring.bytes, off)) {
        const cmd = decodeControlCommand(ring.bytes, off, ring.length);
        if (cmd.kind === 'flush') this.control({ kind: 'flushAck', id: cmd.id });
      }
      ring.advance();
    }
    ring.release();
  }

  /** `count` MSG frames for `sid`: on its subject, on another (a wildcard's), with a reply. */
  deliver(sid: number, count: number): void {
    const { source, views } = this.wire;
    const ring = this.deliveries;
    for (let i = 0; i < count; i++) {
      const view = views[i % views.length];
      const length = this.writer.measure(view, source, this.own);
      const off = ring.reserve(length);
      if (off < 0) break; // the dispatcher has not taken the last round's yet
      this.writer.write(this.target, off, source, view, sid, 0);
      ring.commit();
      if (i % 64 === 63) ring.publish();
    }
    ring.publish();
  }

  private control(d: ControlDelivery): void {
    const off = this.deliveries.reserve(CONTROL_DELIVERY_BYTES);
    if (off < 0) return;
    writeControlDelivery(d, this.target, off);
    this.deliveries.commit();
    this.deliveries.publish();
  }
}

/**
 * MSG lines as a server sends them, parsed by hand: 16 B, 128 B, another subject with a reply.
 * Not by the shared Parser: this thread never parses, and running it here would only have V8
 * compile it (its op parser alone took ~20 ms of compiler time in the worker) for nothing.
 */
function wireMessages(): { source: SourceBytes; views: MsgView[] } {
  const lines = [
    { subject: SUBJECT, reply: '', size: 16 },
    { subject: SUBJECT, reply: '', size: 128 },
    { subject: '_WARM_UP.other', reply: '_INBOX.warm', size: 128 },
  ];
  const text: string[] = [];
  const views: MsgView[] = [];
  let at = 0;
  for (const { subject, reply, size } of lines) {
    const line = `MSG ${subject} 1 ${reply ? `${reply} ` : ''}${size}\r\n`;
    const subjectStart = at + 4;
    const replyStart = subjectStart + subject.length + 3;
    const payloadStart = at + line.length;
    views.push({
      buf: new Uint8Array(0),
      subjectStart,
      subjectEnd: subjectStart + subject.length,
      sid: 1,
      replyStart,
      replyEnd: replyStart + reply.length,
      headerStart: payloadStart,
      headerEnd: payloadStart,
      payloadStart,
      payloadEnd: payloadStart + size,
      hasHeaders: false,
      repeated: false,
    });
    text.push(line, 'x'.repeat(size), '\r\n');
    at = payloadStart + size + 2;
  }
  const bytes = Buffer.from(text.join(''));
  for (const view of views) view.buf = bytes;
  return { source: new SourceBytes(bytes), views };
}
