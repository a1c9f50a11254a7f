/**
 * The publish and request paths' hot methods keep their optimized code through a burst's rare
 * moments (a ring's wrap, a full ring, messages waiting on the caller's thread, a pump of
 * several batches, a record racing a wait, the request table's look at shrinking; the last
 * three first came 50k requests into a flood): a branch first taken after V8 optimized a
 * method, or a field that changes shape then, throws that code away, and with it the code of
 * every caller it was inlined into, which then compile again (issue 16: the fixed compile cost
 * of a short burst). Checked in a fresh Node process with V8's test natives, over the built
 * code (`npm test` builds first).
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runNodeScript } from '../helpers/child.js';

const RING = fileURLToPath(new URL('../../dist/src/shared/ring/', import.meta.url));
const MAIN = fileURLToPath(new URL('../../dist/src/main/', import.meta.url));

/** V8's %GetOptimizationStatus bit for "runs optimized code" (runtime-test.cc). */
const OPTIMIZED = 1 << 4;

const RING_SCRIPT = `
import { createRingBuffers } from '${RING}byte-ring.js';
import { RingProducer } from '${RING}ring-producer.js';
import { RingConsumer } from '${RING}ring-consumer.js';

const buffers = createRingBuffers(1024);
const producer = new RingProducer(buffers);
const consumer = new RingConsumer(buffers);
const reserve = RingProducer.prototype.reserve;
const next = RingConsumer.prototype.next;

// As PubRecords does: room() for the record, then reserve().
function produce(length) {
  producer.room(length);
  const off = producer.reserve(length);
  if (off >= 0) producer.commit();
  producer.publish();
  return off;
}
function consumeAll() {
  for (let off = consumer.next(); off >= 0; off = consumer.next()) consumer.advance();
  consumer.release();
}

// The callers here stay out of TurboFan: inlined into them, reserve() and next() would not run
// their own code, and a deopt would show in the callers' status, not theirs.
%NeverOptimizeFunction(produce);
%NeverOptimizeFunction(consumeAll);
%PrepareFunctionForOptimization(reserve);
%PrepareFunctionForOptimization(next);
// Records that do not wrap: the feedback a burst's start gives.
for (let i = 0; i < 20; i++) {
  produce(8);
  consumeAll();
}
%FinalizeOptimization(); // no compile of V8's own still running: it would defer the forced one
%OptimizeFunctionOnNextCall(reserve);
%OptimizeFunctionOnNextCall(next);
produce(8);
consumeAll();
const before = [%GetOptimizationStatus(reserve), %GetOptimizationStatus(next)];
// Many wraps, records of several sizes.
let wraps = 0;
for (let i = 0; i < 400; i++) {
  const length = 8 + (i % 7) * 20;
  if (produce(length) === 4 && i > 0) wraps++;
  consumeAll();
}
const after = [%GetOptimizationStatus(reserve), %GetOptimizationStatus(next)];
console.log(JSON.stringify({ before, after, wraps }));
`;

const OVERFLOW_SCRIPT = `
import { createRingBuffers } from '${RING}byte-ring.js';
import { RingProducer } from '${RING}ring-producer.js';
import { RingConsumer } from '${RING}ring-consumer.js';
import { Overflow } from '${MAIN}overflow.js';

const buffers = createRingBuffers(1024);
const producer = new RingProducer(buffers);
const consumer = new RingConsumer(buffers);
const overflow = new Overflow(256);
const active = Object.getOwnPropertyDescriptor(Overflow.prototype, 'active').get;
function isActive() {
  return overflow.active;
}

%PrepareFunctionForOptimization(active);
%PrepareFunctionForOptimization(isActive);
// A burst's start: nothing has waited yet.
for (let i = 0; i < 20; i++) isActive();
%FinalizeOptimization();
%OptimizeFunctionOnNextCall(isActive);
isActive();
const before = %GetOptimizationStatus(isActive);
// The ring is full: messages wait, then move to the ring once it has room.
for (let i = 0; i < 50; i++) overflow.queueWire(30, false);
const waited = isActive();
while (!overflow.moveTo(producer)) {
  producer.publish();
  for (let off = consumer.next(); off >= 0; off = consumer.next()) consumer.advance();
  consumer.release();
}
const after = %GetOptimizationStatus(isActive);
console.log(JSON.stringify({ before, after, waited, activeAfter: isActive() }));
`;

const WORKER = fileURLToPath(new URL('../../dist/src/worker/', import.meta.url));

const REQUEST_TABLE_SCRIPT = `
import { RequestTable } from '${MAIN}request-table.js';

const table = new RequestTable();
const add = RequestTable.prototype.add;
let id = 0;
const inFlight = [];
// 100 requests in flight, answered in order.
function step() {
  const entry = { id: ++id };
  table.add(entry);
  inFlight.push(entry);
  if (inFlight.length > 100) table.delete(inFlight.shift());
}
%NeverOptimizeFunction(step);
%PrepareFunctionForOptimization(add);
// A client's first requests, as many as V8 sees before it optimizes the request path.
for (let i = 0; i < 2000; i++) step();
%FinalizeOptimization();
%OptimizeFunctionOnNextCall(add);
step();
const before = %GetOptimizationStatus(add);
// Just past the table's look at shrinking every 65,536 adds (soon after it: V8 would compile
// add() again before long).
while (id < 65536 + 5) step();
const after = %GetOptimizationStatus(add);
console.log(JSON.stringify({ before, after, adds: id }));
`;

const WAIT_SCRIPT = `
import { createRingBuffers } from '${RING}byte-ring.js';
import { RingProducer } from '${RING}ring-producer.js';
import { RingConsumer } from '${RING}ring-consumer.js';

const buffers = createRingBuffers(1024);
const producer = new RingProducer(buffers);
const consumer = new RingConsumer(buffers);
const waitForData = RingConsumer.prototype.waitForData;
function produce() {
  producer.reserve(8);
  producer.commit();
  producer.publish();
}
function consumeAll() {
  for (let off = consumer.next(); off >= 0; off = consumer.next()) consumer.advance();
  consumer.release();
}
%NeverOptimizeFunction(produce);
%NeverOptimizeFunction(consumeAll);
%PrepareFunctionForOptimization(waitForData);
// The usual ways: a record already seen (no wait) and an empty ring (a wait).
for (let i = 0; i < 20; i++) {
  produce();
  consumer.next();
  waitForData.call(consumer);
  consumeAll();
  waitForData.call(consumer);
}
%FinalizeOptimization();
%OptimizeFunctionOnNextCall(waitForData);
waitForData.call(consumer);
const before = %GetOptimizationStatus(waitForData);
// A record published after the consumer last looked: the wait finds it and does not sleep.
produce();
const raced = waitForData.call(consumer) === undefined;
const after = %GetOptimizationStatus(waitForData);
console.log(JSON.stringify({ before, after, raced }));
`;

const PUMP_SCRIPT = `
import { createRingBuffers } from '${RING}byte-ring.js';
import { RingProducer } from '${RING}ring-producer.js';
import { RingConsumer } from '${RING}ring-consumer.js';
import { Publisher } from '${MAIN}publisher.js';
import { OutboundPump } from '${WORKER}outbound.js';
import { SubscriptionTable } from '${WORKER}subscriptions.js';

const buffers = createRingBuffers(4 * 1024 * 1024);
const publisher = new Publisher(new RingProducer(buffers), 1 << 30, 1 << 30);
const outbound = new OutboundPump(new RingConsumer(buffers), new SubscriptionTable(() => {}));
const pump = OutboundPump.prototype.pump;
let writes = 0;
const sink = {
  write() { writes++; return true; },
  writeAll() { writes++; return true; },
  pingQueued() {},
  published() {},
  echoWritten() {},
  batchDone() {},
};
const payload = new Uint8Array(1024);
function publish(count) {
  for (let i = 0; i < count; i++) publisher.pub('s', 1, undefined, 0, payload, false);
  publisher.publishNow();
}
function pumpAll() {
  return outbound.pump(sink);
}
%NeverOptimizeFunction(publish);
%NeverOptimizeFunction(pumpAll);
%PrepareFunctionForOptimization(pump);
// Waves of a few messages: each pump takes one batch.
for (let i = 0; i < 20; i++) {
  publish(10);
  pumpAll();
}
%FinalizeOptimization();
%OptimizeFunctionOnNextCall(pump);
publish(10);
pumpAll();
const before = %GetOptimizationStatus(pump);
// A burst larger than one batch's share of the ring: the pump takes several.
publish(2048);
const writesBefore = writes;
const result = pumpAll();
const batches = writes - writesBefore;
const after = %GetOptimizationStatus(pump);
console.log(JSON.stringify({ before, after, batches, result }));
`;

async function natives(script: string): Promise<Record<string, unknown>> {
  const result = await runNodeScript(script, { nodeFlags: ['--allow-natives-syntax'] });
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout);
}

describe('the publish path under the JIT', () => {
  it("the ring's reserve() and next() stay optimized through its wraps", async () => {
    const { before, after, wraps } = (await natives(RING_SCRIPT)) as {
      before: number[];
      after: number[];
      wraps: number;
    };
    // The script did wrap, with both methods optimized beforehand.
    expect(wraps).toBeGreaterThan(10);
    expect(before.map((status: number) => status & OPTIMIZED)).toEqual([OPTIMIZED, OPTIMIZED]);
    expect(after.map((status: number) => status & OPTIMIZED)).toEqual([OPTIMIZED, OPTIMIZED]);
  });

  it("code that read the overflow's state stays optimized once messages first wait there", async () => {
    const { before, after, waited, activeAfter } = (await natives(OVERFLOW_SCRIPT)) as {
      before: number;
      after: number;
      waited: boolean;
      activeAfter: boolean;
    };
    expect([waited, activeAfter]).toEqual([true, false]);
    expect(before & OPTIMIZED).toBe(OPTIMIZED);
    expect(after & OPTIMIZED).toBe(OPTIMIZED);
  });
});

describe('the request path under the JIT', () => {
  it("the request table's add() stays optimized past its look at shrinking", async () => {
    const { before, after, adds } = (await natives(REQUEST_TABLE_SCRIPT)) as {
      before: number;
      after: number;
      adds: number;
    };
    expect(adds).toBeGreaterThan(65_536);
    expect(before & OPTIMIZED).toBe(OPTIMIZED);
    expect(after & OPTIMIZED).toBe(OPTIMIZED);
  });

  it("the ring's waitForData() stays optimized when a record comes between the last look and the wait", async () => {
    const { before, after, raced } = (await natives(WAIT_SCRIPT)) as {
      before: number;
      after: number;
      raced: boolean;
    };
    expect(raced).toBe(true);
    expect(before & OPTIMIZED).toBe(OPTIMIZED);
    expect(after & OPTIMIZED).toBe(OPTIMIZED);
  });

  it("the worker's pump() stays optimized when a pump first takes several batches", async () => {
    const { before, after, batches, result } = (await natives(PUMP_SCRIPT)) as {
      before: number;
      after: number;
      batches: number;
      result: string;
    };
    expect(batches).toBeGreaterThan(1);
    expect(result).toBe('empty');
    expect(before & OPTIMIZED).toBe(OPTIMIZED);
    expect(after & OPTIMIZED).toBe(OPTIMIZED);
  });
});
