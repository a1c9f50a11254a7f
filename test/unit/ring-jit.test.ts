/**
 * The ring's hot methods keep their optimized code through the ring's rare moments (a wrap, a
 * full ring): a branch first taken after V8 optimized a method throws that code away, and
 * with it the code of every caller it was inlined into, which then compile again (issue 16:
 * the fixed compile cost of a short burst). Checked in a fresh Node process with V8's test
 * natives, which the built ring runs under (`npm test` builds first).
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runNodeScript } from '../helpers/child.js';

const RING = fileURLToPath(new URL('../../dist/src/shared/ring/', import.meta.url));

/** V8's %GetOptimizationStatus bit for "runs optimized code" (runtime-test.cc). */
const OPTIMIZED = 1 << 4;

const SCRIPT = `
import { createRingBuffers } from '${RING}byte-ring.js';
import { RingProducer } from '${RING}ring-producer.js';
import { RingConsumer } from '${RING}ring-consumer.js';

const buffers = createRingBuffers(1024);
const producer = new RingProducer(buffers);
const consumer = new RingConsumer(buffers);
const reserve = RingProducer.prototype.reserve;
const next = RingConsumer.prototype.next;

function produce(length) {
  const off = producer.reserve(length);
  if (off >= 0) producer.commit();
  producer.publish();
  return off;
}
function consumeAll() {
  for (let off = consumer.next(); off >= 0; off = consumer.next()) consumer.advance();
  consumer.release();
}

%PrepareFunctionForOptimization(reserve);
%PrepareFunctionForOptimization(next);
// Records that neither wrap nor fill the ring: the feedback a burst's start gives.
for (let i = 0; i < 20; i++) {
  produce(8);
  consumeAll();
}
%OptimizeFunctionOnNextCall(reserve);
%OptimizeFunctionOnNextCall(next);
produce(8);
consumeAll();
const before = [%GetOptimizationStatus(reserve), %GetOptimizationStatus(next)];
// Many wraps (records of several sizes), then a full ring.
let wraps = 0;
for (let i = 0; i < 400; i++) {
  const length = 8 + (i % 7) * 20;
  if (produce(length) === 4 && i > 0) wraps++;
  consumeAll();
}
let full = 0;
while (produce(100) >= 0) full++;
consumeAll();
const after = [%GetOptimizationStatus(reserve), %GetOptimizationStatus(next)];
console.log(JSON.stringify({ before, after, wraps, full }));
`;

describe('ring methods under the JIT', () => {
  it('reserve() and next() stay optimized through wraps and a full ring', async () => {
    const result = await runNodeScript(SCRIPT, { nodeFlags: ['--allow-natives-syntax'] });
    expect(result.stderr).toBe('');
    const { before, after, wraps, full } = JSON.parse(result.stdout);
    // The script did reach the rare moments, with both methods optimized beforehand.
    expect(wraps).toBeGreaterThan(10);
    expect(full).toBeGreaterThan(0);
    expect(before.map((status: number) => status & OPTIMIZED)).toEqual([OPTIMIZED, OPTIMIZED]);
    expect(after.map((status: number) => status & OPTIMIZED)).toEqual([OPTIMIZED, OPTIMIZED]);
  });
});
