// What the receive path's optimized code meets for the first time once a flood outruns the
// main thread must not throw that code away: V8 compiling it again is CPU a short burst pays
// (issue 16's 300k and 1 M rows). Shown in a child process, with V8's test intrinsics
// (--allow-natives-syntax, the child only) to optimize a function and read its state.

import { describe, expect, it } from 'vitest';
import { runNodeScript } from '../helpers/child.js';

/** Node's %GetOptimizationStatus bit for code optimized by TurboFan. */
const TURBOFANNED = 1 << 4;

/**
 * Frames a flood of MSGs into a 64 KiB delivery ring that the "main thread" (a RingConsumer
 * here) drains until `%OptimizeFunctionOnNextCall(fn)` has made `fn` TurboFan code, then stops
 * draining so that frames spill into the backlog, then drains again so that they move back.
 * Prints `fn`'s status before the spill and after.
 */
function floodScript(fn: string): string {
  return `
    const dist = ${JSON.stringify(new URL('../../dist/src/', import.meta.url).href)};
    const { createRingBuffers } = await import(dist + 'shared/ring/byte-ring.js');
    const { RingConsumer } = await import(dist + 'shared/ring/ring-consumer.js');
    const { RingProducer } = await import(dist + 'shared/ring/ring-producer.js');
    const { MsgFrameWriter } = await import(dist + 'shared/frames/delivery.js');
    const { Parser } = await import(dist + 'shared/protocol/parser.js');
    const { Inbound } = await import(dist + 'worker/inbound.js');
    const { newSubscription } = await import(dist + 'worker/subscriptions.js');
    const buffers = createRingBuffers(1 << 16);
    const consumer = new RingConsumer(buffers);
    const events = {
      slowConsumer() {}, dropped() {}, caughtUp() {}, pauseReading() {}, resumeReading() {},
      holdKeepAlive() {}, subscription: () => sub, subscriptions: () => [sub],
    };
    const inbound = new Inbound(new RingProducer(buffers), 1_000_000, events);
    const sub = newSubscription(1, 'flood', undefined);
    const parser = new Parser({
      onMsg: (msg) => inbound.deliver(msg, sub),
      onInfo() {}, onPing() {}, onPong() {}, onOk() {}, onErr() {},
    });
    const line = 'MSG flood 1 64\\r\\n' + 'x'.repeat(64) + '\\r\\n';
    const chunk = new TextEncoder().encode(line.repeat(100));
    const drain = () => {
      while (consumer.next() >= 0) consumer.advance();
      consumer.release();
    };
    const push = () => {
      parser.push(chunk);
      inbound.publish();
    };
    const fn = ${fn};
    // Inbound.deliver calls the writer. Once V8 optimizes deliver with the writer inlined (when
    // it does depends on the host's load), the writer's own code no longer runs and cannot be
    // forced or read: keep deliver out of TurboFan, so what runs is the writer's own code.
    %NeverOptimizeFunction(Inbound.prototype.deliver);
    %PrepareFunctionForOptimization(fn);
    for (let i = 0; i < 200; i++) { push(); drain(); }
    %OptimizeFunctionOnNextCall(fn);
    push(); drain();
    // A compile V8 started on its own may still be running (slow on a loaded host): done first.
    %FinalizeOptimization();
    const before = %GetOptimizationStatus(fn);
    for (let i = 0; i < 20; i++) push(); // the ring holds ~700 of these frames: the rest wait
    for (let i = 0; i < 100; i++) {
      drain();
      await new Promise((resolve) => setTimeout(resolve, 1)); // the backlog moves on a wake-up
    }
    console.log(JSON.stringify({ before, after: %GetOptimizationStatus(fn) }));
  `;
}

/**
 * Moves frames of 1000 B from a Backlog into a 64 KiB ring, drained at once, one slab's worth
 * (256 KiB) at a time until the loop that moves them is TurboFan code, then a backlog of three
 * slabs. Prints that loop's status before the three slabs and after.
 */
const slabsScript = `
  const dist = ${JSON.stringify(new URL('../../dist/src/', import.meta.url).href)};
  const { createRingBuffers } = await import(dist + 'shared/ring/byte-ring.js');
  const { RingConsumer } = await import(dist + 'shared/ring/ring-consumer.js');
  const { RingProducer } = await import(dist + 'shared/ring/ring-producer.js');
  const { Backlog } = await import(dist + 'worker/backlog.js');
  const buffers = createRingBuffers(1 << 16);
  const ring = new RingProducer(buffers);
  const consumer = new RingConsumer(buffers);
  const backlog = new Backlog();
  const round = (frames) => {
    for (let i = 0; i < frames; i++) {
      backlog.reserve(1000);
      backlog.commit();
    }
    while (!backlog.moveTo(ring)) {
      ring.publish();
      while (consumer.next() >= 0) consumer.advance();
      consumer.release();
    }
    ring.publish();
    while (consumer.next() >= 0) consumer.advance();
    consumer.release();
  };
  // The slabs' class is the backlog's own: its prototype is reached through the first slab.
  const fn = Object.getPrototypeOf(backlog.slabs[0]).moveTo;
  %NeverOptimizeFunction(Backlog.prototype.moveTo); // its caller: see floodScript
  %PrepareFunctionForOptimization(fn);
  for (let i = 0; i < 50; i++) round(200);
  %OptimizeFunctionOnNextCall(fn);
  round(200);
  %FinalizeOptimization(); // see floodScript
  const before = %GetOptimizationStatus(fn);
  round(600);
  console.log(JSON.stringify({ before, after: %GetOptimizationStatus(fn) }));
`;

async function statuses(script: string): Promise<{ before: number; after: number }> {
  const result = await runNodeScript(script, {
    nodeFlags: ['--allow-natives-syntax'],
    timeoutMs: 60_000,
  });
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
}

describe('the receive path, warm', () => {
  it("keeps the frame writer's optimized code when the first frames spill into the backlog", async () => {
    const { before, after } = await statuses(floodScript('MsgFrameWriter.prototype.write'));
    expect(before & TURBOFANNED).toBe(TURBOFANNED);
    expect(after & TURBOFANNED).toBe(TURBOFANNED);
  });

  it('keeps the optimized loop that moves backlog frames into the ring when it meets a second slab', async () => {
    const { before, after } = await statuses(slabsScript);
    expect(before & TURBOFANNED).toBe(TURBOFANNED);
    expect(after & TURBOFANNED).toBe(TURBOFANNED);
  });
});
